//! Channel-key envelopes (JAM §3): `channel_keys` holds channel ‖ user →
//! [`KeyEnvelope`], opaque to the server.

use sled::Batch;
use switchboard_protocols::model::KeyEnvelope;
use switchboard_protocols::Id;

use super::{decode_opt, encode, key2, Store, StoreError};

impl Store {
    /// Stores envelopes, replacing each member's previous one, all at once.
    pub fn put_key_envelopes(&self, envelopes: &[KeyEnvelope]) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        for e in envelopes {
            batch.insert(&key2(e.channel_id, e.user_id)[..], encode(e)?);
        }
        self.t().channel_keys.apply_batch(batch)?;
        Ok(())
    }

    pub fn key_envelope(&self, channel: Id, user: Id) -> Result<Option<KeyEnvelope>, StoreError> {
        decode_opt(self.t().channel_keys.get(key2(channel, user))?)
    }

    pub(super) fn purge_channel_keys(&self, channel: Id) -> Result<(), StoreError> {
        super::remove_prefix(&self.t().channel_keys, &channel.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn env(channel: u64, user: u64, key: &str) -> KeyEnvelope {
        KeyEnvelope {
            channel_id: Id(channel),
            user_id: Id(user),
            ephemeral_public_key: key.into(),
            nonce: "n".into(),
            wrapped_key: "w".into(),
            sender_id: Id(1),
            created_at: 0,
        }
    }

    #[test]
    fn envelopes_replace_and_go_with_the_channel() {
        let (_d, s) = open_tmp();
        s.put_channel(&channel(20, Some(10))).unwrap();
        s.put_key_envelopes(&[env(20, 5, "a"), env(20, 6, "b")])
            .unwrap();
        s.put_key_envelopes(&[env(20, 5, "c")]).unwrap();
        assert_eq!(
            s.key_envelope(Id(20), Id(5)).unwrap(),
            Some(env(20, 5, "c"))
        );
        assert_eq!(
            s.key_envelope(Id(20), Id(6)).unwrap(),
            Some(env(20, 6, "b"))
        );
        assert_eq!(s.key_envelope(Id(21), Id(5)).unwrap(), None);
        s.delete_channel(Id(20)).unwrap();
        assert_eq!(s.key_envelope(Id(20), Id(6)).unwrap(), None);
    }
}
