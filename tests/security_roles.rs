//! Security, part 3: the role hierarchy (issue 16, points 4 and 5).
//!
//! Alice owns the guild `Ranks` and holds `admin` herself. Its roles, top
//! to bottom: `admin` (ADMINISTRATOR, carol holds it), the manager's role
//! (bob holds it; MANAGE_ROLES, MANAGE_CHANNELS or the moderation bits,
//! depending on the test), `low` (dave holds it), then `@everyone`.
//!
//! Every attack an outside probe made is tried over JAM REST and over
//! OriginChats, and each must be refused on the wire, leave the roles, the
//! members' roles, the channel's overwrites and the messages as they were.
//! A manager still manages what ranks below them.

mod common;

use common::{error_code, find, oc_guild_url, rest_register, Oc, TestServer};
use serde_json::{json, Value};

const NO_LIMITER: &str = "[originchats.rate_limiting]\nenabled = false\n";

const BAN_MEMBERS: u64 = 1 << 2;
const ADMINISTRATOR: u64 = 1 << 3;
const MANAGE_CHANNELS: u64 = 1 << 4;
const SEND_MESSAGES: u64 = 1 << 11;
const MANAGE_MESSAGES: u64 = 1 << 13;
const MANAGE_ROLES: u64 = 1 << 28;
const MODERATE_MEMBERS: u64 = 1 << 40;

/// The guild's rule and the OriginChats shapes of its refusals.
const AT_OR_ABOVE: &str = "Cannot manage roles at or above your position";
const OUTRANKED: &str = "Cannot act on a member whose highest role is at or above yours";
const OWNER_ROLES: &str = "The owner's roles cannot be changed";
const MOVE_UP: &str = "Cannot move a role to or above your highest role";
const GRANT: &str = "You cannot grant permissions you do not have";
const NO_ADMIN_OVERWRITE: &str = "ADMINISTRATOR cannot be allowed through a channel overwrite";
const OVERWRITE_BITS: &str = "Overwrites may only allow or deny permissions you have";
const OVERWRITE_ABOVE: &str = "Cannot set an overwrite for a member at or above your position";
const OC_ROLES: &str = "Access denied: 'manage_roles' permission required";
const OC_USERS: &str = "Access denied: 'manage_users' permission required";
const OC_CHANNELS: &str = "Access denied: 'manage_channels' permission required";

struct Member {
    token: String,
    id: String,
}

struct Ranks {
    server: TestServer,
    guild: String,
    general: String,
    alice: Member,
    bob: Member,
    carol: Member,
    dave: Member,
    admin: String,
    manager: String,
    low: String,
}

