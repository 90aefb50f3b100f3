//! `switchboard user ...`: account administration. With the server
//! stopped, straight on the store through the same account functions the
//! server uses; while it runs (it holds the store), through its admin
//! endpoint (`/admin/users...`).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;

use anyhow::Context as _;
use switchboard_actors::accounts;
use switchboard_actors::store::Store;
use switchboard_actors::World;

use serde_json::json;

use super::admin_client::{AdminArgs, AdminTarget};
use crate::config::Config;

/// The password on the first line of stdin: no echo-free prompt without a
/// terminal crate, and scripts pipe it anyway.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (echoed; end with Enter): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password on stdin (pipe it in: echo 'secret' | switchboard user ...)");
    }
    accounts::validate_password(&password).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(password)
}

fn find(store: &Store, name: &str) -> anyhow::Result<switchboard_protocols::model::User> {
    store
        .user_by_name(name)?
        .with_context(|| format!("no account named {name:?}"))
}

/// Runs `f` with a world over the offline store, inside an actix system:
/// registration joins the default guild through its actor.
fn with_world<T, F, Fut>(config: &Config, f: F) -> anyhow::Result<T>
where
    F: FnOnce(Arc<World>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let store = super::open_store(config)?;
    let system = actix_rt::System::new();
    let result = system.block_on(async {
        let world = World::start(
            crate::server::world_config(config),
            store.clone(),
            actix_rt::Arbiter::current(),
        )
        .map_err(|e| anyhow::anyhow!("cannot load the world: {}", e.message))?;
        world.set_offline_encoding(switchboard_actors::session::OfflineEncoders);
        f(world).await
    });
    store.flush_blocking()?;
    result
}

/// `user create <name>`: a new account in the default guild.
fn create_offline(
    config: &Config,
    name: &str,
    display_name: Option<&str>,
    password: String,
) -> anyhow::Result<String> {
    with_world(config, |world| async move {
        let (user, token) = accounts::register(&world, name, &password, display_name)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create {name:?}: {}", e.message))?;
        // The operator logs in like everyone else; no session is left behind.
        accounts::revoke_token(&world, &token).map_err(|e| anyhow::anyhow!("{}", e.message))?;
        Ok(format!("created {} (id {})", user.username, user.id.0))
    })
}

/// `user list`: every account as a table.
fn list_offline(config: &Config) -> anyhow::Result<String> {
    let store = super::open_store(config)?;
    let mut out = header();
    let mut after = None;
    // Bounded by the number of accounts: each page moves `after` forward.
    loop {
        let page = store.list_users(after, 500)?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for u in &page {
            let banned = store.is_account_banned(u.id)?;
            out.push_str(&row(&u.id.0.to_string(), &u.username, u.created_at, banned));
        }
    }
    Ok(out)
}

/// `user ban|unban <name>`.
fn set_banned_offline(config: &Config, name: &str, banned: bool) -> anyhow::Result<String> {
    let store = super::open_store(config)?;
    let user = find(&store, name)?;
    let changed = store.set_account_banned(user.id, banned)?;
    store.flush_blocking()?;
    Ok(ban_said(&user.username, banned, changed))
}

/// `user reset-password <name>`: a new password from stdin; every session
/// of the account ends.
fn reset_password_offline(config: &Config, name: &str, password: String) -> anyhow::Result<String> {
    let store = super::open_store(config)?;
    let user = find(&store, name)?;
    let system = actix_rt::System::new();
    let phc = system
        .block_on(accounts::hash_password(password))
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    store.set_password_hash(user.id, &phc)?;
    let ended = store.delete_tokens_of(user.id)?;
    store.flush_blocking()?;
    Ok(format!(
        "password of {} reset; {ended} session(s) logged out",
        user.username
    ))
}

fn header() -> String {
    format!("{:<20} {:<32} {:<20} {}", "ID", "NAME", "CREATED", "BANNED")
}

