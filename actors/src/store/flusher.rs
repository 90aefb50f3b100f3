//! Group commit for Strict durability.
//!
//! An fsync costs milliseconds whether it covers one write or a thousand, so
//! callers never flush themselves: each queues a waiter, and one thread
//! flushes once for every waiter that queued up while the previous flush
//! ran. Under load a single fsync acknowledges a whole burst of sends.
//!
//! A plain thread (not a tokio task) does the flushing because `flush`
//! blocks, and the actors' runtime threads must not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::StoreError;

type Outcome = Result<(), sled::Error>;
type Waiter = oneshot::Sender<Outcome>;

pub(super) struct Flusher {
    /// `Option` so `Drop` can disconnect the channel before joining.
    tx: Option<mpsc::Sender<Waiter>>,
    handle: Option<JoinHandle<()>>,
    flushes: Arc<AtomicU64>,
}

/// A commit request: either already answered, or waiting on the thread.
pub(super) enum Pending {
    Ready(Result<(), StoreError>),
    Wait(oneshot::Receiver<Outcome>),
}

impl Pending {
    pub(super) async fn wait(self) -> Result<(), StoreError> {
        match self {
            Pending::Ready(r) => r,
            Pending::Wait(rx) => match rx.await {
                Ok(r) => r.map_err(StoreError::Sled),
                // The thread only drops a waiter unanswered if it died.
                Err(_) => Err(StoreError::Sled(sled::Error::Io(std::io::Error::other(
                    "store flusher stopped",
                )))),
            },
        }
    }
}

impl Flusher {
    pub(super) fn start(db: sled::Db) -> Result<Flusher, StoreError> {
        let (tx, rx) = mpsc::channel::<Waiter>();
        let flushes = Arc::new(AtomicU64::new(0));
        let counter = flushes.clone();
        let handle = std::thread::Builder::new()
            .name("store-flusher".into())
            .spawn(move || run(db, rx, counter))
            .map_err(|e| StoreError::Sled(sled::Error::Io(e)))?;
        Ok(Flusher {
            tx: Some(tx),
            handle: Some(handle),
            flushes,
        })
    }

    /// Queues a waiter now, so the flush that answers it starts after every
    /// write the caller has already made.
    pub(super) fn request(&self, db: &sled::Db) -> Pending {
        let (wtx, wrx) = oneshot::channel();
        match self.tx.as_ref().map(|tx| tx.send(wtx)) {
            Some(Ok(())) => Pending::Wait(wrx),
            // The thread is gone (it can only have panicked): durability
            // still matters more than not blocking, so flush inline.
            _ => {
                tracing::error!("store flusher is gone; flushing inline");
                Pending::Ready(db.flush().map(|_| ()).map_err(StoreError::Sled))
            }
        }
    }

    pub(super) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

impl Drop for Flusher {
    /// Joining makes dropping the last `Store` a real shutdown: the thread
    /// holds a `Db` clone (and with it sled's file lock), so once this
    /// returns nothing of ours still has the database open.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            if h.join().is_err() {
                tracing::error!("store flusher panicked");
            }
        }
    }
}

fn run(db: sled::Db, rx: mpsc::Receiver<Waiter>, flushes: Arc<AtomicU64>) {
    // `recv` fails only once every sender is gone, i.e. the last Store
    // clone was dropped: that is the thread's exit.
    while let Ok(first) = rx.recv() {
        let mut waiters = vec![first];
        waiters.extend(rx.try_iter());
        let outcome = db.flush().map(|_| ());
        flushes.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, waiters = waiters.len(), "group commit flush failed");
        }
        for w in waiters {
            // A caller that stopped waiting is not an error.
            let _ = w.send(outcome.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Durability, Store};
    use switchboard_protocols::Id;

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_commits_all_resolve_and_are_durable() {
        let dir = tempfile::tempdir().unwrap();
        let n = 200u64;
        {
            let s = Store::open(&cfg(dir.path(), Durability::Strict)).unwrap();
            s.put_channel(&channel(20, None)).unwrap();
            let mut tasks = Vec::new();
            for i in 0..n {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    s.put_message(&message(20, 1000 + i, 1)).unwrap();
                    s.commit().await
                }));
            }
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            let flushes = s.group_commit_flushes();
            assert!(flushes >= 1 && flushes <= n, "flushes = {flushes}");
        }
        let s = reopen(dir.path(), Durability::Strict);
        assert_eq!(s.message_count(), n);
        assert!(s.message(Id(20), Id(1000 + n - 1)).unwrap().is_some());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn commit_registers_before_it_is_polled() {
        let (_d, s) = open_tmp_with(Durability::Strict);
        s.meta_put("a", b"1").unwrap();
        let futs: Vec<_> = (0..50).map(|_| s.commit()).collect();
        for f in futs {
            f.await.unwrap();
        }
        assert!(s.group_commit_flushes() >= 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn batched_commit_resolves_at_once() {
        let (_d, s) = open_tmp_with(Durability::Batched);
        s.commit().await.unwrap();
        assert_eq!(s.group_commit_flushes(), 0);
        s.flush_blocking().unwrap();
    }

    #[test]
    fn flusher_thread_ends_with_the_last_clone() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&cfg(dir.path(), Durability::Strict)).unwrap();
        let s2 = s.clone();
        drop(s);
        s2.meta_put("x", b"y").unwrap();
        drop(s2); // joins the flusher thread
        let s = reopen(dir.path(), Durability::Strict);
        assert_eq!(s.meta_get("x").unwrap(), Some(b"y".to_vec()));
    }
}
