//! V0 load client: plain TCP, CNN signed with the account's HMAC secret,
//! then `CH_MSG` into a default-guild channel or `PV_MSG` to a user, and
//! `KALIVE` whenever the client has been quiet for a third of SINFO's
//! `timeout_s`.
//!
//! Frames from the server are not checked against the secret: that is an
//! HMAC per delivery, and the bench only needs the marker in the payload.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use futures_util::{SinkExt, StreamExt};
use switchboard_protocols::v0::{self, Body, Frame, Inbound, Payload, V0Codec};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use super::{
    find_marker, tcp_connect, Account, ClientOpts, Connected, Room, Target, LOGIN_TIMEOUT,
    SEND_QUEUE,
};

/// Largest command accepted from the server: far above anything the bench
/// provokes, so only a broken stream trips it.
const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// Only the first `ERR` of the run is printed: with thousands of clients a
/// misconfigured room would otherwise flood the terminal.
static ERR_SHOWN: AtomicBool = AtomicBool::new(false);

/// Where the texts go.
enum Dest {
    Channel(String),
    User(String),
}

impl Dest {
    fn command(&self, text: String) -> Inbound {
        // A fresh ULID each time: the server keeps it as the message's
        // client reference, so a reused one would be taken as a resend.
        let msg_id = ulid::Ulid::new().to_string();
        let msg = Body::Text(text);
        match self {
            Dest::Channel(id) => Inbound::ChMsg {
                id: id.clone(),
                msg_id,
                msg,
            },
            Dest::User(to) => Inbound::PvMsg {
                to: to.clone(),
                msg_id,
                msg,
            },
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The HMAC key: the 32 bytes the secret's 64 hex digits encode.
fn key_of(hex: &str) -> anyhow::Result<[u8; 32]> {
    if hex.len() != 64 {
        bail!("a V0 secret is 64 hex digits, not {}", hex.len());
    }
    let mut key = [0u8; 32];
    for (k, pair) in key.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *k = u8::from_str_radix(std::str::from_utf8(pair)?, 16).context("V0 secret is not hex")?;
    }
    Ok(key)
}

/// Signed with a fresh timestamp and random nonce: the server refuses a
/// nonce the account used in the last minute, across all its connections.
fn signed(cmd: &Inbound, key: &[u8; 32]) -> Frame {
    v0::signed(cmd.name(), cmd.fields(), key, unix_now())
}

fn report_err(index: usize, payload: &[u8]) {
    if ERR_SHOWN.swap(true, Ordering::Relaxed) {
        return;
    }
    let p = Payload::decode(payload).unwrap_or_default();
    let text = |k| p.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
    let (cmd, reason) = (text("cmd"), text("reason"));
    eprintln!("v0 client {index}: ERR {cmd}: {reason} (further ERRs are not shown)");
}

pub async fn connect(
    target: &Target,
    account: &Account,
    opts: ClientOpts,
) -> anyhow::Result<Connected> {
    let secret = account
        .v0_secret
        .as_deref()
        .context("the account has no V0 secret")?;
    let key = key_of(secret)?;
    let dest = match &opts.room {
        Room::Channel { id, .. } => Dest::Channel(id.clone()),
        // The server takes a decimal id or a username; the id is never
        // mistaken for someone else's name.
        Room::Direct { user_id, .. } if !user_id.is_empty() => Dest::User(user_id.clone()),
        Room::Direct { username, .. } => Dest::User(username.clone()),
    };
    let started = Instant::now();
    let stream = tcp_connect(target.v0, opts.source_ip).await?;
    let codec = V0Codec {
        max_payload: MAX_PAYLOAD,
    };
    let mut conn = Framed::new(stream, codec);
    let cnn = Inbound::Cnn {
        id: account.username.clone(),
    };
    conn.send(signed(&cnn, &key)).await?;
    // A refused CNN gets no answer, only a closed connection.
    let timeout_s = loop {
        let f = tokio::time::timeout(LOGIN_TIMEOUT, conn.next())
            .await
            .context("no SINFO after CNN")?
            .context("closed after CNN: the server refused it")??;
        if f.name == "SINFO" {
            let p = Payload::decode(&f.payload)?;
            break p
                .get("timeout_s")
                .and_then(|v| v.as_u64())
                .unwrap_or(v0::IDLE_TIMEOUT_SECS);
        }
    };
    // SINFO is sent once the session is online in every guild, so the
    // channel's messages reach it from here on.
    let ready_after = started.elapsed();
    let (tx, mut rx) = mpsc::channel::<String>(SEND_QUEUE);
    let task = tokio::spawn(async move {
        let quiet = Duration::from_secs((timeout_s / 3).max(1));
        let mut keepalive = tokio::time::interval(quiet);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keepalive.tick().await;
        let mut last_sent = Instant::now();
        loop {
            tokio::select! {
                frame = conn.next() => match frame {
                    Some(Ok(f)) => {
                        if let Some(m) = find_marker(&f.payload) {
                            opts.sink.seen(opts.index, m);
                        } else if f.name == "ERR" {
                            report_err(opts.index, &f.payload);
                        }
                    }
                    _ => break,
                },
                text = rx.recv() => {
                    let Some(text) = text else { break };
                    if conn.send(signed(&dest.command(text), &key)).await.is_err() {
                        break;
                    }
                    last_sent = Instant::now();
                }
                _ = keepalive.tick() => {
                    if last_sent.elapsed() >= quiet {
                        if conn.send(signed(&Inbound::Kalive, &key)).await.is_err() {
                            break;
                        }
                        last_sent = Instant::now();
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
