//! OriginChats limits, each exactly at the limit (accepted) and one past it
//! (refused with the reference's error, nothing stored, the connection
//! still usable), with a second client that sees only what was accepted.
//!
//! `message_new` at 4001 characters with the default limit is in
//! `originchats_messages::message_new_errors_reach_only_the_sender`; the
//! handshake's `limits.post_content` following `message_length` is in
//! `originchats_auth`.

mod common;

use base64::Engine;
use common::{oc_http_upload, Oc, TestServer};
use serde_json::{json, Value};

const NO_RATE_LIMIT: &str = "[originchats.rate_limiting]\nenabled = false\n";

/// A `message_new` frame of exactly `len` bytes.
fn message_frame(listener: &str, len: usize) -> String {
    let frame = |content: &str| {
        json!({"cmd": "message_new", "channel": "general", "content": content, "listener": listener})
            .to_string()
    };
    let base = frame("").len();
    assert!(len > base);
    let text = frame(&"x".repeat(len - base));
    assert_eq!(text.len(), len);
    text
}

#[tokio::test]
async fn a_frame_of_exactly_frame_bytes_is_read_and_one_more_byte_is_an_error() {
    let server = TestServer::with_config(&format!(
        "[limits]\nframe_bytes = 1024\nmessage_length = 2000\n\n{NO_RATE_LIMIT}"
    ));
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;

    alice.send_text(message_frame("at", 1024)).await;
    let own = alice.recv_cmd("message_new").await;
    assert_eq!(own["listener"], "at", "{own}");
    let seen = bob.recv_cmd("message_new").await;
    assert_eq!(seen["message"]["id"], own["message"]["id"]);

    alice.send_text(message_frame("past", 1025)).await;
    let e = alice.recv_cmd("error").await;
    assert_eq!(
        e,
        json!({"cmd": "error", "val": "Message too large: frames are limited to 1024 bytes"})
    );
    alice.ping_ok().await;
    assert_eq!(server.stats().await["messages_created"], 1);

    alice.send_message("general", "marker", "mk").await;
    bob.expect_marker("general", "marker").await;
}

#[tokio::test]
async fn content_of_exactly_post_content_is_kept_and_one_more_character_is_refused() {
    let server = TestServer::with_config(&format!(
        "[limits]\nmessage_length = 100\n\n{NO_RATE_LIMIT}"
    ));
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;
    assert_eq!(alice.handshake["limits"]["post_content"], 100);
    // Characters, not bytes.
    let at = "é".repeat(100);
    let past = "é".repeat(101);
    let too_long = "Message too long. Maximum length is 100 characters";

    let sent = alice.send_message("general", &at, "at").await;
    let id = Oc::message_id(&sent);
    assert_eq!(bob.recv_cmd("message_new").await["message"]["content"], at);
    alice
        .send(json!({"cmd": "message_new", "channel": "general", "content": past, "listener": "past"}))
        .await;
    let e = alice.expect_error(Some("message_new"), too_long).await;
    assert_eq!(e["listener"], "past", "{e}");

    let edited = "ü".repeat(100);
    alice
        .send(json!({"cmd": "message_edit", "id": id, "channel": "general", "content": past}))
        .await;
    alice.expect_error(Some("message_edit"), too_long).await;
    alice
        .send(json!({"cmd": "message_edit", "id": id, "channel": "general", "content": edited}))
        .await;
    let own = alice.recv_cmd("message_edit").await;
    let theirs = bob.recv_cmd("message_edit").await;
    for f in [&own, &theirs] {
        assert_eq!(f["message"]["content"], edited, "{f}");
    }
    alice.ping_ok().await;

    alice
        .send(json!({"cmd": "message_get", "channel": "general", "id": id}))
        .await;
    let got = alice.recv_cmd("message_get").await;
    assert_eq!(got["message"]["content"], edited, "{got}");
    assert_eq!(server.stats().await["messages_created"], 1);
    alice.send_message("general", "marker", "mk").await;
    bob.expect_marker("general", "marker").await;
}

async fn upload(server: &TestServer, body: &[u8]) -> (u16, Value) {
    oc_http_upload(server, body).await
}

async fn stored_files(server: &TestServer) -> Value {
    server.stats().await["files"].clone()
}

/// The decoded file is held to `upload_bytes`; the JSON body around it to
/// its base64 size plus 64 KiB.
#[tokio::test]
async fn an_upload_of_exactly_upload_bytes_is_stored_and_one_more_byte_is_413() {
    let server =
        TestServer::with_config(&format!("[limits]\nupload_bytes = 2048\n\n{NO_RATE_LIMIT}"));
    let mut alice = Oc::register(&server, "alice").await;
    let token = alice.ready["validator"]
        .as_str()
        .expect("validator")
        .to_string();
    let body = |size: usize, seed: u8, pad: usize| {
        let data: Vec<u8> = (0..size)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        serde_json::to_vec(
            &json!({"validator_key": "k", "validator": token, "name": "f.bin",
            "mime_type": "application/octet-stream", "channel": "general",
            "file": format!("data:application/octet-stream;base64,{b64}"),
            "pad": "p".repeat(pad)}),
        )
        .expect("json")
    };

    let before = stored_files(&server).await;
    let (status, created) = upload(&server, &body(2049, 1, 0)).await;
    assert_eq!(
        (status, created),
        (
            413,
            json!({"error": "Request body too large (max 2048 bytes)"})
        )
    );
    assert_eq!(stored_files(&server).await, before);
    let (status, created) = upload(&server, &body(2048, 2, 0)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["attachment"]["size"], 2048, "{created}");

    // The body: 2048 * 4 / 3 + 65536 = 68266 bytes at most.
    let max_body = 2048 * 4 / 3 + 64 * 1024;
    let sized = |len: usize| {
        let base = body(16, 3, 0).len();
        let b = body(16, 3, len - base);
        assert_eq!(b.len(), len);
        b
    };
    let (status, e) = upload(&server, &sized(max_body + 1)).await;
    assert_eq!(
        (status, e),
        (
            413,
            json!({"error": format!("Request body too large (max {max_body} bytes)")})
        )
    );
    let (status, created) = upload(&server, &sized(max_body)).await;
    assert_eq!(status, 201, "{created}");

    // The socket was never disturbed.
    alice.ping_ok().await;
}
