//! Argon2id hashing with bounded concurrency.
//!
//! One Argon2id hash holds 19 MiB for tens of milliseconds. Run on the
//! blocking pool, a burst of wrong-password logins started one hash per
//! request at once (100 logins: 1.6 GiB and 115 threads), and the memory
//! stayed with the threads' allocator arenas. Here a fixed set of worker
//! threads (one per core unless configured) takes hashes from a bounded
//! queue; a request that finds the queue full is refused at once as rate
//! limited, so a burst costs at most `workers × 19 MiB` and waits at most
//! `queue` hashes long. The binary also pins glibc's mmap threshold (see
//! `main.rs`), so each hash's 19 MiB goes back to the system when the hash
//! ends instead of staying in an arena.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use switchboard_protocols::{GatewayError, GatewayResult};
use tokio::sync::oneshot;

/// How long a client refused for a full queue is told to wait.
const RETRY_AFTER_MS: u64 = 1000;

/// Hashes waiting for a worker when nothing was configured.
pub const DEFAULT_QUEUE: usize = 32;

fn argon2() -> Argon2<'static> {
    // The profile's parameters: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

enum Job {
    Hash(String, oneshot::Sender<GatewayResult<String>>),
    Verify(String, String, oneshot::Sender<bool>),
}

impl Job {
    fn run(self) {
        match self {
            Job::Hash(password, reply) => {
                let salt = SaltString::generate(&mut OsRng);
                let phc = argon2()
                    .hash_password(password.as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .map_err(|_| GatewayError::internal("password hashing failed"));
                let _ = reply.send(phc);
            }
            Job::Verify(phc, password, reply) => {
                let ok = PasswordHash::new(&phc)
                    .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
                    .unwrap_or(false);
                let _ = reply.send(ok);
            }
        }
    }
}

/// The workers and their queue.
pub struct PasswordPool {
    jobs: SyncSender<Job>,
    workers: usize,
    /// Hashes queued or running, for `/admin/stats`.
    busy: Arc<AtomicUsize>,
}

impl PasswordPool {
    /// `workers` threads (0: one per core), `queue` hashes waiting at most.
    fn start(workers: usize, queue: usize) -> PasswordPool {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            workers
        };
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let busy = Arc::new(AtomicUsize::new(0));
        for i in 0..workers {
            let (rx, busy) = (rx.clone(), busy.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&rx, &busy));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        PasswordPool {
            jobs,
            workers,
            busy,
        }
    }

    fn submit(&self, job: Job) -> GatewayResult<()> {
        self.busy.fetch_add(1, Ordering::Relaxed);
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.busy.fetch_sub(1, Ordering::Relaxed);
                Err(GatewayError::rate_limited(RETRY_AFTER_MS))
            }
            Err(TrySendError::Disconnected(_)) => {
                self.busy.fetch_sub(1, Ordering::Relaxed);
                Err(GatewayError::internal("password hashing is not running"))
            }
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Hashes queued or running now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }
}

fn work(rx: &Mutex<Receiver<Job>>, busy: &AtomicUsize) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        job.run();
        busy.fetch_sub(1, Ordering::Relaxed);
    }
}

static POOL: OnceLock<PasswordPool> = OnceLock::new();

/// Sizes the pool; only the first call (before the first hash) counts.
pub fn configure(workers: usize, queue: usize) {
    let _ = POOL.get_or_init(|| PasswordPool::start(workers, queue));
}

pub fn pool() -> &'static PasswordPool {
    POOL.get_or_init(|| PasswordPool::start(0, DEFAULT_QUEUE))
}

/// A PHC string for `password`; refused as rate limited when the queue is
/// full.
pub async fn hash_password(password: String) -> GatewayResult<String> {
    let (tx, rx) = oneshot::channel();
    pool().submit(Job::Hash(password, tx))?;
    rx.await
        .map_err(|_| GatewayError::internal("password hashing failed"))?
}

/// Whether `password` matches `phc`; refused as rate limited when the
/// queue is full (a refusal is never a "wrong password").
pub async fn check_password_hash(phc: String, password: String) -> GatewayResult<bool> {
    let (tx, rx) = oneshot::channel();
    pool().submit(Job::Verify(phc, password, tx))?;
    Ok(rx.await.unwrap_or(false))
}

/// A hash to verify against when the user does not exist, so that a
/// failed login takes as long whether or not the name is taken.
pub fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(b"decoy password", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_refuses_at_once() {
        let pool = PasswordPool::start(1, 1);
        let mut refused = 0;
        let mut waiting = Vec::new();
        for _ in 0..8 {
            let (tx, rx) = oneshot::channel();
            match pool.submit(Job::Hash("pw".into(), tx)) {
                Ok(()) => waiting.push(rx),
                Err(e) => {
                    assert!(matches!(
                        e.kind,
                        switchboard_protocols::ErrorKind::RateLimited { .. }
                    ));
                    refused += 1;
                }
            }
        }
        // One running, one queued at most: the rest refused.
        assert!(refused >= 5, "refused {refused}");
        for rx in waiting {
            let phc = rx.blocking_recv().expect("answer").expect("hash");
            assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        }
    }
}
