//! V0 limits, each exactly at the limit (accepted) and one past it. As the
//! profile says, a length over `v0.max_payload` or a payload that cannot be
//! read (here: nested past the depth limit) closes the connection; content
//! over `limits.message_length` is an `ERR` and the connection stays. In
//! every case nothing is stored and the other client keeps being served.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::{rest_register, ulid, unix_now, Jam, TestServer, V0};
use rmpv::Value;
use serde_json::json;
use switchboard_protocols::v0::{self, payload::MAX_DEPTH, Body, Frame, Inbound, Payload};

/// Nonces with the top bit set: msgpack always writes them in 9 bytes, so
/// a payload's size does not depend on the nonce.
fn nonce() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    (1 << 63) | NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A signed CH_MSG whose payload is `fields` of `ChMsg` plus `extra`.
fn ch_msg(c: &V0, channel: &str, msg_id: &str, text: &str, extra: Option<Value>) -> Frame {
    let cmd = Inbound::ChMsg {
        id: channel.to_string(),
        msg_id: msg_id.to_string(),
        msg: Body::Text(text.to_string()),
    };
    let mut p: Payload = cmd.fields();
    if let Some(v) = extra {
        p.put("extra", v);
    }
    p.put("timestamp", unix_now());
    p.put("nonce", nonce());
    let payload = p.encode();
    Frame {
        name: "CH_MSG".into(),
        sig: v0::sign(&c.key, &payload),
        payload,
    }
}

/// A CH_MSG whose payload is exactly `len` bytes: its text padded.
fn ch_msg_of_len(c: &V0, channel: &str, msg_id: &str, len: usize) -> (Frame, String) {
    let mut n = len.saturating_sub(ch_msg(c, channel, msg_id, "", None).payload.len());
    // The string's length header grows with it: settle in a few steps.
    for _ in 0..4 {
        let size = ch_msg(c, channel, msg_id, &"x".repeat(n), None)
            .payload
            .len();
        if size == len {
            break;
        }
        n = (n + len).saturating_sub(size);
    }
    let text = "x".repeat(n);
    let f = ch_msg(c, channel, msg_id, &text, None);
    assert_eq!(f.payload.len(), len);
    (f, text)
}

async fn general_id(server: &TestServer, token: &str) -> String {
    let jam = Jam::with_token(server, "probe", token).await;
    let general = jam.lobby().general;
    jam.close().await;
    general
}

/// Both clients see `text` as a committed CH_MSG.
async fn both_see(clients: [&mut V0; 2], general: &str, msg_id: &str, text: &str) {
    for c in clients {
        assert_eq!(
            c.recv_cmd("CH_MSG").await,
            json!({"id": general, "msg_id": msg_id, "msg": text})
        );
        assert_eq!(c.recv_cmd("CH_MSG_COMMIT").await["id"], msg_id);
    }
}

#[tokio::test]
async fn a_payload_of_exactly_max_payload_is_read_and_one_more_byte_closes() {
    let server = TestServer::with_config("[v0]\nmax_payload = 1024\n");
    let (mut alice, token) = V0::register(&server, "alice").await;
    let (mut bob, _) = V0::register(&server, "bob").await;
    let general = general_id(&server, &token).await;

    let id = ulid();
    let (f, text) = ch_msg_of_len(&alice, &general, &id, 1024);
    alice.send_frame(f).await;
    both_see([&mut alice, &mut bob], &general, &id, &text).await;

    let (f, _) = ch_msg_of_len(&alice, &general, &ulid(), 1025);
    alice.send_frame(f).await;
    alice.expect_closed().await;
    assert_eq!(server.stats().await["messages_created"], 1);

    // Bob is still served, and alice can come back.
    bob.sync().await;
    let mut again = V0::open(&server, "alice", alice.key).await;
    again.id = alice.id.clone();
    again.cnn().await;
    let id = ulid();
    again
        .send(&Inbound::ChMsg {
            id: general.clone(),
            msg_id: id.clone(),
            msg: Body::Text("marker".into()),
        })
        .await;
    both_see([&mut again, &mut bob], &general, &id, "marker").await;
}

#[tokio::test]
async fn text_of_exactly_message_length_is_stored_and_one_more_character_is_err() {
    let server = TestServer::with_config("[limits]\nmessage_length = 100\n");
    let (mut alice, token) = V0::register(&server, "alice").await;
    let (mut bob, _) = V0::register(&server, "bob").await;
    let general = general_id(&server, &token).await;
    let at = "é".repeat(100);
    let past = "é".repeat(101);

    let id = ulid();
    alice
        .send_frame(ch_msg(&alice, &general, &id, &at, None))
        .await;
    both_see([&mut alice, &mut bob], &general, &id, &at).await;
    alice
        .send_frame(ch_msg(&alice, &general, &ulid(), &past, None))
        .await;
    assert_eq!(
        alice.recv_cmd("ERR").await,
        json!({"cmd": "CH_MSG", "reason": "Message content is longer than 100 characters"})
    );

    // A direct message too.
    let (_, _) = rest_register(&server, "carol").await;
    alice
        .send(&Inbound::PvMsg {
            to: "carol".into(),
            msg_id: ulid(),
            msg: Body::Text(past.clone()),
        })
        .await;
    assert_eq!(
        alice.recv_cmd("ERR").await,
        json!({"cmd": "PV_MSG", "reason": "Message content is longer than 100 characters"})
    );
    alice.sync().await;
    assert_eq!(server.stats().await["messages_created"], 1);

    let id = ulid();
    alice
        .send_frame(ch_msg(&alice, &general, &id, "marker", None))
        .await;
    both_see([&mut alice, &mut bob], &general, &id, "marker").await;
}

/// `leaf` inside `levels` arrays.
fn nested(levels: usize, leaf: Value) -> Value {
    (0..levels).fold(leaf, |v, _| Value::Array(vec![v]))
}

/// The payload's own map is level 1: an extra field nested `MAX_DEPTH - 1`
/// arrays deep is the limit (unknown fields are ignored), one more array
/// makes the payload unreadable and the connection ends.
#[tokio::test]
async fn a_payload_nested_exactly_max_depth_is_read_and_one_level_more_closes() {
    let server = TestServer::start();
    let (mut alice, token) = V0::register(&server, "alice").await;
    let (mut bob, _) = V0::register(&server, "bob").await;
    let general = general_id(&server, &token).await;

    let id = ulid();
    let deep = nested(MAX_DEPTH - 1, Value::from("leaf"));
    alice
        .send_frame(ch_msg(&alice, &general, &id, "deep", Some(deep)))
        .await;
    both_see([&mut alice, &mut bob], &general, &id, "deep").await;

    let deeper = nested(MAX_DEPTH, Value::from("leaf"));
    alice
        .send_frame(ch_msg(&alice, &general, &ulid(), "deeper", Some(deeper)))
        .await;
    alice.expect_closed().await;
    assert_eq!(server.stats().await["messages_created"], 1);
    bob.sync().await;
}
