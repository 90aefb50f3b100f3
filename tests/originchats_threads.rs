//! OriginChats forum channels and threads (reference §6.3, §10.3): the
//! thread commands, message commands with `thread_id`, the broadcasts each
//! causes, their errors, and that threads stay out of JAM.
//!
//! The forum is made over JAM REST (the reference's `channel_create` makes
//! only text, voice and separators; its forums are made by editing the
//! database), then opened to everyone with `channel_update` permission
//! lists.

mod common;

use common::{find, without_listener, Jam, Oc, OwnGuild};
use serde_json::{json, Value};

const NO_LIMITER: &str = "[originchats.rate_limiting]\nenabled = false\n";

/// A guild of alice's with a forum `help` where every member may view,
/// post and open threads.
async fn forum() -> OwnGuild {
    let g = OwnGuild::start(NO_LIMITER, "Forums").await;
    let body = json!({"guild_id": g.guild_id, "name": "help", "type": "forum"});
    g.alice_rest("POST", "/api/channels", Some(&body), 201)
        .await;
    let mut g = g;
    let lists = json!({"view": ["user"], "send": ["user"], "create_thread": ["user"]});
    let body = json!({"current_name": "help", "updates": {"permissions": lists}});
    let reply = g.alice.request("channel_update", body).await;
    assert_eq!(reply["updated"], true, "{reply}");
    g
}

/// `thread_create` by `oc` with a listener: its own copy (checked), and
/// the copy `other` gets (the same without the listener).
async fn create_thread(oc: &mut Oc, other: &mut Oc, name: &str) -> Value {
    oc.send(json!({"cmd": "thread_create", "channel": "help", "name": name, "listener": "t"}))
        .await;
    let mine = oc.recv_cmd("thread_create").await;
    assert_eq!(mine["listener"], "t", "{mine}");
    let theirs = other.recv_cmd("thread_create").await;
    assert_eq!(theirs, without_listener(&mine));
    mine
}

