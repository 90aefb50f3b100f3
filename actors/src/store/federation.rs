//! Federation state kept across restarts: the per-peer outbox, the ids of
//! bodies already received, which local messages mirror a peer's, and the
//! bridges made over REST.
//!
//! Keys start with the peer's domain and a 0 byte (domains never contain
//! one), so one peer's rows are one prefix scan.

use switchboard_protocols::time::now_ms;
use switchboard_protocols::Id;

use super::{id_at, Store, StoreError};

/// How long a received body's id is remembered (JAM §4: 24 h).
pub const SEEN_FOR_MS: i64 = 24 * 3600 * 1000;

fn prefix(domain: &str) -> Vec<u8> {
    let mut k = domain.as_bytes().to_vec();
    k.push(0);
    k
}

fn keyed(domain: &str, tail: &[u8]) -> Vec<u8> {
    let mut k = prefix(domain);
    k.extend_from_slice(tail);
    k
}

/// A bridge made over REST: `channel` here is `remote_channel` on `peer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBridge {
    pub channel: Id,
    pub peer: String,
    pub remote_channel: Id,
}

impl Store {
    /// Queues an outgoing body for `peer`; `seq` orders the queue.
    pub fn fed_outbox_push(&self, peer: &str, seq: Id, item: &[u8]) -> Result<(), StoreError> {
        self.inner
            .t
            .fed_outbox
            .insert(keyed(peer, &seq.to_be_bytes()), item)?;
        Ok(())
    }

    /// The oldest queued body for `peer`, with its sequence number.
    pub fn fed_outbox_first(&self, peer: &str) -> Result<Option<(Id, Vec<u8>)>, StoreError> {
        let p = prefix(peer);
        match self.t().fed_outbox.scan_prefix(&p).next() {
            Some(kv) => {
                let (k, v) = kv?;
                Ok(Some((id_at(&k, p.len())?, v.to_vec())))
            }
            None => Ok(None),
        }
    }

    pub fn fed_outbox_remove(&self, peer: &str, seq: Id) -> Result<(), StoreError> {
        self.inner
            .t
            .fed_outbox
            .remove(keyed(peer, &seq.to_be_bytes()))?;
        Ok(())
    }

    /// How many bodies wait for `peer` (a scan: start-up only).
    pub fn fed_outbox_len(&self, peer: &str) -> usize {
        self.t().fed_outbox.scan_prefix(prefix(peer)).count()
    }

    /// Whether a body `id` from `origin` arrived in the last 24 h.
    pub fn fed_seen(&self, origin: &str, id: &str) -> Result<bool, StoreError> {
        Ok(match self.t().fed_seen.get(keyed(origin, id.as_bytes()))? {
            Some(v) => id_at(&v, 0).is_ok_and(|at| now_ms() - at.0 as i64 <= SEEN_FOR_MS),
            None => false,
        })
    }

    pub fn fed_mark_seen(&self, origin: &str, id: &str) -> Result<(), StoreError> {
        let at = Id(now_ms().max(0) as u64);
        self.inner
            .t
            .fed_seen
            .insert(keyed(origin, id.as_bytes()), &at.to_be_bytes()[..])?;
        Ok(())
    }

    /// Forgets received ids older than 24 h; returns how many went.
    pub fn fed_forget_seen(&self) -> Result<usize, StoreError> {
        let t = &self.t().fed_seen;
        let now = now_ms();
        let mut gone = 0;
        for kv in t.iter() {
            let (k, v) = kv?;
            let old = id_at(&v, 0).map_or(true, |at| now - at.0 as i64 > SEEN_FOR_MS);
            if old {
                t.remove(k)?;
                gone += 1;
            }
        }
        Ok(gone)
    }

    /// Records that local message `local` mirrors message `remote` of
    /// `peer`, both ways.
    pub fn fed_put_mirror(&self, peer: &str, remote: Id, local: Id) -> Result<(), StoreError> {
        let t = &self.t();
        t.fed_mirrors
            .insert(keyed(peer, &remote.to_be_bytes()), &local.to_be_bytes()[..])?;
        t.fed_mirror_of
            .insert(local.to_be_bytes(), keyed(peer, &remote.to_be_bytes()))?;
        Ok(())
    }

