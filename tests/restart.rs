//! Process lifecycle: graceful shutdown on SIGTERM (close 1001, exit 0) and
//! a restart on the same data directory with history and accounts intact.

mod common;

use common::{Jam, TestServer, PASSWORD};
use serde_json::{json, Value};

#[tokio::test]
async fn sigterm_closes_clients_with_1001_and_exits_0() {
    let mut server = TestServer::start();
    let mut authed = Jam::register(&server, "alice").await;
    let mut anonymous = Jam::connect(&server, "anonymous").await;
    anonymous.heartbeat_ok().await;

    server.sigterm();
    let (code, _) = authed.expect_close().await;
    assert_eq!(code, 1001, "authenticated client");
    authed.expect_end().await;
    let (code, _) = anonymous.expect_close().await;
    assert_eq!(code, 1001, "unauthenticated client");
    anonymous.expect_end().await;

    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
}

/// `(id, content)` of every message on a history page.
fn id_content(page: &Value) -> Vec<(String, String)> {
    page.as_array()
        .unwrap_or_else(|| panic!("history must be a JSON array: {page}"))
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn restart_keeps_history_accounts_and_tokens() {
    let mut server = TestServer::start();
    let mut a = Jam::register(&server, "alice").await;
    let user_id = a.user_id();
    let token = a.token();
    let lobby = a.lobby();
    let mut sent = Vec::new();
    for i in 1..=6 {
        let content = format!("before restart #{i} ✓");
        let m = a
            .send_message(&lobby.general, &content, &format!("p-{i}"))
            .await;
        sent.push((m["id"].as_str().unwrap().to_string(), content));
    }
    // One edited, so the edit must survive too.
    a.send(
        11,
        json!({"id": sent[1].0, "channel_id": lobby.general, "content": "edited before restart"}),
        None,
    )
    .await;
    a.recv_op(11).await;
    sent[1].1 = "edited before restart".to_string();

    let status = server.stop();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let (code, _) = a.expect_close().await;
    assert_eq!(code, 1001);

    server.restart();

    // Password login and the old token both still work; same user, same Lobby.
    let mut b = Jam::login(&server, "alice", PASSWORD).await;
    assert_eq!(b.user_id(), user_id);
    let after = b.lobby();
    assert_eq!(
        after.guild_id, lobby.guild_id,
        "the Lobby was not recreated"
    );
    assert_eq!(after.general, lobby.general);
    assert_eq!(after.lounge, lobby.lounge);
    assert_eq!(b.ready["guilds"].as_array().map(Vec::len), Some(1));
    let c = Jam::with_token(&server, "alice-token", &token).await;
    assert_eq!(c.user_id(), user_id);

    // History: same ids, same order, same content.
    let (status, page) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={}&limit=100", lobby.general),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let newest_first: Vec<(String, String)> = sent.iter().rev().cloned().collect();
    assert_eq!(id_content(&page), newest_first);
    let edited = &page.as_array().unwrap()[4];
    assert!(
        edited["edited_at"].is_string(),
        "edit time survives: {edited}"
    );

    // The old messages are live, not just listed: react to the oldest.
    b.send(
        13,
        json!({"message_id": sent[0].0, "channel_id": lobby.general, "emoji": "🎉", "action": "add"}),
        Some("re-1"),
    )
    .await;
    let r = b.recv_op(13).await["d"].clone();
    assert_eq!(r["message_id"], sent[0].0.as_str());
    assert_eq!(r["count"], 1);

    // New messages sort after the old ones.
    let new = b.send_message(&lobby.general, "after restart", "n-1").await;
    let (status, page) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={}&limit=2", lobby.general),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        id_content(&page),
        vec![
            (
                new["id"].as_str().unwrap().to_string(),
                "after restart".to_string()
            ),
            sent[5].clone(),
        ]
    );
    let stats = server.stats().await;
    assert_eq!(stats["messages_stored"], 7, "{stats}");

    let status = server.stop();
    assert_eq!(status.code(), Some(0), "second exit {status:?}");
}