/// The guild described at the top; bob's role is called `manager_name`
/// and holds `manager_bits`.
async fn ranks(manager_name: &str, manager_bits: u64) -> Ranks {
    let server = TestServer::with_config(NO_LIMITER);
    let mut people = Vec::new();
    for name in ["alice", "bob", "carol", "dave"] {
        let (token, user) = rest_register(&server, name).await;
        let id = user["id"].as_str().expect("user id").to_string();
        people.push(Member { token, id });
    }
    let dave = people.pop().expect("dave");
    let carol = people.pop().expect("carol");
    let bob = people.pop().expect("bob");
    let alice = people.pop().expect("alice");
    let (status, guild) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(&alice.token),
            Some(&json!({"name": "Ranks", "owner_id": alice.id, "description": ""})),
        )
        .await;
    assert_eq!(status, 201, "{guild}");
    let gid = guild["id"].as_str().expect("guild id").to_string();
    let general = find(&guild["channels"], "name", "general")
        .and_then(|c| c["id"].as_str())
        .expect("general")
        .to_string();
    let (status, invite) = server
        .rest(
            "POST",
            &format!("/api/guilds/{gid}/invites"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, 201, "{invite}");
    let code = invite["code"].as_str().expect("invite code");
    for m in [&bob, &carol, &dave] {
        let path = format!("/api/invites/{code}");
        let (status, body) = server.rest("POST", &path, Some(&m.token), None).await;
        assert!(status == 200 || status == 201, "join: {status} {body}");
    }
    let mut ids = Vec::new();
    for (name, bits) in [
        ("admin", ADMINISTRATOR),
        (manager_name, manager_bits),
        ("low", SEND_MESSAGES),
    ] {
        let body = json!({"guild_id": gid, "name": name, "permissions": bits.to_string()});
        let (status, role) = server
            .rest("POST", "/api/roles", Some(&alice.token), Some(&body))
            .await;
        assert_eq!(status, 201, "{role}");
        ids.push(role["id"].as_str().expect("role id").to_string());
    }
    let (admin, manager, low) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    for (m, role) in [
        (&alice, &admin),
        (&carol, &admin),
        (&bob, &manager),
        (&dave, &low),
    ] {
        let path = format!("/api/guilds/{gid}/members/{}/roles", m.id);
        let (status, body) = server
            .rest("PUT", &path, Some(&alice.token), Some(&json!([role])))
            .await;
        assert_eq!(status, 204, "{path}: {body}");
    }
    let r = Ranks {
        server,
        guild: gid,
        general,
        alice,
        bob,
        carol,
        dave,
        admin,
        manager,
        low,
    };
    // The order is as described: admin, the manager's role, low, @everyone.
    let names: Vec<Value> = r
        .jam_roles()
        .await
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!("admin"),
            json!(manager_name),
            json!("low"),
            json!("@everyone")
        ]
    );
    r
}

impl Ranks {
    /// A REST call as `who`.
    async fn rest(
        &self,
        who: &Member,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        self.server.rest(method, path, Some(&who.token), body).await
    }

    /// A REST call as bob (`body` `Null`: none) that must be refused 403
    /// FORBIDDEN with `message`.
    async fn bob_refused(&self, method: &str, path: &str, body: &Value, message: &str) {
        let body = Some(body).filter(|b| !b.is_null());
        let (status, got) = self.rest(&self.bob, method, path, body).await;
        assert_eq!(
            (status, error_code(&got), got["error"]["message"].as_str()),
            (403, "FORBIDDEN", Some(message)),
            "{method} {path} {body:?}: {got}"
        );
    }

    /// The guild's roles as JAM shows them, top to bottom: by `position`,
    /// `@everyone` last.
    async fn jam_roles(&self) -> Vec<Value> {
        let path = format!("/api/guilds/{}", self.guild);
        let (status, guild) = self.rest(&self.alice, "GET", &path, None).await;
        assert_eq!(status, 200, "{guild}");
        let mut roles = guild["roles"].as_array().expect("roles").clone();
        roles.sort_by_key(|r| {
            (
                r["id"] == self.guild.as_str(),
                r["position"].as_i64().unwrap_or(i64::MAX),
            )
        });
        roles
    }

    /// Signs `who` in to the guild over OriginChats.
    async fn oc(&self, name: &str, who: &Member) -> Oc {
        Oc::with_token_at(&oc_guild_url(&self.server, &self.guild), name, &who.token).await
    }

    /// The channel `general` over REST.
    async fn general(&self) -> Value {
        let path = format!("/api/channels/{}", self.general);
        let (status, channel) = self.rest(&self.alice, "GET", &path, None).await;
        assert_eq!(status, 200, "{channel}");
        channel
    }

    /// The contents of `general`'s history, newest page.
    async fn history(&self) -> Vec<Value> {
        let path = format!("/api/messages?channel_id={}", self.general);
        let (status, list) = self.rest(&self.alice, "GET", &path, None).await;
        assert_eq!(status, 200, "{list}");
        list.as_array()
            .expect("history")
            .iter()
            .map(|m| m["content"].clone())
            .collect()
    }
}

/// Everything the roles attacks could have changed, as alice reads it:
/// the JAM role list, the OriginChats role list, and each member's roles.
async fn snapshot(r: &Ranks, alice: &mut Oc) -> Value {
    let mut members = serde_json::Map::new();
    for name in ["alice", "bob", "carol", "dave"] {
        members.insert(name.into(), alice.user_roles(name).await["roles"].clone());
    }
    json!({"jam": r.jam_roles().await, "oc": alice.roles_list().await, "members": members})
}

