//! Guilds, their categories and invites, and the guild-wide cascade delete.

use switchboard_protocols::model::{Category, Guild, Invite};
use switchboard_protocols::Id;

use super::{
    decode, decode_opt, encode, key2, remove_prefix, suffix_ids, values, Counters, Store,
    StoreError,
};

impl Store {
    pub fn put_guild(&self, guild: &Guild) -> Result<(), StoreError> {
        let old = self
            .inner
            .t
            .guilds
            .insert(guild.id.to_be_bytes(), encode(guild)?)?;
        if old.is_none() {
            Counters::inc(&self.inner.counts.guilds);
        }
        Ok(())
    }

    pub fn guild(&self, id: Id) -> Result<Option<Guild>, StoreError> {
        decode_opt(self.t().guilds.get(id.to_be_bytes())?)
    }

    pub fn list_guilds(&self) -> Result<Vec<Guild>, StoreError> {
        values(self.t().guilds.iter())
    }

    /// Removes the guild and everything that only makes sense inside it.
    /// Children go first and the guild row last: every child is found by a
    /// guild-id prefix, so if this is interrupted, running it again finishes
    /// the job instead of leaving unreachable rows behind.
    pub fn delete_guild(&self, id: Id) -> Result<(), StoreError> {
        let t = &self.t();
        let prefix = id.to_be_bytes();

        for channel in suffix_ids(t.guild_channels.scan_prefix(prefix), 8)? {
            self.delete_channel(channel)?;
        }
        // Index entries whose channel row was already gone.
        remove_prefix(&t.guild_channels, &prefix)?;

        remove_prefix(&t.categories, &prefix)?;

        for role in suffix_ids(t.guild_roles.scan_prefix(prefix), 8)? {
            self.delete_role(role)?;
        }
        remove_prefix(&t.guild_roles, &prefix)?;

        for user in suffix_ids(t.members.scan_prefix(prefix), 8)? {
            self.delete_member(id, user)?;
        }

        // Invites are keyed by code, not guild: a scan, but guild deletion
        // is rare and invites are few.
        let mut codes = Vec::new();
        for kv in t.invites.iter() {
            let (k, v) = kv?;
            if decode::<Invite>(&v)?.guild_id == id {
                codes.push(k);
            }
        }
        for k in codes {
            t.invites.remove(k)?;
        }

        if t.guilds.remove(prefix)?.is_some() {
            Counters::dec(&self.inner.counts.guilds);
        }
        Ok(())
    }

    pub fn put_category(&self, category: &Category) -> Result<(), StoreError> {
        let key = key2(category.guild_id, category.id);
        self.t().categories.insert(key, encode(category)?)?;
        Ok(())
    }

    pub fn delete_category(&self, guild: Id, id: Id) -> Result<(), StoreError> {
        self.t().categories.remove(key2(guild, id))?;
        Ok(())
    }

    /// In id order; clients sort by `position` themselves.
    pub fn categories_of(&self, guild: Id) -> Result<Vec<Category>, StoreError> {
        values(self.t().categories.scan_prefix(guild.to_be_bytes()))
    }

    pub fn put_invite(&self, invite: &Invite) -> Result<(), StoreError> {
        self.inner
            .t
            .invites
            .insert(invite.code.as_bytes(), encode(invite)?)?;
        Ok(())
    }

    pub fn invite(&self, code: &str) -> Result<Option<Invite>, StoreError> {
        decode_opt(self.t().invites.get(code.as_bytes())?)
    }

    pub fn delete_invite(&self, code: &str) -> Result<(), StoreError> {
        self.t().invites.remove(code.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn guild_category_invite_round_trips() {
        let (_d, s) = open_tmp();
        let g = guild(10, 1);
        s.put_guild(&g).unwrap();
        s.put_guild(&g).unwrap();
        assert_eq!(s.guild(Id(10)).unwrap(), Some(g.clone()));
        assert_eq!(s.list_guilds().unwrap(), vec![g]);
        assert_eq!(s.guild_count(), 1);

        s.put_category(&category(30, 10)).unwrap();
        s.put_category(&category(31, 10)).unwrap();
        s.put_category(&category(32, 11)).unwrap();
        let ids: Vec<_> = s
            .categories_of(Id(10))
            .unwrap()
            .iter()
            .map(|c| c.id.0)
            .collect();
        assert_eq!(ids, vec![30, 31]);
        s.delete_category(Id(10), Id(30)).unwrap();
        assert_eq!(s.categories_of(Id(10)).unwrap(), vec![category(31, 10)]);

        s.put_invite(&invite("AbC", 10)).unwrap();
        assert_eq!(s.invite("AbC").unwrap(), Some(invite("AbC", 10)));
        assert_eq!(s.invite("abc").unwrap(), None);
        s.delete_invite("AbC").unwrap();
        assert_eq!(s.invite("AbC").unwrap(), None);
    }

    #[test]
    fn delete_guild_cascades_and_spares_other_guilds() {
        let (_d, s) = open_tmp();
        for g in [10, 11] {
            s.put_guild(&guild(g, 1)).unwrap();
            s.put_category(&category(g * 100, g)).unwrap();
            s.put_channel(&channel(g * 100 + 1, Some(g))).unwrap();
            s.put_role(&role(g * 100 + 2, g)).unwrap();
            s.put_member(&member(g, 1)).unwrap();
            s.put_member(&member(g, 2)).unwrap();
            s.put_invite(&invite(&format!("inv{g}"), g)).unwrap();
            let mut m = message(g * 100 + 1, g * 1000, 1);
            m.client_ref = Some("r".into());
            m.pinned = true;
            s.put_message(&m).unwrap();
        }
        assert_eq!(s.message_count(), 2);
        assert_eq!(s.channel_count(), 2);

        s.delete_guild(Id(10)).unwrap();

        assert_eq!(s.guild(Id(10)).unwrap(), None);
        assert!(s.categories_of(Id(10)).unwrap().is_empty());
        assert!(s.channels_of(Id(10)).unwrap().is_empty());
        assert_eq!(s.channel(Id(1001)).unwrap(), None);
        assert!(s.roles_of(Id(10)).unwrap().is_empty());
        assert_eq!(s.role(Id(1002)).unwrap(), None);
        assert!(s.members_of(Id(10)).unwrap().is_empty());
        assert_eq!(s.guilds_of_user(Id(1)).unwrap(), vec![Id(11)]);
        assert_eq!(s.invite("inv10").unwrap(), None);
        assert_eq!(s.message(Id(1001), Id(10000)).unwrap(), None);
        assert_eq!(s.channel_of_message(Id(10000)).unwrap(), None);
        assert_eq!(s.message_by_client_ref(Id(1001), Id(1), "r").unwrap(), None);
        assert!(s.pins_of(Id(1001)).unwrap().is_empty());

        assert_eq!(s.guild_count(), 1);
        assert_eq!(s.channel_count(), 1);
        assert_eq!(s.message_count(), 1);
        assert!(s.guild(Id(11)).unwrap().is_some());
        assert_eq!(s.channels_of(Id(11)).unwrap().len(), 1);
        assert_eq!(s.roles_of(Id(11)).unwrap().len(), 1);
        assert_eq!(s.members_of(Id(11)).unwrap().len(), 2);
        assert!(s.invite("inv11").unwrap().is_some());
        assert_eq!(s.pins_of(Id(1101)).unwrap(), vec![Id(11000)]);

        // Idempotent: a second run over a half-deleted guild is harmless.
        s.delete_guild(Id(10)).unwrap();
        assert_eq!(s.guild_count(), 1);
    }
}
