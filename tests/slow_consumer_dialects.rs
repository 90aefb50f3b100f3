//! Slow consumers in OriginChats, chat-network, V0 and MQTT (JAM has its
//! own file, `slow_consumer.rs`). In each dialect a few clients
//! authenticate on raw sockets with a small receive buffer and then read
//! nothing; a JAM client floods what they hear with large messages, one at
//! a time; a fast client of the same dialect reads along. The server must
//! drop every slow client (stats `slow_consumers`, and its side of each
//! socket closed), keep its resident memory far below what the slow
//! clients were sent, deliver every message to the fast client in order,
//! and still let a fresh client of the dialect log in and round-trip.
//!
//! How many messages it takes depends on kernel buffers, so the flood is
//! bounded by a count, not a clock.

mod common;

use common::{
    chatnet_url, issue_v0_key, nynja_login, oc_url, rest_register, server_closes_its_side,
    unix_now, vm_rss_kib, Cn, Jam, Oc, RawMqtt, TestServer, V0Incoming, NYNJA_FIXED, PASSWORD,
    TIMEOUT, V0,
};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};
use switchboard_protocols::nynja;
use switchboard_protocols::nynja::etf::Term;
use switchboard_protocols::v0::{self, Inbound};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Slow clients per dialect.
const SLOW: usize = 4;
/// Characters per flood message.
const SIZE: usize = 3500;
/// Messages sent after the last slow client was dropped: the server must
/// not hold them for anyone.
const AFTER: usize = 200;
/// Messages the fast client may be behind the flood: their bytes stay
/// well under `pending_bytes` even if no kernel buffer held any.
const WINDOW: usize = 20;
/// Largest growth of the server's resident memory over a flood (see
/// [`after_flood`]).
const RSS_BOUND_KIB: u64 = 96 * 1024;
/// Most flood messages before the slow clients must have been dropped.
const MAX_FLOOD: usize = 4000;

fn config() -> String {
    format!(
        "[limits]\npending_bytes = 262144\nuser_requests_per_second = 0\nip_requests_per_second = 0\n\n[storage]\ndurability = \"batched\"\nflush_every_ms = 50\n\n\
         [originchats.rate_limiting]\nenabled = false\n\n{NYNJA_FIXED}"
    )
}

fn content(i: usize) -> String {
    format!("{i:05}:{}", "z".repeat(SIZE))
}

/// A TCP connection whose receive buffer is small, so that the kernel
/// holds little of what the test does not read.
async fn small_socket(addr: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    tokio::time::timeout(TIMEOUT, socket.connect(addr))
        .await
        .expect("connect timed out")
        .expect("connect")
}

