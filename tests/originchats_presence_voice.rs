//! OriginChats users and presence (users_list, users_online, status_set,
//! status_get, server_info) and voice signalling (voice_join, voice_leave,
//! voice_mute, voice_unmute, voice_state, leaving by disconnecting).

mod common;

use common::{find, without_listener, Oc, TestServer};
use serde_json::{json, Value};

async fn users(oc: &mut Oc, cmd: &str) -> Value {
    oc.send(json!({"cmd": cmd, "listener": cmd})).await;
    let f = oc.recv_cmd(cmd).await;
    assert_eq!(f["listener"], cmd, "{f}");
    assert!(f["users"].is_array(), "{f}");
    f["users"].clone()
}

#[tokio::test]
async fn users_list_and_users_online_follow_connections() {
    let server = TestServer::start();
    let mut alice = Oc::register(&server, "alice").await;
    let bob = Oc::register(&server, "bob").await;

    let list = users(&mut alice, "users_list").await;
    for name in ["alice", "bob"] {
        let u = find(&list, "username", name)
            .unwrap_or_else(|| panic!("{name} missing from users_list: {list}"));
        assert!(
            u["roles"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("user"))),
            "{u}"
        );
        assert_eq!(u["status"], json!({"status": "online", "text": ""}), "{u}");
        for key in ["nickname", "color", "cracked", "pfp"] {
            assert!(u.get(key).is_some(), "users_list entry without {key}: {u}");
        }
    }
    let online = users(&mut alice, "users_online").await;
    for name in ["alice", "bob"] {
        let u = find(&online, "username", name)
            .unwrap_or_else(|| panic!("{name} missing from users_online: {online}"));
        assert_eq!(u["status"]["status"], "online", "{u}");
        for key in ["nickname", "roles", "color"] {
            assert!(
                u.get(key).is_some(),
                "users_online entry without {key}: {u}"
            );
        }
    }

    bob.close().await;
    assert_eq!(
        alice.recv_cmd("user_disconnect").await,
        json!({"cmd": "user_disconnect", "username": "bob"})
    );
    let list = users(&mut alice, "users_list").await;
    let b = find(&list, "username", "bob").expect("bob is still a user");
    assert_eq!(b["status"]["status"], "offline", "{b}");
    let online = users(&mut alice, "users_online").await;
    assert!(find(&online, "username", "bob").is_none(), "{online}");
    assert!(find(&online, "username", "alice").is_some(), "{online}");
}

#[tokio::test]
async fn status_set_is_broadcast_and_status_get_answers_status() {
    let server = TestServer::start();
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;

    alice
        .send(json!({"cmd": "status_set", "status": "idle", "text": "brb", "listener": "s-1"}))
        .await;
    let mine = alice.recv_cmd("status_get").await;
    assert_eq!(
        mine,
        json!({"cmd": "status_get", "username": "alice",
               "status": {"status": "idle", "text": "brb"}, "global": true, "listener": "s-1"})
    );
    // Bob may first see his own or alice's connect presence; then this.
    let theirs = loop {
        let f = bob.recv_cmd("status_get").await;
        if f["username"] == "alice" {
            break f;
        }
    };
    assert_eq!(theirs, without_listener(&mine));

    bob.send(json!({"cmd": "status_get", "user": "alice", "listener": "g"}))
        .await;
    assert_eq!(
        bob.recv_cmd("status").await,
        json!({"cmd": "status", "username": "alice",
               "status": {"status": "idle", "text": "brb"}, "listener": "g"})
    );
    let list = users(&mut bob, "users_list").await;
    let a = find(&list, "username", "alice").expect("alice");
    assert_eq!(a["status"], json!({"status": "idle", "text": "brb"}), "{a}");

    for (req, src, val) in [
        (
            json!({"cmd": "status_set", "status": "sleepy"}),
            "status_set",
            "Invalid status. Must be one of: online, idle, dnd, offline, invisible",
        ),
        (
            json!({"cmd": "status_set"}),
            "status_set",
            "Status is required",
        ),
        (
            json!({"cmd": "status_get"}),
            "status_get",
            "User parameter is required",
        ),
        (
            json!({"cmd": "status_get", "user": "ghost"}),
            "status_get",
            "User not found",
        ),
    ] {
        alice.send(req).await;
        alice.expect_error(Some(src), val).await;
    }
    alice.ping_ok().await;
}

#[tokio::test]
async fn server_info_names_the_server() {
    let server = TestServer::start();
    let mut alice = Oc::register(&server, "alice").await;
    alice
        .send(json!({"cmd": "server_info", "listener": "i"}))
        .await;
    let f = alice.recv_cmd("server_info").await;
    assert_eq!(f["name"], alice.handshake["server"]["name"], "{f}");
    assert!(f.get("icon").is_some() && f.get("banner").is_some(), "{f}");
    assert_eq!(f["listener"], "i");
}

fn participant(p: &Value, username: &str, peer_id: &str, muted: bool) {
    assert_eq!(p["username"], username, "{p}");
    assert_eq!(p["peer_id"], peer_id, "{p}");
    assert_eq!(p["muted"], muted, "{p}");
}

