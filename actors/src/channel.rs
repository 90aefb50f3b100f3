//! One actor per active channel: the order of its messages, their
//! persistence, typing, and fan-out to everyone who may view it.
//!
//! Writes are acknowledged only once durable: each write is queued with a
//! sequence number and released, in order, when a group commit that covers
//! it completes. The event goes out at the same moment as the reply, so no
//! one sees a message the server could still lose.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use switchboard_protocols::command::{Command, HistoryQuery, NewMessage};
use switchboard_protocols::event::{Envelope, Event, FullMessage, ReactionEvent};
use switchboard_protocols::model::{Channel, Message};
use switchboard_protocols::permissions as perm;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult, Id};
use tokio::sync::oneshot;

use crate::guild::{GuildShared, Prune};
use crate::hub::DeliverToUsers;
use crate::world::{Caller, Reply, World};

/// Largest history page.
pub const MAX_PAGE: usize = 100;

/// What a DM or group recipient may do.
const PRIVATE_BITS: u64 = perm::VIEW_CHANNEL
    | perm::SEND_MESSAGES
    | perm::ADD_REACTIONS
    | perm::READ_MESSAGE_HISTORY
    | perm::ATTACH_FILES;

#[derive(Message)]
#[rtype(result = "GatewayResult<Reply>")]
pub struct ChannelCmd {
    pub caller: Caller,
    pub command: Command,
}

/// The guild actor changed this channel's record (name, overwrites, ...).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetChannel(pub Channel);

/// The channel was deleted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

struct Pending {
    seq: u64,
    event: Option<Arc<Envelope>>,
    reply: Reply,
    tx: oneshot::Sender<GatewayResult<Reply>>,
    started: Instant,
}

pub struct ChannelActor {
    world: Arc<World>,
    channel: Channel,
    guild: Option<Arc<GuildShared>>,
    pending: VecDeque<Pending>,
    next_seq: u64,
}

impl ChannelActor {
    pub(crate) fn new(
        world: Arc<World>,
        channel: Channel,
        guild: Option<Arc<GuildShared>>,
    ) -> Self {
        ChannelActor {
            world,
            channel,
            guild,
            pending: VecDeque::new(),
            next_seq: 1,
        }
    }

    fn bits(&self, user: Id) -> u64 {
        match &self.guild {
            Some(g) => g.channel_bits(user, &self.channel),
            None if self.channel.recipients.contains(&user) => PRIVATE_BITS,
            None => 0,
        }
    }

    fn require(&self, user: Id, bits: u64) -> GatewayResult<()> {
        let have = self.bits(user);
        if have & perm::VIEW_CHANNEL == 0 {
            return Err(GatewayError::not_found("Unknown channel"));
        }
        if have & bits != bits {
            let names: Vec<&str> = (0..64)
                .map(|i| 1u64 << i)
                .filter(|b| bits & b & !have != 0)
                .map(perm::name)
                .collect();
            return Err(GatewayError::forbidden(format!(
                "Missing permission {}",
                names.join(", ")
            )));
        }
        Ok(())
    }

    fn message(&self, id: Id) -> GatewayResult<Message> {
        self.world
            .store
            .message(self.channel.id, id)?
            .ok_or_else(|| GatewayError::not_found("Unknown message"))
    }

    /// Hands `env` to every session that may view this channel, except the
    /// sessions of `exclude`.
    fn publish(&self, env: &Arc<Envelope>, exclude: Option<Id>, started: Instant) {
        let mut delivered = 0u64;
        match &self.guild {
            Some(shared) => {
                let dead = shared.for_each_viewer(Some(&self.channel), |s| {
                    if Some(s.user_id) == exclude {
                        return true;
                    }
                    delivered += 1;
                    s.offer(env)
                });
                if !dead.is_empty() {
                    if let Ok(addr) = self.world.guild_addr(shared.guild_id) {
                        addr.do_send(Prune(dead));
                    }
                }
            }
            None => {
                let users = self
                    .channel
                    .recipients
                    .iter()
                    .copied()
                    .filter(|u| Some(*u) != exclude)
                    .collect();
                self.world.hub().do_send(DeliverToUsers {
                    users,
                    env: env.clone(),
                });
            }
        }
        self.world.metrics.delivered(delivered);
        self.world
            .metrics
            .observe_fanout(started.elapsed().as_secs_f64());
    }

