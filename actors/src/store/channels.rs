//! Channels of every kind: guild channels are also indexed under their
//! guild, DM and group channels under their members (see `dms.rs`).

use sled::transaction::Transactional;
use switchboard_protocols::model::Channel;
use switchboard_protocols::Id;

use super::dms::dm_pair_key;
use super::{abort, decode, decode_opt, encode, key2, suffix_ids, tx, Counters, Store, StoreError};

impl Store {
    /// Insert or replace. Moving a channel to another guild (or out of one)
    /// moves its index entry in the same transaction.
    pub fn put_channel(&self, channel: &Channel) -> Result<(), StoreError> {
        let t = &self.t();
        let id = channel.id.to_be_bytes();
        let value = encode(channel)?;
        let trees = (&t.channels, &t.guild_channels);
        let created = tx(trees.transaction(|(channels, index)| {
            let old = channels.insert(&id[..], value.as_slice())?;
            let old_guild = match &old {
                Some(bytes) => abort(decode::<Channel>(bytes))?.guild_id,
                None => None,
            };
            if let Some(g) = old_guild.filter(|g| Some(*g) != channel.guild_id) {
                index.remove(&key2(g, channel.id)[..])?;
            }
            if let Some(g) = channel.guild_id {
                index.insert(&key2(g, channel.id)[..], &[][..])?;
            }
            Ok(old.is_none())
        }))?;
        if created {
            Counters::inc(&self.inner.counts.channels);
        }
        Ok(())
    }

    pub fn channel(&self, id: Id) -> Result<Option<Channel>, StoreError> {
        decode_opt(self.t().channels.get(id.to_be_bytes())?)
    }

    /// In id order; callers sort by category and `position`.
    pub fn channels_of(&self, guild: Id) -> Result<Vec<Channel>, StoreError> {
        let ids = suffix_ids(self.t().guild_channels.scan_prefix(guild.to_be_bytes()), 8)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.channel(id)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Removes the channel with its messages, pins, client refs and index
    /// entries. Messages go first, then the channel row together with its
    /// guild and DM index entries in one transaction: if this is cut short,
    /// the channel is still listed where it was and deleting it again
    /// finishes the job.
    ///
    /// DM index entries are found through `recipients`, so a user added
    /// with [`Store::add_user_dm`] should also be listed there.
    pub fn delete_channel(&self, id: Id) -> Result<(), StoreError> {
        self.purge_channel_messages(id)?;
        self.purge_channel_keys(id)?;
        let t = &self.t();
        let key = id.to_be_bytes();
        let trees = (&t.channels, &t.guild_channels, &t.dm_pairs, &t.user_dms);
        let removed = tx(
            trees.transaction(|(channels, guild_index, pairs, user_dms)| {
                let Some(old) = channels.remove(&key[..])? else {
                    return Ok(false);
                };
                let c: Channel = abort(decode(&old))?;
                if let Some(g) = c.guild_id {
                    guild_index.remove(&key2(g, id)[..])?;
                }
                for r in &c.recipients {
                    user_dms.remove(&key2(*r, id)[..])?;
                }
                if let Some(pair) = dm_pair_key(&c) {
                    // Only if the pair still points here: a newer DM channel
                    // for the same two users must survive.
                    if pairs.get(&pair[..])?.as_deref() == Some(&key[..]) {
                        pairs.remove(&pair[..])?;
                    }
                }
                Ok(true)
            }),
        )?;
        if removed {
            Counters::dec(&self.inner.counts.channels);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn channel_round_trip_and_guild_index() {
        let (_d, s) = open_tmp();
        let mut c = channel(20, Some(10));
        c.topic = "hello".into();
        s.put_channel(&c).unwrap();
        s.put_channel(&channel(21, Some(10))).unwrap();
        s.put_channel(&channel(22, Some(11))).unwrap();
        s.put_channel(&channel(23, None)).unwrap();
        assert_eq!(s.channel(Id(20)).unwrap(), Some(c.clone()));
        assert_eq!(
            s.channels_of(Id(10)).unwrap(),
            vec![c, channel(21, Some(10))]
        );
        assert_eq!(s.channel_count(), 4);

        // Moving a channel moves its index entry; replacing is not new.
        s.put_channel(&channel(21, Some(11))).unwrap();
        assert_eq!(s.channels_of(Id(10)).unwrap().len(), 1);
        assert_eq!(s.channels_of(Id(11)).unwrap().len(), 2);
        assert_eq!(s.channel_count(), 4);
    }

    #[test]
    fn delete_channel_cascades_only_its_own_rows() {
        let (_d, s) = open_tmp();
        s.put_channel(&channel(20, Some(10))).unwrap();
        s.put_channel(&channel(21, Some(10))).unwrap();
        for (ch, id) in [(20, 100), (20, 101), (21, 102)] {
            let mut m = message(ch, id, 1);
            m.client_ref = Some(format!("ref{id}"));
            s.put_message(&m).unwrap();
            s.set_pin(Id(ch), Id(id), true).unwrap();
        }
        s.delete_channel(Id(20)).unwrap();
        assert_eq!(s.channel(Id(20)).unwrap(), None);
        assert_eq!(s.channels_of(Id(10)).unwrap(), vec![channel(21, Some(10))]);
        assert!(s.history(Id(20), None, None, 10).unwrap().is_empty());
        assert!(s.pins_of(Id(20)).unwrap().is_empty());
        assert_eq!(s.channel_of_message(Id(100)).unwrap(), None);
        assert_eq!(
            s.message_by_client_ref(Id(20), Id(1), "ref100").unwrap(),
            None
        );
        assert_eq!(s.message_count(), 1);
        assert_eq!(s.channel_count(), 1);
        assert_eq!(s.channel_of_message(Id(102)).unwrap(), Some(Id(21)));
        assert_eq!(s.pins_of(Id(21)).unwrap(), vec![Id(102)]);
        assert!(s
            .message_by_client_ref(Id(21), Id(1), "ref102")
            .unwrap()
            .is_some());
        s.delete_channel(Id(20)).unwrap();
        assert_eq!(s.channel_count(), 1);
    }

    #[test]
    fn delete_dm_channel_clears_dm_indexes() {
        let (_d, s) = open_tmp();
        s.put_channel(&dm_channel(40, &[1, 2])).unwrap();
        s.put_dm_channel(Id(2), Id(1), Id(40)).unwrap();
        s.put_channel(&dm_channel(41, &[1, 2, 3])).unwrap();
        for u in [1, 2, 3] {
            s.add_user_dm(Id(u), Id(41)).unwrap();
        }
        assert_eq!(s.dm_channels_of(Id(1)).unwrap(), vec![Id(40), Id(41)]);
        s.delete_channel(Id(40)).unwrap();
        assert_eq!(s.dm_channel(Id(1), Id(2)).unwrap(), None);
        assert_eq!(s.dm_channels_of(Id(1)).unwrap(), vec![Id(41)]);
        s.delete_channel(Id(41)).unwrap();
        for u in [1, 2, 3] {
            assert!(s.dm_channels_of(Id(u)).unwrap().is_empty());
        }
        assert_eq!(s.channel_count(), 0);
    }
}