#[tokio::test]
async fn manage_roles_cannot_reach_above_itself_over_jam_rest() {
    let r = ranks("helper", MANAGE_ROLES).await;
    let mut alice = r.oc("alice", &r.alice).await;
    let before = snapshot(&r, &mut alice).await;
    assert_eq!(
        before["members"],
        json!({"alice": ["owner", "admin", "user"], "bob": ["helper", "user"],
               "carol": ["admin", "user"], "dave": ["low", "user"]})
    );
    let gid = &r.guild;
    let of = |m: &Member| format!("/api/guilds/{gid}/members/{}/roles", m.id);
    let me = format!("/api/guilds/{gid}/members/@me/roles");
    let role = |id: &str| format!("/api/roles/{id}");
    let (admin, own, low) = (role(&r.admin), role(&r.manager), role(&r.low));
    let ban = json!({"permissions": BAN_MEMBERS.to_string()});
    let root = json!({"guild_id": gid, "name": "root", "permissions": ADMINISTRATOR.to_string()});
    let none = Value::Null;
    let attacks = [
        // Remove an administrator's roles.
        ("PUT", &of(&r.carol), json!([]), OUTRANKED),
        // Rename, strip and delete the ADMINISTRATOR role.
        ("PATCH", &admin, json!({"name": "pwned"}), AT_OR_ABOVE),
        ("PUT", &admin, json!({"permissions": "0"}), AT_OR_ABOVE),
        ("DELETE", &admin, none.clone(), AT_OR_ABOVE),
        // Strip the owner's roles, or give her another.
        ("PUT", &of(&r.alice), json!([]), OWNER_ROLES),
        ("PUT", &of(&r.alice), json!([r.admin, r.low]), OWNER_ROLES),
        // Move their own role to the top, or another to or above it.
        ("PATCH", &own, json!({"position": 0}), AT_OR_ABOVE),
        ("PATCH", &low, json!({"position": 0}), MOVE_UP),
        ("PATCH", &low, json!({"position": 2}), MOVE_UP),
        // Their own role is not below them either.
        ("PATCH", &own, json!({"name": "boss"}), AT_OR_ABOVE),
        ("DELETE", &own, none, AT_OR_ABOVE),
        // Give themselves a higher role, or drop their own top one.
        ("PUT", &me, json!([r.manager, r.admin]), AT_OR_ABOVE),
        ("PUT", &me, json!([r.low]), AT_OR_ABOVE),
        // Grant bits they lack, on a role below them or a new one.
        ("PATCH", &low, ban, GRANT),
        ("POST", &"/api/roles".to_string(), root, GRANT),
    ];
    for (method, path, body, message) in &attacks {
        r.bob_refused(method, path, body, message).await;
    }
    assert_eq!(snapshot(&r, &mut alice).await, before);
}

