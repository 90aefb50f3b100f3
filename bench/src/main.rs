//! `switchboard-bench`: drives a real Switchboard over loopback with real
//! clients of every dialect, and reports what it measured (markdown, JSON
//! and an SVG chart).
//!
//! Every scenario starts its own server from `--server-bin` on 127.0.0.1
//! with a temporary data directory, and every loop is bounded in count and
//! time.

mod clients;
mod recorder;
mod report;
mod scenarios;
mod server;

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use clients::Dialect;
use report::Report;
use scenarios::Settings;

#[derive(Parser)]
#[command(
    name = "switchboard-bench",
    about = "Load generator for Switchboard: idle capacity, fan-out, persisted chat load, login storms and cross-dialect latency, with real clients of JAM, OriginChats, chat-network, V0 and CHAT/NYNJA over MQTT."
)]
struct Cli {
    /// The server binary to start for each scenario (build it with
    /// `cargo build --release`).
    #[arg(long, default_value = "target/release/switchboard")]
    server_bin: PathBuf,
    /// Where report.md, report.json and fanout-latency.svg are written.
    #[arg(long, default_value = "docs/bench")]
    out: PathBuf,
    /// Spread client sockets over source addresses 127.0.0.1 ..= 127.0.0.N
    /// (each address has its own range of ephemeral ports).
    #[arg(long, default_value_t = 4)]
    spread: u8,
    /// Connections opened at the same time while setting up.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Also load this OriginChats server (any implementation, e.g. the
    /// original) the same way, side by side in the idle scenario.
    #[arg(long)]
    compare_originchats: Option<String>,
    /// Also load this chat-network server the same way.
    #[arg(long)]
    compare_chatnet: Option<String>,
    /// `username:password` of an account on the compared servers
    /// (chat-network: signed up if missing).
    #[arg(long, default_value = "bench:bench-password")]
    compare_account: String,
    /// Process id of a compared server, to report its memory.
    #[arg(long)]
    compare_pid: Option<u32>,
    #[command(subcommand)]
    scenario: Scenario,
}

impl Cli {
    fn externals(&self) -> Vec<scenarios::idle::External> {
        let (username, password) = self
            .compare_account
            .split_once(':')
            .unwrap_or((self.compare_account.as_str(), ""));
        let mut out = Vec::new();
        for (dialect, url) in [
            (Dialect::OriginChats, &self.compare_originchats),
            (Dialect::Chatnet, &self.compare_chatnet),
        ] {
            if let Some(url) = url {
                out.push(scenarios::idle::External {
                    dialect,
                    url: url.clone(),
                    username: username.to_string(),
                    password: password.to_string(),
                    pid: self.compare_pid,
                });
            }
        }
        out
    }
}

#[derive(Subcommand)]
enum Scenario {
    /// Every scenario with the sizes `make bench` uses.
    All(AllArgs),
    /// Idle capacity: N authenticated connections per dialect on a fresh
    /// server; server memory per connection and connects per second.
    Idle(IdleArgs),
    /// Fan-out: one channel with N receivers of mixed dialects (JAM,
    /// OriginChats, V0, NYNJA) and one sender at a fixed rate; deliveries
    /// per second and send-to-receive latency for each N.
    Fanout(FanoutArgs),
    /// Persisted chat load: many channels and senders, with durability
    /// "strict" and then "batched"; acknowledged messages per second.
    Chat(ChatArgs),
    /// Login storm: N concurrent password logins; time to authenticated.
    Login(LoginArgs),
    /// Cross-dialect latency: from a sender of each dialect to a receiver
    /// of each other dialect.
    Cross(CrossArgs),
}

#[derive(Args)]
struct AllArgs {
    /// Idle connections per dialect.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Idle connections for NYNJA, whose accounts are made one per
    /// connection (an MQTT ClientId is one session).
    #[arg(long, default_value_t = 5_000)]
    nynja_connections: usize,
}

#[derive(Args)]
struct IdleArgs {
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    #[arg(long, value_delimiter = ',', default_values = ["jam", "originchats", "chatnet", "v0", "nynja"])]
    dialects: Vec<Dialect>,
}

#[derive(Args)]
struct FanoutArgs {
    #[arg(long, value_delimiter = ',', default_values_t = [1000, 5000, 10000])]
    receivers: Vec<usize>,
    /// Messages per second from the sender.
    #[arg(long, default_value_t = 20)]
    rate: u64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The receivers' dialects, in turn.
    #[arg(long, value_delimiter = ',', default_values = ["jam", "originchats", "v0", "nynja"])]
    mix: Vec<Dialect>,
}

