//! Moderation over OriginChats: bans keep a user out of the guild in every
//! dialect, timeouts stop their messages everywhere, and only those with
//! the right may do either.

mod common;

use common::{oc_guild_url, rest_register, Jam, Oc, TestServer};
use serde_json::{json, Value};

struct Guild {
    server: TestServer,
    guild_id: String,
    alice: Oc,
    bob: Oc,
    bob_token: String,
    invite: String,
}

/// Alice owns a guild (made over JAM REST) that bob joined by invite; both
/// are signed in to it over OriginChats.
async fn guild() -> Guild {
    let server = TestServer::with_config("[originchats.rate_limiting]\nenabled = false\n");
    let (a_token, _) = rest_register(&server, "alice").await;
    let (b_token, _) = rest_register(&server, "bob").await;
    let (status, guild) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(&a_token),
            Some(&json!({"name": "Mods"})),
        )
        .await;
    assert_eq!(status, 201, "{guild}");
    let guild_id = guild["id"].as_str().expect("guild id").to_string();
    let (status, invite) = server
        .rest(
            "POST",
            &format!("/api/guilds/{guild_id}/invites"),
            Some(&a_token),
            None,
        )
        .await;
    assert_eq!(status, 201, "{invite}");
    let invite = invite["code"].as_str().expect("code").to_string();
    let (status, body) = server
        .rest(
            "POST",
            &format!("/api/invites/{invite}"),
            Some(&b_token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let url = oc_guild_url(&server, &guild_id);
    let alice = Oc::with_token_at(&url, "alice", &a_token).await;
    let bob = Oc::with_token_at(&url, "bob", &b_token).await;
    Guild {
        server,
        guild_id,
        alice,
        bob,
        bob_token: b_token,
        invite,
    }
}

#[tokio::test]
async fn a_ban_keeps_the_user_out_in_every_dialect_until_unbanned() {
    let mut g = guild().await;
    let mut bob_jam = Jam::with_token(&g.server, "bob-jam", &g.bob_token).await;

    g.alice
        .send(json!({"cmd": "user_ban", "user": "bob", "listener": "b1"}))
        .await;
    let reply = g.alice.recv_cmd("user_ban").await;
    assert_eq!(
        reply,
        json!({"cmd": "user_ban", "user": "bob", "banned": true, "listener": "b1"})
    );

    // Bob's JAM session learns the guild is gone for him.
    let gone = bob_jam.recv_op(31).await;
    assert_eq!(gone["d"], json!({"id": g.guild_id, "deleted": true}));

    g.alice.send(json!({"cmd": "users_banned_list"})).await;
    let list = g.alice.recv_cmd("users_banned_list").await;
    assert_eq!(list["users"], json!(["bob"]));

    // He cannot sign in to the guild's endpoint, nor come back by invite.
    let url = oc_guild_url(&g.server, &g.guild_id);
    let mut again = Oc::connect_url(&url, "bob-again").await;
    again
        .send(json!({"cmd": "auth", "validator": g.bob_token}))
        .await;
    again
        .expect_auth_error("Access denied: You are banned from this server")
        .await;
    let (status, body) = g
        .server
        .rest(
            "POST",
            &format!("/api/invites/{}", g.invite),
            Some(&g.bob_token),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{body}"
    );

    g.alice
        .send(json!({"cmd": "user_unban", "user": "bob"}))
        .await;
    let reply = g.alice.recv_cmd("user_unban").await;
    assert_eq!(
        reply,
        json!({"cmd": "user_unban", "user": "bob", "unbanned": true})
    );
    g.alice.send(json!({"cmd": "users_banned_list"})).await;
    assert_eq!(
        g.alice.recv_cmd("users_banned_list").await["users"],
        json!([])
    );
    let (status, body) = g
        .server
        .rest(
            "POST",
            &format!("/api/invites/{}", g.invite),
            Some(&g.bob_token),
            None,
        )
        .await;
    assert_eq!(status, 200, "rejoin after unban: {body}");
    let mut back = Oc::with_token_at(&url, "bob", &g.bob_token).await;
    back.ping_ok().await;
}

#[tokio::test]
async fn only_those_with_the_right_may_moderate() {
    let mut g = guild().await;
    for cmd in [
        json!({"cmd": "user_ban", "user": "alice"}),
        json!({"cmd": "user_unban", "user": "alice"}),
        json!({"cmd": "user_timeout", "user": "alice", "timeout": 10}),
        json!({"cmd": "users_banned_list"}),
    ] {
        g.bob.send(cmd.clone()).await;
        let e = g
            .bob
            .expect_error(None, "Access denied: 'owner' role required")
            .await;
        assert!(e.get("src").is_none(), "{cmd}: {e}");
    }
    // Arguments are checked with the reference's words.
    g.alice.send(json!({"cmd": "user_ban"})).await;
    g.alice
        .expect_error(Some("user_ban"), "User parameter is required")
        .await;
    g.alice
        .send(json!({"cmd": "user_ban", "user": "nobody-here"}))
        .await;
    g.alice
        .expect_error(Some("user_ban"), "User not found")
        .await;
    for bad in [json!(0), json!(-5), json!("ten"), Value::Null] {
        g.alice
            .send(json!({"cmd": "user_timeout", "user": "bob", "timeout": bad}))
            .await;
        g.alice
            .expect_error(Some("user_timeout"), "Timeout must be a positive integer")
            .await;
    }
    g.alice.ping_ok().await;
    g.bob.ping_ok().await;
}

#[tokio::test]
async fn a_timeout_silences_the_user_in_every_dialect() {
    let mut g = guild().await;
    let mut bob_jam = Jam::with_token(&g.server, "bob-jam", &g.bob_token).await;
    let general = bob_jam.ready["guilds"]
        .as_array()
        .and_then(|gs| gs.iter().find(|x| x["id"] == g.guild_id.as_str()))
        .and_then(|x| x["channels"].as_array())
        .and_then(|cs| cs.iter().find(|c| c["name"] == "general"))
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .expect("general in bob's op 3");

    g.alice
        .send(json!({"cmd": "user_timeout", "user": "bob", "timeout": 120}))
        .await;
    assert_eq!(
        g.alice.recv_cmd("user_timeout").await,
        json!({"cmd": "user_timeout", "user": "bob", "timeout": 120})
    );
    let notice = g.bob.recv_cmd("rate_limit").await;
    assert_eq!(notice["reason"], "User timeout set");
    let length = notice["length"].as_u64().expect("length");
    assert!(length > 100_000 && length <= 120_000, "{notice}");

    g.bob
        .send(json!({"cmd": "message_new", "channel": "general", "content": "hello?", "listener": "m"}))
        .await;
    let refused = g.bob.recv_cmd("rate_limit").await;
    assert_eq!(refused["listener"], "m");
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("You are in timeout for "), "{refused}");

    bob_jam
        .send(
            10,
            json!({"channel_id": general, "content": "over jam?"}),
            Some("j"),
        )
        .await;
    let e = bob_jam.expect_error("RATE_LIMITED").await;
    assert!(
        e["retry_after_ms"].as_u64().is_some_and(|ms| ms > 100_000),
        "{e}"
    );

    // Alice, not timed out, still speaks; nobody saw bob's attempts.
    let sent = g.alice.send_message("general", "still here", "a").await;
    let seen = g.bob.recv_cmd("message_new").await;
    assert_eq!(seen["message"]["id"], sent["message"]["id"]);
}
