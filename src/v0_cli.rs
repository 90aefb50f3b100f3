//! `switchboard v0 issue-key <username>`: the operator's way to give an
//! account its V0 secret, with the server stopped (the database allows one
//! process at a time; with the server running, the account's owner uses
//! `POST /api/users/@me/v0-key`).

use anyhow::Context as _;
use switchboard_actors::sealed::Sealer;
use switchboard_actors::store::{Durability, Store, StoreConfig};
use switchboard_actors::v0::keys;

use crate::config::Config;

pub fn issue_key(config: &Config, username: &str) -> anyhow::Result<String> {
    let data_dir = config.data_dir();
    let store = Store::open(&StoreConfig {
        path: data_dir.join("db"),
        durability: Durability::Batched,
        flush_every_ms: 1000,
        cache_capacity_bytes: 16 * 1024 * 1024,
    })
    .with_context(|| {
        format!(
            "cannot open the store in {} (stop the server first, or let the \
             user call POST /api/users/@me/v0-key)",
            data_dir.display()
        )
    })?;
    let sealer = Sealer::open(&store, &data_dir, &config.storage.passphrase)?;
    let user = store
        .user_by_name(username)?
        .with_context(|| format!("no account named {username:?}"))?;
    let key = keys::issue(&sealer, user.id)?;
    store.flush_blocking()?;
    let secret: String = key.iter().map(|b| format!("{b:02x}")).collect();
    Ok(serde_json::json!({"acc_id": user.username, "secret": secret}).to_string())
}