    /// The local message mirroring `peer`'s message `remote`.
    pub fn fed_mirror(&self, peer: &str, remote: Id) -> Result<Option<Id>, StoreError> {
        match self
            .inner
            .t
            .fed_mirrors
            .get(keyed(peer, &remote.to_be_bytes()))?
        {
            Some(v) => Ok(Some(id_at(&v, 0)?)),
            None => Ok(None),
        }
    }

    /// The peer and remote id a local message mirrors, if it is a mirror.
    pub fn fed_mirror_of(&self, local: Id) -> Result<Option<(String, Id)>, StoreError> {
        let Some(v) = self.t().fed_mirror_of.get(local.to_be_bytes())? else {
            return Ok(None);
        };
        let Some(zero) = v.iter().position(|b| *b == 0) else {
            return Err(StoreError::Decode("federation mirror key".into()));
        };
        let peer = String::from_utf8_lossy(&v[..zero]).into_owned();
        Ok(Some((peer, id_at(&v, zero + 1)?)))
    }

    pub fn fed_put_bridge(&self, b: &StoredBridge) -> Result<(), StoreError> {
        let mut key = b.channel.to_be_bytes().to_vec();
        key.extend_from_slice(b.peer.as_bytes());
        self.inner
            .t
            .fed_bridges
            .insert(key, &b.remote_channel.to_be_bytes()[..])?;
        Ok(())
    }

    pub fn fed_remove_bridge(&self, channel: Id, peer: &str) -> Result<bool, StoreError> {
        let mut key = channel.to_be_bytes().to_vec();
        key.extend_from_slice(peer.as_bytes());
        Ok(self.t().fed_bridges.remove(key)?.is_some())
    }

    pub fn fed_bridges(&self) -> Result<Vec<StoredBridge>, StoreError> {
        let mut out = Vec::new();
        for kv in self.t().fed_bridges.iter() {
            let (k, v) = kv?;
            out.push(StoredBridge {
                channel: id_at(&k, 0)?,
                peer: String::from_utf8_lossy(k.get(8..).unwrap_or_default()).into_owned(),
                remote_channel: id_at(&v, 0)?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::open_tmp;
    use super::*;

    #[test]
    fn the_outbox_is_ordered_per_peer() {
        let (_d, s) = open_tmp();
        s.fed_outbox_push("b", Id(2), b"two").unwrap();
        s.fed_outbox_push("b", Id(1), b"one").unwrap();
        s.fed_outbox_push("bb", Id(0), b"other peer").unwrap();
        assert_eq!(s.fed_outbox_len("b"), 2);
        assert_eq!(
            s.fed_outbox_first("b").unwrap(),
            Some((Id(1), b"one".to_vec()))
        );
        s.fed_outbox_remove("b", Id(1)).unwrap();
        assert_eq!(
            s.fed_outbox_first("b").unwrap(),
            Some((Id(2), b"two".to_vec()))
        );
        s.fed_outbox_remove("b", Id(2)).unwrap();
        assert_eq!(s.fed_outbox_first("b").unwrap(), None);
        assert_eq!(s.fed_outbox_len("bb"), 1);
    }

    #[test]
    fn seen_ids_and_mirrors_round_trip() {
        let (_d, s) = open_tmp();
        assert!(!s.fed_seen("a", "7").unwrap());
        s.fed_mark_seen("a", "7").unwrap();
        assert!(s.fed_seen("a", "7").unwrap());
        assert!(!s.fed_seen("b", "7").unwrap());
        assert_eq!(s.fed_forget_seen().unwrap(), 0);

        s.fed_put_mirror("a", Id(10), Id(99)).unwrap();
        assert_eq!(s.fed_mirror("a", Id(10)).unwrap(), Some(Id(99)));
        assert_eq!(s.fed_mirror("b", Id(10)).unwrap(), None);
        assert_eq!(s.fed_mirror_of(Id(99)).unwrap(), Some(("a".into(), Id(10))));
        assert_eq!(s.fed_mirror_of(Id(10)).unwrap(), None);
    }

    #[test]
    fn bridges_round_trip() {
        let (_d, s) = open_tmp();
        let b = StoredBridge {
            channel: Id(5),
            peer: "b.example".into(),
            remote_channel: Id(77),
        };
        s.fed_put_bridge(&b).unwrap();
        assert_eq!(s.fed_bridges().unwrap(), vec![b.clone()]);
        assert!(s.fed_remove_bridge(Id(5), "b.example").unwrap());
        assert!(!s.fed_remove_bridge(Id(5), "b.example").unwrap());
        assert!(s.fed_bridges().unwrap().is_empty());
    }
}
