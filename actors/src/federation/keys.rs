//! The server's Ed25519 key pair: generated at first start, the private
//! half (its 32-byte seed) sealed at rest; the public half is what peers
//! configure (`public_key`, base64 of the raw 32 bytes).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::SigningKey;
use rand::RngCore;

use crate::sealed::{SealError, Sealer};

const SECRET_NAME: &str = "federation/ed25519";

/// The server's signing key, created (and sealed) on first use. The caller
/// flushes the store after a first creation.
pub fn load_or_create(sealer: &Sealer) -> Result<SigningKey, SealError> {
    if let Some(seed) = sealer.secret(SECRET_NAME)? {
        if let Ok(seed) = <[u8; 32]>::try_from(seed.as_slice()) {
            return Ok(SigningKey::from_bytes(&seed));
        }
    }
    let mut seed = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut seed);
    sealer.put_secret(SECRET_NAME, &seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The public key as peers configure it: base64 of the raw 32 bytes.
pub fn public_key_b64(key: &SigningKey) -> String {
    B64.encode(key.verifying_key().as_bytes())
}
