//! Crash safety: with `durability = "strict"`, a message whose sender got
//! its acknowledgement survives a SIGKILL. Clients of two dialects (JAM and
//! OriginChats) send into `general`, each waiting for its own copy (the
//! acknowledgement) before the next send; the server is killed with SIGKILL
//! at a random moment, restarted on the same data directory, and the
//! history must hold every acknowledged message, once, in the order it was
//! sent.
//!
//! `make test` runs 3 rounds; `make test-crash` runs `CRASH_ROUNDS` (20).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{oc_url, Jam, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Messages one client sends per round at most (bounds each round).
const PER_ROUND: usize = 40;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A pseudo-random number from the clock (no seed to manage; any value
/// is a valid moment to crash).
fn random_below(n: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(nanos.wrapping_mul(2_654_435_761)) % n.max(1)
}

async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).ok(),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// A client that sends `content`s one at a time and reports which were
/// acknowledged before the connection died.
enum Dialect {
    Jam { channel: String },
    OriginChats,
}

async fn connect(server: &TestServer, dialect: &Dialect, token: &str) -> Ws {
    let url = match dialect {
        Dialect::Jam { .. } => server.ws_url(),
        Dialect::OriginChats => oc_url(server),
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    match dialect {
        Dialect::Jam { .. } => {
            next_json(&mut ws).await.expect("hello");
            let auth = json!({"op": 2, "d": {"token": token}}).to_string();
            ws.send(Message::text(auth)).await.expect("auth");
            while next_json(&mut ws).await.expect("op 3")["op"] != 3 {}
        }
        Dialect::OriginChats => {
            next_json(&mut ws).await.expect("handshake");
            let auth = json!({"cmd": "auth", "validator": token}).to_string();
            ws.send(Message::text(auth)).await.expect("auth");
            while next_json(&mut ws).await.expect("ready")["cmd"] != "ready" {}
        }
    }
    ws
}

/// Sends `prefix-0`, `prefix-1`, ... until the connection breaks or
/// [`PER_ROUND`] are acknowledged; returns the acknowledged ones.
async fn send_until_killed(mut ws: Ws, dialect: &Dialect, prefix: &str) -> Vec<String> {
    let mut acked = Vec::new();
    for i in 0..PER_ROUND {
        let content = format!("{prefix}-{i}");
        let frame = match dialect {
            Dialect::Jam { channel } => {
                json!({"op": 10, "d": {"channel_id": channel, "content": content}, "ref": content})
            }
            Dialect::OriginChats => {
                json!({"cmd": "message_new", "channel": "general", "content": content, "listener": content})
            }
        };
        if ws.send(Message::text(frame.to_string())).await.is_err() {
            return acked;
        }
        loop {
            let Some(v) = next_json(&mut ws).await else {
                return acked;
            };
            let own = match dialect {
                Dialect::Jam { .. } => v["op"] == 10 && v["d"]["ref"] == content.as_str(),
                Dialect::OriginChats => {
                    v["cmd"] == "message_new" && v["listener"] == content.as_str()
                }
            };
            if own {
                acked.push(content);
                break;
            }
        }
    }
    acked
}

fn kill9(server: &mut TestServer) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL failed");
    server.wait_exit();
}

/// The contents of `general`'s newest messages starting with `prefix`,
/// oldest first.
async fn stored(server: &TestServer, token: &str, channel: &str, prefix: &str) -> Vec<String> {
    let path = format!("/api/messages?channel_id={channel}&limit=100");
    let (status, page) = server.rest("GET", &path, Some(token), None).await;
    assert_eq!(status, 200, "{page}");
    let mut out: Vec<String> = page
        .as_array()
        .expect("a page")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .filter(|c| c.starts_with(prefix))
        .map(str::to_string)
        .collect();
    out.reverse();
    out
}

#[tokio::test]
async fn acknowledged_messages_survive_sigkill() {
    let rounds: usize = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    // The senders go as fast as acknowledgements come: no request rates.
    let mut server = TestServer::with_config(
        "[storage]\ndurability = \"strict\"\n\n[limits]\nuser_requests_per_second = 0\nip_requests_per_second = 0\n",
    );
    let alice = Jam::register(&server, "alice").await;
    let bob = Jam::register(&server, "bob").await;
    let general = alice.lobby().general;
    let (alice_token, bob_token) = (alice.token(), bob.token());
    alice.close().await;
    bob.close().await;
    let jam = Dialect::Jam {
        channel: general.clone(),
    };
    let oc = Dialect::OriginChats;
    let mut total_acked = 0;
    for round in 0..rounds {
        let a = connect(&server, &jam, &alice_token).await;
        let b = connect(&server, &oc, &bob_token).await;
        let (jam_prefix, oc_prefix) = (format!("r{round}-jam"), format!("r{round}-oc"));
        let kill_after = Duration::from_millis(20 + random_below(300));
        let senders = async {
            tokio::join!(
                send_until_killed(a, &jam, &jam_prefix),
                send_until_killed(b, &oc, &oc_prefix)
            )
        };
        let killer = async {
            tokio::time::sleep(kill_after).await;
        };
        tokio::pin!(senders);
        // Kill mid-stream; if both finished first, kill anyway.
        let acked = tokio::select! {
            done = &mut senders => { kill9(&mut server); done }
            () = killer => { kill9(&mut server); senders.await }
        };
        server.restart();
        for (prefix, acked) in [(&jam_prefix, &acked.0), (&oc_prefix, &acked.1)] {
            let stored = stored(&server, &alice_token, &general, prefix).await;
            total_acked += acked.len();
            // Every acknowledged message is there, once, in the order sent;
            // messages stored but not acknowledged before the kill may follow.
            assert!(
                stored.len() >= acked.len() && stored[..acked.len()] == acked[..],
                "round {round}, killed after {kill_after:?}: acknowledged {acked:?}, stored {stored:?}\n{}",
                server.log()
            );
            let mut seen = std::collections::HashSet::new();
            assert!(
                stored.iter().all(|c| seen.insert(c)),
                "duplicates: {stored:?}"
            );
            let in_order = stored
                .iter()
                .enumerate()
                .all(|(i, c)| *c == format!("{prefix}-{i}"));
            assert!(in_order, "round {round}: out of order or a gap: {stored:?}");
        }
    }
    eprintln!("{rounds} rounds, {total_acked} acknowledged messages, all stored in order");
}
