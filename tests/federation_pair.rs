//! Federation between two real servers on 127.0.0.1 (JAM §4): `a.test`
//! and `b.test`, each the other's peer. A bridged channel carries
//! messages, edits, deletes, reactions and typing both ways, into another
//! dialect than the sender's; a DM reaches `bob@b.test`; bridges are made
//! over REST by channel managers; and with B down, A's outbox keeps its
//! bodies across A's own restart and delivers them in order once B is back.

mod common;

use std::time::{Duration, Instant};

use common::federation::{peer_stats, Pair};
use common::{Jam, Oc, TestServer, PASSWORD};
use serde_json::{json, Value};

/// The general channel of each server's default guild, bridged by config;
/// returns alice (JAM on A) connected after the restart.
async fn bridged_pair() -> (Pair, String, String) {
    let mut pair = Pair::start().await;
    let alice = Jam::register(&pair.a, "alice").await;
    let bob = Jam::register(&pair.b, "bob").await;
    let (a_general, b_general) = (alice.lobby().general, bob.lobby().general);
    alice.close().await;
    bob.close().await;
    pair.bridge_generals(&a_general, &b_general);
    (pair, a_general, b_general)
}

#[tokio::test]
async fn a_bridged_channel_carries_messages_edits_deletes_reactions_and_typing_both_ways() {
    let (pair, a_general, _) = bridged_pair().await;
    let mut alice = Jam::login(&pair.a, "alice", PASSWORD).await;
    // carol speaks OriginChats on B, whose root endpoint is B's default guild.
    let mut carol = Oc::register(&pair.b, "carol").await;

    // A → B: a JAM message reaches an OriginChats client as alice@a.test.
    let sent = alice.send_message(&a_general, "hello from a", "m1").await;
    let original = sent["id"].as_str().expect("id").to_string();
    let got = carol.recv_cmd("message_new").await;
    assert_eq!(got["channel"], "general", "{got}");
    assert_eq!(got["message"]["user"], "alice@a.test", "{got}");
    assert_eq!(got["message"]["content"], "hello from a", "{got}");
    let mirror = Oc::message_id(&got);
    assert_ne!(mirror, original, "B stores its own copy under its own id");

    // The edit follows the message to its mirror.
    alice
        .send(
            11,
            json!({"id": original, "channel_id": a_general, "content": "hello, edited"}),
            None,
        )
        .await;
    alice.recv_op(11).await;
    let edit = carol.recv_cmd("message_edit").await;
    assert_eq!(
        (edit["id"].as_str(), &edit["content"]),
        (Some(mirror.as_str()), &json!("hello, edited")),
        "{edit}"
    );

    // B → A: carol's reaction on the mirror lands on alice's original.
    carol
        .send(
            json!({"cmd": "message_react_add", "channel": "general", "id": mirror, "emoji": "👍"}),
        )
        .await;
    let reaction = alice.recv_until(13).await;
    assert_eq!(reaction["d"]["message_id"], original.as_str(), "{reaction}");
    assert_eq!(reaction["d"]["emoji"], "👍");
    assert_eq!(reaction["d"]["action"], "add");
    assert_eq!(reaction["d"]["count"], 1);
    let carol_at_a = reaction["d"]["user_id"]
        .as_str()
        .expect("user id")
        .to_string();
    let (status, user) = pair
        .a
        .rest(
            "GET",
            &format!("/api/users/{carol_at_a}"),
            Some(&alice.token()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["username"], "carol@b.test", "{user}");
    assert_eq!(user["domain"], "b.test", "{user}");

    // A → B: alice's own reaction and her typing.
    alice
        .send(13, json!({"message_id": original, "channel_id": a_general, "emoji": "🎉", "action": "add"}), None)
        .await;
    let react = carol.recv_until("message_react_add").await;
    let react = if react["emoji"] == "👍" {
        carol.recv_until("message_react_add").await
    } else {
        react
    };
    assert_eq!(
        (react["id"].as_str(), &react["emoji"], &react["from"]),
        (Some(mirror.as_str()), &json!("🎉"), &json!("alice@a.test")),
        "{react}"
    );
    alice.send(60, json!({"channel_id": a_general}), None).await;
    let typing = carol.recv_until("typing").await;
    assert_eq!(typing["user"], "alice@a.test", "{typing}");

    // The delete removes the mirror.
    alice
        .send(12, json!({"id": original, "channel_id": a_general}), None)
        .await;
    alice.recv_until(12).await;
    let deleted = carol.recv_until("message_delete").await;
    assert_eq!(deleted["id"], mirror.as_str(), "{deleted}");

    // B → A: carol's message, edit and delete reach the JAM client.
    let carol_msg = carol.send_message("general", "hi from b", "c1").await;
    let carol_id = Oc::message_id(&carol_msg);
    let got = alice.recv_until(10).await;
    assert_eq!(got["d"]["author"]["username"], "carol@b.test", "{got}");
    assert_eq!(got["d"]["content"], "hi from b");
    assert_eq!(got["d"]["channel_id"], a_general.as_str());
    let carol_mirror = got["d"]["id"].as_str().expect("id").to_string();
    carol
        .send(json!({"cmd": "message_edit", "channel": "general", "id": carol_id, "content": "hi, edited"}))
        .await;
    let edited = alice.recv_until(11).await;
    assert_eq!(
        (edited["d"]["id"].as_str(), &edited["d"]["content"]),
        (Some(carol_mirror.as_str()), &json!("hi, edited")),
        "{edited}"
    );
    carol
        .send(json!({"cmd": "message_delete", "channel": "general", "id": carol_id}))
        .await;
    let gone = alice.recv_until(12).await;
    assert_eq!(gone["d"]["id"], carol_mirror.as_str(), "{gone}");

    // Mirrors are not sent back: A's outbox only ever held its own events.
    let stats = peer_stats(&pair.a).await;
    assert_eq!(stats["domain"], "b.test", "{stats}");
    assert_eq!(stats["dropped"], 0, "{stats}");
    let stats_b = peer_stats(&pair.b).await;
    assert_eq!(stats_b["dropped"], 0, "{stats_b}");
}

#[tokio::test]
async fn a_direct_message_to_bob_at_b_arrives_and_the_reply_comes_back() {
    let pair = Pair::start().await;
    let mut alice = Jam::register(&pair.a, "alice").await;
    let mut bob = Jam::register(&pair.b, "bob").await;

    let (status, err) = pair
        .a
        .rest(
            "POST",
            "/api/users/@me/channels",
            Some(&alice.token()),
            Some(&json!({"recipient": "bob@nowhere.test"})),
        )
        .await;
    assert_eq!(status, 404, "an unconfigured server: {err}");

    let (status, dm) = pair
        .a
        .rest(
            "POST",
            "/api/users/@me/channels",
            Some(&alice.token()),
            Some(&json!({"recipient": "bob@b.test"})),
        )
        .await;
    assert_eq!(status, 200, "{dm}");
    assert_eq!(dm["type"], "dm");
    let dm_a = dm["id"].as_str().expect("dm id").to_string();
    alice.recv_until(20).await; // the DM's ChannelCreate

    alice.send_message(&dm_a, "hi bob, from a", "d1").await;
    let got = bob.recv_until(10).await;
    assert_eq!(got["d"]["author"]["username"], "alice@a.test", "{got}");
    assert_eq!(got["d"]["content"], "hi bob, from a");
    let dm_b = got["d"]["channel_id"]
        .as_str()
        .expect("channel")
        .to_string();
    let (status, channel) = pair
        .b
        .rest(
            "GET",
            &format!("/api/channels/{dm_b}"),
            Some(&bob.token()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["type"], "dm", "{channel}");

    bob.send_message(&dm_b, "hello alice", "d2").await;
    let back = alice.recv_until(10).await;
    assert_eq!(back["d"]["author"]["username"], "bob@b.test", "{back}");
    assert_eq!(
        back["d"]["channel_id"],
        dm_a.as_str(),
        "the reply lands in alice's DM: {back}"
    );
    assert_eq!(back["d"]["content"], "hello alice");
}

async fn new_guild(server: &TestServer, jam: &Jam, name: &str) -> (String, String) {
    let (status, g) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(&jam.token()),
            Some(&json!({"name": name, "owner_id": jam.user_id(), "description": ""})),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let general = g["channels"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "general"))
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("no general channel: {g}"))
        .to_string();
    (g["id"].as_str().expect("guild id").to_string(), general)
}

