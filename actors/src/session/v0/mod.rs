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

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use switchboard_protocols::event::Envelope;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::v0::{
    self, frame, Frame, FrameError, Inbound, Outbound, ParseError, Payload, V0Codec,
    CNN_DEADLINE_SECS,
};
use switchboard_protocols::Dialect;
use switchboard_protocols::Id;
use tracing::debug;

use super::shell::{Farewell, Session, TcpTranslate, Translate};
use super::tcp::TcpOut;
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

/// A V0 session's own state.
pub struct V0 {
    config: Arc<V0Config>,
    key: [u8; 32],
    last_heard: Instant,
}

impl V0 {
    pub fn new(config: Arc<V0Config>) -> V0 {
        V0 {
            config,
            key: [0; 32],
            last_heard: Instant::now(),
        }
    }
}

pub type V0Session = Session<V0>;

impl V0Session {
    /// Signs and sends one command.
    fn send(&mut self, c: &mut Context<Self>, cmd: &Outbound) {
        let f = v0::signed(cmd.name(), cmd.fields(), &self.key, now_secs());
        if self.out.send(frame::to_bytes(f)).is_err() {
            self.slow_consumer(c);
        }
    }

    fn err(&mut self, c: &mut Context<Self>, cmd: &str, reason: &str) {
        let e = Outbound::Err {
            cmd: cmd.to_string(),
            reason: reason.to_string(),
        };
        self.send(c, &e);
    }

    fn close(&mut self, c: &mut Context<Self>, why: &str) {
        if !self.out.is_closing() {
            debug!(why, "v0 closing");
        }
        self.out.close();
        c.stop();
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
        self.signed_in(user.clone());
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

impl Translate for V0 {
    const DIALECT: Dialect = Dialect::V0;
    type Out = TcpOut;

    fn login_deadline(_: &World) -> Duration {
        Duration::from_secs(CNN_DEADLINE_SECS)
    }

    fn too_late(s: &mut V0Session, c: &mut Context<V0Session>) {
        s.close(c, "no CNN in time");
    }

    fn started(s: &mut V0Session, c: &mut Context<V0Session>) {
        let idle = Duration::from_secs(s.config.idle_timeout_s);
        c.run_interval(Duration::from_secs(1), move |act, c| {
            if act.last_heard.elapsed() > idle {
                act.close(c, "idle");
            }
        });
    }

    fn stopping(s: &mut V0Session) {
        if let Some(user) = s.user_id() {
            s.world.v0().do_send(V0Offline {
                session: s.id,
                user,
            });
        }
    }

    fn deliver(s: &mut V0Session, c: &mut Context<V0Session>, env: &Arc<Envelope>) {
        let Some(me) = s.user.clone() else {
            return;
        };
        for cmd in events::render(&s.world, &me, &env.event) {
            s.send(c, &cmd);
        }
    }

    fn farewell(s: &mut V0Session, c: &mut Context<V0Session>, why: Farewell) {
        match why {
            Farewell::Shutdown => s.close(c, "server going away"),
            Farewell::Revoked(why) => s.close(c, why.reason()),
        }
    }
}

impl TcpTranslate for V0 {
    type Codec = V0Codec;
    fn codec(&self) -> V0Codec {
        V0Codec {
            max_payload: self.config.max_payload,
        }
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
