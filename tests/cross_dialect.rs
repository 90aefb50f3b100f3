//! One world, two dialects: an OriginChats client and a JAM client in the
//! default guild's `general` (and `lounge`) see each other's messages,
//! edits, deletes, reactions, typing and voice joins, each in its own
//! dialect's shape, in both directions.

mod common;

use common::{assert_id, Jam, Lobby, Oc, TestServer};
use serde_json::{json, Value};

struct Pair {
    _server: TestServer,
    jam: Jam,
    oc: Oc,
    lobby: Lobby,
    /// The OriginChats user's Switchboard id, learnt from JAM.
    oc_id: String,
}

/// jamuser over JAM, ocuser over OriginChats; ocuser's id comes from the
/// author of its first message as JAM sees it.
async fn pair() -> Pair {
    let server = TestServer::with_config("[originchats.rate_limiting]\nenabled = false\n");
    let mut jam = Jam::register(&server, "jamuser").await;
    let mut oc = Oc::register(&server, "ocuser").await;
    let lobby = jam.lobby();
    let hello = oc.send_message("general", "hello from oc", "h").await;
    let seen = jam.recv_op(10).await["d"].clone();
    assert_eq!(seen["content"], "hello from oc");
    assert_eq!(seen["id"], hello["message"]["id"], "one message, one id");
    let oc_id = assert_id(&seen["author"]["id"], "author.id");
    Pair {
        _server: server,
        jam,
        oc,
        lobby,
        oc_id,
    }
}

#[tokio::test]
async fn messages_edits_and_deletes_cross_both_ways() {
    let Pair {
        mut jam,
        mut oc,
        lobby,
        oc_id,
        _server,
    } = pair().await;
    let general = lobby.general.as_str();

    // OriginChats → JAM.
    let sent = oc.send_message("general", "oc says hi", "o-1").await;
    let oc_msg = Oc::message_id(&sent);
    let d = jam.recv_op(10).await["d"].clone();
    assert_eq!(d["id"], oc_msg.as_str());
    assert_eq!(d["channel_id"], general);
    assert_eq!(d["guild_id"], lobby.guild_id.as_str());
    assert_eq!(d["content"], "oc says hi");
    assert_eq!(d["author"]["username"], "ocuser");
    assert_eq!(d["author"]["id"], oc_id.as_str());
    assert!(d.get("ref").is_none(), "{d}");

    // JAM → OriginChats.
    let jd = jam.send_message(general, "jam says hi", "j-1").await;
    let jam_msg = assert_id(&jd["id"], "message.id");
    let f = oc.recv_cmd("message_new").await;
    assert_eq!(f["channel"], "general");
    assert_eq!(f["thread_id"], Value::Null);
    assert_eq!(f["global"], true);
    assert!(f.get("listener").is_none(), "{f}");
    assert_eq!(f["message"]["id"], jam_msg.as_str());
    assert_eq!(f["message"]["user"], "jamuser");
    assert_eq!(f["message"]["content"], "jam says hi");
    assert!(f["message"]["timestamp"].is_f64(), "{f}");
    assert_eq!(f["message"]["type"], "message");

    // Edits.
    oc.send(
        json!({"cmd": "message_edit", "id": oc_msg, "channel": "general", "content": "oc edited"}),
    )
    .await;
    oc.recv_cmd("message_edit").await;
    let d = jam.recv_op(11).await["d"].clone();
    assert_eq!(d["id"], oc_msg.as_str());
    assert_eq!(d["content"], "oc edited");
    assert_eq!(d["author"]["username"], "ocuser");
    assert!(d["edited_at"].is_string(), "{d}");

    jam.send(
        11,
        json!({"id": jam_msg, "channel_id": general, "content": "jam edited"}),
        None,
    )
    .await;
    jam.recv_op(11).await;
    let f = oc.recv_cmd("message_edit").await;
    assert_eq!(f["id"], jam_msg.as_str());
    assert_eq!(f["content"], "jam edited");
    assert_eq!(f["channel"], "general");
    assert_eq!(f["global"], true);
    assert_eq!(f["message"]["content"], "jam edited");
    assert_eq!(f["message"]["user"], "jamuser");
    assert_eq!(f["message"]["edited"], true);

    // Deletes.
    oc.send(json!({"cmd": "message_delete", "id": oc_msg, "channel": "general"}))
        .await;
    oc.recv_cmd("message_delete").await;
    assert_eq!(
        jam.recv_op(12).await["d"],
        json!({"id": oc_msg, "channel_id": general, "guild_id": lobby.guild_id})
    );
    jam.send(12, json!({"id": jam_msg, "channel_id": general}), None)
        .await;
    jam.recv_op(12).await;
    let f = oc.recv_cmd("message_delete").await;
    assert_eq!(f["id"], jam_msg.as_str());
    assert_eq!(f["channel"], "general");
    assert_eq!(f["global"], true);

    // Both are gone from the OriginChats history.
    oc.send(json!({"cmd": "messages_get", "channel": "general"}))
        .await;
    let r = oc.recv_cmd("messages_get").await;
    let ids: Vec<&Value> = r["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert!(
        !ids.contains(&&json!(oc_msg)) && !ids.contains(&&json!(jam_msg)),
        "{r}"
    );
    assert_eq!(
        r["messages"].as_array().map(Vec::len),
        Some(1),
        "only the hello: {r}"
    );
}

