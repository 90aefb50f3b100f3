//! A client that stops reading is dropped as a slow consumer (close 4010)
//! while everyone else keeps getting everything.
//!
//! The slow client is a raw TCP socket with a small receive buffer that does
//! the WebSocket handshake by hand, authenticates, and then never reads
//! until the end of the test.

mod common;

use common::{server_closes_its_side, Jam, TestServer, PASSWORD, TIMEOUT};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

struct RawWs {
    stream: TcpStream,
    buf: Vec<u8>,
}

enum RawFrame {
    Text(String),
    Close(Option<u16>),
    Other(u8),
}

impl RawWs {
    async fn connect(server: &TestServer) -> RawWs {
        let socket = TcpSocket::new_v4().expect("socket");
        // Small, so that the kernel holds little of what we do not read.
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let mut stream = socket.connect(server.http).await.expect("connect");
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            server.http
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("handshake");
        let mut buf = Vec::new();
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(TIMEOUT, stream.read(&mut chunk))
                .await
                .expect("handshake timed out")
                .expect("handshake read");
            assert!(n > 0, "closed during handshake");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "handshake: {head}");
        assert!(
            head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "Sec-WebSocket-Accept: {head}"
        );
        RawWs {
            stream,
            buf: buf[end..].to_vec(),
        }
    }

    /// One masked text frame.
    async fn send_text(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mask = [0x5a, 0x13, 0xc7, 0x81];
        let mut frame = vec![0x81];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.expect("send frame");
    }

    /// The next frame; `None` at EOF or on a reset.
    async fn next(&mut self) -> Option<RawFrame> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            let mut chunk = [0u8; 65536];
            let read = tokio::time::timeout(TIMEOUT, self.stream.read(&mut chunk))
                .await
                .expect("the server neither sent more nor closed the slow socket");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn next_json(&mut self) -> Value {
        match self.next().await {
            Some(RawFrame::Text(t)) => serde_json::from_str(&t).expect("JSON"),
            _ => panic!("expected a text frame"),
        }
    }
}

/// A complete unmasked server frame at the start of `buf`, and its length.
fn parse_frame(buf: &[u8]) -> Option<(RawFrame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    assert_eq!(buf[1] & 0x80, 0, "server frames are not masked");
    let (len, header) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (
            u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    if buf.len() < header + len {
        return None;
    }
    let payload = &buf[header..header + len];
    let frame = match opcode {
        1 => RawFrame::Text(String::from_utf8(payload.to_vec()).expect("UTF-8 text")),
        8 => RawFrame::Close((len >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))),
        other => RawFrame::Other(other),
    };
    Some((frame, header + len))
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_others_keep_everything() {
    let server = TestServer::with_config(
        "[limits]\npending_bytes = 4096\nuser_requests_per_second = 0\nip_requests_per_second = 0\n\n[storage]\ndurability = \"batched\"\nflush_every_ms = 50\n",
    );
    let mut fast = Jam::register(&server, "fast").await;
    let general = fast.lobby().general;

    let mut slow = RawWs::connect(&server).await;
    let hello = slow.next_json().await;
    assert_eq!(hello["op"], 1);
    slow.send_text(
        &json!({"op": 2, "d": {"action": "register", "username": "slow", "password": PASSWORD}})
            .to_string(),
    )
    .await;
    let ready = loop {
        let f = slow.next_json().await;
        if f["op"] == 3 {
            break f;
        }
        assert_eq!(f["op"], 70, "before op 3: {f}");
    };
    assert_eq!(ready["d"]["user"]["username"], "slow");
    // From here on the slow client reads nothing until the end.

    // The fast client sends large messages, one at a time (each waits for
    // its own copy), until the server reports a slow consumer. How many it
    // takes depends on kernel buffers, so the loop is bounded by a count.
    let content = |i: usize| format!("{i:05}:{}", "z".repeat(3500));
    let mut sent = 0usize;
    let mut detected = false;
    while sent < 4000 {
        for _ in 0..50 {
            let m = fast
                .send_message(&general, &content(sent), &format!("f-{sent}"))
                .await;
            assert_eq!(m["channel_id"], general.as_str());
            sent += 1;
        }
        // Long runs on a slow machine must not hit the heartbeat timeout.
        fast.heartbeat_ok().await;
        if sent >= 300 {
            let stats = server.stats().await;
            if stats["slow_consumers"].as_u64().unwrap_or(0) >= 1 {
                detected = true;
                break;
            }
        }
    }
    assert!(detected, "no slow consumer after {sent} messages of 3.5 KB");

    // The server has really closed the slow socket (not just stopped
    // serving it), although the client still reads nothing.
    let client_port = slow.stream.local_addr().expect("local addr").port();
    server_closes_its_side(server.http.port(), client_port).await;

    // The server is healthy: the fast client still round-trips, a new
    // client can log in, and the slow one is no longer counted.
    fast.heartbeat_ok().await;
    fast.send_message(&general, "after the slow one", "f-last")
        .await;
    let mut fresh = Jam::register(&server, "fresh").await;
    fresh.heartbeat_ok().await;
    let health = server
        .admin_get("/admin/health", Some(common::ADMIN_TOKEN))
        .await;
    assert_eq!(health.status, 200);
    let stats = server.stats().await;
    assert_eq!(stats["slow_consumers"], 1, "{stats}");
    assert_eq!(stats["messages_created"], (sent + 1) as u64, "{stats}");

    // Now read the slow socket: whatever was buffered (in order, a prefix of
    // what was sent), then a 4010 close or the end of the stream.
    let mut received = 0usize;
    let mut close = None;
    loop {
        match slow.next().await {
            None => break,
            Some(RawFrame::Text(t)) => {
                assert!(close.is_none(), "data after the close frame");
                let f: Value = serde_json::from_str(&t).expect("JSON");
                if f["op"] == 10 {
                    assert_eq!(
                        f["d"]["content"],
                        content(received),
                        "in order, nothing lost in between"
                    );
                    assert!(f["d"].get("ref").is_none(), "ref leaked to the slow client");
                    received += 1;
                }
            }
            Some(RawFrame::Close(code)) => close = Some(code),
            Some(RawFrame::Other(op)) => panic!("unexpected frame opcode {op}"),
        }
    }
    eprintln!("slow consumer: sent {sent}, slow client got {received}, close frame {close:?}");
    if let Some(code) = close {
        assert_eq!(code, Some(4010), "close code for a slow consumer");
    }
    assert!(
        received < sent,
        "the slow client was cut off: it got {received} of {sent} messages"
    );
}
