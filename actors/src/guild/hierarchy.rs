//! The role hierarchy (docs/decisions.md, "Role hierarchy"): who may
//! manage which role, act on which member, and write which channel
//! overwrite. The guild owner passes every check here; everyone else,
//! administrators included, acts only strictly below their own highest
//! role, and never on the owner.

use std::collections::BTreeMap;

use switchboard_protocols::model::{Channel, Overwrite, OverwriteTarget, Role};
use switchboard_protocols::permissions::{self as perm, role_rank};
use switchboard_protocols::{GatewayError, GatewayResult, Id, Refusal};

use super::GuildActor;

/// The reference's words (OriginChats profile §7).
pub(super) const AT_OR_ABOVE: &str = "Cannot manage roles at or above your position";

impl GuildActor {
    pub(super) fn is_owner(&self, user: Id) -> bool {
        user == self.state.guild.owner_id
    }

    /// `me` may edit, rename, move, delete, hand out or take away `role`:
    /// it ranks strictly below `me`'s highest role.
    pub(super) fn check_manageable(&self, me: Id, role: &Role) -> GatewayResult<()> {
        if self.is_owner(me) || role_rank(self.state.guild.id, role) > self.shared.top_rank(me) {
            return Ok(());
        }
        Err(GatewayError::refused(Refusal::RoleHierarchy, AT_OR_ABOVE))
    }

    /// A role `me` moves to `position` lands strictly below `me`'s highest
    /// role (a lower position ranks higher).
    pub(super) fn check_position(&self, me: Id, position: i32) -> GatewayResult<()> {
        if self.is_owner(me) {
            return Ok(());
        }
        let top = self.shared.top_rank(me);
        if top.is_everyone() || position <= top.position() {
            return Err(GatewayError::refused(
                Refusal::RoleHierarchy,
                "Cannot move a role to or above your highest role",
            ));
        }
        Ok(())
    }

    /// `me` may act on another member `user` (moderate them, change their
    /// roles, their nickname, their overwrites): never on the owner, and
    /// only on members whose highest role ranks strictly below `me`'s.
    pub(super) fn check_outranks(&self, me: Id, user: Id) -> GatewayResult<()> {
        if user == self.state.guild.owner_id && me != user {
            return Err(GatewayError::refused(
                Refusal::RoleHierarchy,
                "Cannot act on the guild owner",
            ));
        }
        if self.is_owner(me) || self.shared.top_rank(user) > self.shared.top_rank(me) {
            return Ok(());
        }
        Err(GatewayError::refused(
            Refusal::RoleHierarchy,
            "Cannot act on a member whose highest role is at or above yours",
        ))
    }

    /// Who may write which overwrites on `channel` (`new` replacing its
    /// current ones). Nobody may allow ADMINISTRATOR through an overwrite.
    /// Beyond that, the owner may write anything; anyone else may change
    /// only bits they hold in the channel, only for roles below their
    /// highest role and members they outrank (not themselves). Overwrites
    /// left as they were are not checked again.
    pub(super) fn check_overwrites(
        &self,
        me: Id,
        channel: &Channel,
        new: &[Overwrite],
    ) -> GatewayResult<()> {
        if new.iter().any(|o| o.allow & perm::ADMINISTRATOR != 0) {
            return Err(GatewayError::forbidden(
                "ADMINISTRATOR cannot be allowed through a channel overwrite",
            ));
        }
        if self.is_owner(me) {
            return Ok(());
        }
        // Per target: (old allow, old deny, new allow, new deny).
        let mut diff: BTreeMap<(bool, Id), [u64; 4]> = BTreeMap::new();
        let key = |o: &Overwrite| (o.target == OverwriteTarget::Role, o.id);
        for o in &channel.overwrites {
            let e = diff.entry(key(o)).or_default();
            e[0] = o.allow;
            e[1] = o.deny;
        }
        for o in new {
            let e = diff.entry(key(o)).or_default();
            e[2] = o.allow;
            e[3] = o.deny;
        }
        let mine = self.shared.channel_bits(me, channel);
        for ((is_role, id), [a0, d0, a1, d1]) in diff {
            let changed = (a0 ^ a1) | (d0 ^ d1);
            if changed == 0 {
                continue;
            }
            if changed & !mine != 0 {
                return Err(GatewayError::forbidden(
                    "Overwrites may only allow or deny permissions you have",
                ));
            }
            if is_role {
                // A role deleted since may lose its overwrite.
                if let Some(role) = self.state.roles.get(&id) {
                    self.check_manageable(me, role)?;
                }
            } else if id == me {
                return Err(GatewayError::forbidden(
                    "Cannot set an overwrite for yourself",
                ));
            } else {
                self.check_outranks(me, id).map_err(|_| {
                    GatewayError::forbidden(
                        "Cannot set an overwrite for a member at or above your position",
                    )
                })?;
            }
        }
        Ok(())
    }
}
