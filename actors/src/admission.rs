//! Who may come in and how fast: connections per source address, and
//! requests per second per user and per source address, shared by every
//! dialect and the REST API.
//!
//! Rates are token buckets: a bucket holds at most one second's worth of
//! requests and refills continuously, so a client may burst up to the rate
//! and then keeps the rate. Buckets live in memory only; a restart forgets
//! them, which is what a rate limit should do.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use switchboard_protocols::{GatewayError, Id};

/// The limits; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    pub connections_per_ip: u32,
    pub user_requests_per_second: u32,
    pub ip_requests_per_second: u32,
}

impl AdmissionLimits {
    pub const OFF: AdmissionLimits = AdmissionLimits {
        connections_per_ip: 0,
        user_requests_per_second: 0,
        ip_requests_per_second: 0,
    };
}

pub struct Admission {
    limits: AdmissionLimits,
    connections: Mutex<HashMap<IpAddr, u32>>,
    users: Buckets<Id>,
    ips: Buckets<IpAddr>,
}

/// One open connection from an address; dropping it frees the place.
pub struct ConnectionSlot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

/// The address already has `connections_per_ip` connections open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyConnections;

impl TooManyConnections {
    pub const MESSAGE: &'static str = "Too many connections from your address";
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Arc<Admission> {
        Arc::new(Admission {
            limits,
            connections: Mutex::new(HashMap::new()),
            users: Buckets::new(limits.user_requests_per_second),
            ips: Buckets::new(limits.ip_requests_per_second),
        })
    }

    pub fn limits(&self) -> AdmissionLimits {
        self.limits
    }

    /// Takes a connection place for `ip`, or refuses past the limit.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, TooManyConnections> {
        let mut open = lock(&self.connections);
        let n = open.entry(ip).or_insert(0);
        let max = self.limits.connections_per_ip;
        if max != 0 && *n >= max {
            return Err(TooManyConnections);
        }
        *n += 1;
        Ok(ConnectionSlot {
            admission: self.clone(),
            ip,
        })
    }

    /// Connections open from `ip`.
    pub fn connections_from(&self, ip: IpAddr) -> u32 {
        lock(&self.connections).get(&ip).copied().unwrap_or(0)
    }

    /// Counts one request from `ip` and from `user`, whichever are given
    /// (REST counts the address before it knows the user, and the user
    /// once the token is checked). A refused request takes nothing from
    /// either bucket, so a client that waits out `retry_after_ms` gets
    /// through.
    pub fn request(&self, ip: Option<IpAddr>, user: Option<Id>) -> Result<(), GatewayError> {
        let now = Instant::now();
        let wait_ip = ip.map_or(0, |ip| self.ips.wait(&ip, now));
        let wait_user = user.map_or(0, |u| self.users.wait(&u, now));
        let wait = wait_ip.max(wait_user);
        if wait > 0 {
            return Err(GatewayError::rate_limited(wait));
        }
        if let Some(ip) = ip {
            self.ips.take(&ip, now);
        }
        if let Some(u) = user {
            self.users.take(&u, now);
        }
        Ok(())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.admission.connections);
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl std::fmt::Debug for ConnectionSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSlot")
            .field("ip", &self.ip)
            .finish()
    }
}

/// A poisoned lock only means another thread panicked while counting; the
/// counts themselves are still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key. The map is swept of full buckets (keys idle for
/// at least a second) whenever it has doubled since the last sweep, so it
/// stays as small as the set of recently active keys.
struct Buckets<K> {
    rate: f64,
    map: Mutex<(HashMap<K, Bucket>, usize)>,
}

const MIN_SWEEP: usize = 1024;

