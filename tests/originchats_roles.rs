//! OriginChats roles and server administration on a guild of alice's own:
//! `roles_list`, `role_create`, `role_update`, `role_delete`,
//! `user_roles_get`, `user_roles_set`, role changes seen across JAM and
//! OriginChats, `server_update` (with JAM op 31), `rate_limit_status` and
//! `rate_limit_reset`.

mod common;

use common::{assert_id, channel_roles, find, without_listener, Jam, Oc, OwnGuild, TestServer};
use serde_json::{json, Value};

const NO_LIMITER: &str = "[originchats.rate_limiting]\nenabled = false\n";
const DENIED_ROLES: &str = "Access denied: 'manage_roles' permission required";
const DENIED_SERVER: &str = "Access denied: 'manage_server' permission required";
const NOT_FOUND: &str = "User not found";

/// `@everyone`'s default bits (JAM profile §2) under their OriginChats
/// names (VIEW_CHANNEL and CREATE_INVITE have none).
const EVERYONE_NAMES: [&str; 7] = [
    "read_message_history",
    "send_messages",
    "attach_files",
    "add_reactions",
    "connect",
    "speak",
    "stream",
];

/// Sends `role_create` and returns the reply (listener checked and
/// removed); `oc` also gets a `roles_list` push without listener that
/// lists the new role.
async fn create_role(oc: &mut Oc, body: Value) -> Value {
    let name = body["name"].as_str().expect("name").to_string();
    let mut req = body;
    req["cmd"] = json!("role_create");
    req["listener"] = json!("rc");
    oc.send(req).await;
    let got = oc.recv_all(&["role_create", "roles_list"]).await;
    let push = &got[1];
    assert!(
        push.get("listener").is_none() && push["roles"].get(&name).is_some(),
        "{push}"
    );
    let id = assert_id(&got[0]["id"], "role_create.id");
    assert_eq!(
        got[0],
        json!({"cmd": "role_create", "id": id, "name": name, "listener": "rc"})
    );
    without_listener(&got[0])
}

fn keys(o: &Value) -> Vec<String> {
    o.as_object().expect("object").keys().cloned().collect()
}

