//! OriginChats channel administration on a guild of alice's own:
//! `channel_create` (text, voice, separator = JAM category), permission
//! lists written as overwrites, `channel_update`, `channel_move`,
//! `channel_delete`, the JAM events they cause, and a JAM overwrite seen
//! in `channels_get`.

mod common;

use common::{channel_names, channel_roles, find, Jam, Oc, OwnGuild, SKIPPED};
use serde_json::{json, Value};

const NO_LIMITER: &str = "[originchats.rate_limiting]\nenabled = false\n";
const SEND_MESSAGES: u64 = 1 << 11;
const DENIED: &str = "Access denied: 'manage_channels' permission required";
const NO_SEND: &str = "You do not have permission to send messages in this channel";

fn has(list: &[String], name: &str) -> bool {
    list.iter().any(|n| n == name)
}

/// The next frame with this `cmd`, letting through [`SKIPPED`] frames and
/// the `server_update` (guild unchanged) that creating or deleting a
/// separator also pushes (see `separator_changes_push_no_server_update`),
/// so that the other tests go on.
async fn next_past_guild_push(oc: &mut Oc, cmd: &str) -> Value {
    loop {
        let f = oc.recv_strict().await;
        let got = f["cmd"].as_str().unwrap_or_default();
        if got == cmd {
            return f;
        }
        if got == "server_update" {
            assert_eq!(f["name"], "Admin", "{}: {f}", oc.name);
            continue;
        }
        assert!(
            SKIPPED.contains(&got),
            "{}: expected {cmd}, got {f}",
            oc.name
        );
    }
}

/// Reads both clients up to a `pong`, past any such push.
async fn settle(g: &mut OwnGuild) {
    for oc in [&mut g.alice, &mut g.bob] {
        oc.send(json!({"cmd": "ping"})).await;
        let pong = next_past_guild_push(oc, "pong").await;
        assert_eq!(pong, json!({"cmd": "pong", "val": "pong"}));
    }
}

/// Alice sends `cmd` about a separator; the reply, and both settled.
async fn separator_op(g: &mut OwnGuild, cmd: &str, body: Value) -> Value {
    let mut req = body;
    req["cmd"] = json!(cmd);
    req["listener"] = json!("sep");
    g.alice.send(req).await;
    let reply = next_past_guild_push(&mut g.alice, cmd).await;
    assert_eq!(reply["listener"], "sep", "{reply}");
    settle(g).await;
    common::without_listener(&reply)
}

/// `channel_create` → the channel of the reply.
async fn create(oc: &mut Oc, body: Value) -> Value {
    let reply = oc.request("channel_create", body.clone()).await;
    assert_eq!(reply["created"], true, "{reply}");
    assert_eq!(reply["channel"]["name"], body["name"], "{reply}");
    reply["channel"].clone()
}

async fn names(oc: &mut Oc) -> Vec<String> {
    channel_names(&oc.channels().await)
}

#[tokio::test]
async fn channel_create_text_voice_and_separator() {
    let mut g = OwnGuild::start(NO_LIMITER, "Admin").await;
    let mut jam = Jam::with_token(&g.server, "alice", &g.alice_token).await;

    let body = json!({"name": "news", "type": "text", "description": "Announcements"});
    let news = create(&mut g.alice, body).await;
    assert_eq!(
        (
            &news["type"],
            &news["description"],
            &news["last_message_id"]
        ),
        (&json!("text"), &json!("Announcements"), &Value::Null),
        "{news}"
    );
    assert!(has(&channel_roles(&news, "view"), "owner"), "{news}");
    let d = jam.recv_op(20).await["d"].clone();
    assert_eq!(
        [&d["name"], &d["type"], &d["topic"], &d["guild_id"]],
        [
            &json!("news"),
            &json!("text"),
            &json!("Announcements"),
            &json!(g.guild_id)
        ],
        "{d}"
    );

    let stage = create(&mut g.alice, json!({"name": "stage", "type": "voice"})).await;
    assert_eq!(
        (&stage["type"], &stage["voice_state"]),
        (&json!("voice"), &json!([]))
    );
    let d = jam.recv_op(20).await["d"].clone();
    assert_eq!(
        (&d["name"], &d["type"]),
        (&json!("stage"), &json!("voice")),
        "{d}"
    );

    let body = json!({"name": "Info", "type": "separator"});
    let reply = separator_op(&mut g, "channel_create", body).await;
    assert_eq!(reply["created"], true, "{reply}");
    let info = &reply["channel"];
    assert_eq!(
        (&info["type"], &info["name"]),
        (&json!("separator"), &json!("Info"))
    );

    // channels_get shows all three as the replies did; bob sees them too.
    let list = g.alice.channels().await;
    assert_eq!(find(&list, "name", "news"), Some(&news), "{list}");
    assert_eq!(find(&list, "name", "stage"), Some(&stage), "{list}");
    assert_eq!(find(&list, "name", "Info"), Some(info), "{list}");
    let theirs = g.bob.channels().await;
    assert_eq!(find(&theirs, "name", "Info"), Some(info), "{theirs}");
    // JAM: two channels and a category.
    let guild = g.jam_guild().await;
    let jam_names: Vec<String> = channel_names(&guild["channels"]);
    assert!(
        has(&jam_names, "news") && has(&jam_names, "stage"),
        "{guild}"
    );
    assert!(!has(&jam_names, "Info"), "{guild}");
    let cat = find(&guild["categories"], "name", "Info").expect("Info is a JAM category");
    assert_eq!(cat["guild_id"], g.guild_id.as_str(), "{cat}");
}

