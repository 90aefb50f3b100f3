//! chat-network × JAM: direct messages both ways. The JAM user sees the
//! chat-network ciphertext as an encrypted message (content and nonce as
//! sent); the chat-network user gets the JAM text with `plain: true`, live
//! or, when away, at the next subscribe.

mod common;

use common::{Cn, Jam, TestServer};
use serde_json::json;
use switchboard_client::chatnet::encrypt;

#[tokio::test]
async fn direct_messages_cross_both_ways() {
    let server = TestServer::start();
    let mut jamie = Jam::register(&server, "jamie").await;
    let mut cathy = Cn::signup(&server, "cathy").await;

    // chat-network → JAM: opaque ciphertext, shown as encrypted.
    let (nonce, message) = encrypt(&[9u8; 32], "hi jamie");
    cathy
        .relay(
            "message",
            "jamie",
            json!({"nonce": nonce, "message": message}),
        )
        .await;
    let d = jamie.recv_until(10).await["d"].clone();
    assert_eq!(
        (
            &d["encrypted"],
            &d["content"],
            &d["nonce"],
            &d["author"]["username"]
        ),
        (
            &json!(true),
            &json!(message),
            &json!(nonce),
            &json!("cathy")
        ),
        "{d}"
    );
    assert_eq!(d["guild_id"], json!(null), "{d}");
    let dm = d["channel_id"].as_str().expect("channel id").to_string();

    // JAM → chat-network: plain text, marked so.
    jamie
        .send(
            10,
            json!({"channel_id": dm, "content": "hello cathy"}),
            Some("j1"),
        )
        .await;
    assert_eq!(
        cathy.recv().await,
        json!({"type": "message", "source": "jamie", "dest": "cathy", "nonce": "", "message": "hello cathy", "plain": true})
    );

    // While cathy is away, JAM messages wait for her next subscribe.
    cathy.close().await;
    jamie
        .send(
            10,
            json!({"channel_id": dm, "content": "still there?"}),
            Some("j2"),
        )
        .await;
    let own = jamie.recv_until(10).await;
    assert_eq!(own["d"]["content"], "hello cathy", "{own}");
    let own = jamie.recv_until(10).await;
    assert_eq!(own["d"]["content"], "still there?", "{own}");
    let mut cathy = Cn::signin(&server, "cathy").await;
    assert_eq!(
        cathy.recv().await,
        json!({"type": "message", "source": "jamie", "dest": "cathy", "nonce": "", "message": "still there?", "plain": true})
    );
    // The DM's history holds both, the ciphertext unchanged.
    let (status, history) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={dm}"),
            Some(&jamie.token()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{history}");
    let contents: Vec<&serde_json::Value> = history
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| &m["content"])
        .collect();
    assert!(contents.contains(&&json!(message)), "{history}");
    assert!(contents.contains(&&json!("still there?")), "{history}");
}
