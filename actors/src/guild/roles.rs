//! The guild actor's role commands: roles, members' roles and self-roles.

use switchboard_protocols::command::{Command, RolePatch};
use switchboard_protocols::event::Event;
use switchboard_protocols::model::Role;
use switchboard_protocols::permissions as perm;
use switchboard_protocols::{GatewayError, GatewayResult, Id, Refusal};

use super::commands::{clean_name, Outcome};
use super::{Deliveries, GuildActor};
use crate::world::{Caller, Reply};

impl GuildActor {
    pub(super) fn role_command(&mut self, caller: &Caller, command: Command) -> Outcome {
        let me = caller.id();
        let mut d = Deliveries::default();
        let reply = match command {
            Command::CreateRole {
                name,
                color,
                permissions,
                ..
            } => {
                self.require(me, perm::MANAGE_ROLES)?;
                self.check_grantable(me, permissions)?;
                let role = Role {
                    id: self.world.ids.next(),
                    guild_id: self.state.guild.id,
                    name: clean_name(&name, "Role name")?,
                    color: color & 0xFF_FFFF,
                    permissions: permissions & perm::ALL,
                    position: self.bottom_position(),
                    hoisted: false,
                    self_assignable: false,
                    description: String::new(),
                    category: None,
                };
                self.world.store.put_role(&role)?;
                self.state.roles.insert(role.id, role.clone());
                self.shared.set_roles(&self.state.roles);
                self.to_viewers(&mut d, caller, None, Event::GuildRoles(self.state.header()));
                Reply::Role(role)
            }
            Command::UpdateRole { role_id, patch } => {
                self.require(me, perm::MANAGE_ROLES)?;
                let role = self.patch_role(me, role_id, patch)?;
                self.to_viewers(&mut d, caller, None, Event::GuildRoles(self.state.header()));
                Reply::Role(role)
            }
            Command::DeleteRole { role_id } => {
                self.require(me, perm::MANAGE_ROLES)?;
                if role_id == self.state.guild.id {
                    return Err(GatewayError::invalid(
                        "The @everyone role cannot be deleted",
                    ));
                }
                let role = self
                    .state
                    .roles
                    .get(&role_id)
                    .ok_or_else(|| GatewayError::not_found("Unknown role"))?;
                self.check_manageable(me, role)?;
                self.state.roles.remove(&role_id);
                self.world.store.delete_role(role_id)?;
                for member in self.state.members.values_mut() {
                    if member.roles.contains(&role_id) {
                        member.roles.retain(|r| *r != role_id);
                        self.world.store.put_member(member)?;
                        self.shared.set_member(member.user_id, member.roles.clone());
                    }
                }
                self.shared.set_roles(&self.state.roles);
                self.to_viewers(&mut d, caller, None, Event::GuildRoles(self.state.header()));
                Reply::Done
            }
            Command::SetMemberRoles { user_id, roles, .. } => {
                // OriginChats gates this on `manage_users` (our
                // MODERATE_MEMBERS) where JAM gates it on MANAGE_ROLES;
                // either is enough, and the grant check below still keeps
                // a holder from handing out more than it has.
                self.require(me, 0)?;
                if self.shared.guild_bits(me) & (perm::MANAGE_ROLES | perm::MODERATE_MEMBERS) == 0 {
                    self.require(me, perm::MANAGE_ROLES)?;
                }
                for r in &roles {
                    self.state
                        .roles
                        .get(r)
                        .filter(|_| *r != self.state.guild.id)
                        .ok_or_else(|| GatewayError::not_found("Unknown role"))?;
                }
                let mut roles = roles;
                roles.sort();
                roles.dedup();
                self.check_member_roles(me, user_id, &roles)?;
                let member = self
                    .state
                    .members
                    .get_mut(&user_id)
                    .ok_or_else(|| GatewayError::not_found("Unknown member"))?;
                member.roles = roles.clone();
                self.world.store.put_member(member)?;
                self.shared.set_member(user_id, roles.clone());
                let event = Event::MemberRoles {
                    guild_id: self.state.guild.id,
                    user_id,
                    roles,
                };
                self.to_viewers(&mut d, caller, None, event);
                Reply::Done
            }
            Command::SelfRole { role_id, add, .. } => {
                self.require(me, 0)?;
                let role = self
                    .state
                    .roles
                    .get(&role_id)
                    .filter(|r| r.id != self.state.guild.id)
                    .ok_or_else(|| GatewayError::not_found("Unknown role"))?;
                if !role.self_assignable {
                    return Err(GatewayError::forbidden("This role is not self-assignable"));
                }
                let member = self
                    .state
                    .members
                    .get_mut(&me)
                    .ok_or_else(|| GatewayError::not_found("Unknown member"))?;
                let has = member.roles.contains(&role_id);
                if has == add {
                    return Err(GatewayError::conflict(if add {
                        "You already have this role"
                    } else {
                        "You don't have this role"
                    }));
                }
                if add {
                    member.roles.push(role_id);
                } else {
                    member.roles.retain(|r| *r != role_id);
                }
                let roles = member.roles.clone();
                self.world.store.put_member(member)?;
                self.shared.set_member(me, roles.clone());
                let event = Event::MemberRoles {
                    guild_id: self.state.guild.id,
                    user_id: me,
                    roles,
                };
                self.to_viewers(&mut d, caller, None, event);
                Reply::Done
            }
            other => {
                return Err(GatewayError::internal(format!(
                    "not a role command: {other:?}"
                )))
            }
        };
        Ok((reply, d))
    }

