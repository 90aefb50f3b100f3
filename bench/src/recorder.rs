//! Where clients' sightings of markers are counted and timed.
//!
//! Sequence numbers say who sent a message: `seq = sender * SEQ_STRIDE + n`,
//! so a sink can tell an echo (the sender's own copy: its acknowledgement)
//! from a delivery, and which dialect sent what.

use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

use crate::clients::{now_us, Dialect, Marker, Sink};

pub const SEQ_STRIDE: u64 = 1_000_000_000;

pub fn seq(sender: usize, n: u64) -> u64 {
    sender as u64 * SEQ_STRIDE + n
}

pub fn sender_of(seq: u64) -> usize {
    (seq / SEQ_STRIDE) as usize
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant, valid histogram bounds")
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// Counts deliveries (sightings by clients other than the sender) and
/// acknowledgements (the sender's own echo), each with its latency.
pub struct Recorder {
    shards: Vec<Mutex<Histogram<u64>>>,
    acks: Mutex<Histogram<u64>>,
    pub deliveries: AtomicU64,
    pub acked: AtomicU64,
    pub last_us: AtomicU64,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            shards: (0..16).map(|_| Mutex::new(histogram())).collect(),
            acks: Mutex::new(histogram()),
            deliveries: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            last_us: AtomicU64::new(0),
        }
    }

    pub fn delivery_latency(&self) -> Latency {
        let mut all = histogram();
        for s in &self.shards {
            let _ = all.add(&*s.lock());
        }
        Latency::of(&all)
    }
}

impl Sink for Recorder {
    fn seen(&self, client: usize, m: Marker) {
        let now = now_us();
        let latency = now.saturating_sub(m.sent_us).max(1);
        if sender_of(m.seq) == client {
            let _ = self.acks.lock().record(latency);
            self.acked.fetch_add(1, Ordering::Relaxed);
        } else {
            let _ = self.shards[client % self.shards.len()]
                .lock()
                .record(latency);
            self.deliveries.fetch_add(1, Ordering::Relaxed);
        }
        self.last_us.fetch_max(now, Ordering::Relaxed);
    }
}

/// One (sender dialect, receiver dialect) pair and its latencies.
type Cell = ((Dialect, Dialect), Histogram<u64>);

/// Latency from each sender dialect to each receiver dialect.
pub struct CrossRecorder {
    /// The dialect of each client index.
    pub dialects: Vec<Dialect>,
    cells: Mutex<Vec<Cell>>,
}

impl CrossRecorder {
    pub fn new(dialects: Vec<Dialect>) -> CrossRecorder {
        CrossRecorder {
            dialects,
            cells: Mutex::new(Vec::new()),
        }
    }

    pub fn cells(&self) -> Vec<(Dialect, Dialect, Latency)> {
        let mut out: Vec<_> = self
            .cells
            .lock()
            .iter()
            .map(|((from, to), h)| (*from, *to, Latency::of(h)))
            .collect();
        out.sort_by_key(|(f, t, _)| (*f, *t));
        out
    }
}

impl Sink for CrossRecorder {
    fn seen(&self, client: usize, m: Marker) {
        let sender = sender_of(m.seq);
        if sender == client {
            return;
        }
        let (Some(from), Some(to)) = (self.dialects.get(sender), self.dialects.get(client)) else {
            return;
        };
        let latency = now_us().saturating_sub(m.sent_us).max(1);
        let mut cells = self.cells.lock();
        match cells.iter_mut().find(|(k, _)| *k == (*from, *to)) {
            Some((_, h)) => {
                let _ = h.record(latency);
            }
            None => {
                let mut h = histogram();
                let _ = h.record(latency);
                cells.push(((*from, *to), h));
            }
        }
    }
}

/// A sink whose recorder can be replaced, so clients connected for one
/// step of a scenario report to the next step's recorder.
pub struct Switch {
    inner: parking_lot::RwLock<std::sync::Arc<Recorder>>,
}

impl Switch {
    pub fn new(r: std::sync::Arc<Recorder>) -> Switch {
        Switch {
            inner: parking_lot::RwLock::new(r),
        }
    }

    pub fn set(&self, r: std::sync::Arc<Recorder>) {
        *self.inner.write() = r;
    }
}

impl Sink for Switch {
    fn seen(&self, client: usize, m: Marker) {
        self.inner.read().seen(client, m);
    }
}
