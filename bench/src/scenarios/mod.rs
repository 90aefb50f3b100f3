//! The scenarios, and what they share: a fresh server, accounts for each
//! dialect, and connecting many clients at a bounded concurrency.

pub mod chat;
pub mod cross;
pub mod fanout;
pub mod idle;
pub mod login;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::clients::{self, Account, Client, ClientOpts, Dialect, Room, SharedSink};
use crate::server::{Durability, Rest, Server, NYNJA_CODE};

/// Settings every scenario reads.
#[derive(Clone, Debug)]
pub struct Settings {
    pub server_bin: PathBuf,
    /// Client sockets are spread over 127.0.0.1 ..= 127.0.0.<spread>.
    pub spread: u8,
    /// Connections opened at the same time.
    pub concurrency: usize,
}

pub const PASSWORD: &str = "bench password 0123456789";

/// Accounts of the REST pool are shared: JAM, OriginChats and V0 allow
/// many sessions per account, and each registration costs an Argon2id hash.
pub const POOL: usize = 16;

/// A running server with its shared accounts.
pub struct Ctx {
    pub settings: Settings,
    pub server: Server,
    pub rest: Rest,
    pub pool: Vec<Account>,
    pub general: String,
    next_account: std::sync::atomic::AtomicUsize,
}

impl Ctx {
    pub async fn start(settings: &Settings, durability: Durability) -> anyhow::Result<Ctx> {
        let server = Server::start(&settings.server_bin, durability).await?;
        let rest = server.rest();
        let run = std::process::id();
        let mut pool: Vec<Account> = stream::iter(0..POOL)
            .map(|i| {
                let rest = rest.clone();
                async move { rest.register(&format!("pool{run}x{i}"), PASSWORD).await }
            })
            .buffered(4)
            .try_collect()
            .await?;
        for a in &mut pool {
            rest.v0_key(a).await?;
        }
        let (_, general) = rest.lobby(&pool[0]).await?;
        Ok(Ctx {
            settings: settings.clone(),
            server,
            rest,
            pool,
            general,
            next_account: Default::default(),
        })
    }

    pub fn general_room(&self) -> Room {
        Room::Channel {
            id: self.general.clone(),
            name: "general".into(),
        }
    }

    pub fn source_ip(&self, i: usize) -> IpAddr {
        source_ip(self.settings.spread, i)
    }

    /// An account for connection `i` of `dialect`: the shared pool where the
    /// dialect allows sessions to share an account; a fresh account where it
    /// does not (an MQTT ClientId is one connection).
    pub async fn account(&self, dialect: Dialect, i: usize) -> anyhow::Result<Account> {
        match dialect {
            Dialect::Nynja => {
                let n = self
                    .next_account
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let phone = format!("1555{:07}", n);
                clients::nynja::register(&self.server.target, self.source_ip(i), &phone, NYNJA_CODE)
                    .await
            }
            Dialect::Chatnet => Ok(self.pool[i % self.pool.len()].clone()),
            _ => Ok(self.pool[i % self.pool.len()].clone()),
        }
    }

    /// Opens `n` clients of `dialect` numbered from `first`, at the
    /// configured concurrency; returns them and how long it took.
    pub async fn connect_many(
        &self,
        dialect: Dialect,
        first: usize,
        n: usize,
        room: Room,
        sink: SharedSink,
    ) -> anyhow::Result<(Vec<Client>, Duration)> {
        let accounts = self.accounts(dialect, first, n).await?;
        self.connect_accounts(dialect, first, accounts, room, sink)
            .await
    }

    /// Accounts for connections `first..first + n` of `dialect`.
    pub async fn accounts(
        &self,
        dialect: Dialect,
        first: usize,
        n: usize,
    ) -> anyhow::Result<Vec<Account>> {
        stream::iter(first..first + n)
            .map(|i| self.account(dialect, i))
            .buffered(self.settings.concurrency)
            .try_collect()
            .await
    }

    /// Connects one client per account, numbered from `first`.
    pub async fn connect_accounts(
        &self,
        dialect: Dialect,
        first: usize,
        accounts: Vec<Account>,
        room: Room,
        sink: SharedSink,
    ) -> anyhow::Result<(Vec<Client>, Duration)> {
        let n = accounts.len();
        let started = Instant::now();
        let clients: Vec<Client> = stream::iter(accounts.into_iter().enumerate())
            .map(|(k, account)| {
                let i = first + k;
                let opts = ClientOpts {
                    index: i,
                    source_ip: self.source_ip(i),
                    room: room.clone(),
                    sink: sink.clone(),
                };
                let target = self.server.target.clone();
                async move { Client::connect(dialect, &target, &account, opts).await }
            })
            .buffered(self.settings.concurrency)
            .try_collect()
            .await
            .with_context(|| format!("connecting {n} {} clients", dialect.name()))?;
        Ok((clients, started.elapsed()))
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// The source address of connection `i`: 127.0.0.1 ..= 127.0.0.<spread>.
pub fn source_ip(spread: u8, i: usize) -> IpAddr {
    let spread = spread.max(1) as usize;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % spread) as u8))
}

/// Waits until `done()` or `limit` passed, checking every 20 ms.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

pub fn discard() -> SharedSink {
    Arc::new(clients::Discard)
}
