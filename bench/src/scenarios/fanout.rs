//! Fan-out: one channel, N receivers of mixed dialects, one sender at a
//! fixed rate. Deliveries per second and send-to-receive latency, for each
//! N; receivers are added to the same server between steps.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{wait_until, Ctx, Settings};
use crate::clients::{marker_text, now_us, Client, Dialect};
use crate::recorder::{seq, Recorder, Switch};
use crate::report::{f1, int, Report};
use crate::server::{cpu_seconds_of, Durability};

/// The receivers' dialects, in turn (chat-network has no channels).
pub const MIX: [Dialect; 4] = [
    Dialect::Jam,
    Dialect::OriginChats,
    Dialect::V0,
    Dialect::Nynja,
];

pub struct Plan {
    pub receivers: Vec<usize>,
    pub rate: u64,
    pub seconds: u64,
    /// The receivers' dialects, in turn.
    pub mix: Vec<Dialect>,
}

pub async fn run(settings: &Settings, report: &mut Report, plan: &Plan) -> anyhow::Result<()> {
    let ctx = Ctx::start(settings, Durability::Batched).await?;
    let mut rows = Vec::new();
    let mut data = Vec::new();
    let mut receivers: Vec<Client> = Vec::new();
    let mut steps = plan.receivers.clone();
    steps.sort_unstable();
    let switch = Arc::new(Switch::new(Arc::new(Recorder::new())));
    let (sender, _) = ctx
        .connect_many(Dialect::Jam, 0, 1, ctx.general_room(), switch.clone())
        .await?;
    let sender = &sender[0];
    let mut turn = 0;
    for &want in &steps {
        let recorder = Arc::new(Recorder::new());
        switch.set(recorder.clone());
        while receivers.len() < want {
            let i = receivers.len() + 1;
            let dialect = plan.mix[turn % plan.mix.len()];
            turn += 1;
            // In batches of one dialect, to keep connect concurrency up.
            let batch = ((want - receivers.len()) / plan.mix.len()).clamp(1, 500);
            let (mut c, _) = ctx
                .connect_many(dialect, i, batch, ctx.general_room(), switch.clone())
                .await?;
            receivers.append(&mut c);
        }
        let total = plan.rate * plan.seconds;
        let interval = Duration::from_micros(1_000_000 / plan.rate.max(1));
        let cpu_before = (ctx.server.cpu_seconds()?, cpu_seconds_of("self")?);
        let started_us = now_us();
        let mut tick = tokio::time::interval(interval);
        for n in 0..total {
            tick.tick().await;
            sender.send(marker_text(seq(0, n))).await?;
        }
        let expected = total * want as u64;
        let complete = wait_until(Duration::from_secs(60), || {
            recorder.deliveries.load(Ordering::Relaxed) >= expected
        })
        .await;
        let delivered = recorder.deliveries.load(Ordering::Relaxed);
        let span_s = (recorder
            .last_us
            .load(Ordering::Relaxed)
            .saturating_sub(started_us)) as f64
            / 1e6;
        let per_s = delivered as f64 / span_s.max(1e-6);
        let lat = recorder.delivery_latency();
        let server_cpu = ctx.server.cpu_seconds()? - cpu_before.0;
        let bench_cpu = cpu_seconds_of("self")? - cpu_before.1;
        let alive = receivers.iter().filter(|c| c.is_alive()).count();
        report
            .fanout_points
            .push((want as u64, lat.p50_ms, lat.p99_ms));
        rows.push(vec![
            want.to_string(),
            format!(
                "{delivered}/{expected}{}",
                if complete { "" } else { " (incomplete)" }
            ),
            int(per_s),
            f1(lat.p50_ms),
            f1(lat.p99_ms),
            f1(lat.max_ms),
            alive.to_string(),
            format!("{server_cpu:.1} / {bench_cpu:.1} / {span_s:.1}"),
        ]);
        data.push(json!({
            "receivers": want, "messages": total, "deliveries": delivered, "expected": expected,
            "deliveries_per_second": per_s, "latency": lat, "receivers_alive": alive,
            "server_cpu_seconds": server_cpu, "bench_cpu_seconds": bench_cpu, "seconds": span_s,
        }));
    }
    ctx.stop().await;
    report.section(
        "fanout",
        "Fan-out",
        &format!(
            "One channel; receivers spread evenly over JAM, OriginChats, V0 and NYNJA; one JAM sender at {} messages/s for {} s (target at 10,000 receivers: 150,000 deliveries/s, p99 under 350 ms).",
            plan.rate, plan.seconds
        ),
        &["receivers", "delivered", "deliveries/s", "p50 ms", "p99 ms", "max ms", "receivers still connected", "CPU s: server / bench / wall"],
        &rows,
        json!(data),
    );
    Ok(())
}