#[tokio::test]
async fn manage_roles_cannot_reach_above_itself_over_originchats() {
    let r = ranks("helper", MANAGE_ROLES).await;
    let mut alice = r.oc("alice", &r.alice).await;
    let mut bob = r.oc("bob", &r.bob).await;
    let before = snapshot(&r, &mut alice).await;
    let attacks = [
        // Remove an administrator's roles.
        (
            "user_roles_set",
            json!({"user": "carol", "roles": []}),
            AT_OR_ABOVE,
        ),
        // Rename, strip and delete the ADMINISTRATOR role.
        (
            "role_update",
            json!({"name": "admin", "new_name": "pwned"}),
            AT_OR_ABOVE,
        ),
        (
            "role_update",
            json!({"name": "admin", "permissions": []}),
            AT_OR_ABOVE,
        ),
        (
            "role_permissions_set",
            json!({"name": "admin", "permissions": []}),
            AT_OR_ABOVE,
        ),
        ("role_delete", json!({"name": "admin"}), AT_OR_ABOVE),
        // Strip the owner's roles.
        (
            "user_roles_set",
            json!({"user": "alice", "roles": []}),
            AT_OR_ABOVE,
        ),
        // Move their own role to the top, or a lower one above them.
        (
            "role_reorder",
            json!({"roles": ["helper", "admin", "low"]}),
            AT_OR_ABOVE,
        ),
        ("role_reorder", json!({"roles": ["low"]}), AT_OR_ABOVE),
        (
            "role_update",
            json!({"name": "helper", "new_name": "boss"}),
            AT_OR_ABOVE,
        ),
        ("role_delete", json!({"name": "helper"}), AT_OR_ABOVE),
        // Give themselves a higher role.
        (
            "user_roles_set",
            json!({"user": "bob", "roles": ["helper", "admin"]}),
            AT_OR_ABOVE,
        ),
        // Grant bits they lack.
        (
            "role_permissions_set",
            json!({"name": "low", "permissions": ["send_messages", "manage_users"]}),
            OC_ROLES,
        ),
        (
            "role_create",
            json!({"name": "root", "permissions": ["administrator"]}),
            OC_ROLES,
        ),
    ];
    for (cmd, body, val) in attacks {
        bob.refused(cmd, body, val).await;
    }
    // No role or member change was broadcast: the marker comes first.
    alice.send_message("general", "marker", "m").await;
    bob.expect_marker("general", "marker").await;
    assert_eq!(snapshot(&r, &mut alice).await, before);
}

#[tokio::test]
async fn a_manager_still_manages_what_ranks_below_them() {
    let r = ranks("helper", MANAGE_ROLES | SEND_MESSAGES).await;
    // JAM REST: rename, recolour, grant a bit they hold, move further down.
    let path = format!("/api/roles/{}", r.low);
    let body = json!({"name": "lower", "color": 255, "permissions": (SEND_MESSAGES | MANAGE_ROLES).to_string(), "position": 7});
    let (status, role) = r.rest(&r.bob, "PATCH", &path, Some(&body)).await;
    assert_eq!(status, 200, "{role}");
    assert_eq!(
        (&role["name"], &role["color"], &role["position"]),
        (&json!("lower"), &json!(255), &json!(7)),
        "{role}"
    );
    // Take it from dave, give it back, give it to himself.
    let gid = &r.guild;
    for (who, roles) in [
        (&r.dave, json!([])),
        (&r.dave, json!([r.low])),
        (&r.bob, json!([r.manager, r.low])),
    ] {
        let path = format!("/api/guilds/{gid}/members/{}/roles", who.id);
        let (status, body) = r.rest(&r.bob, "PUT", &path, Some(&roles)).await;
        assert_eq!(status, 204, "{path}: {body}");
    }
    // A role of his own making lands below him, and is his to manage.
    let body = json!({"guild_id": gid, "name": "fresh", "permissions": SEND_MESSAGES.to_string()});
    let (status, fresh) = r.rest(&r.bob, "POST", "/api/roles", Some(&body)).await;
    assert_eq!(status, 201, "{fresh}");
    let manager_pos = find(&Value::Array(r.jam_roles().await), "name", "helper").expect("helper")
        ["position"]
        .as_i64()
        .expect("position");
    assert!(
        fresh["position"].as_i64().expect("position") > manager_pos,
        "{fresh}"
    );

    // OriginChats: update, reorder below himself is refused only above.
    let mut alice = r.oc("alice", &r.alice).await;
    let mut bob = r.oc("bob", &r.bob).await;
    let reply = bob
        .request(
            "role_update",
            json!({"name": "fresh", "new_name": "fresher", "color": "#00ff00"}),
        )
        .await;
    assert_eq!(reply["updated"], true, "{reply}");
    bob.send(
        json!({"cmd": "user_roles_set", "user": "dave", "roles": ["fresher"], "listener": "s"}),
    )
    .await;
    let f = bob.recv_cmd("user_roles_get").await;
    assert_eq!(f["roles"], json!(["fresher", "user"]), "{f}");
    alice.recv_cmd("user_roles_get").await;
    let reply = bob.request("role_delete", json!({"name": "fresher"})).await;
    assert_eq!(reply["deleted"], true, "{reply}");
    assert_eq!(alice.user_roles("dave").await["roles"], json!(["user"]));
    let names: Vec<String> = alice
        .roles_list()
        .await
        .as_object()
        .expect("roles")
        .keys()
        .cloned()
        .collect();
    assert_eq!(names, ["owner", "admin", "helper", "lower", "user"]);
    // The administrator, for all the bits, is bound by the same order:
    // not the owner's roles, but anything below `admin`.
    let path = format!("/api/guilds/{gid}/members/{}/roles", r.alice.id);
    let (status, body) = r.rest(&r.carol, "PUT", &path, Some(&json!([]))).await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");
    let path = format!("/api/roles/{}", r.admin);
    let (status, body) = r
        .rest(&r.carol, "PATCH", &path, Some(&json!({"name": "x"})))
        .await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");
    let path = format!("/api/guilds/{gid}/members/{}/roles", r.bob.id);
    let (status, body) = r.rest(&r.carol, "PUT", &path, Some(&json!([]))).await;
    assert_eq!(status, 204, "{body}");
    alice.recv_cmd("user_roles_get").await;
    assert_eq!(alice.user_roles("bob").await["roles"], json!(["user"]));
}

