//! Security, part 3: session tokens, password storage and the admin
//! endpoint's token.
//!
//! - Tokens are random and long: JAM/REST/OriginChats/NYNJA tokens are
//!   base64url of 32 random bytes (256 bits); chat-network sessions are
//!   UUID shaped, with all 128 bits random (see the check below).
//! - At rest only the SHA-256 of a token is kept (`tokens` tree, key =
//!   digest): the raw bytes of no token appear in any file of the data
//!   directory, yet the tokens still work after a restart.
//! - Passwords are Argon2id PHC strings (m=19456, t=2, p=1); the password
//!   itself is in no file of the data directory and not in the log.
//! - Logout revokes the token in every dialect that accepts one.
//! - Admin routes refuse near-miss tokens, and the two token kinds do
//!   not open each other's doors.
//!
//! Already covered elsewhere: the admin routes without a token and with a
//! wrong or empty one (admin.rs::every_admin_route_needs_the_token), the
//! hashing parameters in a unit test (actors accounts::tests::
//! argon2id_round_trip), REST with no or a made-up token
//! (rest_bad_input.rs).

mod common;

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{
    http_request, issue_v0_key, nynja_login, Cn, Jam, Ny, Oc, TestServer, ADMIN_TOKEN, NYNJA_FIXED,
    PASSWORD,
};
use rumqttc::ConnectReturnCode;
use serde_json::{json, Value};

/// A password no helper uses, so finding it anywhere means a leak.
const SECRET_PASSWORD: &str = "Zq7-unlikely-passphrase-for-the-scan";

