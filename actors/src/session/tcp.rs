//! The write side of a raw TCP session: a task that owns the socket's
//! write half, fed through a channel, with the bytes not yet written
//! counted so a session can drop a peer that stopped reading (the same
//! bound as the WebSocket sessions' `pending_bytes`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// More unsent output than the limit: the peer is not keeping up.
#[derive(Debug)]
pub struct Overflow;

pub struct TcpOut {
    tx: Option<mpsc::UnboundedSender<Vec<u8>>>,
    pending: Arc<AtomicUsize>,
    limit: usize,
}

impl TcpOut {
    /// Starts the writer task on the current runtime; `on_closed` runs when
    /// it ends.
    pub fn start<W>(mut write: W, limit: usize, on_closed: impl FnOnce() + Send + 'static) -> TcpOut
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let pending = Arc::new(AtomicUsize::new(0));
        let p = pending.clone();
        actix_rt::spawn(async move {
            while let Some(buf) = rx.recv().await {
                let n = buf.len();
                let ok = write.write_all(&buf).await.is_ok();
                p.fetch_sub(n, Ordering::Relaxed);
                if !ok {
                    break;
                }
            }
            let _ = write.shutdown().await;
            on_closed();
        });
        TcpOut {
            tx: Some(tx),
            pending,
            limit,
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

    /// Writes what is queued, then closes the socket.
    pub fn close(&mut self) {
        self.tx = None;
    }

    pub fn is_closing(&self) -> bool {
        self.tx.is_none()
    }
}
