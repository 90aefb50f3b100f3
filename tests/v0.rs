//! V0 over real TCP sockets: CNN and SINFO, users, private messages,
//! channels and their history, and every bad input that closes the
//! connection or earns an `ERR`.

mod common;

use common::{issue_v0_key, rest_register, to_json, ulid, unix_now, Jam, TestServer, V0};
use serde_json::json;
use switchboard_protocols::v0::{self, Body, Frame, Inbound, Payload};

/// The default guild and its channels, read through a short JAM visit.
async fn lobby(server: &TestServer, token: &str) -> common::Lobby {
    let jam = Jam::with_token(server, "probe", token).await;
    let lobby = jam.lobby();
    jam.close().await;
    lobby
}

async fn general_id(server: &TestServer, token: &str) -> String {
    lobby(server, token).await.general
}

#[tokio::test]
async fn cnn_gets_sinfo_then_channel_status() {
    let server = TestServer::start();
    let (token, user) = rest_register(&server, "alice").await;
    let (acc, key) = issue_v0_key(&server, &token).await;
    assert_eq!(acc, "alice");
    let mut alice = V0::open(&server, "alice", key).await;
    alice.id = user["id"].as_str().unwrap_or_default().to_string();
    let sinfo = to_json(&alice.cnn().await);
    assert_eq!(
        sinfo,
        json!({"protocol_version": 0, "protocol_verion": 0, "server_name": "Switchboard", "version": 0, "timeout_s": 180})
    );
    let general = general_id(&server, &token).await;
    let status = alice.recv_cmd("CH_STATUS").await;
    assert_eq!(
        status,
        json!({"id": general, "name": "general", "leader": "server"})
    );
    alice.send(&Inbound::Kalive).await;
    alice.send(&Inbound::Info).await;
    assert_eq!(alice.recv_cmd("SINFO").await, sinfo);
    alice.send(&Inbound::Dcnn).await;
    alice.expect_closed().await;
}

/// What closes the connection: framing, signatures, replays, no CNN.
#[tokio::test]
async fn bad_input_closes_the_connection() {
    let server = TestServer::start();
    let (token, _) = rest_register(&server, "alice").await;
    let (_, key) = issue_v0_key(&server, &token).await;
    let cnn = |c: &V0| {
        let mut p = Payload::default();
        p.put("id", "alice");
        c.frame("CNN", p)
    };
    let sig = "00".repeat(64);
    let raw_cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a length that is not a number",
            format!("CNN\n4x\n{sig}\n").into_bytes(),
        ),
        (
            "a length over the limit",
            format!("CNN\n70000\n{sig}\n").into_bytes(),
        ),
        ("a lowercase name", format!("cnn\n1\n{sig}\n").into_bytes()),
        (
            "a signature that is not hex",
            format!("CNN\n1\n{}\n\u{0}", "zz".repeat(64)).into_bytes(),
        ),
    ];
    for (what, bytes) in raw_cases {
        let mut c = V0::open(&server, what, key).await;
        c.send_raw(&bytes).await;
        c.expect_closed().await;
    }
    // Not a map; a bad signature; another account's key; a stale
    // timestamp; the first command not CNN; an unknown account.
    let mut c = V0::open(&server, "list", key).await;
    let payload = vec![0x91, 0x01];
    let f = Frame {
        name: "CNN".into(),
        sig: v0::sign(&key, &payload),
        payload,
    };
    c.send_frame(f).await;
    c.expect_closed().await;

    let mut c = V0::open(&server, "forged", [9; 32]).await;
    let f = cnn(&c);
    c.send_frame(f).await;
    c.expect_closed().await;

    let mut c = V0::open(&server, "stale", key).await;
    let mut p = Payload::default();
    p.put("id", "alice");
    p.put("timestamp", unix_now() - 120);
    p.put("nonce", 1u64);
    let payload = p.encode();
    c.send_frame(Frame {
        name: "CNN".into(),
        sig: v0::sign(&key, &payload),
        payload,
    })
    .await;
    c.expect_closed().await;

    let mut c = V0::open(&server, "first", key).await;
    c.send(&Inbound::LstUsr).await;
    c.expect_closed().await;

    let mut c = V0::open(&server, "nobody", key).await;
    c.send(&Inbound::Cnn {
        id: "nobody".into(),
    })
    .await;
    c.expect_closed().await;

    // A replayed frame, after a good CNN.
    let mut c = V0::open(&server, "alice", key).await;
    c.cnn().await;
    let f = c.frame("KALIVE", Payload::default());
    c.send_frame(f.clone()).await;
    c.sync().await;
    c.send_frame(f).await;
    c.expect_closed().await;

    // A truncated payload, then the end of the stream: nothing is stored.
    let (_, _) = (token.clone(), ());
    let mut c = V0::open(&server, "alice", key).await;
    c.cnn().await;
    let general = general_id(&server, &token).await;
    let cmd = Inbound::ChMsg {
        id: general.clone(),
        msg_id: ulid(),
        msg: Body::Text("never stored".into()),
    };
    let bytes = v0::frame::to_bytes(c.frame(cmd.name(), cmd.fields()));
    c.send_raw(&bytes[..bytes.len() - 3]).await;
    drop(c);
    let (status, history) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={general}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(!history.to_string().contains("never stored"), "{history}");

    // No CNN within 5 s.
    let mut c = V0::open(&server, "silent", key).await;
    c.expect_closed().await;
}

