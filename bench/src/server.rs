//! The server under test: the real `switchboard` binary on 127.0.0.1 with
//! a temporary data directory, its memory, and the REST calls the
//! scenarios' set-up needs.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::clients::{Account, Target};

pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef";
pub const NYNJA_CODE: &str = "123456";

/// How the server under test is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    Strict,
    Batched,
}

impl Durability {
    pub fn name(self) -> &'static str {
        match self {
            Durability::Strict => "strict",
            Durability::Batched => "batched",
        }
    }
}

pub struct Server {
    child: Child,
    _dir: TempDir,
    pub target: Target,
}

impl Server {
    pub async fn start(bin: &Path, durability: Durability) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let config = format!(
            "[server]\ndata_dir = {data:?}\nworkers = 2\n\n\
             [listeners]\nhttp = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\noriginchats = \"127.0.0.1:0\"\n\
             chatnet = \"127.0.0.1:0\"\nv0 = \"127.0.0.1:0\"\nmqtt = \"127.0.0.1:0\"\n\n\
             [admin]\ntoken = \"{ADMIN_TOKEN}\"\n\n[storage]\ndurability = \"{durability}\"\n\n\
             [originchats.rate_limiting]\nenabled = false\n\n\
             [limits]\nconnections_per_ip = 0\nuser_requests_per_second = 0\nip_requests_per_second = 0\n\
             password_queue = 100000\n\n\
             [nynja]\nverification = \"fixed\"\nfixed_code = \"{NYNJA_CODE}\"\n\n[log]\nlevel = \"warn\"\n",
            data = dir.path().join("data").display().to_string(),
            durability = durability.name(),
        );
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config)?;
        let mut child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut found = std::collections::HashMap::new();
        let wanted = ["http", "admin", "originchats", "chatnet", "v0", "mqtt"];
        while found.len() < wanted.len() {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .context("the server did not announce its listeners")??
                .context("the server exited during start-up")?;
            let mut parts = line.split_whitespace();
            if parts.next() != Some("listening") {
                continue;
            }
            if let (Some(name), Some(addr)) = (parts.next(), parts.next()) {
                found.insert(name.to_string(), addr.parse::<SocketAddr>()?);
            }
        }
        // Keep draining stdout so the server never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = |name: &str| found.get(name).copied().context("missing listener");
        let target = Target {
            http: addr("http")?,
            originchats_url: format!("ws://{}/", addr("originchats")?),
            chatnet_url: format!("ws://{}/", addr("chatnet")?),
            v0: addr("v0")?,
            mqtt: addr("mqtt")?,
        };
        Ok(Server {
            child,
            _dir: dir,
            target,
        })
    }

    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("server exited")
    }

    /// Resident memory of the server process.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        rss_of(self.pid()?)
    }

    /// CPU time the server used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds_of(&self.pid()?.to_string())
    }

    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
            let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        }
        let _ = self.child.kill().await;
    }

    pub fn rest(&self) -> Rest {
        Rest {
            base: format!("http://{}", self.target.http),
        }
    }
}

/// Resident memory of any process.
pub fn rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// CPU time of a process (`self` for this one), user + system, in seconds.
pub fn cpu_seconds_of(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').map(|(_, r)| r).context("stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15; 11 and 12 after the ')'.
    Ok((ticks(11) + ticks(12)) / 100.0)
}

/// REST calls of the set-up (blocking `ureq` on the blocking pool).
#[derive(Clone)]
pub struct Rest {
    base: String,
}

impl Rest {
    async fn call(
        &self,
        method: &'static str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let token = token.map(|t| format!("Bearer {t}"));
        tokio::task::spawn_blocking(move || {
            let mut req = ureq::request(method, &url).timeout(Duration::from_secs(120));
            if let Some(t) = &token {
                req = req.set("Authorization", t);
            }
            let res = match body {
                Some(b) => req.send_json(b),
                None => req.call(),
            };
            match res {
                Ok(r) => Ok(r.into_json::<Value>().unwrap_or(Value::Null)),
                Err(ureq::Error::Status(code, r)) => {
                    bail!(
                        "{method} {url}: {code} {}",
                        r.into_string().unwrap_or_default()
                    )
                }
                Err(e) => bail!("{method} {url}: {e}"),
            }
        })
        .await?
    }