#[tokio::test]
async fn channel_create_refusals() {
    let mut g = OwnGuild::start(NO_LIMITER, "Admin").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    let cmd = "channel_create";
    let no_name = "Channel name is required";
    alice.refused(cmd, json!({"type": "text"}), no_name).await;
    alice
        .refused(cmd, json!({"name": " ", "type": "text"}), no_name)
        .await;
    let no_type = "Channel type is required (text, voice, or separator)";
    alice.refused(cmd, json!({"name": "x"}), no_type).await;
    let bad_type = "Invalid channel type, must be text, voice, or separator";
    for kind in ["forum", "dm", "category"] {
        alice
            .refused(cmd, json!({"name": "x", "type": kind}), bad_type)
            .await;
    }
    for name in ["general", "lounge"] {
        let body = json!({"name": name, "type": "text"});
        alice.refused(cmd, body, "Channel already exists").await;
    }
    bob.refused(cmd, json!({"name": "mine", "type": "text"}), DENIED)
        .await;
    // Nothing was made.
    assert_eq!(names(alice).await, ["general", "lounge"]);
}

#[tokio::test]
async fn permission_lists_become_overwrites() {
    let mut g = OwnGuild::start(NO_LIMITER, "Admin").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    alice.request("role_create", json!({"name": "mods"})).await;

    // Only owner and mods may view `staff`.
    let body = json!({"name": "staff", "type": "text", "permissions": {"view": ["owner", "mods"]}});
    let staff = create(alice, body).await;
    assert_eq!(channel_roles(&staff, "view"), ["owner", "mods"], "{staff}");
    // Nobody but the owner may send in `news`.
    let body = json!({"name": "news", "type": "text", "permissions": {"send": ["owner"]}});
    let news = create(alice, body).await;
    assert!(has(&channel_roles(&news, "view"), "user"), "{news}");
    assert!(!has(&channel_roles(&news, "send"), "user"), "{news}");
    // Everyone but mods may send in `quiet`.
    let body = json!({"name": "quiet", "type": "text", "permissions": {"send": ["user", "!mods"]}});
    let quiet = create(alice, body).await;
    let send = channel_roles(&quiet, "send");
    assert!(has(&send, "user") && has(&send, "!mods"), "{quiet}");

    assert_eq!(
        names(bob).await,
        ["general", "lounge", "news", "quiet"],
        "bob without mods does not see staff"
    );
    let body = json!({"channel": "news", "content": "hi"});
    bob.refused("message_new", body, NO_SEND).await;
    bob.send_message("quiet", "allowed", "q").await;
    alice.expect_marker("quiet", "allowed").await;
    let sent = alice.send_message("news", "from the owner", "n").await;
    let seen = bob.expect_marker("news", "from the owner").await;
    assert_eq!(seen["message"]["id"], sent["message"]["id"]);

    alice
        .send(json!({"cmd": "user_roles_set", "user": "bob", "roles": ["mods"]}))
        .await;
    alice.recv_cmd("user_roles_get").await;
    bob.recv_cmd("user_roles_get").await;
    assert_eq!(
        names(bob).await,
        ["general", "lounge", "staff", "news", "quiet"],
        "with mods bob sees staff"
    );
    bob.send_message("staff", "in staff", "s").await;
    alice.expect_marker("staff", "in staff").await;
    let body = json!({"channel": "quiet", "content": "muted"});
    bob.refused("message_new", body, NO_SEND).await;
}

