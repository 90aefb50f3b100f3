//! Idle capacity: N authenticated connections of one dialect on a fresh
//! server; the server's resident memory per connection and the connect
//! rate.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;

use super::{discard, source_ip, Ctx, Settings};
use crate::clients::{chatnet, Account, Client, ClientOpts, Dialect, Room, Target};
use crate::report::{f1, int, Report};
use crate::server::{rss_of, Durability};

/// Another server of one dialect to load the same way, side by side.
#[derive(Clone, Debug)]
pub struct External {
    pub dialect: Dialect,
    pub url: String,
    /// An account there (chat-network: signed up first if it is missing).
    pub username: String,
    pub password: String,
    /// Its process id, to read its memory.
    pub pid: Option<u32>,
}

pub async fn run(
    settings: &Settings,
    report: &mut Report,
    counts: &[(Dialect, usize)],
    externals: &[External],
) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut data = Vec::new();
    for &(dialect, n) in counts {
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
    let n = counts.iter().map(|c| c.1).max().unwrap_or(1000);
    for ext in externals {
        let (row, value) = external(settings, ext, n).await?;
        rows.push(row);
        data.push(value);
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

/// The same load against another server: password logins (its accounts
/// have no Switchboard tokens), memory only when its pid is known.
async fn external(
    settings: &Settings,
    ext: &External,
    n: usize,
) -> anyhow::Result<(Vec<String>, serde_json::Value)> {
    let unused = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
    let target = Target {
        http: unused,
        originchats_url: ext.url.clone(),
        chatnet_url: ext.url.clone(),
        v0: unused,
        mqtt: unused,
    };
    let source = std::net::IpAddr::from([127, 0, 0, 1]);
    if ext.dialect == Dialect::Chatnet {
        // "Taken" is fine: the account is all we need.
        let _ = chatnet::signup(&ext.url, source, &ext.username, &ext.password).await;
    }
    let account = Account {
        username: ext.username.clone(),
        password: ext.password.clone(),
        ..Account::default()
    };
    let room = match ext.dialect {
        Dialect::Chatnet => Room::Direct {
            username: ext.username.clone(),
            user_id: String::new(),
        },
        _ => Room::Channel {
            id: "general".into(),
            name: "general".into(),
        },
    };
    let before = ext.pid.and_then(|p| rss_of(p).ok());
    let started = Instant::now();
    let clients: Vec<Client> = stream::iter(0..n)
        .map(|i| {
            let opts = ClientOpts {
                index: i,
                source_ip: source_ip(settings.spread, i),
                room: room.clone(),
                sink: discard(),
            };
            let (target, account) = (target.clone(), account.clone());
            async move { Client::connect(ext.dialect, &target, &account, opts).await }
        })
        .buffered(settings.concurrency)
        .try_collect()
        .await?;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = ext.pid.and_then(|p| rss_of(p).ok());
    let alive = clients.iter().filter(|c| c.is_alive()).count();
    let per_conn = match (before, after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / n as f64),
        _ => None,
    };
    let rate = n as f64 / took.as_secs_f64();
    let row = vec![
        format!("{} at {}", ext.dialect.name(), ext.url),
        n.to_string(),
        alive.to_string(),
        per_conn.map_or("n/a".into(), |b| f1(b / 1024.0)),
        int(rate),
        after.map_or("n/a".into(), |a| f1(a as f64 / (1024.0 * 1024.0))),
    ];
    let value = json!({
        "dialect": ext.dialect.name(), "server": ext.url, "connections": n, "alive": alive,
        "bytes_per_connection": per_conn, "connects_per_second": rate,
    });
    Ok((row, value))
}
