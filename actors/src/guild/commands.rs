//! The guild actor's commands: each checks the caller's permission against
//! the state this actor owns, persists, and returns the events to deliver
//! once the store has committed.

use std::sync::Arc;

use actix::prelude::*;
use rand::distributions::Alphanumeric;
use rand::Rng;
use switchboard_protocols::command::{ChannelPatch, Command, GuildPatch};
use switchboard_protocols::event::Event;
use switchboard_protocols::model::{
    Category, Channel, GuildFull, Invite, Member, Overwrite, OverwriteTarget, User,
};
use switchboard_protocols::permissions::{self as perm, VIEW_CHANNEL};
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

use super::{Deliveries, GuildActor};
use crate::audience::SessionHandle;
use crate::world::{Caller, Reply};

pub(super) type Outcome = GatewayResult<(Reply, Deliveries)>;

/// Names of guilds, channels, roles: 1–100 characters once trimmed.
pub(crate) fn clean_name(name: &str, what: &str) -> GatewayResult<String> {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > 100 {
        return Err(GatewayError::invalid(format!(
            "{what} must be 1 to 100 characters"
        )));
    }
    Ok(name.to_string())
}

impl GuildActor {
    pub(super) fn require(&self, user: Id, bits: u64) -> GatewayResult<()> {
        if !self.shared.is_member(user) {
            return Err(GatewayError::forbidden("Not a member of this guild"));
        }
        if self.shared.guild_bits(user) & bits != bits {
            return Err(missing(bits));
        }
        Ok(())
    }

    pub(super) fn require_in(&self, user: Id, channel: &Channel, bits: u64) -> GatewayResult<()> {
        let have = self.shared.channel_bits(user, channel);
        if have & VIEW_CHANNEL == 0 {
            // Channels one cannot see do not exist, as far as one can tell.
            return Err(GatewayError::not_found("Unknown channel"));
        }
        if have & bits != bits {
            return Err(missing(bits));
        }
        Ok(())
    }

    /// A channel as the channel commands see it: threads have their own
    /// commands, so that their overwrites keep following their forum.
    fn listed_channel(&self, id: Id) -> GatewayResult<&Channel> {
        self.channel(id)
            .ok()
            .filter(|c| c.thread.is_none())
            .ok_or_else(|| GatewayError::not_found("Unknown channel"))
    }

    pub(super) fn channel(&self, id: Id) -> GatewayResult<&Channel> {
        self.state
            .channels
            .get(&id)
            .ok_or_else(|| GatewayError::not_found("Unknown channel"))
    }

    /// Queues `event` for every online member who may view `channel`
    /// (every online member when `None`).
    pub(super) fn to_viewers(
        &self,
        d: &mut Deliveries,
        caller: &Caller,
        channel: Option<&Channel>,
        event: Event,
    ) {
        let env = caller.envelope(event);
        self.shared.for_each_viewer(channel, |s| {
            d.push(s, &env);
            true
        });
    }

