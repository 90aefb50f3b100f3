//! Role order and role permissions over OriginChats, seen from JAM too.

mod common;

use common::{oc_guild_url, rest_register, Oc, TestServer};
use serde_json::{json, Value};

#[tokio::test]
async fn roles_reorder_and_change_permissions() {
    let server = TestServer::start();
    let (token, _) = rest_register(&server, "alice").await;
    let (status, guild) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(&token),
            Some(&json!({"name": "Order"})),
        )
        .await;
    assert_eq!(status, 201);
    let gid = guild["id"].as_str().expect("guild id").to_string();
    let mut alice = Oc::with_token_at(&oc_guild_url(&server, &gid), "alice", &token).await;
    for name in ["a", "b", "c"] {
        alice
            .send(json!({"cmd": "role_create", "name": name}))
            .await;
        alice.recv_cmd("role_create").await;
    }

    alice
        .send(json!({"cmd": "role_reorder", "roles": ["c", "a", "b"]}))
        .await;
    assert_eq!(
        alice.recv_cmd("role_reorder").await,
        json!({"cmd": "role_reorder", "roles": ["c", "a", "b"]})
    );
    // The reply to this request, not a push left over from the changes.
    let list = alice.roles_list().await;
    let names: Vec<&String> = list.as_object().expect("roles").keys().collect();
    assert_eq!(names, vec!["owner", "c", "a", "b", "user"], "{list}");

    alice
        .send(json!({"cmd": "role_permissions_set", "name": "b", "permissions": ["send_messages", "connect"]}))
        .await;
    let set = alice.recv_cmd("role_permissions_set").await;
    assert_eq!(set["permissions"], json!(["send_messages", "connect"]));
    assert_eq!(set["updated"], true);
    alice
        .send(json!({"cmd": "role_permissions_get", "name": "b"}))
        .await;
    let got = alice.recv_cmd("role_permissions_get").await;
    assert_eq!(
        (got["name"].clone(), got["permissions"].clone()),
        (json!("b"), json!(["send_messages", "connect"]))
    );

    // JAM sees the same bits.
    let (_, full) = server
        .rest("GET", &format!("/api/guilds/{gid}"), Some(&token), None)
        .await;
    let b = full["roles"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "b"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(b["permissions"], ((1u64 << 11) | (1u64 << 20)).to_string());

    // Errors.
    alice.send(json!({"cmd": "role_reorder"})).await;
    alice
        .expect_error(Some("role_reorder"), "Roles array is required")
        .await;
    alice
        .send(json!({"cmd": "role_reorder", "roles": ["ghost"]}))
        .await;
    alice
        .expect_error(Some("role_reorder"), "Failed to reorder roles")
        .await;
    alice
        .send(json!({"cmd": "role_permissions_set", "name": "b", "permissions": "all"}))
        .await;
    alice
        .expect_error(Some("role_permissions_set"), "Permissions must be an array")
        .await;
    alice
        .send(json!({"cmd": "role_permissions_get", "name": "ghost"}))
        .await;
    alice
        .expect_error(Some("role_permissions_get"), "Role not found")
        .await;
}

#[tokio::test]
async fn nicknames_are_per_guild_and_broadcast() {
    let server = TestServer::start();
    let (a_token, _) = rest_register(&server, "alice").await;
    let (b_token, _) = rest_register(&server, "bob").await;
    let (_, guild) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(&a_token),
            Some(&json!({"name": "Nicks"})),
        )
        .await;
    let gid = guild["id"].as_str().expect("guild id").to_string();
    let (_, invite) = server
        .rest(
            "POST",
            &format!("/api/guilds/{gid}/invites"),
            Some(&a_token),
            None,
        )
        .await;
    let code = invite["code"].as_str().expect("code").to_string();
    server
        .rest(
            "POST",
            &format!("/api/invites/{code}"),
            Some(&b_token),
            None,
        )
        .await;
    let url = oc_guild_url(&server, &gid);
    let mut alice = Oc::with_token_at(&url, "alice", &a_token).await;
    let mut bob = Oc::with_token_at(&url, "bob", &b_token).await;

    alice
        .send(json!({"cmd": "user_update", "user": "bob", "updates": {"nickname": "Bobby"}}))
        .await;
    let got = alice.recv_all(&["user_update", "user_updated"]).await;
    assert_eq!(
        got[0],
        json!({"cmd": "user_update", "user": "bob", "nickname": "Bobby"})
    );
    let heard = bob.recv_cmd("user_updated").await;
    assert_eq!(
        (heard["username"].clone(), heard["nickname"].clone()),
        (json!("bob"), json!("Bobby"))
    );
    bob.send(json!({"cmd": "users_list"})).await;
    let users = bob.recv_cmd("users_list").await;
    let me = users["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["username"] == "bob"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(me["nickname"], "Bobby");

    // Only the nickname can change here; and only with manage_users.
    alice
        .send(json!({"cmd": "user_update", "user": "bob", "updates": {"username": "rob"}}))
        .await;
    alice
        .expect_error(Some("user_update"), "Cannot update field: username")
        .await;
    bob.send(json!({"cmd": "user_update", "user": "alice", "updates": {"nickname": "Al"}}))
        .await;
    bob.expect_error(
        Some("user_update"),
        "Access denied: 'manage_users' permission required",
    )
    .await;
    alice
        .send(json!({"cmd": "user_update", "user": "bob"}))
        .await;
    alice
        .expect_error(Some("user_update"), "Updates must be an object")
        .await;
}
