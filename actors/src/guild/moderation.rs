//! Bans and timeouts: who may be in a guild, and who may speak in it.

use std::sync::Arc;

use switchboard_protocols::command::Command;
use switchboard_protocols::event::{Envelope, Event};
use switchboard_protocols::permissions as perm;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, Id};

use super::commands::Outcome;
use super::{Deliveries, GuildActor};
use crate::world::{Caller, Reply};

impl GuildActor {
    /// Bans and timeouts: never the owner, never oneself, and (for
    /// members) only those `me` outranks (the role hierarchy).
    fn target(&self, me: Id, user: Id) -> Result<(), GatewayError> {
        if user == self.state.guild.owner_id {
            return Err(GatewayError::forbidden("The owner cannot be moderated"));
        }
        if user == me {
            return Err(GatewayError::invalid("You cannot moderate yourself"));
        }
        if self.state.members.contains_key(&user) {
            self.check_outranks(me, user)?;
        }
        Ok(())
    }

    pub(super) fn moderate(&mut self, caller: &Caller, command: Command) -> Outcome {
        let me = caller.id();
        let guild_id = self.state.guild.id;
        let mut d = Deliveries::default();
        let reply = match command {
            Command::Ban {
                user_id, banned, ..
            } => {
                self.require(me, perm::BAN_MEMBERS)?;
                self.target(me, user_id)?;
                self.world.user(user_id)?;
                self.world.store.set_ban(guild_id, user_id, banned)?;
                if banned && self.state.members.remove(&user_id).is_some() {
                    self.world.store.delete_member(guild_id, user_id)?;
                    self.shared.remove_member(user_id);
                    let gone = self.shared.remove_user_sessions(user_id);
                    let env = caller.envelope(Event::GuildDelete { id: guild_id });
                    for s in &gone {
                        d.push(s, &env);
                    }
                    let env = Arc::new(Envelope::new(
                        Event::MemberLeave { guild_id, user_id },
                        None,
                    ));
                    self.shared.for_each_viewer(None, |s| {
                        d.push(s, &env);
                        true
                    });
                }
                Reply::Done
            }
            Command::SetNick { user_id, nick, .. } => {
                if user_id != me {
                    self.require(me, perm::MODERATE_MEMBERS)?;
                    if self.state.members.contains_key(&user_id) {
                        self.check_outranks(me, user_id)?;
                    }
                } else {
                    self.require(me, 0)?;
                }
                let nick = nick.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
                if nick.as_ref().is_some_and(|n| n.chars().count() > 32) {
                    return Err(GatewayError::invalid("Nicknames are at most 32 characters"));
                }
                let member = self
                    .state
                    .members
                    .get_mut(&user_id)
                    .ok_or_else(|| GatewayError::not_found("Unknown member"))?;
                member.nick = nick.clone();
                self.world.store.put_member(member)?;
                let env = caller.envelope(Event::MemberNick {
                    guild_id,
                    user_id,
                    nick,
                });
                self.shared.for_each_viewer(None, |s| {
                    d.push(s, &env);
                    true
                });
                Reply::Done
            }
            Command::ListBans { .. } => {
                self.require(me, perm::BAN_MEMBERS)?;
                let users = self
                    .world
                    .store
                    .bans_of(guild_id)?
                    .into_iter()
                    .filter_map(|id| self.world.user(id).ok().map(|u| (*u).clone()))
                    .collect();
                Reply::Users(users)
            }
            Command::Timeout { user_id, until, .. } => {
                self.require(me, perm::MODERATE_MEMBERS)?;
                self.target(me, user_id)?;
                let until = until.filter(|t| *t > now_ms());
                let member = self
                    .state
                    .members
                    .get_mut(&user_id)
                    .ok_or_else(|| GatewayError::not_found("Unknown member"))?;
                member.timeout_until = until;
                self.world.store.put_member(member)?;
                self.shared.set_timeout(user_id, until);
                let env = caller.envelope(Event::MemberTimeout {
                    guild_id,
                    user_id,
                    until,
                });
                self.shared.for_each_viewer(None, |s| {
                    d.push(s, &env);
                    true
                });
                Reply::Done
            }
            other => {
                return Err(GatewayError::internal(format!(
                    "not a moderation command: {other:?}"
                )))
            }
        };
        Ok((reply, d))
    }
}
