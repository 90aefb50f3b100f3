//! A member who loses view of a channel hears CHANNEL_DELETE for it, and
//! one who gains view hears CHANNEL_CREATE, whichever change moved it: the
//! channel's overwrites, the member's roles, or a role's permissions.
//! Members who saw it before and after hear CHANNEL_UPDATE (overwrites) or
//! nothing (roles); members who never see it hear nothing about it.
//!
//! Each step ends with a marker message in `general`, which every member
//! sees; what arrived before it is what the step delivered.

mod common;

use common::{find, Jam, TestServer};
use serde_json::{json, Value};

/// VIEW_CHANNEL and ADMINISTRATOR as JAM's decimal strings.
const VIEW: &str = "1024";
const ADMINISTRATOR: u64 = 1 << 3;

struct Guild {
    server: TestServer,
    alice: Jam,
    bob: Jam,
    carol: Jam,
    id: String,
    general: String,
    secret: String,
    markers: usize,
}

impl Guild {
    /// Alice's guild with bob and carol in it and a `secret` channel all
    /// three see for now.
    async fn set_up() -> Guild {
        let server = TestServer::start();
        let mut alice = Jam::register(&server, "alice").await;
        let mut bob = Jam::register(&server, "bob").await;
        let mut carol = Jam::register(&server, "carol").await;
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
        let id = guild["id"].as_str().expect("guild id").to_string();
        let general = find(&guild["channels"], "name", "general")
            .and_then(|c| c["id"].as_str())
            .expect("general")
            .to_string();
        let (_, invite) = server
            .rest(
                "POST",
                &format!("/api/guilds/{id}/invites"),
                Some(&alice.token()),
                None,
            )
            .await;
        let code = invite["code"].as_str().expect("invite code").to_string();
        for member in [&mut bob, &mut carol] {
            let (status, body) = server
                .rest(
                    "POST",
                    &format!("/api/invites/{code}"),
                    Some(&member.token()),
                    None,
                )
                .await;
            assert!(status == 200 || status == 201, "join: {status} {body}");
            member.recv_until(30).await;
        }
        let (status, channel) = server
            .rest(
                "POST",
                "/api/channels",
                Some(&alice.token()),
                Some(&json!({"guild_id": id, "name": "secret", "type": "text"})),
            )
            .await;
        assert_eq!(status, 201, "{channel}");
        let secret = channel["id"].as_str().expect("channel id").to_string();
        let mut g = Guild {
            server,
            alice,
            bob,
            carol,
            id,
            general,
            secret,
            markers: 0,
        };
        let seen = g.step().await;
        for (who, ops) in &seen {
            assert_eq!(ops, &[20], "{who} hears the new channel: {seen:?}");
        }
        g
    }

    async fn rest(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, reply) = self
            .server
            .rest(method, path, Some(&self.alice.token()), Some(&body))
            .await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {reply}"
        );
        reply
    }

    /// Sends a marker to `general` and answers, per member, the ops of the
    /// channel events about `secret` that arrived before it.
    async fn step(&mut self) -> Vec<(&'static str, Vec<i64>)> {
        self.markers += 1;
        let marker = format!("marker {}", self.markers);
        let general = self.general.clone();
        self.alice
            .send(
                10,
                json!({"channel_id": general, "content": marker}),
                Some(&format!("m{}", self.markers)),
            )
            .await;
        let secret = self.secret.clone();
        let mut seen = Vec::new();
        for (who, jam) in [
            ("alice", &mut self.alice),
            ("bob", &mut self.bob),
            ("carol", &mut self.carol),
        ] {
            let mut ops = Vec::new();
            // Bounded by the frames the step caused: the marker ends it.
            loop {
                let f = jam.recv().await;
                let op = f["op"].as_i64().unwrap_or(-1);
                if op == 10 && f["d"]["content"] == marker.as_str() {
                    break;
                }
                if (20..=22).contains(&op) && f["d"]["id"] == secret.as_str() {
                    ops.push(op);
                }
            }
            seen.push((who, ops));
        }
        seen
    }

    async fn set_overwrites(&self, overwrites: Value) {
        self.rest(
            "PUT",
            &format!("/api/channels/{}", self.secret),
            json!({ "overwrites": overwrites }),
        )
        .await;
    }

    async fn set_roles(&self, user: &str, roles: Value) {
        self.rest(
            "PUT",
            &format!("/api/guilds/{}/members/{user}/roles", self.id),
            roles,
        )
        .await;
    }
}

