//! V0 payloads: msgpack maps with string keys, signed with HMAC-SHA3-512.
//!
//! Every payload carries `timestamp` (unix seconds) and `nonce` (u64;
//! `nouce`, the draft's spelling, is accepted too).

use hmac::{Hmac, Mac};
use rmpv::Value;
use sha3::Sha3_512;

type HmacSha3 = Hmac<Sha3_512>;

/// Deepest nesting of maps and arrays in a payload, its own map counting
/// as 1. The draft's deepest command (CH_APPEND: map, array of messages,
/// map, array of acks) needs 4; the bound keeps recursion (decoding,
/// cloning, dropping) shallow whatever a client sends.
pub const MAX_DEPTH: usize = 32;

/// rmpv spends 2 units of its own depth budget per map or array and up to
/// 3 on a leaf (value, string, bytes), so this budget decodes every payload
/// within [`MAX_DEPTH`] and stops far deeper ones before they recurse.
const RMPV_BUDGET: usize = 2 * MAX_DEPTH + 4;

/// A decoded payload: its key/value pairs in wire order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Payload(pub Vec<(String, Value)>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is not msgpack")]
    NotMsgpack,
    #[error("payload is not a map with string keys")]
    NotAMap,
    #[error("bytes after the payload's map")]
    Trailing,
    #[error("maps and arrays nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Levels of maps and arrays in `v` (0 for a scalar).
fn depth(v: &Value) -> usize {
    let inner = match v {
        Value::Array(items) => items.iter().map(depth).max(),
        Value::Map(pairs) => pairs.iter().map(|(k, v)| depth(k).max(depth(v))).max(),
        _ => return 0,
    };
    1 + inner.unwrap_or(0)
}

impl Payload {
    pub fn decode(bytes: &[u8]) -> Result<Payload, PayloadError> {
        let mut rd = bytes;
        let value = match rmpv::decode::read_value_with_max_depth(&mut rd, RMPV_BUDGET) {
            Ok(v) => v,
            Err(rmpv::decode::Error::DepthLimitExceeded) => return Err(PayloadError::TooDeep),
            Err(_) => return Err(PayloadError::NotMsgpack),
        };
        if !rd.is_empty() {
            return Err(PayloadError::Trailing);
        }
        if depth(&value) > MAX_DEPTH {
            return Err(PayloadError::TooDeep);
        }
        let Value::Map(pairs) = value else {
            return Err(PayloadError::NotAMap);
        };
        let mut out = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let Value::String(k) = k else {
                return Err(PayloadError::NotAMap);
            };
            let Some(k) = k.into_str() else {
                return Err(PayloadError::NotAMap);
            };
            out.push((k, v));
        }
        Ok(Payload(out))
    }

    pub fn encode(&self) -> Vec<u8> {
        let map = Value::Map(
            self.0
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
                .collect(),
        );
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = rmpv::encode::write_value(&mut out, &map);
        out
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_string(), value.into()));
    }

    pub fn timestamp(&self) -> Option<i64> {
        self.get("timestamp").and_then(Value::as_i64)
    }

    pub fn nonce(&self) -> Option<u64> {
        self.get("nonce")
            .or_else(|| self.get("nouce"))
            .and_then(Value::as_u64)
    }
}

/// HMAC-SHA3-512 of `payload` under `key`.
pub fn sign(key: &[u8], payload: &[u8]) -> [u8; 64] {
    // HMAC accepts keys of any length.
    let mut mac = <HmacSha3 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

/// Checks a signature in constant time.
pub fn verify(key: &[u8], payload: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(mut mac) = <HmacSha3 as Mac>::new_from_slice(key) else {
        return false;
    };
    mac.update(payload);
    mac.verify_slice(sig).is_ok()
}
