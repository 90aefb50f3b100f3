//! OriginChats on a guild of its own (`/originchats/<guild id>` on the main
//! port): channels_get as a view of roles and overwrites, global dispatch
//! filtered by the channel's view permission, send permission, pins (the
//! guild owner may pin, a member may not), and one endpoint = one guild.

mod common;

use common::{
    find, oc_guild_url, oc_url, rest_register, without_listener, Oc, TestServer, PASSWORD,
};
use serde_json::{json, Value};

const VIEW_CHANNEL: u64 = 1 << 10;
const SEND_MESSAGES: u64 = 1 << 11;

/// Alice (owner) and bob (member by invite) in the guild "Makers", with
/// `secret` hidden from @everyone and `readonly` where @everyone cannot
/// send; both connected to the guild's OriginChats endpoint.
struct Makers {
    server: TestServer,
    guild_id: String,
    alice: Oc,
    bob: Oc,
}

async fn channel_denying(server: &TestServer, token: &str, guild_id: &str, name: &str, deny: u64) {
    let (status, channel) = server
        .rest(
            "POST",
            "/api/channels",
            Some(token),
            Some(
                &json!({"guild_id": guild_id, "category_id": null, "name": name,
                         "type": "text", "topic": "", "position": 5}),
            ),
        )
        .await;
    assert_eq!(status, 201, "POST /api/channels: {channel}");
    let id = channel["id"].as_str().expect("channel id").to_string();
    let overwrites =
        json!([{"id": guild_id, "type": "role", "allow": "0", "deny": deny.to_string()}]);
    let (status, body) = server
        .rest(
            "PUT",
            &format!("/api/channels/{id}"),
            Some(token),
            Some(&json!({"overwrites": overwrites})),
        )
        .await;
    assert_eq!(status, 200, "PUT /api/channels/{id}: {body}");
}

async fn makers() -> Makers {
    let server = TestServer::with_config("[originchats.rate_limiting]\nenabled = false\n");
    let (a_token, a_user) = rest_register(&server, "alice").await;
    let (b_token, _) = rest_register(&server, "bob").await;
    let a_id = a_user["id"].as_str().expect("user id");
    let (status, guild) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(&a_token),
            Some(&json!({"name": "Makers", "owner_id": a_id, "description": "test guild"})),
        )
        .await;
    assert_eq!(status, 201, "POST /api/guilds: {guild}");
    let guild_id = guild["id"].as_str().expect("guild id").to_string();
    channel_denying(&server, &a_token, &guild_id, "secret", VIEW_CHANNEL).await;
    channel_denying(&server, &a_token, &guild_id, "readonly", SEND_MESSAGES).await;

    let (status, invite) = server
        .rest(
            "POST",
            &format!("/api/guilds/{guild_id}/invites"),
            Some(&a_token),
            None,
        )
        .await;
    assert!(status == 200 || status == 201, "invite: {status} {invite}");
    let code = invite["code"].as_str().expect("invite code");
    let (status, body) = server
        .rest(
            "POST",
            &format!("/api/invites/{code}"),
            Some(&b_token),
            None,
        )
        .await;
    assert!(status == 200 || status == 201, "join: {status} {body}");

    let url = oc_guild_url(&server, &guild_id);
    let alice = Oc::with_token_at(&url, "alice", &a_token).await;
    let bob = Oc::with_token_at(&url, "bob", &b_token).await;
    Makers {
        server,
        guild_id,
        alice,
        bob,
    }
}

async fn channels(oc: &mut Oc) -> Value {
    oc.send(json!({"cmd": "channels_get"})).await;
    let f = oc.recv_cmd("channels_get").await;
    assert!(f["val"].is_array(), "channels_get val: {f}");
    f["val"].clone()
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .expect("channel list")
        .iter()
        .map(|c| c["name"].as_str().expect("channel name").to_string())
        .collect();
    v.sort();
    v
}

fn roles_of(channel: &Value, perm: &str) -> Vec<String> {
    channel["permissions"][perm]
        .as_array()
        .unwrap_or_else(|| panic!("permissions.{perm} must be a list: {channel}"))
        .iter()
        .map(|r| r.as_str().expect("role name").to_string())
        .collect()
}

