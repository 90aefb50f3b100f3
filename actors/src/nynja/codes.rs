//! Registration codes: issuing them, checking them, and the limits that
//! keep a six-digit code from being guessed.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;
use switchboard_protocols::time::now_ms;
use tracing::{debug, info};

use super::{NynjaConfig, Verification};

// Registration limits. A verification code has six digits, so what keeps
// it from being guessed is how few guesses anyone gets: per code, per phone
// and per client address, over time. A `reg` (or `resend`) while a code is
// pending for the phone sends that same code again and keeps its attempt
// counter; a new code comes only once the old one expired, was used up or
// was used, and only so many per phone an hour.

/// Most wrong codes one pending code takes (then `attempts_expired`).
pub const MAX_ATTEMPTS: u32 = 5;
/// How long an issued code stays valid; a `reg` within that time sends the
/// same code again.
pub const CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// The window of the per-phone and per-address limits below.
pub const LIMIT_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Most wrong codes for one phone within [`LIMIT_WINDOW`], across all its
/// codes; then every verification of the phone, the right code too, is
/// refused with `attempts_expired` until the oldest wrong one is an hour old.
pub const MAX_WRONG_PER_PHONE: usize = 10;
/// Most wrong codes from one client address (an IPv4 address, an IPv6 /64)
/// within [`LIMIT_WINDOW`], across phones; then every verification from the
/// address is refused with `rate_limited`.
pub const MAX_WRONG_PER_ADDRESS: usize = 30;
/// Most codes issued for one phone within [`LIMIT_WINDOW`]; a `reg` that
/// would issue one more is refused with `rate_limited`.
pub const MAX_CODES_PER_PHONE: usize = 5;
/// Longest phone number an `Auth` may name, in bytes (E.164 has 15 digits).
pub const MAX_PHONE_LEN: usize = 64;
/// Most phones (or addresses) each registration table tracks. Pending codes
/// and issued-code counts past it push out an arbitrary entry (that costs an
/// attacker no guesses: the wrong-code counts stay); the wrong-code tables
/// refuse a phone or address they have no room for (`rate_limited`), so a
/// flood never buys guesses.
pub const MAX_TRACKED: usize = 65_536;
/// How often expired entries are swept out of the tables.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

struct Pending {
    code: String,
    attempts: u32,
    issued: Instant,
}

impl Pending {
    /// Still accepts a guess at `now`.
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.issued) < CODE_TTL && self.attempts < MAX_ATTEMPTS
    }
}

/// Events per key within [`LIMIT_WINDOW`], oldest first; at most `limit`
/// kept per key and [`MAX_TRACKED`] keys.
struct Windows<K> {
    map: HashMap<K, VecDeque<Instant>>,
    limit: usize,
}

impl<K: Hash + Eq + Clone> Windows<K> {
    fn new(limit: usize) -> Self {
        Windows {
            map: HashMap::new(),
            limit,
        }
    }

    fn count<Q>(&self, key: &Q, now: Instant) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key).map_or(0, |d| {
            d.iter()
                .filter(|t| now.duration_since(**t) < LIMIT_WINDOW)
                .count()
        })
    }

    fn full<Q>(&self, key: &Q, now: Instant) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.count(key, now) >= self.limit
    }

    /// Whether an event for `key` can be recorded: the key is tracked, or
    /// there is room for it.
    fn has_room<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(key) || self.map.len() < MAX_TRACKED
    }

    /// Records an event; with no room for a new key, an arbitrary other key
    /// is dropped first when `evict`, else nothing is recorded (false).
    fn record(&mut self, key: K, now: Instant, evict: bool) -> bool {
        if !self.has_room(&key) {
            if !evict {
                return false;
            }
            if let Some(other) = self.map.keys().next().cloned() {
                self.map.remove(&other);
            }
        }
        let d = self.map.entry(key).or_default();
        expire(d, now);
        d.push_back(now);
        while d.len() > self.limit {
            d.pop_front();
        }
        true
    }

    fn sweep(&mut self, now: Instant) {
        self.map.retain(|_, d| {
            expire(d, now);
            !d.is_empty()
        });
    }
}

