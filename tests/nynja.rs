//! CHAT (SYNRC/NYNJA) over MQTT with rumqttc: registration and
//! verification, login with the token and the Profile init push, search,
//! friendship, p2p messages with edit and delete, history, and the
//! answers to bad input.

mod common;

use common::{auth, nynja_login, nynja_login_via, Jam, Ny, TestServer, NYNJA_FIXED};
use rumqttc::ConnectReturnCode;
use switchboard_protocols::nynja::etf::Term;
use switchboard_protocols::nynja::{self, io_error, io_ok, p2p_feed, MessageView};

fn text_of(t: &Term, i: usize) -> String {
    t.record_fields(t.record_name().unwrap_or_default())
        .and_then(|f| f.get(i))
        .and_then(Term::as_text)
        .unwrap_or_default()
}

#[tokio::test]
async fn registration_login_and_profile_init() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let mut reg = Ny::connect(&server, "reg_dev1", None).await;
    reg.send(&auth("reg_dev1", "15550001", "reg", None)).await;
    assert_eq!(reg.recv().await.1, io_ok("sms_sent", Term::bin("")));
    reg.send(&auth("reg_dev1", "15550001", "verify", Some("000000")))
        .await;
    assert_eq!(reg.recv().await.1, io_error("invalid_sms_code"));
    // A reg_ client may only send Auth.
    let profile_get = common::profile_get("15550001");
    reg.send(&profile_get).await;
    assert_eq!(reg.recv().await.1, io_error("permission_denied"));
    // Not a term; a record of the wrong arity; something out of scope.
    reg.send_raw(b"hello".to_vec()).await;
    assert_eq!(reg.recv().await.1, io_error("invalid_data"));
    reg.send(&Term::record("Auth", [Term::nil()])).await;
    assert_eq!(reg.recv().await.1, io_error("invalid_data"));
    reg.send(&Term::record("Person", [Term::nil()])).await;
    assert_eq!(reg.recv().await.1, io_error("not_supported"));
    reg.disconnect().await;

    let (mut ny, token) = nynja_login(&server, "15550001").await;
    let (topic, init) = ny.recv().await;
    assert_eq!(topic, format!("actions/1/api/{}", ny.client_id));
    let f = init.record_fields("Profile").expect("a Profile");
    assert_eq!(f.len(), 8);
    assert_eq!(f[0].as_text().as_deref(), Some("15550001"));
    assert_eq!(f[7], Term::atom("init"));
    ny.send(&profile_get).await;
    let (_, got) = ny.recv().await;
    assert_eq!(
        got.record_fields("Profile").map(|f| f[7].clone()),
        Some(Term::atom("get"))
    );
    ny.disconnect().await;

    // A wrong token: CONNACK 4; someone else's id: 5; no prefix: 2.
    let bad = Ny::try_connect(&server, &format!("emqttd_{}", 1), Some("nope"), false).await;
    assert_eq!(bad.err(), Some(ConnectReturnCode::BadUserNamePassword));
    let other = Ny::try_connect(&server, "emqttd_12345", Some(&token), false).await;
    assert_eq!(other.err(), Some(ConnectReturnCode::NotAuthorized));
    let odd = Ny::try_connect(&server, "someone", None, false).await;
    assert_eq!(odd.err(), Some(ConnectReturnCode::BadClientId));
}

#[tokio::test]
async fn friends_messages_edits_deletes_and_history() {
    walk(false).await;
}

/// The same walk with both clients on MQTT over WebSocket.
#[tokio::test]
async fn friends_messages_edits_deletes_and_history_over_websocket() {
    walk(true).await;
}