#[tokio::test]
async fn channels_get_lists_what_each_user_may_view() {
    let Makers {
        server: _server,
        mut alice,
        mut bob,
        ..
    } = makers().await;
    let sent = alice.send_message("general", "latest", "m").await;
    bob.recv_cmd("message_new").await;

    let mine = channels(&mut alice).await;
    let theirs = channels(&mut bob).await;
    assert_eq!(names(&mine), ["general", "lounge", "readonly", "secret"]);
    assert_eq!(names(&theirs), ["general", "lounge", "readonly"]);

    let general = find(&theirs, "name", "general").expect("general");
    assert_eq!(general["type"], "text");
    assert!(
        roles_of(general, "view").contains(&"user".to_string()),
        "{general}"
    );
    assert!(
        roles_of(general, "send").contains(&"user".to_string()),
        "{general}"
    );
    assert_eq!(
        general["last_message_id"], sent["message"]["id"],
        "{general}"
    );
    assert!(general["last_message"].is_number(), "{general}");

    let lounge = find(&theirs, "name", "lounge").expect("lounge");
    assert_eq!(lounge["type"], "voice");
    assert_eq!(lounge["voice_state"], json!([]), "{lounge}");

    let readonly = find(&theirs, "name", "readonly").expect("readonly");
    assert!(
        roles_of(readonly, "view").contains(&"user".to_string()),
        "{readonly}"
    );
    assert!(
        !roles_of(readonly, "send").contains(&"user".to_string()),
        "{readonly}"
    );

    let secret = find(&mine, "name", "secret").expect("secret for the owner");
    let view = roles_of(secret, "view");
    assert!(view.contains(&"owner".to_string()), "{secret}");
    assert!(!view.contains(&"user".to_string()), "{secret}");
}

#[tokio::test]
async fn global_replies_reach_only_those_who_may_view_the_channel() {
    let Makers {
        server: _server,
        mut alice,
        mut bob,
        ..
    } = makers().await;

    // Alice's message in the hidden channel: her copy only.
    let mine = alice.send_message("secret", "for my eyes", "s-1").await;
    assert_eq!(mine["global"], true);
    assert_eq!(mine["message"]["user"], "alice");
    alice
        .send(json!({"cmd": "typing", "channel": "secret", "listener": "t"}))
        .await;
    let typing = alice.recv_cmd("typing").await;
    assert_eq!(typing["channel"], "secret");
    assert_eq!(typing["listener"], "t");
    alice
        .send(json!({"cmd": "message_react_add", "channel": "secret", "id": mine["message"]["id"], "emoji": "🤫"}))
        .await;
    alice.recv_cmd("message_react_add").await;

    // Bob's next frame is the marker in the visible channel.
    let marker = alice.send_message("general", "visible marker", "m").await;
    let seen = bob.expect_marker("general", "visible marker").await;
    assert_eq!(seen, without_listener(&marker));

    // Bob cannot write to or read the hidden channel.
    bob.send(json!({"cmd": "message_new", "channel": "secret", "content": "let me in"}))
        .await;
    bob.expect_error_one_of(
        Some("message_new"),
        &[
            "Channel not found",
            "You do not have permission to send messages in this channel",
        ],
    )
    .await;
    bob.send(json!({"cmd": "messages_get", "channel": "secret"}))
        .await;
    bob.expect_error_one_of(
        None,
        &["Channel not found", "Access denied to this channel"],
    )
    .await;
    bob.send(json!({"cmd": "message_get", "channel": "secret", "id": mine["message"]["id"]}))
        .await;
    bob.expect_error_one_of(
        None,
        &["Channel not found", "Access denied to this channel"],
    )
    .await;
    alice.send_message("general", "second marker", "m").await;
    bob.expect_marker("general", "second marker").await;
}

#[tokio::test]
async fn send_permission_is_checked_per_channel() {
    let Makers {
        server: _server,
        mut alice,
        mut bob,
        ..
    } = makers().await;
    bob.send(
        json!({"cmd": "message_new", "channel": "readonly", "content": "hi", "listener": "r"}),
    )
    .await;
    let f = bob
        .expect_error(
            Some("message_new"),
            "You do not have permission to send messages in this channel",
        )
        .await;
    assert_eq!(f["listener"], "r");
    // The owner may, and bob reads it.
    let sent = alice.send_message("readonly", "announcement", "a").await;
    let seen = bob.expect_marker("readonly", "announcement").await;
    assert_eq!(seen, without_listener(&sent));
}

