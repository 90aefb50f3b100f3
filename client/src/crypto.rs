//! The client side of JAM's end-to-end encryption (profile §3). The server
//! never holds a channel key and never decrypts: it stores key envelopes
//! opaque and relays ciphertext.
//!
//! - [`Identity`]: a user's X25519 key pair, random or derived from the
//!   password (Argon2id, salt `"jam:" + username`).
//! - [`ChannelKey`]: 32 random bytes, wrapped for each member in an
//!   [`Envelope`] (ephemeral X25519, HKDF-SHA256 info `"jam channel key"`,
//!   XChaCha20-Poly1305 with the channel id as associated data).
//! - Messages: [`encrypt_message`] / [`decrypt_message`], XChaCha20-Poly1305
//!   with a random 24-byte nonce and the channel id as associated data.
//!
//! ```
//! use switchboard_client::crypto::{self, ChannelKey, Identity};
//!
//! let bob = Identity::generate();
//! let key = ChannelKey::generate();
//! // {"user_id":"7","ephemeral_public_key":"<44 chars>","nonce":"<32 chars>","wrapped_key":"<64 chars>"}
//! let envelope = crypto::wrap_channel_key(&key, "42", "7", &bob.public_key())?;
//! assert_eq!(crypto::unwrap_envelope(&bob, "42", &envelope)?, key);
//! // op 10 {"channel_id":"42","content":"<base64 ct‖tag>","encrypted":true,"nonce":"<base64 24 bytes>"}
//! let (content, nonce) = crypto::encrypt_message(&key, "42", b"hi")?;
//! assert_eq!(crypto::decrypt_message(&key, "42", &content, &nonce)?, b"hi");
//! # Ok::<(), switchboard_client::Error>(())
//! ```

use argon2::{Algorithm, Argon2, Params, Version};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::error::{Error, Result};

/// Bytes of a channel key, an X25519 key and a wrapping key.
pub const KEY_LEN: usize = 32;
/// Bytes of an XChaCha20-Poly1305 nonce.
pub const NONCE_LEN: usize = 24;
/// Bytes of a Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// HKDF `info` of the key-wrapping key.
pub const WRAP_INFO: &[u8] = b"jam channel key";
/// Argon2id memory cost (KiB) of a password-derived identity.
pub const ARGON2_M_KIB: u32 = 19456;
/// Argon2id passes of a password-derived identity.
pub const ARGON2_T: u32 = 2;
/// Argon2id lanes of a password-derived identity.
pub const ARGON2_P: u32 = 1;

/// Decodes standard base64, padded or not.
fn b64_decode(field: &str, s: &str) -> Result<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT
        .decode(s.trim())
        .map_err(|_| Error::Crypto(format!("`{field}` is not base64")))
}

/// Decodes base64 of exactly `N` bytes.
fn b64_array<const N: usize>(field: &str, s: &str) -> Result<[u8; N]> {
    let bytes = b64_decode(field, s)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| Error::Crypto(format!("`{field}` must be {N} bytes, got {}", bytes.len())))
}

/// Parses a published `public_key` (base64 of 32 bytes).
pub fn parse_public_key(b64: &str) -> Result<[u8; KEY_LEN]> {
    b64_array("public_key", b64)
}

