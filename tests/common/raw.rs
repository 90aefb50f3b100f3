//! Low-level helpers for tests that need to see exactly what the server
//! does to a socket: a raw MQTT client (TCP or WebSocket) that can stop
//! reading or report how the connection ended, the server-side TCP state
//! from /proc/net/tcp, and the server's resident memory.

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use switchboard_protocols::nynja::etf::{self, Limits, Term};
use switchboard_protocols::nynja::mqtt::{self, Connect, Packet, PubComp, PubRec, Publish, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::codec::{Decoder, Encoder};

use super::{TestServer, TIMEOUT};

/// How a connection ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// A WebSocket close frame with this code (then the end of the stream).
    WsClose(Option<u16>),
    /// The TCP stream ended cleanly (FIN).
    Eof,
    /// The TCP stream ended with an error (a reset): the server dropped
    /// the socket while our last request was still unread.
    Reset(String),
}

/// What a raw MQTT read gave.
#[derive(Debug)]
pub enum MqttIn {
    Packet(Packet),
    Ended(Ending),
}

enum Link {
    Tcp(TcpStream),
    Ws(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
}

/// An MQTT 3.1.1 client written against the server's own packet codec, so a
/// test controls every byte: whether it reads at all, and how it learns
/// that the connection ended (a close frame's code over WebSocket).
pub struct RawMqtt {
    link: Link,
    buf: BytesMut,
    codec: mqtt::Codec,
    pub client_id: String,
    next_pkid: u16,
}

impl RawMqtt {
    /// MQTT over TCP to the MQTT listener.
    pub async fn tcp(server: &TestServer, client_id: &str) -> RawMqtt {
        let addr = server.mqtt.expect("the mqtt listener was announced");
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        RawMqtt::over(Link::Tcp(stream), client_id)
    }

    /// MQTT over TCP from a socket the caller set up (e.g. a small receive
    /// buffer).
    pub fn from_stream(stream: TcpStream, client_id: &str) -> RawMqtt {
        RawMqtt::over(Link::Tcp(stream), client_id)
    }