    /// Queues a persisted change until the group commit covering it lands.
    fn after_commit(
        &mut self,
        ctx: &mut Context<Self>,
        event: Option<Arc<Envelope>>,
        reply: Reply,
        started: Instant,
    ) -> ResponseFuture<GatewayResult<Reply>> {
        let (tx, rx) = oneshot::channel();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.push_back(Pending {
            seq,
            event,
            reply,
            tx,
            started,
        });
        let commit = self.world.store.commit();
        ctx.spawn(commit.into_actor(self).map(move |res, act, _| {
            let res = res.map_err(GatewayError::from);
            act.release(seq, res);
        }));
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(GatewayError::internal("channel stopped")))
        })
    }

    /// Everything up to `seq` is durable (or failed): publish and answer in
    /// order.
    fn release(&mut self, seq: u64, res: GatewayResult<()>) {
        while self.pending.front().is_some_and(|p| p.seq <= seq) {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            match &res {
                Ok(()) => {
                    if let Some(env) = &p.event {
                        self.publish(env, None, p.started);
                    }
                    let _ = p.tx.send(Ok(p.reply));
                }
                Err(e) => {
                    let _ = p.tx.send(Err(e.clone()));
                }
            }
        }
    }

    fn validate_content(
        &self,
        content: &str,
        encrypted: bool,
        nonce: Option<&str>,
    ) -> GatewayResult<()> {
        if content.chars().count() > self.world.config.message_length {
            return Err(GatewayError::too_large(format!(
                "Message content is longer than {} characters",
                self.world.config.message_length
            )));
        }
        if self.channel.encrypted && !encrypted {
            return Err(GatewayError::invalid(
                "This channel accepts only encrypted messages",
            ));
        }
        if encrypted {
            let nonce_ok = nonce
                .and_then(|n| B64.decode(n).ok())
                .is_some_and(|n| n.len() == 24);
            if !nonce_ok {
                return Err(GatewayError::invalid("`nonce` must be base64 of 24 bytes"));
            }
            let ct_ok = B64.decode(content).map(|c| c.len() >= 16).unwrap_or(false);
            if !ct_ok {
                return Err(GatewayError::invalid(
                    "Encrypted content must be base64 of at least 16 bytes",
                ));
            }
        }
        Ok(())
    }

    /// Stores a new message; `false` when `client_ref` names one already
    /// stored (a retried send), which is returned instead.
    fn send_message(
        &mut self,
        caller: &Caller,
        m: NewMessage,
    ) -> GatewayResult<(FullMessage, bool)> {
        let me = caller.id();
        let mut need = perm::SEND_MESSAGES;
        if !m.attachments.is_empty() {
            need |= perm::ATTACH_FILES;
        }
        self.require(me, need)?;
        if let Some(r) = &m.client_ref {
            if let Some(existing) =
                self.world
                    .store
                    .message_by_client_ref(self.channel.id, me, r)?
            {
                return Ok((self.world.full_message(existing)?, false));
            }
        }
        if m.content.trim().is_empty() && m.attachments.is_empty() {
            return Err(GatewayError::invalid("Message content must not be empty"));
        }
        self.validate_content(&m.content, m.encrypted, m.nonce.as_deref())?;
        if !m.attachments.is_empty() {
            // Files arrive with the upload store; until then none exist.
            return Err(GatewayError::not_found("Unknown file"));
        }
        if let Some(reply_to) = m.reply_to {
            self.message(reply_to)?;
        }
        let message = Message {
            id: self.world.ids.next(),
            channel_id: self.channel.id,
            guild_id: self.channel.guild_id,
            author_id: me,
            content: m.content,
            encrypted: m.encrypted,
            nonce: if m.encrypted { m.nonce } else { None },
            attachments: Vec::new(),
            reply_to: m.reply_to,
            reactions: Vec::new(),
            pinned: false,
            created_at: now_ms(),
            edited_at: None,
            client_ref: m.client_ref,
        };
        self.world.store.put_message(&message)?;
        self.world.metrics.message_created();
        let author = (*caller.user).clone();
        Ok((FullMessage { message, author }, true))
    }

    fn history(&self, me: Id, q: HistoryQuery) -> GatewayResult<Vec<FullMessage>> {
        self.require(me, perm::READ_MESSAGE_HISTORY)?;
        let limit = q.limit.clamp(1, MAX_PAGE);
        let store = &self.world.store;
        let messages = match q.around {
            Some(around) => {
                let mut older = store.history(self.channel.id, Some(around), None, limit / 2)?;
                let mut newer =
                    store.history(self.channel.id, None, Some(around), limit - limit / 2)?;
                if let Some(m) = store.message(self.channel.id, around)? {
                    newer.push(m);
                    if newer.len() + older.len() > limit {
                        newer.remove(0);
                    }
                }
                newer.append(&mut older);
                newer
            }
            None => store.history(self.channel.id, q.before, q.after, limit)?,
        };
        messages
            .into_iter()
            .map(|m| self.world.full_message(m))
            .collect()
    }
}

impl Actor for ChannelActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<SetChannel> for ChannelActor {
    type Result = ();
    fn handle(&mut self, SetChannel(channel): SetChannel, _: &mut Self::Context) {
        self.channel = channel;
    }
}

impl Handler<Stop> for ChannelActor {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<ChannelCmd> for ChannelActor {
    type Result = ResponseFuture<GatewayResult<Reply>>;

