//! chat-network limits, each exactly at the limit (accepted) and one past
//! it (refused with `{"type":"error","resp_code":8,"reason"}`, nothing
//! stored, the socket still serving), with the receiver seeing only what
//! was accepted.

mod common;

use base64::Engine;
use common::{Cn, TestServer};
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A `message` request from `cn` to bob, as a JSON value.
fn message(cn: &Cn, nonce: &str, text: &str) -> Value {
    json!({"type": "message", "session": cn.session, "source": cn.name, "dest": "bob",
           "nonce": nonce, "message": text})
}

/// `v` as text padded with trailing spaces (still one JSON value) to
/// exactly `len` bytes.
fn padded(v: &Value, len: usize) -> String {
    let text = v.to_string();
    assert!(text.len() <= len, "{} > {len}", text.len());
    let out = format!("{text}{}", " ".repeat(len - text.len()));
    assert_eq!(out.len(), len);
    out
}

#[tokio::test]
async fn a_frame_of_exactly_frame_bytes_is_read_and_one_more_byte_is_code_8() {
    let server = TestServer::with_config("[limits]\nframe_bytes = 1024\n");
    let mut alice = Cn::signup(&server, "alice").await;
    let mut bob = Cn::signup(&server, "bob").await;
    let nonce = b64(&[1u8; 24]);
    let body = b64(&[2u8; 300]);

    let at = message(&alice, &nonce, &body);
    alice.send_text(padded(&at, 1024)).await;
    assert_eq!(
        bob.recv_type("message").await,
        json!({"type": "message", "source": "alice", "dest": "bob", "nonce": nonce, "message": body})
    );

    let other = b64(&[3u8; 300]);
    alice
        .send_text(padded(&message(&alice, &nonce, &other), 1025))
        .await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "error", "resp_code": 8, "reason": "frames are limited to 1024 bytes"})
    );
    alice.sync().await;
    assert_eq!(server.stats().await["messages_created"], 1);

    // Bob's next message is the marker.
    let marker = b64(b"marker");
    alice.send(message(&alice, &nonce, &marker)).await;
    assert_eq!(bob.recv_type("message").await["message"], marker);
}

/// The ciphertext is stored as it comes, so `message_length` counts its
/// base64 characters.
#[tokio::test]
async fn a_message_of_exactly_message_length_is_stored_and_one_more_character_is_code_8() {
    let server = TestServer::with_config("[limits]\nmessage_length = 100\n");
    let mut alice = Cn::signup(&server, "alice").await;
    let mut bob = Cn::signup(&server, "bob").await;
    let nonce = b64(&[1u8; 24]);
    // 75 bytes are exactly 100 base64 characters.
    let at = b64(&[7u8; 75]);
    assert_eq!(at.len(), 100);
    let past = format!("{at}A");

    alice.send(message(&alice, &nonce, &at)).await;
    assert_eq!(bob.recv_type("message").await["message"], at);
    alice.send(message(&alice, &nonce, &past)).await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "error", "resp_code": 8, "reason": "Message content is longer than 100 characters"})
    );
    alice.sync().await;
    assert_eq!(server.stats().await["messages_created"], 1);

    let marker = b64(b"marker");
    alice.send(message(&alice, &nonce, &marker)).await;
    assert_eq!(bob.recv_type("message").await["message"], marker);
}
