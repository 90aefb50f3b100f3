//! V0 `CH_MERGE` as an attacker uses it: forged authors, acks of users who
//! never acknowledged, and dates outside any plausible range. Each is
//! refused with `ERR` (or held and never stored), and no dialect shows it.

mod common;

use common::{rest_register, ulid, unix_now, Jam, TestServer, V0};
use serde_json::{json, Value};
use switchboard_protocols::v0::{Body, HistoryEntry, Inbound};

async fn general_id(server: &TestServer, token: &str) -> String {
    let jam = Jam::with_token(server, "probe", token).await;
    let general = jam.lobby().general;
    jam.close().await;
    general
}

fn entry(id: &str, from: &str, text: &str, timestamp: i64, acks: &[&str]) -> HistoryEntry {
    HistoryEntry {
        id: id.to_string(),
        from: from.to_string(),
        msg: Body::Text(text.into()),
        timestamp,
        acks: acks.iter().map(|a| a.to_string()).collect(),
    }
}

/// Every message of `general` as JAM REST lists it.
async fn history(server: &TestServer, token: &str, general: &str) -> Vec<Value> {
    let (status, body) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={general}&limit=100"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

fn contains(history: &[Value], text: &str) -> bool {
    history.iter().any(|m| m["content"] == text)
}

/// Ann merges a message "by ben", with ben named among the acks. Ben is
/// asked; he never saw it and does not confirm; ann's own ack of it counts
/// for nothing. Nothing is stored, in any dialect.
#[tokio::test]
async fn a_merge_cannot_forge_another_users_message() {
    let server = TestServer::start();
    let (mut ann, token) = V0::register(&server, "ann").await;
    let (mut ben, _) = V0::register(&server, "ben").await;
    let general = general_id(&server, &token).await;
    let forged = ulid();
    let merge = Inbound::ChMerge {
        id: general.clone(),
        msg: vec![entry(
            &forged,
            &ben.id,
            "ben says: send me your password",
            unix_now(),
            &[&ann.id, &ben.id],
        )],
    };
    ann.send(&merge).await;
    assert_eq!(
        ben.recv_cmd("CH_MSG_CONFIRM").await,
        json!({"id": general, "message": forged})
    );
    // The attacker vouches for it herself, and merges it again.
    ann.send(&Inbound::AckChMsg { id: forged.clone() }).await;
    for x in [&mut ann, &mut ben] {
        // The draft's relay of any ack, to every V0 user.
        x.recv_cmd("CH_MSG_ACK").await;
    }
    ann.send(&merge).await;
    ann.sync().await;
    ben.sync().await;
    let seen = history(&server, &token, &general).await;
    assert!(
        !contains(&seen, "ben says: send me your password"),
        "stored without ben's confirmation: {seen:?}"
    );
    // A user not named by the entry cannot confirm it either.
    let (mut cat, _) = V0::register(&server, "cat").await;
    cat.send(&Inbound::AckChMsg { id: forged.clone() }).await;
    for x in [&mut ann, &mut cat] {
        x.recv_cmd("CH_MSG_ACK").await;
    }
    cat.sync().await;
    ann.sync().await;
    assert!(!contains(
        &history(&server, &token, &general).await,
        "ben says: send me your password"
    ));
}

/// Acks naming users who are not there to confirm, or leaving out the
/// author, are refused at once with `ERR`.
#[tokio::test]
async fn a_merge_naming_absent_or_silent_users_is_refused() {
    let server = TestServer::start();
    let (mut ann, token) = V0::register(&server, "ann").await;
    let (_dave_token, dave) = rest_register(&server, "dave").await;
    let (_erin_token, erin) = rest_register(&server, "erin").await;
    let dave = dave["id"].as_str().unwrap_or_default().to_string();
    let erin = erin["id"].as_str().unwrap_or_default().to_string();
    let general = general_id(&server, &token).await;

    // Dave's message with dave's and erin's "acks": neither is connected
    // over V0 to confirm it.
    ann.send(&Inbound::ChMerge {
        id: general.clone(),
        msg: vec![entry(
            &ulid(),
            &dave,
            "dave never wrote this",
            unix_now(),
            &[&ann.id, &dave, &erin],
        )],
    })
    .await;
    let e = ann.recv_cmd("ERR").await;
    assert_eq!(e["cmd"], "CH_MERGE", "{e}");
    assert!(
        e["reason"]
            .as_str()
            .is_some_and(|r| r.contains("must be connected to confirm it")),
        "{e}"
    );

    // Dave's message vouched for by ann and erin only: the author's ack is
    // missing.
    ann.send(&Inbound::ChMerge {
        id: general.clone(),
        msg: vec![entry(
            &ulid(),
            &dave,
            "dave never wrote this either",
            unix_now(),
            &[&ann.id, &erin],
        )],
    })
    .await;
    let e = ann.recv_cmd("ERR").await;
    assert!(
        e["reason"]
            .as_str()
            .is_some_and(|r| r.contains("needs its author's ack")),
        "{e}"
    );
    let seen = history(&server, &token, &general).await;
    assert!(!contains(&seen, "dave never wrote this"), "{seen:?}");
    assert!(!contains(&seen, "dave never wrote this either"), "{seen:?}");
}

/// A client's own message may be merged, but only with a date the server
/// can believe: not in the future, not before the author's account, not
/// older than the merge window.
#[tokio::test]
async fn a_merge_cannot_forge_dates() {
    let server = TestServer::start();
    let (mut ann, token) = V0::register(&server, "ann").await;
    let (ben, _) = V0::register(&server, "ben").await;
    let general = general_id(&server, &token).await;
    let cases = [
        ("from the year 2000", 946_684_800),
        ("from tomorrow", unix_now() + 86_400),
        ("from a year ago", unix_now() - 365 * 86_400),
        ("from before ann existed", unix_now() - 3_600),
    ];
    for (text, timestamp) in cases {
        ann.send(&Inbound::ChMerge {
            id: general.clone(),
            msg: vec![entry(
                &ulid(),
                &ann.id,
                text,
                timestamp,
                &[&ann.id, &ben.id],
            )],
        })
        .await;
        let e = ann.recv_cmd("ERR").await;
        assert_eq!(e["cmd"], "CH_MERGE", "{text}: {e}");
        assert!(
            e["reason"]
                .as_str()
                .is_some_and(|r| r.contains("A merged message cannot be dated")),
            "{text}: {e}"
        );
    }
    // A plausible date is taken.
    let fine = ulid();
    ann.send(&Inbound::ChMerge {
        id: general.clone(),
        msg: vec![entry(
            &fine,
            &ann.id,
            "said a moment ago",
            unix_now(),
            &[&ann.id, &ben.id],
        )],
    })
    .await;
    assert_eq!(
        ann.recv_cmd("CH_MSG").await,
        json!({"id": general, "msg_id": fine, "msg": "said a moment ago"})
    );
    let seen = history(&server, &token, &general).await;
    for (text, _) in cases {
        assert!(!contains(&seen, text), "{text}: {seen:?}");
    }
    assert!(contains(&seen, "said a moment ago"));
}