#[tokio::test]
async fn channel_managers_bridge_their_channels_over_rest() {
    let pair = Pair::start().await;
    let mut alice = Jam::register(&pair.a, "alice").await;
    let mut bob = Jam::register(&pair.b, "bob").await;
    let (a_guild, a_chan) = new_guild(&pair.a, &alice, "A's guild").await;
    let (_, b_chan) = new_guild(&pair.b, &bob, "B's guild").await;
    alice.recv_until(30).await;
    bob.recv_until(30).await;

    // dave is a member of alice's guild without MANAGE_CHANNELS.
    let dave = Jam::register(&pair.a, "dave").await;
    let (_, invite) = pair
        .a
        .rest(
            "POST",
            &format!("/api/guilds/{a_guild}/invites"),
            Some(&alice.token()),
            None,
        )
        .await;
    let code = invite["code"].as_str().expect("code");
    let (status, _) = pair
        .a
        .rest(
            "POST",
            &format!("/api/invites/{code}"),
            Some(&dave.token()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/api/channels/{a_chan}/bridges");
    let body = json!({"peer": "b.test", "remote_channel": b_chan});
    let (status, err) = pair
        .a
        .rest("POST", &path, Some(&dave.token()), Some(&body))
        .await;
    assert_eq!(status, 403, "{err}");
    let (status, err) = pair
        .a
        .rest(
            "POST",
            &path,
            Some(&alice.token()),
            Some(&json!({"peer": "c.test", "remote_channel": "1"})),
        )
        .await;
    assert_eq!(status, 400, "not a configured peer: {err}");

    let (status, made) = pair
        .a
        .rest("POST", &path, Some(&alice.token()), Some(&body))
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        made,
        json!({"peer": "b.test", "remote_channel": b_chan, "configured": false})
    );
    let (status, list) = pair.a.rest("GET", &path, Some(&dave.token()), None).await;
    assert_eq!((status, list), (200, json!([made])));
    let b_path = format!("/api/channels/{b_chan}/bridges");
    let (status, _) = pair
        .b
        .rest(
            "POST",
            &b_path,
            Some(&bob.token()),
            Some(&json!({"peer": "a.test", "remote_channel": a_chan})),
        )
        .await;
    assert_eq!(status, 201);

    alice
        .send_message(&a_chan, "over a REST bridge", "r1")
        .await;
    let got = bob.recv_until(10).await;
    assert_eq!(
        (&got["d"]["channel_id"], &got["d"]["content"]),
        (&json!(b_chan), &json!("over a REST bridge")),
        "{got}"
    );
    assert_eq!(got["d"]["author"]["username"], "alice@a.test");

    // Once removed, the channel queues nothing for B any more.
    let (status, _) = pair
        .a
        .rest(
            "DELETE",
            &format!("{path}/b.test"),
            Some(&alice.token()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, list) = pair.a.rest("GET", &path, Some(&alice.token()), None).await;
    assert_eq!(list, json!([]));
    // B broadcasts before it answers A, so A may not have counted that
    // delivery yet: wait until it has (bounded), then compare.
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    let before = loop {
        let s = peer_stats(&pair.a).await;
        if s["delivered"] == 1 || std::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    alice
        .send_message(&a_chan, "not bridged any more", "r2")
        .await;
    let after = peer_stats(&pair.a).await;
    assert_eq!(
        (after["outbox"].as_i64(), after["delivered"].as_i64()),
        (Some(0), before["delivered"].as_i64()),
        "{after}"
    );
}

/// The messages of `channel` on `server` by `author`, oldest first.
async fn history_by(server: &TestServer, token: &str, channel: &str, author: &str) -> Vec<Value> {
    let (status, page) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={channel}&limit=100"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let mut list: Vec<Value> = page
        .as_array()
        .expect("a page")
        .iter()
        .filter(|m| m["author"]["username"] == author)
        .cloned()
        .collect();
    list.reverse();
    list
}

#[tokio::test]
async fn with_b_down_the_outbox_survives_a_restart_of_a_and_delivers_in_order() {
    let (mut pair, a_general, b_general) = bridged_pair().await;
    let bob = Jam::login(&pair.b, "bob", PASSWORD).await;
    let bob_token = bob.token();
    bob.close().await;
    pair.stop_b();

    let mut alice = Jam::login(&pair.a, "alice", PASSWORD).await;
    let first = alice.send_message(&a_general, "one", "o1").await;
    alice.send_message(&a_general, "two", "o2").await;
    alice.send_message(&a_general, "three", "o3").await;
    alice
        .send(
            11,
            json!({"id": first["id"], "channel_id": a_general, "content": "one, edited"}),
            None,
        )
        .await;
    alice.recv_op(11).await;
    alice.close().await;
    assert_eq!(peer_stats(&pair.a).await["outbox"], 4);

    pair.stop_a();
    pair.start_a();
    let stats = peer_stats(&pair.a).await;
    assert_eq!(stats["outbox"], 4, "kept across the restart: {stats}");
    pair.start_b();

    // Waiting is bounded; the bound is generous because A may be in a
    // backoff of a few seconds when B comes back.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = history_by(&pair.b, &bob_token, &b_general, "alice@a.test").await;
        let edited = got.first().is_some_and(|m| m["content"] == "one, edited");
        if got.len() == 3 && edited {
            let contents: Vec<&Value> = got.iter().map(|m| &m["content"]).collect();
            assert_eq!(
                contents,
                [&json!("one, edited"), &json!("two"), &json!("three")]
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never got A's outbox: {got:?}\n{}",
            pair.a.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = peer_stats(&pair.a).await;
    assert_eq!(
        (&stats["outbox"], &stats["delivered"]),
        (&json!(0), &json!(4)),
        "{stats}"
    );
    assert!(
        stats["failures"].as_u64() > Some(0),
        "the attempts while B was down count: {stats}"
    );
    assert!(stats["last_error"].is_string(), "{stats}");
}