    pub(super) fn apply(
        &mut self,
        caller: Caller,
        command: Command,
        ctx: &mut Context<Self>,
    ) -> Outcome {
        let me = caller.id();
        let mut d = Deliveries::default();
        let reply = match command {
            Command::GetGuild { .. } => {
                self.require(me, 0)?;
                Reply::Guild(self.state.view_for(&self.shared, me))
            }
            Command::UpdateGuild { patch, .. } => {
                self.require(me, perm::MANAGE_GUILD)?;
                self.update_guild(patch)?;
                self.to_viewers(
                    &mut d,
                    &caller,
                    None,
                    Event::GuildUpdate(self.state.header()),
                );
                Reply::Guild(self.state.view_for(&self.shared, me))
            }
            Command::DeleteGuild { .. } => {
                if me != self.state.guild.owner_id {
                    return Err(GatewayError::forbidden("Only the owner can delete a guild"));
                }
                self.delete_guild(&caller, &mut d)?;
                ctx.stop();
                Reply::Done
            }
            Command::CreateChannel {
                category_id,
                name,
                kind,
                topic,
                position,
                encrypted,
                ..
            } => {
                self.require(me, perm::MANAGE_CHANNELS)?;
                if kind.is_private() {
                    return Err(GatewayError::invalid(
                        "Guild channels are text, voice or forum",
                    ));
                }
                if let Some(cat) = category_id {
                    if !self.state.categories.contains_key(&cat) {
                        return Err(GatewayError::not_found("Unknown category"));
                    }
                }
                let channel = Channel {
                    id: self.world.ids.next(),
                    guild_id: Some(self.state.guild.id),
                    category_id,
                    name: clean_name(&name, "Channel name")?,
                    kind,
                    topic: clip(&topic, 1024),
                    position: position.unwrap_or_else(|| self.next_channel_position()),
                    encrypted,
                    recipients: Vec::new(),
                    overwrites: Vec::new(),
                    created_at: now_ms(),
                    thread: None,
                };
                self.world.store.put_channel(&channel)?;
                self.state.channels.insert(channel.id, channel.clone());
                self.to_viewers(
                    &mut d,
                    &caller,
                    Some(&channel),
                    Event::ChannelCreate(channel.clone()),
                );
                Reply::Channel(channel)
            }
            Command::CreateCategory { name, position, .. } => {
                self.require(me, perm::MANAGE_CHANNELS)?;
                let category = Category {
                    id: self.world.ids.next(),
                    guild_id: self.state.guild.id,
                    name: clean_name(&name, "Category name")?,
                    position: position.unwrap_or(self.state.categories.len() as i32),
                };
                self.world.store.put_category(&category)?;
                self.state.categories.insert(category.id, category.clone());
                self.to_viewers(
                    &mut d,
                    &caller,
                    None,
                    Event::GuildCategories(self.state.header()),
                );
                Reply::Category(category)
            }
            Command::UpdateCategory {
                category_id,
                name,
                position,
                ..
            } => {
                self.require(me, perm::MANAGE_CHANNELS)?;
                let mut category = self
                    .state
                    .categories
                    .get(&category_id)
                    .cloned()
                    .ok_or_else(|| GatewayError::not_found("Unknown category"))?;
                if let Some(name) = name {
                    category.name = clean_name(&name, "Category name")?;
                }
                if let Some(position) = position {
                    category.position = position;
                }
                self.world.store.put_category(&category)?;
                self.state.categories.insert(category_id, category.clone());
                let event = Event::GuildCategories(self.state.header());
                self.to_viewers(&mut d, &caller, None, event);
                Reply::Category(category)
            }
            Command::DeleteCategory { category_id, .. } => {
                self.require(me, perm::MANAGE_CHANNELS)?;
                if self.state.categories.remove(&category_id).is_none() {
                    return Err(GatewayError::not_found("Unknown category"));
                }
                self.world
                    .store
                    .delete_category(self.state.guild.id, category_id)?;
                let inside: Vec<Channel> = self
                    .state
                    .channels
                    .values()
                    .filter(|c| c.category_id == Some(category_id))
                    .cloned()
                    .collect();
                for channel in inside {
                    let patch = ChannelPatch {
                        category_id: Some(None),
                        ..ChannelPatch::default()
                    };
                    let updated = self.patch_channel(me, channel, patch)?;
                    let event = Event::ChannelUpdate(updated.clone());
                    self.to_viewers(&mut d, &caller, Some(&updated), event);
                }
                let event = Event::GuildCategories(self.state.header());
                self.to_viewers(&mut d, &caller, None, event);
                Reply::Done
            }
            Command::GetChannel { channel_id } => {
                let channel = self.listed_channel(channel_id)?;
                self.require_in(me, channel, 0)?;
                Reply::Channel(channel.clone())
            }
            Command::UpdateChannel { channel_id, patch } => {
                let channel = self.listed_channel(channel_id)?.clone();
                self.require_in(me, &channel, perm::MANAGE_CHANNELS)?;
                let updated = self.patch_channel(me, channel, patch)?;
                self.to_viewers(
                    &mut d,
                    &caller,
                    Some(&updated),
                    Event::ChannelUpdate(updated.clone()),
                );
                Reply::Channel(updated)
            }
            Command::DeleteChannel { channel_id } => {
                let channel = self.listed_channel(channel_id)?.clone();
                self.require_in(me, &channel, perm::MANAGE_CHANNELS)?;
                self.to_viewers(
                    &mut d,
                    &caller,
                    Some(&channel),
                    Event::ChannelDelete {
                        id: channel.id,
                        guild_id: channel.guild_id,
                    },
                );
                for thread in self.threads_of(channel_id) {
                    self.drop_channel(thread)?;
                }
                self.drop_channel(channel_id)?;
                Reply::Done
            }
            Command::CreateRole { .. }
            | Command::UpdateRole { .. }
            | Command::DeleteRole { .. }
            | Command::SetMemberRoles { .. }
            | Command::SelfRole { .. } => return self.role_command(&caller, command),
            Command::CreateInvite { .. } => {
                self.require(me, perm::CREATE_INVITE)?;
                let invite = Invite {
                    code: rand::thread_rng()
                        .sample_iter(&Alphanumeric)
                        .take(10)
                        .map(char::from)
                        .collect(),
                    guild_id: self.state.guild.id,
                    inviter_id: me,
                    created_at: now_ms(),
                };
                self.world.store.put_invite(&invite)?;
                Reply::Invite(invite)
            }
            Command::CreateThread { .. }
            | Command::UpdateThread { .. }
            | Command::DeleteThread { .. }
            | Command::ThreadMembership { .. } => return self.thread_command(&caller, command),
            Command::Ban { .. }
            | Command::ListBans { .. }
            | Command::Timeout { .. }
            | Command::SetNick { .. } => {
                return self.moderate(&caller, command);
            }
            Command::JoinInvite { .. } => {
                return Err(GatewayError::internal("joins arrive as Join messages"));
            }
            Command::LeaveGuild { .. } => {
                self.require(me, 0)?;
                if me == self.state.guild.owner_id {
                    return Err(GatewayError::invalid(
                        "The owner cannot leave a guild; delete it instead",
                    ));
                }
                self.state.members.remove(&me);
                self.world.store.delete_member(self.state.guild.id, me)?;
                self.shared.remove_member(me);
                let gone = self.shared.remove_user_sessions(me);
                let env = caller.envelope(Event::GuildDelete {
                    id: self.state.guild.id,
                });
                for s in &gone {
                    d.push(s, &env);
                }
                self.to_viewers(
                    &mut d,
                    &caller,
                    None,
                    Event::MemberLeave {
                        guild_id: self.state.guild.id,
                        user_id: me,
                    },
                );
                Reply::Done
            }
            other => {
                return Err(GatewayError::internal(format!(
                    "guild actor cannot handle {other:?}"
                )))
            }
        };
        Ok((reply, d))
    }