#[tokio::test]
async fn channel_update_renames_and_rewrites_permissions() {
    let mut g = OwnGuild::start(NO_LIMITER, "Admin").await;
    let mut jam = Jam::with_token(&g.server, "alice", &g.alice_token).await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    let old = alice
        .send_message("general", "before the rename", "m")
        .await;
    bob.recv_cmd("message_new").await;
    jam.recv_op(10).await;

    let cmd = "channel_update";
    let body = json!({"current_name": "general",
                      "updates": {"name": "chat", "description": "Talk here"}});
    let reply = alice.request(cmd, body).await;
    assert_eq!(reply["updated"], true, "{reply}");
    let chat = &reply["channel"];
    assert_eq!(
        [
            &chat["name"],
            &chat["type"],
            &chat["description"],
            &chat["last_message_id"]
        ],
        [
            &json!("chat"),
            &json!("text"),
            &json!("Talk here"),
            &old["message"]["id"]
        ],
        "{reply}"
    );
    let d = jam.recv_op(21).await["d"].clone();
    assert_eq!(
        (&d["name"], &d["topic"]),
        (&json!("chat"), &json!("Talk here")),
        "{d}"
    );
    assert_eq!(names(bob).await, ["chat", "lounge"]);
    // The history stays with the channel.
    let history = bob
        .request("messages_get", json!({"channel": "chat"}))
        .await;
    assert_eq!(
        history["messages"][0]["content"], "before the rename",
        "{history}"
    );

    // Permissions: now only the owner may send.
    let body = json!({"current_name": "chat", "updates": {"permissions": {"send": ["owner"]}}});
    let reply = alice.request(cmd, body).await;
    assert!(
        !has(&channel_roles(&reply["channel"], "send"), "user"),
        "{reply}"
    );
    let body = json!({"channel": "chat", "content": "hello?"});
    bob.refused("message_new", body, NO_SEND).await;

    let upd = json!({"name": "x"});
    let cases = [
        (json!({"updates": upd}), "current_name is required"),
        (
            json!({"current_name": "chat"}),
            "updates object is required",
        ),
        (
            json!({"current_name": "chat", "updates": "x"}),
            "updates object is required",
        ),
        (
            json!({"current_name": "ghost", "updates": upd}),
            "Channel not found",
        ),
        (
            json!({"current_name": "chat", "updates": {"name": "lounge"}}),
            "Channel with new name already exists",
        ),
    ];
    for (body, error) in cases {
        alice.refused(cmd, body, error).await;
    }
    let body = json!({"current_name": "chat", "updates": {"name": "bobs"}});
    bob.refused(cmd, body, DENIED).await;
    assert_eq!(names(alice).await, ["chat", "lounge"]);
}

#[tokio::test]
async fn channel_move_reorders_channels_get() {
    let mut g = OwnGuild::start(NO_LIMITER, "Admin").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    create(alice, json!({"name": "news", "type": "text"})).await;
    assert_eq!(names(bob).await, ["general", "lounge", "news"]);
    let cmd = "channel_move";
    for (name, position, order) in [
        ("news", 0, ["news", "general", "lounge"]),
        ("general", 2, ["news", "lounge", "general"]),
    ] {
        let reply = alice
            .request(cmd, json!({"name": name, "position": position}))
            .await;
        assert_eq!(
            reply,
            json!({"cmd": cmd, "name": name, "position": position, "moved": true})
        );
        assert_eq!(names(bob).await, order);
    }

    alice
        .refused(cmd, json!({"position": 1}), "Channel name is required")
        .await;
    alice
        .refused(cmd, json!({"name": "news"}), "Position is required")
        .await;
    let bad = "Position must be a non-negative integer";
    for position in [json!(-1), json!("1"), json!(1.5)] {
        alice
            .refused(cmd, json!({"name": "news", "position": position}), bad)
            .await;
    }
    let body = json!({"name": "ghost", "position": 0});
    alice.refused(cmd, body, "Channel not found").await;
    bob.refused(cmd, json!({"name": "general", "position": 0}), DENIED)
        .await;
    assert_eq!(names(alice).await, ["news", "lounge", "general"]);
}