/// Drops the events older than the window.
fn expire(d: &mut VecDeque<Instant>, now: Instant) {
    while d
        .front()
        .is_some_and(|t| now.duration_since(*t) >= LIMIT_WINDOW)
    {
        d.pop_front();
    }
}

/// What the per-address limit counts: an IPv4 address, or an IPv6 /64
/// (one subscriber's network; an IPv4-mapped address counts as IPv4).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Compares two codes in time that does not depend on where they differ.
fn same_code(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Registrations in progress and the counts that limit them, under one lock.
struct Registrations {
    pending: HashMap<String, Pending>,
    /// Codes issued per phone.
    issued: Windows<String>,
    /// Wrong codes per phone, across codes.
    wrong_by_phone: Windows<String>,
    /// Wrong codes per client address, across phones.
    wrong_by_address: Windows<IpAddr>,
    last_sweep: Instant,
}

impl Registrations {
    fn new(now: Instant) -> Self {
        Registrations {
            pending: HashMap::new(),
            issued: Windows::new(MAX_CODES_PER_PHONE),
            wrong_by_phone: Windows::new(MAX_WRONG_PER_PHONE),
            wrong_by_address: Windows::new(MAX_WRONG_PER_ADDRESS),
            last_sweep: now,
        }
    }

    /// Drops expired codes and counts, at most once per [`SWEEP_EVERY`], so
    /// phones and addresses seen once do not stay.
    fn sweep_if_due(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) < SWEEP_EVERY {
            return;
        }
        self.last_sweep = now;
        self.pending
            .retain(|_, p| now.duration_since(p.issued) < CODE_TTL);
        self.issued.sweep(now);
        self.wrong_by_phone.sweep(now);
        self.wrong_by_address.sweep(now);
    }
}

/// Codes the admin dashboard lists in `log` mode: the operator reads them
/// there instead of in the log, so only the last few are kept.
pub const RECENT_CODES: usize = 20;

/// A code issued in `log` mode.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub phone: String,
    pub code: String,
    pub issued_at_ms: i64,
    /// Still waiting for the client to send it.
    pub pending: bool,
}

/// Shared by every NYNJA session.
pub struct NynjaContext {
    pub config: NynjaConfig,
    registrations: Mutex<Registrations>,
    recent: Mutex<VecDeque<IssuedCode>>,
}

/// Why a registration step was refused, in the reference's words (and the
/// server's `rate_limited`, which the reference has no word for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    SessionNotFound,
    InvalidSmsCode,
    /// The pending code took [`MAX_ATTEMPTS`] wrong guesses, or the phone
    /// [`MAX_WRONG_PER_PHONE`] within the hour.
    AttemptsExpired,
    /// The address took [`MAX_WRONG_PER_ADDRESS`] wrong guesses within the
    /// hour, or the phone got [`MAX_CODES_PER_PHONE`] codes.
    RateLimited,
}

impl AuthError {
    pub fn atom(self) -> &'static str {
        match self {
            AuthError::SessionNotFound => "session_not_found",
            AuthError::InvalidSmsCode => "invalid_sms_code",
            AuthError::AttemptsExpired => "attempts_expired",
            AuthError::RateLimited => "rate_limited",
        }
    }
}

impl NynjaContext {
    pub fn new(config: NynjaConfig) -> Arc<NynjaContext> {
        Arc::new(NynjaContext {
            config,
            registrations: Mutex::new(Registrations::new(Instant::now())),
            recent: Mutex::new(VecDeque::new()),
        })
    }

    /// The last codes issued, newest first, with whether each is still
    /// awaited; `None` unless codes go to the log (a fixed code is not news).
    pub fn recent_codes(&self) -> Option<Vec<IssuedCode>> {
        if self.config.verification != Verification::Log {
            return None;
        }
        let now = Instant::now();
        let regs = self.registrations.lock();
        let recent = self.recent.lock();
        Some(
            recent
                .iter()
                .rev()
                .map(|c| IssuedCode {
                    pending: regs
                        .pending
                        .get(&c.phone)
                        .is_some_and(|p| p.code == c.code && p.live(now)),
                    ..c.clone()
                })
                .collect(),
        )
    }