/// A user's X25519 key pair. `Debug` shows only the public half.
#[derive(Clone)]
pub struct Identity {
    secret: StaticSecret,
    public: PublicKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("public_key", &self.public_key_b64())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A random key pair.
    pub fn generate() -> Identity {
        let mut bytes = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut bytes);
        Identity::from_secret_bytes(bytes)
    }

    /// The key pair of a stored secret (clamped by X25519 when used).
    pub fn from_secret_bytes(secret: [u8; KEY_LEN]) -> Identity {
        let secret = StaticSecret::from(secret);
        let public = PublicKey::from(&secret);
        Identity { secret, public }
    }

    /// The password-derived identity: secret = Argon2id(password, salt =
    /// `"jam:" + username`, 32 bytes, m = 19456 KiB, t = 2, p = 1). The same
    /// password and username give the same key pair on every device.
    ///
    /// Argon2 needs a salt of at least 8 bytes, so usernames shorter than 4
    /// bytes are refused ([`Error::Crypto`]).
    pub fn from_password(username: &str, password: &str) -> Result<Identity> {
        let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, Some(KEY_LEN))
            .map_err(|e| Error::Crypto(format!("argon2 parameters: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = format!("jam:{username}");
        let mut secret = [0u8; KEY_LEN];
        argon
            .hash_password_into(password.as_bytes(), salt.as_bytes(), &mut secret)
            .map_err(|e| Error::Crypto(format!("argon2 (salt {salt:?}): {e}")))?;
        Ok(Identity::from_secret_bytes(secret))
    }

    /// The secret as stored (unclamped), to persist the identity.
    pub fn secret_bytes(&self) -> [u8; KEY_LEN] {
        self.secret.to_bytes()
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; KEY_LEN] {
        self.public.to_bytes()
    }

    /// The public key as published in `PATCH /api/users/@me`
    /// `{"public_key": "<standard base64 of 32 bytes>"}`.
    pub fn public_key_b64(&self) -> String {
        STANDARD.encode(self.public.as_bytes())
    }

    /// X25519 with `their_public`; fails on a low-order point (an all-zero
    /// shared secret).
    fn agree(&self, their_public: &[u8; KEY_LEN]) -> Result<[u8; KEY_LEN]> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(*their_public));
        if !shared.was_contributory() {
            return Err(Error::Crypto("X25519 with a low-order public key".into()));
        }
        Ok(shared.to_bytes())
    }
}

/// A channel session key: 32 random bytes. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelKey([u8; KEY_LEN]);

impl std::fmt::Debug for ChannelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelKey(..)")
    }
}

impl ChannelKey {
    /// A fresh random key.
    pub fn generate() -> ChannelKey {
        let mut key = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut key);
        ChannelKey(key)
    }

    /// A key from its bytes.
    pub fn from_bytes(key: [u8; KEY_LEN]) -> ChannelKey {
        ChannelKey(key)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// A channel key wrapped for one member, as `PUT /api/channels/<id>/keys`
/// takes it and `GET /api/channels/<id>/keys/@me` returns it (standard
/// base64 with padding; other fields the server adds are ignored):
///
/// ```text
/// {"user_id":"7","ephemeral_public_key":"<b64 32 bytes>","nonce":"<b64 24 bytes>","wrapped_key":"<b64 48 bytes>"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The member it is for.
    pub user_id: String,
    /// The sender's one-time X25519 public key.
    pub ephemeral_public_key: String,
    /// The XChaCha20-Poly1305 nonce.
    pub nonce: String,
    /// The channel key encrypted, with its tag (48 bytes).
    pub wrapped_key: String,
}

impl Envelope {
    /// The envelope as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "user_id": self.user_id,
            "ephemeral_public_key": self.ephemeral_public_key,
            "nonce": self.nonce,
            "wrapped_key": self.wrapped_key,
        })
    }

    /// Reads an envelope from JSON (extra fields are ignored).
    pub fn from_json(v: &serde_json::Value) -> Result<Envelope> {
        Ok(Envelope::deserialize(v)?)
    }
}

/// The key-wrapping key: HKDF-SHA256(ikm = shared, no salt, info
/// `"jam channel key"`), 32 bytes.
fn wrapping_key(shared: &[u8; KEY_LEN]) -> Result<[u8; KEY_LEN]> {
    let mut okm = [0u8; KEY_LEN];
    Hkdf::<Sha256>::new(None, shared)
        .expand(WRAP_INFO, &mut okm)
        .map_err(|_| Error::Crypto("HKDF output length".into()))?;
    Ok(okm)
}

/// XChaCha20-Poly1305 encryption: ciphertext ‖ tag.
pub(crate) fn seal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    XChaCha20Poly1305::new(key.into())
        .encrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::Crypto("encryption failed".into()))
}

/// XChaCha20-Poly1305 decryption of ciphertext ‖ tag.
pub(crate) fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>> {
    if sealed.len() < TAG_LEN {
        return Err(Error::Crypto(format!(
            "ciphertext of {} bytes is shorter than the tag",
            sealed.len()
        )));
    }
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
        .map_err(|_| Error::Crypto("authentication failed (wrong key, nonce or data)".into()))
}

fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    nonce
}

