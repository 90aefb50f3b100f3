//! The V0 session: one actor per TCP connection on the V0 port.
//!
//! Every frame is checked before anything else: its signature with the
//! account's secret (CNN names the account), its timestamp and nonce
//! against replay. A frame that fails, a framing error, or no CNN within
//! 5 s closes the connection; a command that is merely wrong gets `ERR`.
//! Commands run one at a time, in order (`commands.rs`); events from the
//! common model become V0 commands in `events.rs`. Everything sent is
//! signed with the recipient's secret.

mod commands;
mod events;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use switchboard_protocols::model::{Dialect, User};
use switchboard_protocols::time::now_ms;
use switchboard_protocols::v0::{
    self, frame, Frame, FrameError, Inbound, Outbound, ParseError, Payload, V0Codec,
    CNN_DEADLINE_SECS,
};
use switchboard_protocols::Id;
use tokio_util::codec::FramedRead;
use tracing::debug;

use super::ready::go_offline;
use super::tcp::TcpOut;
use crate::admission::ConnectionSlot;
use crate::audience::{Control, Deliver, SessionHandle, Wake};
use crate::hub::Attach;
use crate::session::{conn_span, record_user, start_in_span};
use crate::v0::{keys, V0Offline};
use crate::world::World;

/// Operator settings of the dialect.
#[derive(Debug, Clone)]
pub struct V0Config {
    pub max_payload: usize,
    /// SINFO's `timeout_s`: a connection silent this long is closed.
    pub idle_timeout_s: u64,
}

impl Default for V0Config {
    fn default() -> Self {
        V0Config {
            max_payload: v0::DEFAULT_MAX_PAYLOAD,
            idle_timeout_s: v0::IDLE_TIMEOUT_SECS,
        }
    }
}

fn now_secs() -> i64 {
    now_ms() / 1000
}

pub struct V0Session {
    id: u64,
    span: tracing::Span,
    world: Arc<World>,
    config: Arc<V0Config>,
    peer: SocketAddr,
    out: TcpOut,
    user: Option<Arc<User>>,
    key: [u8; 32],
    guilds: Vec<Id>,
    last_heard: Instant,
}

impl V0Session {
    pub fn start(
        world: Arc<World>,
        config: Arc<V0Config>,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        slot: ConnectionSlot,
    ) -> Addr<V0Session> {
        let (read, write) = stream.into_split();
        world.metrics.connection_opened(Dialect::V0);
        let w = world.clone();
        // The address's connection place is freed with the socket.
        let on_closed = move || {
            drop(slot);
            w.metrics.connection_closed(Dialect::V0);
        };
        let codec = V0Codec {
            max_payload: config.max_payload,
        };
        let id = world.next_session_id();
        let span = conn_span(Dialect::V0, peer, id);
        start_in_span(span.clone(), move |c| {
            c.add_stream(FramedRead::new(read, codec));
            V0Session {
                id,
                span,
                out: TcpOut::start(write, world.config.pending_bytes, on_closed),
                world,
                config,
                peer,
                user: None,
                key: [0; 32],
                guilds: Vec::new(),
                last_heard: Instant::now(),
            }
        })
    }

    /// Signs and sends one command.
    fn send(&mut self, c: &mut Context<Self>, cmd: &Outbound) {
        let f = v0::signed(cmd.name(), cmd.fields(), &self.key, now_secs());
        if self.out.send(frame::to_bytes(f)).is_err() {
            self.slow_consumer(c, "output over pending_bytes");
        }
    }

    fn err(&mut self, c: &mut Context<Self>, cmd: &str, reason: &str) {
        let e = Outbound::Err {
            cmd: cmd.to_string(),
            reason: reason.to_string(),
        };
        self.send(c, &e);
    }

    /// The peer stopped reading: the connection ends without waiting
    /// behind what is queued for it.
    fn slow_consumer(&mut self, c: &mut Context<Self>, why: &str) {
        if !self.out.is_closing() {
            self.world.metrics.slow_consumer();
            debug!(why, "v0 closing: slow consumer");
        }
        self.out.close_now();
        c.stop();
    }

    fn close(&mut self, c: &mut Context<Self>, why: &str) {
        if !self.out.is_closing() {
            debug!(why, "v0 closing");
        }
        self.out.close();
        c.stop();
    }

    fn handle_of(&self, c: &mut Context<Self>, user: Id) -> SessionHandle {
        let addr = c.address();
        SessionHandle {
            id: self.id,
            user_id: user,
            dialect: Dialect::V0,
            deliver: addr.clone().recipient(),
            control: addr.recipient(),
        }
    }