async fn walk(ws: bool) {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login_via(&server, "15550001", ws).await;
    a.recv_record("Profile").await;
    let (mut b, _) = nynja_login_via(&server, "15550002", ws).await;
    b.recv_record("Profile").await;

    // Search by phone.
    let search = Term::record(
        "Search",
        [
            Term::Int(1),
            Term::bin("phone"),
            Term::bin("phone"),
            Term::atom("=="),
            Term::List(vec![Term::bin("15550002")]),
            Term::atom("contact"),
        ],
    );
    a.send(&search).await;
    let (_, found) = a.recv().await;
    let Term::Tuple(io) = &found else {
        panic!("{found:?}")
    };
    assert_eq!(io[1], Term::tuple([Term::atom("ok"), Term::atom("phone")]));
    let roster = io[2].record_fields("Roster").expect("a Roster");
    let contacts = roster[5].as_list().expect("userlist");
    assert_eq!(contacts.len(), 1);
    let b_pr = text_of(&contacts[0], 0);
    assert!(b_pr.starts_with("15550002_"), "{b_pr}");

    // Friend request and confirm.
    let a_pr = format!("15550001_{}", a.client_id.trim_start_matches("emqttd_"));
    a.send(&Term::record(
        "Friend",
        [
            Term::bin(&a_pr),
            Term::bin(&b_pr),
            Term::nil(),
            Term::atom("request"),
        ],
    ))
    .await;
    let (topic, mine) = a.recv().await;
    assert_eq!(topic, "ses/15550001");
    assert_eq!(
        mine.record_fields("Contact").map(|f| f[13].clone()),
        Some(Term::atom("request"))
    );
    let (topic, theirs) = b.recv().await;
    assert_eq!(topic, "ses/15550002");
    assert_eq!(
        theirs.record_fields("Contact").map(|f| f[13].clone()),
        Some(Term::atom("authorization"))
    );
    b.send(&Term::record(
        "Friend",
        [
            Term::bin(&b_pr),
            Term::bin(&a_pr),
            Term::nil(),
            Term::atom("confirm"),
        ],
    ))
    .await;
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(b.recv().await);
    }
    let added = nynja::io(
        Term::tuple([Term::atom("ok"), Term::atom("added")]),
        Term::tuple([Term::atom("ok"), Term::atom("added")]),
    );
    assert!(got.iter().any(|(_, t)| *t == added), "{got:?}");
    let (_, friend) = a.recv_record("Contact").await;
    assert_eq!(
        friend.record_fields("Contact").map(|f| f[13].clone()),
        Some(Term::atom("friend"))
    );

    // A p2p message: Ack to the sender, the stored Message to both.
    let feed = p2p_feed(&a_pr, &b_pr);
    let msg = |id: i64, text: &str, status: Option<&'static str>| {
        nynja::message(&MessageView {
            id,
            feed: feed.clone(),
            msg_id: "m-1".into(),
            from: a_pr.clone(),
            to: b_pr.clone(),
            created_ms: 1_700_000_000_000,
            text: text.into(),
            status,
        })
    };
    let mut fresh = msg(0, "hello b", None);
    if let Term::Tuple(items) = &mut fresh {
        items[1] = Term::nil();
    }
    a.send(&fresh).await;
    let topic = nynja::p2p_topic(&a_pr, &b_pr);
    let mut a_got = [a.recv().await, a.recv().await];
    a_got.sort_by_key(|(t, _)| t.clone());
    assert_eq!(a_got[0].1, nynja::ack("m-1"));
    assert_eq!(a_got[1].0, topic);
    let (t, stored) = b.recv_record("Message").await;
    assert_eq!(t, topic);
    let fields = stored.record_fields("Message").unwrap();
    let id = fields[0].as_int().expect("an integer id");
    assert_eq!(nynja::message_text(&fields[9]).as_deref(), Some("hello b"));
    assert_eq!(fields[2], feed);

    // Edit, then history, then delete.
    a.send(&msg(id, "hello, b", Some("edit"))).await;
    let (_, edited) = b.recv_record("Message").await;
    let f = edited.record_fields("Message").unwrap();
    assert_eq!(nynja::message_text(&f[9]).as_deref(), Some("hello, b"));
    assert_eq!(f[15], Term::atom("edit"));
    a.recv_record("Message").await;
    let history = Term::record(
        "History",
        [
            Term::bin(&b_pr),
            feed.clone(),
            Term::Int(-10),
            Term::Int(0),
            Term::nil(),
            Term::atom("get"),
        ],
    );
    b.send(&history).await;
    let (_, page) = b.recv_record("History").await;
    let data = page.record_fields("History").unwrap()[4]
        .as_list()
        .unwrap()
        .to_vec();
    assert_eq!(data.len(), 1);
    a.send(&msg(id, "", Some("delete"))).await;
    let (_, gone) = b.recv_record("Message").await;
    assert_eq!(
        gone.record_fields("Message").unwrap()[15],
        Term::atom("delete")
    );
}

