//! Security, part 1: before authentication nothing but logging in works,
//! in every dialect. Each test walks a representative set of commands on
//! an unauthenticated connection, checks the dialect's exact refusal, and
//! then proves that nothing happened: the channel's history (read by an
//! authorised user) is what it was, and a signed-in user saw no event.
//!
//! Already covered elsewhere and not repeated here: JAM op 10 and an
//! unknown op before op 2 (jam_bad_input.rs), five REST routes without a
//! token (rest_bad_input.rs), OriginChats `ping`/`message_new`/
//! `channels_get` (originchats_auth.rs), chat-network relays without a
//! session on a signed-in socket (chatnet.rs), V0 `LST_USR` before CNN
//! (v0.rs), MQTT with a wrong token and a `reg_` client's Profile get
//! (nynja.rs).

mod common;

use common::{
    auth, error_code, issue_v0_key, nynja_login, rest_register, ulid, Cn, Jam, Ny, Oc, TestServer,
    V0Incoming, NYNJA_FIXED, TIMEOUT, V0,
};
use rumqttc::ConnectReturnCode;
use serde_json::{json, Value};
use switchboard_protocols::nynja::etf::Term;
use switchboard_protocols::nynja::{self, io_error, MessageView, ARITIES};
use switchboard_protocols::v0::{Body, Inbound};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The newest page of a channel's history, read over REST.
async fn history(server: &TestServer, token: &str, channel: &str) -> Vec<Value> {
    let (status, body) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={channel}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "history of {channel}: {body}");
    body.as_array()
        .unwrap_or_else(|| panic!("history must be an array: {body}"))
        .clone()
}

/// The channel holds exactly `original`, unchanged: same content, no
/// edit, no reaction, not pinned.
async fn assert_untouched(server: &TestServer, token: &str, channel: &str, original: &Value) {
    let list = history(server, token, channel).await;
    assert_eq!(list.len(), 1, "something was added to {channel}: {list:?}");
    let m = &list[0];
    assert_eq!(m["id"], original["id"], "{m}");
    assert_eq!(m["content"], original["content"], "edited: {m}");
    assert_eq!(m["edited_at"], Value::Null, "edited: {m}");
    assert_eq!(m["reactions"], json!([]), "reacted: {m}");
    assert_eq!(m["pinned"], false, "pinned: {m}");
}

/// Alice (JAM WebSocket, in the Lobby) and one message of hers in
/// `general`, posted over REST.
async fn alice_with_a_message(server: &TestServer) -> (Jam, String, Value) {
    let alice = Jam::register(server, "alice").await;
    let general = alice.lobby().general;
    let (status, original) = server
        .rest(
            "POST",
            "/api/messages",
            Some(&alice.token()),
            Some(&json!({"channel_id": general, "content": "the original"})),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {original}");
    (alice, general, original)
}

/// Alice posts `content` in `channel` and must get her own copy as the
/// very next event (op 70 presence aside): whatever the unauthenticated
/// connection tried did not reach her.
async fn jam_marker(alice: &mut Jam, channel: &str, content: &str) {
    let own = alice.send_message(channel, content, "marker").await;
    assert_eq!(own["channel_id"], channel);
}

#[tokio::test]
async fn jam_websocket_refuses_every_op_but_authenticate() {
    let server = TestServer::start();
    let (mut alice, general, original) = alice_with_a_message(&server).await;
    // Her own op 10 from REST comes first.
    alice.recv_op(10).await;
    let id = original["id"].as_str().expect("id").to_string();
    let alice_id = alice.user_id();
    let lobby = alice.lobby();

    let mut anon = Jam::connect(&server, "anon").await;
    let ops = [
        (10, json!({"channel_id": general, "content": "sneaky"})),
        (
            11,
            json!({"id": id, "channel_id": general, "content": "defaced"}),
        ),
        (12, json!({"id": id, "channel_id": general})),
        (
            13,
            json!({"message_id": id, "channel_id": general, "emoji": "x", "action": "add"}),
        ),
        (
            40,
            json!({"guild_id": lobby.guild_id, "channel_id": lobby.lounge, "self_mute": false, "self_deaf": false}),
        ),
        (50, json!({"channel_id": lobby.lounge, "kind": "screen"})),
        (51, json!({"stream_id": "1"})),
        (60, json!({"channel_id": general})),
        (90, json!({"call_id": "c", "to": alice_id, "sdp": "v=0"})),
        (91, json!({"call_id": "c", "to": alice_id, "sdp": "v=0"})),
        (
            92,
            json!({"call_id": "c", "to": alice_id, "candidate": "x"}),
        ),
        (93, json!({"call_id": "c", "to": alice_id})),
    ];
    for (op, d) in ops {
        let reference = format!("pre-{op}");
        anon.send(op, d, Some(&reference)).await;
        anon.expect_error_for("NOT_AUTHENTICATED", op, Some(&reference))
            .await;
    }
    // A bad token is no authentication either: op 4 and still refused.
    anon.send(2, json!({"token": "not-a-token"}), Some("bad"))
        .await;
    anon.expect_error("AUTH_FAILED").await;
    anon.send(
        10,
        json!({"channel_id": general, "content": "x"}),
        Some("again"),
    )
    .await;
    anon.expect_error_for("NOT_AUTHENTICATED", 10, Some("again"))
        .await;
    anon.heartbeat_ok().await;

    jam_marker(&mut alice, &general, "after the attempts").await;
    let list = history(&server, &alice.token(), &general).await;
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[1]["id"], original["id"]);
    assert_eq!(list[1]["content"], "the original");
    assert_eq!(list[1]["reactions"], json!([]));
    assert_eq!(list[1]["edited_at"], Value::Null);
}

