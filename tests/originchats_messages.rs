//! OriginChats messages in the default guild: message_new, message_edit,
//! message_delete, reactions and typing, each seen by two clients, with
//! the `listener` echo rules and at least one error string per command;
//! pipelined requests of one connection keep their order.

mod common;

use common::{assert_id, without_listener, Oc, TestServer};
use serde_json::{json, Value};

/// Rate limiting off: these tests send more than a burst.
fn server() -> TestServer {
    TestServer::with_config("[originchats.rate_limiting]\nenabled = false\n")
}

async fn alice_and_bob(server: &TestServer) -> (Oc, Oc) {
    let alice = Oc::register(server, "alice").await;
    let bob = Oc::register(server, "bob").await;
    (alice, bob)
}

fn check_message(m: &Value, user: &str, content: &str) -> String {
    assert_eq!(m["user"], user, "{m}");
    assert_eq!(m["content"], content, "{m}");
    let ts = m["timestamp"]
        .as_f64()
        .unwrap_or_else(|| panic!("timestamp must be float seconds: {m}"));
    assert!(
        ts > 1.7e9 && ts < 1.0e11,
        "timestamp must be Unix seconds: {m}"
    );
    assert_eq!(m["type"], "message", "{m}");
    assert_eq!(m["pinned"], false, "{m}");
    assert_eq!(m["interaction"], Value::Null, "{m}");
    assert!(
        m.get("interaction").is_some(),
        "interaction always present: {m}"
    );
    assert_id(&m["id"], "message.id")
}

#[tokio::test]
async fn message_new_reaches_both_with_the_listener_only_on_the_senders_copy() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    alice
        .send(json!({"cmd": "message_new", "channel": "general", "content": "hello", "listener": "m-1"}))
        .await;
    let mine = alice.recv_cmd("message_new").await;
    let theirs = bob.recv_cmd("message_new").await;
    assert_eq!(mine["listener"], "m-1", "{mine}");
    assert!(
        theirs.get("listener").is_none(),
        "listener leaked: {theirs}"
    );
    assert_eq!(theirs, without_listener(&mine));
    assert_eq!(mine["channel"], "general");
    assert_eq!(mine["thread_id"], Value::Null);
    assert!(mine.get("thread_id").is_some(), "{mine}");
    assert_eq!(mine["global"], true);
    check_message(&mine["message"], "alice", "hello");

    // Bob answers; ids are distinct.
    let reply = bob.send_message("general", "hi alice", "b-1").await;
    let seen = alice.recv_cmd("message_new").await;
    assert_eq!(seen, without_listener(&reply));
    check_message(&seen["message"], "bob", "hi alice");
    assert_ne!(seen["message"]["id"], mine["message"]["id"]);

    // A listener that is not a string is ignored.
    alice
        .send(json!({"cmd": "message_new", "channel": "general", "content": "numeric", "listener": 5}))
        .await;
    let mine = alice.recv_cmd("message_new").await;
    assert!(mine.get("listener").is_none(), "{mine}");
    assert_eq!(bob.recv_cmd("message_new").await, mine);
}

#[tokio::test]
async fn message_new_errors_reach_only_the_sender() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let too_long = "x".repeat(4001);
    let cases = [
        (
            json!({"channel": "nope", "content": "hi"}),
            "Channel not found",
        ),
        (
            json!({"channel": "general", "content": too_long}),
            "Message too long. Maximum length is 4000 characters",
        ),
        (
            json!({"channel": "general", "content": "   \n "}),
            "Message content or attachments cannot be empty",
        ),
        (
            json!({"channel": "general"}),
            "Missing fields: content or attachments",
        ),
        (
            json!({"content": "hi"}),
            "Missing fields: channel or thread_id",
        ),
    ];
    for (i, (mut req, val)) in cases.into_iter().enumerate() {
        let listener = format!("e-{i}");
        req["cmd"] = json!("message_new");
        req["listener"] = json!(listener);
        alice.send(req).await;
        let f = alice.expect_error(Some("message_new"), val).await;
        assert_eq!(f["listener"], listener.as_str(), "listener on errors: {f}");
    }
    // Exactly the limit is fine.
    let exact = "y".repeat(4000);
    alice.send_message("general", &exact, "ok").await;
    // Bob saw none of the failures: the 4000-character message comes first.
    bob.expect_marker("general", &exact).await;
}

#[tokio::test]
async fn message_new_to_a_voice_channel_is_refused() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    alice
        .send(json!({"cmd": "message_new", "channel": "lounge", "content": "hi"}))
        .await;
    alice
        .expect_error(
            Some("message_new"),
            "Cannot send messages in this channel type",
        )
        .await;
    alice.send_message("general", "marker", "m").await;
    bob.expect_marker("general", "marker").await;
}