/// NYNJA × JAM: a direct message each way.
#[tokio::test]
async fn a_direct_message_with_a_jam_user() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login(&server, "15550001").await;
    a.recv_record("Profile").await;
    let mut jam = Jam::register(&server, "jules").await;
    let a_pr = format!("15550001_{}", a.client_id.trim_start_matches("emqttd_"));
    let j_pr = format!("jules_{}", jam.user_id());
    let mut m = nynja::message(&MessageView {
        id: 0,
        feed: p2p_feed(&a_pr, &j_pr),
        msg_id: "m-1".into(),
        from: a_pr.clone(),
        to: j_pr.clone(),
        created_ms: 1_700_000_000_000,
        text: "hi jules".into(),
        status: None,
    });
    if let Term::Tuple(items) = &mut m {
        items[1] = Term::nil();
    }
    a.send(&m).await;
    let d = jam.recv_until(10).await["d"].clone();
    assert_eq!(d["content"], "hi jules", "{d}");
    let dm = d["channel_id"].as_str().unwrap().to_string();
    jam.send(
        10,
        serde_json::json!({"channel_id": dm, "content": "hi back"}),
        Some("r"),
    )
    .await;
    loop {
        let (topic, t) = a.recv().await;
        if let Some(f) = t.record_fields("Message") {
            if nynja::message_text(&f[9]).as_deref() == Some("hi back") {
                assert_eq!(topic, nynja::p2p_topic(&a_pr, &j_pr));
                assert_eq!(f[6].as_text().as_deref(), Some(j_pr.as_str()));
                break;
            }
        }
    }
}

/// `clean_session=false`: what arrives while the client is away is
/// delivered, in order, after it reconnects.
#[tokio::test]
async fn a_persistent_session_gets_what_it_missed() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login(&server, "15550001").await;
    a.recv_record("Profile").await;
    let (mut b, b_token) = nynja_login(&server, "15550002").await;
    b.recv_record("Profile").await;
    let b_cid = b.client_id.clone();
    let a_pr = format!("15550001_{}", a.client_id.trim_start_matches("emqttd_"));
    let b_pr = format!("15550002_{}", b_cid.trim_start_matches("emqttd_"));
    b.disconnect().await;
    // Whether b's old session had closed when these arrive or not, b must
    // see each exactly once, in order, after it reconnects.
    for (i, text) in ["while you were away", "second"].iter().enumerate() {
        let mut m = nynja::message(&MessageView {
            id: 0,
            feed: p2p_feed(&a_pr, &b_pr),
            msg_id: format!("away-{i}"),
            from: a_pr.clone(),
            to: b_pr.clone(),
            created_ms: 1_700_000_000_000,
            text: text.to_string(),
            status: None,
        });
        if let Term::Tuple(items) = &mut m {
            items[1] = Term::nil();
        }
        a.send(&m).await;
        a.recv_record("Message").await;
    }
    let mut b = Ny::connect(&server, &b_cid, Some(&b_token)).await;
    assert!(b.session_present, "the session was kept");
    b.recv_record("Profile").await;
    let mut texts = Vec::new();
    for _ in 0..2 {
        let (topic, m) = b.recv_record("Message").await;
        assert_eq!(topic, nynja::p2p_topic(&a_pr, &b_pr));
        let f = m.record_fields("Message").unwrap();
        texts.push(nynja::message_text(&f[9]).unwrap_or_default());
    }
    assert_eq!(texts, ["while you were away", "second"]);
    // A clean session starts empty and says so.
    b.disconnect().await;
    let b2 = Ny::try_connect(&server, &b_cid, Some(&b_token), true)
        .await
        .unwrap();
    assert!(!b2.session_present);
}

