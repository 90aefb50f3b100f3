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
use switchboard_protocols::command::Command;
use switchboard_protocols::event::Envelope;
use switchboard_protocols::model::{Channel, Message};
use switchboard_protocols::permissions as perm;
use switchboard_protocols::{GatewayError, GatewayResult, Id};
use tokio::sync::oneshot;

use crate::guild::{GuildShared, Prune};
use crate::hub::DeliverToUsers;
use crate::world::{Caller, Reply, World};

mod group;
mod keys;
mod messages;
mod queries;

/// Largest history page.
pub const MAX_PAGE: usize = 200;

/// What a DM or group recipient may do.
pub const PRIVATE_BITS: u64 = perm::VIEW_CHANNEL
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

/// How a command is answered: at once, or once what it wrote is durable
/// (with the event to publish at that moment).
pub(super) enum Outcome {
    Now(Reply),
    Durable(Option<Arc<Envelope>>, Reply),
}

struct Pending {
    seq: u64,
    event: Option<Arc<Envelope>>,
    reply: Reply,
    tx: oneshot::Sender<GatewayResult<Reply>>,
    started: Instant,
    /// Peers whose outbox got this change: woken once it is durable.
    federated: Vec<String>,
}

pub struct ChannelActor {
    world: Arc<World>,
    channel: Channel,
    guild: Option<Arc<GuildShared>>,
    pending: VecDeque<Pending>,
    next_seq: u64,
    /// A commit is in flight. Writes that arrive meanwhile wait for the
    /// next one: one commit future per actor at a time, however many
    /// writes are queued (actix polls every spawned future on each wake).
    committing: bool,
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
            committing: false,
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

    /// Refuses a timed-out member's sends, reactions and typing.
    fn not_timed_out(&self, user: Id) -> GatewayResult<()> {
        match &self.guild {
            Some(g) => g.not_timed_out(user),
            None => Ok(()),
        }
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
                let thread = self.channel.thread.is_some();
                let dead = shared.for_each_viewer(Some(&self.channel), |s| {
                    if Some(s.user_id) == exclude || (thread && !s.dialect.has_threads()) {
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
        let federated = match &event {
            Some(env) => {
                crate::federation::outbound::enqueue(&self.world, &self.channel, &env.event)
            }
            None => Vec::new(),
        };
        let (tx, rx) = oneshot::channel();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.push_back(Pending {
            seq,
            event,
            reply,
            tx,
            started,
            federated,
        });
        if !self.committing {
            self.start_commit(ctx);
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(GatewayError::internal("channel stopped")))
        })
    }

    /// Tells the federation courier these peers' outboxes grew.
    fn wake_peers(&self, peers: &[String]) {
        if let Some(fed) = self.world.federation() {
            for peer in peers {
                fed.wake(peer);
            }
        }
    }

    /// Commits everything queued so far; when that lands, releases it and
    /// starts the next commit if more writes queued up meanwhile.
    fn start_commit(&mut self, ctx: &mut Context<Self>) {
        let upto = self.next_seq - 1;
        self.committing = true;
        let commit = self.world.store.commit();
        ctx.spawn(commit.into_actor(self).map(move |res, act, ctx| {
            act.committing = false;
            act.release(upto, res.map_err(GatewayError::from));
            if !act.pending.is_empty() {
                act.start_commit(ctx);
            }
        }));
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
                    self.wake_peers(&p.federated);
                    let _ = p.tx.send(Ok(p.reply));
                }
                Err(e) => {
                    let _ = p.tx.send(Err(e.clone()));
                }
            }
        }
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
        match self.apply(msg.caller, msg.command, started) {
            Err(e) => Box::pin(async move { Err(e) }),
            Ok(Outcome::Now(reply)) => Box::pin(async move { Ok(reply) }),
            Ok(Outcome::Durable(event, reply)) => self.after_commit(ctx, event, reply, started),
        }
    }
}
