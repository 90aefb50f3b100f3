//! `switchboard user ...`: account administration with the server stopped,
//! through the same account functions the server uses.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;

use anyhow::Context as _;
use switchboard_actors::accounts;
use switchboard_actors::store::Store;
use switchboard_actors::World;

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
        f(world).await
    });
    store.flush_blocking()?;
    result
}

/// `user create <name>`: a new account in the default guild.
pub fn create(config: &Config, name: &str, display_name: Option<&str>) -> anyhow::Result<String> {
    let password = read_password()?;
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
pub fn list(config: &Config) -> anyhow::Result<String> {
    let store = super::open_store(config)?;
    let mut out = format!("{:<20} {:<32} {:<20} {}", "ID", "NAME", "CREATED", "BANNED");
    let mut after = None;
    // Bounded by the number of accounts: each page moves `after` forward.
    loop {
        let page = store.list_users(after, 500)?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for u in &page {
            let created = chrono::DateTime::from_timestamp_millis(u.created_at).map_or_else(
                || u.created_at.to_string(),
                |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
            );
            let banned = if store.is_account_banned(u.id)? {
                "yes"
            } else {
                "no"
            };
            out.push_str(&format!(
                "\n{:<20} {:<32} {:<20} {}",
                u.id.0, u.username, created, banned
            ));
        }
    }
    Ok(out)
}

/// `user ban|unban <name>`.
pub fn set_banned(config: &Config, name: &str, banned: bool) -> anyhow::Result<String> {
    let store = super::open_store(config)?;
    let user = find(&store, name)?;
    let changed = store.set_account_banned(user.id, banned)?;
    store.flush_blocking()?;
    Ok(match (banned, changed) {
        (true, true) => format!("banned {} and logged them out everywhere", user.username),
        (true, false) => format!("{} was already banned", user.username),
        (false, true) => format!("unbanned {}", user.username),
        (false, false) => format!("{} was not banned", user.username),
    })
}

/// `user reset-password <name>`: a new password from stdin; every session
/// of the account ends.
pub fn reset_password(config: &Config, name: &str) -> anyhow::Result<String> {
    let password = read_password()?;
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
