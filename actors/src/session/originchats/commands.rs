//! Authenticated requests (reference §10): each is parsed here, run as
//! common commands through the world, and answered in the reference's
//! shapes and words. Broadcasts come back as events (see `events.rs`);
//! what a command returns here goes to the requester only, with its
//! `listener`.

use std::sync::Arc;

use actix::prelude::*;
use serde_json::{json, Map, Value};
use switchboard_protocols::command::{Command, HistoryQuery};
use switchboard_protocols::event::FullMessage;
use switchboard_protocols::model::{Channel, ChannelKind, User, VoiceState};
use switchboard_protocols::originchats::strings as s;
use switchboard_protocols::originchats::{frame, objects, Inbound};
use switchboard_protocols::permissions::VIEW_CHANNEL;
use switchboard_protocols::{GatewayError, Id};

use super::target::Miss;
use super::views::{self, find_channel};
use super::{
    attachments, channels, events, members, messages, moderation, pings, roles, server, threads,
    unreads, voice, OcContext, OcSession,
};
use crate::guild::GuildShared;
use crate::voice::VoiceStates;
use crate::world::{Caller, Reply, World};

/// The commands this server implements, sorted: the handshake's
/// `capabilities`.
pub const CAPABILITIES: [&str; 68] = [
    "attachment_delete",
    "attachment_get",
    "auth",
    "channel_create",
    "channel_delete",
    "channel_move",
    "channel_update",
    "channels_get",
    "login",
    "message_delete",
    "message_edit",
    "message_get",
    "message_new",
    "message_pin",
    "message_react_add",
    "message_react_remove",
    "message_replies",
    "message_unpin",
    "messages_around",
    "messages_get",
    "messages_pinned",
    "messages_search",
    "pfp_get",
    "pfp_set",
    "ping",
    "pings_get",
    "rate_limit_reset",
    "rate_limit_status",
    "register",
    "role_create",
    "role_delete",
    "role_permissions_get",
    "role_permissions_set",
    "role_reorder",
    "role_update",
    "roles_list",
    "self_role_add",
    "self_role_remove",
    "self_roles_list",
    "server_info",
    "server_update",
    "status_get",
    "status_set",
    "thread_create",
    "thread_delete",
    "thread_get",
    "thread_join",
    "thread_leave",
    "thread_messages",
    "thread_update",
    "typing",
    "unreads_ack",
    "unreads_count",
    "unreads_get",
    "user_ban",
    "user_roles_get",
    "user_roles_set",
    "user_timeout",
    "user_unban",
    "user_update",
    "users_banned_list",
    "users_list",
    "users_online",
    "voice_join",
    "voice_leave",
    "voice_mute",
    "voice_state",
    "voice_unmute",
];

/// Reference commands not built yet: answered with an error naming them,
/// never silence (see docs/originchats.md).
const NOT_YET: [&str; 26] = [
    "embeds_list",
    "emoji_add",
    "emoji_delete",
    "emoji_get_all",
    "emoji_get_filename",
    "emoji_get_id",
    "emoji_update",
    "modlog_get",
    "modlog_summary",
    "poll_create",
    "poll_end",
    "poll_get",
    "poll_results",
    "poll_vote",
    "role_set",
    "slash_call",
    "slash_list",
    "slash_register",
    "slash_response",
    "user_leave",
    "webhook_create",
    "webhook_delete",
    "webhook_get",
    "webhook_list",
    "webhook_regenerate",
    "webhook_update",
];

/// Capabilities served over HTTP, not as WebSocket commands: the official
/// client uploads through `POST /attachments/upload` only when the handshake
/// lists `attachment_upload` (over the socket it is an unknown command, as
/// in the reference).
const HTTP_CAPABILITIES: [&str; 1] = ["attachment_upload"];

/// What the handshake's `capabilities` lists: every command this server
/// answers, and the HTTP capabilities, sorted.
pub fn advertised_capabilities() -> &'static [&'static str] {
    static LIST: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        let mut all: Vec<&'static str> = CAPABILITIES
            .iter()
            .chain(HTTP_CAPABILITIES.iter())
            .copied()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    })
}

/// Reference commands this server does not offer at all (they need the
/// internet or a plugin host): answered `Unknown command: <cmd>`, the
/// wording the official client recognises and handles quietly.
const OUT_OF_SCOPE: [&str; 5] = [
    "plugins_list",
    "plugins_reload",
    "push_get_vapid",
    "push_subscribe",
    "push_unsubscribe",
];

pub(super) type Frames = Vec<Map<String, Value>>;

