//! Replay protection: a payload is accepted once, and only within the
//! window around the server clock. Nonces are remembered per account for
//! the length of the window (every connection of an account shares them).

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;
use switchboard_protocols::v0::REPLAY_WINDOW_SECS;
use switchboard_protocols::Id;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    Stale,
    Reused,
}

#[derive(Default)]
pub struct ReplayGuard {
    seen: Mutex<HashMap<Id, VecDeque<(i64, u64)>>>,
}

impl ReplayGuard {
    /// Accepts `(timestamp, nonce)` from `user` at `now` (unix seconds),
    /// or says why not.
    pub fn check(&self, user: Id, timestamp: i64, nonce: u64, now: i64) -> Result<(), Replay> {
        if (timestamp - now).abs() > REPLAY_WINDOW_SECS {
            return Err(Replay::Stale);
        }
        let mut seen = self.seen.lock();
        let list = seen.entry(user).or_default();
        while list
            .front()
            .is_some_and(|(t, _)| *t < now - 2 * REPLAY_WINDOW_SECS)
        {
            list.pop_front();
        }
        if list.iter().any(|(_, n)| *n == nonce) {
            return Err(Replay::Reused);
        }
        list.push_back((now, nonce));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_and_reused_payloads_are_refused() {
        let g = ReplayGuard::default();
        let (u, now) = (Id(1), 1_000_000);
        assert_eq!(g.check(u, now - 61, 1, now), Err(Replay::Stale));
        assert_eq!(g.check(u, now + 61, 1, now), Err(Replay::Stale));
        assert_eq!(g.check(u, now - 60, 1, now), Ok(()));
        assert_eq!(g.check(u, now, 1, now + 5), Err(Replay::Reused));
        // Another account may use the same nonce.
        assert_eq!(g.check(Id(2), now, 1, now), Ok(()));
        // Long after the window, the memory is dropped.
        assert_eq!(g.check(u, now + 500, 1, now + 500), Ok(()));
    }
}