/// MQTT over WebSocket at `/mqtt`: the same session, the same records.
#[tokio::test]
async fn mqtt_over_websocket() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login(&server, "15550001").await;
    a.recv_record("Profile").await;
    let (b, b_token) = nynja_login(&server, "15550002").await;
    let b_cid = b.client_id.clone();
    b.disconnect().await;
    let mut b = Ny::connect_ws(&server, &b_cid, Some(&b_token)).await;
    b.recv_record("Profile").await;
    let a_pr = format!("15550001_{}", a.client_id.trim_start_matches("emqttd_"));
    let b_pr = format!("15550002_{}", b_cid.trim_start_matches("emqttd_"));
    let mut m = nynja::message(&MessageView {
        id: 0,
        feed: p2p_feed(&a_pr, &b_pr),
        msg_id: "ws-1".into(),
        from: a_pr.clone(),
        to: b_pr.clone(),
        created_ms: 1_700_000_000_000,
        text: "over websocket".into(),
        status: None,
    });
    if let Term::Tuple(items) = &mut m {
        items[1] = Term::nil();
    }
    a.send(&m).await;
    let (topic, got) = b.recv_record("Message").await;
    assert_eq!(topic, nynja::p2p_topic(&a_pr, &b_pr));
    let f = got.record_fields("Message").unwrap();
    assert_eq!(
        nynja::message_text(&f[9]).as_deref(),
        Some("over websocket")
    );
    // And a request from the WebSocket client.
    b.send(&common::profile_get("15550002")).await;
    let (_, p) = b.recv_record("Profile").await;
    assert_eq!(
        p.record_fields("Profile").map(|f| f[7].clone()),
        Some(Term::atom("get"))
    );
}

fn room_message(feed: Term, from: &str, to: &str, msg_id: &str, text: &str) -> Term {
    let mut m = nynja::message(&MessageView {
        id: 0,
        feed,
        msg_id: msg_id.into(),
        from: from.into(),
        to: to.into(),
        created_ms: 1_700_000_000_000,
        text: text.into(),
        status: None,
    });
    if let Term::Tuple(items) = &mut m {
        items[1] = Term::nil();
    }
    m
}

/// A group room: created with its members, announced on their `ses/`,
/// talked in on `room/<id>`, read back with History.
#[tokio::test]
async fn create_a_room_and_talk_in_it() {
    room_walk(false).await;
}

#[tokio::test]
async fn create_a_room_and_talk_in_it_over_websocket() {
    room_walk(true).await;
}

