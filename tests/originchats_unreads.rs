//! Unreads over OriginChats: per-user read positions, shared by every
//! connection of the user, moved by `unreads_ack` and by reading history.

mod common;

use common::{Oc, TestServer, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn read_positions_follow_acks_and_history_reads() {
    let server = TestServer::with_config("[originchats.rate_limiting]\nenabled = false\n");
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;
    let mut bob2 = Oc::login(&server, "bob", PASSWORD).await;

    let mut ids = Vec::new();
    for i in 0..3 {
        let sent = alice.send_message("general", &format!("m{i}"), "l").await;
        ids.push(Oc::message_id(&sent));
    }
    for _ in 0..3 {
        bob.recv_cmd("message_new").await;
        bob2.recv_cmd("message_new").await;
    }

    bob.send(json!({"cmd": "unreads_get"})).await;
    let all = bob.recv_cmd("unreads_get").await;
    assert_eq!(
        all["unreads"]["general"],
        json!({"last_read": null, "unread_count": 3, "total_messages": 3}),
        "{all}"
    );
    assert!(
        all["unreads"].get("lounge").is_none(),
        "voice channels have no unreads: {all}"
    );

    bob.send(json!({"cmd": "unreads_ack", "channel": "general", "listener": "a"}))
        .await;
    let acked = bob.recv_cmd("unreads_ack").await;
    assert_eq!(
        acked,
        json!({"cmd": "unreads_ack", "channel": "general", "last_read": ids[2], "listener": "a"})
    );
    // Every connection of bob hears it.
    let update = bob2.recv_cmd("unreads_update").await;
    assert_eq!(
        update,
        json!({"cmd": "unreads_update", "channel": "general", "last_read": ids[2]})
    );

    for i in 3..5 {
        let sent = alice.send_message("general", &format!("m{i}"), "l").await;
        ids.push(Oc::message_id(&sent));
        bob.recv_cmd("message_new").await;
    }
    bob.send(json!({"cmd": "unreads_count", "channel": "general"}))
        .await;
    assert_eq!(
        bob.recv_cmd("unreads_count").await,
        json!({"cmd": "unreads_count", "channel": "general", "unread_count": 2,
               "last_read": ids[2], "total_messages": 5})
    );

    // Acking an older message moves the position back.
    bob.send(json!({"cmd": "unreads_ack", "channel": "general", "message_id": ids[0]}))
        .await;
    assert_eq!(
        bob.recv_cmd("unreads_ack").await["last_read"],
        ids[0].as_str()
    );
    bob.send(json!({"cmd": "unreads_count", "channel": "general"}))
        .await;
    assert_eq!(bob.recv_cmd("unreads_count").await["unread_count"], 4);

    // Reading the history marks the channel read.
    bob.send(json!({"cmd": "messages_get", "channel": "general"}))
        .await;
    let page = bob.recv_cmd("messages_get").await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(5));
    bob.send(json!({"cmd": "unreads_count", "channel": "general"}))
        .await;
    let count = bob.recv_cmd("unreads_count").await;
    assert_eq!(
        (count["unread_count"].clone(), count["last_read"].clone()),
        (json!(0), json!(ids[4]))
    );

    // Errors.
    bob.send(json!({"cmd": "unreads_count"})).await;
    bob.expect_error(None, "Channel name not provided").await;
    bob.send(json!({"cmd": "unreads_ack", "channel": "general", "message_id": "12345"}))
        .await;
    bob.expect_error(Some("unreads_ack"), "Message not found")
        .await;
    bob.send(json!({"cmd": "unreads_ack", "channel": "nowhere"}))
        .await;
    bob.expect_error(Some("unreads_ack"), "Channel not found")
        .await;
    bob.ping_ok().await;
}
