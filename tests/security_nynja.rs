//! NYNJA registration codes cannot be brute-forced: a `reg` while a code is
//! pending sends that code again and keeps its attempt count; wrong codes
//! are limited per phone (10 an hour, across codes) and per client address
//! (30 an hour, across phones); codes per phone are limited (5 an hour).
//! Refusals: `attempts_expired` for the code or the phone, `rate_limited`
//! for the address or too many codes. Over real MQTT sockets with ETF
//! payloads; in `log` mode the codes are read from the admin dashboard.

mod common;

use common::{auth, nynja_login, profile_get, Ny, TestServer, ADMIN_TOKEN, NYNJA_FIXED};
use switchboard_protocols::nynja::etf::Term;
use switchboard_protocols::nynja::{io_error, io_ok};

/// The limits the server promises (actors/src/nynja.rs).
const MAX_ATTEMPTS: usize = 5;
const MAX_WRONG_PER_PHONE: usize = 10;
const MAX_WRONG_PER_ADDRESS: usize = 30;
const MAX_CODES_PER_PHONE: usize = 5;

/// The codes the admin dashboard lists for `phone`, newest first, with
/// whether each is still awaited.
async fn codes_of(server: &TestServer, phone: &str) -> Vec<(String, bool)> {
    let res = server.admin_get("/admin/activity", Some(ADMIN_TOKEN)).await;
    assert_eq!(res.status, 200, "/admin/activity: {}", res.text());
    let a = res.json();
    a["nynja"]["codes"]
        .as_array()
        .unwrap_or_else(|| panic!("no codes listed: {a}"))
        .iter()
        .filter(|c| c["phone"] == phone)
        .map(|c| {
            (
                c["code"].as_str().expect("code").to_string(),
                c["pending"] == true,
            )
        })
        .collect()
}

/// The one code awaited for `phone`.
async fn pending_code(server: &TestServer, phone: &str) -> String {
    let codes = codes_of(server, phone).await;
    let mut pending: Vec<&String> = codes.iter().filter(|c| c.1).map(|c| &c.0).collect();
    // (A new code may, once in a million, repeat the last one.)
    pending.dedup();
    assert_eq!(pending.len(), 1, "{phone}: {codes:?}");
    pending[0].clone()
}

/// A code that is not `code` (the `k`-th one after it).
fn wrong(code: &str, k: u32) -> String {
    let n: u32 = code.parse().expect("a numeric code");
    format!("{:06}", (n + k) % 1_000_000)
}

async fn reg(ny: &mut Ny, phone: &str) -> Term {
    let id = ny.client_id.clone();
    ny.send(&auth(&id, phone, "reg", None)).await;
    ny.recv().await.1
}

async fn verify(ny: &mut Ny, phone: &str, code: &str) -> Term {
    let id = ny.client_id.clone();
    ny.send(&auth(&id, phone, "verify", Some(code))).await;
    ny.recv().await.1
}

fn sms_sent() -> Term {
    io_ok("sms_sent", Term::bin(""))
}

fn is_login(t: &Term) -> bool {
    let Term::Tuple(io) = t else { return false };
    let Some(Term::Tuple(code)) = io.get(1) else {
        return false;
    };
    code.first() == Some(&Term::atom("ok2")) && code.get(1) == Some(&Term::atom("login"))
}

/// The attacker's `reg` for a phone whose registration is in progress
/// neither replaces the code nor resets its count: the victim's code still
/// works.
#[tokio::test]
async fn a_reg_for_a_pending_phone_keeps_the_victims_code() {
    let server = TestServer::start();
    let phone = "15550100";
    let mut victim = Ny::connect(&server, "reg_victim", None).await;
    assert_eq!(reg(&mut victim, phone).await, sms_sent());
    let code = pending_code(&server, phone).await;

    let mut attacker = Ny::connect(&server, "reg_attacker", None).await;
    for k in 1..=2 {
        assert_eq!(
            verify(&mut attacker, phone, &wrong(&code, k)).await,
            io_error("invalid_sms_code")
        );
    }
    assert_eq!(reg(&mut attacker, phone).await, sms_sent());
    let listed = codes_of(&server, phone).await;
    assert!(
        listed.iter().all(|(c, _)| *c == code),
        "the attacker's reg issued a new code: {listed:?}"
    );
    assert_eq!(pending_code(&server, phone).await, code);
    for k in 3..=4 {
        assert_eq!(
            verify(&mut attacker, phone, &wrong(&code, k)).await,
            io_error("invalid_sms_code")
        );
    }

    // Four wrong codes so far, within every limit: the victim's code works.
    let login = verify(&mut victim, phone, &code).await;
    assert!(is_login(&login), "{login:?}");
    attacker.disconnect().await;
    victim.disconnect().await;
}