    /// Adds a member; idempotent for existing members.
    pub(super) fn join(
        &mut self,
        user: &Arc<User>,
        sessions: Vec<SessionHandle>,
    ) -> GatewayResult<(GuildFull, Deliveries)> {
        let mut d = Deliveries::default();
        let guild_id = self.state.guild.id;
        if self.world.store.is_banned(guild_id, user.id)? {
            return Err(GatewayError::forbidden("You are banned from this guild"));
        }
        if !self.state.members.contains_key(&user.id) {
            let member = Member {
                guild_id,
                user_id: user.id,
                roles: Vec::new(),
                nick: None,
                joined_at: now_ms(),
                timeout_until: None,
            };
            self.world.store.put_member(&member)?;
            self.state.members.insert(user.id, member);
            self.shared.set_member(user.id, Vec::new());
            let env = Arc::new(switchboard_protocols::event::Envelope::new(
                Event::MemberJoin {
                    guild_id,
                    user: (**user).clone(),
                },
                None,
            ));
            self.shared.for_each_viewer(None, |s| {
                d.push(s, &env);
                true
            });
        }
        let view = self.state.view_for(&self.shared, user.id);
        let env = Arc::new(switchboard_protocols::event::Envelope::new(
            Event::GuildCreate(view.clone()),
            None,
        ));
        for s in sessions {
            d.push(&s, &env);
            self.shared.add_session(s);
        }
        Ok((view, d))
    }