fn thread_id(frame: &Value) -> String {
    frame["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("thread without id: {frame}"))
        .to_string()
}

/// Both clients read one broadcast of `cmd`; returns alice's copy.
async fn both(g: &mut OwnGuild, cmd: &str) -> Value {
    let a = g.alice.recv_cmd(cmd).await;
    let b = g.bob.recv_cmd(cmd).await;
    assert_eq!(without_listener(&a), without_listener(&b));
    a
}

#[tokio::test]
async fn a_thread_from_creation_to_deletion() {
    let mut g = forum().await;
    let created = create_thread(&mut g.bob, &mut g.alice, "  Bug?  ").await;
    let id = thread_id(&created);
    let thread = &created["thread"];
    assert!(thread["created_at"].is_f64(), "{created}");
    assert_eq!(
        without_listener(&created),
        json!({
            "cmd": "thread_create",
            "channel": "help",
            "global": true,
            "thread": {
                "id": id, "name": "Bug?", "parent_channel": "help", "created_by": "bob",
                "created_at": thread["created_at"], "locked": false, "archived": false,
                "participants": ["bob"], "last_message": null, "last_message_id": null,
            },
        })
    );

    // The forum lists it; a thread is not a channel of its own.
    let list = g.alice.channels().await;
    let help = find(&list, "name", "help").expect("help listed").clone();
    assert_eq!(help["type"], "forum", "{help}");
    assert_eq!(help["threads"], json!([thread]), "{help}");
    assert!(find(&list, "name", "Bug?").is_none(), "{list}");

    // Joining adds a participant, for everyone to see.
    g.alice
        .send(json!({"cmd": "thread_join", "thread_id": id}))
        .await;
    let joined = both(&mut g, "thread_join").await;
    assert_eq!(joined["user"], "alice", "{joined}");
    assert_eq!(joined["thread_id"], id.as_str(), "{joined}");
    assert_eq!(joined["thread"]["participants"], json!(["bob", "alice"]));

    // Messages in the thread carry the forum's name and the thread id.
    g.bob
        .send(json!({"cmd": "message_new", "thread_id": id, "content": "it crashes", "listener": "m"}))
        .await;
    let first = both(&mut g, "message_new").await;
    assert_eq!(
        (&first["channel"], &first["thread_id"]),
        (&json!("help"), &json!(id))
    );
    let first_id = Oc::message_id(&first);
    g.alice
        .send(json!({"cmd": "message_new", "thread_id": id, "content": "which version?", "reply_to": first_id}))
        .await;
    let answer = both(&mut g, "message_new").await;
    let answer_id = Oc::message_id(&answer);
    assert_eq!(answer["message"]["reply_to"]["id"], first_id.as_str());

    g.alice
        .send(json!({"cmd": "message_edit", "thread_id": id, "id": answer_id, "content": "which build?"}))
        .await;
    let edit = both(&mut g, "message_edit").await;
    assert_eq!(
        (&edit["channel"], &edit["thread_id"], &edit["content"]),
        (&json!("help"), &json!(id), &json!("which build?"))
    );
    g.bob
        .send(json!({"cmd": "message_react_add", "thread_id": id, "id": answer_id, "emoji": "👀"}))
        .await;
    let react = both(&mut g, "message_react_add").await;
    assert_eq!(
        (&react["thread_id"], &react["from"]),
        (&json!(id), &json!("bob"))
    );
    g.bob.send(json!({"cmd": "typing", "thread_id": id})).await;
    let typing = g.alice.recv_cmd("typing").await;
    assert_eq!(
        typing,
        json!({"cmd": "typing", "channel": "help", "user": "bob", "thread_id": id, "global": true})
    );
    g.bob.recv_cmd("typing").await;

    // Reads: the thread's messages oldest first, by either command.
    let page = g
        .bob
        .request("thread_messages", json!({"thread_id": id}))
        .await;
    let contents: Vec<&Value> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| &m["content"])
        .collect();
    assert_eq!(contents, [&json!("it crashes"), &json!("which build?")]);
    assert_eq!(page["thread_id"], id.as_str());
    let got = g
        .bob
        .request("messages_get", json!({"thread_id": id, "limit": 1}))
        .await;
    assert_eq!(
        (&got["channel"], &got["thread_id"]),
        (&json!("help"), &json!(id))
    );
    assert_eq!(got["messages"][0]["id"], answer_id.as_str(), "{got}");
    let one = g
        .bob
        .request("message_get", json!({"thread_id": id, "id": first_id}))
        .await;
    assert_eq!(one["message"]["content"], "it crashes", "{one}");
    let now = g.bob.request("thread_get", json!({"thread_id": id})).await;
    assert_eq!(
        now["thread"]["last_message_id"],
        answer_id.as_str(),
        "{now}"
    );
    assert!(now["thread"]["last_message"].is_f64(), "{now}");

    // Deleting a message in the thread.
    g.bob
        .send(json!({"cmd": "message_delete", "thread_id": id, "id": first_id}))
        .await;
    let deleted = both(&mut g, "message_delete").await;
    assert_eq!(
        without_listener(&deleted),
        json!({"cmd": "message_delete", "id": first_id, "channel": "help", "thread_id": id, "global": true})
    );

    // Leaving, then deleting the thread (its creator may).
    g.alice
        .send(json!({"cmd": "thread_leave", "thread_id": id}))
        .await;
    let left = both(&mut g, "thread_leave").await;
    assert_eq!(left["thread"]["participants"], json!(["bob"]), "{left}");
    g.bob
        .send(json!({"cmd": "thread_delete", "thread_id": id, "listener": "d"}))
        .await;
    let gone = g.bob.recv_cmd("thread_delete").await;
    assert_eq!(
        gone,
        json!({"cmd": "thread_delete", "thread_id": id, "channel": "help", "global": true, "listener": "d"})
    );
    g.alice.recv_cmd("thread_delete").await;
    let body = json!({"thread_id": id});
    g.bob.refused("thread_get", body, "Thread not found").await;
    let help = g.alice.channels().await;
    let help = find(&help, "name", "help").expect("help").clone();
    assert_eq!(help["threads"], json!([]));
}

