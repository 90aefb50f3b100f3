//! OriginChats history: message_get, messages_get (with `start` as a count
//! and as a message id), messages_around, message_replies and
//! messages_search, each with its error strings.

mod common;

use common::{Oc, TestServer};
use serde_json::{json, Value};

/// Rate limiting off: these tests send more than a burst.
fn server() -> TestServer {
    TestServer::with_config("[originchats.rate_limiting]\nenabled = false\n")
}

/// Alice sends `m0`..`m<n-1>` to general; returns their ids.
async fn fill(alice: &mut Oc, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let f = alice
            .send_message("general", &format!("m{i}"), "fill")
            .await;
        ids.push(Oc::message_id(&f));
    }
    ids
}

fn contents(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .unwrap_or_else(|| panic!("messages must be an array: {messages}"))
        .iter()
        .map(|m| m["content"].as_str().expect("content").to_string())
        .collect()
}

async fn get(oc: &mut Oc, req: Value) -> Value {
    oc.send(req).await;
    oc.recv_cmd("messages_get").await
}

#[tokio::test]
async fn messages_get_counts_from_the_newest_and_returns_oldest_first() {
    let server = server();
    let mut alice = Oc::register(&server, "alice").await;
    let ids = fill(&mut alice, 5).await;
    let mut bob = Oc::register(&server, "bob").await;

    let r = get(&mut bob, json!({"cmd": "messages_get", "channel": "general", "start": 0, "limit": 3, "listener": "h-1"})).await;
    assert_eq!(r["channel"], "general");
    assert_eq!(r["listener"], "h-1");
    assert_eq!(contents(&r["messages"]), ["m2", "m3", "m4"]);
    assert_eq!(r["range"], json!({"start": 0, "end": 3}));
    let m4 = &r["messages"][2];
    assert_eq!(m4["id"], ids[4].as_str());
    assert_eq!(m4["user"], "alice");
    assert!(m4["timestamp"].is_f64(), "{m4}");

    let r = get(
        &mut bob,
        json!({"cmd": "messages_get", "channel": "general", "start": 1, "limit": 2}),
    )
    .await;
    assert_eq!(contents(&r["messages"]), ["m2", "m3"]);
    assert_eq!(r["range"], json!({"start": 1, "end": 3}));
    assert!(r.get("listener").is_none(), "{r}");

    let r = get(
        &mut bob,
        json!({"cmd": "messages_get", "channel": "general"}),
    )
    .await;
    assert_eq!(contents(&r["messages"]), ["m0", "m1", "m2", "m3", "m4"]);

    let r = get(
        &mut bob,
        json!({"cmd": "messages_get", "channel": "general", "start": 10, "limit": 5}),
    )
    .await;
    assert_eq!(contents(&r["messages"]), Vec::<String>::new());
}

#[tokio::test]
async fn messages_get_with_a_message_id_returns_older_messages() {
    let server = server();
    let mut alice = Oc::register(&server, "alice").await;
    let ids = fill(&mut alice, 5).await;

    let r = get(
        &mut alice,
        json!({"cmd": "messages_get", "channel": "general", "start": ids[3], "limit": 2}),
    )
    .await;
    assert_eq!(contents(&r["messages"]), ["m1", "m2"], "{r}");
    assert_eq!(r["channel"], "general");
    let r = get(
        &mut alice,
        json!({"cmd": "messages_get", "channel": "general", "start": ids[3]}),
    )
    .await;
    assert_eq!(contents(&r["messages"]), ["m0", "m1", "m2"], "{r}");
    let r = get(
        &mut alice,
        json!({"cmd": "messages_get", "channel": "general", "start": ids[0], "limit": 10}),
    )
    .await;
    assert_eq!(contents(&r["messages"]), Vec::<String>::new(), "{r}");
}

#[tokio::test]
async fn messages_get_errors() {
    let server = server();
    let mut alice = Oc::register(&server, "alice").await;
    alice
        .send(json!({"cmd": "messages_get", "listener": "x"}))
        .await;
    let f = alice.expect_error(None, "Channel name not provided").await;
    assert_eq!(f["listener"], "x");
    alice
        .send(json!({"cmd": "messages_get", "channel": "nope"}))
        .await;
    alice
        .expect_error_one_of(
            None,
            &["Channel not found", "Access denied to this channel"],
        )
        .await;
    alice.ping_ok().await;
}

