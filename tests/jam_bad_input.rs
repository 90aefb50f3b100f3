//! Bad input on the JAM WebSocket, one case per test. After each, the test
//! proves the connection (or, after a close, the server) still works.

mod common;

use common::{Jam, TestServer, PASSWORD};
use serde_json::json;

/// A registered client and the id of the Lobby's `general`.
async fn client(server: &TestServer, name: &str) -> (Jam, String) {
    let jam = Jam::register(server, name).await;
    let general = jam.lobby().general;
    (jam, general)
}

#[tokio::test]
async fn invalid_json_is_decode_error() {
    let server = TestServer::start();
    let (mut jam, ch) = client(&server, "alice").await;
    jam.send_text("{\"op\": 10, \"d\": {".to_string()).await;
    jam.expect_error("DECODE_ERROR").await;
    jam.heartbeat_ok().await;
    jam.send_message(&ch, "still works", "ok-1").await;
}

#[tokio::test]
async fn frame_without_op_or_not_an_object_is_decode_error() {
    let server = TestServer::start();
    let (mut jam, ch) = client(&server, "alice").await;
    jam.send_text(r#"{"d": {"channel_id": "1"}}"#.to_string())
        .await;
    jam.expect_error("DECODE_ERROR").await;
    jam.heartbeat_ok().await;
    jam.send_text("[0]".to_string()).await;
    jam.expect_error("DECODE_ERROR").await;
    jam.heartbeat_ok().await;
    jam.send_message(&ch, "still works", "ok-1").await;
}

#[tokio::test]
async fn binary_frame_is_decode_error() {
    let server = TestServer::start();
    let (mut jam, ch) = client(&server, "alice").await;
    jam.send_binary(br#"{"op":0,"d":null}"#.to_vec()).await;
    jam.expect_error("DECODE_ERROR").await;
    jam.heartbeat_ok().await;
    jam.send_message(&ch, "still works", "ok-1").await;
}

#[tokio::test]
async fn three_decode_errors_in_a_row_close_4002() {
    let server = TestServer::start();
    let (mut jam, _) = client(&server, "alice").await;
    // Two, then a good frame: the count starts again.
    for _ in 0..2 {
        jam.send_text("not json".to_string()).await;
        jam.expect_error("DECODE_ERROR").await;
    }
    jam.heartbeat_ok().await;
    for _ in 0..2 {
        jam.send_text("not json".to_string()).await;
        jam.expect_error("DECODE_ERROR").await;
    }
    jam.heartbeat_ok().await;
    // Three in a row.
    jam.send_text("not json".to_string()).await;
    jam.send_binary(vec![1, 2, 3]).await;
    jam.send_text("{".to_string()).await;
    for _ in 0..3 {
        jam.expect_error("DECODE_ERROR").await;
    }
    let (code, _) = jam.expect_close().await;
    assert_eq!(code, 4002);
    jam.expect_end().await;

    // The server is fine.
    let mut again = Jam::login(&server, "alice", PASSWORD).await;
    again.heartbeat_ok().await;
}

#[tokio::test]
async fn unknown_op_is_unknown_op() {
    let server = TestServer::start();
    let (mut jam, ch) = client(&server, "alice").await;
    jam.send(999, json!({}), Some("u-1")).await;
    jam.expect_error_for("UNKNOWN_OP", 999, Some("u-1")).await;
    jam.heartbeat_ok().await;
    // Server-only ops are not accepted from clients either.
    jam.send(20, json!({"id": "1"}), Some("u-2")).await;
    jam.expect_error_for("UNKNOWN_OP", 20, Some("u-2")).await;
    jam.heartbeat_ok().await;
    jam.send_message(&ch, "still works", "ok-1").await;
}

/// `{"op":10,...,"ref":"r"}` of exactly `len` bytes.
fn message_frame(channel: &str, reference: &str, len: usize) -> String {
    let frame = |content: &str| {
        json!({"op": 10, "d": {"channel_id": channel, "content": content}, "ref": reference})
            .to_string()
    };
    let base = frame("").len();
    assert!(len > base);
    let text = frame(&"x".repeat(len - base));
    assert_eq!(text.len(), len);
    text
}

#[tokio::test]
async fn oversized_frame_is_decode_error_and_the_connection_stays_usable() {
    let server = TestServer::with_config("[limits]\nframe_bytes = 1024\n");
    let (mut jam, ch) = client(&server, "alice").await;

    // At the limit: accepted.
    jam.send_text(message_frame(&ch, "at-limit", 1024)).await;
    let own = jam.recv_op(10).await;
    assert_eq!(own["d"]["ref"], "at-limit");

    // One past it, and well past it: DECODE_ERROR, nothing stored.
    jam.send_text(message_frame(&ch, "one-past", 1025)).await;
    jam.expect_error("DECODE_ERROR").await;
    jam.heartbeat_ok().await;
    jam.send_text(message_frame(&ch, "too-big", 1500)).await;
    jam.expect_error("DECODE_ERROR").await;
    jam.heartbeat_ok().await;
    jam.send_message(&ch, "small again", "ok-1").await;
    let stats = server.stats().await;
    assert_eq!(stats["messages_created"], 2, "{stats}");
}

#[tokio::test]
async fn missing_field_is_invalid_and_names_the_field() {
    let server = TestServer::start();
    let (mut jam, ch) = client(&server, "alice").await;
    let lobby = jam.lobby();
    let cases = [
        (10, json!({"content": "hi"}), "channel_id"),
        (11, json!({"id": "1", "channel_id": ch}), "content"),
        (12, json!({"channel_id": ch}), "id"),
        (
            13,
            json!({"message_id": "1", "channel_id": ch, "action": "add"}),
            "emoji",
        ),
        (40, json!({"channel_id": lobby.lounge}), "guild_id"),
        (60, json!({}), "channel_id"),
        (90, json!({"call_id": "c", "sdp": "v=0"}), "to"),
    ];
    for (i, (op, d, field)) in cases.into_iter().enumerate() {
        let r = format!("mf-{i}");
        jam.send(op, d, Some(&r)).await;
        let e = jam.expect_error_for("INVALID", op, Some(&r)).await;
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "op {op}: message must name `{field}`: {e}"
        );
        jam.heartbeat_ok().await;
    }
    jam.send_message(&ch, "still works", "ok-1").await;
}

#[tokio::test]
async fn wrong_type_is_invalid() {
    let server = TestServer::start();
    let (mut jam, ch) = client(&server, "alice").await;
    let cases = [
        (10, json!({"channel_id": ch, "content": 42}), "content"),
        (
            10,
            json!({"channel_id": true, "content": "hi"}),
            "channel_id",
        ),
        (
            10,
            json!({"channel_id": "twelve", "content": "hi"}),
            "channel_id",
        ),
        (60, json!({"channel_id": ["1"]}), "channel_id"),
        (
            13,
            json!({"message_id": "1", "channel_id": ch, "emoji": "x", "action": "toggle"}),
            "action",
        ),
        (
            40,
            json!({"guild_id": "1", "channel_id": null, "self_mute": "yes"}),
            "self_mute",
        ),
    ];
    for (i, (op, d, field)) in cases.into_iter().enumerate() {
        let r = format!("wt-{i}");
        jam.send(op, d, Some(&r)).await;
        let e = jam.expect_error_for("INVALID", op, Some(&r)).await;
        assert!(
            e["message"].as_str().unwrap().contains(field),
            "op {op}: message must name `{field}`: {e}"
        );
        jam.heartbeat_ok().await;
    }
    // A `ref` over 64 characters.
    let long_ref = "r".repeat(65);
    jam.send(
        10,
        json!({"channel_id": ch, "content": "hi"}),
        Some(&long_ref),
    )
    .await;
    let e = jam.expect_error("INVALID").await;
    assert_eq!(e["op"], 10, "{e}");
    jam.heartbeat_ok().await;
    jam.send_message(&ch, "still works", "ok-1").await;
    assert_eq!(server.stats().await["messages_created"], 1);
}

#[tokio::test]
async fn ops_before_authentication_are_not_authenticated() {
    let server = TestServer::start();
    let mut jam = Jam::connect(&server, "anon").await;
    jam.send(
        10,
        json!({"channel_id": "1", "content": "hi"}),
        Some("na-1"),
    )
    .await;
    jam.expect_error_for("NOT_AUTHENTICATED", 10, Some("na-1"))
        .await;
    jam.heartbeat_ok().await;
    jam.send(999, json!({}), Some("na-2")).await;
    jam.expect_error_for("NOT_AUTHENTICATED", 999, Some("na-2"))
        .await;
    jam.heartbeat_ok().await;
    jam.send(
        2,
        json!({"action": "register", "username": "anon", "password": PASSWORD}),
        None,
    )
    .await;
    jam.expect_ready().await;
    let ch = jam.lobby().general;
    jam.send_message(&ch, "now I may", "ok-1").await;
}

#[tokio::test]
async fn second_authenticate_is_already_authenticated() {
    let server = TestServer::start();
    let (mut jam, ch) = client(&server, "alice").await;
    let me = jam.user_id();
    jam.send(
        2,
        json!({"action": "login", "username": "alice", "password": PASSWORD}),
        Some("aa-1"),
    )
    .await;
    jam.expect_error_for("ALREADY_AUTHENTICATED", 2, Some("aa-1"))
        .await;
    jam.heartbeat_ok().await;
    let m = jam.send_message(&ch, "still me", "ok-1").await;
    assert_eq!(m["author"]["id"], me.as_str());
}

#[tokio::test]
async fn five_failed_logins_close_4004() {
    let server = TestServer::start();
    drop(Jam::register(&server, "alice").await);
    let mut jam = Jam::connect(&server, "guesser").await;
    let attempt = json!({"action": "login", "username": "alice", "password": "guess"});
    for i in 1..=4 {
        let r = format!("fl-{i}");
        jam.send(2, attempt.clone(), Some(&r)).await;
        jam.expect_error_for("AUTH_FAILED", 2, Some(&r)).await;
    }
    jam.heartbeat_ok().await;
    jam.send(2, attempt, Some("fl-5")).await;
    jam.expect_error_for("AUTH_FAILED", 2, Some("fl-5")).await;
    let (code, _) = jam.expect_close().await;
    assert_eq!(code, 4004);
    jam.expect_end().await;

    let mut right = Jam::login(&server, "alice", PASSWORD).await;
    right.heartbeat_ok().await;
}

#[tokio::test]
async fn forbidden_edit_and_delete_of_someone_elses_message() {
    let server = TestServer::start();
    let (mut a, ch) = client(&server, "alice").await;
    let mut b = Jam::register(&server, "bob").await;
    let m = a.send_message(&ch, "mine", "m-1").await;
    let id = m["id"].as_str().unwrap().to_string();
    b.recv_op(10).await;

    b.send(12, json!({"id": id, "channel_id": ch}), Some("fb-1"))
        .await;
    b.expect_error_for("FORBIDDEN", 12, Some("fb-1")).await;
    b.heartbeat_ok().await;
    b.send(
        11,
        json!({"id": id, "channel_id": ch, "content": "yours now"}),
        Some("fb-2"),
    )
    .await;
    b.expect_error_for("FORBIDDEN", 11, Some("fb-2")).await;
    b.heartbeat_ok().await;

    // The message is intact: the author's own delete is the first op 12.
    a.send(12, json!({"id": id, "channel_id": ch}), Some("d-1"))
        .await;
    assert_eq!(a.recv_op(12).await["d"]["ref"], "d-1");
    assert_eq!(b.recv_op(12).await["d"]["id"], id.as_str());
}

#[tokio::test]
async fn unknown_channel_for_a_message_is_not_found() {
    let server = TestServer::start();
    let (mut jam, ch) = client(&server, "alice").await;
    jam.send(
        10,
        json!({"channel_id": "999999999", "content": "hello?"}),
        Some("nf-1"),
    )
    .await;
    jam.expect_error_for("NOT_FOUND", 10, Some("nf-1")).await;
    jam.heartbeat_ok().await;
    jam.send(60, json!({"channel_id": "999999999"}), Some("nf-2"))
        .await;
    jam.expect_error_for("NOT_FOUND", 60, Some("nf-2")).await;
    jam.heartbeat_ok().await;
    jam.send_message(&ch, "still works", "ok-1").await;
}

#[tokio::test]
async fn unknown_message_for_edit_delete_react_is_not_found() {
    let server = TestServer::start();
    let (mut jam, ch) = client(&server, "alice").await;
    let existing = jam.send_message(&ch, "real", "m-1").await;
    let cases = [
        (
            11,
            json!({"id": "999999999", "channel_id": ch, "content": "x"}),
        ),
        (12, json!({"id": "999999999", "channel_id": ch})),
        (
            13,
            json!({"message_id": "999999999", "channel_id": ch, "emoji": "👍", "action": "add"}),
        ),
    ];
    for (op, d) in cases {
        let r = format!("nm-{op}");
        jam.send(op, d, Some(&r)).await;
        jam.expect_error_for("NOT_FOUND", op, Some(&r)).await;
        jam.heartbeat_ok().await;
    }
    // A real message id in the wrong channel is unknown there too.
    let lounge = jam.lobby().lounge;
    jam.send(
        12,
        json!({"id": existing["id"], "channel_id": lounge}),
        Some("nm-x"),
    )
    .await;
    jam.expect_error_for("NOT_FOUND", 12, Some("nm-x")).await;
    jam.heartbeat_ok().await;
    jam.send(
        13,
        json!({"message_id": existing["id"], "channel_id": ch, "emoji": "👍", "action": "add"}),
        Some("ok-r"),
    )
    .await;
    let r = jam.recv_op(13).await["d"].clone();
    assert_eq!(
        (r["count"].clone(), r["ref"].clone()),
        (json!(1), json!("ok-r"))
    );
}

#[tokio::test]
async fn unknown_user_stream_and_voice_channel_are_not_found() {
    let server = TestServer::start();
    let (mut jam, _) = client(&server, "alice").await;
    let lobby = jam.lobby();
    jam.send(
        90,
        json!({"call_id": "c1", "to": "999999999", "sdp": "v=0"}),
        Some("nu-1"),
    )
    .await;
    jam.expect_error_for("NOT_FOUND", 90, Some("nu-1")).await;
    jam.send(51, json!({"stream_id": "999999999"}), Some("nu-2"))
        .await;
    jam.expect_error_for("NOT_FOUND", 51, Some("nu-2")).await;
    jam.send(
        40,
        json!({"guild_id": lobby.guild_id, "channel_id": "999999999", "self_mute": false, "self_deaf": false}),
        Some("nu-3"),
    )
    .await;
    jam.expect_error_for("NOT_FOUND", 40, Some("nu-3")).await;
    jam.heartbeat_ok().await;
}

#[tokio::test]
async fn content_one_past_message_length_is_too_large() {
    let server = TestServer::with_config("[limits]\nmessage_length = 10\n");
    let (mut jam, ch) = client(&server, "alice").await;
    // Characters, not bytes: ten multi-byte characters fit.
    jam.send_message(&ch, "ééééééééé✓", "ok-10").await;
    jam.send(
        10,
        json!({"channel_id": ch, "content": "12345678901"}),
        Some("tl-11"),
    )
    .await;
    jam.expect_error_for("TOO_LARGE", 10, Some("tl-11")).await;
    jam.heartbeat_ok().await;
    // Empty content is INVALID.
    jam.send(
        10,
        json!({"channel_id": ch, "content": "   "}),
        Some("empty"),
    )
    .await;
    jam.expect_error_for("INVALID", 10, Some("empty")).await;
    jam.heartbeat_ok().await;
    jam.send_message(&ch, "short", "ok-5").await;
    assert_eq!(server.stats().await["messages_created"], 2);
}