#[tokio::test]
async fn jam_rest_refuses_every_route_without_a_valid_token() {
    let server = TestServer::start();
    let (alice, general, original) = alice_with_a_message(&server).await;
    let token = alice.token();
    let id = original["id"].as_str().expect("id").to_string();
    let me = alice.user_id();
    let guild = alice.lobby().guild_id;
    let some = json!({"name": "x", "content": "x", "channel_id": general});
    // Real ids everywhere, so that a route that forgot its check would
    // succeed instead of failing for another reason.
    let routes: Vec<(&str, String)> = vec![
        ("POST", "/api/auth/logout".into()),
        ("GET", format!("/api/guilds?user_id={me}")),
        ("POST", "/api/guilds".into()),
        ("GET", format!("/api/guilds/{guild}")),
        ("DELETE", format!("/api/guilds/{guild}")),
        ("POST", format!("/api/guilds/{guild}/invites")),
        ("DELETE", format!("/api/guilds/{guild}/members/@me")),
        ("PUT", format!("/api/guilds/{guild}/members/{me}/roles")),
        ("POST", "/api/invites/abcdef".into()),
        ("POST", "/api/channels".into()),
        ("GET", format!("/api/channels/{general}")),
        ("PUT", format!("/api/channels/{general}")),
        ("PATCH", format!("/api/channels/{general}")),
        ("DELETE", format!("/api/channels/{general}")),
        ("PUT", format!("/api/channels/{general}/keys")),
        ("GET", format!("/api/channels/{general}/keys/@me")),
        ("GET", format!("/api/channels/{general}/bridges")),
        ("GET", format!("/api/messages?channel_id={general}")),
        ("POST", "/api/messages".into()),
        ("PATCH", format!("/api/messages/{id}")),
        ("DELETE", format!("/api/messages/{id}")),
        ("PUT", format!("/api/messages/{id}/reactions/x")),
        ("DELETE", format!("/api/messages/{id}/reactions/x")),
        ("PUT", format!("/api/messages/{id}/pin")),
        ("DELETE", format!("/api/messages/{id}/pin")),
        ("GET", "/api/users/@me".into()),
        ("PATCH", "/api/users/@me".into()),
        ("PUT", "/api/users/@me/presence".into()),
        ("GET", format!("/api/users/{me}")),
        ("GET", "/api/users/@me/channels".into()),
        ("POST", "/api/users/@me/channels".into()),
        ("POST", "/api/users/@me/v0-key".into()),
        ("POST", "/api/roles".into()),
        ("PUT", format!("/api/roles/{guild}")),
        ("DELETE", format!("/api/roles/{guild}")),
        ("POST", "/api/upload".into()),
        ("GET", "/api/files/1".into()),
    ];
    for (method, path) in &routes {
        let body = (*method != "GET" && *method != "DELETE").then_some(&some);
        let (status, res) = server.rest(method, path, None, body).await;
        assert_eq!(
            (status, error_code(&res)),
            (401, "NOT_AUTHENTICATED"),
            "{method} {path} without a token: {res}"
        );
        for bad in [
            "not-a-token",
            &format!("{token}x"),
            &token[..token.len() - 1],
        ] {
            let (status, res) = server.rest(method, path, Some(bad), body).await;
            assert_eq!(
                (status, error_code(&res)),
                (401, "AUTH_FAILED"),
                "{method} {path} with the bad token {bad:?}: {res}"
            );
        }
    }
    // Nothing changed: the message, the channel, the guild, the account.
    assert_untouched(&server, &token, &general, &original).await;
    let (status, channel) = server
        .rest(
            "GET",
            &format!("/api/channels/{general}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((status, &channel["name"]), (200, &json!("general")));
    let (status, me_now) = server
        .rest("GET", "/api/users/@me", Some(&token), None)
        .await;
    assert_eq!((status, &me_now["display_name"]), (200, &json!("alice")));
    let (status, dms) = server
        .rest("GET", "/api/users/@me/channels", Some(&token), None)
        .await;
    assert_eq!((status, dms), (200, json!([])));
}

#[tokio::test]
async fn originchats_refuses_every_command_but_sign_in() {
    let server = TestServer::start();
    let (mut alice, general, original) = alice_with_a_message(&server).await;
    alice.recv_op(10).await;
    let id = original["id"].as_str().expect("id").to_string();
    for url in [common::oc_url(&server), common::oc_main_url(&server)] {
        let mut anon = Oc::connect_url(&url, "anon").await;
        let requests = [
            json!({"cmd": "message_new", "channel": "general", "content": "sneaky"}),
            json!({"cmd": "messages_get", "channel": "general"}),
            json!({"cmd": "message_get", "channel": "general", "id": id}),
            json!({"cmd": "message_edit", "channel": "general", "id": id, "content": "defaced"}),
            json!({"cmd": "message_delete", "channel": "general", "id": id}),
            json!({"cmd": "message_react_add", "channel": "general", "id": id, "emoji": "x"}),
            json!({"cmd": "message_react_remove", "channel": "general", "id": id, "emoji": "x"}),
            json!({"cmd": "message_pin", "channel": "general", "id": id}),
            json!({"cmd": "messages_search", "channel": "general", "query": "original"}),
            json!({"cmd": "typing", "channel": "general"}),
            json!({"cmd": "users_list"}),
            json!({"cmd": "users_online"}),
            json!({"cmd": "status_set", "status": "dnd"}),
            json!({"cmd": "voice_join", "channel": "lounge"}),
            json!({"cmd": "roles_list"}),
            json!({"cmd": "channel_create", "name": "mine", "type": "text"}),
            json!({"cmd": "server_info"}),
            json!({"cmd": "pings_get"}),
        ];
        for mut req in requests {
            req["listener"] = json!("l");
            anon.send(req.clone()).await;
            let f = anon.recv_strict().await;
            assert_eq!(
                f,
                json!({"cmd": "auth_error", "val": "Authentication required"}),
                "{url} {req}"
            );
        }
        // A validator that is no token is refused, and the connection is
        // still unauthenticated afterwards.
        anon.send(json!({"cmd": "auth", "validator": ""})).await;
        anon.expect_auth_error("Invalid authentication").await;
        anon.send(json!({"cmd": "message_new", "channel": "general", "content": "x"}))
            .await;
        anon.expect_auth_error("Authentication required").await;
    }
    jam_marker(&mut alice, &general, "after the attempts").await;
    let list = history(&server, &alice.token(), &general).await;
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[1]["content"], "the original");
    assert_eq!(list[1]["reactions"], json!([]));
    assert_eq!(list[1]["pinned"], false);
}

#[tokio::test]
async fn chatnet_refuses_every_request_without_a_session() {
    let server = TestServer::start();
    let mut bob = Cn::signup(&server, "bob").await;
    let mut anon = Cn::connect(&server, "anon").await;
    let fields = json!({"source": "mallory", "dest": "bob", "ik": "a", "spk": "b", "opk": "c", "epk": "d", "nonce": "n", "message": "m"});
    for kind in [
        "invite.request",
        "invite.accept",
        "invite.reject",
        "key_exchange.initiate",
        "key_exchange.responder",
        "message",
    ] {
        let mut req = fields.clone();
        req["type"] = json!(kind);
        anon.send(req.clone()).await;
        assert_eq!(
            anon.recv().await,
            json!({"type": kind, "resp_code": 1}),
            "{req}"
        );
        // A made-up session is no better.
        req["session"] = json!("00000000-0000-4000-8000-000000000000");
        anon.send(req.clone()).await;
        assert_eq!(
            anon.recv().await,
            json!({"type": kind, "resp_code": 1}),
            "{req}"
        );
    }
    // Nothing reached bob: the next thing he gets is a real invite.
    let mut carol = Cn::signup(&server, "carol").await;
    carol.relay("invite.request", "bob", json!({})).await;
    assert_eq!(
        bob.recv_type("invite.request").await,
        json!({"type": "invite.request", "source": "carol", "dest": "bob"})
    );
    // No direct channel was opened for bob by the attempts.
    let (status, dms) = server
        .rest("GET", "/api/users/@me/channels", Some(&bob.session), None)
        .await;
    assert_eq!((status, dms), (200, json!([])));
    // A bad session on subscribe: code 1, then the socket closes.
    anon.send(json!({"type": "subscribe", "session": "nope"}))
        .await;
    assert_eq!(
        anon.recv().await,
        json!({"type": "subscribe", "resp_code": 1})
    );
    anon.expect_end().await;
}

#[tokio::test]
async fn v0_closes_on_anything_before_cnn() {
    let server = TestServer::start();
    let (token, _) = rest_register(&server, "alice").await;
    let (_, key) = issue_v0_key(&server, &token).await;
    let general = {
        let jam = Jam::with_token(&server, "probe", &token).await;
        let general = jam.lobby().general;
        jam.close().await;
        general
    };
    let (status, _) = server
        .rest(
            "POST",
            "/api/messages",
            Some(&token),
            Some(&json!({"channel_id": general, "content": "the original"})),
        )
        .await;
    assert!(status == 200 || status == 201);
    // Properly signed with alice's own key, but not preceded by CNN.
    let commands = [
        Inbound::ChMsg {
            id: general.clone(),
            msg_id: ulid(),
            msg: Body::Text("sneaky".into()),
        },
        Inbound::ChPull {
            id: general.clone(),
            anchor: None,
        },
        Inbound::PvMsg {
            to: "alice".into(),
            msg_id: ulid(),
            msg: Body::Text("sneaky dm".into()),
        },
        Inbound::ChLst,
        Inbound::Info,
        Inbound::Kalive,
        Inbound::AckChMsg { id: ulid() },
    ];
    for cmd in commands {
        let mut c = V0::open(&server, "alice", key).await;
        c.send(&cmd).await;
        match c.next().await {
            V0Incoming::Closed => {}
            V0Incoming::Command(name, p) => {
                panic!("{}: answered {name} {p:?} before CNN", cmd.name())
            }
        }
    }
    let list = history(&server, &token, &general).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["content"], "the original");
    let (status, dms) = server
        .rest("GET", "/api/users/@me/channels", Some(&token), None)
        .await;
    assert_eq!((status, dms), (200, json!([])));
}

