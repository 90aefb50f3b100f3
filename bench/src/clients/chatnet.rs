//! chat-network load client: `identification`, then `subscribe` with the
//! Switchboard session token when the account has one (any Switchboard
//! token is a chat-network session, so Argon2 is skipped), else `signin`
//! first; `message` to the other user of a direct room.
//!
//! Switchboard stores a chat-network `message` as ciphertext and refuses
//! one that is not base64 (and a `nonce` that is not base64 of 24 bytes),
//! so texts go out base64-encoded: receivers in any dialect see the marker
//! sealed, which [`find_marker`](super::find_marker) also finds. Texts from
//! other dialects arrive here as plain text.

use std::net::IpAddr;
use std::time::Instant;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
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

/// base64 of 24 zero bytes: the server checks a nonce's shape only.
const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

pub async fn connect(
    target: &Target,
    account: &Account,
    opts: ClientOpts,
) -> anyhow::Result<Connected> {
    let dest = match &opts.room {
        Room::Direct { username, .. } => username.clone(),
        Room::Channel { .. } => bail!("chat-network has only direct messages"),
    };
    let started = Instant::now();
    let mut ws = open(&target.chatnet_url, opts.source_ip).await?;
    let by_token = !account.token.is_empty() && subscribe(&mut ws, &account.token).await?;
    let session = if by_token {
        account.token.clone()
    } else {
        if account.password.is_empty() {
            bail!("no usable session token and no password to sign in with");
        }
        // Switchboard closes the socket after refusing a session.
        if !account.token.is_empty() {
            ws = open(&target.chatnet_url, opts.source_ip).await?;
        }
        let session = signin(&mut ws, &account.username, &account.password).await?;
        if !subscribe(&mut ws, &session).await? {
            bail!("subscribe refused the session signin gave");
        }
        session
    };
    let ready_after = started.elapsed();
    let (tx, mut rx) = mpsc::channel::<String>(SEND_QUEUE);
    let task = tokio::spawn(async move {
        // chat-network has no heartbeat; the socket stays open on its own.
        loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        let bytes = text.as_bytes();
                        if let Some(m) = find_marker(bytes) {
                            opts.sink.seen(opts.index, m);
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                text = rx.recv() => {
                    let Some(text) = text else { break };
                    // No `source`: the server fills it in from the session.
                    let frame = json!({
                        "type": "message",
                        "session": session,
                        "dest": dest,
                        "nonce": NONCE,
                        "message": B64.encode(text.as_bytes()),
                    });
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

/// Creates `username` over chat-network (the password goes in clear, as
/// the protocol has it; `hash` only names what the server should use).
pub async fn signup(
    url: &str,
    source: IpAddr,
    username: &str,
    password: &str,
) -> anyhow::Result<()> {
    let mut ws = open(url, source).await?;
    let req =
        json!({"type": "signup", "username": username, "password": password, "hash": "sha256"});
    ws.send(Message::text(req.to_string())).await?;
    let r = reply(&mut ws, &["signup"]).await?;
    let _ = ws.close(None).await;
    match r["resp_code"].as_i64() {
        Some(0) => Ok(()),
        Some(2) => bail!("signup of {username}: the name is taken"),
        _ => bail!("signup of {username} refused: {r}"),
    }
}

/// A socket that has identified itself (and so knows the versions match).
async fn open(url: &str, source: IpAddr) -> anyhow::Result<Ws> {
    let mut ws = ws_connect(url, source, None).await?;
    let hello =
        json!({"type": "identification", "version": "1.0.0", "client": "switchboard-bench"});
    ws.send(Message::text(hello.to_string())).await?;
    let r = reply(&mut ws, &["identification"]).await?;
    if r["resp_code"] != 0 {
        bail!("identification refused: {r}");
    }
    Ok(ws)
}

async fn signin(ws: &mut Ws, username: &str, password: &str) -> anyhow::Result<String> {
    let req = json!({"type": "signin", "username": username, "password": password});
    ws.send(Message::text(req.to_string())).await?;
    // The original server (and Switchboard with `signin_reply_type`)
    // answers a signin as `signup`.
    let r = reply(ws, &["signin", "signup"]).await?;
    match (r["resp_code"].as_i64(), r["session"].as_str()) {
        (Some(0), Some(s)) if !s.is_empty() => Ok(s.to_string()),
        _ => bail!("signin of {username} refused: {r}"),
    }
}

/// Whether `session` was accepted; on refusal Switchboard closes the socket.
async fn subscribe(ws: &mut Ws, session: &str) -> anyhow::Result<bool> {
    let req = json!({"type": "subscribe", "session": session});
    ws.send(Message::text(req.to_string())).await?;
    let r = reply(ws, &["subscribe"]).await?;
    Ok(r["resp_code"] == 0)
}

/// The next frame whose `type` is one of `kinds` (login only: events are
/// never parsed); a server `error` ends the wait.
async fn reply(ws: &mut Ws, kinds: &[&str]) -> anyhow::Result<Value> {
    let what = kinds.join(" or ");
    loop {
        let frame = tokio::time::timeout(LOGIN_TIMEOUT, ws.next())
            .await
            .with_context(|| format!("no {what} reply"))?
            .with_context(|| format!("closed before the {what} reply"))??;
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(c) => bail!("closed before the {what} reply: {c:?}"),
            _ => continue,
        };
        let v: Value = serde_json::from_str(&text)?;
        match v["type"].as_str() {
            Some(t) if kinds.contains(&t) => return Ok(v),
            Some("error") => bail!("server error awaiting {what}: {v}"),
            _ => continue,
        }
    }
}