    /// Starts a registration for `phone`, or, while its code is pending,
    /// sends that same code again (the attempt count stays).
    pub fn register(&self, phone: &str) -> Result<(), AuthError> {
        self.register_at(phone, Instant::now())
    }

    fn register_at(&self, phone: &str, now: Instant) -> Result<(), AuthError> {
        let mut guard = self.registrations.lock();
        let regs = &mut *guard;
        regs.sweep_if_due(now);
        if let Some(p) = regs.pending.get(phone).filter(|p| p.live(now)) {
            if self.config.verification == Verification::Log {
                info!(phone, code = %p.code, "nynja verification code (sent again)");
                self.note_code(phone, &p.code, false);
            }
            return Ok(());
        }
        if regs.issued.full(phone, now) {
            debug!(phone, "nynja registration refused: codes per hour");
            return Err(AuthError::RateLimited);
        }
        let code = match &self.config.verification {
            Verification::Fixed(c) => c.clone(),
            Verification::Log => {
                let c = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
                info!(phone, code = %c, "nynja verification code");
                self.note_code(phone, &c, true);
                c
            }
        };
        regs.issued.record(phone.to_string(), now, true);
        if !regs.pending.contains_key(phone) && regs.pending.len() >= MAX_TRACKED {
            if let Some(other) = regs.pending.keys().next().cloned() {
                regs.pending.remove(&other);
            }
        }
        regs.pending.insert(
            phone.to_string(),
            Pending {
                code,
                attempts: 0,
                issued: now,
            },
        );
        Ok(())
    }

    /// Lists a code for the dashboard: always a new one, a code sent again
    /// only when it is no longer listed.
    fn note_code(&self, phone: &str, code: &str, new: bool) {
        let mut recent = self.recent.lock();
        if !new && recent.iter().any(|c| c.phone == phone && c.code == code) {
            return;
        }
        if recent.len() >= RECENT_CODES {
            recent.pop_front();
        }
        recent.push_back(IssuedCode {
            phone: phone.to_string(),
            code: code.to_string(),
            issued_at_ms: now_ms(),
            pending: true,
        });
    }

    /// Checks a code sent from `peer`; the registration ends when it
    /// matches. Past the per-address or per-phone limit nothing is checked.
    pub fn verify(&self, phone: &str, code: &str, peer: IpAddr) -> Result<(), AuthError> {
        self.verify_at(phone, code, peer, Instant::now())
    }

