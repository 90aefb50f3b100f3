//! Security, part 2: a channel a user cannot view. From every dialect that
//! can address it, the user can neither read, send, edit, delete, react,
//! pin nor type there, gets the dialect's refusal, and hears none of its
//! live events; the authorised user's message stays as it was.
//!
//! Two ways of not viewing a channel:
//! - an overwrite denying VIEW_CHANNEL to `@everyone` on a channel of a
//!   guild the user is a member of (JAM REST and WebSocket, OriginChats on
//!   `/originchats/<guild>`; V0 and MQTT rooms only address the default
//!   guild's channels, so for them such an id is simply unknown);
//! - having left the default guild (V0 channels and MQTT `channel` rooms
//!   are the default guild's), since nobody can put an overwrite on the
//!   default guild: its owner is a system user that cannot log in.
//!
//! To prove an event was *not* delivered, the authorised user sends a
//! marker afterwards that the other one can see; it must be the next
//! thing that arrives.

mod common;

use common::{error_code, find, issue_v0_key, rest_register, ulid, Jam, Ny, Oc, TestServer, V0};
use serde_json::{json, Value};
use switchboard_protocols::nynja::etf::Term;
use switchboard_protocols::nynja::{self, MessageView};
use switchboard_protocols::v0::{Body, Inbound};

/// VIEW_CHANNEL.
const VIEW: &str = "1024";

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

/// Alice owns the guild `Vault` with `general` and `secret`; bob is a
/// member; `secret` denies VIEW_CHANNEL to `@everyone`.
struct Vault {
    server: TestServer,
    alice: Jam,
    bob: Jam,
    guild: String,
    general: String,
    secret: String,
}

impl Vault {
    async fn start() -> Vault {
        let server = TestServer::start();
        let mut alice = Jam::register(&server, "alice").await;
        let mut bob = Jam::register(&server, "bob").await;
        let (status, guild) = server
            .rest(
                "POST",
                "/api/guilds",
                Some(&alice.token()),
                Some(&json!({"name": "Vault", "owner_id": alice.user_id(), "description": ""})),
            )
            .await;
        assert_eq!(status, 201, "{guild}");
        alice.recv_until(30).await;
        let guild_id = guild["id"].as_str().expect("guild id").to_string();
        let general = find(&guild["channels"], "name", "general")
            .and_then(|c| c["id"].as_str())
            .expect("general")
            .to_string();
        let (_, invite) = server
            .rest(
                "POST",
                &format!("/api/guilds/{guild_id}/invites"),
                Some(&alice.token()),
                None,
            )
            .await;
        let code = invite["code"].as_str().expect("invite code");
        let (status, body) = server
            .rest(
                "POST",
                &format!("/api/invites/{code}"),
                Some(&bob.token()),
                None,
            )
            .await;
        assert!(status == 200 || status == 201, "join: {status} {body}");
        bob.recv_op(30).await;

        let (status, channel) = server
            .rest(
                "POST",
                "/api/channels",
                Some(&alice.token()),
                Some(&json!({"guild_id": guild_id, "name": "secret", "type": "text"})),
            )
            .await;
        assert_eq!(status, 201, "{channel}");
        let secret = channel["id"].as_str().expect("channel id").to_string();
        alice.recv_until(20).await;
        bob.recv_until(20).await;
        let overwrite = json!([{"id": guild_id, "type": "role", "allow": "0", "deny": VIEW}]);
        let (status, channel) = server
            .rest(
                "PUT",
                &format!("/api/channels/{secret}"),
                Some(&alice.token()),
                Some(&json!({"overwrites": overwrite})),
            )
            .await;
        assert_eq!(status, 200, "{channel}");
        alice.recv_until(21).await;
        Vault {
            server,
            alice,
            bob,
            guild: guild_id,
            general,
            secret,
        }
    }
}

/// A REST refusal for a hidden channel: 403 FORBIDDEN or 404 NOT_FOUND.
fn assert_refused(status: u16, body: &Value, what: &str) {
    assert!(
        matches!(
            (status, error_code(body)),
            (403, "FORBIDDEN") | (404, "NOT_FOUND")
        ),
        "{what}: {status} {body}"
    );
}