/// What earns an `ERR` and keeps the connection.
#[tokio::test]
async fn errors_keep_the_connection() {
    let server = TestServer::start();
    let (mut alice, _) = V0::register(&server, "alice").await;
    let f = alice.frame("FROBNICATE", Payload::default());
    alice.send_frame(f).await;
    assert_eq!(
        alice.recv_cmd("ERR").await,
        json!({"cmd": "FROBNICATE", "reason": "unknown command"})
    );
    let f = alice.frame("CH_MSG", Payload::default());
    alice.send_frame(f).await;
    assert_eq!(
        alice.recv_cmd("ERR").await,
        json!({"cmd": "CH_MSG", "reason": "missing or invalid field `id`"})
    );
    let cases = [
        (
            Inbound::PvMsg {
                to: "nobody".into(),
                msg_id: ulid(),
                msg: Body::Text("x".into()),
            },
            "unknown user nobody",
        ),
        (
            Inbound::ChMsg {
                id: "12345".into(),
                msg_id: ulid(),
                msg: Body::Text("x".into()),
            },
            "unknown channel 12345",
        ),
        (
            Inbound::ChPull {
                id: "12345".into(),
                anchor: None,
            },
            "unknown channel 12345",
        ),
        (Inbound::CnnUsr { to: "ghost".into() }, "unknown user ghost"),
        (
            Inbound::ChAckReq {
                id: ulid(),
                users: vec![],
            },
            "unknown message",
        ),
        (Inbound::Cnn { id: "alice".into() }, "already connected"),
    ];
    for (cmd, reason) in cases {
        let name = cmd.name();
        alice.send(&cmd).await;
        let e = alice.recv_cmd("ERR").await;
        assert_eq!(e["cmd"], name, "{e}");
        assert!(
            e["reason"].as_str().unwrap_or_default().starts_with(reason),
            "{name}: {e}"
        );
    }
    alice.sync().await;
}