async fn room_walk(ws: bool) {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login_via(&server, "15550001", ws).await;
    a.recv_record("Profile").await;
    let (mut b, _) = nynja_login_via(&server, "15550002", ws).await;
    b.recv_record("Profile").await;
    let a_pr = format!("15550001_{}", a.client_id.trim_start_matches("emqttd_"));
    let b_pr = format!("15550002_{}", b.client_id.trim_start_matches("emqttd_"));
    let members = vec![nynja::member(0, "room-1", &b_pr, "B", "member")];
    let create = nynja::room(
        "room-1",
        "Test group",
        members,
        Vec::new(),
        "group",
        0,
        "create",
    );
    a.send(&create).await;
    for ny in [&mut a, &mut b] {
        let (topic, room) = ny.recv_record("Room").await;
        assert!(topic.starts_with("ses/"), "{topic}");
        let f = room.record_fields("Room").expect("a Room");
        assert_eq!(f.len(), 18);
        assert_eq!(f[0].as_text().as_deref(), Some("room-1"));
        assert_eq!(f[8], Term::atom("group"));
        assert_eq!(f[5].as_list().map(<[Term]>::len), Some(2));
    }
    let feed = nynja::muc_feed("room-1");
    a.send(&room_message(
        feed.clone(),
        &a_pr,
        "room-1",
        "r-1",
        "hello room",
    ))
    .await;
    for ny in [&mut a, &mut b] {
        let (topic, m) = ny.recv_record("Message").await;
        assert_eq!(topic, "room/room-1");
        let f = m.record_fields("Message").unwrap();
        assert_eq!(f[2], feed);
        assert_eq!(nynja::message_text(&f[9]).as_deref(), Some("hello room"));
    }
    b.send(&Term::record("Room", {
        let mut f = vec![Term::nil(); 18];
        f[0] = Term::bin("room-1");
        f[17] = Term::atom("get");
        f
    }))
    .await;
    let (_, got) = b.recv_record("Room").await;
    assert_eq!(got.record_fields("Room").unwrap()[17], Term::atom("get"));
    b.send(&Term::record(
        "History",
        [
            Term::bin(&b_pr),
            feed.clone(),
            Term::Int(-10),
            Term::Int(0),
            Term::nil(),
            Term::atom("get"),
        ],
    ))
    .await;
    let (_, page) = b.recv_record("History").await;
    assert_eq!(
        page.record_fields("History").unwrap()[4]
            .as_list()
            .map(<[Term]>::len),
        Some(1)
    );
    // Someone not in the room cannot talk in it.
    let (mut c, _) = nynja_login(&server, "15550003").await;
    c.recv_record("Profile").await;
    let c_pr = format!("15550003_{}", c.client_id.trim_start_matches("emqttd_"));
    c.send(&room_message(feed, &c_pr, "room-1", "r-2", "let me in"))
        .await;
    assert_eq!(c.recv().await.1, io_error("invalid_data"));
}

/// NYNJA × JAM in a default-guild channel (a room of type `channel`).
#[tokio::test]
async fn a_default_guild_channel_with_a_jam_user() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login(&server, "15550001").await;
    a.recv_record("Profile").await;
    let mut jam = Jam::register(&server, "jules").await;
    let general = jam.lobby().general;
    let a_pr = format!("15550001_{}", a.client_id.trim_start_matches("emqttd_"));
    let feed = nynja::muc_feed(&general);
    a.send(&room_message(
        feed.clone(),
        &a_pr,
        &general,
        "g-1",
        "hello general",
    ))
    .await;
    let d = jam.recv_until(10).await["d"].clone();
    assert_eq!(
        (&d["channel_id"], &d["content"]),
        (
            &serde_json::json!(general),
            &serde_json::json!("hello general")
        ),
        "{d}"
    );
    jam.send(
        10,
        serde_json::json!({"channel_id": general, "content": "hi from jam"}),
        Some("g"),
    )
    .await;
    loop {
        let (topic, m) = a.recv_record("Message").await;
        let f = m.record_fields("Message").unwrap();
        if nynja::message_text(&f[9]).as_deref() == Some("hi from jam") {
            assert_eq!(topic, format!("room/{general}"));
            assert_eq!(f[2], feed);
            break;
        }
    }
}

