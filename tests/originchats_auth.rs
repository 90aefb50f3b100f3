//! OriginChats: the handshake, every local authentication path with its
//! error strings, token sign-in across dialects, the pre-auth gate, the
//! presence broadcasts of connecting and disconnecting, ping, unknown and
//! malformed requests, the `/originchats` mount on the main port and
//! `GET /info`.

mod common;

use common::{
    http_request, oc_main_url, oc_url, rest_register, Jam, Oc, TestServer, PASSWORD,
    PERMISSION_NAMES, SLICE_COMMANDS,
};
use serde_json::{json, Value};

#[tokio::test]
async fn handshake_describes_the_server_with_a_fresh_validator_key() {
    let server = TestServer::start();
    let a = Oc::connect(&server, "first").await;
    let b = Oc::connect(&server, "second").await;
    let hs = &a.handshake;

    let name = hs["server"]["name"].as_str().expect("server.name");
    assert!(!name.is_empty(), "{hs}");
    assert_eq!(
        hs["limits"],
        json!({"post_content": 4000, "search_results": 30}),
        "{hs}"
    );
    assert!(hs["attachments"].is_object(), "attachments: {hs}");
    assert_eq!(hs["version"], "1.1.0");
    assert_eq!(hs["auth_mode"], "cracked");
    let perms: Vec<&str> = hs["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| p.as_str().expect("permission name"))
        .collect();
    assert_eq!(perms, PERMISSION_NAMES, "{hs}");

    // Capabilities: sorted, no duplicates, every command of this slice.
    let caps: Vec<&str> = hs["capabilities"]
        .as_array()
        .expect("capabilities")
        .iter()
        .map(|c| c.as_str().expect("capability name"))
        .collect();
    let mut sorted = caps.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(caps, sorted, "capabilities must be sorted and unique");
    for cmd in SLICE_COMMANDS {
        assert!(caps.contains(cmd), "capabilities lack {cmd}: {caps:?}");
    }
    // The upload route is HTTP; the official client uses it only when this
    // is listed.
    assert!(caps.contains(&"attachment_upload"), "{caps:?}");

    // validator_key: "originChats-" and something random, per connection.
    let key_a = a.handshake["validator_key"]
        .as_str()
        .expect("validator_key");
    let key_b = b.handshake["validator_key"]
        .as_str()
        .expect("validator_key");
    for key in [key_a, key_b] {
        let rest = key
            .strip_prefix("originChats-")
            .unwrap_or_else(|| panic!("validator_key must start with originChats-: {key:?}"));
        assert!(rest.len() >= 16, "validator_key too short: {key:?}");
    }
    assert_ne!(key_a, key_b, "validator_key must differ per connection");
    assert_eq!(b.handshake["server"]["name"], name);
}

#[tokio::test]
async fn handshake_follows_the_config() {
    let server = TestServer::with_config(
        "[limits]\nmessage_length = 50\n\n[originchats]\nauth_mode = \"cracked-only\"\n",
    );
    let oc = Oc::connect(&server, "x").await;
    assert_eq!(
        oc.handshake["limits"]["post_content"], 50,
        "{}",
        oc.handshake
    );
    assert_eq!(oc.handshake["auth_mode"], "cracked-only");
}

#[tokio::test]
async fn register_gives_auth_success_ready_and_user_join() {
    let server = TestServer::start();
    let mut oc = Oc::connect(&server, "alice").await;
    oc.send(
        json!({"cmd": "register", "username": "alice", "password": PASSWORD, "listener": "reg"}),
    )
    .await;
    // expect_ready checks auth_success exactly (no listener there) ...
    let ready = oc.expect_ready("alice").await;
    // ... and ready has no listener either.
    assert!(
        ready.get("listener").is_none(),
        "listener on ready: {ready}"
    );
    let user = &ready["user"];
    assert_eq!(user["username"], "alice");
    let roles = user["roles"].as_array().expect("ready.user.roles");
    assert!(
        roles.contains(&json!("user")),
        "@everyone is `user`: {user}"
    );
    assert_eq!(user["status"]["status"], "online", "{user}");
    assert_eq!(user["status"]["text"], "", "{user}");
    for secret in ["password", "password_hash", "validator"] {
        assert!(user.get(secret).is_none(), "ready.user carries {secret}");
    }
    assert!(
        ready["validator"].as_str().is_some_and(|v| !v.is_empty()),
        "ready.validator: {ready}"
    );
    // First-ever join: the joiner gets its own user_join.
    let join = oc.recv_cmd("user_join").await;
    assert_eq!(join["user"]["username"], "alice", "{join}");
    assert!(join["user"]["roles"].is_array(), "{join}");
    assert!(
        join["user"].get("color").is_some(),
        "user_join.user.color: {join}"
    );
    oc.ping_ok().await;
}

#[tokio::test]
async fn register_errors_are_auth_errors_and_the_connection_stays_open() {
    let server = TestServer::start();
    Oc::register(&server, "taken").await;
    let mut oc = Oc::connect(&server, "x").await;
    let long_name = "n".repeat(33);
    let long_password = "p".repeat(73);
    let cases = [
        (json!({"username": "bob"}), "Username and password required"),
        (
            json!({"password": PASSWORD}),
            "Username and password required",
        ),
        (
            json!({"username": "b", "password": PASSWORD}),
            "Username must be 2-32 characters",
        ),
        (
            json!({"username": long_name, "password": PASSWORD}),
            "Username must be 2-32 characters",
        ),
        (
            json!({"username": "bob", "password": "abc"}),
            "Password must be 4-72 characters",
        ),
        (
            json!({"username": "bob", "password": long_password}),
            "Password must be 4-72 characters",
        ),
        (
            json!({"username": "bad name!", "password": PASSWORD}),
            "Username can only contain letters, numbers, hyphens, and underscores",
        ),
        (
            json!({"username": "taken", "password": PASSWORD}),
            "Username already taken",
        ),
    ];
    for (mut req, val) in cases {
        req["cmd"] = json!("register");
        req["listener"] = json!("never-echoed");
        oc.send(req).await;
        oc.expect_auth_error(val).await;
    }
    // Limits are inclusive: 2 and 32 characters, 4 and 72 characters.
    oc.send(json!({"cmd": "register", "username": "bo", "password": "abcd"}))
        .await;
    oc.expect_ready("bo").await;
    let mut edge = Oc::connect(&server, "edge").await;
    let name32 = format!("a-_{}", "9".repeat(29));
    edge.send(json!({"cmd": "register", "username": name32, "password": "q".repeat(72)}))
        .await;
    edge.expect_ready(&name32).await;
}

#[tokio::test]
async fn login_errors_and_success() {
    let server = TestServer::start();
    Oc::register(&server, "alice").await;
    let mut oc = Oc::connect(&server, "alice").await;
    for (req, val) in [
        (
            json!({"cmd": "login", "username": "alice"}),
            "Username and password required",
        ),
        (
            json!({"cmd": "login", "username": "nobody", "password": PASSWORD}),
            "User not found",
        ),
        (
            json!({"cmd": "login", "username": "alice", "password": "wrong password"}),
            "Invalid password",
        ),
    ] {
        oc.send(req).await;
        oc.expect_auth_error(val).await;
    }
    oc.send(json!({"cmd": "login", "username": "alice", "password": PASSWORD}))
        .await;
    let ready = oc.expect_ready("alice").await;
    assert!(ready["user"]["roles"]
        .as_array()
        .is_some_and(|r| r.contains(&json!("user"))));
    oc.ping_ok().await;
}

#[tokio::test]
async fn accounts_are_shared_with_jam_and_tokens_sign_in() {
    let server = TestServer::start();
    // A JAM account logs in over OriginChats with its password ...
    let (token, _) = rest_register(&server, "jamuser").await;
    let mut by_password = Oc::login(&server, "jamuser", PASSWORD).await;
    by_password.ping_ok().await;
    // ... and with its session token as the validator.
    let mut by_token = Oc::with_token_at(&oc_url(&server), "jamuser", &token).await;
    by_token.ping_ok().await;

    // An OriginChats account logs in over JAM with the same password.
    Oc::register(&server, "ocuser").await;
    let jam = Jam::login(&server, "ocuser", PASSWORD).await;
    assert_eq!(jam.ready["user"]["username"], "ocuser");
    // ... and its JAM token signs in over OriginChats too.
    let mut again = Oc::with_token_at(&oc_url(&server), "ocuser", &jam.token()).await;
    again.ping_ok().await;
}

#[tokio::test]
async fn registration_can_be_disabled() {
    let server = TestServer::with_config("[originchats]\nallow_registration = false\n");
    rest_register(&server, "existing").await;
    let mut oc = Oc::connect(&server, "x").await;
    oc.send(json!({"cmd": "register", "username": "newbie", "password": PASSWORD}))
        .await;
    oc.expect_auth_error("Registration is disabled").await;
    oc.send(json!({"cmd": "login", "username": "existing", "password": PASSWORD}))
        .await;
    oc.expect_ready("existing").await;
}

#[tokio::test]
async fn cracked_only_refuses_rotur_but_takes_tokens() {
    let server = TestServer::with_config("[originchats]\nauth_mode = \"cracked-only\"\n");
    let (token, _) = rest_register(&server, "jamuser").await;
    let mut oc = Oc::connect(&server, "x").await;
    assert_eq!(oc.handshake["auth_mode"], "cracked-only");
    oc.send(json!({"cmd": "auth", "validator": "USR:abc,0123456789abcdef"}))
        .await;
    oc.expect_auth_error("Rotur authentication is disabled. Use login or register commands.")
        .await;
    oc.send(json!({"cmd": "auth", "validator": token})).await;
    oc.expect_ready("jamuser").await;
    // Register works in cracked-only.
    let mut reg = Oc::register(&server, "local").await;
    reg.ping_ok().await;
}

#[tokio::test]
async fn nothing_but_auth_before_authentication() {
    let server = TestServer::start();
    let mut oc = Oc::connect(&server, "alice").await;
    for req in [
        json!({"cmd": "ping"}),
        json!({"cmd": "message_new", "channel": "general", "content": "hi", "listener": "x"}),
        json!({"cmd": "channels_get"}),
        json!({"cmd": "frobnicate"}),
    ] {
        oc.send(req).await;
        let f = oc.recv_strict().await;
        assert_eq!(
            f,
            json!({"cmd": "auth_error", "val": "Authentication required"})
        );
    }
    // Still open: registering works on the same connection.
    oc.send(json!({"cmd": "register", "username": "alice", "password": PASSWORD}))
        .await;
    oc.expect_ready("alice").await;
    oc.ping_ok().await;
}

#[tokio::test]
async fn presence_broadcasts_follow_connections() {
    let server = TestServer::start();
    let mut alice = Oc::register(&server, "alice").await;

    // Bob's first-ever connection: user_join and user_connect for everyone.
    // (Alice's own presence for her own connection may come first.)
    let mut bob = Oc::register(&server, "bob").await;
    let got = presence_of(&mut alice, "bob").await;
    assert_eq!(got[0]["user"]["username"], "bob", "{}", got[0]);
    assert!(got[0]["user"]["roles"]
        .as_array()
        .is_some_and(|r| r.contains(&json!("user"))));
    assert!(got[0]["user"].get("color").is_some(), "{}", got[0]);
    assert_eq!(got[1]["user"]["username"], "bob", "{}", got[1]);
    assert!(got[1]["user"]["roles"].is_array(), "{}", got[1]);
    assert_eq!(bob.recv_cmd("user_join").await["user"]["username"], "bob");

    // A second connection of bob: no user_join, no user_connect.
    let mut bob2 = Oc::login(&server, "bob", PASSWORD).await;
    bob2.send_message("general", "second connection", "m1")
        .await;
    bob.expect_marker("general", "second connection").await;
    let f = alice.recv_strict().await;
    assert_eq!(
        f["cmd"], "message_new",
        "no presence for a second connection: {f}"
    );
    assert_eq!(f["message"]["content"], "second connection");

    // Closing one of two connections: no user_disconnect.
    bob2.close().await;
    bob.send_message("general", "still here", "m2").await;
    let f = alice.recv_strict().await;
    assert_eq!(f["cmd"], "message_new", "bob is still connected: {f}");
    assert_eq!(f["message"]["content"], "still here");

    // The last connection closes: user_disconnect.
    bob.close().await;
    let f = alice.recv_strict().await;
    assert_eq!(f, json!({"cmd": "user_disconnect", "username": "bob"}));

    // Back again: user_connect, but no second user_join.
    let mut bob3 = Oc::login(&server, "bob", PASSWORD).await;
    let f = alice.recv_strict().await;
    assert_eq!(f["cmd"], "user_connect", "{f}");
    assert_eq!(f["user"]["username"], "bob", "{f}");
    bob3.send_message("general", "back", "m3").await;
    let f = alice.recv_strict().await;
    assert_eq!(f["cmd"], "message_new", "no user_join on a return: {f}");
    assert_eq!(f["message"]["content"], "back");
}

/// Bob's `user_join` and `user_connect` as alice sees them, skipping the
/// presence alice's own connection caused; anything else fails.
async fn presence_of(alice: &mut Oc, who: &str) -> [Value; 2] {
    let (mut join, mut connect) = (None, None);
    while join.is_none() || connect.is_none() {
        let f = alice.recv_strict().await;
        let cmd = f["cmd"].as_str().unwrap_or_default();
        let name = f["user"]["username"].as_str().unwrap_or_default();
        match (cmd, name) {
            ("user_join" | "user_connect", "alice") => continue,
            ("user_join", n) if n == who && join.is_none() => join = Some(f),
            ("user_connect", n) if n == who && connect.is_none() => connect = Some(f),
            _ => panic!("alice: expected {who}'s user_join and user_connect, got {f}"),
        }
    }
    [join.unwrap(), connect.unwrap()]
}

#[tokio::test]
async fn ping_unknown_and_missing_commands() {
    let server = TestServer::start();
    let mut oc = Oc::register(&server, "alice").await;
    oc.send(json!({"cmd": "ping", "listener": "p-1"})).await;
    assert_eq!(
        oc.recv_cmd("pong").await,
        json!({"cmd": "pong", "val": "pong", "listener": "p-1"})
    );
    oc.send(json!({"cmd": "frobnicate"})).await;
    assert_eq!(
        oc.recv_cmd("error").await,
        json!({"cmd": "error", "src": "frobnicate", "val": "Unknown command: frobnicate"})
    );
    oc.send(json!({"cmd": "frobnicate", "listener": "u-1"}))
        .await;
    assert_eq!(
        oc.recv_cmd("error").await,
        json!({"cmd": "error", "src": "frobnicate", "val": "Unknown command: frobnicate", "listener": "u-1"})
    );
    oc.send(json!({"content": "no cmd"})).await;
    assert_eq!(
        oc.recv_cmd("error").await,
        json!({"cmd": "error", "val": "Unknown command: None"})
    );
    // A second auth after success is an unknown command.
    oc.send(json!({"cmd": "auth", "validator": "anything"}))
        .await;
    assert_eq!(
        oc.recv_cmd("error").await,
        json!({"cmd": "error", "src": "auth", "val": "Unknown command: auth"})
    );
    oc.ping_ok().await;
}

#[tokio::test]
async fn malformed_frames_get_an_error_and_the_connection_keeps_working() {
    let server = TestServer::start();
    let mut oc = Oc::register(&server, "alice").await;
    for bad in ["not json{", "[1,2,3]", "\"a string\"", "42", "null", ""] {
        oc.send_text(bad.to_string()).await;
        let f = oc.recv_cmd("error").await;
        assert!(
            f["val"].as_str().is_some_and(|v| !v.is_empty()),
            "error for {bad:?} without val: {f}"
        );
        oc.ping_ok().await;
    }
    // Before authentication too.
    let mut fresh = Oc::connect(&server, "fresh").await;
    fresh.send_text("{oops".to_string()).await;
    let f = fresh.recv_strict().await;
    assert!(
        f["cmd"] == "error" || f["cmd"] == "auth_error",
        "bad JSON before auth must be answered: {f}"
    );
    fresh
        .send(json!({"cmd": "register", "username": "fresh", "password": PASSWORD}))
        .await;
    fresh.expect_ready("fresh").await;
}

#[tokio::test]
async fn main_port_mount_serves_the_default_guild() {
    let server = TestServer::start();
    let mut root = Oc::register(&server, "alice").await;
    let mut mounted = Oc::register_at(&oc_main_url(&server), "bob").await;
    assert_eq!(mounted.handshake["version"], "1.1.0");
    assert!(mounted.handshake["validator_key"]
        .as_str()
        .is_some_and(|k| k.starts_with("originChats-")));
    // Same guild: a message from either side reaches the other.
    let sent = mounted
        .send_message("general", "from the main port", "l")
        .await;
    let seen = root.recv_cmd("message_new").await;
    assert_eq!(seen["message"]["id"], sent["message"]["id"]);
    assert_eq!(seen["message"]["user"], "bob");
    root.send_message("general", "from 5613", "l").await;
    let seen = mounted.recv_cmd("message_new").await;
    assert_eq!(seen["message"]["content"], "from 5613");
    assert_eq!(seen["message"]["user"], "alice");
}

#[tokio::test]
async fn info_reports_the_server_and_its_counts() {
    let server = TestServer::start();
    let alice = Oc::register(&server, "alice").await;
    let _bob = Oc::register(&server, "bob").await;
    let addr = server.originchats.expect("originchats listener");
    let res = http_request(addr, "GET", "/info", &[], &[]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let info: Value = res.json();
    let s = &info["server"];
    assert_eq!(s["name"], alice.handshake["server"]["name"], "{info}");
    for key in ["icon", "banner", "owner"] {
        assert!(s.get(key).is_some(), "/info server.{key} missing: {info}");
    }
    let stats = &info["stats"];
    let n = |k: &str| {
        stats[k]
            .as_u64()
            .unwrap_or_else(|| panic!("stats.{k} must be a count: {info}"))
    };
    assert!(n("total_users") >= 2, "{info}");
    assert_eq!(n("connected_users"), 2, "{info}");
    assert_eq!(n("online_users"), 2, "{info}");
    assert_eq!(n("total_channels"), 2, "general and lounge: {info}");
    assert!(n("total_roles") >= 1, "{info}");
}

/// Reference commands this server does not do are answered, naming them:
/// never silence.
#[tokio::test]
async fn commands_not_built_answer_naming_themselves() {
    let server = TestServer::start();
    let mut oc = Oc::register(&server, "alice").await;
    // Out of scope (plugins, Web Push): the wording the official client
    // handles quietly.
    for cmd in ["plugins_list", "push_subscribe"] {
        let val = format!("Unknown command: {cmd}");
        oc.refused(cmd, json!({}), &val).await;
    }
    for cmd in [
        "emoji_add",
        "webhook_create",
        "poll_vote",
        "slash_call",
        "modlog_get",
    ] {
        let val = format!("{cmd} is not supported by this server yet");
        oc.refused(cmd, json!({}), &val).await;
    }
    let caps = oc.handshake["capabilities"].clone();
    assert!(!caps
        .as_array()
        .expect("capabilities")
        .contains(&json!("emoji_add")));
}

/// `pfp_set` stores the account's avatar (JAM's `avatar`), which
/// `pfp_get` and `users_list` show.
#[tokio::test]
async fn profile_pictures() {
    let server = TestServer::start();
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;
    alice.refused("pfp_set", json!({}), "URL required").await;
    let bad = json!({"url": "not a url"});
    alice.refused("pfp_set", bad, "Invalid URL format").await;
    let long = json!({"url": format!("https://x.example/{}", "a".repeat(500))});
    alice
        .refused("pfp_set", long, "URL too long (max 500 characters)")
        .await;
    let url = "https://img.example/alice.png";
    let set = alice.request("pfp_set", json!({"url": url})).await;
    assert_eq!(set, json!({"cmd": "pfp_set", "val": url}));
    let got = bob.request("pfp_get", json!({"username": "alice"})).await;
    assert_eq!(
        got,
        json!({"cmd": "pfp_get", "val": url, "username": "alice"})
    );
    let none = alice.request("pfp_get", json!({"username": "bob"})).await;
    assert_eq!(none["val"], Value::Null, "{none}");
    bob.refused("pfp_get", json!({}), "Username required").await;
    let body = json!({"username": "nobody"});
    bob.refused("pfp_get", body, "User not found").await;
    let users = bob.request("users_list", json!({})).await;
    let entry = common::find(&users["users"], "username", "alice").expect("alice listed");
    assert_eq!(entry["pfp"], url, "{users}");
}
