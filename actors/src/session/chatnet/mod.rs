//! The chat-network session: one actor per connection, at `/` on the
//! chat-network port or `/chatnet` on the main port.
//!
//! Requests run one at a time, in order (`requests.rs`). A socket hears
//! events only once it has subscribed: relayed frames, direct messages in
//! any dialect, and its friends' status (`events.rs`).

mod events;
mod requests;

pub use events::message_frame;

use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;
use actix_http::ws::{Frame, ProtocolError};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use switchboard_protocols::chatnet::{self, Kind};
use switchboard_protocols::model::{Dialect, User};
use tracing::debug;

use super::ready::go_offline;
use super::ws::{Assembler, Received, WsFramed, WsOut};
use crate::admission::ConnectionSlot;
use crate::audience::{Control, Deliver, SessionHandle, Wake};
use crate::hub::Attach;
use crate::session::{conn_span, start_in_span};
use crate::world::World;

/// Close code for a slow consumer (as every WebSocket dialect here).
const SLOW_CONSUMER: u16 = 4010;

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

pub struct ChatnetSession {
    id: u64,
    span: tracing::Span,
    world: Arc<World>,
    config: Arc<ChatnetConfig>,
    peer: SocketAddr,
    out: WsOut,
    assembler: Assembler,
    /// The user this socket subscribed as; events flow only then.
    subscribed: Option<Arc<User>>,
    /// Digest of the session token it subscribed with: a logout of that
    /// token ends it.
    token: Option<[u8; 32]>,
}

impl ChatnetSession {
    pub fn start(
        world: Arc<World>,
        config: Arc<ChatnetConfig>,
        framed: WsFramed,
        peer: SocketAddr,
        slot: ConnectionSlot,
    ) -> Addr<ChatnetSession> {
        let (sink, stream) = framed.split();
        world.metrics.connection_opened(Dialect::ChatNet);
        let w = world.clone();
        // The address's connection place is freed with the socket.
        let on_closed = move || {
            drop(slot);
            w.metrics.connection_closed(Dialect::ChatNet);
        };
        let id = world.next_session_id();
        let span = conn_span(Dialect::ChatNet, peer, id);
        start_in_span(span.clone(), move |c| {
            c.add_stream(stream);
            ChatnetSession {
                id,
                span,
                out: WsOut::start(sink, world.config.pending_bytes, on_closed),
                assembler: Assembler::new(world.config.frame_bytes),
                world,
                config,
                peer,
                subscribed: None,
                token: None,
            }
        })
    }

    fn send(&mut self, c: &mut Context<Self>, frame: &Map<String, Value>) {
        if self.out.text(chatnet::encode(frame)).is_err() {
            self.slow_consumer(c);
        }
    }

    fn slow_consumer(&mut self, c: &mut Context<Self>) {
        if self.out.is_closing() {
            return;
        }
        self.world.metrics.slow_consumer();
        self.out.close_now(SLOW_CONSUMER, "slow consumer");
        c.stop();
    }

    fn session_handle(&self, c: &mut Context<Self>, user: &User) -> SessionHandle {
        let addr = c.address();
        SessionHandle {
            id: self.id,
            user_id: user.id,
            dialect: Dialect::ChatNet,
            deliver: addr.clone().recipient(),
            control: addr.recipient(),
        }
    }

    fn on_text(&mut self, c: &mut Context<Self>, bytes: &[u8]) {
        self.world.metrics.frame_in(Dialect::ChatNet);
        let decoded = std::str::from_utf8(bytes)
            .map_err(|_| "frames must be UTF-8 text".to_string())
            .and_then(chatnet::decode);
        let user = self.subscribed.as_ref().map(|u| u.id);
        if let Err(e) = self.world.admit(self.peer.ip(), user) {
            return self.send(c, &rate_limited(&e));
        }
        match decoded {
            Ok(req) => self.run(c, req),
            Err(reason) => self.send(c, &chatnet::malformed(&reason)),
        }
    }
}

impl Actor for ChatnetSession {
    type Context = Context<Self>;

    fn started(&mut self, c: &mut Self::Context) {
        c.set_mailbox_capacity(self.world.config.mailbox_capacity);
        self.world.hub().do_send(Attach {
            id: self.id,
            control: c.address().recipient(),
        });
        debug!("chat-network connected");
        // A socket that never subscribes is not kept.
        c.run_later(self.world.config.login_timeout, |act, c| {
            if act.subscribed.is_none() {
                act.out.close(1008, "not subscribed in time");
                c.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.out.close(1000, "");
        let user = self.subscribed.as_ref().map(|u| u.id);
        go_offline(&self.world, self.id, user, &[]);
        debug!("chat-network disconnected");
    }
}

impl StreamHandler<Result<Frame, ProtocolError>> for ChatnetSession {
    fn handle(&mut self, item: Result<Frame, ProtocolError>, c: &mut Self::Context) {
        if self.out.is_closing() {
            return;
        }
        match self.assembler.receive(&self.out, item) {
            Received::Text(b) => self.on_text(c, &b),
            Received::Binary(_) => {
                self.send(c, &chatnet::malformed("frames must be JSON text"));
            }
            Received::Nothing => {}
            Received::TooLarge => {
                let limit = self.world.config.frame_bytes;
                let reason = format!("frames are limited to {limit} bytes");
                self.send(c, &chatnet::malformed(&reason));
            }
            Received::SlowConsumer => self.slow_consumer(c),
            Received::Closed { code, reason } => {
                self.out.close(code, reason);
                c.stop();
            }
        }
    }

    fn finished(&mut self, c: &mut Self::Context) {
        c.stop();
    }
}

impl Handler<Deliver> for ChatnetSession {
    type Result = ();

    fn handle(&mut self, Deliver(env): Deliver, c: &mut Self::Context) {
        let Some(me) = self.subscribed.clone() else {
            return;
        };
        if self.out.is_closing() {
            return;
        }
        if let Some(frame) = events::render(&self.world, &me, &env.event) {
            self.send(c, &frame);
        }
    }
}

impl Handler<Wake> for ChatnetSession {
    type Result = ();
    fn handle(&mut self, _: Wake, _: &mut Self::Context) {}
}

impl Handler<Control> for ChatnetSession {
    type Result = ();

    fn handle(&mut self, msg: Control, c: &mut Self::Context) {
        match msg {
            Control::SlowConsumer => self.slow_consumer(c),
            Control::Shutdown => {
                self.out.close(1001, "server going away");
                c.stop();
            }
            Control::Revoked(why) if why.applies_to(self.token.as_ref()) => {
                self.out.close(1008, why.reason());
                c.stop();
            }
            Control::Revoked(_) => {}
        }
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