#[tokio::test]
async fn edit_and_delete_by_the_author_reach_both() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let sent = alice.send_message("general", "first draft", "m").await;
    bob.recv_cmd("message_new").await;
    let id = Oc::message_id(&sent);

    alice
        .send(json!({"cmd": "message_edit", "id": id, "channel": "general", "content": "final", "listener": "e-1"}))
        .await;
    let mine = alice.recv_cmd("message_edit").await;
    let theirs = bob.recv_cmd("message_edit").await;
    assert_eq!(mine["listener"], "e-1");
    assert_eq!(theirs, without_listener(&mine));
    assert_eq!(mine["id"], id.as_str());
    assert_eq!(mine["content"], "final");
    assert_eq!(mine["channel"], "general");
    assert_eq!(mine["global"], true);
    assert_eq!(mine["message"]["id"], id.as_str());
    assert_eq!(mine["message"]["content"], "final");
    assert_eq!(mine["message"]["edited"], true);
    assert_eq!(mine["message"]["user"], "alice");

    // message_get sees the edit.
    bob.send(json!({"cmd": "message_get", "channel": "general", "id": id}))
        .await;
    let got = bob.recv_cmd("message_get").await;
    assert_eq!(got["channel"], "general");
    assert_eq!(got["message"]["content"], "final");
    assert_eq!(got["message"]["edited"], true);

    alice
        .send(json!({"cmd": "message_delete", "id": id, "channel": "general", "listener": "d-1"}))
        .await;
    let mine = alice.recv_cmd("message_delete").await;
    let theirs = bob.recv_cmd("message_delete").await;
    assert_eq!(mine["listener"], "d-1");
    assert_eq!(theirs, without_listener(&mine));
    assert_eq!(mine["id"], id.as_str());
    assert_eq!(mine["channel"], "general");
    assert_eq!(mine["global"], true);

    bob.send(json!({"cmd": "message_get", "channel": "general", "id": id}))
        .await;
    bob.expect_error(Some("message_get"), "Message not found")
        .await;
}

#[tokio::test]
async fn edit_and_delete_errors() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let sent = alice.send_message("general", "mine", "m").await;
    bob.recv_cmd("message_new").await;
    let id = Oc::message_id(&sent);

    alice
        .send(json!({"cmd": "message_edit", "id": "1234567", "channel": "general", "content": "x", "listener": "l"}))
        .await;
    let f = alice
        .expect_error(
            Some("message_edit"),
            "Message not found or cannot be edited",
        )
        .await;
    assert_eq!(f["listener"], "l");
    alice
        .send(json!({"cmd": "message_delete", "id": "1234567", "channel": "general"}))
        .await;
    alice
        .expect_error(
            Some("message_delete"),
            "Message not found or cannot be deleted",
        )
        .await;

    // Bob may not edit or delete alice's message (no manage rights in the
    // Lobby).
    bob.send(json!({"cmd": "message_edit", "id": id, "channel": "general", "content": "hijacked"}))
        .await;
    bob.expect_error_one_of(
        Some("message_edit"),
        &[
            "You do not have permission to edit this message",
            "Message not found or cannot be edited",
        ],
    )
    .await;
    bob.send(json!({"cmd": "message_delete", "id": id, "channel": "general"}))
        .await;
    bob.expect_error(
        Some("message_delete"),
        "You do not have permission to delete this message",
    )
    .await;

    // Nothing reached alice but the marker.
    bob.send_message("general", "marker", "mk").await;
    alice.expect_marker("general", "marker").await;
    alice
        .send(json!({"cmd": "message_get", "channel": "general", "id": id}))
        .await;
    let got = alice.recv_cmd("message_get").await;
    assert_eq!(got["message"]["content"], "mine");
    assert!(got["message"].get("edited").is_none() || got["message"]["edited"] == false);
}

