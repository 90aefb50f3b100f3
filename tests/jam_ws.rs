//! JAM over the WebSocket: authentication, the op 3 snapshot, heartbeats and
//! sequence numbers, messages (send, edit, delete, react) seen by two
//! clients, typing, voice, streams and call signalling.

mod common;

use common::{assert_id, assert_time, find, Jam, TestServer, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn hello_then_register_gives_op3_with_the_lobby() {
    let server = TestServer::start();
    let mut jam = Jam::connect(&server, "alice").await;
    assert_eq!(jam.hello["heartbeat_interval"], 41250, "{}", jam.hello);
    assert_eq!(jam.hello["protocol"], "jam/0.1", "{}", jam.hello);
    assert_eq!(jam.hello["server"]["name"], "Switchboard", "{}", jam.hello);
    assert_eq!(jam.hello["server"]["domain"], "localhost", "{}", jam.hello);
    assert!(
        jam.hello["server"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{}",
        jam.hello
    );

    jam.send(
        2,
        json!({"action": "register", "username": "alice", "password": PASSWORD, "display_name": "Alice A."}),
        None,
    )
    .await;
    let ready = jam.expect_ready().await;
    let token = ready["token"].as_str().expect("token");
    assert!(token.len() >= 16, "token too short: {token:?}");
    let user = &ready["user"];
    let user_id = assert_id(&user["id"], "user.id");
    assert_eq!(user["username"], "alice");
    assert_eq!(user["display_name"], "Alice A.");
    assert_eq!(user["bot"], false);
    for secret in ["password", "password_hash", "hash", "token"] {
        assert!(user.get(secret).is_none(), "User carries {secret}: {user}");
    }

    let guilds = ready["guilds"].as_array().expect("guilds");
    assert_eq!(
        guilds.len(),
        1,
        "a new user is in the Lobby only: {guilds:?}"
    );
    let lobby = &guilds[0];
    assert_eq!(lobby["name"], "Lobby");
    let guild_id = assert_id(&lobby["id"], "guild.id");
    assert_id(&lobby["owner_id"], "guild.owner_id");
    assert_ne!(
        lobby["owner_id"],
        user_id.as_str(),
        "the Lobby is not alice's"
    );
    assert_time(&lobby["created_at"], "guild.created_at");
    let general = find(&lobby["channels"], "name", "general").expect("general");
    assert_eq!(general["type"], "text");
    assert_eq!(general["guild_id"], guild_id.as_str());
    assert_eq!(general["encrypted"], false);
    assert_id(&general["id"], "channel.id");
    let lounge = find(&lobby["channels"], "name", "lounge").expect("lounge");
    assert_eq!(lounge["type"], "voice");
    assert_eq!(lounge["guild_id"], guild_id.as_str());
    let everyone = find(&lobby["roles"], "name", "@everyone").expect("@everyone role");
    assert_eq!(everyone["id"], guild_id.as_str(), "@everyone id = guild id");
    // VIEW_CHANNEL | SEND_MESSAGES | ADD_REACTIONS | READ_MESSAGE_HISTORY |
    // ATTACH_FILES | CONNECT | SPEAK | STREAM | CREATE_INVITE
    let expected = (1u64 << 10)
        | (1 << 11)
        | (1 << 6)
        | (1 << 16)
        | (1 << 15)
        | (1 << 20)
        | (1 << 21)
        | (1 << 9)
        | 1;
    assert_eq!(everyone["permissions"], expected.to_string());
    assert!(lobby["categories"].is_array(), "{lobby}");
    assert_eq!(ready["dms"], json!([]));
    assert!(ready["presences"].is_array(), "{ready}");
    assert_eq!(ready["voice_states"], json!([]));
    jam.heartbeat_ok().await;
}

#[tokio::test]
async fn login_and_token_resume_over_ws() {
    let server = TestServer::start();
    let first = Jam::register(&server, "bob").await;
    let user_id = first.user_id();
    let register_token = first.token();
    let lobby = first.lobby();

    let second = Jam::login(&server, "bob", PASSWORD).await;
    assert_eq!(second.user_id(), user_id);
    assert_eq!(second.ready["user"]["username"], "bob");
    assert_ne!(second.token(), register_token, "a login issues a new token");
    assert_eq!(second.lobby().guild_id, lobby.guild_id);

    let mut third = Jam::with_token(&server, "bob-token", &register_token).await;
    assert_eq!(third.user_id(), user_id);
    assert_eq!(third.token(), register_token);
    assert_eq!(third.lobby().general, lobby.general);
    third.heartbeat_ok().await;

    // A wrong password is AUTH_FAILED on op 2, and the socket stays usable.
    let mut wrong = Jam::connect(&server, "bob-wrong").await;
    wrong
        .send(
            2,
            json!({"action": "login", "username": "bob", "password": "nope"}),
            Some("l-1"),
        )
        .await;
    wrong.expect_error_for("AUTH_FAILED", 2, Some("l-1")).await;
    wrong.heartbeat_ok().await;
    wrong
        .send(
            2,
            json!({"action": "login", "username": "bob", "password": PASSWORD}),
            None,
        )
        .await;
    wrong.expect_ready().await;
    assert_eq!(wrong.user_id(), user_id);
}

#[tokio::test]
async fn heartbeat_answers_null_and_s_counts_from_one() {
    let server = TestServer::start();
    let mut jam = Jam::connect(&server, "carol").await;
    assert_eq!(jam.last_s, 1);
    jam.send(0, json!(null), None).await;
    assert_eq!(jam.recv().await, json!({"op": 0, "d": null, "s": 2}));
    jam.send(0, json!(2), None).await;
    assert_eq!(jam.recv().await, json!({"op": 0, "d": null, "s": 3}));
    // A client-sent `s` is ignored.
    jam.send_text(r#"{"op":0,"d":3,"s":999}"#.to_string()).await;
    assert_eq!(jam.recv().await, json!({"op": 0, "d": null, "s": 4}));
    jam.send(
        2,
        json!({"action": "register", "username": "carol", "password": PASSWORD}),
        None,
    )
    .await;
    let ready = jam.recv().await;
    assert_eq!(
        (ready["op"].clone(), ready["s"].clone()),
        (json!(3), json!(5))
    );
    jam.send(0, json!(5), None).await;
    assert_eq!(jam.recv().await, json!({"op": 0, "d": null, "s": 6}));
}

#[tokio::test]
async fn send_edit_react_delete_reach_both_clients() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let mut b = Jam::register(&server, "bob").await;
    let (a_id, b_id) = (a.user_id(), b.user_id());
    let lobby = a.lobby();
    let ch = lobby.general.as_str();

    // Send: the sender's copy carries its ref, the other's does not.
    a.send(
        10,
        json!({"channel_id": ch, "content": "hello"}),
        Some("m-1"),
    )
    .await;
    let mine = a.recv_op(10).await["d"].clone();
    let theirs = b.recv_op(10).await["d"].clone();
    assert_eq!(mine["ref"], "m-1");
    assert!(theirs.get("ref").is_none(), "ref leaked: {theirs}");
    let msg_id = assert_id(&mine["id"], "message.id");
    for m in [&mine, &theirs] {
        assert_eq!(m["id"], msg_id.as_str());
        assert_eq!(m["channel_id"], ch);
        assert_eq!(m["guild_id"], lobby.guild_id.as_str());
        assert_eq!(m["content"], "hello");
        assert_eq!(m["author"]["id"], a_id.as_str());
        assert_eq!(m["author"]["username"], "alice");
        assert_eq!(m["encrypted"], false);
        assert_eq!(m["attachments"], json!([]));
        assert_eq!(m["reactions"], json!([]));
        assert_eq!(m["pinned"], false);
        assert_eq!(m["edited_at"], json!(null));
        assert_time(&m["created_at"], "message.created_at");
    }

    // Edit by someone else: FORBIDDEN with op and ref; nothing reaches alice.
    b.send(
        11,
        json!({"id": msg_id, "channel_id": ch, "content": "hijacked"}),
        Some("e-bad"),
    )
    .await;
    b.expect_error_for("FORBIDDEN", 11, Some("e-bad")).await;

    // Edit by the author.
    a.send(
        11,
        json!({"id": msg_id, "channel_id": ch, "content": "hello, edited"}),
        Some("e-1"),
    )
    .await;
    let mine = a.recv_op(11).await["d"].clone();
    let theirs = b.recv_op(11).await["d"].clone();
    assert_eq!(mine["ref"], "e-1");
    assert!(theirs.get("ref").is_none(), "ref leaked: {theirs}");
    for m in [&mine, &theirs] {
        assert_eq!(m["id"], msg_id.as_str());
        assert_eq!(m["content"], "hello, edited");
        assert_eq!(m["author"]["id"], a_id.as_str());
        assert_time(&m["edited_at"], "message.edited_at");
    }

    // Reactions: counts follow adds and removes, from both users.
    let react = |action: &str| json!({"message_id": msg_id, "channel_id": ch, "emoji": "👍", "action": action});
    a.send(13, react("add"), Some("r-1")).await;
    let mine = a.recv_op(13).await["d"].clone();
    let theirs = b.recv_op(13).await["d"].clone();
    assert_eq!(mine["ref"], "r-1");
    assert!(theirs.get("ref").is_none(), "ref leaked: {theirs}");
    for r in [&mine, &theirs] {
        assert_eq!(r["message_id"], msg_id.as_str());
        assert_eq!(r["channel_id"], ch);
        assert_eq!(r["guild_id"], lobby.guild_id.as_str());
        assert_eq!(r["user_id"], a_id.as_str());
        assert_eq!(r["emoji"], "👍");
        assert_eq!(r["action"], "add");
        assert_eq!(r["count"], 1);
    }
    b.send(13, react("add"), Some("r-2")).await;
    let theirs = a.recv_op(13).await["d"].clone();
    let mine = b.recv_op(13).await["d"].clone();
    assert_eq!(mine["ref"], "r-2");
    assert!(theirs.get("ref").is_none(), "ref leaked: {theirs}");
    for r in [&mine, &theirs] {
        assert_eq!(r["user_id"], b_id.as_str());
        assert_eq!(r["action"], "add");
        assert_eq!(r["count"], 2);
    }
    b.send(13, react("remove"), None).await;
    for r in [
        a.recv_op(13).await["d"].clone(),
        b.recv_op(13).await["d"].clone(),
    ] {
        assert_eq!(r["user_id"], b_id.as_str());
        assert_eq!(r["action"], "remove");
        assert_eq!(r["count"], 1);
        assert!(r.get("ref").is_none(), "no ref was sent: {r}");
    }

    // Delete.
    a.send(12, json!({"id": msg_id, "channel_id": ch}), Some("d-1"))
        .await;
    let mine = a.recv_op(12).await["d"].clone();
    let theirs = b.recv_op(12).await["d"].clone();
    assert_eq!(
        mine,
        json!({"id": msg_id, "channel_id": ch, "guild_id": lobby.guild_id, "ref": "d-1"})
    );
    assert_eq!(
        theirs,
        json!({"id": msg_id, "channel_id": ch, "guild_id": lobby.guild_id})
    );
    a.heartbeat_ok().await;
    b.heartbeat_ok().await;
}

#[tokio::test]
async fn typing_reaches_the_other_client_not_the_sender() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let mut b = Jam::register(&server, "bob").await;
    let ch = a.lobby().general;

    a.send(60, json!({"channel_id": ch}), Some("t-1")).await;
    // Same channel, same session: the message is handled after the typing,
    // so if alice were sent her own op 60 it would come before this op 10
    // (recv_op fails on any other op).
    a.send(
        10,
        json!({"channel_id": ch, "content": "after typing"}),
        Some("t-2"),
    )
    .await;
    let own = a.recv_op(10).await;
    assert_eq!(own["d"]["ref"], "t-2");

    let typing = b.recv_op(60).await["d"].clone();
    assert_eq!(typing["channel_id"], ch.as_str());
    assert_eq!(typing["user_id"], a.user_id().as_str());
    assert_time(&typing["timestamp"], "typing.timestamp");
    assert!(typing.get("ref").is_none(), "ref leaked: {typing}");
    let msg = b.recv_op(10).await;
    assert_eq!(msg["d"]["content"], "after typing");
}

#[tokio::test]
async fn voice_join_stream_and_leave() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let mut b = Jam::register(&server, "bob").await;
    let a_id = a.user_id();
    let lobby = a.lobby();

    a.send(
        40,
        json!({"guild_id": lobby.guild_id, "channel_id": lobby.lounge, "self_mute": false, "self_deaf": true}),
        Some("v-1"),
    )
    .await;
    let mine = a.recv_op(40).await["d"].clone();
    let theirs = b.recv_op(40).await["d"].clone();
    let state = json!({
        "user_id": a_id, "guild_id": lobby.guild_id, "channel_id": lobby.lounge,
        "self_mute": false, "self_deaf": true,
    });
    let mut with_ref = state.clone();
    with_ref["ref"] = json!("v-1");
    assert_eq!(mine, with_ref);
    assert_eq!(theirs, state);

    // Someone arriving now finds alice in the lounge in op 3.
    let c = Jam::register(&server, "carol").await;
    assert_eq!(c.ready["voice_states"], json!([state]));
    // ... and alice and bob online in its presences.
    for (who, id) in [("alice", &a_id), ("bob", &b.user_id())] {
        let p = find(&c.ready["presences"], "user_id", id)
            .unwrap_or_else(|| panic!("{who} missing from presences: {}", c.ready));
        assert_eq!(p, &json!({"user_id": id, "status": "online"}));
    }

    // Stream in the voice channel.
    a.send(
        50,
        json!({"channel_id": lobby.lounge, "kind": "screen"}),
        Some("s-1"),
    )
    .await;
    let mine = a.recv_op(50).await["d"].clone();
    let theirs = b.recv_op(50).await["d"].clone();
    let stream_id = assert_id(&theirs["stream_id"], "stream_id");
    assert_eq!(
        theirs,
        json!({"stream_id": stream_id, "user_id": a_id, "channel_id": lobby.lounge, "kind": "screen"})
    );
    assert_eq!(mine["stream_id"], stream_id.as_str());
    assert_eq!(mine["ref"], "s-1");

    a.send(51, json!({"stream_id": stream_id}), None).await;
    let expected = json!({"stream_id": stream_id, "user_id": a_id, "channel_id": lobby.lounge});
    assert_eq!(a.recv_op(51).await["d"], expected);
    assert_eq!(b.recv_op(51).await["d"], expected);

    // Leave: channel_id null.
    a.send(
        40,
        json!({"guild_id": lobby.guild_id, "channel_id": null, "self_mute": false, "self_deaf": false}),
        None,
    )
    .await;
    let left = json!({
        "user_id": a_id, "guild_id": lobby.guild_id, "channel_id": null,
        "self_mute": false, "self_deaf": false,
    });
    assert_eq!(a.recv_op(40).await["d"], left);
    assert_eq!(b.recv_op(40).await["d"], left);
}