    /// Only holders of a bit (or administrators) may hand it out.
    fn check_grantable(&self, me: Id, bits: u64) -> GatewayResult<()> {
        let mine = self.shared.guild_bits(me);
        if bits & !mine != 0 {
            return Err(GatewayError::forbidden(
                "You cannot grant permissions you do not have",
            ));
        }
        Ok(())
    }

    /// Where a new role goes: below every other (above `@everyone`).
    fn bottom_position(&self) -> i32 {
        let below_all = self
            .state
            .roles
            .values()
            .filter(|r| r.id != self.state.guild.id)
            .map(|r| r.position.saturating_add(1))
            .max()
            .unwrap_or(1);
        below_all.max(self.state.roles.len() as i32)
    }

    /// `me` may give `user` exactly `roles`: never the owner's roles
    /// (unless `me` is the owner); another member's only when `me`
    /// outranks them; and every role added or taken away ranks below `me`
    /// and, when added, holds no bit `me` lacks.
    fn check_member_roles(&self, me: Id, user: Id, roles: &[Id]) -> GatewayResult<()> {
        let current = self
            .state
            .members
            .get(&user)
            .map(|m| m.roles.clone())
            .ok_or_else(|| GatewayError::not_found("Unknown member"))?;
        if user == self.state.guild.owner_id && !self.is_owner(me) {
            return Err(GatewayError::refused(
                Refusal::RoleHierarchy,
                "The owner's roles cannot be changed",
            ));
        }
        if user != me {
            self.check_outranks(me, user)?;
        }
        for r in roles.iter().filter(|r| !current.contains(r)) {
            if let Some(role) = self.state.roles.get(r) {
                self.check_manageable(me, role)?;
                self.check_grantable(me, role.permissions)?;
            }
        }
        for r in current.iter().filter(|r| !roles.contains(r)) {
            if let Some(role) = self.state.roles.get(r) {
                self.check_manageable(me, role)?;
            }
        }
        Ok(())
    }

    fn patch_role(&mut self, me: Id, role_id: Id, patch: RolePatch) -> GatewayResult<Role> {
        let mut role = self
            .state
            .roles
            .get(&role_id)
            .cloned()
            .ok_or_else(|| GatewayError::not_found("Unknown role"))?;
        self.check_manageable(me, &role)?;
        if let Some(name) = patch.name {
            if role_id == self.state.guild.id {
                return Err(GatewayError::invalid(
                    "The @everyone role cannot be renamed",
                ));
            }
            role.name = clean_name(&name, "Role name")?;
        }
        if let Some(color) = patch.color {
            role.color = color & 0xFF_FFFF;
        }
        if let Some(bits) = patch.permissions {
            self.check_grantable(me, bits & !role.permissions)?;
            role.permissions = bits & perm::ALL;
        }
        if let Some(position) = patch.position {
            self.check_position(me, position)?;
            role.position = position;
        }
        if let Some(hoisted) = patch.hoisted {
            role.hoisted = hoisted;
        }
        if let Some(s) = patch.self_assignable {
            role.self_assignable = s;
        }
        // Checked on the result, so that neither order of the two changes
        // lets anyone hand themselves these bits.
        if role.self_assignable
            && role.permissions & (perm::ADMINISTRATOR | perm::MANAGE_ROLES) != 0
        {
            return Err(GatewayError::invalid(format!(
                "Role '{}' cannot be made self-assignable",
                role.name
            )));
        }
        if let Some(d) = patch.description {
            role.description = d.chars().take(1024).collect();
        }
        if let Some(c) = patch.category {
            role.category = c;
        }
        self.world.store.put_role(&role)?;
        self.state.roles.insert(role.id, role.clone());
        self.shared.set_roles(&self.state.roles);
        Ok(role)
    }
}
