//! Chat load: many channels, many senders, every message persisted; a
//! message counts once its sender got its own copy back, which the server
//! sends only after the write is durable (with `durability = "strict"`,
//! after the group commit's fsync).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde_json::json;

use super::{Ctx, Settings};
use crate::clients::{marker_text, now_us, Dialect, Marker, Room, Sink};
use crate::recorder::{histogram, sender_of, seq, Latency};
use crate::report::{f1, int, Report};
use crate::server::Durability;

pub struct Plan {
    pub channels: usize,
    pub senders: usize,
    pub seconds: u64,
    /// Messages a sender may have unacknowledged.
    pub window: u64,
    /// Which durabilities to run, in turn.
    pub durabilities: Vec<Durability>,
}

/// Acknowledgements per sender, and their latency.
struct Acks {
    per_sender: Vec<AtomicU64>,
    latency: Mutex<Histogram<u64>>,
}

impl Sink for Acks {
    fn seen(&self, client: usize, m: Marker) {
        if sender_of(m.seq) != client {
            return;
        }
        if let Some(a) = self.per_sender.get(client) {
            a.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self
            .latency
            .lock()
            .record(now_us().saturating_sub(m.sent_us).max(1));
    }
}

pub async fn run(settings: &Settings, report: &mut Report, plan: &Plan) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut data = Vec::new();
    for &durability in &plan.durabilities {
        let ctx = Ctx::start(settings, durability).await?;
        let owner = ctx.pool[0].clone();
        let guild = ctx.rest.create_guild(&owner, "bench chat").await?;
        let code = ctx.rest.invite(&owner, &guild).await?;
        for a in &ctx.pool[1..] {
            ctx.rest.join(a, &code).await?;
        }
        let mut channels = Vec::new();
        for c in 0..plan.channels {
            channels.push(
                ctx.rest
                    .create_channel(&owner, &guild, &format!("load-{c}"))
                    .await?,
            );
        }
        let acks = Arc::new(Acks {
            per_sender: (0..plan.senders).map(|_| AtomicU64::new(0)).collect(),
            latency: Mutex::new(histogram()),
        });
        let mut senders = Vec::new();
        for i in 0..plan.senders {
            let room = Room::Channel {
                id: channels[i % channels.len()].clone(),
                name: format!("load-{}", i % channels.len()),
            };
            let (mut c, _) = ctx
                .connect_many(Dialect::Jam, i, 1, room, acks.clone())
                .await?;
            senders.append(&mut c);
        }
        let deadline = Instant::now() + Duration::from_secs(plan.seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (i, client) in senders.into_iter().enumerate() {
            let acks = acks.clone();
            let window = plan.window;
            tasks.push(tokio::spawn(async move {
                let mut sent = 0u64;
                while Instant::now() < deadline {
                    if sent.saturating_sub(acks.per_sender[i].load(Ordering::Relaxed)) >= window {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    if client.send(marker_text(seq(i, sent))).await.is_err() {
                        break;
                    }
                    sent += 1;
                }
                sent
            }));
        }
        let mut sent = 0;
        for t in tasks {
            sent += t.await.unwrap_or(0);
        }
        let elapsed = started.elapsed().as_secs_f64();
        let acked: u64 = acks
            .per_sender
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum();
        let lat = Latency::of(&acks.latency.lock());
        let per_s = acked as f64 / elapsed;
        rows.push(vec![
            durability.name().to_string(),
            plan.channels.to_string(),
            plan.senders.to_string(),
            acked.to_string(),
            int(per_s),
            f1(lat.p50_ms),
            f1(lat.p99_ms),
        ]);
        data.push(json!({
            "durability": durability.name(), "channels": plan.channels, "senders": plan.senders,
            "sent": sent, "acknowledged": acked, "seconds": elapsed, "acknowledged_per_second": per_s,
            "ack_latency": lat,
        }));
        ctx.stop().await;
    }
    report.section(
        "chat",
        "Persisted chat load",
        &format!(
            "JAM senders, each in one of the channels, keep up to {} messages unacknowledged for {} s; a message counts when its sender gets its own copy, which is sent once it is stored (targets: 5,000/s strict, 30,000/s batched).",
            plan.window, plan.seconds
        ),
        &["durability", "channels", "senders", "acknowledged", "messages/s", "ack p50 ms", "ack p99 ms"],
        &rows,
        json!(data),
    );
    Ok(())
}
