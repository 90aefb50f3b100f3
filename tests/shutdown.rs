//! Graceful shutdown under load, in every dialect. With `durability =
//! "strict"`, one client per transport sends messages one at a time, each
//! waiting for its dialect's acknowledgement:
//!
//! | client | sends | acknowledgement |
//! |---|---|---|
//! | JAM | op 10 into `general` | its own op 10 copy (by `ref`) |
//! | OriginChats | `message_new` into `general` | its own copy (by `listener`) |
//! | chat-network | `message` to a JAM user (a DM) | the reply to the next request: requests run one at a time and a failed `message` answers with an error, so a reply to a later request means the message was stored |
//! | V0 | `CH_MSG` into `general` | `CH_MSG_COMMIT` for its `msg_id` |
//! | MQTT (TCP and WebSocket) | `Message` into the `general` room | `{'Ack','Message',MsgId}` |
//!
//! SIGTERM arrives once every sender has some acknowledgements and while
//! all of them are still sending. Then every client must get its
//! dialect's going-away signal (WebSocket close 1001, OriginChats'
//! `disconnect` frame before it; MQTT over TCP and V0: the server ends the
//! TCP connection), the process must exit 0, and after a restart on the
//! same data directory every acknowledged message must be in history
//! exactly once and in order (at most the one message in flight may follow
//! the acknowledged ones).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    chatnet_url, nynja_login, oc_url, rest_register, ulid, Cn, Ending, Incoming, Jam, Oc, RawMqtt,
    TestServer, V0Incoming, NYNJA_FIXED, V0,
};
use serde_json::{json, Value};
use switchboard_protocols::nynja::etf::Term;
use switchboard_protocols::nynja::{self, MessageView};
use switchboard_protocols::v0::{Body, Inbound};

/// Most messages one client sends (only bounds a server that never stops).
const MAX_SENDS: usize = 1000;
/// Acknowledgements every sender must have before the SIGTERM.
const BEFORE_SIGTERM: usize = 5;

/// What one sender saw.
#[derive(Debug)]
struct Run {
    prefix: String,
    acked: Vec<String>,
    ending: Ending,
    /// OriginChats: the `disconnect` frame came before the close.
    disconnect_frame: bool,
}

fn content(prefix: &str, i: usize) -> String {
    if prefix == "cn" {
        // chat-network carries ciphertext: base64, which has no `-`.
        format!("cn{i:06}")
    } else {
        format!("{prefix}-{i}")
    }
}

/// Reads a JSON WebSocket client until its connection ends; `seen_close`
/// keeps the close code.
fn ending_of(incoming: Incoming, close: &mut Option<Option<u16>>) -> Option<Ending> {
    match incoming {
        Incoming::Close(c) => {
            *close = Some(c.map(|(code, _)| code));
            None
        }
        Incoming::Ended(err) => Some(match (close.take(), err) {
            (Some(code), _) => Ending::WsClose(code),
            (None, None) => Ending::Eof,
            (None, Some(e)) => Ending::Reset(e),
        }),
        _ => None,
    }
}

async fn jam_sender(mut c: Jam, channel: String, count: &AtomicUsize) -> Run {
    let prefix = "jam".to_string();
    let mut acked = Vec::new();
    let mut close = None;
    let mut waiting: Option<String> = None;
    let mut i = 0;
    loop {
        if waiting.is_none() && i < MAX_SENDS && close.is_none() {
            let text = content(&prefix, i);
            c.send(
                10,
                json!({"channel_id": channel, "content": text}),
                Some(&text),
            )
            .await;
            waiting = Some(text);
            i += 1;
        }
        let got = c.next_incoming().await;
        if let Incoming::Json(v) = &got {
            if v["op"] == 10 && waiting.as_deref() == v["d"]["ref"].as_str() {
                acked.extend(waiting.take());
                count.store(acked.len(), Ordering::SeqCst);
            }
            continue;
        }
        if let Some(ending) = ending_of(got, &mut close) {
            return Run {
                prefix,
                acked,
                ending,
                disconnect_frame: false,
            };
        }
    }
}

