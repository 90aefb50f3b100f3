//! JAM load client: `/ws`, op 2 with the session token, op 10 into a
//! channel (a DM is a channel too: the scenario opens it first).

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::{
    find_marker, ws_connect, Account, ClientOpts, Connected, Room, Target, LOGIN_TIMEOUT,
    SEND_QUEUE,
};

pub async fn connect(
    target: &Target,
    account: &Account,
    opts: ClientOpts,
) -> anyhow::Result<Connected> {
    let started = Instant::now();
    let url = format!("ws://{}/ws", target.http);
    let mut ws = ws_connect(&url, opts.source_ip, None).await?;
    let hello = tokio::time::timeout(LOGIN_TIMEOUT, ws.next())
        .await
        .context("no HELLO")?
        .context("closed before HELLO")??;
    let hello: Value = serde_json::from_str(hello.to_text()?)?;
    let heartbeat_ms = hello["d"]["heartbeat_interval"].as_u64().unwrap_or(41_250);
    // Without a token the login pays for the password hash (login storms).
    let auth = if account.token.is_empty() {
        json!({"action": "login", "username": account.username, "password": account.password})
    } else {
        json!({"token": account.token})
    };
    ws.send(Message::text(json!({"op": 2, "d": auth}).to_string()))
        .await?;
    loop {
        let frame = tokio::time::timeout(LOGIN_TIMEOUT, ws.next())
            .await
            .context("no answer to op 2")?
            .context("closed during login")??;
        let Message::Text(text) = frame else { continue };
        let v: Value = serde_json::from_str(&text)?;
        match v["op"].as_i64() {
            Some(3) => break,
            Some(4) => bail!("login refused: {}", v["d"]),
            _ => continue,
        }
    }
    let ready_after = started.elapsed();
    let channel_id = match &opts.room {
        Room::Channel { id, .. } => id.clone(),
        Room::Direct { .. } => bail!("JAM sends to a DM by its channel id; open it first"),
    };
    let (tx, mut rx) = mpsc::channel::<String>(SEND_QUEUE);
    let task = tokio::spawn(async move {
        let mut heartbeat = tokio::time::interval(Duration::from_millis(heartbeat_ms * 3 / 4));
        heartbeat.tick().await;
        loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(m) = find_marker(text.as_bytes()) {
                            opts.sink.seen(opts.index, m);
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                text = rx.recv() => {
                    let Some(text) = text else { break };
                    let frame = json!({"op": 10, "d": {"channel_id": channel_id, "content": text}});
                    if ws.send(Message::text(frame.to_string())).await.is_err() {
                        break;
                    }
                }
                _ = heartbeat.tick() => {
                    if ws.send(Message::text(r#"{"op":0,"d":null}"#)).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    Ok(Connected {
        ready_after,
        tx,
        task,
    })
}