/// A JAM channel's overwrites (the field is left out when there are none).
fn overwrites(channel: &Value) -> Value {
    channel
        .get("overwrites")
        .cloned()
        .unwrap_or_else(|| json!([]))
}

#[tokio::test]
async fn manage_channels_cannot_grant_itself_anything_through_overwrites() {
    let r = ranks("chan", MANAGE_CHANNELS | SEND_MESSAGES).await;
    let path = "/api/messages";
    let body = json!({"channel_id": r.general, "content": "alice's words"});
    let (status, sent) = r.rest(&r.alice, "POST", path, Some(&body)).await;
    assert!(status == 200 || status == 201, "{sent}");
    let message = sent["id"].as_str().expect("message id").to_string();
    let before = r.general().await;
    assert_eq!(overwrites(&before), json!([]), "{before}");

    // JAM REST: member overwrites for himself, role overwrites for his own
    // role and for @everyone, with the bits of the probe.
    let channel = format!("/api/channels/{}", r.general);
    let ow = |id: &str, kind: &str, allow: u64, deny: u64| {
        let o =
            json!({"id": id, "type": kind, "allow": allow.to_string(), "deny": deny.to_string()});
        json!({"overwrites": [o]})
    };
    let (bob, everyone) = (r.bob.id.as_str(), r.guild.as_str());
    let all = ADMINISTRATOR | MANAGE_MESSAGES | MANAGE_ROLES;
    let (send, manage) = (SEND_MESSAGES, MANAGE_MESSAGES | MANAGE_ROLES);
    let attacks = [
        (ow(bob, "member", all, 0), NO_ADMIN_OVERWRITE),
        (ow(bob, "member", ADMINISTRATOR, 0), NO_ADMIN_OVERWRITE),
        (ow(bob, "member", manage, 0), OVERWRITE_BITS),
        (
            ow(bob, "member", send, 0),
            "Cannot set an overwrite for yourself",
        ),
        (ow(&r.manager, "role", MANAGE_MESSAGES, 0), OVERWRITE_BITS),
        (ow(&r.manager, "role", send, 0), AT_OR_ABOVE),
        (ow(everyone, "role", all, 0), NO_ADMIN_OVERWRITE),
        (ow(everyone, "role", MANAGE_MESSAGES, 0), OVERWRITE_BITS),
        // Nor over those above him: a deny for the administrators' role or
        // for the owner.
        (ow(&r.admin, "role", 0, send), AT_OR_ABOVE),
        (ow(&r.alice.id, "member", 0, send), OVERWRITE_ABOVE),
    ];
    for (body, message) in &attacks {
        r.bob_refused("PUT", &channel, body, message).await;
    }
    // Even the owner cannot allow ADMINISTRATOR through an overwrite.
    let body = ow(&r.dave.id, "member", ADMINISTRATOR, 0);
    let (status, body) = r.rest(&r.alice, "PUT", &channel, Some(&body)).await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");

    // And so alice's message is not his to delete.
    let (status, body) = r
        .rest(&r.bob, "DELETE", &format!("/api/messages/{message}"), None)
        .await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");

    // OriginChats: permission lists giving his role `delete` and `pin`.
    let mut alice = r.oc("alice", &r.alice).await;
    let mut bob = r.oc("bob", &r.bob).await;
    let lists = json!({"delete": ["owner", "chan"], "pin": ["owner", "chan"]});
    let body = json!({"current_name": "general", "updates": {"permissions": lists}});
    bob.refused("channel_update", body, OC_CHANNELS).await;
    let body = json!({"current_name": "general", "updates": {"permissions": {"send": ["owner", "chan", "user"]}}});
    bob.refused("channel_update", body, OC_CHANNELS).await;
    bob.refused(
        "message_delete",
        json!({"channel": "general", "id": message}),
        "You do not have permission to delete this message",
    )
    .await;

    // Nothing changed: no overwrite, the message is there, nothing was
    // broadcast before the marker.
    alice.send_message("general", "marker", "m").await;
    bob.expect_marker("general", "marker").await;
    let after = r.general().await;
    assert_eq!(overwrites(&after), json!([]), "{after}");
    let mut history = r.history().await;
    history.sort_by_key(|c| c.to_string());
    assert_eq!(history, [json!("alice's words"), json!("marker")]);

    // What he holds, he may deny below him: @everyone loses SEND_MESSAGES.
    let deny = json!({"overwrites": [{"id": r.guild, "type": "role", "allow": "0", "deny": SEND_MESSAGES.to_string()}]});
    let (status, body) = r.rest(&r.bob, "PUT", &channel, Some(&deny)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["overwrites"], deny["overwrites"], "{body}");
}