impl<K: Hash + Eq + Copy> Buckets<K> {
    fn new(per_second: u32) -> Self {
        Buckets {
            rate: f64::from(per_second),
            map: Mutex::new((HashMap::new(), MIN_SWEEP)),
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        (b.tokens + elapsed * self.rate).min(self.rate)
    }

    /// Milliseconds until `key` may make a request (0: now).
    fn wait(&self, key: &K, now: Instant) -> u64 {
        if self.rate == 0.0 {
            return 0;
        }
        let guard = lock(&self.map);
        let Some(b) = guard.0.get(key) else {
            return 0;
        };
        let tokens = self.refilled(*b, now);
        if tokens >= 1.0 {
            return 0;
        }
        (((1.0 - tokens) / self.rate) * 1000.0).ceil().max(1.0) as u64
    }

    fn take(&self, key: &K, now: Instant) {
        if self.rate == 0.0 {
            return;
        }
        let mut guard = lock(&self.map);
        let (map, sweep_at) = &mut *guard;
        let tokens = match map.get(key) {
            Some(b) => self.refilled(*b, now),
            None => self.rate,
        };
        map.insert(
            *key,
            Bucket {
                tokens: (tokens - 1.0).max(0.0),
                at: now,
            },
        );
        if map.len() >= *sweep_at {
            let rate = self.rate;
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < rate
            });
            *sweep_at = (map.len() * 2).max(MIN_SWEEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchboard_protocols::ErrorKind;

    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    fn limits(c: u32, user: u32, ip: u32) -> Arc<Admission> {
        Admission::new(AdmissionLimits {
            connections_per_ip: c,
            user_requests_per_second: user,
            ip_requests_per_second: ip,
        })
    }

    #[test]
    fn one_past_the_connection_limit_is_refused_until_one_closes() {
        let a = limits(2, 0, 0);
        let one = a.connect(IP).unwrap();
        let _two = a.connect(IP).unwrap();
        assert_eq!(a.connect(IP).unwrap_err(), TooManyConnections);
        assert!(
            a.connect(OTHER).is_ok(),
            "another address has its own count"
        );
        drop(one);
        assert_eq!(a.connections_from(IP), 1);
        assert!(a.connect(IP).is_ok());
    }

    #[test]
    fn zero_means_no_limit() {
        let a = limits(0, 0, 0);
        let slots: Vec<_> = (0..10_000).map(|_| a.connect(IP).unwrap()).collect();
        assert_eq!(a.connections_from(IP), 10_000);
        drop(slots);
        assert_eq!(a.connections_from(IP), 0);
        for _ in 0..10_000 {
            a.request(Some(IP), Some(Id(1))).unwrap();
        }
    }

    #[test]
    fn a_bucket_allows_its_rate_then_refuses_with_a_wait() {
        let b = Buckets::<u8>::new(5);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(b.wait(&1, t0), 0);
            b.take(&1, t0);
        }
        let wait = b.wait(&1, t0);
        assert_eq!(wait, 200, "one token refills in 1/5 s");
        assert_eq!(b.wait(&2, t0), 0, "keys are independent");
        assert_eq!(b.wait(&1, t0 + Duration::from_millis(200)), 0);
        // Idle for long, a bucket holds no more than one second's worth.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..5 {
            assert_eq!(b.wait(&1, later), 0);
            b.take(&1, later);
        }
        assert!(b.wait(&1, later) > 0);
    }

    #[test]
    fn users_and_addresses_are_limited_separately() {
        let a = limits(0, 3, 0);
        for _ in 0..3 {
            a.request(Some(IP), Some(Id(7))).unwrap();
        }
        let e = a.request(Some(OTHER), Some(Id(7))).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::RateLimited { retry_after_ms } if retry_after_ms > 0));
        a.request(Some(IP), Some(Id(8))).unwrap();
        a.request(Some(IP), None).unwrap();

        let a = limits(0, 0, 2);
        a.request(Some(IP), Some(Id(1))).unwrap();
        a.request(Some(IP), Some(Id(2))).unwrap();
        assert!(a.request(Some(IP), None).is_err(), "the address is spent");
        a.request(Some(OTHER), Some(Id(1))).unwrap();
    }

    #[test]
    fn refused_requests_take_nothing() {
        let a = limits(0, 1, 0);
        a.request(Some(IP), Some(Id(1))).unwrap();
        for _ in 0..100 {
            assert!(a.request(Some(IP), Some(Id(1))).is_err());
        }
        let users = lock(&a.users.map);
        assert_eq!(users.0.len(), 1);
        assert_eq!(users.0[&Id(1)].tokens, 0.0);
    }

    #[test]
    fn idle_buckets_are_swept() {
        let b = Buckets::<u32>::new(10);
        let t0 = Instant::now();
        for k in 0..(MIN_SWEEP as u32 - 1) {
            b.take(&k, t0);
        }
        // A second later every earlier bucket is full again.
        let t1 = t0 + Duration::from_secs(1);
        b.take(&u32::MAX, t1);
        let guard = lock(&b.map);
        assert_eq!(guard.0.len(), 1, "only the fresh bucket stays");
        assert_eq!(guard.1, MIN_SWEEP);
    }
}
