//! OriginChats load client: the root path of its port, the handshake, then
//! `auth` with the Switchboard session token as `validator` (accepted in
//! every `auth_mode`), or `login` with a password on a server that knows
//! nothing of Switchboard tokens; `message_new` into a channel by name.

use std::time::Instant;

use anyhow::{bail, Context as _};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{
    find_marker, ws_connect, Account, ClientOpts, Connected, Room, Target, LOGIN_TIMEOUT,
    SEND_QUEUE,
};

type Ws = WebSocketStream<TcpStream>;

pub async fn connect(
    target: &Target,
    account: &Account,
    opts: ClientOpts,
) -> anyhow::Result<Connected> {
    let channel = match &opts.room {
        Room::Channel { name, .. } => name.clone(),
        Room::Direct { .. } => bail!("OriginChats has no direct messages"),
    };
    let login = if !account.token.is_empty() {
        json!({"cmd": "auth", "validator": account.token})
    } else if !account.password.is_empty() {
        json!({"cmd": "login", "username": account.username, "password": account.password})
    } else {
        bail!("no token and no password to sign in with");
    };
    let started = Instant::now();
    let mut ws = ws_connect(&target.originchats_url, opts.source_ip, None).await?;
    // The server speaks first; `auth` before the handshake would race it.
    match next_json(&mut ws, "the handshake").await? {
        v if v["cmd"] == "handshake" => {}
        v => bail!("expected the handshake, got {v}"),
    }
    ws.send(Message::text(login.to_string())).await?;
    loop {
        let v = next_json(&mut ws, "an answer to auth").await?;
        match v["cmd"].as_str() {
            // `ready` follows `auth_success`; only then are events flowing.
            Some("ready") => break,
            Some("auth_error") => bail!("login refused: {}", v["val"]),
            _ => continue,
        }
    }
    let ready_after = started.elapsed();
    let (tx, mut rx) = mpsc::channel::<String>(SEND_QUEUE);
    let task = tokio::spawn(async move {
        // The server's `{"cmd":"ping"}` every 30 s needs no answer
        // (reference §2), and there is no idle timeout to defeat.
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
                    let frame = json!({"cmd": "message_new", "channel": channel, "content": text});
                    if ws.send(Message::text(frame.to_string())).await.is_err() {
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

/// The next text frame as JSON (login only: broadcasts are never parsed).
async fn next_json(ws: &mut Ws, what: &str) -> anyhow::Result<Value> {
    loop {
        let frame = tokio::time::timeout(LOGIN_TIMEOUT, ws.next())
            .await
            .with_context(|| format!("no {what}"))?
            .with_context(|| format!("closed before {what}"))??;
        match frame {
            Message::Text(text) => return Ok(serde_json::from_str(&text)?),
            Message::Close(c) => bail!("closed before {what}: {c:?}"),
            _ => continue,
        }
    }
}
