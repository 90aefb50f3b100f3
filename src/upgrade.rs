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
use switchboard_actors::session::jam::JamSession;
use switchboard_actors::World;

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
    req: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), UpgradeError> {
    let path = req.path().to_string();
    if path != "/ws" {
        let res = Response::not_found().drop_body();
        return framed
            .send((res, BodySize::None).into())
            .await
            .map_err(failed);
    }
    let res = match ws::handshake(req.head()) {
        Ok(mut builder) => builder.finish().drop_body(),
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
    // Frames a little over the limit still decode, so the session can answer
    // them with DECODE_ERROR; far bigger ones end the connection (1009).
    let max = world.config.frame_bytes.saturating_mul(2).max(4096);
    let framed = framed.replace_codec(ws::Codec::new().max_size(max));
    let peer = req
        .peer_addr()
        .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    JamSession::start(world, framed, peer);
    Ok(())
}
