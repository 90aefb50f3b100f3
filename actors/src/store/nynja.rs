//! Persistent MQTT sessions (`clean_session=false`): publishes for a NYNJA
//! client that is away wait here, per ClientId, until it reconnects.

use switchboard_protocols::time::now_ms;
use switchboard_protocols::Id;

use super::{Store, StoreError};

/// Most publishes one client's queue holds; the oldest go first beyond it.
pub const NYNJA_QUEUE_LIMIT: usize = 1000;
/// How long a queued publish is kept (the original broker's 2 h).
pub const NYNJA_QUEUE_EXPIRY_MS: i64 = 2 * 3600 * 1000;

fn prefix(client_id: &str) -> Vec<u8> {
    let mut k = client_id.as_bytes().to_vec();
    k.push(0);
    k
}

impl Store {
    /// Queues `payload` on `topic` for `client_id`; `seq` orders the queue.
    pub fn nynja_queue_push(
        &self,
        client_id: &str,
        seq: Id,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), StoreError> {
        let t = &self.t().nynja_outbox;
        let mut key = prefix(client_id);
        key.extend_from_slice(&seq.to_be_bytes());
        let mut value = now_ms().to_be_bytes().to_vec();
        value.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        value.extend_from_slice(topic.as_bytes());
        value.extend_from_slice(payload);
        t.insert(key, value)?;
        let held = t.scan_prefix(prefix(client_id)).count();
        if held > NYNJA_QUEUE_LIMIT {
            let over: Vec<_> = t
                .scan_prefix(prefix(client_id))
                .keys()
                .take(held - NYNJA_QUEUE_LIMIT)
                .collect::<Result<_, _>>()?;
            for k in over {
                t.remove(k)?;
            }
        }
        Ok(())
    }

    /// Takes everything queued for `client_id` that has not expired,
    /// oldest first.
    pub fn nynja_queue_take(&self, client_id: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let t = &self.t().nynja_outbox;
        let now = now_ms();
        let mut out = Vec::new();
        for kv in t.scan_prefix(prefix(client_id)) {
            let (k, v) = kv?;
            t.remove(&k)?;
            if v.len() < 10 {
                continue;
            }
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&v[..8]);
            if now - i64::from_be_bytes(ts) > NYNJA_QUEUE_EXPIRY_MS {
                continue;
            }
            let n = u16::from_be_bytes([v[8], v[9]]) as usize;
            if v.len() < 10 + n {
                continue;
            }
            let topic = String::from_utf8_lossy(&v[10..10 + n]).into_owned();
            out.push((topic, v[10 + n..].to_vec()));
        }
        Ok(out)
    }

    /// Forgets a client's queue (`clean_session=true`).
    pub fn nynja_queue_clear(&self, client_id: &str) -> Result<(), StoreError> {
        let t = &self.t().nynja_outbox;
        let keys: Vec<_> = t
            .scan_prefix(prefix(client_id))
            .keys()
            .collect::<Result<_, _>>()?;
        for k in keys {
            t.remove(k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::open_tmp;
    use super::*;

    #[test]
    fn a_queue_per_client_in_order() {
        let (_dir, s) = open_tmp();
        s.nynja_queue_push("emqttd_1", Id(2), "p2p/a/b", b"two")
            .unwrap();
        s.nynja_queue_push("emqttd_1", Id(1), "ses/a", b"one")
            .unwrap();
        s.nynja_queue_push("emqttd_10", Id(3), "ses/x", b"other")
            .unwrap();
        let got = s.nynja_queue_take("emqttd_1").unwrap();
        assert_eq!(
            got,
            vec![
                ("ses/a".to_string(), b"one".to_vec()),
                ("p2p/a/b".to_string(), b"two".to_vec())
            ]
        );
        assert!(s.nynja_queue_take("emqttd_1").unwrap().is_empty());
        s.nynja_queue_clear("emqttd_10").unwrap();
        assert!(s.nynja_queue_take("emqttd_10").unwrap().is_empty());
    }

    #[test]
    fn the_queue_is_bounded() {
        let (_dir, s) = open_tmp();
        for i in 0..(NYNJA_QUEUE_LIMIT as u64 + 5) {
            s.nynja_queue_push("c", Id(i + 1), "t", &i.to_be_bytes())
                .unwrap();
        }
        let got = s.nynja_queue_take("c").unwrap();
        assert_eq!(got.len(), NYNJA_QUEUE_LIMIT);
        assert_eq!(got[0].1, 5u64.to_be_bytes().to_vec());
    }
}