#[tokio::test]
async fn voice_join_mute_state_leave_and_disconnect() {
    let server = TestServer::start();
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;

    alice
        .send(json!({"cmd": "voice_join", "channel": "lounge", "peer_id": "peer-a", "listener": "v-1"}))
        .await;
    let [joined, reply] =
        <[Value; 2]>::try_from(alice.recv_all(&["voice_user_joined", "voice_join"]).await).unwrap();
    assert_eq!(
        reply,
        json!({"cmd": "voice_join", "channel": "lounge", "participants": [], "listener": "v-1"})
    );
    assert_eq!(joined["channel"], "lounge");
    assert!(
        joined.get("global").is_none(),
        "no global key on voice events: {joined}"
    );
    participant(&joined["user"], "alice", "peer-a", false);
    let seen = bob.recv_cmd("voice_user_joined").await;
    assert_eq!(seen, without_listener(&joined));

    bob.send(json!({"cmd": "voice_join", "channel": "lounge", "peer_id": "peer-b"}))
        .await;
    let [joined, reply] =
        <[Value; 2]>::try_from(bob.recv_all(&["voice_user_joined", "voice_join"]).await).unwrap();
    participant(&joined["user"], "bob", "peer-b", false);
    assert_eq!(reply["channel"], "lounge");
    let others = reply["participants"].as_array().expect("participants");
    assert_eq!(others.len(), 1, "participants are the others: {reply}");
    participant(&others[0], "alice", "peer-a", false);
    let seen = alice.recv_cmd("voice_user_joined").await;
    participant(&seen["user"], "bob", "peer-b", false);

    bob.send(json!({"cmd": "voice_state", "channel": "lounge"}))
        .await;
    let state = bob.recv_cmd("voice_state").await;
    assert_eq!(state["channel"], "lounge");
    let ps = &state["participants"];
    participant(
        find(ps, "username", "alice").expect("alice"),
        "alice",
        "peer-a",
        false,
    );
    participant(
        find(ps, "username", "bob").expect("bob"),
        "bob",
        "peer-b",
        false,
    );
    assert_eq!(ps.as_array().map(Vec::len), Some(2), "{state}");

    alice.send(json!({"cmd": "channels_get"})).await;
    let chans = alice.recv_cmd("channels_get").await;
    let lounge = find(&chans["val"], "name", "lounge").expect("lounge");
    let vs = &lounge["voice_state"];
    for name in ["alice", "bob"] {
        let p = find(vs, "username", name).unwrap_or_else(|| panic!("{name}: {lounge}"));
        assert_eq!(p["muted"], false);
    }

    for (cmd, muted) in [("voice_mute", true), ("voice_unmute", false)] {
        alice.send(json!({"cmd": cmd})).await;
        let [updated, reply] =
            <[Value; 2]>::try_from(alice.recv_all(&["voice_user_updated", cmd]).await).unwrap();
        assert_eq!(
            reply,
            json!({"cmd": cmd, "channel": "lounge", "muted": muted})
        );
        assert_eq!(updated["channel"], "lounge");
        participant(&updated["user"], "alice", "peer-a", muted);
        let seen = bob.recv_cmd("voice_user_updated").await;
        assert_eq!(seen, updated);
    }

    alice.send(json!({"cmd": "voice_leave"})).await;
    let [left, reply] =
        <[Value; 2]>::try_from(alice.recv_all(&["voice_user_left", "voice_leave"]).await).unwrap();
    let expected = json!({"cmd": "voice_user_left", "channel": "lounge", "username": "alice"});
    assert_eq!(left, expected);
    assert_eq!(reply, json!({"cmd": "voice_leave", "channel": "lounge"}));
    assert_eq!(bob.recv_cmd("voice_user_left").await, expected);

    // Bob disconnects while in voice: alice is told he left.
    bob.close().await;
    assert_eq!(
        alice.recv_cmd("voice_user_left").await,
        json!({"cmd": "voice_user_left", "channel": "lounge", "username": "bob"})
    );
    alice
        .send(json!({"cmd": "voice_state", "channel": "lounge"}))
        .await;
    assert_eq!(
        alice.recv_cmd("voice_state").await["participants"],
        json!([])
    );
}

#[tokio::test]
async fn voice_errors() {
    let server = TestServer::start();
    let mut alice = Oc::register(&server, "alice").await;
    for (req, src, val) in [
        (
            json!({"cmd": "voice_join", "channel": "general", "peer_id": "p"}),
            "voice_join",
            "This is not a voice channel",
        ),
        (
            json!({"cmd": "voice_join", "channel": "lounge"}),
            "voice_join",
            "Peer ID is required",
        ),
        (
            json!({"cmd": "voice_join", "peer_id": "p"}),
            "voice_join",
            "Channel name is required",
        ),
        (
            json!({"cmd": "voice_leave"}),
            "voice_leave",
            "You are not in a voice channel",
        ),
    ] {
        alice.send(req).await;
        alice.expect_error(Some(src), val).await;
    }
    alice.ping_ok().await;
}
