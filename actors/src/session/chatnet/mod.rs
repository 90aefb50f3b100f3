//! The chat-network session: one actor per connection, at `/` on the
//! chat-network port or `/chatnet` on the main port.
//!
//! Requests run one at a time, in order (`requests.rs`). A socket hears
//! events only once it has subscribed: relayed frames, direct messages in
//! any dialect, and its friends' status (`events.rs`).

mod events;
mod requests;

pub use events::message_frame;

use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;
use serde_json::{Map, Value};
use switchboard_protocols::chatnet::{self, Kind};
use switchboard_protocols::event::Envelope;
use switchboard_protocols::Dialect;

use super::shell::{Farewell, Session, Translate, WsTranslate};
use super::ws::WsOut;

/// Operator settings of the dialect.
#[derive(Debug, Clone)]
pub struct ChatnetConfig {
    /// The `type` of a successful or failed `signin` reply: `signin` as
    /// documented, or `signup` as the original server (and its GTK client).
    pub signin_reply_type: Kind,
}

impl Default for ChatnetConfig {
    fn default() -> Self {
        ChatnetConfig {
            signin_reply_type: Kind::Signin,
        }
    }
}

/// A chat-network session's own state. The user it subscribed as is the
/// shell's: events flow only then.
pub struct Chatnet {
    config: Arc<ChatnetConfig>,
}

impl Chatnet {
    pub fn new(config: Arc<ChatnetConfig>) -> Chatnet {
        Chatnet { config }
    }
}

pub type ChatnetSession = Session<Chatnet>;

impl ChatnetSession {
    fn send(&mut self, c: &mut Context<Self>, frame: &Map<String, Value>) {
        if self.out.text(chatnet::encode(frame)).is_err() {
            self.slow_consumer(c);
        }
    }

    fn on_text(&mut self, c: &mut Context<Self>, bytes: &[u8]) {
        self.world.metrics.frame_in(Dialect::ChatNet);
        let decoded = std::str::from_utf8(bytes)
            .map_err(|_| "frames must be UTF-8 text".to_string())
            .and_then(chatnet::decode);
        if let Err(e) = self.world.admit(self.peer.ip(), self.user_id()) {
            return self.send(c, &rate_limited(&e));
        }
        match decoded {
            Ok(req) => self.run(c, req),
            Err(reason) => self.send(c, &chatnet::malformed(&reason)),
        }
    }
}

impl Translate for Chatnet {
    const DIALECT: Dialect = Dialect::ChatNet;
    type Out = WsOut;

    /// A socket that never subscribes is not kept.
    fn too_late(s: &mut ChatnetSession, c: &mut Context<ChatnetSession>) {
        s.close_ws(c, 1008, "not subscribed in time");
    }

    fn deliver(s: &mut ChatnetSession, c: &mut Context<ChatnetSession>, env: &Arc<Envelope>) {
        let Some(me) = s.user.as_deref() else {
            return;
        };
        if let Some(frame) = events::render(&s.world, me, &env.event) {
            s.send(c, &frame);
        }
    }

    fn farewell(s: &mut ChatnetSession, c: &mut Context<ChatnetSession>, why: Farewell) {
        let (code, reason) = why.ws_close(1008);
        s.close_ws(c, code, reason);
    }
}

impl WsTranslate for Chatnet {
    fn text(s: &mut ChatnetSession, c: &mut Context<ChatnetSession>, text: Bytes) {
        s.on_text(c, &text);
    }

    fn binary(s: &mut ChatnetSession, c: &mut Context<ChatnetSession>, _: Bytes) {
        s.send(c, &chatnet::malformed("frames must be JSON text"));
    }

    fn too_large(s: &mut ChatnetSession, c: &mut Context<ChatnetSession>) {
        let limit = s.world.config.frame_bytes;
        let reason = format!("frames are limited to {limit} bytes");
        s.send(c, &chatnet::malformed(&reason));
    }
}

/// The request rate spent (`limits.*_requests_per_second`): the dialect's
/// one error shape, code 8 with a reason, plus the wait in milliseconds.
pub(super) fn rate_limited(e: &switchboard_protocols::GatewayError) -> Map<String, Value> {
    let ms = match e.kind {
        switchboard_protocols::ErrorKind::RateLimited { retry_after_ms } => retry_after_ms,
        _ => 1000,
    };
    let secs = ms as f64 / 1000.0;
    let mut m = chatnet::malformed(&format!("Rate limit exceeded. Wait {secs:.1} seconds"));
    m.insert("retry_after_ms".into(), Value::from(ms));
    m
}