#[tokio::test]
async fn call_signalling_is_relayed_between_the_two_users() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let mut b = Jam::register(&server, "bob").await;
    let (a_id, b_id) = (a.user_id(), b.user_id());

    a.send(
        90,
        json!({"call_id": "call-1", "to": b_id, "sdp": "v=0 offer"}),
        Some("c-1"),
    )
    .await;
    let offer = b.recv_op(90).await["d"].clone();
    assert_eq!(
        offer,
        json!({"call_id": "call-1", "from": a_id, "to": b_id, "sdp": "v=0 offer"})
    );

    b.send(
        91,
        json!({"call_id": "call-1", "to": a_id, "sdp": "v=0 answer"}),
        None,
    )
    .await;
    // Alice's next frame is the answer: her own offer did not come back.
    let answer = a.recv_op(91).await["d"].clone();
    assert_eq!(
        answer,
        json!({"call_id": "call-1", "from": b_id, "to": a_id, "sdp": "v=0 answer"})
    );

    a.send(
        92,
        json!({"call_id": "call-1", "to": b_id, "candidate": "candidate:1 1 UDP 1 10.0.0.1 9 typ host", "sdp_mid": "0", "sdp_mline_index": 0}),
        None,
    )
    .await;
    assert_eq!(
        b.recv_op(92).await["d"],
        json!({"call_id": "call-1", "from": a_id, "to": b_id,
               "candidate": "candidate:1 1 UDP 1 10.0.0.1 9 typ host", "sdp_mid": "0", "sdp_mline_index": 0})
    );
    a.send(
        93,
        json!({"call_id": "call-1", "to": b_id, "reason": "hangup"}),
        None,
    )
    .await;
    assert_eq!(
        b.recv_op(93).await["d"],
        json!({"call_id": "call-1", "from": a_id, "to": b_id, "reason": "hangup"})
    );
    a.heartbeat_ok().await;
}

#[tokio::test]
async fn presence_follows_login_status_and_logout() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let b = Jam::register(&server, "bob").await;
    let b_id = b.user_id();
    let presence = |status: &str| json!({"user_id": b_id, "status": status});

    assert_eq!(a.recv_op(70).await["d"], presence("online"));
    let (status, body) = server
        .rest(
            "PUT",
            "/api/users/@me/presence",
            Some(&b.token()),
            Some(&json!({"status": "dnd"})),
        )
        .await;
    assert!((200..300).contains(&status), "{status} {body}");
    assert_eq!(a.recv_op(70).await["d"], presence("dnd"));
    b.close().await;
    assert_eq!(a.recv_op(70).await["d"], presence("offline"));
}
