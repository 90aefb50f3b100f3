//! OriginChats rate limiting (reference §8): the burst limit and its
//! cooldown, the per-minute window, the bucket shared by message_new,
//! message_edit and typing, per-user buckets, and `enabled = false`.
//!
//! Bursts are sent without waiting for the replies, so that all of them
//! land within the 10 s burst window even on a slow machine.

mod common;

use common::{without_listener, Oc, TestServer};
use serde_json::{json, Value};

/// The seconds in `"<prefix><X.X><suffix>"`.
fn seconds_in(reason: &str, prefix: &str, suffix: &str) -> f64 {
    let rest = reason
        .strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(suffix))
        .unwrap_or_else(|| panic!("{reason:?} is not {prefix:?}X.X{suffix:?}"));
    assert!(
        rest.contains('.') && rest.split('.').nth(1).is_some_and(|d| d.len() == 1),
        "one decimal expected in {reason:?}"
    );
    rest.parse()
        .unwrap_or_else(|_| panic!("no number in {reason:?}"))
}

fn length_ms(f: &Value) -> u64 {
    f["length"]
        .as_u64()
        .unwrap_or_else(|| panic!("rate_limit.length must be integer ms: {f}"))
}

/// The contents of these `message_new` frames, sorted (the order of
/// pipelined messages is tested in originchats_messages).
fn contents_sorted(frames: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = frames
        .iter()
        .map(|f| {
            f["message"]["content"]
                .as_str()
                .expect("content")
                .to_string()
        })
        .collect();
    v.sort();
    v
}

fn oks() -> Vec<String> {
    let mut v: Vec<String> = (0..10).map(|i| format!("ok {i}")).collect();
    v.sort();
    v
}

async fn burst(oc: &mut Oc, n: usize, tag: &str) {
    for i in 0..n {
        oc.send(
            json!({"cmd": "message_new", "channel": "general", "content": format!("{tag} {i}")}),
        )
        .await;
    }
}

#[tokio::test]
async fn the_eleventh_message_in_ten_seconds_starts_a_cooldown() {
    let server = TestServer::start();
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;

    burst(&mut alice, 10, "ok").await;
    alice
        .send(json!({"cmd": "message_new", "channel": "general", "content": "one too many", "listener": "rl"}))
        .await;
    // The refusal may overtake the echoes of the accepted messages.
    let mut wanted = vec!["message_new"; 10];
    wanted.push("rate_limit");
    let mut got = alice.recv_all(&wanted).await;
    let f = got.pop().expect("rate_limit");
    assert_eq!(contents_sorted(&got), oks());
    assert_eq!(
        f["reason"], "Burst limit exceeded. You're in cooldown for 30 seconds",
        "{f}"
    );
    assert_eq!(f["listener"], "rl", "listener on rate_limit: {f}");
    let ms = length_ms(&f);
    assert!(ms > 0 && ms <= 30_000, "{f}");

    // In the cooldown now: message_new, typing and message_edit are refused.
    alice
        .send(json!({"cmd": "message_new", "channel": "general", "content": "still?"}))
        .await;
    let f = alice.recv_cmd("rate_limit").await;
    let reason = f["reason"].as_str().expect("reason");
    let secs = seconds_in(reason, "You are in cooldown for ", " more seconds");
    assert!(secs > 0.0 && secs <= 30.0, "{f}");
    let ms = length_ms(&f);
    assert!(ms > 0 && ms <= 30_000, "{f}");
    assert!(f.get("listener").is_none(), "{f}");

    alice
        .send(json!({"cmd": "typing", "channel": "general", "listener": "t"}))
        .await;
    let f = alice.recv_cmd("rate_limit").await;
    assert_eq!(f["listener"], "t");
    assert!(length_ms(&f) > 0);

    // Bob is not limited; his message is the next thing after alice's ten:
    // neither the refused messages nor the refused typing reached him.
    let mut seen = Vec::new();
    for _ in 0..10 {
        seen.push(bob.recv_cmd("message_new").await);
    }
    assert_eq!(contents_sorted(&seen), oks());
    let mine = bob.send_message("general", "bob is fine", "b").await;
    let id = Oc::message_id(&mine);
    assert_eq!(
        alice.recv_cmd("message_new").await,
        without_listener(&mine),
        "alice's next frame is bob's message"
    );

    alice
        .send(json!({"cmd": "message_edit", "id": id, "channel": "general", "content": "x"}))
        .await;
    let f = alice.recv_cmd("rate_limit").await;
    assert!(length_ms(&f) > 0, "{f}");

    // Other commands are not rate-limited.
    alice.ping_ok().await;
    alice
        .send(json!({"cmd": "messages_get", "channel": "general", "limit": 1}))
        .await;
    let r = alice.recv_cmd("messages_get").await;
    assert_eq!(r["messages"][0]["content"], "bob is fine");
}