#[tokio::test]
async fn archiving_and_locking() {
    let mut g = forum().await;
    let created = create_thread(&mut g.bob, &mut g.alice, "Ideas").await;
    let id = thread_id(&created);

    // The creator archives; a post unarchives (everyone hears both).
    g.bob
        .send(json!({"cmd": "thread_update", "thread_id": id, "archived": true, "listener": "u"}))
        .await;
    let archived = both(&mut g, "thread_update").await;
    assert_eq!(archived["thread"]["archived"], true, "{archived}");
    assert!(archived.get("channel").is_none(), "{archived}");
    let body = json!({"thread_id": id, "id": "1", "content": "x"});
    g.alice
        .refused("message_edit", body, "This thread is archived")
        .await;
    g.alice
        .send(json!({"cmd": "message_new", "thread_id": id, "content": "still here"}))
        .await;
    let reopened = both(&mut g, "thread_update").await;
    assert_eq!(reopened["thread"]["archived"], false, "{reopened}");
    both(&mut g, "message_new").await;

    // `locked` from the creator without manage_threads is ignored ...
    g.bob
        .send(json!({"cmd": "thread_update", "thread_id": id, "locked": true, "name": "Ideas 2"}))
        .await;
    let update = both(&mut g, "thread_update").await;
    assert_eq!(
        (&update["thread"]["locked"], &update["thread"]["name"]),
        (&json!(false), &json!("Ideas 2"))
    );
    // ... from the owner it locks: no posts, no joins, no edits.
    g.alice
        .send(json!({"cmd": "thread_update", "thread_id": id, "locked": true}))
        .await;
    assert_eq!(
        both(&mut g, "thread_update").await["thread"]["locked"],
        true
    );
    let locked = "This thread is locked";
    let body = json!({"thread_id": id, "content": "hello?"});
    g.bob.refused("message_new", body, locked).await;
    g.bob
        .refused("thread_join", json!({"thread_id": id}), locked)
        .await;
    let body = json!({"thread_id": id, "id": "1", "content": "x"});
    g.bob.refused("message_edit", body, locked).await;
    // Reading a locked thread still works.
    let page = g
        .bob
        .request("thread_messages", json!({"thread_id": id}))
        .await;
    assert_eq!(page["messages"][0]["content"], "still here", "{page}");
}

#[tokio::test]
async fn thread_refusals() {
    let mut g = forum().await;
    let created = create_thread(&mut g.alice, &mut g.bob, "Owner's").await;
    let id = thread_id(&created);
    let general = g.channel_id("general").await;
    let (alice, bob) = (&mut g.alice, &mut g.bob);

    let required = "Channel and thread name are required";
    alice
        .refused("thread_create", json!({"channel": "help"}), required)
        .await;
    alice
        .refused("thread_create", json!({"name": "x"}), required)
        .await;
    let body = json!({"channel": "nowhere", "name": "x"});
    alice
        .refused("thread_create", body, "Channel not found")
        .await;
    let body = json!({"channel": "general", "name": "x"});
    let not_forum = "Threads can only be created in forum channels";
    alice.refused("thread_create", body, not_forum).await;
    let body = json!({"channel": "help", "name": "   "});
    alice
        .refused("thread_create", body, "Thread name cannot be empty")
        .await;

    for cmd in [
        "thread_get",
        "thread_messages",
        "thread_join",
        "thread_delete",
    ] {
        alice.refused(cmd, json!({}), "Thread ID is required").await;
        let body = json!({"thread_id": "12345"});
        alice.refused(cmd, body, "Thread not found").await;
    }
    // A channel id is not a thread id.
    let body = json!({"thread_id": general});
    alice.refused("thread_get", body, "Thread not found").await;

    // Bob neither created it nor manages threads.
    let modify = "You do not have permission to modify this thread";
    let body = json!({"thread_id": id, "name": "mine"});
    bob.refused("thread_update", body, modify).await;
    let body = json!({"thread_id": id});
    bob.refused("thread_delete", body, modify).await;
    let body = json!({"thread_id": id, "name": " "});
    alice
        .refused("thread_update", body, "Thread name cannot be empty")
        .await;

    // The forum itself takes no messages.
    let body = json!({"channel": "help", "content": "hi"});
    alice
        .refused(
            "message_new",
            body,
            "Cannot send messages in this channel type",
        )
        .await;
    let body = json!({"thread_id": "999", "content": "hi"});
    alice.refused("message_new", body, "Thread not found").await;
    let body = json!({"content": "hi"});
    alice
        .refused("message_new", body, "Missing fields: channel or thread_id")
        .await;
    let body = json!({"thread_id": "999"});
    alice.refused("typing", body, "Thread not found").await;
}