    fn next_channel_position(&self) -> i32 {
        self.state
            .channels
            .values()
            .filter(|c| c.thread.is_none())
            .map(|c| c.position + 1)
            .max()
            .unwrap_or(0)
    }

    fn update_guild(&mut self, patch: GuildPatch) -> GatewayResult<()> {
        let mut guild = self.state.guild.clone();
        if let Some(name) = patch.name {
            guild.name = clean_name(&name, "Guild name")?;
        }
        if let Some(description) = patch.description {
            guild.description = clip(&description, 1024);
        }
        if let Some(banner) = patch.banner {
            guild.banner = banner;
        }
        if let Some(icon) = patch.icon {
            guild.icon = icon;
        }
        self.world.store.put_guild(&guild)?;
        self.state.guild = guild;
        Ok(())
    }

    fn patch_channel(
        &mut self,
        me: Id,
        mut channel: Channel,
        patch: ChannelPatch,
    ) -> GatewayResult<Channel> {
        if let Some(name) = patch.name {
            channel.name = clean_name(&name, "Channel name")?;
        }
        if let Some(topic) = patch.topic {
            channel.topic = clip(&topic, 1024);
        }
        if let Some(position) = patch.position {
            channel.position = position;
        }
        if let Some(category) = patch.category_id {
            if let Some(cat) = category {
                if !self.state.categories.contains_key(&cat) {
                    return Err(GatewayError::not_found("Unknown category"));
                }
            }
            channel.category_id = category;
        }
        let overwritten = patch.overwrites.is_some();
        if let Some(overwrites) = patch.overwrites {
            let overwrites = self.checked_overwrites(overwrites)?;
            self.check_overwrites(me, &channel, &overwrites)?;
            channel.overwrites = overwrites;
        }
        let channel = self.save(channel)?;
        if overwritten {
            self.sync_threads(&channel)?;
        }
        Ok(channel)
    }

    /// Overwrites must name a role or a member of this guild, once each.
    fn checked_overwrites(&self, overwrites: Vec<Overwrite>) -> GatewayResult<Vec<Overwrite>> {
        let mut out: Vec<Overwrite> = Vec::with_capacity(overwrites.len());
        for o in overwrites {
            let known = match o.target {
                OverwriteTarget::Role => self.state.roles.contains_key(&o.id),
                OverwriteTarget::Member => self.state.members.contains_key(&o.id),
            };
            if !known {
                return Err(GatewayError::not_found(format!(
                    "Unknown {} {} in overwrites",
                    if o.target == OverwriteTarget::Role {
                        "role"
                    } else {
                        "member"
                    },
                    o.id
                )));
            }
            out.retain(|p| !(p.id == o.id && p.target == o.target));
            out.push(o);
        }
        Ok(out)
    }

    fn delete_guild(&mut self, caller: &Caller, d: &mut Deliveries) -> GatewayResult<()> {
        let guild_id = self.state.guild.id;
        if self.world.default_guild() == Some(guild_id) {
            return Err(GatewayError::invalid("The default guild cannot be deleted"));
        }
        let env = caller.envelope(Event::GuildDelete { id: guild_id });
        for s in self.shared.all_sessions() {
            d.push(&s, &env);
        }
        self.world.store.delete_guild(guild_id)?;
        for id in self.state.channels.keys() {
            if let Some(addr) = self.world.running_channel(*id) {
                addr.do_send(crate::channel::Stop);
            }
            self.world.forget_channel(*id);
        }
        self.world.forget_guild(guild_id);
        Ok(())
    }
}

fn missing(bits: u64) -> GatewayError {
    let names: Vec<&str> = (0..64)
        .map(|i| 1u64 << i)
        .filter(|b| bits & b != 0)
        .map(perm::name)
        .collect();
    GatewayError::forbidden(format!("Missing permission {}", names.join(", ")))
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