/// Every file under `dir`, recursively, with its bytes.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    // Bounded: the data directory of one test holds a few dozen entries.
    for _ in 0..10_000 {
        let Some(d) = stack.pop() else { break };
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                out.push((path.display().to_string(), bytes));
            }
        }
    }
    assert!(stack.is_empty(), "the data directory is too deep to scan");
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Files that contain `needle`.
fn holding(files: &[(String, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    files
        .iter()
        .filter(|(_, b)| contains(b, needle))
        .map(|(p, _)| p.clone())
        .collect()
}

/// A token of the main kind: base64url without padding of 32 bytes.
fn assert_strong(token: &str, what: &str) {
    let raw = URL_SAFE_NO_PAD
        .decode(token)
        .unwrap_or_else(|e| panic!("{what}: {token:?} is not base64url ({e})"));
    assert!(
        raw.len() * 8 >= 128,
        "{what}: {token:?} carries {} bits",
        raw.len() * 8
    );
}

/// Distinct, and no two share a 6-character prefix: a token made from a
/// counter or a clock would (36 bits in common), random ones almost never
/// do (a few hundred pairs against 2^36).
fn assert_unrelated(tokens: &[String]) {
    for (i, a) in tokens.iter().enumerate() {
        for b in &tokens[i + 1..] {
            assert_ne!(a, b, "two sign-ins gave the same token");
            assert_ne!(a[..6], b[..6], "{a} and {b} look sequential");
        }
    }
}

async fn rest_login(server: &TestServer, username: &str, password: &str) -> String {
    let (status, body) = server
        .rest(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": username, "password": password})),
        )
        .await;
    assert_eq!(status, 200, "login: {body}");
    body["token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn session_tokens_are_random_and_at_least_128_bits() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (first, _) = common::rest_register(&server, "alice").await;
    let mut tokens = vec![first];
    for _ in 0..8 {
        tokens.push(rest_login(&server, "alice", PASSWORD).await);
    }
    let jam = Jam::login(&server, "alice", PASSWORD).await;
    tokens.push(jam.token());
    let oc = Oc::login(&server, "alice", PASSWORD).await;
    let validator = oc.ready["validator"]
        .as_str()
        .unwrap_or_else(|| panic!("ready without validator: {}", oc.ready))
        .to_string();
    tokens.push(validator);
    let (ny, ny_token) = nynja_login(&server, "15550001").await;
    tokens.push(ny_token);
    for (i, t) in tokens.iter().enumerate() {
        assert_strong(t, &format!("token {i}"));
    }
    assert_unrelated(&tokens);

    // chat-network sessions are UUID shaped, as its clients expect, with
    // no fixed bits: across 12 sessions no hex digit position (the version
    // and variant digits of a v4 UUID included) is constant, which random
    // digits fail with a chance of about 32 / 16^11.
    let mut sessions = Vec::new();
    for _ in 0..12 {
        let mut cn = Cn::connect(&server, "alice").await;
        cn.send(json!({"type": "signin", "username": "alice", "password": PASSWORD}))
            .await;
        let r = cn.recv().await;
        assert_eq!(r["resp_code"], 0, "{r}");
        let s = r["session"].as_str().expect("session").to_string();
        let groups: Vec<usize> = s.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "not UUID shaped: {s}");
        let hex: String = s.chars().filter(|c| *c != '-').collect();
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{s}");
        sessions.push(s);
        cn.close().await;
    }
    assert_unrelated(&sessions);
    let hexes: Vec<Vec<u8>> = sessions
        .iter()
        .map(|s| s.replace('-', "").into_bytes())
        .collect();
    for pos in 0..32 {
        assert!(
            hexes.iter().any(|h| h[pos] != hexes[0][pos]),
            "digit {pos} is the same in every session: {sessions:?}"
        );
    }
    // Every kind is a session token everywhere: the REST API takes them.
    for t in tokens.iter().chain(&sessions) {
        let (status, me) = server.rest("GET", "/api/users/@me", Some(t), None).await;
        assert_eq!(status, 200, "{t}: {me}");
    }
    ny.disconnect().await;
}

#[tokio::test]
async fn tokens_and_passwords_are_stored_only_hashed() {
    let mut server = TestServer::start();
    let (status, body) = server
        .rest(
            "POST",
            "/api/auth/register",
            None,
            Some(&json!({"username": "alice", "password": SECRET_PASSWORD})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut tokens = vec![body["token"].as_str().expect("token").to_string()];
    tokens.push(rest_login(&server, "alice", SECRET_PASSWORD).await);
    let jam = Jam::login(&server, "alice", SECRET_PASSWORD).await;
    tokens.push(jam.token());
    jam.close().await;
    let mut cn = Cn::connect(&server, "alice").await;
    cn.send(json!({"type": "signin", "username": "alice", "password": SECRET_PASSWORD}))
        .await;
    let r = cn.recv().await;
    tokens.push(r["session"].as_str().expect("session").to_string());
    cn.close().await;
    // The V0 secret is sealed at rest: neither its hex nor its bytes show.
    let (_, v0_key) = issue_v0_key(&server, &tokens[0]).await;
    let v0_hex: String = v0_key.iter().map(|b| format!("{b:02x}")).collect();

    assert!(server.stop().success(), "graceful stop");
    let files = files_under(&server.data_dir());
    assert!(!files.is_empty(), "no files in the data directory");
    let phc = holding(&files, b"$argon2id$v=19$m=19456,t=2,p=1$");
    assert!(
        !phc.is_empty(),
        "no Argon2id PHC string in any file of the data directory"
    );
    let mut leaks = Vec::new();
    for (what, needle) in [
        ("the password", SECRET_PASSWORD.as_bytes()),
        ("the admin token", ADMIN_TOKEN.as_bytes()),
        ("the V0 secret (hex)", v0_hex.as_bytes()),
        ("the V0 secret (bytes)", &v0_key[..]),
    ]
    .into_iter()
    .chain(tokens.iter().map(|t| ("a session token", t.as_bytes())))
    {
        for path in holding(&files, needle) {
            leaks.push(format!("{what} in {path}"));
        }
    }
    assert!(leaks.is_empty(), "secrets at rest: {leaks:?}");
    let log = server.log();
    for needle in tokens.iter().map(String::as_str).chain([SECRET_PASSWORD]) {
        assert!(!log.contains(needle), "the log holds {needle}");
    }

    // Stored (hashed), not merely kept in memory: they work after a restart.
    server.restart();
    for t in &tokens {
        let (status, me) = server.rest("GET", "/api/users/@me", Some(t), None).await;
        assert_eq!((status, &me["username"]), (200, &json!("alice")), "{t}");
    }
}

#[tokio::test]
async fn logout_revokes_the_token_in_every_dialect() {
    let config = format!("{NYNJA_FIXED}\n[originchats]\nauth_mode = \"cracked-only\"\n");
    let server = TestServer::with_config(&config);
    let (revoked, user) = common::rest_register(&server, "alice").await;
    let cid = format!("emqttd_{}", user["id"].as_str().expect("id"));
    // A second token of the same account, which logout must leave alone.
    let kept = rest_login(&server, "alice", PASSWORD).await;
    // Before the logout the token opens every door tried below.
    let oc = Oc::with_token_at(&common::oc_url(&server), "alice", &revoked).await;
    oc.close().await;
    let ny = Ny::connect(&server, &cid, Some(&revoked)).await;
    ny.disconnect().await;
    let mut cn = Cn::connect(&server, "cn").await;
    cn.session = revoked.clone();
    cn.subscribe().await;
    cn.close().await;

    let (status, body) = server
        .rest("POST", "/api/auth/logout", Some(&revoked), None)
        .await;
    assert_eq!(status, 204, "{body}");

    // REST.
    let (status, body) = server
        .rest("GET", "/api/users/@me", Some(&revoked), None)
        .await;
    assert_eq!((status, common::error_code(&body)), (401, "AUTH_FAILED"));
    let (status, _) = server
        .rest("POST", "/api/auth/logout", Some(&revoked), None)
        .await;
    assert_eq!(status, 401, "a second logout with the same token");
    let (status, _) = server
        .rest("POST", "/api/users/@me/v0-key", Some(&revoked), None)
        .await;
    assert_eq!(status, 401);
    // JAM WebSocket identify.
    let mut jam = Jam::connect(&server, "jam").await;
    jam.send(2, json!({"token": revoked}), Some("t")).await;
    jam.expect_error("AUTH_FAILED").await;
    jam.send(60, json!({"channel_id": "1"}), Some("after"))
        .await;
    jam.expect_error_for("NOT_AUTHENTICATED", 60, Some("after"))
        .await;
    // OriginChats validator (cracked-only, so no Rotur round trip).
    let mut oc = Oc::connect(&server, "oc").await;
    oc.send(json!({"cmd": "auth", "validator": revoked})).await;
    oc.expect_auth_error("Rotur authentication is disabled. Use login or register commands.")
        .await;
    oc.send(json!({"cmd": "channels_get"})).await;
    oc.expect_auth_error("Authentication required").await;
    // chat-network subscribe: code 1 and the socket closes.
    let mut cn = Cn::connect(&server, "cn").await;
    cn.send(json!({"type": "subscribe", "session": revoked}))
        .await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "subscribe", "resp_code": 1})
    );
    cn.expect_end().await;
    // MQTT CONNECT with the token as password.
    let got = Ny::try_connect(&server, &cid, Some(&revoked), true).await;
    assert_eq!(got.err(), Some(ConnectReturnCode::BadUserNamePassword));

    // The account's other token still works.
    let (status, _) = server
        .rest("GET", "/api/users/@me", Some(&kept), None)
        .await;
    assert_eq!(status, 200);
    let mut jam = Jam::with_token(&server, "jam2", &kept).await;
    jam.heartbeat_ok().await;
    let ny = Ny::connect(&server, &cid, Some(&kept)).await;
    ny.disconnect().await;
}

/// `limits.session_ttl_s = 3`: a token works, and once older than that
/// every door refuses it as expired; a fresh login works again. The wait
/// is a bounded retry: how long it takes to pass is not asserted.
#[tokio::test]
async fn tokens_expire_after_session_ttl() {
    let config = format!("{NYNJA_FIXED}\n[limits]\nsession_ttl_s = 3\n");
    let server = TestServer::with_config(&config);
    let (token, user) = common::rest_register(&server, "alice").await;
    let cid = format!("emqttd_{}", user["id"].as_str().expect("id"));
    let (status, _) = server
        .rest("GET", "/api/users/@me", Some(&token), None)
        .await;
    assert_eq!(status, 200, "fresh");

    let mut expired = None;
    for _ in 0..300 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (status, body) = server
            .rest("GET", "/api/users/@me", Some(&token), None)
            .await;
        if status == 401 {
            expired = Some(body);
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    let body = expired.expect("the token expired");
    assert_eq!(common::error_code(&body), "AUTH_FAILED", "{body}");
    assert_eq!(body["error"]["message"], "Token expired", "{body}");
    // Deleted at that first refusal: from here on it is simply unknown.
    let (status, body) = server
        .rest("GET", "/api/users/@me", Some(&token), None)
        .await;
    assert_eq!((status, common::error_code(&body)), (401, "AUTH_FAILED"));
    let mut jam = Jam::connect(&server, "jam").await;
    jam.send(2, json!({"token": token}), Some("t")).await;
    jam.expect_error("AUTH_FAILED").await;
    let got = Ny::try_connect(&server, &cid, Some(&token), true).await;
    assert_eq!(got.err(), Some(ConnectReturnCode::BadUserNamePassword));
    let mut cn = Cn::connect(&server, "cn").await;
    cn.send(json!({"type": "subscribe", "session": token}))
        .await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "subscribe", "resp_code": 1})
    );

    // Logging in again works (and gives a new token).
    let fresh = rest_login(&server, "alice", PASSWORD).await;
    assert_ne!(fresh, token);
}

