//! Load clients, one module per dialect, all with the same shape: connect
//! and authenticate, then send texts into one room and report every bench
//! marker seen on the wire.
//!
//! A message's text carries a marker `bench:<seq>:<sent_us>` (microseconds
//! since the run's epoch), so a receiver needs no parsing beyond finding it
//! in the raw frame: the load generator shares the machine with the server
//! and must spend as little as it can per delivery.

pub mod chatnet;
pub mod jam;
pub mod nynja;
pub mod originchats;
pub mod v0;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Jam,
    #[value(name = "originchats")]
    #[serde(rename = "originchats")]
    OriginChats,
    Chatnet,
    V0,
    Nynja,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Jam => "jam",
            Dialect::OriginChats => "originchats",
            Dialect::Chatnet => "chatnet",
            Dialect::V0 => "v0",
            Dialect::Nynja => "nynja",
        }
    }
}

/// Where the server under test listens.
#[derive(Clone, Debug)]
pub struct Target {
    /// Main port: JAM at `/ws`, REST under `/api`.
    pub http: SocketAddr,
    /// OriginChats WebSocket URL (may be another OriginChats server).
    pub originchats_url: String,
    /// chat-network WebSocket URL (may be another chat-network server).
    pub chatnet_url: String,
    pub v0: SocketAddr,
    pub mqtt: SocketAddr,
}

/// An account on the server under test, made by a scenario's setup.
#[derive(Clone, Debug, Default)]
pub struct Account {
    pub username: String,
    pub password: String,
    pub user_id: String,
    /// A Switchboard session token (JAM op 2, OriginChats `validator`,
    /// MQTT password).
    pub token: String,
    /// The V0 HMAC secret, 64 hex digits, when one was issued.
    pub v0_secret: Option<String>,
    /// The NYNJA phone, for accounts made over `Auth`.
    pub phone: Option<String>,
}

/// Where a client's messages go.
#[derive(Clone, Debug)]
pub enum Room {
    /// A guild text channel (OriginChats names it, the others use the id).
    Channel { id: String, name: String },
    /// A direct message with this user.
    Direct { username: String, user_id: String },
}

/// A bench marker found in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marker {
    pub seq: u64,
    /// When it was sent: microseconds since [`epoch`].
    pub sent_us: u64,
}

const MARKER: &[u8] = b"bench:";

/// The run's time origin; every process-local timestamp is relative to it.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

pub fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// The text of message `seq`, stamped now.
pub fn marker_text(seq: u64) -> String {
    format!("bench:{seq}:{}", now_us())
}

/// base64 of `bench:`: chat-network texts travel base64-encoded (the
/// server stores them as ciphertext), so their markers arrive sealed.
const SEALED_MARKER: &[u8] = b"YmVuY2g6";

/// The first marker in `bytes`, plain or sealed, if any.
pub fn find_marker(bytes: &[u8]) -> Option<Marker> {
    find_plain_marker(bytes).or_else(|| find_sealed_marker(bytes))
}

fn find_sealed_marker(bytes: &[u8]) -> Option<Marker> {
    use base64::Engine;
    let start = bytes
        .windows(SEALED_MARKER.len())
        .position(|w| w == SEALED_MARKER)?;
    let rest = bytes.get(start..)?;
    let len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .count();
    let text = base64::engine::general_purpose::STANDARD
        .decode(rest.get(..len)?)
        .ok()?;
    find_plain_marker(&text)
}

fn find_plain_marker(bytes: &[u8]) -> Option<Marker> {
    let start = bytes.windows(MARKER.len()).position(|w| w == MARKER)? + MARKER.len();
    let digits = |from: usize| -> Option<(u64, usize)> {
        let rest = bytes.get(from..)?;
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let text = std::str::from_utf8(rest.get(..n)?).ok()?;
        Some((text.parse().ok()?, from + n))
    };
    let (seq, end) = digits(start)?;
    if bytes.get(end) != Some(&b':') {
        return None;
    }
    let (sent_us, _) = digits(end + 1)?;
    Some(Marker { seq, sent_us })
}

