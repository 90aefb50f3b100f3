//! Self-roles over OriginChats: roles marked self-assignable can be taken
//! and dropped by members themselves, and everyone hears the change.

mod common;

use common::{oc_guild_url, rest_register, Oc, TestServer};
use serde_json::json;

#[tokio::test]
async fn members_take_and_drop_self_assignable_roles() {
    let server = TestServer::with_config("[originchats.rate_limiting]\nenabled = false\n");
    let (a_token, _) = rest_register(&server, "alice").await;
    let (b_token, _) = rest_register(&server, "bob").await;
    let (status, guild) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(&a_token),
            Some(&json!({"name": "Hobbies"})),
        )
        .await;
    assert_eq!(status, 201, "{guild}");
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
    let (status, _) = server
        .rest(
            "POST",
            &format!("/api/invites/{code}"),
            Some(&b_token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let url = oc_guild_url(&server, &gid);
    let mut alice = Oc::with_token_at(&url, "alice", &a_token).await;
    let mut bob = Oc::with_token_at(&url, "bob", &b_token).await;

    alice
        .send(
            json!({"cmd": "role_create", "name": "gamer", "color": "#00aa00",
                     "self_assignable": true, "description": "plays games", "category": "hobbies"}),
        )
        .await;
    alice
        .recv_all(&["role_create", "roles_list", "roles_list"])
        .await;
    alice
        .send(json!({"cmd": "role_create", "name": "staff", "permissions": ["manage_messages"]}))
        .await;
    alice.recv_all(&["role_create", "roles_list"]).await;
    alice
        .send(json!({"cmd": "role_create", "name": "admin", "self_assignable": true}))
        .await;
    alice
        .expect_error(
            Some("role_create"),
            "Role 'admin' cannot be made self-assignable",
        )
        .await;

    bob.send(json!({"cmd": "self_roles_list"})).await;
    let list = bob.recv_cmd("self_roles_list").await;
    let roles = list["roles"].as_array().expect("roles");
    assert_eq!(roles.len(), 1, "only gamer is self-assignable: {list}");
    assert_eq!(roles[0]["name"], "gamer");
    assert_eq!(roles[0]["description"], "plays games");
    assert_eq!(roles[0]["category"], "hobbies");
    assert_eq!(roles[0]["assigned"], false);

    bob.send(json!({"cmd": "self_role_add", "role": "gamer", "listener": "s"}))
        .await;
    let replies = bob.recv_all(&["self_role_add", "user_roles_get"]).await;
    assert_eq!(
        replies[0],
        json!({"cmd": "self_role_add", "role": "gamer", "success": true, "roles": ["gamer", "user"], "listener": "s"})
    );
    assert_eq!(replies[1]["roles"], json!(["gamer", "user"]));
    // Everyone hears it, as `user_roles_get`.
    let heard = alice.recv_cmd("user_roles_get").await;
    assert_eq!(
        heard,
        json!({"cmd": "user_roles_get", "user": "bob", "roles": ["gamer", "user"], "color": "#00aa00", "global": true})
    );

    bob.send(json!({"cmd": "self_role_add", "role": "gamer"}))
        .await;
    bob.expect_error(Some("self_role_add"), "You already have this role")
        .await;
    bob.send(json!({"cmd": "self_role_add", "role": "staff"}))
        .await;
    bob.expect_error(Some("self_role_add"), "This role is not self-assignable")
        .await;
    bob.send(json!({"cmd": "self_role_add", "role": "nope"}))
        .await;
    bob.expect_error(Some("self_role_add"), "Role not found")
        .await;
    bob.send(json!({"cmd": "self_role_add"})).await;
    bob.expect_error(Some("self_role_add"), "Role name is required")
        .await;

    bob.send(json!({"cmd": "self_role_remove", "role": "gamer"}))
        .await;
    let replies = bob.recv_all(&["self_role_remove", "user_roles_get"]).await;
    assert_eq!(replies[0]["roles"], json!(["user"]));
    bob.send(json!({"cmd": "self_role_remove", "role": "gamer"}))
        .await;
    bob.expect_error(Some("self_role_remove"), "You don't have this role")
        .await;

    // The JAM view of the guild carries the same flag.
    let (_, full) = server
        .rest("GET", &format!("/api/guilds/{gid}"), Some(&a_token), None)
        .await;
    assert!(full["roles"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["name"] == "gamer")));
}