#[tokio::test]
async fn admin_routes_refuse_near_miss_tokens_and_user_tokens() {
    let server = TestServer::start();
    let (user_token, _) = common::rest_register(&server, "alice").await;
    let upper = ADMIN_TOKEN.to_uppercase();
    let near_misses = [
        format!("Bearer {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]),
        format!("Bearer {ADMIN_TOKEN}x"),
        format!("Bearer x{ADMIN_TOKEN}"),
        format!("Bearer {upper}"),
        format!("Basic {ADMIN_TOKEN}"),
        ADMIN_TOKEN.to_string(),
        format!("Bearer {user_token}"),
    ];
    for path in ["/admin/health", "/admin/ready", "/admin/stats", "/metrics"] {
        for value in &near_misses {
            let res =
                http_request(server.admin, "GET", path, &[("Authorization", value)], &[]).await;
            assert_eq!(res.status, 401, "{path} with {value:?}: {}", res.text());
        }
        // The token in the query string is no bearer token.
        let res = http_request(
            server.admin,
            "GET",
            &format!("{path}?token={ADMIN_TOKEN}"),
            &[],
            &[],
        )
        .await;
        assert_eq!(res.status, 401, "{path} with the token as a query");
        // Another method on the same route is not a way round the check.
        let res = http_request(server.admin, "POST", path, &[], b"{}").await;
        assert!(
            res.status == 401 || res.status == 404 || res.status == 405,
            "POST {path}: {} {}",
            res.status,
            res.text()
        );
    }
    // The admin token is not a user's session token.
    let (status, body) = server
        .rest("GET", "/api/users/@me", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 401, "{body}");
    // And the right token still works, so the refusals above were real.
    let res = server.admin_get("/admin/stats", Some(ADMIN_TOKEN)).await;
    assert_eq!(res.status, 200);
    let stats: Value = res.json();
    assert!(stats.is_object(), "{stats}");
}