/// One request in flight, with what it needs from the session.
#[derive(Clone)]
pub(super) struct Op {
    pub(super) world: Arc<World>,
    pub(super) ctx: Arc<OcContext>,
    pub(super) guild: Id,
    pub(super) shared: Arc<GuildShared>,
    pub(super) user: Arc<User>,
    pub(super) session: u64,
    pub(super) listener: Option<String>,
    pub(super) cmd: String,
    pub(super) body: Map<String, Value>,
}

pub(super) fn id_of(v: &Value) -> Option<Id> {
    match v {
        Value::String(s) => s.parse().ok().map(Id),
        Value::Number(n) => n.as_u64().map(Id),
        _ => None,
    }
}

impl Op {
    pub(super) fn err(&self, val: &str) -> Frames {
        vec![frame::error(Some(&self.cmd), val)]
    }

    pub(super) fn reply(&self, fields: impl IntoIterator<Item = (&'static str, Value)>) -> Frames {
        vec![frame::reply(&self.cmd, fields)]
    }

    pub(super) fn text(&self, key: &str) -> Option<String> {
        self.body
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    pub(super) fn id(&self, key: &str) -> Option<Id> {
        self.body.get(key).and_then(id_of)
    }

    pub(super) fn caller(&self) -> Caller {
        Caller {
            user: self.user.clone(),
            session: Some(self.session),
            reference: self.listener.clone(),
        }
    }

    pub(super) async fn exec(&self, command: Command) -> Result<Reply, GatewayError> {
        self.world.execute(self.caller(), command).await
    }

    /// A viewable text channel named by `channel`, or the reference's
    /// errors (the access errors carry no `src`, as in the reference).
    pub(super) fn text_channel(&self) -> Result<Channel, Miss> {
        let Some(name) = self.text("channel").filter(|n| !n.is_empty()) else {
            return Err(Miss::Refused(vec![frame::error(
                None,
                s::CHANNEL_NAME_NOT_PROVIDED,
            )]));
        };
        let Some(channel) = find_channel(&self.world, self.guild, &name) else {
            return Err(Miss::Refused(self.err(s::CHANNEL_NOT_FOUND)));
        };
        if self.shared.channel_bits(self.user.id, &channel) & VIEW_CHANNEL == 0 {
            return Err(Miss::Refused(vec![frame::error(
                None,
                s::ACCESS_DENIED_CHANNEL,
            )]));
        }
        if channel.kind != ChannelKind::Text {
            return Err(Miss::WrongType);
        }
        Ok(channel)
    }

    pub(super) fn message_json(&self, fm: &FullMessage) -> Value {
        let names = |id: Id| events::username(&self.world, id);
        let reply_user = fm.message.reply_to.and_then(|r| {
            self.world
                .store
                .message(fm.message.channel_id, r)
                .ok()
                .flatten()
                .map(|m| events::username(&self.world, m.author_id))
        });
        objects::message(fm, &names, reply_user)
    }

    pub(super) fn messages_json(&self, list: &[FullMessage]) -> Value {
        Value::Array(list.iter().map(|m| self.message_json(m)).collect())
    }

    pub(super) async fn history(
        &self,
        channel: Id,
        query: HistoryQuery,
    ) -> Result<Vec<FullMessage>, GatewayError> {
        match self
            .exec(Command::History {
                channel_id: channel,
                query,
            })
            .await?
        {
            Reply::Messages(m) => Ok(m),
            _ => Ok(Vec::new()),
        }
    }

    pub(super) async fn voice_states(&self) -> Vec<VoiceState> {
        self.world
            .voice()
            .send(VoiceStates(vec![self.guild]))
            .await
            .unwrap_or_default()
    }

    /// A timeout from the common model as the reference's `rate_limit`.
    pub(super) fn timed_out(&self, e: &GatewayError) -> Option<Frames> {
        let switchboard_protocols::ErrorKind::RateLimited { retry_after_ms } = e.kind else {
            return None;
        };
        let secs = retry_after_ms as f64 / 1000.0;
        let mut reply = frame::reply("rate_limit", [("length", json!(retry_after_ms))]);
        if self.cmd != "message_edit" {
            reply.insert(
                "reason".into(),
                json!(format!("You are in timeout for {secs:.1} more seconds")),
            );
        }
        Some(vec![reply])
    }

    /// A rate-limited command: `rate_limit` (to the requester) if refused.
    pub(super) fn rate_limited(&self) -> Option<Frames> {
        let denied = self.ctx.check_rate(self.user.id).err()?;
        let mut reply = frame::reply("rate_limit", [("length", json!(denied.length_ms))]);
        if self.cmd != "message_edit" {
            reply.insert("reason".into(), json!(denied.reason));
        }
        Some(vec![reply])
    }
}

/// Runs one authenticated request.
async fn run(op: Op) -> Frames {
    match op.cmd.as_str() {
        "channels_get" => {
            let voice = op.voice_states().await;
            let val = views::channel_list(&op.world, &op.shared, op.guild, op.user.id, &voice);
            vec![frame::reply("channels_get", [("val", Value::Array(val))])]
        }
        "server_info" => {
            let guild = op.world.store.guild(op.guild).ok().flatten();
            op.reply([
                ("name", json!(guild.as_ref().map(|g| g.name.clone()))),
                ("icon", json!(guild.as_ref().and_then(|g| g.icon.clone()))),
                (
                    "banner",
                    json!(guild.as_ref().and_then(|g| g.banner.clone())),
                ),
            ])
        }
        "users_list" | "users_online" | "status_set" | "status_get" | "user_update" | "pfp_set"
        | "pfp_get" => members::run(op).await,
        "roles_list"
        | "role_create"
        | "role_update"
        | "role_delete"
        | "user_roles_get"
        | "user_roles_set"
        | "self_role_add"
        | "self_role_remove"
        | "self_roles_list"
        | "role_reorder"
        | "role_permissions_get"
        | "role_permissions_set" => roles::run(op).await,
        "server_update" | "rate_limit_status" | "rate_limit_reset" => server::run(op).await,
        "unreads_ack" | "unreads_get" | "unreads_count" => unreads::run(op).await,
        "pings_get" => pings::run(op).await,
        "attachment_get" | "attachment_delete" => attachments::run(op).await,
        "user_ban" | "user_unban" | "user_timeout" | "users_banned_list" => {
            moderation::run(op).await
        }
        "channel_create" | "channel_update" | "channel_move" | "channel_delete" => {
            channels::run(op).await
        }
        "voice_join" | "voice_leave" | "voice_mute" | "voice_unmute" | "voice_state" => {
            voice::run(op).await
        }
        "thread_create" | "thread_get" | "thread_messages" | "thread_update" | "thread_delete"
        | "thread_join" | "thread_leave" => threads::run(op).await,
        _ => messages::run(op).await,
    }
}

/// Requests a connection may have waiting behind the one running.
const MAX_QUEUED: usize = 256;

impl OcSession {
    /// Queues a request. Requests of one connection run one at a time, in
    /// the order they came, as the reference handles them: replies come in
    /// request order and pipelined messages are stored in the order sent.
    /// Events keep flowing to the connection meanwhile.
    pub(super) fn dispatch(&mut self, c: &mut Context<Self>, req: Inbound) {
        if self.queue.len() >= MAX_QUEUED {
            let src = req.cmd.as_deref();
            let e = frame::error(src, "Too many requests in flight; wait for replies");
            return self.send(c, &e, req.listener.as_deref());
        }
        self.queue.push_back(req);
        self.pump(c);
    }

    /// Starts queued requests until one has to wait.
    fn pump(&mut self, c: &mut Context<Self>) {
        while !self.busy {
            let Some(req) = self.queue.pop_front() else {
                return;
            };
            let listener = req.listener.clone();
            match self.begin(req) {
                Started::Now(frames) => {
                    for f in frames {
                        self.send(c, &f, listener.as_deref());
                    }
                }
                Started::Later(work) => {
                    self.busy = true;
                    c.spawn(work.into_actor(self).map(move |frames, act, c| {
                        for f in frames {
                            act.send(c, &f, listener.as_deref());
                        }
                        act.busy = false;
                        act.pump(c);
                    }));
                }
            }
        }
    }

    fn begin(&mut self, req: Inbound) -> Started {
        let Some(user) = self.user.clone() else {
            return Started::Now(Vec::new());
        };
        let Some(cmd) = req.cmd.clone() else {
            return Started::Now(vec![frame::error(None, "Unknown command: None")]);
        };
        let op = Op {
            world: self.world.clone(),
            ctx: self.ctx.clone(),
            guild: self.guild_id,
            shared: self.shared.clone(),
            user,
            session: self.id,
            listener: req.listener.clone(),
            cmd: cmd.clone(),
            body: req.body,
        };
        Started::Now(match cmd.as_str() {
            "ping" => vec![frame::reply("pong", [("val", json!("pong"))])],
            "auth" | "login" | "register" => op.err(&format!("Unknown command: {cmd}")),
            name if CAPABILITIES.contains(&name) => return Started::Later(Box::pin(run(op))),
            // Kept apart from typos on purpose: these are the reference's,
            // and stay out of scope.
            name if OUT_OF_SCOPE.contains(&name) => op.err(&format!("Unknown command: {name}")),
            name if NOT_YET.contains(&name) => {
                op.err(&format!("{name} is not supported by this server yet"))
            }
            name => op.err(&format!("Unknown command: {name}")),
        })
    }
}

enum Started {
    Now(Frames),
    Later(std::pin::Pin<Box<dyn std::future::Future<Output = Frames>>>),
}
