//! Messages, their indexes and pins.
//!
//! Rows are keyed `channel ++ message`: message ids are snowflakes, so key
//! order is time order (paging lives in `history.rs`).

use sled::transaction::Transactional;
use switchboard_protocols::model::Message;
use switchboard_protocols::Id;

use super::{
    abort, decode, decode_opt, encode, id_at, key2, remove_prefix, suffix_ids, tx, Counters, Store,
    StoreError,
};

/// `channel ++ author ++ ref`: a client ref is only unique per sender and
/// channel, and the variable-length part goes last so keys cannot collide.
fn ref_key(channel: Id, author: Id, client_ref: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + client_ref.len());
    k.extend_from_slice(&key2(channel, author));
    k.extend_from_slice(client_ref.as_bytes());
    k
}

impl Store {
    /// Insert or replace, with its id → channel entry, its client ref and
    /// its pin entry (which follows `pinned`) in one transaction.
    ///
    /// Conflict when the client ref already names a different message: the
    /// caller normally checks [`Store::message_by_client_ref`] first, and
    /// this turns a racing duplicate send into an error instead of a second
    /// copy of the message.
    pub fn put_message(&self, m: &Message) -> Result<(), StoreError> {
        let t = &self.t();
        let key = key2(m.channel_id, m.id);
        let id = m.id.to_be_bytes();
        let ch = m.channel_id.to_be_bytes();
        let value = encode(m)?;
        let new_ref = m
            .client_ref
            .as_deref()
            .map(|r| ref_key(m.channel_id, m.author_id, r));
        let trees = (&t.messages, &t.message_channel, &t.client_refs, &t.pins);
        let created = tx(trees.transaction(|(messages, by_id, refs, pins)| {
            if let Some(rk) = &new_ref {
                if let Some(holder) = refs.get(rk.as_slice())? {
                    if holder.as_ref() != id.as_slice() {
                        return abort(Err(StoreError::Conflict("client_ref already used".into())));
                    }
                }
            }
            let old = messages.insert(&key[..], value.as_slice())?;
            let mut was_pinned = false;
            if let Some(bytes) = &old {
                let old: Message = abort(decode(bytes))?;
                was_pinned = old.pinned;
                if let Some(r) = old.client_ref.as_deref() {
                    let old_ref = ref_key(m.channel_id, old.author_id, r);
                    if Some(&old_ref) != new_ref.as_ref()
                        && refs.get(old_ref.as_slice())?.as_deref() == Some(&id[..])
                    {
                        refs.remove(old_ref.as_slice())?;
                    }
                }
            }
            by_id.insert(&id[..], &ch[..])?;
            if let Some(rk) = &new_ref {
                refs.insert(rk.as_slice(), &id[..])?;
            }
            // Only a pin change touches the pins tree: most writes are new,
            // unpinned messages, and each tree in a transaction costs.
            if m.pinned {
                pins.insert(&key[..], &[][..])?;
            } else if was_pinned {
                pins.remove(&key[..])?;
            }
            Ok(old.is_none())
        }))?;
        if created {
            Counters::inc(&self.inner.counts.messages);
        }
        Ok(())
    }

    pub fn message(&self, channel: Id, id: Id) -> Result<Option<Message>, StoreError> {
        decode_opt(self.t().messages.get(key2(channel, id))?)
    }

    /// For dialects that address a message by id alone (edits, reactions).
    pub fn channel_of_message(&self, id: Id) -> Result<Option<Id>, StoreError> {
        self.inner
            .t
            .message_channel
            .get(id.to_be_bytes())?
            .map(|v| id_at(&v, 0))
            .transpose()
    }

    /// The message an earlier send with this ref produced, so a retried
    /// send is answered with it instead of being stored twice.
    pub fn message_by_client_ref(
        &self,
        channel: Id,
        author: Id,
        client_ref: &str,
    ) -> Result<Option<Message>, StoreError> {
        match self
            .inner
            .t
            .client_refs
            .get(ref_key(channel, author, client_ref))?
        {
            Some(id) => self.message(channel, id_at(&id, 0)?),
            None => Ok(None),
        }
    }