    fn verify_at(
        &self,
        phone: &str,
        code: &str,
        peer: IpAddr,
        now: Instant,
    ) -> Result<(), AuthError> {
        let address = address_key(peer);
        let mut guard = self.registrations.lock();
        let regs = &mut *guard;
        regs.sweep_if_due(now);
        if regs.wrong_by_address.full(&address, now) {
            debug!(phone, %address, "nynja verification refused: wrong codes from the address");
            return Err(AuthError::RateLimited);
        }
        if regs.wrong_by_phone.full(phone, now) {
            debug!(
                phone,
                "nynja verification refused: wrong codes for the phone"
            );
            return Err(AuthError::AttemptsExpired);
        }
        let Some(p) = regs.pending.get_mut(phone) else {
            return Err(AuthError::SessionNotFound);
        };
        if now.duration_since(p.issued) >= CODE_TTL {
            regs.pending.remove(phone);
            return Err(AuthError::SessionNotFound);
        }
        if p.attempts >= MAX_ATTEMPTS {
            regs.pending.remove(phone);
            return Err(AuthError::AttemptsExpired);
        }
        if same_code(&p.code, code) {
            regs.pending.remove(phone);
            return Ok(());
        }
        // A wrong code counts for the code, the phone and the address; one
        // that cannot be counted is not checked either.
        if !regs.wrong_by_phone.has_room(phone) || !regs.wrong_by_address.has_room(&address) {
            return Err(AuthError::RateLimited);
        }
        p.attempts += 1;
        regs.wrong_by_phone.record(phone.to_string(), now, false);
        regs.wrong_by_address.record(address, now, false);
        Err(AuthError::InvalidSmsCode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const HOUR: Duration = LIMIT_WINDOW;
    const MINUTE: Duration = Duration::from_secs(60);

    fn fixed() -> Arc<NynjaContext> {
        NynjaContext::new(NynjaConfig {
            verification: Verification::Fixed("123456".into()),
            ..Default::default()
        })
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    /// The pending code of `phone`, with its attempt count.
    fn pending_of(ctx: &NynjaContext, phone: &str) -> Option<(String, u32)> {
        let regs = ctx.registrations.lock();
        regs.pending
            .get(phone)
            .map(|p| (p.code.clone(), p.attempts))
    }

    #[test]
    fn a_reg_while_pending_keeps_the_code_and_its_attempts() {
        let ctx = NynjaContext::new(NynjaConfig::default());
        let t = Instant::now();
        ctx.register_at("1555", t).unwrap();
        let (code, _) = pending_of(&ctx, "1555").unwrap();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for _ in 0..3 {
            assert_eq!(
                ctx.verify_at("1555", wrong, ip(1), t),
                Err(AuthError::InvalidSmsCode)
            );
        }
        ctx.register_at("1555", t + MINUTE).unwrap();
        assert_eq!(pending_of(&ctx, "1555"), Some((code.clone(), 3)));
        assert_eq!(ctx.recent_codes().unwrap().len(), 1, "sent again, not new");
        for _ in 0..2 {
            assert_eq!(
                ctx.verify_at("1555", wrong, ip(1), t + MINUTE),
                Err(AuthError::InvalidSmsCode)
            );
        }
        // Five wrong: the code is used up, even the right one.
        assert_eq!(
            ctx.verify_at("1555", &code, ip(1), t + MINUTE),
            Err(AuthError::AttemptsExpired)
        );
        // A used-up code is replaced by the next reg.
        ctx.register_at("1555", t + MINUTE).unwrap();
        let (fresh, attempts) = pending_of(&ctx, "1555").unwrap();
        assert_eq!(attempts, 0);
        assert_eq!(ctx.verify_at("1555", &fresh, ip(1), t + MINUTE), Ok(()));
        assert_eq!(pending_of(&ctx, "1555"), None);
    }

    #[test]
    fn a_code_expires_and_the_next_reg_issues_another() {
        let ctx = fixed();
        let t = Instant::now();
        ctx.register_at("1555", t).unwrap();
        assert_eq!(
            ctx.verify_at("1555", "123456", ip(1), t + CODE_TTL),
            Err(AuthError::SessionNotFound)
        );
        ctx.register_at("1555", t + CODE_TTL).unwrap();
        ctx.register_at("1555", t + CODE_TTL + MINUTE).unwrap();
        assert_eq!(
            ctx.verify_at("1555", "123456", ip(1), t + CODE_TTL + MINUTE),
            Ok(())
        );
        // Two codes issued, not three.
        let regs = ctx.registrations.lock();
        assert_eq!(regs.issued.count("1555", t + CODE_TTL + MINUTE), 2);
    }

    #[test]
    fn wrong_codes_per_phone_are_limited_across_codes_and_addresses() {
        let ctx = fixed();
        let t = Instant::now();
        let mut n = 0u8;
        for _ in 0..2 {
            ctx.register_at("1555", t).unwrap();
            for _ in 0..MAX_ATTEMPTS {
                n += 1;
                // A new address each time: the phone's own count stops it.
                assert_eq!(
                    ctx.verify_at("1555", "000000", ip(n), t),
                    Err(AuthError::InvalidSmsCode)
                );
            }
            assert_eq!(
                ctx.verify_at("1555", "000000", ip(n), t),
                Err(AuthError::AttemptsExpired)
            );
        }
        ctx.register_at("1555", t).unwrap();
        // Ten wrong within the hour: even the right code is refused, and
        // the refusals do not use up the pending code.
        for _ in 0..3 {
            assert_eq!(
                ctx.verify_at("1555", "123456", ip(99), t + MINUTE),
                Err(AuthError::AttemptsExpired)
            );
        }
        assert_eq!(pending_of(&ctx, "1555").map(|p| p.1), Some(0));
        // An hour after the first wrong code the phone may try again.
        ctx.register_at("1555", t + HOUR).unwrap();
        assert_eq!(ctx.verify_at("1555", "123456", ip(99), t + HOUR), Ok(()));
    }

    #[test]
    fn wrong_codes_per_address_are_limited_across_phones() {
        let ctx = fixed();
        let t = Instant::now();
        for i in 0..MAX_WRONG_PER_ADDRESS {
            let phone = format!("1555{}", i / 3);
            ctx.register_at(&phone, t).unwrap();
            assert_eq!(
                ctx.verify_at(&phone, "000000", ip(1), t),
                Err(AuthError::InvalidSmsCode)
            );
        }
        ctx.register_at("1666", t).unwrap();
        assert_eq!(
            ctx.verify_at("1666", "000000", ip(1), t),
            Err(AuthError::RateLimited)
        );
        assert_eq!(
            ctx.verify_at("1666", "123456", ip(1), t),
            Err(AuthError::RateLimited)
        );
        // Another address is served.
        assert_eq!(ctx.verify_at("1666", "123456", ip(2), t), Ok(()));
        // The same IPv6 /64 is one address.
        let v6 = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last));
        assert_eq!(address_key(v6(1)), address_key(v6(2)));
        assert_eq!(
            address_key(IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped())),
            ip(1)
        );
        // An hour later the address may try again.
        ctx.register_at("1777", t + HOUR).unwrap();
        assert_eq!(ctx.verify_at("1777", "123456", ip(1), t + HOUR), Ok(()));
    }