#[tokio::test]
async fn the_per_minute_window() {
    let server = TestServer::with_config(
        "[originchats.rate_limiting]\nmessages_per_minute = 5\nburst_limit = 100\n",
    );
    let mut alice = Oc::register(&server, "alice").await;
    // The bucket is shared: three messages and two typing notices fill it.
    // One request at a time (the window is a minute long, and the order of
    // pipelined requests is tested on its own below).
    for i in 0..3 {
        alice
            .send_message("general", &format!("m {i}"), &format!("m{i}"))
            .await;
    }
    for _ in 0..2 {
        alice
            .send(json!({"cmd": "typing", "channel": "general"}))
            .await;
        assert_eq!(alice.recv_cmd("typing").await["user"], "alice");
    }
    alice
        .send(json!({"cmd": "message_new", "channel": "general", "content": "sixth", "listener": "w"}))
        .await;
    let got = [alice.recv_cmd("rate_limit").await];
    let f = &got[0];
    assert_eq!(f["listener"], "w");
    let reason = f["reason"].as_str().expect("reason");
    let secs = seconds_in(reason, "Rate limit exceeded. Wait ", " seconds");
    assert!(secs > 0.0 && secs <= 60.0, "{f}");
    let ms = length_ms(f);
    assert!(ms > 0 && ms <= 60_000, "{f}");

    alice
        .send(json!({"cmd": "typing", "channel": "general"}))
        .await;
    let f = alice.recv_cmd("rate_limit").await;
    assert!(
        f["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("Rate limit exceeded. Wait ")),
        "{f}"
    );
}

#[tokio::test]
async fn cooldown_and_burst_follow_the_config() {
    let server = TestServer::with_config(
        "[originchats.rate_limiting]\nburst_limit = 3\ncooldown_seconds = 7\n",
    );
    let mut alice = Oc::register(&server, "alice").await;
    burst(&mut alice, 4, "b").await;
    let got = alice
        .recv_all(&["message_new", "message_new", "message_new", "rate_limit"])
        .await;
    assert_eq!(
        got[3]["reason"],
        "Burst limit exceeded. You're in cooldown for 7 seconds"
    );
    let ms = length_ms(&got[3]);
    assert!(ms > 0 && ms <= 7_000, "{}", got[3]);
}

#[tokio::test]
async fn disabled_rate_limiting_lets_everything_through() {
    let server = TestServer::with_config("[originchats.rate_limiting]\nenabled = false\n");
    let mut alice = Oc::register(&server, "alice").await;
    burst(&mut alice, 25, "free").await;
    // All 25 come back (their order is tested in originchats_messages).
    let mut got: Vec<String> = Vec::new();
    for _ in 0..25 {
        let f = alice.recv_cmd("message_new").await;
        got.push(f["message"]["content"].as_str().expect("content").into());
    }
    got.sort();
    let mut sent: Vec<String> = (0..25).map(|i| format!("free {i}")).collect();
    sent.sort();
    assert_eq!(got, sent);
    for _ in 0..5 {
        alice
            .send(json!({"cmd": "typing", "channel": "general"}))
            .await;
        assert_eq!(alice.recv_cmd("typing").await["user"], "alice");
    }
}
