//! Snowflake ids: time-ordered `u64`s shared by every entity.
//!
//! Layout: 42 bits of milliseconds since 2024-01-01T00:00:00Z, 10 worker bits,
//! 12 sequence bits. Big-endian bytes sort by creation time, so history pages
//! are range scans in the store. JSON carries ids as decimal strings.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds of 2024-01-01T00:00:00Z since the Unix epoch.
pub const EPOCH_MS: u64 = 1_704_067_200_000;
const WORKER_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id(pub u64);

impl Id {
    pub const ZERO: Id = Id(0);

    pub fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    pub fn from_be_slice(bytes: &[u8]) -> Option<Id> {
        let arr: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
        Some(Id(u64::from_be_bytes(arr)))
    }

    /// Unix milliseconds at which this id was minted.
    pub fn timestamp_ms(self) -> i64 {
        ((self.0 >> (WORKER_BITS + SEQ_BITS)) + EPOCH_MS) as i64
    }

    /// The smallest id minted at `unix_ms`; used for time-bounded range scans.
    pub fn floor_at(unix_ms: i64) -> Id {
        let ms = (unix_ms.max(EPOCH_MS as i64) as u64) - EPOCH_MS;
        Id(ms << (WORKER_BITS + SEQ_BITS))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl FromStr for Id {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<u64>().map(Id)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(&self.0)
        } else {
            s.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an id as a decimal string or an unsigned integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                u64::try_from(v)
                    .map(Id)
                    .map_err(|_| E::custom("negative id"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                v.parse::<u64>()
                    .map(Id)
                    .map_err(|_| E::custom("id is not a decimal number"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Mints ids; one per process, shared by reference.
pub struct IdGenerator {
    worker: u64,
    /// Last minted value; each new id is strictly greater, so ids stay
    /// unique and ordered even when the clock steps back.
    last: AtomicU64,
}

impl IdGenerator {
    pub fn new(worker: u16) -> Self {
        IdGenerator {
            worker: (worker as u64) & ((1 << WORKER_BITS) - 1),
            last: AtomicU64::new(0),
        }
    }

    pub fn next_at(&self, unix_ms: i64) -> Id {
        let ms = (unix_ms.max(EPOCH_MS as i64) as u64) - EPOCH_MS;
        let candidate = (ms << (WORKER_BITS + SEQ_BITS)) | (self.worker << SEQ_BITS);
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = if candidate > prev {
                candidate
            } else {
                prev + 1
            };
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Id(next),
                Err(actual) => prev = actual,
            }
        }
    }

    pub fn next(&self) -> Id {
        self.next_at(crate::time::now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_strictly_increasing_and_time_ordered() {
        let g = IdGenerator::new(1);
        let a = g.next_at(EPOCH_MS as i64 + 5);
        let b = g.next_at(EPOCH_MS as i64 + 5);
        let c = g.next_at(EPOCH_MS as i64 + 1); // clock stepped back
        assert!(a < b && b < c);
        assert_eq!(a.timestamp_ms(), EPOCH_MS as i64 + 5);
        assert!(a.to_be_bytes() < b.to_be_bytes());
    }

    #[test]
    fn json_is_a_decimal_string_and_accepts_numbers() {
        assert_eq!(serde_json::to_string(&Id(42)).unwrap(), "\"42\"");
        assert_eq!(serde_json::from_str::<Id>("\"42\"").unwrap(), Id(42));
        assert_eq!(serde_json::from_str::<Id>("42").unwrap(), Id(42));
        assert!(serde_json::from_str::<Id>("\"x\"").is_err());
        assert!(serde_json::from_str::<Id>("-1").is_err());
    }
}
