//! The one account store every dialect logs in against: registration,
//! password login (Argon2id, off the actor threads), and session tokens
//! (random, handed out once, stored only as SHA-256).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
/// Re-exported: the federation body checks in `protocols` need it too.
pub use switchboard_protocols::model::validate_username;
use switchboard_protocols::model::User;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult};

use crate::audience::Revocation;
use crate::guild::join_guild;
use crate::hub::EndSessionsOf;
use crate::world::World;

const MAX_PASSWORD_BYTES: usize = 1024;

pub use crate::passwords::hash_password;
use crate::passwords::{check_password_hash, decoy_hash};

/// Whether `password` matches `phc`. Refused as rate limited when the
/// password hashers' queue is full.
pub async fn verify_password(phc: String, password: String) -> GatewayResult<bool> {
    check_password_hash(phc, password).await
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn validate_password(password: &str) -> GatewayResult<()> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(GatewayError::invalid(format!(
            "Password must be 1 to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Every sign-in path ends in a token, so this is where a server-wide ban
/// stops the ones that prove identity elsewhere (Rotur, a NYNJA SMS code).
fn refuse_banned(world: &World, user: &User) -> GatewayResult<()> {
    if world.store.is_account_banned(user.id)? {
        return Err(GatewayError::auth_failed("This account is banned"));
    }
    Ok(())
}

/// A fresh session token for `user`; only its hash is kept.
pub fn issue_token(world: &World, user: &User) -> GatewayResult<String> {
    refuse_banned(world, user)?;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    world
        .store
        .put_token(&hash_token(&token), user.id, now_ms())?;
    Ok(token)
}

/// A fresh session token shaped as a UUID (8-4-4-4-12 hex digits), for
/// dialects whose clients expect one (chat-network). All 128 bits are
/// random: a v4 UUID fixes 6 of them, and clients only compare the string.
/// It is a session token like any other, hashed at rest.
pub fn issue_uuid_token(world: &World, user: &User) -> GatewayResult<String> {
    refuse_banned(world, user)?;
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let token = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    world
        .store
        .put_token(&hash_token(&token), user.id, now_ms())?;
    Ok(token)
}

/// Why a password check failed, for dialects that tell the two apart
/// (chat-network's codes 5 and 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    NoSuchUser,
    WrongPassword,
    /// The password hashers' queue was full: try again later.
    Busy,
}

/// Checks a username and password without issuing a token. Accounts with
/// no password (linked to another service) never pass.
pub async fn check_password(
    world: &Arc<World>,
    username: &str,
    password: &str,
) -> Result<Arc<User>, PasswordCheck> {
    let busy = |_| PasswordCheck::Busy;
    let Ok(Some(user)) = world.store.user_by_name(username.trim()) else {
        verify_password(decoy_hash(), password.to_string())
            .await
            .map_err(busy)?;
        return Err(PasswordCheck::NoSuchUser);
    };
    let phc = world.store.password_hash(user.id).ok().flatten();
    let ok = match phc {
        Some(phc) => verify_password(phc, password.to_string())
            .await
            .map_err(busy)?,
        None => false,
    };
    // A banned account reads as a failed login: its owner already knows.
    if !ok || world.store.is_account_banned(user.id).unwrap_or(true) {
        return Err(PasswordCheck::WrongPassword);
    }
    world.user(user.id).map_err(|_| PasswordCheck::NoSuchUser)
}

/// Revokes a session token; the sockets that signed in with it are closed
/// with their dialect's authentication-failure signal.
pub fn revoke_token(world: &World, token: &str) -> GatewayResult<()> {
    let digest = hash_token(token);
    let record = world.store.token_record(&digest)?;
    world.store.delete_token(&digest)?;
    if let Some(record) = record {
        world
            .hub()
            .do_send(EndSessionsOf(record.user_id, Revocation::LoggedOut(digest)));
    }
    Ok(())
}

/// The user behind a session token.
pub fn authenticate_token(world: &World, token: &str) -> GatewayResult<Arc<User>> {
    let hash = hash_token(token);
    let record = world
        .store
        .token_record(&hash)?
        .ok_or_else(|| GatewayError::auth_failed("Invalid token"))?;
    let age_ms = now_ms().saturating_sub(record.created_at);
    if u64::try_from(age_ms).unwrap_or(0) > world.config.session_ttl_ms {
        // Expired tokens go at their first use; nothing else reads them.
        world.store.delete_token(&hash)?;
        return Err(GatewayError::auth_failed("Token expired"));
    }
    // Bans revoke tokens too; this catches one issued in a race with the ban.
    if world.store.is_account_banned(record.user_id)? {
        world.store.delete_token(&hash)?;
        return Err(GatewayError::auth_failed("This account is banned"));
    }
    world
        .user(record.user_id)
        .map_err(|_| GatewayError::auth_failed("Invalid token"))
}

/// Creates an account, joins it to the default guild, and returns it with
/// a session token.
pub async fn register(
    world: &Arc<World>,
    username: &str,
    password: &str,
    display_name: Option<&str>,
) -> GatewayResult<(Arc<User>, String)> {
    let username = validate_username(username)?;
    validate_password(password)?;
    let display_name = match display_name.map(str::trim) {
        Some(d) if !d.is_empty() => {
            if d.chars().count() > 100 {
                return Err(GatewayError::invalid(
                    "Display name must be at most 100 characters",
                ));
            }
            d.to_string()
        }
        _ => username.clone(),
    };
    if world.store.user_by_name(&username)?.is_some() {
        return Err(GatewayError::conflict("Username is taken"));
    }
    let phc = hash_password(password.to_string()).await?;
    let user = User {
        id: world.ids.next(),
        username,
        display_name,
        avatar: None,
        domain: None,
        public_key: None,
        bot: false,
        created_at: now_ms(),
    };
    world
        .store
        .create_user(&user, Some(&phc))
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => GatewayError::conflict("Username is taken"),
            other => other.into(),
        })?;
    let token = issue_token(world, &user)?;
    let user = world.cache_user(user);
    if let Some(g) = world.default_guild() {
        join_guild(world, user.clone(), g).await?;
    } else {
        world.store.commit().await?;
    }
    Ok((user, token))
}

/// An account for someone who signs in through another service (Rotur):
/// no password, a free username derived from `wanted`, the default guild.
pub async fn create_linked(world: &Arc<World>, wanted: &str) -> GatewayResult<Arc<User>> {
    let base: String = wanted
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-'))
        .take(24)
        .collect::<String>()
        .to_lowercase();
    let base = if base.is_empty() {
        "user".to_string()
    } else {
        base
    };
    for attempt in 0..100u32 {
        let username = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{attempt}")
        };
        let user = User {
            id: world.ids.next(),
            username,
            display_name: wanted.chars().take(100).collect(),
            avatar: None,
            domain: None,
            public_key: None,
            bot: false,
            created_at: now_ms(),
        };
        match world.store.create_user(&user, None) {
            Ok(()) => {
                let user = world.cache_user(user);
                if let Some(g) = world.default_guild() {
                    join_guild(world, user.clone(), g).await?;
                } else {
                    world.store.commit().await?;
                }
                return Ok(user);
            }
            Err(crate::store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(GatewayError::conflict("No free username"))
}

/// Password login; every failure reads the same, except that the right
/// password on a banned account says so.
pub async fn login(
    world: &Arc<World>,
    username: &str,
    password: &str,
) -> GatewayResult<(Arc<User>, String)> {
    let failed = || GatewayError::auth_failed("Invalid username or password");
    let user = world.store.user_by_name(username.trim())?;
    let phc = match &user {
        Some(u) => world.store.password_hash(u.id)?,
        None => None,
    };
    let ok = match phc {
        Some(phc) => verify_password(phc, password.to_string()).await?,
        None => {
            verify_password(decoy_hash(), password.to_string()).await?;
            false
        }
    };
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => return Err(failed()),
    };
    if world.store.is_account_banned(user.id)? {
        return Err(GatewayError::forbidden("This account is banned"));
    }
    let token = issue_token(world, &user)?;
    world.store.commit().await?;
    Ok((world.user(user.id)?, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(validate_username(" alice ").unwrap(), "alice");
        assert!(validate_username("a.b-c_d9").is_ok());
        for bad in ["", "a b", "bob@example.org", &"x".repeat(33), "a/b"] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn argon2id_round_trip() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let phc = hash_password("hunter2".into()).await.unwrap();
            assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
            assert!(verify_password(phc.clone(), "hunter2".into())
                .await
                .unwrap());
            assert!(!verify_password(phc, "hunter3".into()).await.unwrap());
        });
    }

    #[test]
    fn token_hash_is_sha256() {
        assert_eq!(hash_token("abc").len(), 32);
        assert_ne!(hash_token("abc"), hash_token("abd"));
    }
}
