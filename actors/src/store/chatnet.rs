//! Friendships (made by accepted chat-network invites), pending invites,
//! and the chat-network mailbox: events for a user with no subscribed
//! chat-network socket wait here until the next `subscribe`.

use switchboard_protocols::Id;

use super::{key2, suffix_ids, Store, StoreError};

/// Most events one user's mailbox holds; the oldest go first beyond it.
pub const OUTBOX_LIMIT: usize = 10_000;

impl Store {
    /// Makes `a` and `b` friends (both directions).
    pub fn put_friendship(&self, a: Id, b: Id) -> Result<(), StoreError> {
        let t = &self.t().friendships;
        t.insert(key2(a, b), &[][..])?;
        t.insert(key2(b, a), &[][..])?;
        Ok(())
    }

    pub fn are_friends(&self, a: Id, b: Id) -> Result<bool, StoreError> {
        Ok(self.t().friendships.contains_key(key2(a, b))?)
    }

    /// In id order.
    pub fn friends_of(&self, user: Id) -> Result<Vec<Id>, StoreError> {
        suffix_ids(self.t().friendships.scan_prefix(user.to_be_bytes()), 8)
    }

    /// `from` invited `to`; the invite waits for an answer.
    pub fn put_friend_request(&self, from: Id, to: Id) -> Result<(), StoreError> {
        self.inner
            .t
            .friend_requests
            .insert(key2(from, to), &[][..])?;
        Ok(())
    }

    /// Removes the invite `from` → `to`; true if there was one.
    pub fn take_friend_request(&self, from: Id, to: Id) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .t
            .friend_requests
            .remove(key2(from, to))?
            .is_some())
    }

    /// Marks `user` as someone who uses chat-network, so messages from
    /// other dialects wait for them while they are away.
    pub fn mark_chatnet_user(&self, user: Id) -> Result<(), StoreError> {
        self.inner
            .t
            .chatnet_users
            .insert(user.to_be_bytes(), &[][..])?;
        Ok(())
    }

    pub fn is_chatnet_user(&self, user: Id) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .t
            .chatnet_users
            .contains_key(user.to_be_bytes())?)
    }

    /// Appends one encoded event to `user`'s mailbox under `seq` (an
    /// increasing id, so the mailbox reads back in order).
    pub fn outbox_push(&self, user: Id, seq: Id, event: &[u8]) -> Result<(), StoreError> {
        let t = &self.t().chatnet_outbox;
        t.insert(key2(user, seq), event)?;
        let mut held = t.scan_prefix(user.to_be_bytes()).keys();
        let over = t
            .scan_prefix(user.to_be_bytes())
            .count()
            .saturating_sub(OUTBOX_LIMIT);
        for _ in 0..over {
            if let Some(k) = held.next() {
                t.remove(k?)?;
            }
        }
        Ok(())
    }

    /// Everything waiting for `user`, oldest first, with the keys to pass
    /// to [`Store::outbox_remove`] once delivered.
    pub fn outbox_of(&self, user: Id) -> Result<Vec<(sled::IVec, sled::IVec)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.t().chatnet_outbox.scan_prefix(user.to_be_bytes()) {
            out.push(kv?);
        }
        Ok(out)
    }

    pub fn outbox_remove(&self, key: &[u8]) -> Result<(), StoreError> {
        self.t().chatnet_outbox.remove(key)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::open_tmp;
    use switchboard_protocols::Id;

    #[test]
    fn friendships_go_both_ways() {
        let (_dir, s) = open_tmp();
        s.put_friendship(Id(1), Id(2)).unwrap();
        assert!(s.are_friends(Id(2), Id(1)).unwrap());
        assert!(!s.are_friends(Id(1), Id(3)).unwrap());
        assert_eq!(s.friends_of(Id(1)).unwrap(), vec![Id(2)]);
    }

    #[test]
    fn requests_are_taken_once() {
        let (_dir, s) = open_tmp();
        s.put_friend_request(Id(1), Id(2)).unwrap();
        assert!(!s.take_friend_request(Id(2), Id(1)).unwrap());
        assert!(s.take_friend_request(Id(1), Id(2)).unwrap());
        assert!(!s.take_friend_request(Id(1), Id(2)).unwrap());
    }

    #[test]
    fn the_mailbox_keeps_order_per_user() {
        let (_dir, s) = open_tmp();
        s.outbox_push(Id(1), Id(20), b"b").unwrap();
        s.outbox_push(Id(1), Id(10), b"a").unwrap();
        s.outbox_push(Id(2), Id(15), b"x").unwrap();
        let got: Vec<Vec<u8>> = s
            .outbox_of(Id(1))
            .unwrap()
            .into_iter()
            .map(|(_, v)| v.to_vec())
            .collect();
        assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec()]);
        for (k, _) in s.outbox_of(Id(1)).unwrap() {
            s.outbox_remove(&k).unwrap();
        }
        assert!(s.outbox_of(Id(1)).unwrap().is_empty());
        assert_eq!(s.outbox_of(Id(2)).unwrap().len(), 1);
    }
}
