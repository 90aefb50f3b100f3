//! JAM limits, each sent exactly at the limit (accepted) and one past it
//! (refused with the profile's error, nothing stored, the connection still
//! usable), with a second client that sees only what was accepted.
//!
//! Already covered elsewhere, not repeated here: the WebSocket frame size
//! (`jam_bad_input::oversized_frame_is_decode_error_and_the_connection_stays_usable`),
//! op 10 content length (`jam_bad_input::content_one_past_message_length_is_too_large`)
//! and the REST upload size (`files::bad_uploads_get_clear_errors_and_change_nothing`).

mod common;

use common::{error_code, http_request, Jam, TestServer};
use serde_json::{json, Value};

/// `{"channel_id":..,"content":"xx..."}` of exactly `len` bytes.
fn message_body(channel: &str, len: usize) -> Vec<u8> {
    let body = |content: &str| json!({"channel_id": channel, "content": content}).to_string();
    let base = body("").len();
    assert!(len > base, "{len} is shorter than an empty message");
    let text = body(&"x".repeat(len - base));
    assert_eq!(text.len(), len);
    text.into_bytes()
}

async fn post_raw(server: &TestServer, token: &str, body: &[u8]) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let res = http_request(server.http, "POST", "/api/messages", &headers, body).await;
    (res.status, res.json())
}

#[tokio::test]
async fn a_rest_body_of_exactly_request_body_bytes_is_read_and_one_more_byte_is_413() {
    let server = TestServer::with_config("[limits]\nrequest_body_bytes = 1024\n");
    let alice = Jam::register(&server, "alice").await;
    let mut bob = Jam::register(&server, "bob").await;
    let general = alice.lobby().general;
    let token = alice.token();

    let (status, created) = post_raw(&server, &token, &message_body(&general, 1024)).await;
    assert!(status == 200 || status == 201, "{status} {created}");
    let seen = bob.recv_op(10).await;
    assert_eq!(seen["d"]["id"], created["id"], "{seen}");

    let (status, refused) = post_raw(&server, &token, &message_body(&general, 1025)).await;
    assert_eq!(
        (status, error_code(&refused)),
        (413, "TOO_LARGE"),
        "{refused}"
    );
    assert_eq!(server.stats().await["messages_created"], 1);

    // Bob's next message is the marker: the refused body never reached him.
    let (status, marker) = post_raw(&server, &token, &message_body(&general, 100)).await;
    assert!(status == 200 || status == 201, "{status} {marker}");
    assert_eq!(bob.recv_op(10).await["d"]["id"], marker["id"]);
}

/// `message_length` counts characters, on REST and WebSocket, for new
/// messages and for edits.
#[tokio::test]
async fn content_of_exactly_message_length_is_kept_and_one_more_character_is_too_large() {
    let server = TestServer::with_config("[limits]\nmessage_length = 100\n");
    let mut alice = Jam::register(&server, "alice").await;
    let mut bob = Jam::register(&server, "bob").await;
    let general = alice.lobby().general;
    let token = alice.token();
    // 100 characters, 200 bytes.
    let at = "é".repeat(100);
    let past = "é".repeat(101);

    let post = |content: &str| json!({"channel_id": general, "content": content});
    let (status, m) = server
        .rest("POST", "/api/messages", Some(&token), Some(&post(&at)))
        .await;
    assert!(status == 200 || status == 201, "{status} {m}");
    assert_eq!(m["content"], at);
    let id = m["id"].as_str().expect("id").to_string();
    let (status, e) = server
        .rest("POST", "/api/messages", Some(&token), Some(&post(&past)))
        .await;
    assert_eq!((status, error_code(&e)), (413, "TOO_LARGE"), "{e}");

    // REST edits.
    let path = format!("/api/messages/{id}");
    let edit = |content: &str| json!({"content": content});
    let at_edit = "ü".repeat(100);
    let (status, edited) = server
        .rest("PATCH", &path, Some(&token), Some(&edit(&at_edit)))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["content"], at_edit);
    let (status, e) = server
        .rest("PATCH", &path, Some(&token), Some(&edit(&past)))
        .await;
    assert_eq!((status, error_code(&e)), (413, "TOO_LARGE"), "{e}");

    // Alice's own socket saw the accepted REST create and edit only.
    assert_eq!(alice.recv_op(10).await["d"]["content"], at);
    assert_eq!(alice.recv_op(11).await["d"]["content"], at_edit);

    // WebSocket edits (op 11).
    let ws_edit = "ö".repeat(100);
    alice
        .send(
            11,
            json!({"id": id, "channel_id": general, "content": past}),
            Some("e-past"),
        )
        .await;
    alice
        .expect_error_for("TOO_LARGE", 11, Some("e-past"))
        .await;
    alice.heartbeat_ok().await;
    alice
        .send(
            11,
            json!({"id": id, "channel_id": general, "content": ws_edit}),
            Some("e-at"),
        )
        .await;
    let own = alice.recv_op(11).await;
    assert_eq!(
        (&own["d"]["content"], &own["d"]["ref"]),
        (&json!(ws_edit), &json!("e-at"))
    );

    // The stored message is the last accepted edit.
    let (status, stored) = server.rest("GET", &path, Some(&token), None).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["content"], ws_edit);
    assert_eq!(server.stats().await["messages_created"], 1);

    // Bob saw the create and the two accepted edits, nothing else.
    assert_eq!(bob.recv_op(10).await["d"]["content"], at);
    assert_eq!(bob.recv_op(11).await["d"]["content"], at_edit);
    assert_eq!(bob.recv_op(11).await["d"]["content"], ws_edit);
    let marker = alice.send_message(&general, "marker", "mk").await;
    assert_eq!(bob.recv_op(10).await["d"]["id"], marker["id"]);
}