/// Friends' presence on `ac/`, Roster patch and nick on `ses/`, and the
/// History read cursor.
#[tokio::test]
async fn presence_roster_changes_and_read_cursor() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login(&server, "15550001").await;
    a.recv_record("Profile").await;
    let (mut b, b_token) = nynja_login(&server, "15550002").await;
    b.recv_record("Profile").await;
    let a_pr = format!("15550001_{}", a.client_id.trim_start_matches("emqttd_"));
    let b_cid = b.client_id.clone();
    let b_pr = format!("15550002_{}", b_cid.trim_start_matches("emqttd_"));
    a.send(&Term::record(
        "Friend",
        [
            Term::bin(&a_pr),
            Term::bin(&b_pr),
            Term::nil(),
            Term::atom("request"),
        ],
    ))
    .await;
    b.recv_record("Contact").await;
    b.send(&Term::record(
        "Friend",
        [
            Term::bin(&b_pr),
            Term::bin(&a_pr),
            Term::nil(),
            Term::atom("confirm"),
        ],
    ))
    .await;
    b.recv().await;
    a.recv().await;
    a.recv().await;

    b.disconnect().await;
    let presence = |t: &Term| t.record_fields("Contact").map(|f| f[12].clone());
    loop {
        let (topic, t) = a.recv().await;
        if topic == format!("ac/{b_pr}") {
            assert_eq!(presence(&t), Some(Term::atom("offline")));
            break;
        }
    }
    let mut b = Ny::connect(&server, &b_cid, Some(&b_token)).await;
    loop {
        let (topic, t) = a.recv().await;
        if topic == format!("ac/{b_pr}") {
            assert_eq!(presence(&t), Some(Term::atom("online")));
            break;
        }
    }

    // Roster patch and nick.
    let mut patch = vec![Term::nil(); 13];
    patch[0] = Term::Int(1);
    patch[1] = Term::bin("Bea");
    patch[2] = Term::bin("Trix");
    patch[12] = Term::atom("patch");
    b.send(&Term::record("Roster", patch.clone())).await;
    let (topic, roster) = b.recv_record("Roster").await;
    assert_eq!(topic, "ses/15550002");
    assert_eq!(
        roster.record_fields("Roster").unwrap()[1]
            .as_text()
            .as_deref(),
        Some("Bea Trix")
    );
    patch[4] = Term::bin("bea_t");
    patch[12] = Term::atom("nick");
    b.send(&Term::record("Roster", patch.clone())).await;
    let (_, roster) = b.recv_record("Roster").await;
    assert_eq!(
        roster.record_fields("Roster").unwrap()[4]
            .as_text()
            .as_deref(),
        Some("bea_t")
    );
    patch[4] = Term::bin("no spaces!");
    b.send(&Term::record("Roster", patch)).await;
    assert_eq!(b.recv().await.1, io_error("invalid_nick"));

    // The read cursor (of a feed that has messages).
    let feed = p2p_feed(&a_pr, &b_pr);
    a.send(&room_message(feed.clone(), &a_pr, &b_pr, "c-1", "read me"))
        .await;
    b.recv_record("Message").await;
    let update = Term::record(
        "History",
        [
            Term::bin(&b_pr),
            feed,
            Term::Int(0),
            Term::Int(42),
            Term::nil(),
            Term::atom("update"),
        ],
    );
    b.send(&update).await;
    let (_, h) = b.recv_record("History").await;
    assert_eq!(
        h.record_fields("History").unwrap()[5],
        Term::atom("updated")
    );
}