async fn oc_sender(mut c: Oc, count: &AtomicUsize) -> Run {
    let prefix = "oc".to_string();
    let mut acked = Vec::new();
    let mut close = None;
    let mut waiting: Option<String> = None;
    let mut disconnect_frame = false;
    let mut i = 0;
    loop {
        if waiting.is_none() && i < MAX_SENDS && close.is_none() && !disconnect_frame {
            let text = content(&prefix, i);
            c.send(json!({"cmd": "message_new", "channel": "general", "content": text, "listener": text}))
                .await;
            waiting = Some(text);
            i += 1;
        }
        let got = c.next_incoming().await;
        if let Incoming::Json(v) = &got {
            assert!(close.is_none(), "oc: a frame after the close: {v}");
            if v["cmd"] == "message_new" && waiting.as_deref() == v["listener"].as_str() {
                acked.extend(waiting.take());
                count.store(acked.len(), Ordering::SeqCst);
            } else if v["cmd"] == "disconnect" {
                assert!(v["reason"].is_string(), "oc: {v}");
                disconnect_frame = true;
            } else {
                assert_ne!(v["cmd"], "error", "oc: {v}");
                assert_ne!(v["cmd"], "rate_limit", "oc: {v}");
            }
            continue;
        }
        if let Some(ending) = ending_of(got, &mut close) {
            return Run {
                prefix,
                acked,
                ending,
                disconnect_frame,
            };
        }
    }
}