#[tokio::test]
async fn message_get_and_messages_around() {
    let server = server();
    let mut alice = Oc::register(&server, "alice").await;
    let ids = fill(&mut alice, 5).await;

    alice
        .send(json!({"cmd": "message_get", "channel": "general", "id": ids[2], "listener": "g"}))
        .await;
    let r = alice.recv_cmd("message_get").await;
    assert_eq!(r["channel"], "general");
    assert_eq!(r["listener"], "g");
    assert_eq!(r["message"]["id"], ids[2].as_str());
    assert_eq!(r["message"]["content"], "m2");
    assert_eq!(r["message"]["user"], "alice");
    assert_eq!(r["message"]["type"], "message");

    alice
        .send(json!({"cmd": "message_get", "channel": "general"}))
        .await;
    alice
        .expect_error(
            Some("message_get"),
            "Channel/thread and message ID are required",
        )
        .await;
    alice
        .send(json!({"cmd": "message_get", "channel": "general", "id": "4242"}))
        .await;
    alice
        .expect_error(Some("message_get"), "Message not found")
        .await;

    alice
        .send(
            json!({"cmd": "messages_around", "channel": "general", "around": ids[2],
                     "bounds": {"above": 1, "below": 1}}),
        )
        .await;
    let r = alice.recv_cmd("messages_around").await;
    assert_eq!(r["channel"], "general");
    assert_eq!(contents(&r["messages"]), ["m1", "m2", "m3"], "{r}");
    let (start, end) = (
        r["range"]["start"].as_i64().expect("range.start"),
        r["range"]["end"].as_i64().expect("range.end"),
    );
    assert_eq!(end - start, 3, "{r}");

    alice
        .send(
            json!({"cmd": "messages_around", "channel": "general", "around": ids[0],
                     "bounds": {"above": 2, "below": 5}}),
        )
        .await;
    let r = alice.recv_cmd("messages_around").await;
    assert_eq!(contents(&r["messages"]), ["m0", "m1", "m2"], "{r}");

    alice
        .send(json!({"cmd": "messages_around", "channel": "general"}))
        .await;
    alice
        .expect_error(Some("messages_around"), "around (message ID) is required")
        .await;
    alice
        .send(json!({"cmd": "messages_around", "channel": "general", "around": "4242"}))
        .await;
    alice
        .expect_error(Some("messages_around"), "Message not found")
        .await;
}

#[tokio::test]
async fn replies_are_linked_and_listed_oldest_first() {
    let server = server();
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;
    let root = alice.send_message("general", "question?", "q").await;
    bob.recv_cmd("message_new").await;
    let root_id = Oc::message_id(&root);

    let mut reply_ids = Vec::new();
    for text in ["answer one", "answer two"] {
        bob.send(json!({"cmd": "message_new", "channel": "general", "content": text, "reply_to": root_id}))
            .await;
        let mine = bob.recv_cmd("message_new").await;
        alice.recv_cmd("message_new").await;
        assert_eq!(
            mine["message"]["reply_to"],
            json!({"id": root_id, "user": "alice"}),
            "{mine}"
        );
        reply_ids.push(Oc::message_id(&mine));
    }
    bob.send_message("general", "unrelated", "u").await;
    alice.expect_marker("general", "unrelated").await;

    alice
        .send(json!({"cmd": "message_replies", "channel": "general", "id": root_id, "limit": 50}))
        .await;
    let r = alice.recv_cmd("message_replies").await;
    assert_eq!(r["channel"], "general");
    assert_eq!(r["message_id"], root_id.as_str());
    assert_eq!(contents(&r["replies"]), ["answer one", "answer two"], "{r}");
    assert_eq!(r["replies"][0]["id"], reply_ids[0].as_str());

    alice
        .send(json!({"cmd": "message_replies", "channel": "general"}))
        .await;
    alice
        .expect_error(
            Some("message_replies"),
            "Channel name and message ID are required",
        )
        .await;
    bob.send(
        json!({"cmd": "message_new", "channel": "general", "content": "x", "reply_to": "4242"}),
    )
    .await;
    bob.expect_error(
        Some("message_new"),
        "The message you're trying to reply to was not found",
    )
    .await;
}

#[tokio::test]
async fn search_is_case_insensitive_newest_first_and_capped() {
    let server = server();
    let mut alice = Oc::register(&server, "alice").await;
    for text in ["green apple", "no match here", "Apple pie", "APPLES!"] {
        alice.send_message("general", text, "s").await;
    }
    alice
        .send(json!({"cmd": "messages_search", "channel": "general", "query": "apple", "listener": "s-1"}))
        .await;
    let r = alice.recv_cmd("messages_search").await;
    assert_eq!(r["channel"], "general");
    assert_eq!(r["query"], "apple");
    assert_eq!(r["listener"], "s-1");
    assert_eq!(
        contents(&r["results"]),
        ["APPLES!", "Apple pie", "green apple"]
    );

    // At most limits.search_results (30) results.
    for i in 0..32 {
        alice
            .send_message("general", &format!("needle {i}"), "n")
            .await;
    }
    alice
        .send(json!({"cmd": "messages_search", "channel": "general", "query": "NEEDLE"}))
        .await;
    let r = alice.recv_cmd("messages_search").await;
    let found = contents(&r["results"]);
    assert_eq!(found.len(), 30, "{r}");
    assert_eq!(found[0], "needle 31");
    assert_eq!(found[29], "needle 2");

    alice
        .send(json!({"cmd": "messages_search", "channel": "general"}))
        .await;
    alice
        .expect_error(
            Some("messages_search"),
            "Channel name and query are required",
        )
        .await;
}