/// Room add, remove, leave, patch and Member patch, announced on
/// `room/<id>`.
#[tokio::test]
async fn room_membership_changes() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let mut users = Vec::new();
    for phone in ["15550001", "15550002", "15550003"] {
        let (mut ny, _) = nynja_login(&server, phone).await;
        ny.recv_record("Profile").await;
        let pr = format!("{phone}_{}", ny.client_id.trim_start_matches("emqttd_"));
        users.push((ny, pr));
    }
    let (mut a, _) = users.remove(0);
    let (mut b, b_pr) = users.remove(0);
    let (mut c, c_pr) = users.remove(0);
    let member = |pr: &str| nynja::member(0, "room-2", pr, "", "member");
    let room = |members: Vec<Term>, name: &str, status: &str| {
        nynja::room("room-2", name, members, Vec::new(), "group", 0, status)
    };
    a.send(&room(vec![member(&b_pr)], "Two", "create")).await;
    a.recv_record("Room").await;
    b.recv_record("Room").await;
    let status = |t: &Term| t.record_fields("Room").map(|f| f[17].clone());
    let size = |t: &Term| {
        t.record_fields("Room")
            .and_then(|f| f[5].as_list().map(<[Term]>::len))
    };

    // Add c: everyone, c included, hears it.
    a.send(&room(vec![member(&c_pr)], "Two", "add")).await;
    for ny in [&mut a, &mut b, &mut c] {
        let (topic, r) = ny.recv_record("Room").await;
        assert_eq!(topic, "room/room-2");
        assert_eq!((status(&r), size(&r)), (Some(Term::atom("add")), Some(3)));
    }
    // c talks there now.
    let feed = nynja::muc_feed("room-2");
    c.send(&room_message(
        feed.clone(),
        &c_pr,
        "room-2",
        "c-1",
        "hi all",
    ))
    .await;
    for ny in [&mut a, &mut b, &mut c] {
        ny.recv_record("Message").await;
    }
    // Only the creator removes others.
    b.send(&room(vec![member(&c_pr)], "Two", "remove")).await;
    assert_eq!(b.recv().await.1, io_error("permission_denied"));
    // b leaves.
    b.send(&room(Vec::new(), "Two", "leave")).await;
    for ny in [&mut a, &mut b, &mut c] {
        let (_, r) = ny.recv_record("Room").await;
        assert_eq!((status(&r), size(&r)), (Some(Term::atom("leave")), Some(2)));
    }
    // a renames it; c is removed by a.
    a.send(&room(Vec::new(), "Renamed", "patch")).await;
    for ny in [&mut a, &mut c] {
        let (_, r) = ny.recv_record("Room").await;
        assert_eq!(
            r.record_fields("Room").unwrap()[1].as_text().as_deref(),
            Some("Renamed")
        );
    }
    // Member patch reaches the members.
    let mut m = nynja::member(0, "room-2", &c_pr, "Cee", "patch");
    if let Term::Tuple(items) = &mut m {
        items[17] = Term::atom("patch");
    }
    c.send(&m).await;
    for ny in [&mut a, &mut c] {
        let (_, got) = ny.recv_record("Member").await;
        assert_eq!(
            got.record_fields("Member").unwrap()[8].as_text().as_deref(),
            Some("Cee")
        );
    }
    a.send(&room(vec![member(&c_pr)], "Renamed", "remove"))
        .await;
    for ny in [&mut a, &mut c] {
        let (_, r) = ny.recv_record("Room").await;
        assert_eq!(
            (status(&r), size(&r)),
            (Some(Term::atom("remove")), Some(1))
        );
    }
    // c is out: its messages there are refused.
    c.send(&room_message(feed, &c_pr, "room-2", "c-2", "still here?"))
        .await;
    assert_eq!(c.recv().await.1, io_error("invalid_data"));
}

/// Broken MQTT closes only that connection; a PUBLISH outside `events/`
/// and a term nested past the limit are `invalid_data`.
#[tokio::test]
async fn bad_input_breaks_no_one_else() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login(&server, "15550001").await;
    a.recv_record("Profile").await;
    let addr = server.mqtt.expect("mqtt");
    for bytes in [
        // Not MQTT at all.
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        // A PUBLISH claiming a remaining length over the limit.
        vec![0x30, 0xff, 0xff, 0xff, 0x7f],
    ] {
        let mut raw = tokio::net::TcpStream::connect(addr).await.expect("connect");
        raw.write_all(&bytes).await.expect("write");
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(common::TIMEOUT, raw.read(&mut buf))
            .await
            .expect("closed in time")
            .unwrap_or(0);
        assert_eq!(n, 0, "the server closes a broken connection");
    }
    // Outside events/.
    a.client
        .publish(
            "actions/1/api/x",
            rumqttc::QoS::ExactlyOnce,
            false,
            switchboard_protocols::nynja::etf::encode(&Term::atom("x")),
        )
        .await
        .expect("publish");
    assert_eq!(a.recv().await.1, io_error("invalid_data"));
    // Nested past the depth limit.
    let mut deep = vec![131];
    for _ in 0..100 {
        deep.extend_from_slice(&[104, 1]);
    }
    deep.push(106);
    a.send_raw(deep).await;
    assert_eq!(a.recv().await.1, io_error("invalid_data"));
    // a is still served.
    a.send(&common::profile_get("15550001")).await;
    a.recv_record("Profile").await;
}