/// The next op 4 answers `op`/`reference` with FORBIDDEN or NOT_FOUND.
async fn jam_refused(jam: &mut Jam, op: i64, reference: &str) {
    let f = jam.recv_op(4).await["d"].clone();
    assert!(
        f["code"] == "FORBIDDEN" || f["code"] == "NOT_FOUND",
        "op {op}: {f}"
    );
    assert_eq!(
        (&f["op"], &f["ref"]),
        (&json!(op), &json!(reference)),
        "{f}"
    );
}

/// The OriginChats refusals a hidden channel may get (reference §5/§9).
const OC_DENIALS: &[&str] = &[
    "Channel not found",
    "Access denied to this channel",
    "You do not have permission to send messages in this channel",
    "You do not have permission to view this channel",
    "You do not have permission to pin messages in this channel",
    "You do not have permission to add reactions to this message",
    "You do not have permission to edit this message",
    "You do not have permission to delete this message",
    "Message not found or cannot be edited",
    "Message not found or cannot be deleted",
    "Message not found",
];

#[tokio::test]
async fn a_hidden_channel_is_closed_to_jam_rest_websocket_and_originchats() {
    let Vault {
        server,
        mut alice,
        mut bob,
        guild,
        general,
        secret,
    } = Vault::start().await;
    let original = alice.send_message(&secret, "top secret", "s-1").await;
    let id = original["id"].as_str().expect("id").to_string();
    let bob_token = bob.token();

    // The guild as bob sees it does not list the channel.
    let (status, g) = server
        .rest(
            "GET",
            &format!("/api/guilds/{guild}"),
            Some(&bob_token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{g}");
    assert!(find(&g["channels"], "id", &secret).is_none(), "{g}");

    // REST.
    let body = json!({"channel_id": secret, "content": "let me in"});
    let rename = json!({"name": "mine"});
    let routes: Vec<(&str, String, Option<&Value>)> = vec![
        ("GET", format!("/api/channels/{secret}"), None),
        ("GET", format!("/api/messages?channel_id={secret}"), None),
        (
            "GET",
            format!("/api/messages?channel_id={secret}&around={id}"),
            None,
        ),
        ("POST", "/api/messages".into(), Some(&body)),
        ("PATCH", format!("/api/messages/{id}"), Some(&body)),
        ("DELETE", format!("/api/messages/{id}"), None),
        ("PUT", format!("/api/messages/{id}/reactions/x"), None),
        ("PUT", format!("/api/messages/{id}/pin"), None),
        ("GET", format!("/api/channels/{secret}/keys/@me"), None),
        ("PUT", format!("/api/channels/{secret}"), Some(&rename)),
        ("DELETE", format!("/api/channels/{secret}"), None),
    ];
    for (method, path, body) in &routes {
        let (status, res) = server.rest(method, path, Some(&bob_token), *body).await;
        assert_refused(status, &res, &format!("{method} {path}"));
        assert!(!res.to_string().contains("top secret"), "{path}: {res}");
    }

    // JAM WebSocket.
    let ops = [
        (10, json!({"channel_id": secret, "content": "let me in"})),
        (
            11,
            json!({"id": id, "channel_id": secret, "content": "defaced"}),
        ),
        (12, json!({"id": id, "channel_id": secret})),
        (
            13,
            json!({"message_id": id, "channel_id": secret, "emoji": "x", "action": "add"}),
        ),
        (60, json!({"channel_id": secret})),
    ];
    for (op, d) in ops {
        let reference = format!("b-{op}");
        bob.send(op, d, Some(&reference)).await;
        jam_refused(&mut bob, op, &reference).await;
    }

    // OriginChats on the guild's endpoint, signed in with bob's token.
    let url = common::oc_guild_url(&server, &guild);
    let mut oc = Oc::with_token_at(&url, "bob", &bob_token).await;
    let names = common::channel_names(&oc.channels().await);
    assert!(names.contains(&"general".to_string()), "{names:?}");
    assert!(!names.contains(&"secret".to_string()), "{names:?}");
    let requests = [
        json!({"cmd": "message_new", "channel": "secret", "content": "let me in"}),
        json!({"cmd": "messages_get", "channel": "secret"}),
        json!({"cmd": "message_get", "channel": "secret", "id": id}),
        json!({"cmd": "messages_around", "channel": "secret", "around": id}),
        json!({"cmd": "message_edit", "channel": "secret", "id": id, "content": "defaced"}),
        json!({"cmd": "message_delete", "channel": "secret", "id": id}),
        json!({"cmd": "message_react_add", "channel": "secret", "id": id, "emoji": "x"}),
        json!({"cmd": "message_pin", "channel": "secret", "id": id}),
        json!({"cmd": "messages_pinned", "channel": "secret"}),
        json!({"cmd": "typing", "channel": "secret"}),
    ];
    for mut req in requests {
        req["listener"] = json!("l");
        oc.send(req.clone()).await;
        let f = oc.recv_cmd("error").await;
        let val = f["val"].as_str().unwrap_or_default();
        assert!(OC_DENIALS.contains(&val), "{req}: {f}");
    }
    // Search across the guild does not find it either.
    oc.send(
        json!({"cmd": "messages_search", "channel": "general", "query": "secret", "listener": "s"}),
    )
    .await;
    for _ in 0..50 {
        let f = oc.recv().await;
        assert!(!f.to_string().contains("top secret"), "{f}");
        if f["cmd"] == "messages_search" || f["cmd"] == "error" {
            break;
        }
    }

    // Nothing changed.
    let list = history(&server, &alice.token(), &secret).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["content"], "top secret");
    assert_eq!(list[0]["edited_at"], Value::Null);
    assert_eq!(list[0]["reactions"], json!([]));
    assert_eq!(list[0]["pinned"], false);

    // Live events of the channel reach neither of bob's connections.
    alice
        .send(
            11,
            json!({"id": id, "channel_id": secret, "content": "still secret"}),
            Some("a-11"),
        )
        .await;
    alice.recv_until(11).await;
    alice
        .send(
            13,
            json!({"message_id": id, "channel_id": secret, "emoji": "k", "action": "add"}),
            Some("a-13"),
        )
        .await;
    alice.recv_until(13).await;
    alice.send(60, json!({"channel_id": secret}), None).await;
    let second = alice.send_message(&secret, "more secrets", "a-10").await;
    alice
        .send(
            12,
            json!({"id": second["id"], "channel_id": secret}),
            Some("a-12"),
        )
        .await;
    alice.recv_until(12).await;
    alice.send_message(&general, "marker", "a-m").await;
    let seen = bob.recv_op(10).await["d"].clone();
    assert_eq!(
        (&seen["channel_id"], &seen["content"]),
        (&json!(general), &json!("marker")),
        "{seen}"
    );
    oc.expect_marker("general", "marker").await;
}

/// A V0 message as MQTT sends it into a `channel` room.
fn room_post(channel: &str, text: &str) -> Term {
    let mut m = nynja::message(&MessageView {
        id: 0,
        feed: nynja::muc_feed(channel),
        msg_id: ulid(),
        from: "bob".into(),
        to: channel.into(),
        created_ms: 1_700_000_000_000,
        text: text.into(),
        status: None,
    });
    if let Term::Tuple(items) = &mut m {
        items[1] = Term::nil();
    }
    m
}

/// The next V0 command named `name`, past presence noise; a channel
/// message or anything else fails the test.
async fn v0_next(v0: &mut V0, name: &str) -> Value {
    for _ in 0..50 {
        let (got, p) = v0.recv().await;
        if got == name {
            return common::to_json(&p);
        }
        assert!(
            ["UCNN", "UDCNN", "USR_ADD", "USR_RMD", "CH_STATUS"].contains(&got.as_str()),
            "expected {name}, got {got} {:?}",
            common::to_json(&p)
        );
    }
    panic!("no {name} after 50 presence commands");
}

/// The next publish that is not a roster push; none may come from a
/// channel room.
async fn ny_next(ny: &mut Ny, what: &str) -> Term {
    for _ in 0..50 {
        let (topic, term) = ny.recv().await;
        assert!(
            !topic.starts_with("room/"),
            "{what}: a room publish reached a user who cannot view it: {topic} {term:?}"
        );
        if matches!(
            term.record_name(),
            Some("Contact") | Some("Profile") | Some("Roster")
        ) {
            continue;
        }
        return term;
    }
    panic!("{what}: only roster pushes");
}

#[tokio::test]
async fn outside_the_default_guild_v0_and_mqtt_get_nothing_of_it() {
    let server = TestServer::start();
    let mut alice = Jam::register(&server, "alice").await;
    let lobby = alice.lobby();
    let general = lobby.general.clone();
    let original = alice.send_message(&general, "lobby only", "a-1").await;
    let id = original["id"].as_str().expect("id").to_string();

    let (bob_token, bob_user) = rest_register(&server, "bob").await;
    let bob_id = bob_user["id"].as_str().expect("id").to_string();
    let (_, key) = issue_v0_key(&server, &bob_token).await;
    let mut v0 = V0::open(&server, "bob", key).await;
    v0.id = bob_id.clone();
    v0.cnn().await;
    let mut ny = Ny::connect(&server, &format!("emqttd_{bob_id}"), Some(&bob_token)).await;
    ny.recv_record("Profile").await;

    // Bob leaves the Lobby while connected.
    let (status, body) = server
        .rest(
            "DELETE",
            &format!("/api/guilds/{}/members/@me", lobby.guild_id),
            Some(&bob_token),
            None,
        )
        .await;
    assert!(status == 204 || status == 200, "leave: {status} {body}");
    let (status, body) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={general}"),
            Some(&bob_token),
            None,
        )
        .await;
    assert_refused(status, &body, "history of a guild bob left");

    // V0: the channel is not listed, and naming it is an error.
    v0.send(&Inbound::ChLst).await;
    assert_eq!(v0_next(&mut v0, "LST_CH").await, json!({"channels": []}));
    let attempts = [
        Inbound::ChMsg {
            id: general.clone(),
            msg_id: ulid(),
            msg: Body::Text("let me in".into()),
        },
        Inbound::ChPull {
            id: general.clone(),
            anchor: None,
        },
        Inbound::ChMerge {
            id: general.clone(),
            msg: Vec::new(),
        },
    ];
    for cmd in attempts {
        let name = cmd.name().to_string();
        v0.send(&cmd).await;
        let err = v0_next(&mut v0, "ERR").await;
        assert_eq!(err["cmd"], name.as_str(), "{err}");
        assert!(!err.to_string().contains("lobby only"), "{err}");
    }

    // MQTT: the room refuses a post, an edit and its history.
    ny.send(&room_post(&general, "let me in")).await;
    let got = ny_next(&mut ny, "post").await;
    assert!(
        got == nynja::io_error("permission_denied") || got == nynja::io_error("not_found"),
        "{got:?}"
    );
    let edit = {
        let mut m = room_post(&general, "defaced");
        if let Term::Tuple(items) = &mut m {
            items[1] = Term::Int(id.parse().expect("numeric id"));
            items[16] = Term::atom("edit");
        }
        m
    };
    ny.send(&edit).await;
    let got = ny_next(&mut ny, "edit").await;
    assert!(
        got == nynja::io_error("permission_denied") || got == nynja::io_error("not_found"),
        "{got:?}"
    );
    ny.send(&Term::record(
        "History",
        [
            Term::bin(format!("bob_{bob_id}")),
            nynja::muc_feed(&general),
            Term::Int(-20),
            Term::Int(0),
            Term::nil(),
            Term::atom("get"),
        ],
    ))
    .await;
    let page = ny_next(&mut ny, "history").await;
    assert!(
        page == nynja::io_error("permission_denied") || page == nynja::io_error("not_found"),
        "a refusal, not an empty page: {page:?}"
    );

    // Live: alice talks in general, then sends bob a direct message as
    // the marker; it must be the first thing either connection gets.
    alice.send_message(&general, "more lobby", "a-2").await;
    alice
        .send(
            11,
            json!({"id": id, "channel_id": general, "content": "lobby, edited"}),
            Some("a-3"),
        )
        .await;
    alice.recv_until(11).await;
    let (status, dm) = server
        .rest(
            "POST",
            "/api/users/@me/channels",
            Some(&alice.token()),
            Some(&json!({"recipient_id": bob_id})),
        )
        .await;
    assert!(status == 200 || status == 201, "{dm}");
    let (status, body) = server
        .rest(
            "POST",
            "/api/messages",
            Some(&alice.token()),
            Some(&json!({"channel_id": dm["id"], "content": "marker"})),
        )
        .await;
    assert!(status == 200 || status == 201, "{body}");
    let msg = v0_next(&mut v0, "MSG").await;
    assert_eq!(msg["msg"], "marker", "{msg}");
    let got = ny_next(&mut ny, "marker").await;
    let f = got
        .record_fields("Message")
        .unwrap_or_else(|| panic!("expected the marker, got {got:?}"));
    assert_eq!(nynja::message_text(&f[9]).as_deref(), Some("marker"));

    // Bob's attempts left no trace.
    let list = history(&server, &alice.token(), &general).await;
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list.iter().all(|m| m["author"]["id"] != bob_id.as_str()),
        "{list:?}"
    );
    ny.disconnect().await;
}
