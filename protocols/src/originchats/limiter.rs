//! The reference server's rate limiter (`handlers/rate_limiter.py`): a
//! sliding 60 s window, a burst limit over 10 s that starts a cooldown, and
//! manual timeouts. `message_new`, `message_edit` and `typing` share one
//! window per user. Time is passed in (seconds), so the algorithm is tested
//! without clocks.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub messages_per_minute: u32,
    pub burst_limit: u32,
    pub cooldown_seconds: u32,
}

/// A refused request: `{"cmd":"rate_limit","reason":...,"length":...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Denied {
    pub reason: String,
    /// Milliseconds until a request could pass.
    pub length_ms: u64,
}

/// One user's window.
#[derive(Debug, Clone, Default)]
pub struct Window {
    recent: VecDeque<f64>,
    cooldown_since: Option<f64>,
    timeout_until: Option<f64>,
}

fn ms(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1000.0).round() as u64
}

impl Window {
    /// Checks one request at `now` (seconds) and records it if allowed.
    pub fn check(&mut self, limits: &Limits, now: f64) -> Result<(), Denied> {
        if let Some(until) = self.timeout_until {
            if now < until {
                let left = until - now;
                return Err(Denied {
                    reason: format!("You are in timeout for {left:.1} more seconds"),
                    length_ms: ms(left),
                });
            }
            self.timeout_until = None;
        }
        while self.recent.front().is_some_and(|t| now - t >= 60.0) {
            self.recent.pop_front();
        }
        let cooldown = limits.cooldown_seconds as f64;
        if let Some(since) = self.cooldown_since {
            if now - since < cooldown {
                let left = cooldown - (now - since);
                return Err(Denied {
                    reason: format!("You are in cooldown for {left:.1} more seconds"),
                    length_ms: ms(left),
                });
            }
            self.cooldown_since = None;
        }
        if self.recent.len() >= limits.messages_per_minute as usize {
            let oldest = self.recent.front().copied().unwrap_or(now);
            let wait = 60.0 - (now - oldest);
            return Err(Denied {
                reason: format!("Rate limit exceeded. Wait {wait:.1} seconds"),
                length_ms: ms(wait),
            });
        }
        let burst = self.recent.iter().filter(|t| now - **t < 10.0).count();
        if burst >= limits.burst_limit as usize {
            self.cooldown_since = Some(now);
            return Err(Denied {
                reason: format!(
                    "Burst limit exceeded. You're in cooldown for {} seconds",
                    limits.cooldown_seconds
                ),
                length_ms: ms(cooldown),
            });
        }
        self.recent.push_back(now);
        Ok(())
    }

    /// `user_timeout`: refuse everything until `until`, and start afresh.
    pub fn set_timeout(&mut self, until: f64) {
        self.timeout_until = Some(until);
        self.recent.clear();
        self.cooldown_since = None;
    }

    /// `rate_limit_reset`: clears the window and the cooldown, not a timeout.
    pub fn reset(&mut self) {
        self.recent.clear();
        self.cooldown_since = None;
    }

    /// Requests counted in the last 60 s and in the last 10 s, and the
    /// seconds of cooldown left, at `now`.
    pub fn status(&self, limits: &Limits, now: f64) -> (usize, usize, f64) {
        let minute = self.recent.iter().filter(|t| now - **t < 60.0).count();
        let burst = self.recent.iter().filter(|t| now - **t < 10.0).count();
        let cooldown = self
            .cooldown_since
            .map(|s| (limits.cooldown_seconds as f64 - (now - s)).max(0.0))
            .unwrap_or(0.0);
        (minute, burst, cooldown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEFAULTS: Limits = Limits {
        messages_per_minute: 60,
        burst_limit: 10,
        cooldown_seconds: 30,
    };

    #[test]
    fn the_eleventh_in_ten_seconds_starts_a_cooldown() {
        let mut w = Window::default();
        for i in 0..10 {
            w.check(&DEFAULTS, i as f64 * 0.1).unwrap();
        }
        let d = w.check(&DEFAULTS, 1.0).unwrap_err();
        assert_eq!(
            d.reason,
            "Burst limit exceeded. You're in cooldown for 30 seconds"
        );
        assert_eq!(d.length_ms, 30_000);
        let d = w.check(&DEFAULTS, 11.0).unwrap_err();
        assert_eq!(d.reason, "You are in cooldown for 20.0 more seconds");
        assert_eq!(d.length_ms, 20_000);
        w.check(&DEFAULTS, 31.5).unwrap();
    }

    #[test]
    fn the_minute_window_slides() {
        let limits = Limits {
            messages_per_minute: 5,
            burst_limit: 100,
            cooldown_seconds: 30,
        };
        let mut w = Window::default();
        for i in 0..5 {
            w.check(&limits, i as f64).unwrap();
        }
        let d = w.check(&limits, 10.0).unwrap_err();
        assert_eq!(d.reason, "Rate limit exceeded. Wait 50.0 seconds");
        assert_eq!(d.length_ms, 50_000);
        // Denied requests are not recorded: at 60 s the first slot frees.
        w.check(&limits, 60.0).unwrap();
    }

    #[test]
    fn timeouts_and_resets() {
        let mut w = Window::default();
        w.set_timeout(100.0);
        let d = w.check(&DEFAULTS, 40.0).unwrap_err();
        assert_eq!(d.reason, "You are in timeout for 60.0 more seconds");
        w.reset();
        assert!(w.check(&DEFAULTS, 41.0).is_err(), "reset keeps the timeout");
        w.check(&DEFAULTS, 100.0).unwrap();
    }

    proptest! {
        #[test]
        fn never_more_than_the_limits_pass(gaps in proptest::collection::vec(0.0f64..3.0, 1..300)) {
            let limits = Limits { messages_per_minute: 20, burst_limit: 5, cooldown_seconds: 7 };
            let mut w = Window::default();
            let mut now = 0.0;
            let mut passed: Vec<f64> = Vec::new();
            for g in gaps {
                now += g;
                if w.check(&limits, now).is_ok() {
                    passed.push(now);
                }
                let minute = passed.iter().filter(|t| now - **t < 60.0).count();
                let burst = passed.iter().filter(|t| now - **t < 10.0).count();
                prop_assert!(minute <= 20);
                prop_assert!(burst <= 5);
            }
        }
    }
}