/// Search by nick, Typing relayed, and the other Friend steps.
#[tokio::test]
async fn nick_search_typing_and_friend_steps() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login(&server, "15550001").await;
    a.recv_record("Profile").await;
    let (mut b, _) = nynja_login(&server, "15550002").await;
    b.recv_record("Profile").await;
    let a_pr = format!("15550001_{}", a.client_id.trim_start_matches("emqttd_"));
    let b_pr = format!("15550002_{}", b.client_id.trim_start_matches("emqttd_"));
    // A JAM user found by nick (their username).
    let _jules = Jam::register(&server, "jules").await;
    let search = Term::record(
        "Search",
        [
            Term::Int(1),
            Term::bin("nick"),
            Term::bin("nick"),
            Term::atom("=="),
            Term::List(vec![Term::bin("jules")]),
            Term::atom("contact"),
        ],
    );
    a.send(&search).await;
    let (_, found) = a.recv().await;
    let Term::Tuple(io) = &found else {
        panic!("{found:?}")
    };
    let contacts = io[2].record_fields("Roster").unwrap()[5]
        .as_list()
        .unwrap()
        .to_vec();
    assert_eq!(contacts.len(), 1);
    assert!(text_of(&contacts[0], 0).starts_with("jules_"), "{found:?}");

    // Typing reaches the contact on the p2p topic.
    a.send(&Term::record(
        "Typing",
        [Term::bin(&b_pr), Term::bin("typing")],
    ))
    .await;
    let (topic, t) = b.recv_record("Typing").await;
    assert_eq!(topic, nynja::p2p_topic(&a_pr, &b_pr));
    assert_eq!(
        t.record_fields("Typing").unwrap()[0].as_text(),
        Some(a_pr.clone())
    );

    let added = nynja::io(
        Term::tuple([Term::atom("ok"), Term::atom("added")]),
        Term::tuple([Term::atom("ok"), Term::atom("added")]),
    );
    for (step, status) in [
        ("ban", "banned"),
        ("unban", "friend"),
        ("ignore", "ignore"),
        ("revoke", "deleted"),
    ] {
        a.send(&Term::record(
            "Friend",
            [
                Term::bin(&a_pr),
                Term::bin(&b_pr),
                Term::nil(),
                Term::atom(step),
            ],
        ))
        .await;
        let mut got = vec![a.recv().await.1, a.recv().await.1];
        got.sort_by_key(|t| t.record_name().map(str::to_string));
        assert!(got.contains(&added), "{step}: {got:?}");
        let contact = got
            .iter()
            .find(|t| t.record_name() == Some("Contact"))
            .expect("a Contact");
        assert_eq!(
            contact.record_fields("Contact").unwrap()[13],
            Term::atom(status),
            "{step}"
        );
    }
    // Confirming an invite that was never made.
    a.send(&Term::record(
        "Friend",
        [
            Term::bin(&a_pr),
            Term::bin(&b_pr),
            Term::nil(),
            Term::atom("confirm"),
        ],
    ))
    .await;
    assert_eq!(a.recv().await.1, io_error("not_found"));
}

/// MQTT 3.1.1 §3.1.4: a CONNECT with a ClientId that is already connected
/// disconnects the existing client, and the new connection carries on.
#[tokio::test]
async fn a_second_connection_with_the_same_client_id_takes_over() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut first, token) = nynja_login(&server, "15550077").await;
    first.recv_record("Profile").await;
    let client_id = first.client_id.clone();
    let mut second = Ny::connect(&server, &client_id, Some(&token)).await;
    second.recv_record("Profile").await;
    first.expect_disconnected().await;

    let mut jam = Jam::register(&server, "tina").await;
    let general = jam.lobby().general;
    jam.send(
        10,
        serde_json::json!({"channel_id": general, "content": "still here"}),
        Some("t"),
    )
    .await;
    loop {
        let (topic, m) = second.recv_record("Message").await;
        let f = m.record_fields("Message").expect("a Message");
        if nynja::message_text(&f[9]).as_deref() == Some("still here") {
            assert_eq!(topic, format!("room/{general}"));
            break;
        }
    }
}