#[tokio::test]
async fn pins_by_the_owner_and_refused_to_a_member() {
    let Makers {
        server: _server,
        mut alice,
        mut bob,
        ..
    } = makers().await;
    let sent = bob.send_message("general", "pin me", "m").await;
    alice.recv_cmd("message_new").await;
    let id = Oc::message_id(&sent);

    bob.send(json!({"cmd": "message_pin", "channel": "general", "id": id, "listener": "p"}))
        .await;
    let f = bob
        .expect_error(
            Some("message_pin"),
            "You do not have permission to pin messages in this channel",
        )
        .await;
    assert_eq!(f["listener"], "p");

    alice
        .send(json!({"cmd": "message_pin", "channel": "general", "id": id, "listener": "p-1"}))
        .await;
    let mine = alice.recv_cmd("message_pin").await;
    let theirs = bob.recv_cmd("message_pin").await;
    assert_eq!(
        mine,
        json!({"cmd": "message_pin", "id": id, "channel": "general", "pinned": true,
               "global": true, "listener": "p-1"})
    );
    assert_eq!(theirs, without_listener(&mine));

    bob.send(json!({"cmd": "messages_pinned", "channel": "general"}))
        .await;
    let r = bob.recv_cmd("messages_pinned").await;
    assert_eq!(r["channel"], "general");
    let pinned = r["messages"].as_array().expect("messages");
    assert_eq!(pinned.len(), 1, "{r}");
    assert_eq!(pinned[0]["id"], id.as_str());
    assert_eq!(pinned[0]["pinned"], true);

    alice
        .send(json!({"cmd": "message_unpin", "channel": "general", "id": id}))
        .await;
    let mine = alice.recv_cmd("message_unpin").await;
    let theirs = bob.recv_cmd("message_unpin").await;
    assert_eq!(
        mine,
        json!({"cmd": "message_unpin", "id": id, "channel": "general", "pinned": true, "global": true})
    );
    assert_eq!(theirs, mine);
    bob.send(json!({"cmd": "messages_pinned", "channel": "general"}))
        .await;
    let r = bob.recv_cmd("messages_pinned").await;
    assert_eq!(r["messages"], json!([]), "{r}");

    alice
        .send(json!({"cmd": "message_pin", "channel": "general"}))
        .await;
    alice
        .expect_error(Some("message_pin"), "Message ID is required")
        .await;
    bob.send(json!({"cmd": "messages_pinned"})).await;
    bob.expect_error(None, "Channel name not provided").await;
}

#[tokio::test]
async fn one_endpoint_is_one_guild() {
    let Makers {
        server,
        guild_id,
        mut alice,
        mut bob,
    } = makers().await;
    // Carol in the Lobby (root path) writes to the Lobby's general: nothing
    // reaches the Makers endpoint, whose "general" is another channel.
    let mut carol = Oc::register(&server, "carol").await;
    carol.send_message("general", "lobby talk", "c").await;
    alice.send_message("general", "makers talk", "a").await;
    bob.expect_marker("general", "makers talk").await;

    // Bob, in both guilds, sees the Lobby's message at the Lobby endpoint.
    let mut bob_lobby = Oc::login(&server, "bob", PASSWORD).await;
    bob_lobby
        .send(json!({"cmd": "messages_get", "channel": "general"}))
        .await;
    let r = bob_lobby.recv_cmd("messages_get").await;
    let contents: Vec<&str> = r["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(contents, ["lobby talk"], "{r}");
    // ... and the Makers endpoint's history has only the Makers message.
    bob.send(json!({"cmd": "messages_get", "channel": "general"}))
        .await;
    let r = bob.recv_cmd("messages_get").await;
    assert_eq!(r["messages"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["messages"][0]["content"], "makers talk", "{r}");
    assert_ne!(oc_url(&server), oc_guild_url(&server, &guild_id));
}
