//! The OriginChats session: one actor per connection, at `/` on the
//! OriginChats port or `/originchats[/<guild id>]` on the main port. One
//! endpoint is one guild; channels are addressed by name, users by username.
//!
//! Replies to the requester carry its `listener`; events from the common
//! model are encoded once per event (see [`events`]) and reach every
//! authenticated connection that may see them.

mod attachments;
pub(crate) mod auth;

pub use auth::user_for_validator;
mod channels;
mod commands;
mod events;
mod members;
mod messages;
mod moderation;
mod pings;
mod roles;
mod server;
mod target;
mod threads;
mod unreads;
mod views;
mod voice;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_http::ws::{Frame, ProtocolError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::StreamExt;
use parking_lot::Mutex;
use rand::RngCore;
use serde_json::{json, Map, Value};
use switchboard_protocols::event::Envelope;
use switchboard_protocols::model::{Dialect, User};
use switchboard_protocols::originchats::limiter::{Denied, Limits, Window};
use switchboard_protocols::originchats::{self as oc, frame, perms};
use switchboard_protocols::Id;
use tracing::debug;

use crate::admission::ConnectionSlot;
use crate::audience::{Control, Deliver, Revocation, SessionHandle, Wake};
use crate::guild::GuildShared;
use crate::hub::Attach;
use crate::session::ready::go_offline;
use crate::session::ws::{Assembler, Received, WsFramed, WsOut};
use crate::session::{conn_span, start_in_span};
use crate::world::World;

/// Close code for a connection that stopped reading (as JAM's).
const SLOW_CONSUMER: u16 = 4010;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    Rotur,
    Cracked,
    CrackedOnly,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Rotur => "rotur",
            AuthMode::Cracked => "cracked",
            AuthMode::CrackedOnly => "cracked-only",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OcConfig {
    pub auth_mode: AuthMode,
    pub rotur_validate_url: String,
    pub allow_registration: bool,
    /// `None` when rate limiting is off.
    pub rate_limits: Option<Limits>,
    /// The guild at the OriginChats port's root path; `None` = default.
    pub guild: Option<Id>,
}

/// What every OriginChats session shares: configuration and the rate
/// windows, which are per user, not per connection.
pub struct OcContext {
    pub config: OcConfig,
    windows: Mutex<HashMap<Id, Window>>,
}

impl OcContext {
    pub fn new(config: OcConfig) -> Arc<OcContext> {
        Arc::new(OcContext {
            config,
            windows: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one rate-limited request of `user`.
    pub fn check_rate(&self, user: Id) -> Result<(), Denied> {
        let Some(limits) = self.config.rate_limits else {
            return Ok(());
        };
        let now = switchboard_protocols::time::now_ms() as f64 / 1000.0;
        self.windows
            .lock()
            .entry(user)
            .or_default()
            .check(&limits, now)
    }

    /// Requests counted in the last minute and the last 10 s, and the
    /// cooldown left, for `rate_limit_status`.
    pub fn rate_status(&self, user: Id) -> (usize, usize, f64) {
        let Some(limits) = self.config.rate_limits else {
            return (0, 0, 0.0);
        };
        let now = switchboard_protocols::time::now_ms() as f64 / 1000.0;
        self.windows
            .lock()
            .get(&user)
            .map_or((0, 0, 0.0), |w| w.status(&limits, now))
    }

    /// `rate_limit_reset`: the window and cooldown, not a timeout.
    pub fn rate_reset(&self, user: Id) {
        if let Some(w) = self.windows.lock().get_mut(&user) {
            w.reset();
        }
    }

    /// The guild a path serves: `/` → the configured or default guild;
    /// `/originchats` → the default guild; `/originchats/<id>` → that one.
    pub fn guild_for_path(&self, world: &World, path: &str) -> Option<Id> {
        let rest = path.trim_end_matches('/');
        match rest.strip_prefix("/originchats") {
            Some("") => world.default_guild(),
            Some(id) => id.strip_prefix('/').and_then(|i| i.parse().ok()).map(Id),
            None if rest.is_empty() => self.config.guild.or_else(|| world.default_guild()),
            None => None,
        }
    }
}

pub struct OcSession {
    id: u64,
    span: tracing::Span,
    world: Arc<World>,
    ctx: Arc<OcContext>,
    guild_id: Id,
    shared: Arc<GuildShared>,
    peer: SocketAddr,
    out: WsOut,
    assembler: Assembler,
    validator_key: String,
    user: Option<Arc<User>>,
    /// Digest of the token it signed in with: a logout of that token ends it.
    token: Option<[u8; 32]>,
    guilds: Vec<Id>,
    authenticating: bool,
    last_env: Option<Arc<Envelope>>,
    /// Requests waiting behind the one running (see `commands.rs`).
    queue: std::collections::VecDeque<switchboard_protocols::originchats::Inbound>,
    busy: bool,
}

impl OcSession {
    pub fn start(
        world: Arc<World>,
        ctx: Arc<OcContext>,
        guild_id: Id,
        shared: Arc<GuildShared>,
        framed: WsFramed,
        peer: SocketAddr,
        slot: ConnectionSlot,
    ) -> Addr<OcSession> {
        let (sink, stream) = framed.split();
        world.metrics.connection_opened(Dialect::OriginChats);
        let w = world.clone();
        // The address's connection place is freed with the socket.
        let on_closed = move || {
            drop(slot);
            w.metrics.connection_closed(Dialect::OriginChats);
        };
        let mut raw = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut raw);
        let id = world.next_session_id();
        let span = conn_span(Dialect::OriginChats, peer, id);
        start_in_span(span.clone(), move |c| {
            c.add_stream(stream);
            OcSession {
                id,
                span,
                out: WsOut::start(sink, world.config.pending_bytes, on_closed),
                assembler: Assembler::new(world.config.frame_bytes),
                world,
                ctx,
                guild_id,
                shared,
                peer,
                validator_key: format!("originChats-{}", URL_SAFE_NO_PAD.encode(raw)),
                user: None,
                token: None,
                guilds: Vec::new(),
                authenticating: false,
                queue: std::collections::VecDeque::new(),
                busy: false,
                last_env: None,
            }
        })
    }

    fn send(&mut self, c: &mut Context<Self>, reply: &Map<String, Value>, listener: Option<&str>) {
        let text = frame::finish(&frame::prefix(reply), listener);
        if self.out.text(text).is_err() {
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

    fn handshake(&self) -> Map<String, Value> {
        let guild = self.world.store.guild(self.guild_id).ok().flatten();
        let owner = guild
            .as_ref()
            .and_then(|g| self.world.user(g.owner_id).ok())
            .map(|u| u.username.clone())
            .unwrap_or_default();
        let name = guild
            .map(|g| g.name)
            .unwrap_or_else(|| self.world.config.server_name.clone());
        let permissions: Vec<&str> = perms::ROLE_PERMISSIONS.iter().map(|(n, _)| *n).collect();
        frame::reply(
            "handshake",
            [(
                "val",
                json!({
                    "server": {"name": name, "owner": {"name": owner}, "icon": null, "banner": null, "url": ""},
                    "limits": {"post_content": self.world.config.message_length, "search_results": oc::SEARCH_RESULTS},
                    "attachments": {
                        "enabled": true,
                        "max_size": self.world.config.upload_bytes,
                        "allowed_types": ["*/*"],
                        "max_attachments_per_user": -1,
                        "permanent_tiers": [],
                    },
                    "version": oc::VERSION,
                    "validator_key": self.validator_key,
                    "capabilities": &commands::CAPABILITIES[..],
                    "permissions": permissions,
                    "auth_mode": self.ctx.config.auth_mode.as_str(),
                }),
            )],
        )
    }

    fn session_handle(&self, c: &mut Context<Self>, user: Id) -> SessionHandle {
        let addr = c.address();
        SessionHandle {
            id: self.id,
            user_id: user,
            dialect: Dialect::OriginChats,
            deliver: addr.clone().recipient(),
            control: addr.recipient(),
        }
    }

    fn on_text(&mut self, c: &mut Context<Self>, bytes: &[u8]) {
        self.world.metrics.frame_in(Dialect::OriginChats);
        let decoded = std::str::from_utf8(bytes)
            .map_err(|_| "Invalid message: not UTF-8".to_string())
            .and_then(|t| frame::decode(t).map_err(|e| e.message()));
        let inbound = match decoded {
            Ok(i) => i,
            Err(val) => return self.send(c, &frame::error(None, &val), None),
        };
        if inbound.cmd.as_deref() != Some("ping") {
            let user = self.user.as_ref().map(|u| u.id);
            if let Err(e) = self.world.admit(self.peer.ip(), user) {
                let reply = rate_limit_reply(&e);
                return self.send(c, &reply, inbound.listener.as_deref());
            }
        }
        if self.user.is_none() {
            return self.before_auth(c, inbound);
        }
        self.dispatch(c, inbound);
    }
}

impl Actor for OcSession {
    type Context = Context<Self>;

    fn started(&mut self, c: &mut Self::Context) {
        c.set_mailbox_capacity(self.world.config.mailbox_capacity);
        self.world.hub().do_send(Attach {
            id: self.id,
            control: c.address().recipient(),
        });
        debug!(guild = %self.guild_id, "originchats connected");
        let hs = self.handshake();
        self.send(c, &hs, None);
        // A socket that never signs in is not kept: the reference's kick,
        // then 1008.
        c.run_later(self.world.config.login_timeout, |act, c| {
            if act.user.is_none() {
                let bye = frame::reply("disconnect", [("reason", json!(LOGIN_TIMEOUT))]);
                act.send(c, &bye, None);
                act.out.close(1008, LOGIN_TIMEOUT);
                c.stop();
            }
        });
        c.run_interval(Duration::from_secs(oc::PING_INTERVAL_SECS), |act, c| {
            act.send(c, &frame::reply("ping", []), None);
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.out.close(1000, "");
        let user = self.user.as_ref().map(|u| u.id);
        go_offline(&self.world, self.id, user, &self.guilds);
        debug!("originchats disconnected");
    }
}

impl StreamHandler<Result<Frame, ProtocolError>> for OcSession {
    fn handle(&mut self, item: Result<Frame, ProtocolError>, c: &mut Self::Context) {
        if self.out.is_closing() {
            return;
        }
        match self.assembler.receive(&self.out, item) {
            Received::Text(b) => self.on_text(c, &b),
            // The reference ignores binary frames.
            Received::Binary(_) | Received::Nothing => {}
            Received::TooLarge => {
                let limit = self.world.config.frame_bytes;
                let e = frame::error(
                    None,
                    &format!("Message too large: frames are limited to {limit} bytes"),
                );
                self.send(c, &e, None);
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

impl Handler<Deliver> for OcSession {
    type Result = ();

    fn handle(&mut self, Deliver(env): Deliver, c: &mut Self::Context) {
        if self.out.is_closing() || self.user.is_none() {
            return;
        }
        if self.last_env.as_ref().is_some_and(|l| Arc::ptr_eq(l, &env)) {
            return;
        }
        let frames = self.encode_event(&env);
        // Side broadcasts (`roles_list`, `server_update` after a change)
        // never carry the requester's listener; global replies do.
        let side = matches!(
            env.event,
            switchboard_protocols::event::Event::GuildUpdate(_)
                | switchboard_protocols::event::Event::GuildRoles(_)
                | switchboard_protocols::event::Event::MemberNick { .. }
        );
        let listener = env
            .origin
            .as_ref()
            .filter(|o| o.session == self.id && !side)
            .and_then(|o| o.reference.clone());
        for prefix in frames {
            let text = frame::finish(&prefix, listener.as_deref());
            if self.out.text(text).is_err() {
                self.slow_consumer(c);
                return;
            }
        }
        self.last_env = Some(env);
    }
}

impl Handler<Wake> for OcSession {
    type Result = ();
    fn handle(&mut self, _: Wake, _: &mut Self::Context) {}
}

impl Handler<Control> for OcSession {
    type Result = ();

    fn handle(&mut self, msg: Control, c: &mut Self::Context) {
        match msg {
            Control::SlowConsumer => self.slow_consumer(c),
            Control::Shutdown => {
                let bye = frame::reply("disconnect", [("reason", json!("Server shutting down"))]);
                self.send(c, &bye, None);
                self.out.close(1001, "server going away");
                c.stop();
            }
            Control::Revoked(why) if !why.applies_to(self.token.as_ref()) => {}
            // The reference's server-initiated kick, with its ban wording.
            Control::Revoked(why) => {
                let reason = match why {
                    Revocation::Banned => oc::strings::BANNED,
                    _ => why.reason(),
                };
                let bye = frame::reply("disconnect", [("reason", json!(reason))]);
                self.send(c, &bye, None);
                self.out.close(1008, why.reason());
                c.stop();
            }
        }
    }
}

/// The server-wide request rate (`limits.*_requests_per_second`) spent:
/// the reference's `rate_limit` reply with its "Rate limit exceeded"
/// wording.
/// Why a socket that did not sign in in time is closed.
const LOGIN_TIMEOUT: &str = "Authentication timed out";

pub(super) fn rate_limit_reply(
    e: &switchboard_protocols::GatewayError,
) -> serde_json::Map<String, Value> {
    let ms = match e.kind {
        switchboard_protocols::ErrorKind::RateLimited { retry_after_ms } => retry_after_ms,
        _ => 1000,
    };
    let secs = ms as f64 / 1000.0;
    frame::reply(
        "rate_limit",
        [
            (
                "reason",
                json!(format!("Rate limit exceeded. Wait {secs:.1} seconds")),
            ),
            ("length", json!(ms)),
        ],
    )
}