    fn handle(&mut self, msg: ChannelCmd, ctx: &mut Self::Context) -> Self::Result {
        let started = Instant::now();
        let caller = msg.caller;
        let me = caller.id();
        let result: GatewayResult<(Option<Arc<Envelope>>, Reply)> = (|| {
            Ok(match msg.command {
                Command::SendMessage(m) => {
                    let (full, created) = self.send_message(&caller, m)?;
                    if !created {
                        // A retried send: answer with what is stored, tell no one again.
                        return Ok((None, Reply::Message(full)));
                    }
                    let env = caller.envelope(Event::MessageCreate(full.clone()));
                    (Some(env), Reply::Message(full))
                }
                Command::EditMessage {
                    message_id,
                    content,
                    encrypted,
                    nonce,
                    ..
                } => {
                    self.require(me, 0)?;
                    let mut message = self.message(message_id)?;
                    if message.author_id != me {
                        return Err(GatewayError::forbidden(
                            "Only the author can edit a message",
                        ));
                    }
                    if content.trim().is_empty() && message.attachments.is_empty() {
                        return Err(GatewayError::invalid("Message content must not be empty"));
                    }
                    self.validate_content(&content, encrypted, nonce.as_deref())?;
                    message.content = content;
                    message.encrypted = encrypted;
                    message.nonce = if encrypted { nonce } else { None };
                    message.edited_at = Some(now_ms());
                    self.world.store.put_message(&message)?;
                    let full = self.world.full_message(message)?;
                    (
                        Some(caller.envelope(Event::MessageUpdate(full.clone()))),
                        Reply::Message(full),
                    )
                }
                Command::DeleteMessage { message_id, .. } => {
                    let message = self.message(message_id)?;
                    if message.author_id != me {
                        self.require(me, perm::MANAGE_MESSAGES)?;
                    } else {
                        self.require(me, 0)?;
                    }
                    self.world
                        .store
                        .delete_message(self.channel.id, message_id)?;
                    let env = caller.envelope(Event::MessageDelete {
                        id: message_id,
                        channel_id: self.channel.id,
                        guild_id: self.channel.guild_id,
                    });
                    (Some(env), Reply::Done)
                }
                Command::React {
                    message_id,
                    emoji,
                    add,
                    ..
                } => {
                    self.require(me, if add { perm::ADD_REACTIONS } else { 0 })?;
                    let mut message = self.message(message_id)?;
                    let changed = if add {
                        message.add_reaction(&emoji, me)
                    } else {
                        message.remove_reaction(&emoji, me)
                    };
                    if !changed {
                        return Ok((None, Reply::Done));
                    }
                    self.world.store.put_message(&message)?;
                    let env = caller.envelope(Event::Reaction(ReactionEvent {
                        message_id,
                        channel_id: self.channel.id,
                        guild_id: self.channel.guild_id,
                        user_id: me,
                        count: message.reaction_count(&emoji),
                        emoji,
                        added: add,
                    }));
                    (Some(env), Reply::Done)
                }
                Command::Pin {
                    message_id, pinned, ..
                } => {
                    self.require(me, perm::MANAGE_MESSAGES)?;
                    let mut message = self.message(message_id)?;
                    message.pinned = pinned;
                    self.world.store.put_message(&message)?;
                    self.world
                        .store
                        .set_pin(self.channel.id, message_id, pinned)?;
                    let full = self.world.full_message(message)?;
                    (
                        Some(caller.envelope(Event::MessageUpdate(full.clone()))),
                        Reply::Message(full),
                    )
                }
                Command::Typing { .. } => {
                    self.require(me, perm::SEND_MESSAGES)?;
                    let env = caller.envelope(Event::Typing {
                        channel_id: self.channel.id,
                        guild_id: self.channel.guild_id,
                        user_id: me,
                        timestamp: now_ms(),
                    });
                    self.publish(&env, Some(me), started);
                    return Ok((None, Reply::Done));
                }
                Command::History { query, .. } => {
                    return Ok((None, Reply::Messages(self.history(me, query)?)));
                }
                Command::GetMessage { message_id, .. } => {
                    self.require(me, perm::READ_MESSAGE_HISTORY)?;
                    let m = self.message(message_id)?;
                    return Ok((None, Reply::Message(self.world.full_message(m)?)));
                }
                Command::GetChannel { .. } => {
                    self.require(me, 0)?;
                    return Ok((None, Reply::Channel(self.channel.clone())));
                }
                Command::UpdateChannel { .. } | Command::DeleteChannel { .. } => {
                    self.require(me, 0)?;
                    return Err(GatewayError::forbidden(
                        "Direct message channels cannot be changed",
                    ));
                }
                other => {
                    return Err(GatewayError::internal(format!(
                        "channel actor cannot handle {other:?}"
                    )))
                }
            })
        })();
        match result {
            Err(e) => Box::pin(async move { Err(e) }),
            Ok((None, reply)) => Box::pin(async move { Ok(reply) }),
            Ok((event, reply)) => self.after_commit(ctx, event, reply, started),
        }
    }
}
