//! V0 × JAM: channel messages both ways (a JAM message reaches V0 as
//! CH_MSG then CH_MSG_COMMIT, under a msg_id V0 can pull history from),
//! and a V0 private message arriving as a JAM direct message.

mod common;

use common::{ulid, Jam, TestServer, V0};
use serde_json::json;
use switchboard_protocols::v0::{self, Body, Inbound};

#[tokio::test]
async fn channel_and_private_messages_cross() {
    let server = TestServer::start();
    let (mut v, _) = V0::register(&server, "vera").await;
    let mut jam = Jam::register(&server, "jules").await;
    let lobby = jam.lobby();
    let general = lobby.general.clone();

    // V0 → JAM.
    let id = ulid();
    v.send(&Inbound::ChMsg {
        id: general.clone(),
        msg_id: id.clone(),
        msg: Body::Text("from v0".into()),
    })
    .await;
    let d = jam.recv_until(10).await["d"].clone();
    assert_eq!(
        (&d["channel_id"], &d["content"], &d["author"]["username"]),
        (&json!(general), &json!("from v0"), &json!("vera")),
        "{d}"
    );
    v.recv_cmd("CH_MSG").await;
    v.recv_cmd("CH_MSG_COMMIT").await;

    // JAM → V0: CH_MSG, then CH_MSG_COMMIT.
    jam.send(
        10,
        json!({"channel_id": general, "content": "from jam"}),
        Some("j1"),
    )
    .await;
    let sent = jam.recv_until(10).await["d"].clone();
    let ch = v.recv_cmd("CH_MSG").await;
    assert_eq!(
        (&ch["id"], &ch["msg"]),
        (&json!(general), &json!("from jam"))
    );
    let msg_id = ch["msg_id"].as_str().expect("msg_id").to_string();
    assert!(v0::is_ulid(&msg_id), "{ch}");
    assert_eq!(
        v.recv_cmd("CH_MSG_COMMIT").await,
        json!({"id": msg_id, "acks": [sent["author"]["id"]]})
    );
    // That msg_id anchors history.
    v.send(&Inbound::ChPull {
        id: general.clone(),
        anchor: Some(id.clone()),
    })
    .await;
    let append = v.recv_cmd("CH_APPEND").await;
    assert_eq!(append["messages"][0]["id"], msg_id.as_str(), "{append}");

    // PV_MSG → a JAM direct message.
    let pv = ulid();
    let jules_id = jam.user_id();
    v.send(&Inbound::PvMsg {
        to: jules_id.clone(),
        msg_id: pv.clone(),
        msg: Body::Text("psst".into()),
    })
    .await;
    let dm = jam.recv_until(10).await["d"].clone();
    assert_eq!(
        (&dm["content"], &dm["guild_id"], &dm["author"]["username"]),
        (&json!("psst"), &json!(null), &json!("vera")),
        "{dm}"
    );
    // And a JAM reply in that DM reaches V0 as MSG.
    let dm_channel = dm["channel_id"].as_str().expect("dm").to_string();
    jam.send(
        10,
        json!({"channel_id": dm_channel, "content": "hi vera"}),
        Some("j2"),
    )
    .await;
    let msg = v.recv_cmd("MSG").await;
    assert_eq!(
        (&msg["from"], &msg["msg"]),
        (&json!(jules_id), &json!("hi vera"))
    );
}