/// Wraps `key` for the member `user_id` whose public key is `member_public`:
/// a fresh ephemeral X25519 key pair, wrapping key = HKDF-SHA256 over
/// X25519(ephemeral, member), then XChaCha20-Poly1305 with a random nonce and
/// the channel id (ASCII decimal) as associated data.
pub fn wrap_channel_key(
    key: &ChannelKey,
    channel_id: &str,
    user_id: &str,
    member_public: &[u8; KEY_LEN],
) -> Result<Envelope> {
    let ephemeral = Identity::generate();
    wrap_with(
        key,
        channel_id,
        user_id,
        member_public,
        &ephemeral,
        &random_nonce(),
    )
}

/// [`wrap_channel_key`] with a given ephemeral key pair and nonce.
fn wrap_with(
    key: &ChannelKey,
    channel_id: &str,
    user_id: &str,
    member_public: &[u8; KEY_LEN],
    ephemeral: &Identity,
    nonce: &[u8; NONCE_LEN],
) -> Result<Envelope> {
    let wrap = wrapping_key(&ephemeral.agree(member_public)?)?;
    let wrapped = seal(&wrap, nonce, channel_id.as_bytes(), &key.0)?;
    Ok(Envelope {
        user_id: user_id.to_string(),
        ephemeral_public_key: ephemeral.public_key_b64(),
        nonce: STANDARD.encode(nonce),
        wrapped_key: STANDARD.encode(wrapped),
    })
}

/// Opens an envelope addressed to `identity` for `channel_id`.
pub fn unwrap_envelope(
    identity: &Identity,
    channel_id: &str,
    envelope: &Envelope,
) -> Result<ChannelKey> {
    let ephemeral: [u8; KEY_LEN] =
        b64_array("ephemeral_public_key", &envelope.ephemeral_public_key)?;
    let nonce: [u8; NONCE_LEN] = b64_array("nonce", &envelope.nonce)?;
    let wrapped = b64_decode("wrapped_key", &envelope.wrapped_key)?;
    let wrap = wrapping_key(&identity.agree(&ephemeral)?)?;
    let key = open(&wrap, &nonce, channel_id.as_bytes(), &wrapped)?;
    let key = <[u8; KEY_LEN]>::try_from(key.as_slice())
        .map_err(|_| Error::Crypto(format!("channel key of {} bytes", key.len())))?;
    Ok(ChannelKey(key))
}

/// Encrypts a message for `channel_id`: returns `(content, nonce)`, where
/// `content` = base64(ciphertext ‖ 16-byte tag) and `nonce` = base64 of 24
/// random bytes, the channel id (ASCII) being the associated data.
pub fn encrypt_message(
    key: &ChannelKey,
    channel_id: &str,
    plaintext: &[u8],
) -> Result<(String, String)> {
    encrypt_with(key, channel_id, plaintext, &random_nonce())
}

/// [`encrypt_message`] with a given nonce.
fn encrypt_with(
    key: &ChannelKey,
    channel_id: &str,
    plaintext: &[u8],
    nonce: &[u8; NONCE_LEN],
) -> Result<(String, String)> {
    let sealed = seal(&key.0, nonce, channel_id.as_bytes(), plaintext)?;
    Ok((STANDARD.encode(sealed), STANDARD.encode(nonce)))
}

/// Decrypts a message's `content` and `nonce` (as in op 10 or a history
/// page) with the channel key; fails unless it authenticates for
/// `channel_id`.
pub fn decrypt_message(
    key: &ChannelKey,
    channel_id: &str,
    content_b64: &str,
    nonce_b64: &str,
) -> Result<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = b64_array("nonce", nonce_b64)?;
    let sealed = b64_decode("content", content_b64)?;
    open(&key.0, &nonce, channel_id.as_bytes(), &sealed)
}

/// Decrypts the `content` and `nonce` of a Message object (`d` of op 10, or
/// an item of a history page) into text.
pub fn decrypt_message_object(key: &ChannelKey, message: &serde_json::Value) -> Result<String> {
    let field = |name: &str| {
        message[name]
            .as_str()
            .ok_or_else(|| Error::Crypto(format!("message without `{name}`")))
    };
    let plain = decrypt_message(
        key,
        field("channel_id")?,
        field("content")?,
        field("nonce")?,
    )?;
    String::from_utf8(plain).map_err(|_| Error::Crypto("plaintext is not UTF-8".into()))
}

#[cfg(test)]
mod tests;