#[tokio::test]
async fn roles_list_after_role_create() {
    let mut g = OwnGuild::start(NO_LIMITER, "Roles").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    let body = json!({"name": "mods", "permissions": ["send_messages", "manage_messages"],
                      "color": "#ff8800", "hoisted": true});
    let id = create_role(alice, body).await["id"].clone();

    // Bob hears the push, without a listener.
    let push = bob.recv_cmd("roles_list").await;
    assert!(push.get("listener").is_none(), "{push}");
    assert_eq!(keys(&push["roles"]), ["owner", "mods", "user"], "{push}");
    assert_eq!(push["roles"]["mods"]["id"], id, "{push}");

    let roles = bob.roles_list().await;
    assert_eq!(keys(&roles), ["owner", "mods", "user"], "{roles}");
    let owner = &roles["owner"];
    assert_eq!(owner["permissions"], json!(["administrator"]), "{owner}");
    assert_eq!(
        (&owner["self_assignable"], &owner["category"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(
        roles["mods"],
        json!({"id": id, "description": "", "color": "#ff8800", "hoisted": true,
               "permissions": ["manage_messages", "send_messages"], "self_assignable": false,
               "category": null, "position": roles["mods"]["position"]}),
    );
    let user = &roles["user"];
    assert_eq!(
        user["id"],
        g.guild_id.as_str(),
        "`user` is @everyone: {user}"
    );
    assert_eq!(user["permissions"], json!(EVERYONE_NAMES), "{user}");
    assert_eq!(user["color"], Value::Null, "{user}");
    let positions: Vec<u64> = ["owner", "mods", "user"]
        .iter()
        .map(|k| roles[*k]["position"].as_u64().expect("position"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

    // No other broadcast (no server_update, say) came before the marker.
    g.alice.send_message("general", "marker", "m").await;
    g.bob.expect_marker("general", "marker").await;
}

#[tokio::test]
async fn role_create_refusals() {
    let mut g = OwnGuild::start(NO_LIMITER, "Roles").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    create_role(alice, json!({"name": "mods"})).await;
    bob.recv_cmd("roles_list").await;
    let exists = "Role already exists";
    let cases = [
        (json!({}), "Role name is required"),
        (json!({"name": "   "}), "Role name is required"),
        (json!({"name": "mods"}), exists),
        (json!({"name": "owner"}), exists),
        (json!({"name": "user"}), exists),
        (
            json!({"name": "x", "permissions": ["fly"]}),
            "Unknown permission: fly",
        ),
    ];
    for (body, error) in cases {
        alice.refused("role_create", body, error).await;
    }
    bob.refused("role_create", json!({"name": "sneaky"}), DENIED_ROLES)
        .await;
    // Nothing was made: no push came before this marker, and the list
    // still has only mods.
    alice.send_message("general", "marker", "m").await;
    bob.expect_marker("general", "marker").await;
    assert_eq!(keys(&bob.roles_list().await), ["owner", "mods", "user"]);
}

#[tokio::test]
async fn role_update_and_delete() {
    let mut g = OwnGuild::start(NO_LIMITER, "Roles").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    let created = create_role(alice, json!({"name": "helpers"})).await;
    let id = created["id"].as_str().expect("id").to_string();
    alice
        .send(json!({"cmd": "user_roles_set", "user": "bob", "roles": ["helpers"]}))
        .await;
    alice.recv_cmd("user_roles_get").await;
    bob.recv_cmd("user_roles_get").await;

    alice
        .send(
            json!({"cmd": "role_update", "name": "helpers", "new_name": "guides",
                     "color": "#00ff00", "permissions": ["manage_messages"], "hoisted": true,
                     "listener": "ru"}),
        )
        .await;
    let got = alice.recv_all(&["role_update", "roles_list"]).await;
    assert_eq!(
        got[0],
        json!({"cmd": "role_update", "id": id, "name": "helpers", "updated": true, "listener": "ru"})
    );
    let roles = &got[1]["roles"];
    assert_eq!(keys(roles), ["owner", "guides", "user"], "{roles}");
    let guides = &roles["guides"];
    assert_eq!(
        [
            &guides["id"],
            &guides["color"],
            &guides["hoisted"],
            &guides["permissions"]
        ],
        [
            &json!(id),
            &json!("#00ff00"),
            &json!(true),
            &json!(["manage_messages"])
        ],
        "{guides}"
    );
    assert_eq!(
        bob.user_roles("bob").await["roles"],
        json!(["guides", "user"])
    );

    // By id, too.
    let reply = alice
        .request("role_update", json!({"id": id, "permissions": []}))
        .await;
    assert_eq!(
        reply,
        json!({"cmd": "role_update", "id": id, "name": "guides", "updated": true})
    );
    assert_eq!(alice.roles_list().await["guides"]["permissions"], json!([]));

    let cases = [
        (json!({"new_name": "x"}), "Role id or name is required"),
        (json!({"name": "ghost"}), "Role not found"),
        (
            json!({"name": "owner", "hoisted": false}),
            "Cannot manage protected role 'owner'",
        ),
        (
            json!({"name": "guides", "permissions": ["fly"]}),
            "Unknown permission: fly",
        ),
    ];
    for (body, error) in cases {
        alice.refused("role_update", body, error).await;
    }
    bob.refused(
        "role_update",
        json!({"name": "guides", "hoisted": false}),
        DENIED_ROLES,
    )
    .await;
    bob.refused("role_delete", json!({"name": "guides"}), DENIED_ROLES)
        .await;
    for (body, error) in [
        (json!({"name": "owner"}), "Cannot delete system roles"),
        (json!({"name": "user"}), "Cannot delete system roles"),
        (json!({"name": "ghost"}), "Role not found"),
    ] {
        alice.refused("role_delete", body, error).await;
    }
    alice
        .send(json!({"cmd": "role_delete", "name": "guides", "listener": "rd"}))
        .await;
    let got = alice.recv_all(&["role_delete", "roles_list"]).await;
    assert_eq!(
        got[0],
        json!({"cmd": "role_delete", "id": id, "name": "guides", "deleted": true, "listener": "rd"})
    );
    assert_eq!(keys(&got[1]["roles"]), ["owner", "user"]);
    assert_eq!(keys(&bob.roles_list().await), ["owner", "user"]);
    assert_eq!(bob.user_roles("bob").await["roles"], json!(["user"]));

    // Deleting by id.
    let other = create_role(alice, json!({"name": "temp"})).await;
    let reply = alice
        .request("role_delete", json!({"id": other["id"]}))
        .await;
    assert_eq!(
        reply,
        json!({"cmd": "role_delete", "id": other["id"], "name": "temp", "deleted": true})
    );
    assert_eq!(keys(&alice.roles_list().await), ["owner", "user"]);
}

#[tokio::test]
async fn user_roles_get_and_set() {
    let mut g = OwnGuild::start(NO_LIMITER, "Roles").await;
    // A user of the server who is not in this guild.
    common::rest_register(&g.server, "carol").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    assert_eq!(
        bob.user_roles("alice").await,
        json!({"cmd": "user_roles_get", "user": "alice", "roles": ["owner", "user"], "color": null})
    );
    assert_eq!(
        alice.user_roles("bob").await,
        json!({"cmd": "user_roles_get", "user": "bob", "roles": ["user"], "color": null})
    );
    create_role(alice, json!({"name": "mods", "color": "#112233"})).await;
    create_role(alice, json!({"name": "fans"})).await;

    alice
        .send(
            json!({"cmd": "user_roles_set", "user": "bob", "roles": ["fans", "mods", "user"],
                     "listener": "set"}),
        )
        .await;
    let mine = alice.recv_cmd("user_roles_get").await;
    let want = json!({"cmd": "user_roles_get", "user": "bob", "roles": ["mods", "fans", "user"],
                      "color": "#112233", "global": true});
    assert_eq!(mine["listener"], "set", "{mine}");
    assert_eq!(without_listener(&mine), want);
    assert_eq!(bob.recv_cmd("user_roles_get").await, want);
    let mut got = bob.user_roles("bob").await;
    got["global"] = json!(true);
    assert_eq!(got, want);

    let (get, set) = ("user_roles_get", "user_roles_set");
    let cases = [
        (get, json!({}), "User parameter is required"),
        (get, json!({"user": "nobody"}), NOT_FOUND),
        (get, json!({"user": "carol"}), NOT_FOUND),
        (
            set,
            json!({"roles": ["mods"]}),
            "User parameter is required",
        ),
        (set, json!({"user": "bob"}), "Roles list is required"),
        (set, json!({"user": "nobody", "roles": []}), NOT_FOUND),
        (set, json!({"user": "carol", "roles": []}), NOT_FOUND),
        (
            set,
            json!({"user": "bob", "roles": ["ghost"]}),
            "Role 'ghost' does not exist",
        ),
    ];
    for (cmd, body, error) in cases {
        alice.refused(cmd, body, error).await;
    }
    let denied = "Access denied: 'manage_users' permission required";
    bob.refused(set, json!({"user": "bob", "roles": []}), denied)
        .await;
    // Bob's roles are unchanged, and no broadcast came before the marker.
    alice.send_message("general", "marker", "m").await;
    bob.expect_marker("general", "marker").await;
    assert_eq!(
        bob.user_roles("bob").await["roles"],
        json!(["mods", "fans", "user"])
    );
}

#[tokio::test]
async fn a_jam_role_shows_in_originchats() {
    let mut g = OwnGuild::start(NO_LIMITER, "Cross").await;
    let gid = g.guild_id.clone();
    let body = json!({"guild_id": gid, "name": "mods", "permissions": "8192"});
    let role = g.alice_rest("POST", "/api/roles", Some(&body), 201).await;
    let role_id = role["id"].as_str().expect("role id").to_string();
    let path = format!("/api/guilds/{gid}/members/{}/roles", g.bob_id);
    g.alice_rest("PUT", &path, Some(&json!([role_id])), 204)
        .await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    // Both hear bob's new roles (the roles_list push before is skipped).
    let heard = json!({"cmd": "user_roles_get", "user": "bob", "roles": ["mods", "user"],
                       "color": null, "global": true});
    assert_eq!(bob.recv_cmd("user_roles_get").await, heard);
    assert_eq!(alice.recv_cmd("user_roles_get").await, heard);
    let roles = alice.roles_list().await;
    assert_eq!(keys(&roles), ["owner", "mods", "user"], "{roles}");
    assert_eq!(roles["mods"]["id"], role_id.as_str());
    assert_eq!(roles["mods"]["permissions"], json!(["manage_messages"]));
    assert_eq!(
        alice.user_roles("bob").await["roles"],
        json!(["mods", "user"])
    );
    let channels = bob.channels().await;
    let general = find(&channels, "name", "general").expect("general");
    for action in ["delete", "pin"] {
        let names = channel_roles(general, action);
        assert!(names.contains(&"mods".to_string()), "{action}: {general}");
        assert!(!names.contains(&"user".to_string()), "{action}: {general}");
    }
    // The bit is real: bob may now pin alice's message.
    let sent = alice.send_message("general", "pin this", "m").await;
    bob.recv_cmd("message_new").await;
    let id = Oc::message_id(&sent);
    let pinned = bob
        .request("message_pin", json!({"channel": "general", "id": id}))
        .await;
    assert_eq!(
        pinned,
        json!({"cmd": "message_pin", "id": id, "channel": "general", "pinned": true, "global": true})
    );
}

#[tokio::test]
async fn an_originchats_role_shows_in_jam() {
    let mut g = OwnGuild::start(NO_LIMITER, "Cross").await;
    let body = json!({"name": "mods", "permissions": ["manage_messages"], "color": "#ff0000"});
    create_role(&mut g.alice, body).await;
    let body =
        json!({"name": "hosts", "permissions": ["manage_server", "manage_channels", "connect"]});
    create_role(&mut g.alice, body).await;
    let guild = g.jam_guild().await;
    let mods = find(&guild["roles"], "name", "mods").expect("mods in JAM");
    assert_eq!(
        (&mods["permissions"], &mods["color"], &mods["guild_id"]),
        (&json!("8192"), &json!(0xff0000), &json!(g.guild_id)),
        "{mods}"
    );
    let hosts = find(&guild["roles"], "name", "hosts").expect("hosts in JAM");
    let bits: u64 = (1 << 5) | (1 << 4) | (1 << 20);
    assert_eq!(hosts["permissions"], bits.to_string(), "{hosts}");
}

/// `server_update` by `oc`: the reply (with listener, removed here) and
/// the broadcast (without), in whatever order they come.
async fn server_update(oc: &mut Oc, body: Value) -> (Value, Value) {
    let mut req = body;
    req["cmd"] = json!("server_update");
    req["listener"] = json!("su");
    oc.send(req).await;
    let mut got = oc.recv_all(&["server_update", "server_update"]).await;
    got.sort_by_key(|f| f.get("listener").is_none());
    assert_eq!(got[0]["listener"], "su", "the reply: {}", got[0]);
    assert!(
        got[1].get("listener").is_none(),
        "the broadcast: {}",
        got[1]
    );
    (without_listener(&got[0]), got[1].clone())
}

#[tokio::test]
async fn server_update_renames_the_guild_everywhere() {
    let mut g = OwnGuild::start(NO_LIMITER, "Old name").await;
    let mut jam = Jam::with_token(&g.server, "alice", &g.alice_token).await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);

    let (reply, push) = server_update(alice, json!({"name": "New name"})).await;
    let want = json!({"cmd": "server_update", "name": "New name", "icon": null, "banner": null});
    assert_eq!((&reply, &push), (&want, &want));
    assert_eq!(bob.recv_cmd("server_update").await, want);
    let op31 = jam.recv_op(31).await;
    assert_eq!(op31["d"]["name"], "New name", "{op31}");
    let info = bob.request("server_info", json!({})).await;
    assert_eq!(info["name"], "New name", "{info}");

    let cmd = "server_update";
    alice.refused(cmd, json!({}), "No updates provided").await;
    let error = "Name must be a string or null";
    alice.refused(cmd, json!({"name": 5}), error).await;
    bob.refused(cmd, json!({"name": "Bob's"}), DENIED_SERVER)
        .await;
    // Nothing changed and nothing was broadcast before the marker.
    alice.send_message("general", "marker", "m").await;
    bob.expect_marker("general", "marker").await;
    let info = bob.request("server_info", json!({})).await;
    assert_eq!(info["name"], "New name", "{info}");
}

#[tokio::test]
async fn server_update_keeps_icon_and_banner() {
    let mut g = OwnGuild::start(NO_LIMITER, "Pictures").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    let (icon, banner) = (
        "https://example.com/icon.png",
        "https://example.com/banner.png",
    );
    let (reply, _) = server_update(alice, json!({"icon": icon, "banner": banner})).await;
    let heard = bob.recv_cmd("server_update").await;
    let info = bob.request("server_info", json!({})).await;
    // All three at once, so that a failure shows each of them.
    let fields = json!({"name": "Pictures", "icon": icon, "banner": banner});
    let with = |cmd: &str| {
        let mut v = fields.clone();
        v["cmd"] = json!(cmd);
        v
    };
    assert_eq!(
        [reply, heard, info],
        [
            with("server_update"),
            with("server_update"),
            with("server_info")
        ]
    );
}

/// `rate_limit_status` as it should read.
fn status(user: &str, minute: u64, recent: u64, limit: u64, burst: u64, cooldown: f64) -> Value {
    json!({"cmd": "rate_limit_status", "user": user, "status": {
        "messages_this_minute": minute, "messages_per_minute_limit": limit,
        "recent_messages": recent, "burst_limit": burst, "cooldown_remaining": cooldown}})
}

#[tokio::test]
async fn rate_limit_status_and_reset() {
    let config = "[originchats.rate_limiting]\nenabled = true\nmessages_per_minute = 60\n\
                  burst_limit = 3\ncooldown_seconds = 600\n";
    let mut g = OwnGuild::start(config, "Limits").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    let cmd = "rate_limit_status";
    assert_eq!(
        bob.request(cmd, json!({})).await,
        status("bob", 0, 0, 60, 3, 0.0)
    );
    for content in ["one", "two"] {
        bob.send_message("general", content, content).await;
        alice.expect_marker("general", content).await;
    }
    let two = status("bob", 2, 2, 60, 3, 0.0);
    assert_eq!(bob.request(cmd, json!({"user": "bob"})).await, two);
    assert_eq!(
        alice.request(cmd, json!({"user": "bob"})).await,
        two,
        "the owner may look"
    );
    let denied = "Access denied: can only check your own rate limit status";
    bob.refused(cmd, json!({"user": "alice"}), denied).await;

    // The third fills the burst; the fourth starts the cooldown.
    for content in ["three", "four"] {
        bob.send(json!({"cmd": "message_new", "channel": "general", "content": content}))
            .await;
    }
    let got = bob.recv_all(&["message_new", "rate_limit"]).await;
    assert_eq!(got[0]["message"]["content"], "three");
    alice.expect_marker("general", "three").await;
    let reason = "Burst limit exceeded. You're in cooldown for 600 seconds";
    assert_eq!(got[1]["reason"], reason, "{}", got[1]);
    let f = bob.request(cmd, json!({})).await;
    let cooldown = f["status"]["cooldown_remaining"].as_f64().unwrap_or(-1.0);
    assert!(cooldown > 0.0 && cooldown <= 600.0, "{f}");
    assert_eq!(f, status("bob", 3, 3, 60, 3, cooldown));

    let cmd = "rate_limit_reset";
    bob.refused(cmd, json!({"user": "bob"}), DENIED_SERVER)
        .await;
    alice
        .refused(cmd, json!({}), "User parameter is required")
        .await;
    assert_eq!(
        alice.request(cmd, json!({"user": "bob"})).await,
        json!({"cmd": cmd, "user": "bob", "val": "Rate limit reset for user bob"})
    );
    bob.send_message("general", "free again", "5").await;
    alice.expect_marker("general", "free again").await;
    let f = bob.request("rate_limit_status", json!({})).await;
    assert_eq!(f, status("bob", 1, 1, 60, 3, 0.0));
}

#[tokio::test]
async fn rate_limit_status_without_a_limiter() {
    let server = TestServer::with_config(NO_LIMITER);
    let mut alice = Oc::register(&server, "alice").await;
    let error = "Rate limiter not available or disabled";
    alice.refused("rate_limit_status", json!({}), error).await;
}

/// The reference gates `user_roles_set` on `manage_users` (§7), and the
/// refusal names it: a holder of `manage_users` alone may set roles (here
/// his own, with a role below his: the role hierarchy keeps everyone off
/// the owner's roles, see tests/security_roles.rs).
#[tokio::test]
async fn manage_users_is_enough_for_user_roles_set() {
    let mut g = OwnGuild::start(NO_LIMITER, "Roles").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    create_role(
        alice,
        json!({"name": "staff", "permissions": ["manage_users"]}),
    )
    .await;
    create_role(alice, json!({"name": "fans"})).await;
    alice
        .send(json!({"cmd": "user_roles_set", "user": "bob", "roles": ["staff"]}))
        .await;
    alice.recv_cmd("user_roles_get").await;
    bob.recv_cmd("user_roles_get").await;
    bob.send(
        json!({"cmd": "user_roles_set", "user": "bob", "roles": ["staff", "fans"], "listener": "s"}),
    )
    .await;
    let f = bob.recv_cmd("user_roles_get").await;
    assert_eq!(f["listener"], "s", "{f}");
    assert_eq!(f["roles"], json!(["staff", "fans", "user"]), "{f}");
    alice.recv_cmd("user_roles_get").await;
    // Without `manage_users` again, bob is refused, naming the permission.
    alice
        .send(json!({"cmd": "user_roles_set", "user": "bob", "roles": []}))
        .await;
    alice.recv_cmd("user_roles_get").await;
    bob.recv_cmd("user_roles_get").await;
    let body = json!({"user": "alice", "roles": []});
    let denied = "Access denied: 'manage_users' permission required";
    bob.refused("user_roles_set", body, denied).await;
}
