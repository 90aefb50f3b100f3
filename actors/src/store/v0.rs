//! V0 message ids: clients name messages by the ULID they made
//! (`msg_id`), without saying which channel; this index finds the message.

use switchboard_protocols::Id;

use super::{id_at, key2, Store, StoreError};

impl Store {
    pub fn put_v0_msg(&self, msg_id: &str, channel: Id, message: Id) -> Result<(), StoreError> {
        self.inner
            .t
            .v0_msg_ids
            .insert(msg_id.as_bytes(), &key2(channel, message)[..])?;
        Ok(())
    }

    /// The channel and message a V0 `msg_id` names.
    pub fn v0_msg(&self, msg_id: &str) -> Result<Option<(Id, Id)>, StoreError> {
        match self.t().v0_msg_ids.get(msg_id.as_bytes())? {
            Some(v) => Ok(Some((id_at(&v, 0)?, id_at(&v, 8)?))),
            None => Ok(None),
        }
    }
}