/// Reads from `stream` until `done(buffer)`; the bytes are only looked at,
/// not parsed, since what follows is never read.
async fn read_until(stream: &mut TcpStream, buf: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    while !done(buf) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(TIMEOUT, stream.read(&mut chunk))
            .await
            .expect("the server said nothing")
            .expect("read");
        assert!(n > 0, "closed before authentication finished");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A WebSocket client on a raw socket: handshake and masked text frames
/// out; what comes in is only searched for a marker.
struct RawWs {
    stream: TcpStream,
}

impl RawWs {
    async fn connect(addr: std::net::SocketAddr) -> RawWs {
        let mut stream = small_socket(addr).await;
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("handshake");
        let mut buf = Vec::new();
        read_until(&mut stream, &mut buf, |b| contains(b, "\r\n\r\n")).await;
        assert!(buf.starts_with(b"HTTP/1.1 101"), "handshake");
        RawWs { stream }
    }

    async fn send_json(&mut self, v: Value) {
        let text = v.to_string();
        let payload = text.as_bytes();
        let mask = [0x5a, 0x13, 0xc7, 0x81];
        let mut frame = vec![0x81];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.expect("send frame");
    }
}

/// A slow client: its socket, and the server port it is connected to.
struct Slow {
    stream: Option<TcpStream>,
    mqtt: Option<RawMqtt>,
    server_port: u16,
}

impl Slow {
    fn local_port(&self) -> u16 {
        match (&self.stream, &self.mqtt) {
            (Some(s), _) => s.local_addr().expect("local addr").port(),
            (_, Some(m)) => m.local_port(),
            _ => unreachable!(),
        }
    }
}

/// Floods `channel` from `jam`, one message at a time, until `slow_total`
/// slow consumers are counted, then [`AFTER`] more, then the marker `end`;
/// answers how many were sent before the marker.
///
/// The fast client must keep pace, not win a race against the test's own
/// flooder on a busy machine: the flood waits until it has read all but
/// [`WINDOW`] of what was sent (`progress`).
async fn flood(
    server: &TestServer,
    jam: &mut Jam,
    channel: &str,
    slow_total: u64,
    progress: &AtomicUsize,
) -> usize {
    let mut sent = 0usize;
    let mut after: Option<usize> = None;
    while sent < MAX_FLOOD + AFTER {
        for _ in 0..25 {
            // Bounded like every wait here: about the safety timeout.
            for _ in 0..4000 {
                if progress.load(Ordering::SeqCst) + WINDOW >= sent {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            assert!(
                progress.load(Ordering::SeqCst) + WINDOW >= sent,
                "the fast client fell behind"
            );
            jam.send_message(channel, &content(sent), &format!("f-{sent}"))
                .await;
            sent += 1;
        }
        // Long runs on a slow machine must not hit the heartbeat timeout.
        jam.heartbeat_ok().await;
        match after {
            Some(start) if sent >= start + AFTER => break,
            Some(_) => {}
            None => {
                let stats = server.stats().await;
                if stats["slow_consumers"].as_u64().unwrap_or(0) >= slow_total {
                    after = Some(sent);
                }
            }
        }
        assert!(
            after.is_some() || sent < MAX_FLOOD,
            "not every slow client was dropped after {sent} messages of {SIZE} B"
        );
    }
    jam.send_message(channel, "end", "f-end").await;
    sent
}

/// What is checked once the flood is over, the same in every dialect.
async fn after_flood(
    server: &TestServer,
    dialect: &str,
    slow: &[Slow],
    sent: usize,
    fast: Vec<String>,
    rss_before: Option<u64>,
) {
    for s in slow {
        server_closes_its_side(s.server_port, s.local_port()).await;
    }
    let stats = server.stats().await;
    assert_eq!(
        stats["slow_consumers"],
        slow.len() as u64,
        "{dialect}: only the slow clients were dropped: {stats}"
    );
    let expected: Vec<String> = (0..sent).map(content).collect();
    let first_wrong = fast.iter().zip(&expected).position(|(a, b)| a != b);
    assert!(
        fast.len() == sent && first_wrong.is_none(),
        "{dialect}: the fast client got {} messages of {sent}; first out of order at {first_wrong:?}",
        fast.len()
    );
    // What was fanned out to the slow clients, for the report. The server
    // stores every message too, and the store, its cache and the
    // allocator grow by several times the stored bytes (12 to 26 MiB for
    // about 1000 messages of 3.5 KB here), so RSS cannot tell a few MiB
    // of queues apart; the bound catches runaway growth. The slow clients'
    // queues themselves are bounded by `pending_bytes`, which the drops
    // and closed sockets above prove.
    let slow_bytes = (sent * SIZE * slow.len()) as u64 / 1024;
    let rss_after = vm_rss_kib(server.pid());
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        let growth = after.saturating_sub(before);
        eprintln!(
            "{dialect}: {sent} messages of {SIZE} B; {} slow clients dropped; fast client got {}; \
             RSS {before} KiB -> {after} KiB (+{growth} KiB); fanned out to the slow clients {slow_bytes} KiB",
            slow.len(),
            fast.len()
        );
        assert!(
            growth < RSS_BOUND_KIB,
            "{dialect}: RSS grew by {growth} KiB while {slow_bytes} KiB went to slow clients"
        );
    }
}

/// A fresh JAM user round-trips too: the server as a whole is healthy.
async fn jam_healthy(server: &TestServer) {
    let mut fresh = Jam::register(server, "fresh-jam").await;
    fresh.heartbeat_ok().await;
    let health = server
        .admin_get("/admin/health", Some(common::ADMIN_TOKEN))
        .await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn originchats_slow_clients_are_dropped() {
    let server = TestServer::with_config(&config());
    let mut jam = Jam::register(&server, "flood").await;
    let general = jam.lobby().general;
    let addr = server.originchats.expect("originchats listener");
    let mut slow = Vec::new();
    for i in 0..SLOW {
        let (token, _) = rest_register(&server, &format!("slow{i}")).await;
        let mut ws = RawWs::connect(addr).await;
        ws.send_json(json!({"cmd": "auth", "validator": token}))
            .await;
        let mut buf = Vec::new();
        read_until(&mut ws.stream, &mut buf, |b| contains(b, "\"ready\"")).await;
        slow.push(Slow {
            stream: Some(ws.stream),
            mqtt: None,
            server_port: addr.port(),
        });
    }
    let (token, _) = rest_register(&server, "fast").await;
    let mut fast = Oc::with_token_at(&oc_url(&server), "fast", &token).await;
    let rss = vm_rss_kib(server.pid());
    let progress = AtomicUsize::new(0);
    let read_fast = async {
        let mut got = Vec::new();
        loop {
            let f = fast.recv_until("message_new").await;
            match f["message"]["content"].as_str() {
                Some("end") => return got,
                Some(text) => {
                    got.push(text.to_string());
                    progress.store(got.len(), Ordering::SeqCst);
                }
                None => panic!("message_new without content: {f}"),
            }
        }
    };
    let (sent, got) = tokio::join!(
        flood(&server, &mut jam, &general, SLOW as u64, &progress),
        read_fast
    );
    after_flood(&server, "originchats", &slow, sent, got, rss).await;
    fast.ping_ok().await;
    let mut fresh = Oc::login(&server, "fast", PASSWORD).await;
    fresh.ping_ok().await;
    jam_healthy(&server).await;
}

#[tokio::test]
async fn chatnet_slow_clients_are_dropped() {
    let server = TestServer::with_config(&config());
    let mut jam = Jam::register(&server, "flood").await;
    // Every socket, slow or fast, is subscribed as `reader` (a session may
    // be subscribed from several sockets): they all hear the same DMs.
    let (token, _) = rest_register(&server, "reader").await;
    let (status, dm) = server
        .rest(
            "POST",
            "/api/users/@me/channels",
            Some(&jam.token()),
            Some(&json!({"recipient": "reader"})),
        )
        .await;
    assert!(status == 200 || status == 201, "open DM: {status} {dm}");
    let dm = dm["id"].as_str().expect("DM id").to_string();
    // The flooder hears of the new DM channel first.
    assert_eq!(jam.recv_op(20).await["d"]["id"], dm.as_str());
    let addr = server.chatnet.expect("chatnet listener");
    assert!(chatnet_url(&server).ends_with('/'));
    let mut slow = Vec::new();
    for _ in 0..SLOW {
        let mut ws = RawWs::connect(addr).await;
        ws.send_json(json!({"type": "subscribe", "session": token}))
            .await;
        let mut buf = Vec::new();
        read_until(&mut ws.stream, &mut buf, |b| contains(b, "\"resp_code\":0")).await;
        slow.push(Slow {
            stream: Some(ws.stream),
            mqtt: None,
            server_port: addr.port(),
        });
    }
    let mut fast = Cn::signin(&server, "reader").await;
    let rss = vm_rss_kib(server.pid());
    let progress = AtomicUsize::new(0);
    let read_fast = async {
        let mut got = Vec::new();
        loop {
            let f = fast.recv_type("message").await;
            assert_eq!(f["source"], "flood", "{f}");
            match f["message"].as_str() {
                Some("end") => return got,
                Some(text) => {
                    got.push(text.to_string());
                    progress.store(got.len(), Ordering::SeqCst);
                }
                None => panic!("message without text: {f}"),
            }
        }
    };
    let (sent, got) = tokio::join!(
        flood(&server, &mut jam, &dm, SLOW as u64, &progress),
        read_fast
    );
    after_flood(&server, "chat-network", &slow, sent, got, rss).await;
    fast.sync().await;
    let mut fresh = Cn::signin(&server, "reader").await;
    fresh.sync().await;
    jam_healthy(&server).await;
}

#[tokio::test]
async fn v0_slow_clients_are_dropped() {
    let server = TestServer::with_config(&config());
    let mut jam = Jam::register(&server, "flood").await;
    let general = jam.lobby().general;
    let addr = server.v0.expect("v0 listener");
    let mut slow = Vec::new();
    for i in 0..SLOW {
        let name = format!("slow{i}");
        let (token, _) = rest_register(&server, &name).await;
        let (_, key) = issue_v0_key(&server, &token).await;
        let mut stream = small_socket(addr).await;
        let cnn = Inbound::Cnn { id: name };
        let frame = v0::signed(cnn.name(), cnn.fields(), &key, unix_now());
        stream
            .write_all(&v0::frame::to_bytes(frame))
            .await
            .expect("CNN");
        let mut buf = Vec::new();
        read_until(&mut stream, &mut buf, |b| contains(b, "SINFO\n")).await;
        slow.push(Slow {
            stream: Some(stream),
            mqtt: None,
            server_port: addr.port(),
        });
    }
    let (mut fast, _) = V0::register(&server, "fast").await;
    let rss = vm_rss_kib(server.pid());
    let progress = AtomicUsize::new(0);
    let read_fast = async {
        let mut got = Vec::new();
        loop {
            let (name, p) = match fast.next().await {
                V0Incoming::Command(name, p) => (name, p),
                V0Incoming::Closed => panic!("the fast V0 client was dropped after {}", got.len()),
            };
            if name != "CH_MSG" {
                continue;
            }
            let m = common::to_json(&p);
            match m["msg"].as_str() {
                Some("end") => {
                    fast.recv_cmd("CH_MSG_COMMIT").await;
                    return got;
                }
                Some(text) => {
                    got.push(text.to_string());
                    progress.store(got.len(), Ordering::SeqCst);
                }
                None => panic!("CH_MSG without text: {m}"),
            }
        }
    };
    let (sent, got) = tokio::join!(
        flood(&server, &mut jam, &general, SLOW as u64, &progress),
        read_fast
    );
    after_flood(&server, "v0", &slow, sent, got, rss).await;
    fast.sync().await;
    let (mut fresh, _) = V0::register(&server, "fresh").await;
    fresh.sync().await;
    jam_healthy(&server).await;
}

#[tokio::test]
async fn mqtt_slow_clients_are_dropped() {
    let server = TestServer::with_config(&config());
    let mut jam = Jam::register(&server, "flood").await;
    let general = jam.lobby().general;
    let addr = server.mqtt.expect("mqtt listener");
    let mut slow = Vec::new();
    for i in 0..SLOW {
        let (ny, token) = nynja_login(&server, &format!("1555000{i}")).await;
        let cid = ny.client_id.clone();
        ny.disconnect().await;
        let mut raw = RawMqtt::from_stream(small_socket(addr).await, &cid);
        raw.login(&token, true).await;
        slow.push(Slow {
            stream: None,
            mqtt: Some(raw),
            server_port: addr.port(),
        });
    }
    let (ny, token) = nynja_login(&server, "15559999").await;
    let cid = ny.client_id.clone();
    ny.disconnect().await;
    let mut fast = RawMqtt::tcp(&server, &cid).await;
    fast.login(&token, true).await;
    // CONNACK comes before the session has joined its guilds; a request is
    // only handled after that, so its answer says the room is live.
    assert!(fast.publish(&Term::atom("sync")).await);
    loop {
        let (_, term) = fast.next_publish().await.expect("the fast client stays");
        if term.record_name() == Some("io") {
            break;
        }
    }
    let room = format!("room/{general}");
    let rss = vm_rss_kib(server.pid());
    let progress = AtomicUsize::new(0);
    let read_fast = async {
        let mut got = Vec::new();
        loop {
            let (topic, term) = fast.next_publish().await.expect("the fast client stays");
            let Some(f) = term.record_fields("Message") else {
                continue;
            };
            assert_eq!(topic, room);
            match nynja::message_text(&f[9]).as_deref() {
                Some("end") => return got,
                Some(text) => {
                    got.push(text.to_string());
                    progress.store(got.len(), Ordering::SeqCst);
                }
                None => panic!("Message without text: {term:?}"),
            }
        }
    };
    let (sent, got) = tokio::join!(
        flood(&server, &mut jam, &general, SLOW as u64, &progress),
        read_fast
    );
    after_flood(&server, "mqtt", &slow, sent, got, rss).await;
    let (mut fresh, _) = nynja_login(&server, "15558888").await;
    fresh.recv_record("Profile").await;
    jam_healthy(&server).await;
}