    /// Registers `username` (paying for one Argon2id hash).
    pub async fn register(&self, username: &str, password: &str) -> anyhow::Result<Account> {
        let v = self
            .call(
                "POST",
                "/api/auth/register",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await?;
        Ok(Account {
            username: username.to_string(),
            password: password.to_string(),
            user_id: v["user"]["id"].as_str().context("user id")?.to_string(),
            token: v["token"].as_str().context("token")?.to_string(),
            ..Account::default()
        })
    }

    /// Issues the account's V0 secret.
    pub async fn v0_key(&self, account: &mut Account) -> anyhow::Result<()> {
        let v = self
            .call("POST", "/api/users/@me/v0-key", Some(&account.token), None)
            .await?;
        account.v0_secret = Some(v["secret"].as_str().context("secret")?.to_string());
        Ok(())
    }

    /// The default guild (`Lobby`) of `account`: its id and its `general` channel id.
    pub async fn lobby(&self, account: &Account) -> anyhow::Result<(String, String)> {
        let guilds = self
            .call(
                "GET",
                &format!("/api/guilds?user_id={}", account.user_id),
                Some(&account.token),
                None,
            )
            .await?;
        let g = guilds
            .as_array()
            .and_then(|gs| gs.iter().find(|g| g["name"] == "Lobby"))
            .context("no Lobby guild")?;
        let gid = g["id"].as_str().context("guild id")?.to_string();
        let full = self
            .call(
                "GET",
                &format!("/api/guilds/{gid}"),
                Some(&account.token),
                None,
            )
            .await?;
        let general = full["channels"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == "general"))
            .and_then(|c| c["id"].as_str())
            .context("no general channel")?
            .to_string();
        Ok((gid, general))
    }

    /// A new text channel in `guild` (the caller must manage channels).
    pub async fn create_channel(
        &self,
        owner: &Account,
        guild: &str,
        name: &str,
    ) -> anyhow::Result<String> {
        let body = json!({"guild_id": guild, "name": name, "type": "text"});
        let c = self
            .call("POST", "/api/channels", Some(&owner.token), Some(body))
            .await?;
        Ok(c["id"].as_str().context("channel id")?.to_string())
    }

    /// A guild owned by `owner`.
    pub async fn create_guild(&self, owner: &Account, name: &str) -> anyhow::Result<String> {
        let body = json!({"name": name, "owner_id": owner.user_id, "description": "bench"});
        let g = self
            .call("POST", "/api/guilds", Some(&owner.token), Some(body))
            .await?;
        Ok(g["id"].as_str().context("guild id")?.to_string())
    }

    /// An invite code to `guild`.
    pub async fn invite(&self, owner: &Account, guild: &str) -> anyhow::Result<String> {
        let v = self
            .call(
                "POST",
                &format!("/api/guilds/{guild}/invites"),
                Some(&owner.token),
                None,
            )
            .await?;
        Ok(v["code"].as_str().context("invite code")?.to_string())
    }

    pub async fn join(&self, account: &Account, code: &str) -> anyhow::Result<()> {
        self.call(
            "POST",
            &format!("/api/invites/{code}"),
            Some(&account.token),
            None,
        )
        .await?;
        Ok(())
    }

    /// The DM channel between `account` and `username`.
    pub async fn open_dm(&self, account: &Account, username: &str) -> anyhow::Result<String> {
        let body = json!({"recipient": username});
        let c = self
            .call(
                "POST",
                "/api/users/@me/channels",
                Some(&account.token),
                Some(body),
            )
            .await?;
        Ok(c["id"].as_str().context("dm id")?.to_string())
    }
}