async fn chatnet_sender(mut c: Cn, dest: &str, count: &AtomicUsize) -> Run {
    let prefix = "cn".to_string();
    let mut acked = Vec::new();
    let mut close = None;
    let mut waiting: Option<String> = None;
    let mut i = 0;
    loop {
        if waiting.is_none() && i < MAX_SENDS && close.is_none() {
            let text = content(&prefix, i);
            c.relay(
                "message",
                dest,
                json!({"nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "message": text}),
            )
            .await;
            // The acknowledgement: this request's reply comes only after
            // the message request finished.
            c.send(json!({"type": "protocol.standard", "standards": "ciphers,hashes"}))
                .await;
            waiting = Some(text);
            i += 1;
        }
        let got = c.next_incoming().await;
        if let Incoming::Json(v) = &got {
            assert_ne!(v["type"], "error", "chat-network: {v}");
            if v["type"] == "protocol.standard" {
                acked.extend(waiting.take());
                count.store(acked.len(), Ordering::SeqCst);
            }
            continue;
        }
        if let Some(ending) = ending_of(got, &mut close) {
            return Run {
                prefix,
                acked,
                ending,
                disconnect_frame: false,
            };
        }
    }
}

async fn v0_sender(mut c: V0, channel: String, count: &AtomicUsize) -> Run {
    let prefix = "v0".to_string();
    let mut acked = Vec::new();
    let mut waiting: Option<(String, String)> = None;
    let mut i = 0;
    loop {
        if waiting.is_none() && i < MAX_SENDS {
            let text = content(&prefix, i);
            let msg_id = ulid();
            c.send(&Inbound::ChMsg {
                id: channel.clone(),
                msg_id: msg_id.clone(),
                msg: Body::Text(text.clone()),
            })
            .await;
            waiting = Some((msg_id, text));
            i += 1;
        }
        match c.next().await {
            V0Incoming::Command(name, p) => {
                assert_ne!(name, "ERR", "v0: {:?}", common::to_json(&p));
                let commit = common::to_json(&p);
                let ours = waiting
                    .as_ref()
                    .is_some_and(|(id, _)| commit["id"] == id.as_str());
                if name == "CH_MSG_COMMIT" && ours {
                    acked.extend(waiting.take().map(|(_, t)| t));
                    count.store(acked.len(), Ordering::SeqCst);
                }
            }
            V0Incoming::Closed => {
                return Run {
                    prefix,
                    acked,
                    // The helper does not tell a FIN from a reset: both are
                    // the server ending the connection.
                    ending: Ending::Eof,
                    disconnect_frame: false,
                };
            }
        }
    }
}

/// A NYNJA client's phone_roster id: `<phone>_<user id>`.
fn phone_roster(phone: &str, client_id: &str) -> String {
    format!("{phone}_{}", client_id.trim_start_matches("emqttd_"))
}

async fn mqtt_sender(
    mut c: RawMqtt,
    prefix: &str,
    from: String,
    channel: String,
    count: &AtomicUsize,
) -> Run {
    let mut acked = Vec::new();
    let mut waiting: Option<String> = None;
    let mut i = 0;
    loop {
        if waiting.is_none() && i < MAX_SENDS {
            let text = content(prefix, i);
            let mut m = nynja::message(&MessageView {
                id: 0,
                feed: nynja::muc_feed(&channel),
                msg_id: text.clone(),
                from: from.clone(),
                to: channel.clone(),
                created_ms: 1_700_000_000_000,
                text: text.clone(),
                status: None,
            });
            if let Term::Tuple(items) = &mut m {
                items[1] = Term::nil();
            }
            c.publish(&m).await;
            waiting = Some(text);
            i += 1;
        }
        match c.next_publish().await {
            Ok((_, term)) => {
                if let Some(text) = &waiting {
                    if term == nynja::ack(text) {
                        acked.extend(waiting.take());
                        count.store(acked.len(), Ordering::SeqCst);
                    }
                }
            }
            Err(ending) => {
                return Run {
                    prefix: prefix.to_string(),
                    acked,
                    ending,
                    disconnect_frame: false,
                }
            }
        }
    }
}

/// Every message of `channel` with contents of `prefix`'s series, oldest
/// first, read page by page.
async fn stored(server: &TestServer, token: &str, channel: &str, prefix: &str) -> Vec<String> {
    let mut all: Vec<Value> = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("/api/messages?channel_id={channel}&limit=100");
        if let Some(b) = &before {
            path.push_str(&format!("&before={b}"));
        }
        let (status, page) = server.rest("GET", &path, Some(token), None).await;
        assert_eq!(status, 200, "{path}: {page}");
        let page = page.as_array().expect("a page").clone();
        let Some(oldest) = page.last() else { break };
        before = Some(oldest["id"].as_str().expect("id").to_string());
        all.extend(page);
    }
    let start = match prefix {
        "cn" => "cn".to_string(),
        _ => format!("{prefix}-"),
    };
    let mut out: Vec<String> = all
        .iter()
        .filter_map(|m| m["content"].as_str())
        .filter(|c| c.starts_with(&start))
        .map(str::to_string)
        .collect();
    out.reverse();
    out
}

#[tokio::test]
async fn sigterm_under_load_keeps_every_acknowledged_message_and_says_goodbye() {
    let mut server = TestServer::with_config(&format!(
        "[storage]\ndurability = \"strict\"\n\n[originchats.rate_limiting]\nenabled = false\n\n\
         [limits]\nuser_requests_per_second = 0\nip_requests_per_second = 0\n\n{NYNJA_FIXED}"
    ));
    let jam = Jam::register(&server, "alice").await;
    let alice_token = jam.token();
    let general = jam.lobby().general;
    let (bob_token, _) = rest_register(&server, "bob").await;
    let oc = Oc::with_token_at(&oc_url(&server), "bob", &bob_token).await;
    rest_register(&server, "cara").await;
    let cn = Cn::signin(&server, "cara").await;
    assert!(chatnet_url(&server).starts_with("ws://"));
    let (v0, _) = V0::register(&server, "vera").await;

    // NYNJA: registered and logged in with rumqttc, then the raw clients
    // take over the session (they show exactly how the connection ends).
    let mut mqtt = Vec::new();
    for (phone, ws) in [("15550001", false), ("15550002", true)] {
        let (ny, token) = nynja_login(&server, phone).await;
        let cid = ny.client_id.clone();
        ny.disconnect().await;
        let mut raw = if ws {
            RawMqtt::ws(&server, &cid).await
        } else {
            RawMqtt::tcp(&server, &cid).await
        };
        raw.login(&token, true).await;
        let (_, profile) = raw.next_publish().await.expect("Profile init");
        assert_eq!(profile.record_name(), Some("Profile"), "{profile:?}");
        mqtt.push((raw, phone_roster(phone, &cid)));
    }
    let (mqtt_ws, ws_from) = mqtt.pop().expect("ws client");
    let (mqtt_tcp, tcp_from) = mqtt.pop().expect("tcp client");

    let counts: Vec<AtomicUsize> = (0..6).map(|_| AtomicUsize::new(0)).collect();
    let senders = async {
        tokio::join!(
            jam_sender(jam, general.clone(), &counts[0]),
            oc_sender(oc, &counts[1]),
            chatnet_sender(cn, "alice", &counts[2]),
            v0_sender(v0, general.clone(), &counts[3]),
            mqtt_sender(mqtt_tcp, "mqtt", tcp_from, general.clone(), &counts[4]),
            mqtt_sender(mqtt_ws, "mqttws", ws_from, general.clone(), &counts[5]),
        )
    };
    let trigger = async {
        // Bounded by a count; each round is a short pause.
        for _ in 0..2000 {
            if counts
                .iter()
                .all(|c| c.load(Ordering::SeqCst) >= BEFORE_SIGTERM)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let at: Vec<usize> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        assert!(
            at.iter().all(|&n| n >= BEFORE_SIGTERM),
            "not every sender got going: {at:?}"
        );
        server.sigterm();
        at
    };
    let (runs, at_sigterm) = tokio::join!(senders, trigger);
    let runs = [runs.0, runs.1, runs.2, runs.3, runs.4, runs.5];
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");

    // The going-away signals.
    let by = |p: &str| runs.iter().find(|r| r.prefix == p).expect("a run");
    for p in ["jam", "oc", "cn", "mqttws"] {
        assert_eq!(
            by(p).ending,
            Ending::WsClose(Some(1001)),
            "{p}: WebSocket close 1001 on shutdown"
        );
    }
    assert!(
        by("oc").disconnect_frame,
        "OriginChats: `disconnect` before the close"
    );
    for p in ["v0", "mqtt"] {
        assert!(
            matches!(by(p).ending, Ending::Eof | Ending::Reset(_)),
            "{p}: the server ends the TCP connection, got {:?}",
            by(p).ending
        );
    }
    for r in &runs {
        assert!(
            r.acked.len() < MAX_SENDS,
            "{}: the server let it send everything",
            r.prefix
        );
    }

    // Every acknowledged message is stored, once, in order.
    server.restart();
    let (status, dm) = server
        .rest(
            "POST",
            "/api/users/@me/channels",
            Some(&alice_token),
            Some(&json!({"recipient": "cara"})),
        )
        .await;
    assert!(status == 200 || status == 201, "open DM: {status} {dm}");
    let dm = dm["id"].as_str().expect("DM id").to_string();
    let mut report = Vec::new();
    for r in &runs {
        let channel = if r.prefix == "cn" { &dm } else { &general };
        let stored = stored(&server, &alice_token, channel, &r.prefix).await;
        let n = r.acked.len();
        assert!(
            stored.len() >= n && stored[..n] == r.acked[..],
            "{}: acknowledged {:?}, stored {stored:?}",
            r.prefix,
            r.acked
        );
        // Each sender waits for one acknowledgement before the next send,
        // so at most one unacknowledged message can have been stored.
        assert!(stored.len() <= n + 1, "{}: stored {stored:?}", r.prefix);
        let expected: Vec<String> = (0..stored.len()).map(|i| content(&r.prefix, i)).collect();
        assert_eq!(stored, expected, "{}: once each, in order", r.prefix);
        report.push(format!(
            "{}: {} acked, {} stored, {:?}",
            r.prefix,
            n,
            stored.len(),
            r.ending
        ));
    }
    eprintln!("at SIGTERM {at_sigterm:?}; {}", report.join("; "));
    let status = server.stop();
    assert_eq!(status.code(), Some(0), "second exit {status:?}");
}
