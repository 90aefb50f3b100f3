//! Recent message activity for the admin dashboard: messages per second
//! over the last ten minutes, and which channels were busiest.
//!
//! Both live under one short lock taken once per created message. Memory is
//! fixed: one slot per second, and per minute at most [`CHANNELS_PER_MINUTE`]
//! distinct channels (a flood across more channels than that is counted in
//! the per-second series but not ranked).

use std::collections::HashMap;

/// Seconds of history kept: ten minutes.
pub const HISTORY_SECONDS: usize = 600;
/// Minutes the channel ranking covers.
pub const TOP_MINUTES: usize = 10;
/// Distinct channels counted per minute.
pub const CHANNELS_PER_MINUTE: usize = 1024;

pub struct Activity {
    /// Messages per second; slot `s % HISTORY_SECONDS` holds second `s`.
    seconds: Vec<u32>,
    /// The newest second the slots were advanced to.
    last_second: u64,
    /// Messages per channel per minute; slot `m % TOP_MINUTES` holds minute `m`.
    minutes: Vec<HashMap<u64, u32>>,
    last_minute: u64,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            seconds: vec![0; HISTORY_SECONDS],
            last_second: 0,
            minutes: vec![HashMap::new(); TOP_MINUTES],
            last_minute: 0,
        }
    }
}

impl Activity {
    /// Clears the slots of the seconds and minutes that passed without a
    /// message, so a slot never reports a count from a previous lap.
    fn advance(&mut self, now_s: u64) {
        if now_s > self.last_second {
            let gap = (now_s - self.last_second).min(HISTORY_SECONDS as u64);
            for s in (now_s + 1 - gap)..=now_s {
                self.seconds[(s % HISTORY_SECONDS as u64) as usize] = 0;
            }
            self.last_second = now_s;
        }
        let now_m = now_s / 60;
        if now_m > self.last_minute {
            let gap = (now_m - self.last_minute).min(TOP_MINUTES as u64);
            for m in (now_m + 1 - gap)..=now_m {
                self.minutes[(m % TOP_MINUTES as u64) as usize].clear();
            }
            self.last_minute = now_m;
        }
    }

    pub fn record(&mut self, now_s: u64, channel: u64) {
        self.advance(now_s);
        let slot = &mut self.seconds[(now_s % HISTORY_SECONDS as u64) as usize];
        *slot = slot.saturating_add(1);
        let minute = &mut self.minutes[((now_s / 60) % TOP_MINUTES as u64) as usize];
        if let Some(n) = minute.get_mut(&channel) {
            *n = n.saturating_add(1);
        } else if minute.len() < CHANNELS_PER_MINUTE {
            minute.insert(channel, 1);
        }
    }

    /// Messages created during second `s` (0 when it is out of the window).
    pub fn count_at(&mut self, now_s: u64, s: u64) -> u32 {
        self.advance(now_s);
        if s > now_s || now_s - s >= HISTORY_SECONDS as u64 {
            return 0;
        }
        self.seconds[(s % HISTORY_SECONDS as u64) as usize]
    }

    /// Per-second counts, oldest first, ending with the current (still
    /// open) second; seconds before the start are left out.
    pub fn series(&mut self, now_s: u64) -> Vec<u32> {
        self.advance(now_s);
        let len = (now_s + 1).min(HISTORY_SECONDS as u64);
        ((now_s + 1 - len)..=now_s)
            .map(|s| self.seconds[(s % HISTORY_SECONDS as u64) as usize])
            .collect()
    }

    /// The busiest channels of the last [`TOP_MINUTES`] minutes, busiest
    /// first (ties: lower id first, so the order is stable between polls).
    pub fn top_channels(&mut self, now_s: u64, limit: usize) -> Vec<(u64, u64)> {
        self.advance(now_s);
        let mut totals: HashMap<u64, u64> = HashMap::new();
        for minute in &self.minutes {
            for (channel, n) in minute {
                *totals.entry(*channel).or_default() += u64::from(*n);
            }
        }
        let mut top: Vec<(u64, u64)> = totals.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(limit);
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_ends_at_now_and_forgets_old_laps() {
        let mut a = Activity::default();
        a.record(3, 1);
        a.record(3, 1);
        a.record(5, 2);
        assert_eq!(a.series(5), vec![0, 0, 0, 2, 0, 1]);
        assert_eq!(a.count_at(6, 5), 1);
        // A full lap later second 3's slot starts again from zero; second 5
        // is still inside the window.
        a.record(3 + HISTORY_SECONDS as u64, 1);
        let s = a.series(3 + HISTORY_SECONDS as u64);
        assert_eq!(s.len(), HISTORY_SECONDS);
        assert_eq!(*s.last().unwrap_or(&0), 1);
        assert_eq!(s.iter().sum::<u32>(), 2);
        // And once second 5 has left the window too, only the new one counts.
        assert_eq!(a.series(5 + HISTORY_SECONDS as u64).iter().sum::<u32>(), 1);
    }

    #[test]
    fn top_channels_rank_the_window_only() {
        let mut a = Activity::default();
        for _ in 0..3 {
            a.record(10, 7);
        }
        a.record(70, 8);
        a.record(70, 9);
        assert_eq!(a.top_channels(70, 2), vec![(7, 3), (8, 1)]);
        // Ten minutes on, minute 0 has left the window.
        assert_eq!(a.top_channels(10 * 60 + 5, 10), vec![(8, 1), (9, 1)]);
        assert!(a.top_channels(30 * 60, 10).is_empty());
    }

    #[test]
    fn distinct_channels_per_minute_are_bounded() {
        let mut a = Activity::default();
        for c in 0..(CHANNELS_PER_MINUTE as u64 + 50) {
            a.record(1, c);
        }
        assert_eq!(a.top_channels(1, usize::MAX).len(), CHANNELS_PER_MINUTE);
        assert_eq!(a.count_at(2, 1), CHANNELS_PER_MINUTE as u32 + 50);
    }
}