#[derive(Args)]
struct ChatArgs {
    #[arg(long, default_value_t = 20)]
    channels: usize,
    #[arg(long, default_value_t = 40)]
    senders: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Unacknowledged messages a sender may have.
    #[arg(long, default_value_t = 32)]
    window: u64,
    /// Run only with this `storage.durability` ("strict" or "batched");
    /// both by default.
    #[arg(long)]
    durability: Option<String>,
}

#[derive(Args)]
struct LoginArgs {
    #[arg(long, default_value_t = 200)]
    logins: usize,
}

#[derive(Args)]
struct CrossArgs {
    /// Messages from each client.
    #[arg(long, default_value_t = 100)]
    messages: u64,
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(String::new(), |kb| format!(", {} GiB", kb / (1024 * 1024)));
    format!("{cpus} cores ({model}){mem}; server and load generator on the same machine")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    clients::epoch();
    let settings = Settings {
        server_bin: cli.server_bin.clone(),
        spread: cli.spread,
        concurrency: cli.concurrency,
    };
    anyhow::ensure!(
        settings.server_bin.exists(),
        "no server binary at {} (run `cargo build --release` first, or pass --server-bin)",
        settings.server_bin.display()
    );
    let started = Instant::now();
    let mut report = Report::default();
    let externals = cli.externals();
    match cli.scenario {
        Scenario::All(a) => {
            // One account per MQTT connection: NYNJA's are made over `Auth`,
            // one by one, so it opens fewer.
            let counts: Vec<(Dialect, usize)> = [
                Dialect::Jam,
                Dialect::OriginChats,
                Dialect::Chatnet,
                Dialect::V0,
                Dialect::Nynja,
            ]
            .into_iter()
            .map(|d| {
                (
                    d,
                    if d == Dialect::Nynja {
                        a.nynja_connections
                    } else {
                        a.connections
                    },
                )
            })
            .collect();
            scenarios::idle::run(&settings, &mut report, &counts, &externals).await?;
            let plan = scenarios::fanout::Plan {
                receivers: vec![1000, 5000, 10000],
                rate: 20,
                seconds: 10,
                mix: scenarios::fanout::MIX.to_vec(),
            };
            scenarios::fanout::run(&settings, &mut report, &plan).await?;
            let plan = scenarios::chat::Plan {
                channels: 20,
                senders: 40,
                seconds: 10,
                window: 32,
                durabilities: vec![server::Durability::Strict, server::Durability::Batched],
            };
            scenarios::chat::run(&settings, &mut report, &plan).await?;
            scenarios::login::run(&settings, &mut report, 200).await?;
            scenarios::cross::run(&settings, &mut report, 100).await?;
        }
        Scenario::Idle(a) => {
            let counts: Vec<(Dialect, usize)> =
                a.dialects.iter().map(|d| (*d, a.connections)).collect();
            scenarios::idle::run(&settings, &mut report, &counts, &externals).await?
        }
        Scenario::Fanout(a) => {
            let plan = scenarios::fanout::Plan {
                receivers: a.receivers,
                rate: a.rate,
                seconds: a.seconds,
                mix: a.mix,
            };
            scenarios::fanout::run(&settings, &mut report, &plan).await?
        }
        Scenario::Chat(a) => {
            let plan = scenarios::chat::Plan {
                channels: a.channels,
                senders: a.senders,
                seconds: a.seconds,
                window: a.window,
                durabilities: match a.durability.as_deref() {
                    Some("strict") => vec![server::Durability::Strict],
                    Some("batched") => vec![server::Durability::Batched],
                    Some(other) => {
                        anyhow::bail!("--durability: \"strict\" or \"batched\", not {other:?}")
                    }
                    None => vec![server::Durability::Strict, server::Durability::Batched],
                },
            };
            scenarios::chat::run(&settings, &mut report, &plan).await?
        }
        Scenario::Login(a) => scenarios::login::run(&settings, &mut report, a.logins).await?,
        Scenario::Cross(a) => scenarios::cross::run(&settings, &mut report, a.messages).await?,
    }
    report.write(&cli.out, &machine())?;
    println!(
        "report written to {} in {:.0} s",
        cli.out.join("report.md").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