    /// Removes the message with its indexes and pin; returns what was
    /// removed so the caller can tell clients (and knows it existed).
    pub fn delete_message(&self, channel: Id, id: Id) -> Result<Option<Message>, StoreError> {
        let t = &self.t();
        let key = key2(channel, id);
        let idb = id.to_be_bytes();
        let chb = channel.to_be_bytes();
        let trees = (&t.messages, &t.message_channel, &t.client_refs, &t.pins);
        let removed = tx(trees.transaction(|(messages, by_id, refs, pins)| {
            let Some(bytes) = messages.remove(&key[..])? else {
                return Ok(None);
            };
            let m: Message = abort(decode(&bytes))?;
            if by_id.get(&idb[..])?.as_deref() == Some(&chb[..]) {
                by_id.remove(&idb[..])?;
            }
            if let Some(r) = m.client_ref.as_deref() {
                let rk = ref_key(channel, m.author_id, r);
                if refs.get(rk.as_slice())?.as_deref() == Some(&idb[..]) {
                    refs.remove(rk.as_slice())?;
                }
            }
            pins.remove(&key[..])?;
            Ok(Some(m))
        }))?;
        if removed.is_some() {
            Counters::dec(&self.inner.counts.messages);
        }
        Ok(removed)
    }

    /// Pins or unpins, keeping the message's own `pinned` flag in step with
    /// the pin index. Returns false (and pins nothing) when the message
    /// does not exist, so no pin can outlive or predate its message.
    pub fn set_pin(&self, channel: Id, message: Id, pinned: bool) -> Result<bool, StoreError> {
        let t = &self.t();
        let key = key2(channel, message);
        let trees = (&t.messages, &t.pins);
        tx(trees.transaction(|(messages, pins)| {
            let Some(bytes) = messages.get(&key[..])? else {
                pins.remove(&key[..])?;
                return Ok(false);
            };
            let mut m: Message = abort(decode(&bytes))?;
            if m.pinned != pinned {
                m.pinned = pinned;
                messages.insert(&key[..], abort(encode(&m))?)?;
            }
            if pinned {
                pins.insert(&key[..], &[][..])?;
            } else {
                pins.remove(&key[..])?;
            }
            Ok(true)
        }))
    }

    /// Pinned message ids, oldest first.
    pub fn pins_of(&self, channel: Id) -> Result<Vec<Id>, StoreError> {
        suffix_ids(self.t().pins.scan_prefix(channel.to_be_bytes()), 8)
    }