#[tokio::test]
async fn channel_move_places_a_separator() {
    let mut g = OwnGuild::start(NO_LIMITER, "Admin").await;
    let body = json!({"name": "Info", "type": "separator"});
    separator_op(&mut g, "channel_create", body).await;
    // A new separator comes last, as a new channel does (the reference
    // appends); then it goes where it is moved. Everything is gathered
    // first, so that a failure shows every step.
    let mut seen = vec![(None, names(&mut g.bob).await)];
    for position in [0, 2, 1] {
        let body = json!({"name": "Info", "position": position});
        let reply = g.alice.request("channel_move", body).await;
        assert_eq!(
            reply,
            json!({"cmd": "channel_move", "name": "Info", "position": position, "moved": true})
        );
        seen.push((Some(position), names(&mut g.bob).await));
    }
    let order = |names: [&str; 3]| names.map(str::to_string).to_vec();
    assert_eq!(
        seen,
        [
            (None, order(["general", "lounge", "Info"])),
            (Some(0), order(["Info", "general", "lounge"])),
            (Some(2), order(["general", "lounge", "Info"])),
            (Some(1), order(["general", "Info", "lounge"])),
        ]
    );
}

#[tokio::test]
async fn channel_delete_removes_channels_and_separators() {
    let mut g = OwnGuild::start(NO_LIMITER, "Admin").await;
    create(&mut g.alice, json!({"name": "temp", "type": "text"})).await;
    let body = json!({"name": "Info", "type": "separator"});
    separator_op(&mut g, "channel_create", body).await;
    let temp_id = g.channel_id("temp").await;
    let mut jam = Jam::with_token(&g.server, "alice", &g.alice_token).await;

    let cmd = "channel_delete";
    let reply = g.alice.request(cmd, json!({"name": "temp"})).await;
    assert_eq!(reply, json!({"cmd": cmd, "name": "temp", "deleted": true}));
    let op22 = jam.recv_op(22).await;
    assert_eq!(
        op22["d"],
        json!({"id": temp_id, "guild_id": g.guild_id}),
        "{op22}"
    );
    let reply = separator_op(&mut g, cmd, json!({"name": "Info"})).await;
    assert_eq!(reply, json!({"cmd": cmd, "name": "Info", "deleted": true}));
    assert_eq!(names(&mut g.bob).await, ["general", "lounge"]);
    let guild = g.jam_guild().await;
    assert_eq!(guild["categories"], json!([]), "{guild}");
    let mut left = channel_names(&guild["channels"]);
    left.sort();
    assert_eq!(left, ["general", "lounge"], "{guild}");

    g.alice
        .refused(cmd, json!({}), "Channel name is required")
        .await;
    g.alice
        .refused(cmd, json!({"name": "temp"}), "Channel not found")
        .await;
    g.bob.refused(cmd, json!({"name": "general"}), DENIED).await;
    assert_eq!(names(&mut g.alice).await, ["general", "lounge"]);
}

/// The reference broadcasts nothing on `channel_create` and
/// `channel_delete`; a separator (a JAM category) must not look like a
/// server change either.
#[tokio::test]
async fn separator_changes_push_no_server_update() {
    let mut g = OwnGuild::start(NO_LIMITER, "Admin").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    let body = json!({"name": "Info", "type": "separator"});
    let reply = alice.request("channel_create", body).await;
    assert_eq!(reply["channel"]["name"], "Info", "{reply}");
    alice.ping_ok().await;
    let reply = alice
        .request("channel_delete", json!({"name": "Info"}))
        .await;
    assert_eq!(reply["deleted"], true, "{reply}");
    alice.send_message("general", "marker", "m").await;
    bob.expect_marker("general", "marker").await;
}

#[tokio::test]
async fn a_jam_overwrite_shows_in_channels_get() {
    let mut g = OwnGuild::start(NO_LIMITER, "Admin").await;
    let general = g.channel_id("general").await;
    let overwrites = json!([{"id": g.guild_id, "type": "role", "allow": "0",
                              "deny": SEND_MESSAGES.to_string()}]);
    let body = json!({"overwrites": overwrites});
    let path = format!("/api/channels/{general}");
    g.alice_rest("PUT", &path, Some(&body), 200).await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);
    let list = bob.channels().await;
    let channel = find(&list, "name", "general").expect("general");
    assert!(has(&channel_roles(channel, "view"), "user"), "{channel}");
    assert_eq!(channel_roles(channel, "send"), ["owner"], "{channel}");
    let body = json!({"channel": "general", "content": "hi"});
    bob.refused("message_new", body, NO_SEND).await;
    alice.send_message("general", "owner only", "o").await;
    bob.expect_marker("general", "owner only").await;
}
