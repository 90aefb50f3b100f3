//! One actor per guild: members, roles, categories, the channel list, and
//! the permission decisions that depend on them.

mod commands;
mod create;
mod hierarchy;
mod moderation;
mod roles;
mod shared;
mod threads;

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use switchboard_protocols::command::Command;
use switchboard_protocols::event::Envelope;
use switchboard_protocols::model::{Category, Channel, Guild, GuildFull, Member, Role, User};
use switchboard_protocols::permissions::VIEW_CHANNEL;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

pub use create::{create_guild, ensure_default_guild, join_guild};
pub use shared::GuildShared;

use crate::audience::SessionHandle;
use crate::store::Store;
use crate::world::{Caller, Reply, World};

/// A guild as its actor holds it.
pub struct GuildState {
    pub guild: Guild,
    pub channels: HashMap<Id, Channel>,
    pub categories: HashMap<Id, Category>,
    pub roles: HashMap<Id, Role>,
    pub members: HashMap<Id, Member>,
}

impl GuildState {
    pub fn load(store: &Store, guild_id: Id) -> GatewayResult<GuildState> {
        let guild = store
            .guild(guild_id)?
            .ok_or_else(|| GatewayError::not_found("Unknown guild"))?;
        Ok(GuildState {
            guild,
            channels: by_id(store.channels_of(guild_id)?, |c| c.id),
            categories: by_id(store.categories_of(guild_id)?, |c| c.id),
            roles: by_id(store.roles_of(guild_id)?, |r| r.id),
            members: by_id(store.members_of(guild_id)?, |m| m.user_id),
        })
    }

    /// The guild as `viewer` may see it: channels they cannot view left out.
    fn view_for(&self, shared: &GuildShared, viewer: Id) -> GuildFull {
        let mut channels: Vec<Channel> = self
            .channels
            .values()
            // Threads are listed by the dialects that have them, under
            // their forum.
            .filter(|c| c.thread.is_none())
            .filter(|c| shared.channel_bits(viewer, c) & VIEW_CHANNEL != 0)
            .cloned()
            .collect();
        channels.sort_by_key(|c| (c.position, c.id));
        GuildFull {
            guild: self.guild.clone(),
            channels,
            roles: self.sorted_roles(),
            categories: self.sorted_categories(),
        }
    }

    /// Guild, roles and categories without channels: what a GuildUpdate
    /// carries, so that one encoding serves every member.
    fn header(&self) -> GuildFull {
        GuildFull {
            guild: self.guild.clone(),
            channels: Vec::new(),
            roles: self.sorted_roles(),
            categories: self.sorted_categories(),
        }
    }

    fn sorted_roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = self.roles.values().cloned().collect();
        roles.sort_by_key(|r| (r.position, r.id));
        roles
    }

    fn sorted_categories(&self) -> Vec<Category> {
        let mut cats: Vec<Category> = self.categories.values().cloned().collect();
        cats.sort_by_key(|c| (c.position, c.id));
        cats
    }
}

fn by_id<T>(items: Vec<T>, key: impl Fn(&T) -> Id) -> HashMap<Id, T> {
    items.into_iter().map(|t| (key(&t), t)).collect()
}

pub struct GuildActor {
    world: Arc<World>,
    state: GuildState,
    shared: Arc<GuildShared>,
}

impl GuildActor {
    pub(crate) fn new(world: Arc<World>, state: GuildState, shared: Arc<GuildShared>) -> Self {
        GuildActor {
            world,
            state,
            shared,
        }
    }
}

impl Actor for GuildActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
    }
}

/// A command from a session or REST, routed here by [`World::execute`].
#[derive(Message)]
#[rtype(result = "GatewayResult<Reply>")]
pub struct GuildCmd {
    pub caller: Caller,
    pub command: Command,
}

/// A member's session comes online: it joins this guild's audience and
/// gets the guild as it may see it.
#[derive(Message)]
#[rtype(result = "GatewayResult<GuildFull>")]
pub struct Connect(pub SessionHandle);

#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect(pub u64);

/// Sessions that could not take an event; dropped from the audience.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Prune(pub Vec<u64>);

/// Adds `user` as a member (invite, default guild at registration).
#[derive(Message)]
#[rtype(result = "GatewayResult<GuildFull>")]
pub struct Join {
    pub user: Arc<User>,
    /// Their sessions that are already online.
    pub sessions: Vec<SessionHandle>,
}

impl Handler<GuildCmd> for GuildActor {
    type Result = ResponseFuture<GatewayResult<Reply>>;

    fn handle(&mut self, msg: GuildCmd, ctx: &mut Self::Context) -> Self::Result {
        let outcome = self.apply(msg.caller, msg.command, ctx);
        let commit = self.world.store.commit();
        Box::pin(async move {
            let (reply, deliveries) = outcome?;
            commit.await?;
            deliveries.send();
            Ok(reply)
        })
    }
}

impl Handler<Connect> for GuildActor {
    type Result = GatewayResult<GuildFull>;

    fn handle(&mut self, Connect(session): Connect, _: &mut Self::Context) -> Self::Result {
        if !self.shared.is_member(session.user_id) {
            return Err(GatewayError::forbidden("Not a member of this guild"));
        }
        let view = self.state.view_for(&self.shared, session.user_id);
        self.shared.add_session(session);
        Ok(view)
    }
}

impl Handler<Disconnect> for GuildActor {
    type Result = ();

    fn handle(&mut self, Disconnect(id): Disconnect, _: &mut Self::Context) {
        self.shared.remove_sessions(&[id]);
    }
}

impl Handler<Prune> for GuildActor {
    type Result = ();

    fn handle(&mut self, Prune(ids): Prune, _: &mut Self::Context) {
        self.shared.remove_sessions(&ids);
    }
}

impl Handler<Join> for GuildActor {
    type Result = ResponseFuture<GatewayResult<GuildFull>>;

    fn handle(&mut self, msg: Join, _: &mut Self::Context) -> Self::Result {
        let outcome = self.join(&msg.user, msg.sessions);
        let commit = self.world.store.commit();
        Box::pin(async move {
            let (view, deliveries) = outcome?;
            commit.await?;
            deliveries.send();
            Ok(view)
        })
    }
}

/// Events to hand out once the change behind them is durable.
#[derive(Default)]
pub(crate) struct Deliveries(Vec<(SessionHandle, Arc<Envelope>)>);

impl Deliveries {
    fn push(&mut self, s: &SessionHandle, env: &Arc<Envelope>) {
        self.0.push((s.clone(), env.clone()));
    }

    fn send(self) {
        for (s, env) in self.0 {
            s.offer(&env);
        }
    }
}