#[tokio::test]
async fn who_may_create_view_and_post_follows_the_forum() {
    let mut g = OwnGuild::start(NO_LIMITER, "Forums").await;
    let body = json!({"guild_id": g.guild_id, "name": "help", "type": "forum"});
    g.alice_rest("POST", "/api/channels", Some(&body), 201)
        .await;
    // By default only the owner opens threads (JAM's @everyone holds no
    // CREATE_PUBLIC_THREADS), as the reference's default `create_thread`.
    let body = json!({"channel": "help", "name": "Nope"});
    let no = "You do not have permission to create threads in this channel";
    g.bob.refused("thread_create", body, no).await;
    let created = create_thread(&mut g.alice, &mut g.bob, "Announcements").await;
    let id = thread_id(&created);
    // Bob may view and post (forum default: @everyone views and sends).
    g.bob
        .send(json!({"cmd": "message_new", "thread_id": id, "content": "hi"}))
        .await;
    both(&mut g, "message_new").await;

    // Hiding the forum from `user` hides its threads: no broadcasts, and
    // the view check's words.
    let lists = json!({"view": ["owner"], "send": ["owner"]});
    let body = json!({"current_name": "help", "updates": {"permissions": lists}});
    g.alice.request("channel_update", body).await;
    g.alice
        .send(json!({"cmd": "message_new", "thread_id": id, "content": "secret"}))
        .await;
    g.alice.recv_cmd("message_new").await;
    g.alice.send_message("general", "marker", "mk").await;
    g.bob.expect_marker("general", "marker").await;
    let body = json!({"thread_id": id});
    let hidden = "You do not have permission to view this thread";
    g.bob.refused("thread_get", body.clone(), hidden).await;
    g.bob.refused("thread_messages", body.clone(), hidden).await;
    g.bob.refused("thread_join", body, hidden).await;
    let body = json!({"thread_id": id, "content": "let me in"});
    let no_send = "You do not have permission to send messages in this thread";
    g.bob.refused("message_new", body, no_send).await;
    let list = g.bob.channels().await;
    assert!(find(&list, "name", "help").is_none(), "{list}");
}

