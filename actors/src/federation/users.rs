//! Users of a peer as this server knows them: non-login accounts named
//! `name@domain`, made the first time one speaks here or is written to.

use std::sync::Arc;

use switchboard_protocols::model::User;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult};

use crate::accounts::validate_username;
use crate::store::StoreError;
use crate::world::World;

/// The local account standing for `name` on `domain` (a configured peer),
/// created without a password, so nobody can sign in as it here.
pub fn remote_user(
    world: &World,
    domain: &str,
    name: &str,
    display_name: Option<&str>,
) -> GatewayResult<Arc<User>> {
    let name = validate_username(name)?;
    let domain = domain.to_ascii_lowercase();
    let username = format!("{name}@{domain}");
    if let Some(u) = world.store.user_by_name(&username)? {
        return world.user(u.id);
    }
    let display_name = display_name
        .map(|s| s.trim().chars().take(100).collect::<String>())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| name.clone());
    let user = User {
        id: world.ids.next(),
        username: username.clone(),
        display_name,
        avatar: None,
        domain: Some(domain),
        public_key: None,
        bot: false,
        created_at: now_ms(),
    };
    match world.store.create_user(&user, None) {
        Ok(()) => Ok(world.cache_user(user)),
        Err(StoreError::Conflict(_)) => match world.store.user_by_name(&username)? {
            Some(u) => world.user(u.id),
            None => Err(GatewayError::conflict("Username is taken")),
        },
        Err(e) => Err(e.into()),
    }
}
