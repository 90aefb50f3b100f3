//! JAM REST (`/api/*`, profile §2) together with the WebSocket events its
//! mutations emit: auth, guild and channel creation, invites, history
//! paging, permission overwrites.

mod common;

use common::{assert_id, error_code, find, rest_register, Jam, TestServer, PASSWORD};
use serde_json::{json, Value};

#[tokio::test]
async fn health_needs_no_token() {
    let server = TestServer::start();
    let (status, body) = server.rest("GET", "/api/health", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert!(
        body["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{body}"
    );
    assert!(body["uptime_s"].is_u64(), "{body}");
}

#[tokio::test]
async fn register_and_login_over_rest() {
    let server = TestServer::start();
    let (token, user) = rest_register(&server, "dora").await;
    let user_id = assert_id(&user["id"], "user.id");
    assert_eq!(user["username"], "dora");
    assert_eq!(user["display_name"], "dora");
    assert_eq!(user["bot"], false);
    for secret in ["password", "password_hash", "hash", "token"] {
        assert!(user.get(secret).is_none(), "User carries {secret}: {user}");
    }

    // The name is taken now.
    let (status, body) = server
        .rest(
            "POST",
            "/api/auth/register",
            None,
            Some(&json!({"username": "dora", "password": "other"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (409, "CONFLICT"), "{body}");

    let (status, body) = server
        .rest(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": "dora", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], user_id.as_str());
    let login_token = body["token"].as_str().expect("token").to_string();
    assert_ne!(login_token, token, "a login issues a new token");

    let (status, body) = server
        .rest(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": "dora", "password": "wrong"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (401, "AUTH_FAILED"), "{body}");

    // Both tokens work, on REST and on the WebSocket.
    for t in [&token, &login_token] {
        let (status, me) = server.rest("GET", "/api/users/@me", Some(t), None).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["id"], user_id.as_str());
        assert_eq!(me["username"], "dora");
    }
    let jam = Jam::with_token(&server, "dora-ws", &login_token).await;
    assert_eq!(jam.user_id(), user_id);
    assert!(!jam.lobby().guild_id.is_empty());

    // And a WebSocket registration logs in over REST.
    let ws_user = Jam::register(&server, "eve").await;
    let (status, body) = server
        .rest(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": "eve", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], ws_user.user_id().as_str());
}

/// Alice creates a guild over REST; returns (guild body, general id).
async fn create_guild(
    server: &TestServer,
    token: &str,
    owner: &str,
    name: &str,
) -> (Value, String) {
    let (status, guild) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(token),
            Some(&json!({"name": name, "owner_id": owner, "description": "test guild"})),
        )
        .await;
    assert_eq!(status, 201, "POST /api/guilds: {guild}");
    let general = find(&guild["channels"], "name", "general")
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("new guild without general: {guild}"))
        .to_string();
    (guild, general)
}

/// `member` joins `guild_id` through an invite made by `token`'s user.
async fn join_via_invite(server: &TestServer, token: &str, guild_id: &str, member: &mut Jam) {
    let (status, invite) = server
        .rest(
            "POST",
            &format!("/api/guilds/{guild_id}/invites"),
            Some(token),
            None,
        )
        .await;
    assert!(
        status == 200 || status == 201,
        "create invite: {status} {invite}"
    );
    let code = invite["code"].as_str().expect("invite code").to_string();
    let (status, body) = server
        .rest(
            "POST",
            &format!("/api/invites/{code}"),
            Some(&member.token()),
            None,
        )
        .await;
    assert!(
        status == 200 || status == 201,
        "join invite: {status} {body}"
    );
    let joined = member.recv_op(30).await["d"].clone();
    assert_eq!(joined["id"], guild_id, "op 30 on joining: {joined}");
}

#[tokio::test]
async fn guild_and_channel_creation_reach_both_sockets() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let mut b = Jam::register(&server, "bob").await;
    let a_id = a.user_id();

    let (guild, general) = create_guild(&server, &a.token(), &a_id, "Makers").await;
    let guild_id = assert_id(&guild["id"], "guild.id");
    assert_eq!(guild["name"], "Makers");
    assert_eq!(guild["description"], "test guild");
    assert_eq!(guild["owner_id"], a_id.as_str());
    let lounge = find(&guild["channels"], "name", "lounge").expect("lounge");
    assert_eq!(lounge["type"], "voice");
    let everyone = find(&guild["roles"], "name", "@everyone").expect("@everyone");
    assert_eq!(everyone["id"], guild_id.as_str());

    // GuildCreate on the creator's socket, with the same guild.
    let created = a.recv_op(30).await["d"].clone();
    assert_eq!(created["id"], guild_id.as_str());
    assert_eq!(created["name"], "Makers");
    assert_eq!(created["owner_id"], a_id.as_str());
    assert_eq!(
        find(&created["channels"], "name", "general").map(|c| c["id"].clone()),
        Some(json!(general))
    );

    join_via_invite(&server, &a.token(), &guild_id, &mut b).await;

    let (status, channel) = server
        .rest(
            "POST",
            "/api/channels",
            Some(&a.token()),
            Some(
                &json!({"guild_id": guild_id, "category_id": null, "name": "plans",
                         "type": "text", "topic": "roadmap", "position": 5}),
            ),
        )
        .await;
    assert_eq!(status, 201, "POST /api/channels: {channel}");
    let channel_id = assert_id(&channel["id"], "channel.id");
    let expected = json!({
        "id": channel_id, "guild_id": guild_id, "category_id": null, "name": "plans",
        "type": "text", "topic": "roadmap", "position": 5, "encrypted": false,
    });
    assert_eq!(channel, expected);
    assert_eq!(
        b.recv_op(20).await["d"],
        expected,
        "ChannelCreate on bob's socket"
    );
    assert_eq!(
        a.recv_op(20).await["d"],
        expected,
        "ChannelCreate on alice's socket"
    );

    // The new channel works for the invited member.
    b.send(
        10,
        json!({"channel_id": channel_id, "content": "first!"}),
        None,
    )
    .await;
    let msg = a.recv_op(10).await["d"].clone();
    assert_eq!(msg["channel_id"], channel_id.as_str());
    assert_eq!(msg["guild_id"], guild_id.as_str());
    assert_eq!(msg["author"]["id"], b.user_id().as_str());

    // GET /api/guilds/<id> shows it to members.
    let (status, full) = server
        .rest(
            "GET",
            &format!("/api/guilds/{guild_id}"),
            Some(&b.token()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["id"], guild_id.as_str());
    assert!(find(&full["channels"], "name", "plans").is_some(), "{full}");
}

/// The messages of a history page (a JSON array, newest first).
fn page(body: &Value) -> Vec<Value> {
    body.as_array()
        .unwrap_or_else(|| panic!("history must be a JSON array: {body}"))
        .clone()
}

#[tokio::test]
async fn history_pages_newest_first_with_before_and_limit() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let ch = a.lobby().general;
    let token = a.token();
    let mut sent = Vec::new();
    for i in 1..=7 {
        let m = a
            .send_message(&ch, &format!("message {i}"), &format!("h-{i}"))
            .await;
        sent.push((
            m["id"].as_str().unwrap().to_string(),
            format!("message {i}"),
        ));
    }

    // Default limit (50): everything, newest first.
    let (status, body) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={ch}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let all: Vec<(String, String)> = page(&body)
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let newest_first: Vec<(String, String)> = sent.iter().rev().cloned().collect();
    assert_eq!(all, newest_first);

    // Pages of two with `before`: no duplicate, no gap.
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut before: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let mut path = format!("/api/messages?channel_id={ch}&limit=2");
        if let Some(b) = &before {
            path.push_str(&format!("&before={b}"));
        }
        let (status, body) = server.rest("GET", &path, Some(&token), None).await;
        assert_eq!(status, 200, "{path}: {body}");
        let items = page(&body);
        sizes.push(items.len());
        if items.is_empty() {
            break;
        }
        assert!(items.len() <= 2, "{path}: more than limit: {body}");
        for m in &items {
            assert_eq!(m["channel_id"], ch.as_str());
            assert_eq!(m["author"]["id"], a.user_id().as_str());
            assert!(m.get("ref").is_none(), "history carries no ref: {m}");
            seen.push((
                m["id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            ));
        }
        before = Some(items.last().unwrap()["id"].as_str().unwrap().to_string());
        assert!(sizes.len() <= 10, "paging does not end: {sizes:?}");
    }
    assert_eq!(sizes, vec![2, 2, 2, 1, 0]);
    assert_eq!(seen, newest_first);
}

#[tokio::test]
async fn history_limit_out_of_range_is_invalid() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let ch = a.lobby().general;
    let token = a.token();
    a.send_message(&ch, "only one", "x-1").await;
    for limit in ["0", "101", "-1", "abc"] {
        let path = format!("/api/messages?channel_id={ch}&limit={limit}");
        let (status, body) = server.rest("GET", &path, Some(&token), None).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "INVALID"),
            "{path}: {body}"
        );
    }
    for limit in ["1", "100"] {
        let path = format!("/api/messages?channel_id={ch}&limit={limit}");
        let (status, body) = server.rest("GET", &path, Some(&token), None).await;
        assert_eq!(status, 200, "{path}: {body}");
        let items = page(&body);
        assert_eq!(items.len(), 1, "{body}");
        assert_eq!(items[0]["content"], "only one");
    }
}

#[tokio::test]
async fn overwrite_denying_send_messages_forbids_a_member() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let mut b = Jam::register(&server, "bob").await;
    let a_id = a.user_id();
    let (guild, general) = create_guild(&server, &a.token(), &a_id, "Quiet").await;
    let guild_id = guild["id"].as_str().unwrap().to_string();
    a.recv_op(30).await;
    join_via_invite(&server, &a.token(), &guild_id, &mut b).await;

    let overwrite = json!([{"id": guild_id, "type": "role", "allow": "0", "deny": "2048"}]);
    let (status, channel) = server
        .rest(
            "PUT",
            &format!("/api/channels/{general}"),
            Some(&a.token()),
            Some(&json!({"overwrites": overwrite})),
        )
        .await;
    assert_eq!(status, 200, "PUT /api/channels: {channel}");
    assert_eq!(channel["id"], general.as_str());
    assert_eq!(channel["overwrites"], overwrite);
    // Bob still sees the channel, so he is told it changed.
    let update = b.recv_op(21).await["d"].clone();
    assert_eq!(update["id"], general.as_str());
    assert_eq!(update["overwrites"], overwrite);
    a.recv_op(21).await;

    b.send(
        10,
        json!({"channel_id": general, "content": "can I?"}),
        Some("b-1"),
    )
    .await;
    b.expect_error_for("FORBIDDEN", 10, Some("b-1")).await;
    b.send(60, json!({"channel_id": general}), Some("b-2"))
        .await;
    b.expect_error_for("FORBIDDEN", 60, Some("b-2")).await;

    // The owner passes every check; bob still reads the channel.
    a.send(
        10,
        json!({"channel_id": general, "content": "owner speaks"}),
        Some("a-1"),
    )
    .await;
    assert_eq!(a.recv_op(10).await["d"]["ref"], "a-1");
    let seen = b.recv_op(10).await["d"].clone();
    assert_eq!(seen["content"], "owner speaks");
    assert_eq!(seen["author"]["id"], a_id.as_str());

    // Bob cannot change the channel either.
    let (status, body) = server
        .rest(
            "PUT",
            &format!("/api/channels/{general}"),
            Some(&b.token()),
            Some(&json!({"overwrites": []})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");
}

#[tokio::test]
async fn creating_a_channel_without_manage_channels_is_forbidden() {
    let server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let mut b = Jam::register(&server, "bob").await;
    let (guild, _) = create_guild(&server, &a.token(), &a.user_id(), "Owned").await;
    let guild_id = guild["id"].as_str().unwrap().to_string();
    a.recv_op(30).await;
    join_via_invite(&server, &a.token(), &guild_id, &mut b).await;

    let lobby = b.lobby();
    for gid in [&guild_id, &lobby.guild_id] {
        let (status, body) = server
            .rest(
                "POST",
                "/api/channels",
                Some(&b.token()),
                Some(
                    &json!({"guild_id": gid, "category_id": null, "name": "mine",
                             "type": "text", "topic": "", "position": 0}),
                ),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "FORBIDDEN"),
            "guild {gid}: {body}"
        );
    }
    // Nothing was created: alice (owner) gets no op 20; her next event is
    // bob's message.
    b.send_message(&lobby.general, "still here", "s-1").await;
    let next = a.recv_op(10).await["d"].clone();
    assert_eq!(next["content"], "still here");
}