#[tokio::test]
async fn users_private_messages_and_handshakes() {
    let server = TestServer::start();
    let (mut alice, _) = V0::register(&server, "alice").await;
    let (mut bob, _) = V0::register(&server, "bob").await;
    let ucnn = alice.recv_cmd("UCNN").await;
    assert_eq!(ucnn, json!({"id": bob.id, "name": "bob"}));
    // A JAM user is listed too.
    let (jam_token, jam_user) = rest_register(&server, "carol").await;
    let _carol = Jam::with_token(&server, "carol", &jam_token).await;
    alice.send(&Inbound::LstUsr).await;
    let list = alice.recv_cmd("USR_LST").await;
    let users = list["users"].as_array().expect("users").clone();
    for (id, name) in [(&alice.id, "alice"), (&bob.id, "bob")] {
        assert!(
            users.contains(&json!({"id": id, "status": "online", "name": name})),
            "{list}"
        );
    }
    assert!(
        users.contains(&json!({"id": jam_user["id"], "status": "online", "name": "carol"})),
        "{list}"
    );

    alice.send(&Inbound::CnnUsr { to: bob.id.clone() }).await;
    assert_eq!(alice.recv_cmd("USR_HSK").await, json!({"id": bob.id}));
    assert_eq!(bob.recv_cmd("USR_HSK").await, json!({"id": alice.id}));

    // PV_MSG → MSG (bin stays bin), ACK_MSG → MSG_ACK.
    let id = ulid();
    let pv = Inbound::PvMsg {
        to: bob.id.clone(),
        msg_id: id.clone(),
        msg: Body::Bytes(vec![0, 159, 146, 150]),
    };
    alice.send(&pv).await;
    assert_eq!(
        bob.recv_cmd("MSG").await,
        json!({"from": alice.id, "msg_id": id, "msg": {"bin": [0, 159, 146, 150]}})
    );
    // The same msg_id again is not a second message.
    alice.send(&pv).await;
    alice.sync().await;
    bob.send(&Inbound::AckMsg {
        from: alice.id.clone(),
        msg_id: id.clone(),
    })
    .await;
    assert_eq!(alice.recv_cmd("MSG_ACK").await, json!({"msg_id": id}));
    bob.sync().await;

    // Leaving: UDCNN to the others.
    bob.send(&Inbound::Dcnn).await;
    bob.expect_closed().await;
    let gone = alice.recv_cmd("UDCNN").await;
    assert_eq!(gone, json!({"id": bob.id, "name": "bob"}));
}

#[tokio::test]
async fn channel_messages_acks_and_history() {
    let server = TestServer::start();
    let (mut alice, token) = V0::register(&server, "alice").await;
    let (mut bob, _) = V0::register(&server, "bob").await;
    let general = general_id(&server, &token).await;
    let alice_id = alice.id.clone();
    alice.send(&Inbound::ChLst).await;
    assert_eq!(
        alice.recv_cmd("LST_CH").await,
        json!({"channels": [{"id": general, "name": "general", "leader": "server", "status": "healthy"}]})
    );
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let id = ulid();
        alice
            .send(&Inbound::ChMsg {
                id: general.clone(),
                msg_id: id.clone(),
                msg: Body::Text(text.into()),
            })
            .await;
        for c in [&mut alice, &mut bob] {
            assert_eq!(
                c.recv_cmd("CH_MSG").await,
                json!({"id": general, "msg_id": id, "msg": text})
            );
            assert_eq!(
                c.recv_cmd("CH_MSG_COMMIT").await,
                json!({"id": id, "acks": [alice_id]})
            );
        }
        ids.push(id);
    }
    bob.send(&Inbound::AckChMsg { id: ids[0].clone() }).await;
    assert_eq!(
        alice.recv_cmd("CH_MSG_ACK").await,
        json!({"id": ids[0], "user": bob.id})
    );
    bob.recv_cmd("CH_MSG_ACK").await;

    // History after an anchor, oldest first; the newest page without one.
    bob.send(&Inbound::ChPull {
        id: general.clone(),
        anchor: Some(ids[0].clone()),
    })
    .await;
    let append = bob.recv_cmd("CH_APPEND").await;
    assert_eq!(append["anchor"], ids[0].as_str());
    let got: Vec<&serde_json::Value> = append["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(got, [&json!(ids[1]), &json!(ids[2])], "{append}");
    let first = &append["messages"][0];
    assert_eq!(
        (&first["from"], &first["msg"], &first["acks"]),
        (&json!(alice.id), &json!("two"), &json!([alice.id]))
    );
    bob.send(&Inbound::ChPull {
        id: general.clone(),
        anchor: Some(ulid()),
    })
    .await;
    let all = bob.recv_cmd("CH_APPEND").await;
    assert_eq!(all["messages"].as_array().map(Vec::len), Some(3), "{all}");

    // Joining and leaving are announced.
    bob.send(&Inbound::ChJoin {
        id: general.clone(),
    })
    .await;
    assert_eq!(
        alice.recv_cmd("CH_UJOIN").await,
        json!({"channel": general, "user": bob.id})
    );
    bob.send(&Inbound::ChLeave {
        id: general.clone(),
    })
    .await;
    assert_eq!(
        alice.recv_cmd("CH_ULEAVE").await,
        json!({"channel": general, "user": bob.id})
    );
}