fn row(id: &str, name: &str, created_at: i64, banned: bool) -> String {
    let created = chrono::DateTime::from_timestamp_millis(created_at).map_or_else(
        || created_at.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    );
    let banned = if banned { "yes" } else { "no" };
    format!("\n{id:<20} {name:<32} {created:<20} {banned}")
}

fn ban_said(name: &str, banned: bool, changed: bool) -> String {
    match (banned, changed) {
        (true, true) => format!("banned {name} and logged them out everywhere"),
        (true, false) => format!("{name} was already banned"),
        (false, true) => format!("unbanned {name}"),
        (false, false) => format!("{name} was not banned"),
    }
}

/// The `user` commands, on the store or through the running server.
pub struct Users<'a> {
    config: &'a Config,
    admin: &'a AdminArgs,
}

impl<'a> Users<'a> {
    pub fn new(config: &'a Config, admin: &'a AdminArgs) -> Self {
        Users { config, admin }
    }

    /// The running server's admin endpoint when it holds the store.
    fn online(&self, what: &str) -> anyhow::Result<Option<AdminTarget>> {
        if !super::backup::locked(self.config) {
            return Ok(None);
        }
        AdminTarget::resolve(self.config, self.admin, what).map(Some)
    }

    /// `user create <name>`: a new account in the default guild.
    pub fn create(&self, name: &str, display_name: Option<&str>) -> anyhow::Result<String> {
        let password = read_password()?;
        let Some(server) = self.online("create accounts")? else {
            return create_offline(self.config, name, display_name, password);
        };
        let mut body = json!({"username": name, "password": password});
        if let Some(d) = display_name {
            body["display_name"] = json!(d);
        }
        let made = server.request("POST", "/admin/users", Some(body))?;
        Ok(format!(
            "created {} (id {})",
            made["username"].as_str().unwrap_or(name),
            made["id"].as_str().unwrap_or("?")
        ))
    }

    /// `user list`: every account as a table.
    pub fn list(&self) -> anyhow::Result<String> {
        let Some(server) = self.online("list accounts")? else {
            return list_offline(self.config);
        };
        let reply = server.request("GET", "/admin/users", None)?;
        let mut out = header();
        for u in reply["users"].as_array().map_or(&[][..], Vec::as_slice) {
            out.push_str(&row(
                u["id"].as_str().unwrap_or("?"),
                u["username"].as_str().unwrap_or("?"),
                u["created_at"].as_i64().unwrap_or(0),
                u["banned"].as_bool().unwrap_or(false),
            ));
        }
        Ok(out)
    }

    /// `user ban|unban <name>`.
    pub fn set_banned(&self, name: &str, banned: bool) -> anyhow::Result<String> {
        let Some(server) = self.online(if banned { "ban" } else { "unban" })? else {
            return set_banned_offline(self.config, name, banned);
        };
        let verb = if banned { "ban" } else { "unban" };
        let reply = server.request(
            "POST",
            &format!("/admin/users/{}/{verb}", path_segment(name)),
            None,
        )?;
        let mut said = ban_said(name, banned, reply["changed"].as_bool().unwrap_or(false));
        if let Some(n) = reply["sessions_closed"].as_u64().filter(|n| *n > 0) {
            said.push_str(&format!("; {n} live connection(s) closed"));
        }
        Ok(said)
    }

    /// `user reset-password <name>`: a new password from stdin; every
    /// session of the account ends.
    pub fn reset_password(&self, name: &str) -> anyhow::Result<String> {
        let password = read_password()?;
        let Some(server) = self.online("reset passwords")? else {
            return reset_password_offline(self.config, name, password);
        };
        let reply = server.request(
            "POST",
            &format!("/admin/users/{}/password", path_segment(name)),
            Some(json!({ "password": password })),
        )?;
        Ok(format!(
            "password of {name} reset; {} session(s) logged out, {} live connection(s) closed",
            reply["tokens_revoked"].as_u64().unwrap_or(0),
            reply["sessions_closed"].as_u64().unwrap_or(0)
        ))
    }
}

/// A username as one URL path segment (usernames are letters, digits, `-`
/// and `_`, but a mistyped one must not change the route).
fn path_segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
