//! Idle capacity: N authenticated connections of one dialect on a fresh
//! server; the server's resident memory per connection and the connect
//! rate.

use std::time::Duration;

use serde_json::json;

use super::{discard, Ctx, Settings};
use crate::clients::{Dialect, Room};
use crate::report::{f1, int, Report};
use crate::server::Durability;

pub async fn run(
    settings: &Settings,
    report: &mut Report,
    dialects: &[Dialect],
    n: usize,
) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut data = Vec::new();
    for &dialect in dialects {
        let ctx = Ctx::start(settings, Durability::Batched).await?;
        let room = match dialect {
            Dialect::Chatnet => Room::Direct {
                username: ctx.pool[0].username.clone(),
                user_id: ctx.pool[0].user_id.clone(),
            },
            _ => ctx.general_room(),
        };
        let accounts = ctx.accounts(dialect, 0, n).await?;
        // Settle so start-up and sign-up allocations are not counted.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = ctx.server.rss_bytes()?;
        let (clients, took) = ctx
            .connect_accounts(dialect, 0, accounts, room, discard())
            .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = ctx.server.rss_bytes()?;
        let alive = clients.iter().filter(|c| c.is_alive()).count();
        let per_conn = after.saturating_sub(before) as f64 / n as f64;
        let rate = n as f64 / took.as_secs_f64();
        rows.push(vec![
            dialect.name().to_string(),
            n.to_string(),
            alive.to_string(),
            f1(per_conn / 1024.0),
            int(rate),
            f1(after as f64 / (1024.0 * 1024.0)),
        ]);
        data.push(json!({
            "dialect": dialect.name(), "connections": n, "alive": alive,
            "bytes_per_connection": per_conn, "connects_per_second": rate,
            "rss_before": before, "rss_after": after,
        }));
        drop(clients);
        ctx.stop().await;
    }
    report.section(
        "idle",
        "Idle capacity",
        "Authenticated connections held open on a fresh server; memory is the growth of the server's resident set over those connections (target: at most 16 KiB each).",
        &["dialect", "connections", "alive after 1 s", "KiB per connection", "connects/s", "server RSS (MiB)"],
        &rows,
        json!(data),
    );
    Ok(())
}