    #[test]
    fn codes_per_phone_are_limited() {
        let ctx = fixed();
        let t = Instant::now();
        for _ in 0..MAX_CODES_PER_PHONE {
            ctx.register_at("1555", t).unwrap();
            assert_eq!(ctx.verify_at("1555", "123456", ip(1), t), Ok(()));
        }
        assert_eq!(ctx.register_at("1555", t), Err(AuthError::RateLimited));
        assert_eq!(ctx.register_at("1666", t), Ok(()));
        assert_eq!(ctx.register_at("1555", t + HOUR), Ok(()));
    }

    #[test]
    fn the_tables_are_swept_and_bounded() {
        let ctx = fixed();
        let t = Instant::now();
        for i in 0..1000 {
            let phone = format!("1555{i}");
            ctx.register_at(&phone, t).unwrap();
            let _ = ctx.verify_at(&phone, "000000", ip((i % 200) as u8), t);
        }
        {
            let regs = ctx.registrations.lock();
            assert_eq!(regs.pending.len(), 1000);
            assert_eq!(regs.issued.map.len(), 1000);
            assert!(regs.wrong_by_phone.map.len() >= 1000 - 200);
        }
        // Codes go after their lifetime, counts after the window.
        let _ = ctx.register_at("1666", t + CODE_TTL);
        assert_eq!(ctx.registrations.lock().pending.len(), 1);
        let _ = ctx.register_at("1777", t + CODE_TTL + HOUR);
        let regs = ctx.registrations.lock();
        assert_eq!(regs.pending.len(), 1);
        assert_eq!(regs.issued.map.len(), 1);
        assert!(regs.wrong_by_phone.map.is_empty());
        assert!(regs.wrong_by_address.map.is_empty());
    }

    #[test]
    fn full_tables_evict_codes_but_never_grant_guesses() {
        let mut w: Windows<String> = Windows::new(2);
        let t = Instant::now();
        for i in 0..MAX_TRACKED {
            assert!(w.record(i.to_string(), t, false));
        }
        assert!(!w.record("new".into(), t, false));
        assert!(w.record("0".into(), t, false), "a tracked key has room");
        assert!(w.record("new".into(), t, true));
        assert_eq!(w.map.len(), MAX_TRACKED);
        // At most `limit` events per key.
        for _ in 0..10 {
            w.record("new".into(), t, true);
        }
        assert_eq!(w.map["new"].len(), 2);
    }

    #[test]
    fn codes_compare_exactly() {
        assert!(same_code("123456", "123456"));
        assert!(!same_code("123456", "123457"));
        assert!(!same_code("123456", "12345"));
        assert!(!same_code("", "1"));
    }
}
