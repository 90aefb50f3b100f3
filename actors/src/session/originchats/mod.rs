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
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use parking_lot::Mutex;
use rand::RngCore;
use serde_json::{json, Map, Value};
use switchboard_protocols::event::{Envelope, Event};
use switchboard_protocols::originchats::limiter::{Denied, Limits, Window};
use switchboard_protocols::originchats::{self as oc, frame, perms};
use switchboard_protocols::Dialect;
use switchboard_protocols::Id;
use tracing::debug;

use crate::audience::Revocation;
use crate::guild::GuildShared;
use crate::session::shell::{Farewell, Session, Translate, WsTranslate};
use crate::session::ws::WsOut;
use crate::world::World;

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

/// An OriginChats session's own state.
pub struct Oc {
    ctx: Arc<OcContext>,
    guild_id: Id,
    shared: Arc<GuildShared>,
    validator_key: String,
    authenticating: bool,
    /// Requests waiting behind the one running (see `commands.rs`).
    queue: std::collections::VecDeque<switchboard_protocols::originchats::Inbound>,
    busy: bool,
}

impl Oc {
    /// A session of the guild `guild_id` (the one at the path dialled).
    pub fn new(ctx: Arc<OcContext>, guild_id: Id, shared: Arc<GuildShared>) -> Oc {
        let mut raw = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut raw);
        Oc {
            ctx,
            guild_id,
            shared,
            validator_key: format!("originChats-{}", URL_SAFE_NO_PAD.encode(raw)),
            authenticating: false,
            queue: std::collections::VecDeque::new(),
            busy: false,
        }
    }
}

pub type OcSession = Session<Oc>;

impl OcSession {
    fn send(&mut self, c: &mut Context<Self>, reply: &Map<String, Value>, listener: Option<&str>) {
        let text = frame::finish(&frame::prefix(reply), listener);
        if self.out.text(text).is_err() {
            self.slow_consumer(c);
        }
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
                    "capabilities": commands::advertised_capabilities(),
                    "permissions": permissions,
                    "auth_mode": self.ctx.config.auth_mode.as_str(),
                }),
            )],
        )
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
            if let Err(e) = self.world.admit(self.peer.ip(), self.user_id()) {
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

impl Translate for Oc {
    const DIALECT: Dialect = Dialect::OriginChats;
    const SKIP_REPEATS: bool = true;
    type Out = WsOut;

    /// The reference's kick, then 1008.
    fn too_late(s: &mut OcSession, c: &mut Context<OcSession>) {
        s.disconnect(c, LOGIN_TIMEOUT, 1008, LOGIN_TIMEOUT);
    }

    fn started(s: &mut OcSession, c: &mut Context<OcSession>) {
        debug!(guild = %s.guild_id, "originchats guild");
        let hs = s.handshake();
        s.send(c, &hs, None);
        c.run_interval(Duration::from_secs(oc::PING_INTERVAL_SECS), |act, c| {
            act.send(c, &frame::reply("ping", []), None);
        });
    }

    fn deliver(s: &mut OcSession, c: &mut Context<OcSession>, env: &Arc<Envelope>) {
        let frames = s.encode_event(env);
        // Side broadcasts (`roles_list`, `server_update` after a change)
        // never carry the requester's listener; global replies do.
        let side = matches!(
            env.event,
            Event::GuildUpdate(_) | Event::GuildRoles(_) | Event::MemberNick { .. }
        );
        let listener = env
            .origin
            .as_ref()
            .filter(|o| o.session == s.id && !side)
            .and_then(|o| o.reference.as_deref());
        for prefix in frames {
            let text = frame::finish(&prefix, listener);
            if s.out.text(text).is_err() {
                return s.slow_consumer(c);
            }
        }
    }

    /// The reference's server-initiated kick (with its ban wording), then
    /// the close.
    fn farewell(s: &mut OcSession, c: &mut Context<OcSession>, why: Farewell) {
        let said = match why {
            Farewell::Shutdown => "Server shutting down",
            Farewell::Revoked(Revocation::Banned) => oc::strings::BANNED,
            Farewell::Revoked(why) => why.reason(),
        };
        let (code, reason) = why.ws_close(1008);
        s.disconnect(c, said, code, reason);
    }
}

impl WsTranslate for Oc {
    fn text(s: &mut OcSession, c: &mut Context<OcSession>, text: Bytes) {
        s.on_text(c, &text);
    }

    /// The reference ignores binary frames.
    fn binary(_: &mut OcSession, _: &mut Context<OcSession>, _: Bytes) {}

    fn too_large(s: &mut OcSession, c: &mut Context<OcSession>) {
        let limit = s.world.config.frame_bytes;
        let e = frame::error(
            None,
            &format!("Message too large: frames are limited to {limit} bytes"),
        );
        s.send(c, &e, None);
    }
}

impl OcSession {
    /// A `disconnect` saying `said`, then the close.
    fn disconnect(&mut self, c: &mut Context<Self>, said: &str, code: u16, reason: &str) {
        let bye = frame::reply("disconnect", [("reason", json!(said))]);
        self.send(c, &bye, None);
        self.close_ws(c, code, reason);
    }
}

/// Why a socket that did not sign in in time is closed.
const LOGIN_TIMEOUT: &str = "Authentication timed out";

/// The server-wide request rate (`limits.*_requests_per_second`) spent:
/// the reference's `rate_limit` reply with its "Rate limit exceeded"
/// wording.
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