    /// The payload of a frame whose signature and freshness hold, or why
    /// the connection must close.
    fn checked(&self, f: &Frame, user: Id, key: &[u8]) -> Result<Payload, &'static str> {
        if !v0::verify(key, &f.payload, &f.sig) {
            return Err("bad signature");
        }
        let p = Payload::decode(&f.payload).map_err(|_| "payload is not a msgpack map")?;
        let (Some(ts), Some(nonce)) = (p.timestamp(), p.nonce()) else {
            return Err("payload without timestamp and nonce");
        };
        self.world
            .v0_replay
            .check(user, ts, nonce, now_secs())
            .map_err(|_| "stale or replayed payload")?;
        Ok(p)
    }

    /// The first frame: a valid CNN, or the end.
    fn on_cnn(&mut self, c: &mut Context<Self>, f: Frame) {
        if f.name != "CNN" {
            return self.close(c, "the first command must be CNN");
        }
        let named = Payload::decode(&f.payload)
            .ok()
            .and_then(|p| match Inbound::parse("CNN", &p) {
                Ok(Inbound::Cnn { id }) => Some(id),
                _ => None,
            })
            .and_then(|name| self.world.store.user_by_name(&name).ok().flatten());
        let Some(user) = named else {
            return self.close(c, "CNN names no account");
        };
        if self.world.store.is_account_banned(user.id).unwrap_or(true) {
            return self.close(c, "the account is banned");
        }
        let key = self
            .world
            .sealer()
            .ok()
            .and_then(|s| keys::load(s, user.id).ok().flatten());
        let Some(key) = key else {
            return self.close(c, "the account has no V0 key");
        };
        if let Err(why) = self.checked(&f, user.id, &key) {
            return self.close(c, why);
        }
        let Ok(user) = self.world.user(user.id) else {
            return self.close(c, "unknown account");
        };
        self.key = key;
        record_user(&self.span, user.id);
        self.user = Some(user.clone());
        self.admit(c, user);
    }

    fn on_frame(&mut self, c: &mut Context<Self>, f: Frame) {
        self.last_heard = Instant::now();
        let Some(user) = self.user.clone() else {
            // Nothing can be answered before CNN: over the rate, close.
            if self.world.admit(self.peer.ip(), None).is_err() {
                return self.close(c, "rate limited");
            }
            return self.on_cnn(c, f);
        };
        let key = self.key;
        let p = match self.checked(&f, user.id, &key) {
            Ok(p) => p,
            Err(why) => return self.close(c, why),
        };
        match Inbound::parse(&f.name, &p) {
            Ok(cmd) => self.run(c, user, cmd),
            Err(ParseError::Unknown) => self.err(c, &f.name, "unknown command"),
            Err(ParseError::Missing(field)) => {
                self.err(c, &f.name, &format!("missing or invalid field `{field}`"))
            }
        }
    }
}

impl Actor for V0Session {
    type Context = Context<Self>;

    fn started(&mut self, c: &mut Self::Context) {
        c.set_mailbox_capacity(self.world.config.mailbox_capacity);
        self.world.hub().do_send(Attach {
            id: self.id,
            control: c.address().recipient(),
        });
        debug!("v0 connected");
        c.run_later(Duration::from_secs(CNN_DEADLINE_SECS), |act, c| {
            if act.user.is_none() {
                act.close(c, "no CNN in time");
            }
        });
        let idle = Duration::from_secs(self.config.idle_timeout_s);
        c.run_interval(Duration::from_secs(1), move |act, c| {
            if act.last_heard.elapsed() > idle {
                act.close(c, "idle");
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.out.close();
        let user = self.user.as_ref().map(|u| u.id);
        go_offline(&self.world, self.id, user, &self.guilds);
        if let Some(user) = user {
            self.world.v0().do_send(V0Offline {
                session: self.id,
                user,
            });
        }
        debug!("v0 disconnected");
    }
}

impl StreamHandler<Result<Frame, FrameError>> for V0Session {
    fn handle(&mut self, item: Result<Frame, FrameError>, c: &mut Self::Context) {
        if self.out.is_closing() {
            return;
        }
        self.world.metrics.frame_in(Dialect::V0);
        match item {
            Ok(f) => self.on_frame(c, f),
            Err(e) => self.close(c, &e.to_string()),
        }
    }

    fn finished(&mut self, c: &mut Self::Context) {
        c.stop();
    }
}

impl Handler<Deliver> for V0Session {
    type Result = ();

    fn handle(&mut self, Deliver(env): Deliver, c: &mut Self::Context) {
        let Some(me) = self.user.clone() else {
            return;
        };
        if self.out.is_closing() {
            return;
        }
        for cmd in events::render(&self.world, &me, &env.event) {
            self.send(c, &cmd);
        }
    }
}

impl Handler<Wake> for V0Session {
    type Result = ();
    fn handle(&mut self, _: Wake, _: &mut Self::Context) {}
}

impl Handler<Control> for V0Session {
    type Result = ();

    fn handle(&mut self, msg: Control, c: &mut Self::Context) {
        match msg {
            Control::SlowConsumer => self.slow_consumer(c, "mailbox full"),
            Control::Shutdown => self.close(c, "server going away"),
            Control::Revoked(why) if why.applies_to(None) => self.close(c, why.reason()),
            Control::Revoked(_) => {}
        }
    }
}
