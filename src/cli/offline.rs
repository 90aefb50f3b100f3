//! Operator commands that work on the data directory with the server
//! stopped (the database admits one process at a time).

use anyhow::Context as _;
use switchboard_actors::federation::keys as federation_keys;
use switchboard_actors::v0::keys;

use super::open_sealed as open;
use crate::config::Config;

/// `switchboard v0 issue-key <username>`: the account's new V0 secret as
/// `{"acc_id","secret"}` (the running server's users get theirs from
/// `POST /api/users/@me/v0-key`).
pub fn v0_issue_key(config: &Config, username: &str) -> anyhow::Result<String> {
    let (store, sealer) = open(config)?;
    let user = store
        .user_by_name(username)?
        .with_context(|| format!("no account named {username:?}"))?;
    let key = keys::issue(&sealer, user.id)?;
    store.flush_blocking()?;
    let secret: String = key.iter().map(|b| format!("{b:02x}")).collect();
    Ok(serde_json::json!({"acc_id": user.username, "secret": secret}).to_string())
}

/// `switchboard federation key`: the server's federation public key (base64
/// of the raw 32 bytes), created on first use.
pub fn federation_key(config: &Config) -> anyhow::Result<String> {
    let (store, sealer) = open(config)?;
    let key = federation_keys::load_or_create(&sealer)?;
    store.flush_blocking()?;
    Ok(federation_keys::public_key_b64(&key))
}
