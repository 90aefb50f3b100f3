//! Attacks on the server's memory, over real sockets, with its resident set
//! read from /proc: a WebSocket frame header declaring 2^62 bytes on every
//! WebSocket endpoint, a burst of concurrent wrong-password logins, repeated
//! bursts of registrations, and more HTTP connections from one address than
//! `limits.connections_per_ip`. An uninvolved client is served throughout.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rest_register, vm_rss_kib, Jam, Oc, TestServer, TIMEOUT};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const MIB: u64 = 1024;

fn rss(server: &TestServer) -> u64 {
    vm_rss_kib(server.pid()).expect("VmRSS of the server")
}

/// Samples the server's RSS until stopped; the highest value seen.
struct PeakRss {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    fn start(pid: u32) -> PeakRss {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Some(kib) = vm_rss_kib(pid) {
                    p.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        PeakRss { peak, stop, task }
    }

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}

/// A TCP connection to `addr` from the loopback address `from`, so that
/// the server sees another client address than the attacker's.
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind to a loopback address");
    tokio::time::timeout(TIMEOUT, socket.connect(addr))
        .await
        .expect("connect timed out")
        .expect("connect")
}

/// `GET /api/health` from `from`: the status line's code.
async fn health_from(from: [u8; 4], addr: SocketAddr) -> u16 {
    let mut s = connect_from(from, addr).await;
    let req = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(TIMEOUT, s.read_to_end(&mut buf))
        .await
        .expect("health timed out")
        .expect("read");
    status_of(&buf)
}

fn status_of(response: &[u8]) -> u16 {
    String::from_utf8_lossy(response)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Opens a WebSocket on `addr` `path` by hand and returns the socket after
/// the 101.
async fn raw_websocket(addr: SocketAddr, path: &str, protocol: Option<&str>) -> TcpStream {
    let mut s = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .expect("connect");
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(p) = protocol {
        req.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write upgrade");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(TIMEOUT, s.read(&mut byte))
            .await
            .expect("upgrade answer timed out")
            .expect("read");
        assert!(n == 1, "{path}: closed during the upgrade");
        head.push(byte[0]);
    }
    assert_eq!(
        status_of(&head),
        101,
        "{path}: {}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// Sends a masked binary frame header declaring 2^62 bytes, then up to
/// `budget` bytes of payload while the server lets it. Returns the bytes
/// the server took and the close code it sent, if any.
async fn oversized_frame(mut s: TcpStream, budget: usize) -> (usize, Option<u16>) {
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 62).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    let (mut rd, mut wr) = s.split();
    let reader = async {
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
        // A close frame: 0x88, length, then the code.
        got.windows(4)
            .find(|w| w[0] == 0x88 && w[1] >= 2)
            .map(|w| u16::from_be_bytes([w[2], w[3]]))
    };
    let writer = async {
        if wr.write_all(&header).await.is_err() {
            return 0;
        }
        let chunk = vec![0x5Au8; 64 * 1024];
        let mut sent = 0;
        while sent < budget {
            match wr.write_all(&chunk).await {
                Ok(()) => sent += chunk.len(),
                Err(_) => break,
            }
        }
        let _ = wr.shutdown().await;
        sent
    };
    let (sent, code) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(writer, reader)
    })
    .await
    .expect("the oversized frame was neither refused nor taken");
    (sent, code)
}

/// Every WebSocket endpoint refuses a frame whose header declares more than
/// its limit as soon as the header is in: close 1009, the rest of the bytes
/// never kept. The server's memory stays far below what was sent, and a
/// JAM client is served meanwhile.
#[tokio::test]
async fn a_huge_frame_header_is_refused_before_its_payload() {
    let server = TestServer::start();
    let mut bystander = Jam::register(&server, "bystander").await;
    let general = bystander.lobby().general;
    let before = rss(&server);
    let oc = server.originchats.expect("originchats listener");
    let chatnet = server.chatnet.expect("chatnet listener");
    let endpoints: [(SocketAddr, &str, Option<&str>); 6] = [
        (oc, "/", None),
        (chatnet, "/", None),
        (server.http, "/ws", None),
        (server.http, "/mqtt", Some("mqtt")),
        (server.http, "/chatnet", None),
        (server.http, "/originchats", None),
    ];
    // 96 MiB offered per endpoint: the server that buffers grows by that much
    // on each.
    const BUDGET: usize = 96 << 20;
    let peak = PeakRss::start(server.pid());
    for (i, (addr, path, protocol)) in endpoints.into_iter().enumerate() {
        let s = raw_websocket(addr, path, protocol).await;
        let (sent, code) = oversized_frame(s, BUDGET).await;
        assert!(
            sent < BUDGET,
            "{path}: the server took all {sent} bytes of a 2^62-byte frame"
        );
        if let Some(code) = code {
            assert_eq!(code, 1009, "{path}");
        }
        let echo = bystander
            .send_message(&general, &format!("still here {i}"), &format!("r{i}"))
            .await;
        assert_eq!(echo["content"], format!("still here {i}"));
    }
    let peak = peak.finish().await;
    eprintln!("oversized frames: RSS {before} KiB before, peak {peak} KiB");
    assert!(
        peak < before + 48 * MIB,
        "RSS went from {before} KiB to {peak} KiB under oversized frames"
    );
}

