//! Direct-message indexes: which channel two users share, and which DM and
//! group channels a user is in. The channels themselves are ordinary rows
//! in `channels` (see `channels.rs`).

use sled::transaction::Transactional;
use switchboard_protocols::model::{Channel, ChannelKind};
use switchboard_protocols::Id;

use super::{abort, id_at, key2, suffix_ids, tx, Store, StoreError};

/// `min ++ max`, so the pair is the same key whoever opens the DM.
pub(super) fn pair_key(a: Id, b: Id) -> [u8; 16] {
    key2(a.min(b), a.max(b))
}

/// The pair entry a DM channel owns, judged from its recipients
/// (one recipient: a note-to-self DM).
pub(super) fn dm_pair_key(c: &Channel) -> Option<[u8; 16]> {
    if c.kind != ChannelKind::Dm {
        return None;
    }
    match c.recipients.as_slice() {
        [a, b] => Some(pair_key(*a, *b)),
        [a] => Some(pair_key(*a, *a)),
        _ => None,
    }
}

impl Store {
    pub fn dm_channel(&self, a: Id, b: Id) -> Result<Option<Id>, StoreError> {
        self.inner
            .t
            .dm_pairs
            .get(pair_key(a, b))?
            .map(|v| id_at(&v, 0))
            .transpose()
    }

    /// Records the one DM channel of `a` and `b` and lists it for both.
    /// Conflict when the pair already has a different channel that still
    /// exists: two racing "open DM" requests must not leave one user's
    /// messages in a channel the other can no longer find (the loser should
    /// use [`Store::dm_channel`]). A pair left pointing at a deleted channel
    /// is simply replaced.
    pub fn put_dm_channel(&self, a: Id, b: Id, channel: Id) -> Result<(), StoreError> {
        let t = &self.t();
        let pair = pair_key(a, b);
        let value = channel.to_be_bytes();
        let trees = (&t.dm_pairs, &t.user_dms, &t.channels);
        tx(trees.transaction(|(pairs, user_dms, channels)| {
            if let Some(existing) = pairs.get(&pair[..])? {
                if existing.as_ref() != value.as_slice() && channels.get(&existing)?.is_some() {
                    return abort(Err(StoreError::Conflict(
                        "dm channel already exists".into(),
                    )));
                }
            }
            pairs.insert(&pair[..], &value[..])?;
            user_dms.insert(&key2(a, channel)[..], &[][..])?;
            user_dms.insert(&key2(b, channel)[..], &[][..])?;
            Ok(())
        }))
    }

    /// For group channels, which have no pair entry.
    pub fn add_user_dm(&self, user: Id, channel: Id) -> Result<(), StoreError> {
        self.t().user_dms.insert(key2(user, channel), &[][..])?;
        Ok(())
    }

    /// When a user leaves a group channel.
    pub fn remove_user_dm(&self, user: Id, channel: Id) -> Result<(), StoreError> {
        self.t().user_dms.remove(key2(user, channel))?;
        Ok(())
    }

    /// In channel-id (creation) order.
    pub fn dm_channels_of(&self, user: Id) -> Result<Vec<Id>, StoreError> {
        suffix_ids(self.t().user_dms.scan_prefix(user.to_be_bytes()), 8)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn dm_pair_is_order_independent() {
        let (_d, s) = open_tmp();
        assert_eq!(s.dm_channel(Id(1), Id(2)).unwrap(), None);
        s.put_dm_channel(Id(2), Id(1), Id(40)).unwrap();
        assert_eq!(s.dm_channel(Id(1), Id(2)).unwrap(), Some(Id(40)));
        assert_eq!(s.dm_channel(Id(2), Id(1)).unwrap(), Some(Id(40)));
        assert_eq!(s.dm_channel(Id(1), Id(3)).unwrap(), None);
        assert_eq!(s.dm_channels_of(Id(1)).unwrap(), vec![Id(40)]);
        assert_eq!(s.dm_channels_of(Id(2)).unwrap(), vec![Id(40)]);
        // Same channel again is fine; a different one only replaces a pair
        // whose channel is gone.
        s.put_dm_channel(Id(1), Id(2), Id(40)).unwrap();
        s.put_dm_channel(Id(1), Id(2), Id(41)).unwrap();
        assert_eq!(s.dm_channel(Id(1), Id(2)).unwrap(), Some(Id(41)));
        s.put_channel(&dm_channel(41, &[1, 2])).unwrap();
        let e = s.put_dm_channel(Id(1), Id(2), Id(42)).unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)));
        assert_eq!(s.dm_channel(Id(1), Id(2)).unwrap(), Some(Id(41)));
        assert_eq!(s.dm_channels_of(Id(3)).unwrap(), Vec::<Id>::new());
    }

    #[test]
    fn group_membership_index() {
        let (_d, s) = open_tmp();
        s.add_user_dm(Id(1), Id(50)).unwrap();
        s.add_user_dm(Id(1), Id(45)).unwrap();
        s.add_user_dm(Id(2), Id(50)).unwrap();
        assert_eq!(s.dm_channels_of(Id(1)).unwrap(), vec![Id(45), Id(50)]);
        s.remove_user_dm(Id(1), Id(50)).unwrap();
        assert_eq!(s.dm_channels_of(Id(1)).unwrap(), vec![Id(45)]);
        assert_eq!(s.dm_channels_of(Id(2)).unwrap(), vec![Id(50)]);
    }

    #[test]
    fn self_dm_has_a_pair_too() {
        let (_d, s) = open_tmp();
        let mut c = dm_channel(60, &[7]);
        c.kind = ChannelKind::Dm; // the fixture calls one recipient a group
        s.put_channel(&c).unwrap();
        s.put_dm_channel(Id(7), Id(7), Id(60)).unwrap();
        assert_eq!(s.dm_channel(Id(7), Id(7)).unwrap(), Some(Id(60)));
        s.delete_channel(Id(60)).unwrap();
        assert_eq!(s.dm_channel(Id(7), Id(7)).unwrap(), None);
        assert!(s.dm_channels_of(Id(7)).unwrap().is_empty());
    }
}
