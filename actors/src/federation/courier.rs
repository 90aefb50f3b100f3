//! The courier: one actor that empties the outbox, one body in flight per
//! peer, oldest first.
//!
//! A body leaves the outbox only when the peer answered 200, or when it
//! refused that body for good (400, 403, 404, 409, 413: sending it again
//! cannot help, and keeping it would block every later body). Anything
//! else (no connection, 401 while keys are being set up, 408 from a skewed
//! clock, 429, 5xx) is retried after 1 s, 2 s, 4 s, ... up to 10 min. The
//! body's time and signature are made at each attempt, so a body that
//! waited an hour is not refused as stale.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use switchboard_protocols::jam::op;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::Id;

use super::wire::{self, FederationData, QueuedEvent};
use super::{Federation, Peer};
use crate::world::World;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// One attempt may take this long.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Typing lasts 8 s: older typing bodies are not worth sending.
const TYPING_TTL_MS: i64 = 8_000;
/// How often received ids older than 24 h are forgotten.
const FORGET_SEEN_EVERY: Duration = Duration::from_secs(600);

/// `peer` has new bodies in the outbox.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake(pub String);

#[derive(Default)]
struct Line {
    /// A body is on its way.
    busy: bool,
    /// A retry is scheduled; wakes wait for it.
    waiting: bool,
    backoff: Option<Duration>,
}

/// How an attempt ended.
enum Outcome {
    Delivered,
    /// Refused for good: the body is dropped.
    Refused(String),
    Retry(String),
}

pub struct Courier {
    world: Arc<World>,
    fed: Arc<Federation>,
    client: awc::Client,
    lines: HashMap<String, Line>,
}

impl Courier {
    pub(crate) fn new(world: Arc<World>, fed: Arc<Federation>) -> Courier {
        let client = awc::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connector(awc::Connector::new().rustls_021(crate::tls::client_config()))
            .finish();
        Courier {
            world,
            fed,
            client,
            lines: HashMap::new(),
        }
    }

    /// Sends the oldest body of `peer`, unless one is in flight or a retry
    /// is scheduled.
    fn pump(&mut self, peer: Arc<Peer>, ctx: &mut Context<Self>) {
        let idle = self
            .lines
            .get(&peer.domain)
            .is_none_or(|l| !l.busy && !l.waiting);
        if !idle {
            return;
        }
        let (seq, item) = loop {
            let first = match self.world.store.fed_outbox_first(&peer.domain) {
                Ok(Some(first)) => first,
                Ok(None) => return,
                Err(e) => {
                    peer.stats.error(format!("outbox read failed: {e}"));
                    return;
                }
            };
            match serde_json::from_slice::<QueuedEvent>(&first.1) {
                Ok(item)
                    if item.op == op::TYPING_START
                        && now_ms() - first.0.timestamp_ms() > TYPING_TTL_MS =>
                {
                    self.remove(&peer, first.0);
                }
                Ok(item) => break (first.0, item),
                Err(e) => {
                    peer.stats.error(format!("unreadable outbox entry: {e}"));
                    peer.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    self.remove(&peer, first.0);
                }
            }
        };
        self.lines.entry(peer.domain.clone()).or_default().busy = true;
        let data = FederationData {
            id: item.id,
            origin: self.fed.domain.clone(),
            destination: peer.domain.clone(),
            timestamp: now_ms(),
            op: item.op,
            d: item.d,
        };
        let (body, signature) = wire::sign(&data, self.fed.signing_key());
        let request = self
            .client
            .post(&peer.endpoint)
            .insert_header((wire::DOMAIN_HEADER, self.fed.domain.as_str()))
            .insert_header((wire::SIGNATURE_HEADER, signature))
            .content_type("application/json")
            .send_body(body);
        let attempt = async move {
            match request.await {
                Ok(mut res) => {
                    let status = res.status().as_u16();
                    if status == 200 {
                        return Outcome::Delivered;
                    }
                    let text = res.body().limit(4096).await.unwrap_or_default();
                    let why = format!("HTTP {status}: {}", String::from_utf8_lossy(&text));
                    match status {
                        400 | 403 | 404 | 409 | 413 => Outcome::Refused(why),
                        _ => Outcome::Retry(why),
                    }
                }
                Err(e) => Outcome::Retry(e.to_string()),
            }
        };
        ctx.spawn(attempt.into_actor(self).map(move |outcome, act, ctx| {
            act.finished(peer, seq, outcome, ctx);
        }));
    }

    fn remove(&self, peer: &Peer, seq: Id) {
        if let Err(e) = self.world.store.fed_outbox_remove(&peer.domain, seq) {
            peer.stats.error(format!("outbox write failed: {e}"));
        }
        peer.stats.queued.fetch_sub(1, Ordering::Relaxed);
    }

    fn finished(&mut self, peer: Arc<Peer>, seq: Id, outcome: Outcome, ctx: &mut Context<Self>) {
        let line = self.lines.entry(peer.domain.clone()).or_default();
        line.busy = false;
        match outcome {
            Outcome::Delivered => {
                line.backoff = None;
                peer.stats.delivered.fetch_add(1, Ordering::Relaxed);
                self.remove(&peer, seq);
            }
            Outcome::Refused(why) => {
                line.backoff = None;
                tracing::warn!(peer = %peer.domain, %why, "peer refused a federation body; dropped");
                peer.stats.error(why);
                peer.stats.dropped.fetch_add(1, Ordering::Relaxed);
                self.remove(&peer, seq);
            }
            Outcome::Retry(why) => {
                let delay = line.backoff.unwrap_or(FIRST_BACKOFF);
                line.backoff = Some((delay * 2).min(MAX_BACKOFF));
                line.waiting = true;
                tracing::debug!(peer = %peer.domain, %why, ?delay, "federation delivery failed; will retry");
                peer.stats.error(why);
                ctx.run_later(delay, move |act, ctx| {
                    if let Some(line) = act.lines.get_mut(&peer.domain) {
                        line.waiting = false;
                    }
                    act.pump(peer, ctx);
                });
                return;
            }
        }
        self.pump(peer, ctx);
    }
}

impl Actor for Courier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(65_536);
        // What the outbox kept across a restart goes first.
        for peer in self.fed.peers().to_vec() {
            self.pump(peer, ctx);
        }
        ctx.run_interval(FORGET_SEEN_EVERY, |act, _| {
            let store = act.world.store.clone();
            actix_rt::task::spawn_blocking(move || {
                if let Err(e) = store.fed_forget_seen() {
                    tracing::warn!(error = %e, "cannot forget old federation ids");
                }
            });
        });
    }
}

impl Handler<Wake> for Courier {
    type Result = ();

    fn handle(&mut self, Wake(peer): Wake, ctx: &mut Self::Context) {
        if let Some(peer) = self.fed.peer(&peer).cloned() {
            self.pump(peer, ctx);
        }
    }
}