/// An election among three V0 clients, commits from the leader only, and
/// leadership back to the server when the leader leaves.
#[tokio::test]
async fn an_election_with_three_clients() {
    let server = TestServer::start();
    let (mut a, token) = V0::register(&server, "ann").await;
    let (mut b, _) = V0::register(&server, "ben").await;
    let (mut c, _) = V0::register(&server, "cat").await;
    let general = general_id(&server, &token).await;
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    a.send(&Inbound::ChLead { election: 1 }).await;
    for x in [&mut a, &mut b, &mut c] {
        assert_eq!(
            x.recv_cmd("CH_VOTE").await,
            json!({"election": 1, "user": a_id})
        );
    }
    a.send(&Inbound::ChVote {
        election: 1,
        user: a.id.clone(),
    })
    .await;
    a.sync().await;
    b.send(&Inbound::ChVote {
        election: 1,
        user: a.id.clone(),
    })
    .await;
    for x in [&mut a, &mut b, &mut c] {
        assert_eq!(
            x.recv_cmd("CH_ELECTED").await,
            json!({"election": 1, "leader": a_id})
        );
    }
    // Too late, twice, and not a bigger number.
    c.send(&Inbound::ChVote {
        election: 1,
        user: c.id.clone(),
    })
    .await;
    assert_eq!(c.recv_cmd("ERR").await["reason"], "election 1 is decided");
    c.send(&Inbound::ChLead { election: 1 }).await;
    let e = c.recv_cmd("ERR").await;
    assert_eq!(e["cmd"], "CH_LEAD", "{e}");
    b.send(&Inbound::ChLst).await;
    let list = b.recv_cmd("LST_CH").await;
    assert_eq!(list["channels"][0]["leader"], a.id.as_str(), "{list}");

    // Only the leader commits.
    let id = ulid();
    b.send(&Inbound::ChCommit {
        id: id.clone(),
        acks: vec![b.id.clone()],
    })
    .await;
    assert_eq!(
        b.recv_cmd("ERR").await,
        json!({"cmd": "CH_COMMIT", "reason": "only the current leader commits"})
    );
    a.send(&Inbound::ChCommit {
        id: id.clone(),
        acks: vec![a.id.clone(), b.id.clone()],
    })
    .await;
    for x in [&mut a, &mut b, &mut c] {
        assert_eq!(
            x.recv_cmd("CH_MSG_COMMIT").await,
            json!({"id": id, "acks": [a_id, b_id]})
        );
    }
    // The leader leaves: the server leads again.
    a.send(&Inbound::Dcnn).await;
    a.expect_closed().await;
    loop {
        let (cmd, p) = b.recv().await;
        if cmd == "CH_STATUS" {
            assert_eq!(
                to_json(&p),
                json!({"id": general, "name": "general", "leader": "server"})
            );
            break;
        }
        assert_eq!(cmd, "UDCNN", "{:?}", to_json(&p));
    }
}

/// `x` is asked to confirm `msg_id` (`CH_MSG_CONFIRM`) and does
/// (`ACK_CH_MSG`).
async fn confirm(x: &mut V0, channel: &str, msg_id: &str) {
    assert_eq!(
        x.recv_cmd("CH_MSG_CONFIRM").await,
        json!({"id": channel, "message": msg_id})
    );
    x.send(&Inbound::AckChMsg {
        id: msg_id.to_string(),
    })
    .await;
}

