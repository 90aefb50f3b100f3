//! The part of a guild's state that its channel and voice actors read on
//! every fan-out: who is online, who holds which roles. Only the guild
//! actor writes it; readers take short read locks.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use switchboard_protocols::model::{Channel, Role};
use switchboard_protocols::permissions::{self, channel_permissions, guild_permissions};
use switchboard_protocols::{ErrorKind, GatewayError, GatewayResult, Id};

use crate::audience::SessionHandle;

use super::GuildState;

pub struct GuildShared {
    pub guild_id: Id,
    owner: RwLock<Id>,
    roles: RwLock<Arc<HashMap<Id, Role>>>,
    /// Member → their roles besides `@everyone`.
    members: RwLock<HashMap<Id, Vec<Id>>>,
    /// Online sessions of members, by session id.
    sessions: RwLock<HashMap<u64, SessionHandle>>,
    /// Members timed out, until when (Unix ms).
    timeouts: RwLock<HashMap<Id, i64>>,
}

impl GuildShared {
    pub(crate) fn new(state: &GuildState) -> Self {
        GuildShared {
            guild_id: state.guild.id,
            owner: RwLock::new(state.guild.owner_id),
            roles: RwLock::new(Arc::new(state.roles.clone())),
            members: RwLock::new(
                state
                    .members
                    .iter()
                    .map(|(id, m)| (*id, m.roles.clone()))
                    .collect(),
            ),
            sessions: RwLock::new(HashMap::new()),
            timeouts: RwLock::new(
                state
                    .members
                    .values()
                    .filter_map(|m| m.timeout_until.map(|t| (m.user_id, t)))
                    .collect(),
            ),
        }
    }

    /// Until when `user` may not send, react or type, if that is still ahead.
    pub fn timed_out_until(&self, user: Id, now_ms: i64) -> Option<i64> {
        self.timeouts
            .read()
            .get(&user)
            .copied()
            .filter(|t| *t > now_ms)
    }

    /// Refuses a timed-out member's sends, reactions, typing and new
    /// threads.
    pub fn not_timed_out(&self, user: Id) -> GatewayResult<()> {
        let now = switchboard_protocols::time::now_ms();
        match self.timed_out_until(user, now) {
            Some(until) => Err(GatewayError::new(
                ErrorKind::RateLimited {
                    retry_after_ms: (until - now).max(0) as u64,
                },
                "You are timed out in this guild",
            )),
            None => Ok(()),
        }
    }

    pub(crate) fn set_timeout(&self, user: Id, until: Option<i64>) {
        match until {
            Some(t) => self.timeouts.write().insert(user, t),
            None => self.timeouts.write().remove(&user),
        };
    }

    pub fn is_member(&self, user: Id) -> bool {
        self.members.read().contains_key(&user)
    }

    /// Guild-level bits of `user`; 0 for non-members.
    pub fn guild_bits(&self, user: Id) -> u64 {
        let members = self.members.read();
        let Some(member_roles) = members.get(&user) else {
            return 0;
        };
        let roles = self.roles.read().clone();
        self.bits_with(&roles, user, member_roles, None)
    }

    /// Bits of `user` in `channel`; 0 for non-members.
    pub fn channel_bits(&self, user: Id, channel: &Channel) -> u64 {
        let members = self.members.read();
        let Some(member_roles) = members.get(&user) else {
            return 0;
        };
        let roles = self.roles.read().clone();
        self.bits_with(&roles, user, member_roles, Some(channel))
    }

    fn bits_with(
        &self,
        roles: &HashMap<Id, Role>,
        user: Id,
        member_roles: &[Id],
        channel: Option<&Channel>,
    ) -> u64 {
        let base = guild_permissions(
            *self.owner.read(),
            user,
            roles.get(&self.guild_id),
            member_roles.iter().filter_map(|r| roles.get(r)),
        );
        match channel {
            Some(c) => channel_permissions(base, self.guild_id, user, member_roles, c),
            None => base,
        }
    }

    /// Calls `f` for every online session whose user may view `channel`
    /// (every online member when `channel` is `None`). Returns the ids of
    /// sessions `f` rejected, so the guild actor can drop them.
    pub fn for_each_viewer(
        &self,
        channel: Option<&Channel>,
        mut f: impl FnMut(&SessionHandle) -> bool,
    ) -> Vec<u64> {
        let roles = self.roles.read().clone();
        let members = self.members.read();
        let sessions = self.sessions.read();
        let mut dead = Vec::new();
        // Sessions of one user share a verdict; users often have several.
        let mut verdicts: HashMap<Id, bool> = HashMap::new();
        for s in sessions.values() {
            let visible = *verdicts.entry(s.user_id).or_insert_with(|| {
                let Some(member_roles) = members.get(&s.user_id) else {
                    return false;
                };
                match channel {
                    None => true,
                    Some(c) => {
                        self.bits_with(&roles, s.user_id, member_roles, Some(c))
                            & permissions::VIEW_CHANNEL
                            != 0
                    }
                }
            });
            if visible && !f(s) {
                dead.push(s.id);
            }
        }
        dead
    }

    pub fn online_count(&self) -> usize {
        self.sessions.read().len()
    }

    pub(crate) fn add_session(&self, s: SessionHandle) {
        self.sessions.write().insert(s.id, s);
    }

    pub(crate) fn remove_sessions(&self, ids: &[u64]) {
        let mut sessions = self.sessions.write();
        for id in ids {
            sessions.remove(id);
        }
    }

    pub(crate) fn remove_user_sessions(&self, user: Id) -> Vec<SessionHandle> {
        let mut sessions = self.sessions.write();
        let ids: Vec<u64> = sessions
            .values()
            .filter(|s| s.user_id == user)
            .map(|s| s.id)
            .collect();
        ids.iter().filter_map(|id| sessions.remove(id)).collect()
    }

    pub(crate) fn all_sessions(&self) -> Vec<SessionHandle> {
        self.sessions.read().values().cloned().collect()
    }

    pub(crate) fn set_roles(&self, roles: &HashMap<Id, Role>) {
        *self.roles.write() = Arc::new(roles.clone());
    }

    pub(crate) fn set_member(&self, user: Id, roles: Vec<Id>) {
        self.members.write().insert(user, roles);
    }

    pub(crate) fn remove_member(&self, user: Id) {
        self.members.write().remove(&user);
    }
}

impl GuildShared {
    /// Every member's id.
    pub fn member_ids(&self) -> Vec<Id> {
        self.members.read().keys().copied().collect()
    }
}

impl GuildShared {
    /// The guild's roles as they are now.
    pub fn roles(&self) -> Arc<HashMap<Id, Role>> {
        self.roles.read().clone()
    }

    /// A member's roles besides `@everyone`; `None` for non-members.
    pub fn member_roles(&self, user: Id) -> Option<Vec<Id>> {
        self.members.read().get(&user).cloned()
    }

    pub fn owner(&self) -> Id {
        *self.owner.read()
    }

    /// The rank of `user`'s highest role (`@everyone`'s for members
    /// without roles and for non-members); see [`permissions::Rank`].
    pub fn top_rank(&self, user: Id) -> permissions::Rank {
        let roles = self.roles.read().clone();
        let members = self.members.read();
        let mine = members.get(&user).map(Vec::as_slice).unwrap_or_default();
        permissions::top_rank(self.guild_id, mine.iter().filter_map(|r| roles.get(r)))
    }
}