/// Receives each marker a client sees, its own echo included.
pub trait Sink: Send + Sync + 'static {
    fn seen(&self, client: usize, marker: Marker);
}

pub type SharedSink = Arc<dyn Sink>;

/// A sink that ignores everything (idle connections, login storms).
pub struct Discard;

impl Sink for Discard {
    fn seen(&self, _: usize, _: Marker) {}
}

pub struct ClientOpts {
    /// This client's index in the scenario (passed back to the sink).
    pub index: usize,
    /// Source address of its sockets (127.0.0.x spreads the 4-tuples).
    pub source_ip: IpAddr,
    pub room: Room,
    pub sink: SharedSink,
}

/// What a dialect module's `connect` returns.
pub struct Connected {
    /// From the first byte sent to the server's "you are in" answer.
    pub ready_after: Duration,
    /// Texts to send into the room.
    pub tx: mpsc::Sender<String>,
    pub task: JoinHandle<()>,
}

/// A connected, authenticated client of one dialect.
pub struct Client {
    pub dialect: Dialect,
    pub ready_after: Duration,
    tx: mpsc::Sender<String>,
    task: JoinHandle<()>,
}

impl Client {
    pub async fn connect(
        dialect: Dialect,
        target: &Target,
        account: &Account,
        opts: ClientOpts,
    ) -> anyhow::Result<Client> {
        let c = match dialect {
            Dialect::Jam => jam::connect(target, account, opts).await,
            Dialect::OriginChats => originchats::connect(target, account, opts).await,
            Dialect::Chatnet => chatnet::connect(target, account, opts).await,
            Dialect::V0 => v0::connect(target, account, opts).await,
            Dialect::Nynja => nynja::connect(target, account, opts).await,
        }
        .with_context(|| format!("{} client of {}", dialect.name(), account.username))?;
        Ok(Client {
            dialect,
            ready_after: c.ready_after,
            tx: c.tx,
            task: c.task,
        })
    }

    /// Queues `text` to be sent into the client's room.
    pub async fn send(&self, text: String) -> anyhow::Result<()> {
        self.tx
            .send(text)
            .await
            .map_err(|_| anyhow::anyhow!("{} client is gone", self.dialect.name()))
    }

    pub fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP connection from `source` to `addr`.
pub async fn tcp_connect(addr: SocketAddr, source: IpAddr) -> io::Result<TcpStream> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if source.is_ipv4() == addr.is_ipv4() {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A WebSocket client connection to `url` (`ws://host:port/path`) from
/// `source`, with an optional subprotocol.
pub async fn ws_connect(
    url: &str,
    source: IpAddr,
    subprotocol: Option<&str>,
) -> anyhow::Result<WebSocketStream<TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request()?;
    if let Some(p) = subprotocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse()?);
    }
    let host = request
        .uri()
        .host()
        .context("url without host")?
        .to_string();
    let port = request.uri().port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .context("url host does not resolve")?;
    let stream = tcp_connect(addr, source).await?;
    let (ws, _) = tokio_tungstenite::client_async(request, stream).await?;
    Ok(ws)
}

/// How long a client waits for the server's answer to its login.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);

/// How many texts may wait in a client's send queue.
pub const SEND_QUEUE: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_in_any_frame() {
        let m = find_marker(br#"{"op":10,"d":{"content":"bench:42:1234567"}}"#);
        assert_eq!(
            m,
            Some(Marker {
                seq: 42,
                sent_us: 1234567
            })
        );
        assert_eq!(find_marker(b"bench:42"), None);
        assert_eq!(find_marker(b"bench::1"), None);
        assert_eq!(find_marker(b"nothing here"), None);
        let text = marker_text(7);
        assert_eq!(find_marker(text.as_bytes()).map(|m| m.seq), Some(7));
        use base64::Engine;
        let sealed = base64::engine::general_purpose::STANDARD.encode(marker_text(77));
        let frame = format!(r#"{{"content":"{sealed}","encrypted":true}}"#);
        assert_eq!(find_marker(frame.as_bytes()).map(|m| m.seq), Some(77));
        assert_eq!(find_marker(b"YmVuY2g6"), None);
    }
}