/// A merge adds what the server lacks when two members vouch for it: the
/// merging client's own message at once, another user's once that user
/// confirmed it (`CH_MSG_CONFIRM` → `ACK_CH_MSG`).
#[tokio::test]
async fn merges_need_two_acks() {
    let server = TestServer::start();
    let (mut a, token) = V0::register(&server, "ann").await;
    let (mut b, _) = V0::register(&server, "ben").await;
    let general = general_id(&server, &token).await;
    let entry = |id: &str, from: &str, acks: Vec<String>| v0::HistoryEntry {
        id: id.to_string(),
        from: from.to_string(),
        msg: Body::Text("said while the server was away".into()),
        timestamp: unix_now(),
        acks,
    };
    let lonely = ulid();
    a.send(&Inbound::ChMerge {
        id: general.clone(),
        msg: vec![entry(&lonely, &a.id, vec![a.id.clone()])],
    })
    .await;
    let e = a.recv_cmd("ERR").await;
    assert_eq!(e["cmd"], "CH_MERGE", "{e}");

    // Ann's own message, vouched for by two: stored at once.
    let own = ulid();
    let merge = Inbound::ChMerge {
        id: general.clone(),
        msg: vec![entry(&own, &a.id, vec![a.id.clone(), b.id.clone()])],
    };
    a.send(&merge).await;
    for x in [&mut a, &mut b] {
        assert_eq!(
            x.recv_cmd("CH_MSG").await,
            json!({"id": general, "msg_id": own, "msg": "said while the server was away"})
        );
        x.recv_cmd("CH_MSG_COMMIT").await;
    }
    // Merging it again adds nothing.
    a.send(&merge).await;
    a.sync().await;

    // Ben's message, merged by ann: held until ben confirms it.
    let vouched = ulid();
    a.send(&Inbound::ChMerge {
        id: general.clone(),
        msg: vec![entry(&vouched, &b.id, vec![a.id.clone(), b.id.clone()])],
    })
    .await;
    confirm(&mut b, &general, &vouched).await;
    let ben = b.id.clone();
    for x in [&mut a, &mut b] {
        // The draft's relay of the ack comes first, then the message.
        assert_eq!(
            x.recv_cmd("CH_MSG_ACK").await,
            json!({"id": vouched, "user": ben})
        );
        assert_eq!(
            x.recv_cmd("CH_MSG").await,
            json!({"id": general, "msg_id": vouched, "msg": "said while the server was away"})
        );
        x.recv_cmd("CH_MSG_COMMIT").await;
    }
    b.send(&Inbound::ChPull {
        id: general.clone(),
        anchor: None,
    })
    .await;
    let all = b.recv_cmd("CH_APPEND").await;
    assert_eq!(all["messages"].as_array().map(Vec::len), Some(2), "{all}");
    assert_eq!(all["messages"][0]["from"], a.id.as_str());
    assert_eq!(all["messages"][1]["from"], b.id.as_str());

    // The leader asks a co-signer to confirm.
    a.send(&Inbound::ChAckReq {
        id: vouched.clone(),
        users: vec![b.id.clone()],
    })
    .await;
    confirm(&mut b, &general, &vouched).await;
    assert_eq!(
        a.recv_cmd("CH_MSG_ACK").await,
        json!({"id": vouched, "user": b.id})
    );
}

/// New members and members leaving the default guild, announced.
#[tokio::test]
async fn users_added_and_removed() {
    let server = TestServer::start();
    let (mut a, _) = V0::register(&server, "ann").await;
    let (token, dave) = rest_register(&server, "dave").await;
    assert_eq!(
        a.recv_cmd("USR_ADD").await,
        json!({"id": dave["id"], "status": "offline", "name": "dave"})
    );
    let lobby = lobby(&server, &token).await.guild_id;
    let (status, body) = server
        .rest(
            "DELETE",
            &format!("/api/guilds/{lobby}/members/@me"),
            Some(&token),
            None,
        )
        .await;
    assert!(status == 204 || status == 200, "{status} {body}");
    loop {
        let (cmd, p) = a.recv().await;
        if cmd == "USR_RMD" {
            assert_eq!(to_json(&p), json!({"id": dave["id"]}));
            break;
        }
        assert_eq!(cmd, "USR_ADD", "{:?}", to_json(&p));
    }
}

/// The operator's CLI issues a key; the old one stops working.
#[tokio::test]
async fn the_cli_issues_keys() {
    let mut server = TestServer::start();
    let (token, _) = rest_register(&server, "alice").await;
    let (_, old) = issue_v0_key(&server, &token).await;
    assert!(server.stop().success(), "{}", server.log());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["v0", "issue-key", "alice", "--config"])
        .arg(server.config_path())
        .output()
        .expect("run the cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(line["acc_id"], "alice");
    let hex = line["secret"].as_str().expect("secret");
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    // Unknown accounts: a clear failure.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["v0", "issue-key", "nobody", "--config"])
        .arg(server.config_path())
        .output()
        .expect("run the cli");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no account named"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.restart();
    let mut stale = V0::open(&server, "alice", old).await;
    stale.send(&Inbound::Cnn { id: "alice".into() }).await;
    stale.expect_closed().await;
    let mut fresh = V0::open(&server, "alice", key).await;
    fresh.cnn().await;
}