#[tokio::test]
async fn moderators_cannot_act_on_those_at_or_above_them() {
    let r = ranks("mod", BAN_MEMBERS | MODERATE_MEMBERS | SEND_MESSAGES).await;
    let mut alice = r.oc("alice", &r.alice).await;
    let mut bob = r.oc("bob", &r.bob).await;
    let owner_required = "Access denied: 'owner' role required";
    for (cmd, user) in [
        ("user_ban", "carol"),
        ("user_timeout", "carol"),
        ("user_ban", "alice"),
        ("user_timeout", "alice"),
    ] {
        let mut body = json!({"cmd": cmd, "user": user, "listener": "x"});
        if cmd == "user_timeout" {
            body["timeout"] = json!(60);
        }
        bob.send(body).await;
        bob.expect_error(None, owner_required).await;
    }
    for user in ["carol", "alice"] {
        let body = json!({"user": user, "updates": {"nickname": "demoted"}});
        bob.refused("user_update", body, OC_USERS).await;
    }
    // Carol is still a member, neither timed out nor renamed.
    alice.send_message("general", "marker", "m").await;
    bob.expect_marker("general", "marker").await;
    let mut carol = r.oc("carol", &r.carol).await;
    carol.send_message("general", "still here", "c").await;
    alice.expect_marker("general", "still here").await;
    alice
        .send(json!({"cmd": "users_list", "listener": "u"}))
        .await;
    let users = alice.recv_cmd("users_list").await;
    for name in ["alice", "carol"] {
        let u =
            find(&users["users"], "username", name).unwrap_or_else(|| panic!("{name} in {users}"));
        // No nickname: the list shows the username.
        assert_eq!(u["nickname"], name, "{u}");
    }
    // Below him, he may: dave is timed out.
    bob.expect_marker("general", "still here").await;
    let reply = bob
        .request("user_timeout", json!({"user": "dave", "timeout": 60}))
        .await;
    assert_eq!(reply["timeout"], 60, "{reply}");
}