    /// MQTT over WebSocket at `/mqtt` on the main port (subprotocol `mqtt`).
    pub async fn ws(server: &TestServer, client_id: &str) -> RawMqtt {
        let mut req = format!("ws://{}/mqtt", server.http)
            .into_client_request()
            .expect("request");
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "mqtt".parse().expect("header value"),
        );
        let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(req))
            .await
            .expect("ws connect timed out")
            .expect("ws connect");
        RawMqtt::over(Link::Ws(Box::new(ws)), client_id)
    }

    fn over(link: Link, client_id: &str) -> RawMqtt {
        RawMqtt {
            link,
            buf: BytesMut::new(),
            codec: mqtt::codec(16 * 1024 * 1024),
            client_id: client_id.to_string(),
            next_pkid: 1,
        }
    }

    /// The local port of the TCP connection (TCP only).
    pub fn local_port(&self) -> u16 {
        match &self.link {
            Link::Tcp(s) => s.local_addr().expect("local addr").port(),
            Link::Ws(ws) => match ws.get_ref() {
                MaybeTlsStream::Plain(s) => s.local_addr().expect("local addr").port(),
                _ => panic!("not a plain socket"),
            },
        }
    }

    /// Sends one packet; false when the connection is gone.
    pub async fn send(&mut self, packet: Packet) -> bool {
        let mut bytes = BytesMut::new();
        self.codec
            .encode(packet, &mut bytes)
            .expect("encodable packet");
        let write = async {
            match &mut self.link {
                Link::Tcp(s) => s.write_all(&bytes).await.is_ok(),
                Link::Ws(ws) => ws.send(Message::Binary(bytes.to_vec())).await.is_ok(),
            }
        };
        tokio::time::timeout(TIMEOUT, write)
            .await
            .unwrap_or_else(|_| panic!("{}: send timed out", self.client_id))
    }

    /// CONNECT with `token` as password (user name `api`), then CONNACK,
    /// which must accept.
    pub async fn login(&mut self, token: &str, clean: bool) {
        let mut c = Connect::new(self.client_id.clone());
        c.keep_alive = 120;
        c.clean_session = clean;
        c.set_login("api", token);
        assert!(self.send(Packet::Connect(c)).await, "CONNECT not sent");
        match self.next().await {
            MqttIn::Packet(Packet::ConnAck(ack)) => assert_eq!(
                ack.code,
                mqtt::ConnectReturnCode::Success,
                "{}: CONNACK",
                self.client_id
            ),
            other => panic!("{}: expected CONNACK, got {other:?}", self.client_id),
        }
    }

    /// Publishes `term` to `events/1//api/anon//` at QoS 1 (the server's
    /// PUBACK only says the packet arrived; the dialect's acknowledgement
    /// is the `Ack` record that follows the request's completion).
    pub async fn publish(&mut self, term: &Term) -> bool {
        let mut p = Publish::new("events/1//api/anon//", QoS::AtLeastOnce, etf::encode(term));
        p.pkid = self.next_pkid;
        self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
        self.send(Packet::Publish(p)).await
    }

    /// The next packet, or how the connection ended.
    pub async fn next(&mut self) -> MqttIn {
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(p)) => return MqttIn::Packet(p),
                Ok(None) => {}
                Err(e) => panic!("{}: bad MQTT from the server: {e:?}", self.client_id),
            }
            let read = async {
                match &mut self.link {
                    Link::Tcp(s) => {
                        let mut chunk = [0u8; 16384];
                        match s.read(&mut chunk).await {
                            Ok(0) => Err(Ending::Eof),
                            Ok(n) => Ok(chunk[..n].to_vec()),
                            Err(e) => Err(Ending::Reset(e.to_string())),
                        }
                    }
                    Link::Ws(ws) => loop {
                        match ws.next().await {
                            None => break Err(Ending::Eof),
                            Some(Err(e)) => break Err(Ending::Reset(e.to_string())),
                            Some(Ok(Message::Binary(b))) => break Ok(b),
                            Some(Ok(Message::Close(f))) => {
                                break Err(Ending::WsClose(f.map(|f| u16::from(f.code))))
                            }
                            Some(Ok(Message::Text(t))) => {
                                panic!("MQTT over WebSocket sent a text frame: {t}")
                            }
                            Some(Ok(_)) => continue,
                        }
                    },
                }
            };
            let got = tokio::time::timeout(TIMEOUT, read)
                .await
                .unwrap_or_else(|_| {
                    panic!("{}: nothing within the safety timeout", self.client_id)
                });
            match got {
                Ok(bytes) => self.buf.extend_from_slice(&bytes),
                Err(ending) => return MqttIn::Ended(ending),
            }
        }
    }

    /// The next publish (its QoS 2 handshake answered on the way), or how
    /// the connection ended.
    pub async fn next_publish(&mut self) -> Result<(String, Term), Ending> {
        loop {
            match self.next().await {
                MqttIn::Ended(e) => return Err(e),
                MqttIn::Packet(Packet::Publish(p)) => {
                    match p.qos {
                        QoS::ExactlyOnce => {
                            self.send(Packet::PubRec(PubRec::new(p.pkid))).await;
                        }
                        QoS::AtLeastOnce => {
                            self.send(Packet::PubAck(mqtt::PubAck::new(p.pkid))).await;
                        }
                        QoS::AtMostOnce => {}
                    }
                    let term = etf::decode(&p.payload, Limits::default())
                        .unwrap_or_else(|e| panic!("{}: not a term ({e})", self.client_id));
                    return Ok((p.topic, term));
                }
                MqttIn::Packet(Packet::PubRel(r)) => {
                    self.send(Packet::PubComp(PubComp::new(r.pkid))).await;
                }
                MqttIn::Packet(_) => {}
            }
        }
    }

    /// Reads until the connection ends; publishes are answered and skipped.
    pub async fn until_end(&mut self) -> Ending {
        loop {
            if let Err(e) = self.next_publish().await {
                return e;
            }
        }
    }
}

/// Waits (bounded) until the server's end of the connection
/// 127.0.0.1:`server_port` ⇄ `client_port` has been closed by the server
/// process: any TCP state but ESTABLISHED and CLOSE_WAIT, or gone. Reads
/// /proc/net/tcp, so it checks only on Linux.
pub async fn server_closes_its_side(server_port: u16, client_port: u16) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        let port = |addr: &str| {
            addr.rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok())
        };
        let state = table.lines().skip(1).find_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let ours = cols.len() > 3
                && port(cols[1]) == Some(server_port)
                && port(cols[2]) == Some(client_port);
            ours.then(|| cols[3].to_string())
        });
        // 01 ESTABLISHED, 08 CLOSE_WAIT: the server process still holds it.
        match state.as_deref() {
            Some("01") | Some("08") => {}
            _ => return,
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never closed the slow consumer's socket (state {state:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The resident set size of process `pid` in KiB (VmRSS), where /proc has
/// it.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