/// Threads are an OriginChats view: a JAM client of the same guild hears
/// nothing of them and does not list them, while the forum made over JAM
/// is the OriginChats forum.
#[tokio::test]
async fn jam_clients_never_hear_of_threads() {
    let mut g = forum().await;
    let mut jam = Jam::with_token(&g.server, "bob-jam", &g.bob_token).await;
    let general = g.channel_id("general").await;
    let created = create_thread(&mut g.alice, &mut g.bob, "Release notes").await;
    let id = thread_id(&created);
    g.alice
        .send(json!({"cmd": "message_new", "thread_id": id, "content": "in the thread"}))
        .await;
    both(&mut g, "message_new").await;
    g.alice
        .send(json!({"cmd": "typing", "thread_id": id}))
        .await;
    g.alice.recv_cmd("typing").await;
    g.bob.recv_cmd("typing").await;
    g.alice.send_message("general", "in general", "mk").await;
    // The first message JAM hears is the one in general.
    let d = jam.recv_until(10).await["d"].clone();
    assert_eq!(
        (&d["channel_id"], &d["content"]),
        (&json!(general), &json!("in general")),
        "{d}"
    );
    let guild = g.jam_guild().await;
    let names: Vec<&Value> = guild["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert!(!names.contains(&&json!("Release notes")), "{guild}");
    let help = find(&guild["channels"], "name", "help").expect("forum");
    assert_eq!(help["type"], "forum");
    // The forum takes no messages of its own, from JAM either; the thread
    // is not a JAM channel.
    let forum_id = help["id"].as_str().expect("forum id").to_string();
    jam.send(
        10,
        json!({"channel_id": forum_id, "content": "hi"}),
        Some("f"),
    )
    .await;
    let e = jam.expect_error("INVALID").await;
    assert_eq!(e["ref"], "f", "{e}");
    let (status, _) = g
        .server
        .rest(
            "GET",
            &format!("/api/channels/{id}"),
            Some(&g.bob_token),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn threads_and_their_messages_survive_a_restart() {
    let mut g = forum().await;
    let created = create_thread(&mut g.bob, &mut g.alice, "Kept").await;
    let id = thread_id(&created);
    g.bob
        .send(json!({"cmd": "message_new", "thread_id": id, "content": "persisted"}))
        .await;
    both(&mut g, "message_new").await;
    assert!(g.server.stop().success(), "{}", g.server.log());
    g.server.restart();
    let url = common::oc_guild_url(&g.server, &g.guild_id);
    let mut bob = Oc::with_token_at(&url, "bob", &g.bob_token).await;
    let got = bob.request("thread_get", json!({"thread_id": id})).await;
    assert_eq!(got["thread"]["name"], "Kept", "{got}");
    assert_eq!(got["thread"]["participants"], json!(["bob"]), "{got}");
    let page = bob
        .request("thread_messages", json!({"thread_id": id}))
        .await;
    assert_eq!(page["messages"][0]["content"], "persisted", "{page}");
}

#[tokio::test]
async fn unreads_and_pings_in_threads() {
    let mut g = forum().await;
    let created = create_thread(&mut g.bob, &mut g.alice, "Questions").await;
    let id = thread_id(&created);
    for content in ["one", "@alice two"] {
        g.bob
            .send(json!({"cmd": "message_new", "thread_id": id, "content": content}))
            .await;
        both(&mut g, "message_new").await;
    }
    let key = format!("thread/{id}");
    let unreads = g.alice.request("unreads_get", json!({})).await;
    let entry = &unreads["unreads"][&key];
    assert_eq!(
        (
            &entry["unread_count"],
            &entry["total_messages"],
            &entry["parent_channel"]
        ),
        (&json!(2), &json!(2), &json!("help")),
        "{unreads}"
    );
    let count = g
        .alice
        .request("unreads_count", json!({"thread_id": id}))
        .await;
    assert_eq!(count["thread_id"], id.as_str(), "{count}");
    assert_eq!(count["unread_count"], 2, "{count}");

    // A mention in a thread is a ping, placed under the forum.
    let pings = g.alice.request("pings_get", json!({})).await;
    assert_eq!(pings["total"], 1, "{pings}");
    let ping = &pings["messages"][0];
    assert_eq!(
        (&ping["content"], &ping["channel"], &ping["thread_id"]),
        (&json!("@alice two"), &json!("help"), &json!(id)),
        "{pings}"
    );

    g.alice
        .send(json!({"cmd": "unreads_ack", "thread_id": id, "listener": "a"}))
        .await;
    let (ack, update) = loop {
        let f = g.alice.recv().await;
        match f["cmd"].as_str() {
            Some("unreads_ack") => {
                let update = g.alice.recv_until("unreads_update").await;
                break (f, update);
            }
            Some("unreads_update") => {
                let ack = g.alice.recv_until("unreads_ack").await;
                break (ack, f);
            }
            _ => continue,
        }
    };
    assert_eq!(ack["thread_id"], id.as_str(), "{ack}");
    assert!(ack.get("channel").is_none(), "{ack}");
    assert_eq!(update["thread_id"], id.as_str(), "{update}");
    assert_eq!(update["last_read"], ack["last_read"], "{update}");
    let count = g
        .alice
        .request("unreads_count", json!({"thread_id": id}))
        .await;
    assert_eq!(count["unread_count"], 0, "{count}");
}
