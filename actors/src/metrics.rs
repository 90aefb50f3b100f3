//! Process-wide counters read by the admin endpoint and `/metrics`.
//! Plain atomics: updated from many threads, read rarely.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use switchboard_protocols::Dialect;
use switchboard_protocols::Id;

mod activity;
use activity::Activity;
pub use activity::{HISTORY_SECONDS, TOP_MINUTES};

/// Upper bounds (seconds) of the fan-out latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

pub struct Metrics {
    started: Instant,
    connections: [AtomicI64; 5],
    messages_in: [AtomicU64; 5],
    /// Events handed to session mailboxes.
    deliveries: AtomicU64,
    /// Messages created (any dialect, REST included).
    messages_created: AtomicU64,
    slow_consumers: AtomicU64,
    /// Connections turned away by `connections_per_ip`.
    connections_refused: AtomicU64,
    /// Requests refused by the per-user or per-address rate.
    rate_limited: AtomicU64,
    fanout_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    fanout_count: AtomicU64,
    fanout_sum_us: AtomicU64,
    /// Recent message creations: the per-second series and the busiest
    /// channels the dashboard shows.
    activity: parking_lot::Mutex<Activity>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Metrics {
            started: Instant::now(),
            connections: Default::default(),
            messages_in: Default::default(),
            deliveries: AtomicU64::new(0),
            messages_created: AtomicU64::new(0),
            slow_consumers: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            fanout_buckets: Default::default(),
            fanout_count: AtomicU64::new(0),
            fanout_sum_us: AtomicU64::new(0),
            activity: parking_lot::Mutex::new(Activity::default()),
        }
    }

    pub fn uptime_s(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    pub fn connection_opened(&self, d: Dialect) {
        self.connections[d.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self, d: Dialect) {
        self.connections[d.index()].fetch_sub(1, Ordering::Relaxed);
    }

    pub fn connections(&self, d: Dialect) -> i64 {
        self.connections[d.index()].load(Ordering::Relaxed)
    }

    pub fn frame_in(&self, d: Dialect) {
        self.messages_in[d.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn frames_in(&self, d: Dialect) -> u64 {
        self.messages_in[d.index()].load(Ordering::Relaxed)
    }

    pub fn delivered(&self, n: u64) {
        self.deliveries.fetch_add(n, Ordering::Relaxed);
    }

    pub fn deliveries(&self) -> u64 {
        self.deliveries.load(Ordering::Relaxed)
    }

    pub fn slow_consumer(&self) {
        self.slow_consumers.fetch_add(1, Ordering::Relaxed);
    }

    pub fn slow_consumers(&self) -> u64 {
        self.slow_consumers.load(Ordering::Relaxed)
    }

    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connections_refused(&self) -> u64 {
        self.connections_refused.load(Ordering::Relaxed)
    }

    pub fn request_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub fn requests_rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    pub fn message_created(&self, channel: Id) {
        self.messages_created.fetch_add(1, Ordering::Relaxed);
        let now = self.started.elapsed().as_secs();
        self.activity.lock().record(now, channel.0);
    }

    pub fn messages_created(&self) -> u64 {
        self.messages_created.load(Ordering::Relaxed)
    }

    /// Messages created during the last complete second.
    pub fn messages_per_second(&self) -> u64 {
        let now = self.started.elapsed().as_secs();
        match now.checked_sub(1) {
            Some(last) => u64::from(self.activity.lock().count_at(now, last)),
            None => 0,
        }
    }

    /// Messages per second for up to the last [`HISTORY_SECONDS`] seconds,
    /// oldest first; the last entry is the current, unfinished second.
    pub fn message_rate_history(&self) -> Vec<u32> {
        let now = self.started.elapsed().as_secs();
        self.activity.lock().series(now)
    }

    /// The busiest channels of the last [`TOP_MINUTES`] minutes with their
    /// message counts, busiest first.
    pub fn top_channels(&self, limit: usize) -> Vec<(Id, u64)> {
        let now = self.started.elapsed().as_secs();
        self.activity
            .lock()
            .top_channels(now, limit)
            .into_iter()
            .map(|(c, n)| (Id(c), n))
            .collect()
    }

    /// Records how long one fan-out took, from command to the last mailbox.
    pub fn observe_fanout(&self, seconds: f64) {
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.fanout_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.fanout_count.fetch_add(1, Ordering::Relaxed);
        self.fanout_sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Cumulative bucket counts, total count and sum in seconds.
    pub fn fanout_histogram(&self) -> (Vec<u64>, u64, f64) {
        let buckets = self
            .fanout_buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count = self.fanout_count.load(Ordering::Relaxed);
        let sum = self.fanout_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        (buckets, count, sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::new();
        m.observe_fanout(0.002);
        m.observe_fanout(0.3);
        let (b, count, sum) = m.fanout_histogram();
        assert_eq!(count, 2);
        assert_eq!(b[0], 0);
        assert_eq!(b[2], 1); // <= 2.5 ms
        assert_eq!(*b.last().unwrap(), 2);
        assert!((sum - 0.302).abs() < 1e-3);
    }
}