#[tokio::test]
async fn reactions_add_and_remove() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let sent = alice.send_message("general", "react to me", "m").await;
    bob.recv_cmd("message_new").await;
    let id = Oc::message_id(&sent);

    bob.send(json!({"cmd": "message_react_add", "channel": "general", "id": id, "emoji": "👍", "listener": "r-1"}))
        .await;
    let mine = bob.recv_cmd("message_react_add").await;
    let theirs = alice.recv_cmd("message_react_add").await;
    assert_eq!(
        mine,
        json!({"cmd": "message_react_add", "id": id, "emoji": "👍", "channel": "general",
               "from": "bob", "global": true, "listener": "r-1"})
    );
    assert_eq!(theirs, without_listener(&mine));

    alice
        .send(json!({"cmd": "message_get", "channel": "general", "id": id}))
        .await;
    let got = alice.recv_cmd("message_get").await;
    assert_eq!(got["message"]["reactions"], json!({"👍": ["bob"]}), "{got}");

    bob.send(json!({"cmd": "message_react_remove", "channel": "general", "id": id, "emoji": "👍"}))
        .await;
    let mine = bob.recv_cmd("message_react_remove").await;
    let theirs = alice.recv_cmd("message_react_remove").await;
    assert_eq!(
        mine,
        json!({"cmd": "message_react_remove", "id": id, "emoji": "👍", "channel": "general",
               "from": "bob", "global": true})
    );
    assert_eq!(theirs, mine);

    alice
        .send(json!({"cmd": "message_get", "channel": "general", "id": id}))
        .await;
    let got = alice.recv_cmd("message_get").await;
    let reactions = &got["message"]["reactions"];
    assert!(
        reactions.is_null() || reactions == &json!({}),
        "no reactions left: {got}"
    );

    for cmd in ["message_react_add", "message_react_remove"] {
        bob.send(json!({"cmd": cmd, "channel": "general", "id": id, "listener": "x"}))
            .await;
        let f = bob
            .expect_error(Some(cmd), "Message ID and emoji are required")
            .await;
        assert_eq!(f["listener"], "x");
    }
    bob.send_message("general", "marker", "mk").await;
    alice.expect_marker("general", "marker").await;
}

#[tokio::test]
async fn typing_reaches_everyone_including_the_sender() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    alice
        .send(json!({"cmd": "typing", "channel": "general", "listener": "t-1"}))
        .await;
    let mine = alice.recv_cmd("typing").await;
    let theirs = bob.recv_cmd("typing").await;
    assert_eq!(
        mine,
        json!({"cmd": "typing", "channel": "general", "user": "alice", "thread_id": null,
               "global": true, "listener": "t-1"})
    );
    assert_eq!(theirs, without_listener(&mine));

    alice
        .send(json!({"cmd": "typing", "channel": "nope", "listener": "t-2"}))
        .await;
    let f = alice
        .expect_error(Some("typing"), "Channel not found")
        .await;
    assert_eq!(f["listener"], "t-2");
    alice.send_message("general", "marker", "mk").await;
    bob.expect_marker("general", "marker").await;
}

#[tokio::test]
async fn pipelined_messages_keep_their_order() {
    const N: usize = 50;
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    // Sent back to back without waiting: one connection's messages are
    // stored and delivered in the order they were sent.
    for i in 0..N {
        alice
            .send(
                json!({"cmd": "message_new", "channel": "general", "content": format!("seq {i}")}),
            )
            .await;
    }
    let expected: Vec<String> = (0..N).map(|i| format!("seq {i}")).collect();
    let mut seen = Vec::new();
    for oc in [&mut alice, &mut bob] {
        let mut got = Vec::new();
        for _ in 0..N {
            let f = oc.recv_cmd("message_new").await;
            got.push(
                f["message"]["content"]
                    .as_str()
                    .expect("content")
                    .to_string(),
            );
        }
        seen.push(got);
    }
    bob.send(json!({"cmd": "messages_get", "channel": "general", "limit": N}))
        .await;
    let r = bob.recv_cmd("messages_get").await;
    let stored: Vec<String> = r["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().expect("content").to_string())
        .collect();
    let ok = |v: &Vec<String>| v == &expected;
    assert!(
        ok(&seen[0]) && ok(&seen[1]) && ok(&stored),
        "out of send order:\nalice's copies {:?}\nbob's copies   {:?}\nhistory        {:?}",
        seen[0],
        seen[1],
        stored
    );
}

#[tokio::test]
async fn requests_of_one_connection_are_answered_in_order() {
    let server = server();
    let mut alice = Oc::register(&server, "alice").await;
    // Pipelined, as a client may: the replies come back in request order,
    // as the reference handles one connection's requests one at a time.
    alice
        .send(json!({"cmd": "message_new", "channel": "general", "content": "first", "listener": "1"}))
        .await;
    alice
        .send(json!({"cmd": "typing", "channel": "general", "listener": "2"}))
        .await;
    alice.send(json!({"cmd": "ping", "listener": "3"})).await;
    let mut order = Vec::new();
    while order.len() < 3 {
        let f = alice.recv_strict().await;
        if let Some(l) = f["listener"].as_str() {
            order.push(format!("{l}:{}", f["cmd"].as_str().unwrap_or_default()));
        }
    }
    assert_eq!(order, ["1:message_new", "2:typing", "3:pong"]);
}
