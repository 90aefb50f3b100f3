//! WebSocket upgrades on the main listener.
//!
//! Upgrade requests bypass the actix-web router: actix-http hands this
//! service the request together with the raw connection, and the session
//! actor for the path takes the connection over. Owning the socket is what
//! lets a session bound its output and close a peer that stopped reading
//! (see `docs/decisions.md`).

use std::sync::Arc;

use actix_codec::Framed;
use actix_http::body::{BodySize, BoxBody};
use actix_http::{h1, ws, Request, Response};
use actix_rt::net::TcpStream;
use futures_util::SinkExt;
use switchboard_actors::nynja::NynjaContext;
use switchboard_actors::session::chatnet::{Chatnet, ChatnetConfig};
use switchboard_actors::session::jam::Jam;
use switchboard_actors::session::nynja::Nynja;
use switchboard_actors::session::originchats::{Oc, OcContext};
use switchboard_actors::session::ws_codec::LimitedCodec;
use switchboard_actors::session::Session;
use switchboard_actors::World;

use crate::door::{self, WsDialect};

/// Which listener an upgrade arrived on: the paths differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// `/ws` (JAM), `/originchats[/<guild id>]`, `/chatnet`, `/mqtt`.
    Main,
    /// `/` (OriginChats, as stock clients dial it).
    OriginChats,
    /// `/` (chat-network).
    Chatnet,
}

/// What the dialects' sessions share, per server.
#[derive(Clone)]
pub struct Dialects {
    pub oc: Arc<OcContext>,
    pub chatnet: Arc<ChatnetConfig>,
    pub nynja: Arc<NynjaContext>,
}

enum Target {
    Jam,
    OriginChats(switchboard_protocols::Id),
    Chatnet,
    Mqtt,
}

fn target(world: &World, oc: &OcContext, listener: Listener, path: &str) -> Option<Target> {
    match listener {
        Listener::Main if path == "/ws" => Some(Target::Jam),
        Listener::Main if path == "/chatnet" => Some(Target::Chatnet),
        Listener::Main if path == "/mqtt" => Some(Target::Mqtt),
        Listener::Chatnet if path == "/" => Some(Target::Chatnet),
        Listener::Main if path.starts_with("/originchats") => {
            oc.guild_for_path(world, path).map(Target::OriginChats)
        }
        Listener::OriginChats if path == "/" => {
            oc.guild_for_path(world, path).map(Target::OriginChats)
        }
        _ => None,
    }
}

/// An upgrade that failed midway; actix-http logs it.
#[derive(Debug)]
pub struct UpgradeError(String);

impl std::fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "websocket upgrade failed: {}", self.0)
    }
}

impl From<UpgradeError> for Response<BoxBody> {
    fn from(e: UpgradeError) -> Self {
        Response::internal_server_error().set_body(BoxBody::new(e.to_string()))
    }
}

fn failed(e: impl std::fmt::Display) -> UpgradeError {
    UpgradeError(e.to_string())
}

/// Serves one upgrade request.
pub async fn upgrade(
    world: Arc<World>,
    dialects: Dialects,
    listener: Listener,
    req: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), UpgradeError> {
    // The session writes whole frames from here on; Nagle would hold a frame
    // back until the previous one is acknowledged.
    let _ = framed.io_ref().set_nodelay(true);
    let found = target(&world, &dialects.oc, listener, req.path()).and_then(|t| match t {
        Target::Jam | Target::Chatnet | Target::Mqtt => Some((t, None)),
        Target::OriginChats(g) => world
            .guild_shared(g)
            .ok()
            .map(|s| (Target::OriginChats(g), Some(s))),
    });
    let Some((target, shared)) = found else {
        let res = Response::not_found().drop_body();
        return framed
            .send((res, BodySize::None).into())
            .await
            .map_err(failed);
    };
    // MQTT clients offer the `mqtt` (or 3.1's `mqttv3.1`) subprotocol and
    // expect it named back.
    let offered = req
        .head()
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .map(str::trim)
                .find(|p| *p == "mqtt" || *p == "mqttv3.1")
                .map(str::to_string)
        });
    let res = match ws::handshake(req.head()) {
        Ok(mut builder) => {
            if let (Target::Mqtt, Some(p)) = (&target, &offered) {
                builder.insert_header(("sec-websocket-protocol", p.as_str()));
            }
            builder.finish().drop_body()
        }
        Err(e) => {
            let res = Response::from(&e).drop_body();
            return framed
                .send((res, BodySize::None).into())
                .await
                .map_err(failed);
        }
    };
    framed
        .send((res, BodySize::None).into())
        .await
        .map_err(failed)?;
    let max = match target {
        // One MQTT packet per binary frame, held by the MQTT codec to
        // `nynja.max_packet` of remaining length plus its fixed header (at
        // most 5 bytes), as over TCP; `frame_bytes` is for JSON dialects
        // and cut MQTT packets that TCP accepts.
        Target::Mqtt => dialects
            .nynja
            .config
            .max_packet
            .saturating_add(switchboard_protocols::nynja::mqtt::MAX_FIXED_HEADER),
        // Frames a little over the limit still decode, so the session can
        // answer them with DECODE_ERROR; far bigger ones end the connection
        // (1009).
        _ => world.config.frame_bytes.saturating_mul(2).max(4096),
    };
    // The limit is checked when a frame's header arrives, never after its
    // payload was buffered.
    let framed = framed.replace_codec(LimitedCodec::new(max));
    let peer = req
        .peer_addr()
        .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    // The connection took its place when it opened (`door::count_http`).
    let slot = match req.conn_data::<door::HttpSlot>() {
        Some(counted) => counted.take().ok_or(()),
        None => world.admission.connect(peer.ip()).map_err(|_| {
            world.metrics.connection_refused();
        }),
    };
    let slot = match slot {
        Ok(slot) => slot,
        Err(()) => {
            let dialect = match target {
                Target::Jam => WsDialect::Jam,
                Target::OriginChats(_) => WsDialect::OriginChats,
                Target::Chatnet => WsDialect::Chatnet,
                Target::Mqtt => WsDialect::Mqtt,
            };
            door::refuse_ws(framed, dialect).await;
            return Ok(());
        }
    };
    match (target, shared) {
        (Target::OriginChats(guild), Some(shared)) => {
            let oc = Oc::new(dialects.oc, guild, shared);
            Session::start_ws(world, framed, peer, slot, oc);
        }
        (Target::Chatnet, _) => {
            Session::start_ws(world, framed, peer, slot, Chatnet::new(dialects.chatnet));
        }
        (Target::Mqtt, _) => {
            Session::start_ws(world, framed, peer, slot, Nynja::new(dialects.nynja));
        }
        _ => {
            Session::start_ws(world, framed, peer, slot, Jam::new());
        }
    }
    Ok(())
}
