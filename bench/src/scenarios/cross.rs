//! Cross-dialect latency: a client of each channel dialect sends into the
//! default guild's `general`, which every other client reads; chat-network,
//! which has only direct messages, trades DMs with a JAM user.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{wait_until, Ctx, Settings};
use crate::clients::{marker_text, Client, Dialect, Room};
use crate::recorder::{seq, CrossRecorder};
use crate::report::{f1, Report};
use crate::server::Durability;

pub async fn run(settings: &Settings, report: &mut Report, messages: u64) -> anyhow::Result<()> {
    let ctx = Ctx::start(settings, Durability::Batched).await?;
    // Index → dialect; 4 and 5 are the DM pair.
    let dialects = vec![
        Dialect::Jam,
        Dialect::OriginChats,
        Dialect::V0,
        Dialect::Nynja,
        Dialect::Chatnet,
        Dialect::Jam,
    ];
    let recorder = Arc::new(CrossRecorder::new(dialects.clone()));
    let mut clients: Vec<Client> = Vec::new();
    for (i, d) in dialects.iter().enumerate().take(4) {
        let (mut c, _) = ctx
            .connect_many(*d, i, 1, ctx.general_room(), recorder.clone())
            .await?;
        clients.append(&mut c);
    }
    let (cn, jam) = (ctx.pool[4].clone(), ctx.pool[5].clone());
    let dm = ctx.rest.open_dm(&jam, &cn.username).await?;
    let to_jam = Room::Direct {
        username: jam.username.clone(),
        user_id: jam.user_id.clone(),
    };
    let (mut c, _) = ctx
        .connect_many(Dialect::Chatnet, 4, 1, to_jam, recorder.clone())
        .await?;
    clients.append(&mut c);
    let dm_room = Room::Channel {
        id: dm,
        name: String::new(),
    };
    let (mut c, _) = ctx
        .connect_many(Dialect::Jam, 5, 1, dm_room, recorder.clone())
        .await?;
    clients.append(&mut c);

    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for n in 0..messages {
        for (i, client) in clients.iter().enumerate() {
            tick.tick().await;
            client.send(marker_text(seq(i, n))).await?;
        }
    }
    // Every general message reaches 4 other clients; each DM one.
    let expected = messages as usize * (4 * 4 + 2);
    wait_until(Duration::from_secs(30), || {
        recorder
            .cells()
            .iter()
            .map(|c| c.2.count as usize)
            .sum::<usize>()
            >= expected
    })
    .await;
    let cells = recorder.cells();
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|(from, to, l)| {
            vec![
                from.name().to_string(),
                to.name().to_string(),
                l.count.to_string(),
                f1(l.p50_ms),
                f1(l.p99_ms),
                f1(l.max_ms),
            ]
        })
        .collect();
    let data: Vec<_> = cells
        .iter()
        .map(|(from, to, l)| json!({"from": from.name(), "to": to.name(), "latency": l}))
        .collect();
    ctx.stop().await;
    report.section(
        "cross",
        "Cross-dialect latency",
        &format!("{messages} messages from each client; guild dialects in one channel, chat-network by direct message with a JAM user (OriginChats has no direct messages)."),
        &["from", "to", "messages", "p50 ms", "p99 ms", "max ms"],
        &rows,
        json!(data),
    );
    Ok(())
}
