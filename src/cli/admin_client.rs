//! Reaching the running server's admin endpoint from the command line: the
//! address and token it takes, and one JSON request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::config::Config;

/// `--admin` and `--token`, for commands that may go through the server.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AdminArgs {
    /// Admin token of the running server, when the config's
    /// `[admin] token` is empty.
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// Address of the running server's admin listener, when it is not the
    /// config's `listeners.admin` (e.g. that binds port 0).
    #[arg(long, global = true)]
    pub admin: Option<SocketAddr>,
}

/// Where the admin endpoint is and the token to show it.
pub struct AdminTarget {
    pub base: String,
    pub token: String,
}

impl AdminTarget {
    /// From the flags, else the config; `what` names the command for the
    /// messages ("back up", "ban").
    pub fn resolve(config: &Config, args: &AdminArgs, what: &str) -> anyhow::Result<Self> {
        let addr = args.admin.or(config.listeners.admin).with_context(|| {
            format!("the server is running and has no admin listener: stop it to {what} offline")
        })?;
        if addr.port() == 0 {
            anyhow::bail!(
                "the server is running and the config's listeners.admin binds port 0: pass \
                 --admin <address> (the one the server printed), or stop it to {what} offline"
            );
        }
        let token = args
            .token
            .as_deref()
            .filter(|t| !t.is_empty())
            .or(Some(config.admin.token.as_str()).filter(|t| !t.is_empty()))
            .context(
                "the server is running and the config's [admin] token is empty: pass --token \
                 (the admin token the server printed at first start)",
            )?;
        Ok(AdminTarget {
            base: format!("http://{}", dial(addr)),
            token: token.to_string(),
        })
    }

    /// One request with a JSON body (or none); answers the JSON reply of a
    /// 2xx, else the server's error message.
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let system = actix_rt::System::new();
        system.block_on(async {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(60))
                .finish();
            let method = awc::http::Method::from_bytes(method.as_bytes())
                .map_err(|e| anyhow::anyhow!("bad method {method}: {e}"))?;
            let req = client.request(method, &url).bearer_auth(&self.token);
            let sent = match body {
                Some(b) => req.send_json(&b).await,
                None => req.send().await,
            };
            let mut res = sent.map_err(|e| {
                anyhow::anyhow!("cannot reach the running server's admin endpoint at {url}: {e}")
            })?;
            let bytes = res
                .body()
                .await
                .map_err(|e| anyhow::anyhow!("the answer from {url} broke off: {e}"))?;
            let reply: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if !res.status().is_success() {
                let message = reply["error"]["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
                anyhow::bail!("the server refused ({}): {message}", res.status());
            }
            Ok(reply)
        })
    }
}

/// The admin listener as a client dials it: an unspecified bind address
/// (0.0.0.0) is reached over loopback.
pub fn dial(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}