/// 100 concurrent wrong-password logins: hashing runs a few at a time
/// behind a bounded queue, the excess is refused with 429 at once, memory
/// stays bounded during the burst and comes back after it, and a health
/// check from another address and a logged-in client are served meanwhile.
#[tokio::test]
async fn a_login_burst_is_bounded_and_memory_comes_back() {
    let server = TestServer::start();
    rest_register(&server, "victim").await;
    let mut bystander = Jam::register(&server, "bystander").await;
    let general = bystander.lobby().general;
    // Warm up: the first hashes start the hashers and the decoy.
    for _ in 0..3 {
        let body = json!({"username": "victim", "password": "wrong"});
        server
            .rest("POST", "/api/auth/login", None, Some(&body))
            .await;
    }
    let before = rss(&server);
    let peak = PeakRss::start(server.pid());
    let mut burst = Vec::new();
    for i in 0..100 {
        let http = server.http;
        burst.push(tokio::spawn(async move {
            let body =
                serde_json::to_vec(&json!({"username": "victim", "password": format!("guess{i}")}))
                    .expect("json");
            let res = common::http_request(
                http,
                "POST",
                "/api/auth/login",
                &[("Content-Type", "application/json")],
                &body,
            )
            .await;
            res.status
        }));
    }
    // Served during the burst: another address's health check, and a
    // logged-in client's message.
    assert_eq!(health_from([127, 0, 0, 2], server.http).await, 200);
    let echo = bystander
        .send_message(&general, "during the burst", "b1")
        .await;
    assert_eq!(echo["content"], "during the burst");
    let mut refused = 0;
    for t in burst {
        let status = t.await.expect("login task");
        assert!(status == 401 || status == 429, "status {status}");
        if status == 429 {
            refused += 1;
        }
    }
    let peak = peak.finish().await;
    assert!(
        refused > 0,
        "no login was refused: nothing bounds the queue"
    );
    assert!(
        peak < before + 192 * MIB,
        "RSS went from {before} KiB to {peak} KiB during 100 logins"
    );
    // Back near where it started once the burst is over.
    let settled = settle(&server).await;
    eprintln!(
        "100 logins: {refused} refused; RSS {before} KiB before, peak {peak} KiB, {settled} KiB after"
    );
    assert!(
        settled < before + 24 * MIB,
        "RSS {before} KiB before the burst, {settled} KiB after it"
    );
    // The victim's password still works.
    let body = json!({"username": "victim", "password": common::PASSWORD});
    let (status, _) = server
        .rest("POST", "/api/auth/login", None, Some(&body))
        .await;
    assert_eq!(status, 200);
}

/// The lowest RSS over a short while: freed memory goes back to the system
/// as the last hashes end.
async fn settle(server: &TestServer) -> u64 {
    let mut low = u64::MAX;
    for _ in 0..20 {
        low = low.min(rss(server));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    low
}

/// Four bursts of 20 concurrent OriginChats registrations: the server ends
/// where the first burst left it, not 300 MiB higher per burst.
#[tokio::test]
async fn repeated_registration_bursts_leave_memory_where_it_was() {
    let server = TestServer::start();
    let url = common::oc_url(&server);
    let mut after = Vec::new();
    for burst in 0..4 {
        let mut tasks = Vec::new();
        for i in 0..20 {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let oc = Oc::register_at(&url, &format!("soak{burst}x{i}")).await;
                oc.close().await;
            }));
        }
        for t in tasks {
            t.await.expect("registration");
        }
        after.push(settle(&server).await);
    }
    eprintln!("RSS after each burst of 20 registrations: {after:?} KiB");
    assert!(
        after[3] < after[0] + 32 * MIB,
        "RSS after each burst of 20 registrations: {after:?} KiB"
    );
}

/// HTTP connections count toward `limits.connections_per_ip`: past it, a
/// REST request gets 429 and its connection is closed; another address is
/// not affected, and the place comes back when a connection closes.
#[tokio::test]
async fn rest_connections_count_toward_the_address_limit() {
    let server = TestServer::with_config("[limits]\nconnections_per_ip = 4\n");
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from([127, 0, 0, 3], server.http).await);
    }
    // Give the server the time to take each connection in: a request on each
    // answers once it has.
    for s in held.iter_mut() {
        let req = format!("GET /api/health HTTP/1.1\r\nHost: {}\r\n\r\n", server.http);
        s.write_all(req.as_bytes()).await.expect("write");
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(TIMEOUT, s.read(&mut buf))
            .await
            .expect("answer timed out")
            .expect("read");
        assert_eq!(status_of(&buf[..n]), 200);
    }
    // The fifth connection from that address is refused.
    let mut fifth = connect_from([127, 0, 0, 3], server.http).await;
    let req = format!("GET /api/health HTTP/1.1\r\nHost: {}\r\n\r\n", server.http);
    fifth.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(TIMEOUT, fifth.read_to_end(&mut buf))
        .await
        .expect("the refused connection was not closed")
        .expect("read");
    assert_eq!(status_of(&buf), 429, "{}", String::from_utf8_lossy(&buf));
    assert!(
        String::from_utf8_lossy(&buf).contains("Too many connections from your address"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    // Another address is served.
    assert_eq!(health_from([127, 0, 0, 4], server.http).await, 200);
    // A WebSocket from the full address is refused at the door too.
    let mut jam_refused = connect_from([127, 0, 0, 3], server.http).await;
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.http
    );
    jam_refused
        .write_all(upgrade.as_bytes())
        .await
        .expect("write");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(TIMEOUT, jam_refused.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("Too many connections from your address"),
        "{text}"
    );
    // One closes: the place is free again.
    drop(held.pop());
    let mut freed = 0;
    for _ in 0..50 {
        if health_from([127, 0, 0, 3], server.http).await == 200 {
            freed += 1;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(freed, 1, "the closed connection's place never came back");
}
