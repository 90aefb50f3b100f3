//! Connections turned away at the door (`limits.connections_per_ip`),
//! each with its dialect's own refusal, before any session exists.
//!
//! The refusal is written, then the peer's own bytes are read until it
//! closes (bounded): closing a socket with unread input makes the kernel
//! send a reset, which can destroy the refusal before the client reads it.

use std::cell::RefCell;
use std::time::Duration;

use actix_http::ws;
use actix_rt::net::TcpStream;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;

use switchboard_actors::admission::{ConnectionSlot, TooManyConnections};
use switchboard_actors::session::ws::WsFramed;
use switchboard_actors::World;
use switchboard_protocols::jam::codes::{self, close, JamError};
use switchboard_protocols::jam::frame as jam_frame;
use switchboard_protocols::jam::op;
use switchboard_protocols::{chatnet, originchats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a refused peer gets to read the refusal and hang up.
const LINGER: Duration = Duration::from_secs(5);

/// The WebSocket dialects, as far as the door is concerned.
#[derive(Debug, Clone, Copy)]
pub enum WsDialect {
    Jam,
    OriginChats,
    Chatnet,
    Mqtt,
}

/// Refuses an upgraded WebSocket connection:
/// - JAM: op 4 `RATE_LIMITED`, then close 4008;
/// - OriginChats: `{"cmd":"error","val":...}`, then close 1008;
/// - chat-network: `{"type":"error","resp_code":8,"reason":...}`, then 1008;
/// - MQTT: CONNACK 3 (server unavailable) after the client's CONNECT,
///   then close 1008.
pub async fn refuse_ws(mut framed: WsFramed, dialect: WsDialect) {
    let msg = TooManyConnections::MESSAGE;
    let (first, code) = match dialect {
        WsDialect::Jam => {
            let e = JamError::new(codes::RATE_LIMITED, msg);
            let text = jam_frame::finish_frame(&jam_frame::prefix(op::ERROR, &e.to_value()), 1);
            (ws::Message::Text(text.into()), close::RATE_LIMITED)
        }
        WsDialect::OriginChats => {
            let f = originchats::frame::error(None, msg);
            let text = originchats::frame::finish(&originchats::frame::prefix(&f), None);
            (ws::Message::Text(text.into()), POLICY)
        }
        WsDialect::Chatnet => {
            let text = serde_json::Value::Object(chatnet::malformed(msg)).to_string();
            (ws::Message::Text(text.into()), POLICY)
        }
        WsDialect::Mqtt => {
            // A CONNACK answers a CONNECT: wait for it.
            let _ = tokio::time::timeout(LINGER, framed.next()).await;
            let bytes = connack_unavailable();
            (ws::Message::Binary(bytes.into()), POLICY)
        }
    };
    let reason = ws::CloseReason {
        code: ws::CloseCode::Other(code),
        description: Some(msg.to_string()),
    };
    let sent = async {
        framed.send(first).await?;
        framed.send(ws::Message::Close(Some(reason))).await
    };
    if tokio::time::timeout(LINGER, sent).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        while let Some(Ok(frame)) = framed.next().await {
            if matches!(frame, ws::Frame::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// A raw TCP connection (V0, MQTT) at the door: its peer and connection
/// place, or the stream back when the address is over
/// `limits.connections_per_ip` (counted), for the dialect to refuse.
pub fn admit_tcp(
    world: &World,
    stream: TcpStream,
) -> Result<(TcpStream, SocketAddr, ConnectionSlot), TcpStream> {
    // Frames are written whole; Nagle would only hold them back.
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    match world.admission.connect(peer.ip()) {
        Ok(slot) => Ok((stream, peer, slot)),
        Err(_) => {
            world.metrics.connection_refused();
            Err(stream)
        }
    }
}

/// An HTTP connection's place in `limits.connections_per_ip`, taken when
/// the connection opens (REST and WebSocket alike) and given back when it
/// closes. Empty when the address was over its limit (every request on
/// the connection is refused, [`over_limit`]) or once a WebSocket upgrade
/// handed the place to its session.
pub struct HttpSlot {
    slot: RefCell<Option<ConnectionSlot>>,
    refused: bool,
}

impl HttpSlot {
    /// The place, for the session a WebSocket upgrade starts; `None` when
    /// the connection was refused at the door.
    pub fn take(&self) -> Option<ConnectionSlot> {
        self.slot.borrow_mut().take()
    }
}

/// `on_connect_ext` of the HTTP listeners: counts the connection.
pub fn count_http(world: &World, io: &TcpStream, ext: &mut actix_http::Extensions) {
    let peer = io
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let slot = world.admission.connect(peer.ip()).ok();
    if slot.is_none() {
        world.metrics.connection_refused();
    }
    ext.insert(HttpSlot {
        refused: slot.is_none(),
        slot: RefCell::new(slot),
    });
}

/// Whether the request came on a connection refused at the door.
pub fn over_limit(req: &actix_web::HttpRequest) -> bool {
    req.conn_data::<HttpSlot>().is_some_and(|s| s.refused)
}

/// 1008 "policy violation": the generic code for a refused connection.
const POLICY: u16 = 1008;

/// Refuses a V0 connection: V0 has no way to answer before CNN, so the
/// connection just closes (as for any CNN the server does not accept).
pub async fn refuse_v0(stream: TcpStream) {
    linger_and_close(stream, None).await;
}

/// Refuses an MQTT connection with CONNACK 3 (server unavailable) after
/// its CONNECT.
pub async fn refuse_mqtt(mut stream: TcpStream) {
    let mut buf = [0u8; 512];
    let _ = tokio::time::timeout(LINGER, stream.read(&mut buf)).await;
    linger_and_close(stream, Some(connack_unavailable())).await;
}

/// CONNACK (type 2, remaining length 2), no session present, return code
/// 3 "server unavailable" (MQTT 3.1.1 §3.2).
fn connack_unavailable() -> Vec<u8> {
    vec![0x20, 0x02, 0x00, 0x03]
}

async fn linger_and_close(mut stream: TcpStream, reply: Option<Vec<u8>>) {
    let _ = tokio::time::timeout(LINGER, async {
        if let Some(bytes) = reply {
            stream.write_all(&bytes).await?;
        }
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}
