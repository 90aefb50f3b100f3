//! V0 account secrets: 32 random bytes per account, the HMAC-SHA3-512 key
//! of everything the account and the server send each other. Sealed at
//! rest; handed out once, as hex, when issued.

use rand::RngCore;
use switchboard_protocols::Id;

use crate::sealed::{SealError, Sealer};

fn secret_name(user: Id) -> String {
    format!("v0/{user}")
}

/// A fresh secret for `user`, replacing any earlier one. The caller
/// commits the store before handing it out.
pub fn issue(sealer: &Sealer, user: Id) -> Result<[u8; 32], SealError> {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    sealer.put_secret(&secret_name(user), &key)?;
    Ok(key)
}

/// The secret of `user`, if one was issued.
pub fn load(sealer: &Sealer, user: Id) -> Result<Option<[u8; 32]>, SealError> {
    Ok(sealer
        .secret(&secret_name(user))?
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok()))
}