#[tokio::test]
async fn overwrites_hide_and_show_a_channel() {
    let mut g = Guild::set_up().await;
    let everyone = g.id.clone();
    g.set_overwrites(json!([{"id": everyone, "type": "role", "allow": "0", "deny": VIEW}]))
        .await;
    assert_eq!(
        g.step().await,
        [("alice", vec![21]), ("bob", vec![22]), ("carol", vec![22])],
        "the owner still sees it and hears the update; the others lose it"
    );

    // Hidden from both: a rename reaches only alice.
    g.rest(
        "PUT",
        &format!("/api/channels/{}", g.secret),
        json!({"name": "vault"}),
    )
    .await;
    assert_eq!(
        g.step().await,
        [("alice", vec![21]), ("bob", vec![]), ("carol", vec![])]
    );

    // A member overwrite lets bob alone back in.
    let bob = g.bob.user_id();
    g.set_overwrites(json!([
        {"id": everyone, "type": "role", "allow": "0", "deny": VIEW},
        {"id": bob, "type": "member", "allow": VIEW, "deny": "0"},
    ]))
    .await;
    assert_eq!(
        g.step().await,
        [("alice", vec![21]), ("bob", vec![20]), ("carol", vec![])]
    );
}

#[tokio::test]
async fn member_roles_and_role_permissions_move_the_view() {
    let mut g = Guild::set_up().await;
    let role = g
        .rest(
            "POST",
            "/api/roles/",
            json!({"guild_id": g.id, "name": "keyholder", "color": 0, "permissions": "0"}),
        )
        .await;
    let role = role["id"].as_str().expect("role id").to_string();
    let everyone = g.id.clone();
    g.set_overwrites(json!([
        {"id": everyone, "type": "role", "allow": "0", "deny": VIEW},
        {"id": role, "type": "role", "allow": VIEW, "deny": "0"},
    ]))
    .await;
    assert_eq!(
        g.step().await,
        [("alice", vec![21]), ("bob", vec![22]), ("carol", vec![22])]
    );

    // Bob gets the role: only bob's view moves.
    let bob = g.bob.user_id();
    g.set_roles(&bob, json!([role])).await;
    assert_eq!(
        g.step().await,
        [("alice", vec![]), ("bob", vec![20]), ("carol", vec![])]
    );
    g.set_roles(&bob, json!([])).await;
    assert_eq!(
        g.step().await,
        [("alice", vec![]), ("bob", vec![22]), ("carol", vec![])]
    );

    // A role that gains ADMINISTRATOR shows every channel to its holders.
    let admins = g
        .rest(
            "POST",
            "/api/roles/",
            json!({"guild_id": g.id, "name": "admins", "color": 0, "permissions": "0"}),
        )
        .await;
    let admins = admins["id"].as_str().expect("role id").to_string();
    let carol = g.carol.user_id();
    g.set_roles(&carol, json!([admins])).await;
    assert_eq!(
        g.step().await,
        [("alice", vec![]), ("bob", vec![]), ("carol", vec![])],
        "a role without bits changes nothing"
    );
    g.rest(
        "PUT",
        &format!("/api/roles/{admins}"),
        json!({"permissions": ADMINISTRATOR.to_string()}),
    )
    .await;
    assert_eq!(
        g.step().await,
        [("alice", vec![]), ("bob", vec![]), ("carol", vec![20])]
    );
    // Deleting the role takes it away again.
    let (status, body) = g
        .server
        .rest(
            "DELETE",
            &format!("/api/roles/{admins}"),
            Some(&g.alice.token()),
            None,
        )
        .await;
    assert!((200..300).contains(&status), "{status} {body}");
    assert_eq!(
        g.step().await,
        [("alice", vec![]), ("bob", vec![]), ("carol", vec![22])]
    );
}