#[tokio::test]
async fn reactions_cross_both_ways() {
    let Pair {
        mut jam,
        mut oc,
        lobby,
        oc_id,
        _server,
    } = pair().await;
    let general = lobby.general.as_str();
    let jd = jam.send_message(general, "react here", "j").await;
    let msg = jd["id"].as_str().expect("id").to_string();
    oc.recv_cmd("message_new").await;

    oc.send(json!({"cmd": "message_react_add", "channel": "general", "id": msg, "emoji": "🎉"}))
        .await;
    oc.recv_cmd("message_react_add").await;
    assert_eq!(
        jam.recv_op(13).await["d"],
        json!({"message_id": msg, "channel_id": general, "guild_id": lobby.guild_id,
               "user_id": oc_id, "emoji": "🎉", "action": "add", "count": 1})
    );

    let react = |action: &str| json!({"message_id": msg, "channel_id": general, "emoji": "🎉", "action": action});
    jam.send(13, react("add"), None).await;
    assert_eq!(jam.recv_op(13).await["d"]["count"], 2);
    assert_eq!(
        oc.recv_cmd("message_react_add").await,
        json!({"cmd": "message_react_add", "id": msg, "emoji": "🎉", "channel": "general",
               "from": "jamuser", "global": true})
    );
    jam.send(13, react("remove"), None).await;
    assert_eq!(jam.recv_op(13).await["d"]["count"], 1);
    assert_eq!(
        oc.recv_cmd("message_react_remove").await,
        json!({"cmd": "message_react_remove", "id": msg, "emoji": "🎉", "channel": "general",
               "from": "jamuser", "global": true})
    );

    oc.send(json!({"cmd": "message_get", "channel": "general", "id": msg}))
        .await;
    let got = oc.recv_cmd("message_get").await;
    assert_eq!(
        got["message"]["reactions"],
        json!({"🎉": ["ocuser"]}),
        "{got}"
    );
}

#[tokio::test]
async fn typing_crosses_both_ways() {
    let Pair {
        mut jam,
        mut oc,
        lobby,
        oc_id,
        _server,
    } = pair().await;
    let general = lobby.general.as_str();

    oc.send(json!({"cmd": "typing", "channel": "general"}))
        .await;
    oc.recv_cmd("typing").await;
    let d = jam.recv_op(60).await["d"].clone();
    assert_eq!(d["channel_id"], general);
    assert_eq!(d["user_id"], oc_id.as_str());
    assert!(d["timestamp"].is_string(), "{d}");

    jam.send(60, json!({"channel_id": general}), None).await;
    assert_eq!(
        oc.recv_cmd("typing").await,
        json!({"cmd": "typing", "channel": "general", "user": "jamuser", "thread_id": null,
               "global": true})
    );
    // JAM's sender gets no op 60 of its own: its next frame is this message.
    oc.send_message("general", "after typing", "a").await;
    assert_eq!(jam.recv_op(10).await["d"]["content"], "after typing");
}

#[tokio::test]
async fn voice_joins_cross_both_ways_and_share_one_state() {
    let Pair {
        mut jam,
        mut oc,
        lobby,
        oc_id,
        _server,
    } = pair().await;
    let jam_id = jam.user_id();

    oc.send(json!({"cmd": "voice_join", "channel": "lounge", "peer_id": "peer-oc"}))
        .await;
    oc.recv_all(&["voice_user_joined", "voice_join"]).await;
    assert_eq!(
        jam.recv_op(40).await["d"],
        json!({"user_id": oc_id, "guild_id": lobby.guild_id, "channel_id": lobby.lounge,
               "self_mute": false, "self_deaf": false})
    );

    jam.send(
        40,
        json!({"guild_id": lobby.guild_id, "channel_id": lobby.lounge, "self_mute": false, "self_deaf": false}),
        None,
    )
    .await;
    let mine = jam.recv_op(40).await["d"].clone();
    assert_eq!(mine["user_id"], jam_id.as_str());
    let f = oc.recv_cmd("voice_user_joined").await;
    assert_eq!(f["channel"], "lounge");
    assert_eq!(f["user"]["username"], "jamuser");
    assert_eq!(f["user"]["muted"], false);
    assert!(f.get("global").is_none(), "{f}");

    oc.send(json!({"cmd": "voice_state", "channel": "lounge"}))
        .await;
    let state = oc.recv_cmd("voice_state").await;
    let mut names: Vec<&str> = state["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| p["username"].as_str().unwrap_or_default())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["jamuser", "ocuser"], "{state}");

    // Leaving over JAM shows as voice_user_left.
    jam.send(
        40,
        json!({"guild_id": lobby.guild_id, "channel_id": null, "self_mute": false, "self_deaf": false}),
        None,
    )
    .await;
    jam.recv_op(40).await;
    assert_eq!(
        oc.recv_cmd("voice_user_left").await,
        json!({"cmd": "voice_user_left", "channel": "lounge", "username": "jamuser"})
    );
    // ... and leaving over OriginChats as op 40 with channel_id null.
    oc.send(json!({"cmd": "voice_leave"})).await;
    oc.recv_all(&["voice_user_left", "voice_leave"]).await;
    assert_eq!(
        jam.recv_op(40).await["d"],
        json!({"user_id": oc_id, "guild_id": lobby.guild_id, "channel_id": null,
               "self_mute": false, "self_deaf": false})
    );
}