/// The probe: batches of wrong codes with a `reg` between them. The `reg`
/// does not reset the count; a used-up code is replaced, but past ten
/// wrong codes for the phone every verification is refused, the right code
/// too, from any connection. Another phone is still served.
#[tokio::test]
async fn wrong_codes_per_phone_are_limited_across_codes_and_regs() {
    let server = TestServer::start();
    let phone = "15550200";
    let mut attacker = Ny::connect(&server, "reg_attacker", None).await;
    assert_eq!(reg(&mut attacker, phone).await, sms_sent());
    let first = pending_code(&server, phone).await;
    let mut wrongs = 0;
    for k in 1..=3 {
        assert_eq!(
            verify(&mut attacker, phone, &wrong(&first, k)).await,
            io_error("invalid_sms_code")
        );
        wrongs += 1;
    }
    assert_eq!(reg(&mut attacker, phone).await, sms_sent());
    assert_eq!(pending_code(&server, phone).await, first, "same code");
    for k in 4..=5 {
        assert_eq!(
            verify(&mut attacker, phone, &wrong(&first, k)).await,
            io_error("invalid_sms_code")
        );
        wrongs += 1;
    }
    assert_eq!(wrongs, MAX_ATTEMPTS);
    // The reg did not reset the count: the code is used up.
    assert_eq!(
        verify(&mut attacker, phone, &wrong(&first, 6)).await,
        io_error("attempts_expired")
    );

    // A used-up code is replaced by the next reg; five more wrong ones.
    assert_eq!(reg(&mut attacker, phone).await, sms_sent());
    let second = pending_code(&server, phone).await;
    for k in 1..=MAX_ATTEMPTS as u32 {
        assert_eq!(
            verify(&mut attacker, phone, &wrong(&second, k)).await,
            io_error("invalid_sms_code")
        );
        wrongs += 1;
    }
    assert_eq!(wrongs, MAX_WRONG_PER_PHONE);

    // Ten wrong codes for the phone within the hour: a third code is
    // issued, and refused even when right, from any connection.
    assert_eq!(reg(&mut attacker, phone).await, sms_sent());
    let third = pending_code(&server, phone).await;
    for _ in 0..3 {
        assert_eq!(
            verify(&mut attacker, phone, &third).await,
            io_error("attempts_expired")
        );
    }
    let mut other = Ny::connect(&server, "reg_other", None).await;
    assert_eq!(
        verify(&mut other, phone, &third).await,
        io_error("attempts_expired")
    );
    // The refusals did not use the code up.
    assert_eq!(pending_code(&server, phone).await, third);

    // Another phone, from the same address, registers as usual.
    let bystander = "15550300";
    assert_eq!(reg(&mut other, bystander).await, sms_sent());
    let code = pending_code(&server, bystander).await;
    let login = verify(&mut other, bystander, &code).await;
    assert!(is_login(&login), "{login:?}");
    attacker.disconnect().await;
    other.disconnect().await;
}

/// Wrong codes for many phones from one address, over several connections:
/// past thirty every verification from the address is refused, the right
/// code too. A client that logged in before keeps being served.
#[tokio::test]
async fn wrong_codes_per_address_are_limited_across_phones_and_connections() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut bystander, _) = nynja_login(&server, "15559999").await;
    bystander.recv_record("Profile").await;

    let per_phone = 3;
    let phones = MAX_WRONG_PER_ADDRESS / per_phone;
    for batch in 0..2 {
        let id = format!("reg_attacker{batch}");
        let mut attacker = Ny::connect(&server, &id, None).await;
        for i in (batch * phones / 2)..((batch + 1) * phones / 2) {
            let phone = format!("1555100{i:02}");
            assert_eq!(reg(&mut attacker, &phone).await, sms_sent());
            for _ in 0..per_phone {
                assert_eq!(
                    verify(&mut attacker, &phone, "000000").await,
                    io_error("invalid_sms_code"),
                    "{phone}"
                );
            }
        }
        attacker.disconnect().await;
    }

    // Thirty wrong codes from the address: a new connection, a new phone,
    // a wrong code and the right one are all refused.
    let mut attacker = Ny::connect(&server, "reg_attacker2", None).await;
    let phone = "15551099";
    assert_eq!(reg(&mut attacker, phone).await, sms_sent());
    assert_eq!(
        verify(&mut attacker, phone, "000000").await,
        io_error("rate_limited")
    );
    assert_eq!(
        verify(&mut attacker, phone, "123456").await,
        io_error("rate_limited")
    );

    // The logged-in client still gets its replies.
    bystander.send(&profile_get("15559999")).await;
    let (_, got) = bystander.recv_record("Profile").await;
    assert_eq!(
        got.record_fields("Profile").map(|f| f[7].clone()),
        Some(Term::atom("get"))
    );
    attacker.disconnect().await;
    bystander.disconnect().await;
}

/// Five codes per phone an hour: each registration completes, the sixth
/// `reg` is refused; another phone is not.
#[tokio::test]
async fn codes_per_phone_are_limited() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let phone = "15550400";
    let mut ny = Ny::connect(&server, "reg_dev", None).await;
    for _ in 0..MAX_CODES_PER_PHONE {
        assert_eq!(reg(&mut ny, phone).await, sms_sent());
        let login = verify(&mut ny, phone, "123456").await;
        assert!(is_login(&login), "{login:?}");
    }
    assert_eq!(reg(&mut ny, phone).await, io_error("rate_limited"));
    assert_eq!(
        verify(&mut ny, phone, "123456").await,
        io_error("session_not_found")
    );
    assert_eq!(reg(&mut ny, "15550401").await, sms_sent());
    ny.disconnect().await;
}