    /// Every message of a channel with its indexes; for `delete_channel`.
    /// Each id → channel entry goes before its message row, because the row
    /// is how a re-run would find the entry again.
    pub(super) fn purge_channel_messages(&self, channel: Id) -> Result<(), StoreError> {
        let t = &self.t();
        let prefix = channel.to_be_bytes();
        loop {
            let keys = t
                .messages
                .scan_prefix(prefix)
                .keys()
                .take(1024)
                .collect::<Result<Vec<_>, _>>()?;
            if keys.is_empty() {
                break;
            }
            for k in keys {
                let id = id_at(&k, 8)?;
                // Only if it still points here; the outcome does not matter.
                let _ = t.message_channel.compare_and_swap(
                    id.to_be_bytes(),
                    Some(&prefix[..]),
                    None::<&[u8]>,
                )?;
                if t.messages.remove(&k)?.is_some() {
                    Counters::dec(&self.inner.counts.messages);
                }
            }
        }
        remove_prefix(&t.client_refs, &prefix)?;
        remove_prefix(&t.pins, &prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn message_round_trip_edit_and_counts() {
        let (_d, s) = open_tmp();
        let mut m = message(20, 7, 1);
        m.add_reaction("👍", Id(2));
        s.put_message(&m).unwrap();
        assert_eq!(s.message(Id(20), Id(7)).unwrap(), Some(m.clone()));
        assert_eq!(s.channel_of_message(Id(7)).unwrap(), Some(Id(20)));
        m.content = "edited".into();
        m.edited_at = Some(99);
        s.put_message(&m).unwrap();
        assert_eq!(s.message(Id(20), Id(7)).unwrap(), Some(m));
        assert_eq!(s.message(Id(21), Id(7)).unwrap(), None);
        assert_eq!(s.message_count(), 1);
    }

    #[test]
    fn client_ref_makes_sends_idempotent() {
        let (_d, s) = open_tmp();
        let mut m = message(20, 7, 1);
        m.client_ref = Some("01HZXULID".into());
        s.put_message(&m).unwrap();
        assert_eq!(
            s.message_by_client_ref(Id(20), Id(1), "01HZXULID").unwrap(),
            Some(m.clone())
        );
        assert_eq!(
            s.message_by_client_ref(Id(20), Id(2), "01HZXULID").unwrap(),
            None
        );
        assert_eq!(
            s.message_by_client_ref(Id(21), Id(1), "01HZXULID").unwrap(),
            None
        );
        assert_eq!(
            s.message_by_client_ref(Id(20), Id(1), "01HZXULI").unwrap(),
            None
        );

        // A second message claiming the same ref is refused, nothing stored.
        let mut dup = message(20, 8, 1);
        dup.client_ref = m.client_ref.clone();
        assert!(matches!(s.put_message(&dup), Err(StoreError::Conflict(_))));
        assert_eq!(s.message(Id(20), Id(8)).unwrap(), None);
        assert_eq!(s.message_count(), 1);
        // The same ref from another author is a different send.
        dup.author_id = Id(2);
        s.put_message(&dup).unwrap();

        // Changing the ref on edit frees the old one.
        m.client_ref = Some("other".into());
        s.put_message(&m).unwrap();
        assert_eq!(
            s.message_by_client_ref(Id(20), Id(1), "01HZXULID").unwrap(),
            None
        );
        assert_eq!(
            s.message_by_client_ref(Id(20), Id(1), "other")
                .unwrap()
                .unwrap()
                .id,
            Id(7)
        );
    }

    #[test]
    fn delete_message_removes_indexes_and_pin() {
        let (_d, s) = open_tmp();
        let mut m = message(20, 7, 1);
        m.client_ref = Some("r".into());
        s.put_message(&m).unwrap();
        s.put_message(&message(20, 8, 1)).unwrap();
        assert!(s.set_pin(Id(20), Id(7), true).unwrap());
        m.pinned = true;
        assert_eq!(s.delete_message(Id(20), Id(7)).unwrap(), Some(m));
        assert_eq!(s.delete_message(Id(20), Id(7)).unwrap(), None);
        assert_eq!(s.message(Id(20), Id(7)).unwrap(), None);
        assert_eq!(s.channel_of_message(Id(7)).unwrap(), None);
        assert_eq!(s.message_by_client_ref(Id(20), Id(1), "r").unwrap(), None);
        assert!(s.pins_of(Id(20)).unwrap().is_empty());
        assert_eq!(s.message_count(), 1);
    }

    #[test]
    fn pins_follow_the_message_flag() {
        let (_d, s) = open_tmp();
        for i in [7, 8, 9] {
            s.put_message(&message(20, i, 1)).unwrap();
        }
        assert!(s.set_pin(Id(20), Id(9), true).unwrap());
        assert!(s.set_pin(Id(20), Id(7), true).unwrap());
        assert!(!s.set_pin(Id(20), Id(99), true).unwrap());
        assert_eq!(s.pins_of(Id(20)).unwrap(), vec![Id(7), Id(9)]);
        assert!(s.message(Id(20), Id(7)).unwrap().unwrap().pinned);
        assert!(s.set_pin(Id(20), Id(7), false).unwrap());
        assert!(!s.message(Id(20), Id(7)).unwrap().unwrap().pinned);
        // Writing the message with `pinned` set pins it too.
        let mut m = message(20, 8, 1);
        m.pinned = true;
        s.put_message(&m).unwrap();
        assert_eq!(s.pins_of(Id(20)).unwrap(), vec![Id(8), Id(9)]);
        assert!(s.pins_of(Id(21)).unwrap().is_empty());
    }
}
