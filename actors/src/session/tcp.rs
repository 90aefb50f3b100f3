//! The write side of a raw TCP session: a task that owns the socket's
//! write half, fed through a channel, with the bytes not yet written
//! counted so a session can drop a peer that stopped reading (the same
//! bound as the WebSocket sessions' `pending_bytes`).
//!
//! Closing must end the connection even when the peer reads nothing: a
//! writer blocked in `write_all` would otherwise hold the socket (and the
//! shutdown, which waits for every connection) forever. So a close gives
//! the writer [`CLOSE_GRACE`] to get what is queued out, and a slow
//! consumer's close gives it none.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::ws::CLOSE_GRACE;

/// More unsent output than the limit: the peer is not keeping up.
#[derive(Debug)]
pub struct Overflow;

pub struct TcpOut {
    tx: Option<mpsc::UnboundedSender<Vec<u8>>>,
    pending: Arc<AtomicUsize>,
    limit: usize,
    /// How long the writer may still take once the session closes.
    grace: watch::Sender<Option<Duration>>,
}

impl TcpOut {
    /// Starts the writer task on the current runtime; `on_closed` runs when
    /// it ends.
    pub fn start<W>(mut write: W, limit: usize, on_closed: impl FnOnce() + Send + 'static) -> TcpOut
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let (grace, mut grace_rx) = watch::channel(None);
        let pending = Arc::new(AtomicUsize::new(0));
        let p = pending.clone();
        actix_rt::spawn(async move {
            let drain = async {
                while let Some(buf) = rx.recv().await {
                    let n = buf.len();
                    let ok = write.write_all(&buf).await.is_ok();
                    p.fetch_sub(n, Ordering::Relaxed);
                    if !ok {
                        break;
                    }
                }
            };
            let deadline = async {
                let grace = match grace_rx.wait_for(Option::is_some).await {
                    Ok(g) => (*g).unwrap_or_default(),
                    // The session is gone without closing: only the queue
                    // ending (its sender dropped too) ends the writer.
                    Err(_) => return std::future::pending().await,
                };
                tokio::time::sleep(grace).await;
            };
            tokio::select! {
                () = drain => {}
                () = deadline => {}
            }
            // Sends FIN after whatever the kernel holds; the socket itself
            // goes once the session drops its read half too.
            let _ = tokio::time::timeout(CLOSE_GRACE, write.shutdown()).await;
            drop(write);
            on_closed();
        });
        TcpOut {
            tx: Some(tx),
            pending,
            limit,
            grace,
        }
    }

    /// Queues bytes; refuses them past the limit.
    pub fn send(&self, buf: Vec<u8>) -> Result<(), Overflow> {
        let Some(tx) = &self.tx else {
            return Err(Overflow);
        };
        let n = buf.len();
        if self.pending.fetch_add(n, Ordering::Relaxed) + n > self.limit {
            self.pending.fetch_sub(n, Ordering::Relaxed);
            return Err(Overflow);
        }
        tx.send(buf).map_err(|_| Overflow)
    }

    /// Writes what is queued (for at most [`CLOSE_GRACE`]), then closes
    /// the socket.
    pub fn close(&mut self) {
        self.close_within(CLOSE_GRACE);
    }

    /// Closes the socket without waiting behind what is queued: for a peer
    /// that is not reading, there is no point.
    pub fn close_now(&mut self) {
        self.close_within(Duration::ZERO);
    }

    fn close_within(&mut self, grace: Duration) {
        if self.tx.take().is_none() {
            return;
        }
        self.grace.send_replace(Some(grace));
    }

    pub fn is_closing(&self) -> bool {
        self.tx.is_none()
    }
}