/// A record with the right tag and arity and empty fields: it parses, so
/// the refusal comes from the permission check, not from the decoder.
fn blank(name: &str, arity: usize) -> Term {
    let mut fields = vec![Term::nil(); arity - 1];
    if let Some(last) = fields.last_mut() {
        *last = Term::atom("get");
    }
    Term::record(name, fields)
}

#[tokio::test]
async fn mqtt_refuses_bad_credentials_and_reg_clients_may_only_auth() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut ny, token) = nynja_login(&server, "15550001").await;
    ny.recv_record("Profile").await;
    let cid = ny.client_id.clone();
    let uid = cid.trim_start_matches("emqttd_").to_string();
    let (alice, general, _) = alice_with_a_message(&server).await;

    // CONNECT without a password, with an empty one, with a near miss.
    for password in [None, Some(""), Some(&token[..token.len() - 1])] {
        let other = format!("emqttd_{uid}");
        let got = Ny::try_connect(&server, &other, password, true).await;
        assert_eq!(
            got.err(),
            Some(ConnectReturnCode::BadUserNamePassword),
            "{password:?}"
        );
    }

    // A PUBLISH as the first packet, before any CONNECT: the socket closes.
    let addr = server.mqtt.expect("mqtt listener");
    let mut raw = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let topic = b"events/1//api/anon//";
    let payload = b"x";
    let mut packet = vec![0x30, (2 + topic.len() + payload.len()) as u8, 0];
    packet.push(topic.len() as u8);
    packet.extend_from_slice(topic);
    packet.extend_from_slice(payload);
    raw.write_all(&packet).await.expect("write");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(TIMEOUT, raw.read(&mut buf))
        .await
        .expect("the server must close the socket")
        .unwrap_or(0);
    assert_eq!(n, 0, "answered a PUBLISH before CONNECT: {:?}", &buf[..n]);

    // A reg_ client: every record but Auth is permission_denied.
    let mut reg = Ny::connect(&server, "reg_intruder", None).await;
    let room_post = {
        let mut m = nynja::message(&MessageView {
            id: 0,
            feed: nynja::muc_feed(&general),
            msg_id: "x-1".into(),
            from: "intruder".into(),
            to: general.clone(),
            created_ms: 1_700_000_000_000,
            text: "sneaky".into(),
            status: None,
        });
        if let Term::Tuple(items) = &mut m {
            items[1] = Term::nil();
        }
        m
    };
    reg.send(&room_post).await;
    assert_eq!(reg.recv().await.1, io_error("permission_denied"));
    for (name, arity) in ARITIES {
        if name == "Auth" {
            continue;
        }
        reg.send(&blank(name, arity)).await;
        assert_eq!(
            reg.recv().await.1,
            io_error("permission_denied"),
            "{name} from a reg_ client"
        );
    }
    // Auth itself still works on that connection: it was not closed.
    reg.send(&auth("reg_intruder", "15550009", "reg", None))
        .await;
    assert_eq!(reg.recv().await.1, nynja::io_ok("sms_sent", Term::bin("")));
    reg.disconnect().await;

    let list = history(&server, &alice.token(), &general).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["content"], "the original");
    ny.disconnect().await;
}
