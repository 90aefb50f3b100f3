//! Roles and guild membership.
//!
//! Both are indexed from two sides (`guild ++ role`, `user ++ guild`) so
//! that "everything in this guild" and "every guild of this user" are
//! prefix scans; each write updates row and index in one transaction.

use sled::transaction::Transactional;
use switchboard_protocols::model::{Member, Role};
use switchboard_protocols::Id;

use super::{abort, decode, decode_opt, encode, key2, suffix_ids, tx, values, Store, StoreError};

impl Store {
    pub fn put_role(&self, role: &Role) -> Result<(), StoreError> {
        let t = &self.t();
        let id = role.id.to_be_bytes();
        let index = key2(role.guild_id, role.id);
        let value = encode(role)?;
        let trees = (&t.roles, &t.guild_roles);
        tx(trees.transaction(|(roles, guild_roles)| {
            if let Some(old) = roles.insert(&id[..], value.as_slice())? {
                let old: Role = abort(decode(&old))?;
                if old.guild_id != role.guild_id {
                    guild_roles.remove(&key2(old.guild_id, role.id)[..])?;
                }
            }
            guild_roles.insert(&index[..], &[][..])?;
            Ok(())
        }))
    }

    pub fn role(&self, id: Id) -> Result<Option<Role>, StoreError> {
        decode_opt(self.t().roles.get(id.to_be_bytes())?)
    }

    /// In id order; callers sort by `position`.
    pub fn roles_of(&self, guild: Id) -> Result<Vec<Role>, StoreError> {
        let ids = suffix_ids(self.t().guild_roles.scan_prefix(guild.to_be_bytes()), 8)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.role(id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Members keep the role id in their `roles` list; the guild actor
    /// strips it, because it also has to tell clients.
    pub fn delete_role(&self, id: Id) -> Result<(), StoreError> {
        let t = &self.t();
        let key = id.to_be_bytes();
        let trees = (&t.roles, &t.guild_roles);
        tx(trees.transaction(|(roles, guild_roles)| {
            if let Some(old) = roles.remove(&key[..])? {
                let old: Role = abort(decode(&old))?;
                guild_roles.remove(&key2(old.guild_id, id)[..])?;
            }
            Ok(())
        }))
    }

    pub fn put_member(&self, member: &Member) -> Result<(), StoreError> {
        let t = &self.t();
        let mkey = key2(member.guild_id, member.user_id);
        let ukey = key2(member.user_id, member.guild_id);
        let value = encode(member)?;
        let trees = (&t.members, &t.user_guilds);
        tx(trees.transaction(|(members, user_guilds)| {
            members.insert(&mkey[..], value.as_slice())?;
            user_guilds.insert(&ukey[..], &[][..])?;
            Ok(())
        }))
    }

    pub fn member(&self, guild: Id, user: Id) -> Result<Option<Member>, StoreError> {
        decode_opt(self.t().members.get(key2(guild, user))?)
    }

    pub fn members_of(&self, guild: Id) -> Result<Vec<Member>, StoreError> {
        values(self.t().members.scan_prefix(guild.to_be_bytes()))
    }

    pub fn delete_member(&self, guild: Id, user: Id) -> Result<(), StoreError> {
        let t = &self.t();
        let mkey = key2(guild, user);
        let ukey = key2(user, guild);
        let trees = (&t.members, &t.user_guilds);
        tx(trees.transaction(|(members, user_guilds)| {
            members.remove(&mkey[..])?;
            user_guilds.remove(&ukey[..])?;
            Ok(())
        }))
    }

    /// In guild-id (creation) order.
    pub fn guilds_of_user(&self, user: Id) -> Result<Vec<Id>, StoreError> {
        suffix_ids(self.t().user_guilds.scan_prefix(user.to_be_bytes()), 8)
    }
}

/// Bans: `bans` holds guild ‖ user → (), one entry per banned user.
impl Store {
    pub fn set_ban(&self, guild: Id, user: Id, banned: bool) -> Result<(), StoreError> {
        let key = key2(guild, user);
        if banned {
            self.t().bans.insert(key, &[][..])?;
        } else {
            self.t().bans.remove(key)?;
        }
        Ok(())
    }

    pub fn is_banned(&self, guild: Id, user: Id) -> Result<bool, StoreError> {
        Ok(self.t().bans.contains_key(key2(guild, user))?)
    }

    pub fn bans_of(&self, guild: Id) -> Result<Vec<Id>, StoreError> {
        super::suffix_ids(self.t().bans.scan_prefix(guild.to_be_bytes()), 8)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn role_round_trip_and_delete() {
        let (_d, s) = open_tmp();
        s.put_role(&role(5, 10)).unwrap();
        s.put_role(&role(6, 10)).unwrap();
        s.put_role(&role(7, 11)).unwrap();
        let mut r = role(5, 10);
        r.permissions = 0xff;
        s.put_role(&r).unwrap();
        assert_eq!(s.role(Id(5)).unwrap(), Some(r.clone()));
        assert_eq!(s.roles_of(Id(10)).unwrap(), vec![r, role(6, 10)]);
        s.delete_role(Id(5)).unwrap();
        s.delete_role(Id(5)).unwrap();
        assert_eq!(s.role(Id(5)).unwrap(), None);
        assert_eq!(s.roles_of(Id(10)).unwrap(), vec![role(6, 10)]);
        assert_eq!(s.roles_of(Id(11)).unwrap(), vec![role(7, 11)]);
    }

    #[test]
    fn member_round_trip_and_both_indexes() {
        let (_d, s) = open_tmp();
        let mut m = member(10, 1);
        m.roles = vec![Id(5)];
        m.nick = Some("nick".into());
        s.put_member(&m).unwrap();
        s.put_member(&member(10, 2)).unwrap();
        s.put_member(&member(11, 1)).unwrap();
        assert_eq!(s.member(Id(10), Id(1)).unwrap(), Some(m.clone()));
        assert_eq!(s.member(Id(12), Id(1)).unwrap(), None);
        assert_eq!(s.members_of(Id(10)).unwrap(), vec![m, member(10, 2)]);
        assert_eq!(s.guilds_of_user(Id(1)).unwrap(), vec![Id(10), Id(11)]);
        s.delete_member(Id(10), Id(1)).unwrap();
        assert_eq!(s.member(Id(10), Id(1)).unwrap(), None);
        assert_eq!(s.guilds_of_user(Id(1)).unwrap(), vec![Id(11)]);
        assert_eq!(s.members_of(Id(10)).unwrap(), vec![member(10, 2)]);
    }
}
