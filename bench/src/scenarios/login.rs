//! Login storm: N JAM clients log in with a password at once; the time from
//! connecting to op 3, Argon2id verification included.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::json;

use super::{discard, Ctx, Settings};
use crate::clients::{Account, Client, ClientOpts, Dialect};
use crate::recorder::{histogram, Latency};
use crate::report::{f1, int, Report};
use crate::server::Durability;

pub async fn run(settings: &Settings, report: &mut Report, logins: usize) -> anyhow::Result<()> {
    let ctx = Ctx::start(settings, Durability::Batched).await?;
    let started = Instant::now();
    let results: Vec<anyhow::Result<Duration>> = stream::iter(0..logins)
        .map(|i| {
            let pooled = &ctx.pool[i % ctx.pool.len()];
            // The password, not the token: the storm pays for the hash.
            let account = Account {
                username: pooled.username.clone(),
                password: pooled.password.clone(),
                ..Account::default()
            };
            let opts = ClientOpts {
                index: i,
                source_ip: ctx.source_ip(i),
                room: ctx.general_room(),
                sink: discard(),
            };
            let target = ctx.server.target.clone();
            async move {
                let c = Client::connect(Dialect::Jam, &target, &account, opts).await?;
                Ok(c.ready_after)
            }
        })
        // All at once: the storm.
        .buffer_unordered(logins)
        .collect()
        .await;
    let wall = started.elapsed().as_secs_f64();
    let mut h = histogram();
    let mut failed = 0;
    for r in &results {
        match r {
            Ok(d) => {
                let _ = h.record((d.as_micros() as u64).max(1));
            }
            Err(_) => failed += 1,
        }
    }
    let lat = Latency::of(&h);
    ctx.stop().await;
    report.section(
        "login",
        "Login storm",
        "JAM clients connect and log in with username and password all at once; time from connecting to op 3 (Argon2id m = 19 MiB, t = 2 on the server's hashing threads, one per core; the bench lifts `limits.password_queue` so that every login waits its turn instead of being refused as rate limited).",
        &["logins", "failed", "logins/s", "p50 ms", "p99 ms", "max ms"],
        &[vec![
            logins.to_string(),
            failed.to_string(),
            int((logins - failed) as f64 / wall),
            f1(lat.p50_ms),
            f1(lat.p99_ms),
            f1(lat.max_ms),
        ]],
        json!({"logins": logins, "failed": failed, "seconds": wall, "latency": lat}),
    );
    Ok(())
}
