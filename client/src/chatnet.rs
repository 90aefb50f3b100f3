//! The chat-network client's end-to-end encryption, as the original GTK
//! client does it (profile `chatnet.md`, reference §2.4): an X3DH-shaped
//! agreement over X25519 keys carried in `key_exchange.initiate {ik, spk,
//! opk}` and `key_exchange.responder {ik, epk}`, HKDF-SHA256 with empty
//! salt and info, and messages under XChaCha20 (counter 0, no tag) with a
//! random 24-byte nonce, both base64.
//!
//! The server never sees any of it: it relays the keys and stores the
//! ciphertext as it came.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::XChaCha20;
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::error::{Error, Result};

fn public_b64(s: &StaticSecret) -> String {
    B64.encode(PublicKey::from(s).as_bytes())
}

fn public(b64: &str) -> Result<PublicKey> {
    let bytes = B64
        .decode(b64)
        .map_err(|_| Error::Crypto("key is not base64".into()))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::Crypto("key is not 32 bytes".into()))?;
    Ok(PublicKey::from(arr))
}

fn kdf(dh: [[u8; 32]; 4]) -> [u8; 32] {
    let ikm = dh.concat();
    let mut key = [0u8; 32];
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = Hkdf::<Sha256>::new(Some(&[]), &ikm).expand(&[], &mut key);
    key
}

/// The side that sends `key_exchange.initiate` (the bundle owner, B).
pub struct Initiator {
    ik: StaticSecret,
    spk: StaticSecret,
    opk: StaticSecret,
}

impl Initiator {
    /// Fresh identity, signed-prekey and one-time keys.
    pub fn generate() -> Initiator {
        Initiator {
            ik: StaticSecret::random_from_rng(OsRng),
            spk: StaticSecret::random_from_rng(OsRng),
            opk: StaticSecret::random_from_rng(OsRng),
        }
    }

    /// `ik`, `spk`, `opk` of `key_exchange.initiate`.
    pub fn bundle(&self) -> (String, String, String) {
        (
            public_b64(&self.ik),
            public_b64(&self.spk),
            public_b64(&self.opk),
        )
    }

    /// The shared key from the responder's `ik` and `epk`.
    pub fn complete(&self, ik: &str, epk: &str) -> Result<[u8; 32]> {
        let (ik_a, ek_a) = (public(ik)?, public(epk)?);
        Ok(kdf([
            self.spk.diffie_hellman(&ik_a).to_bytes(),
            self.ik.diffie_hellman(&ek_a).to_bytes(),
            self.spk.diffie_hellman(&ek_a).to_bytes(),
            self.opk.diffie_hellman(&ek_a).to_bytes(),
        ]))
    }
}

/// The answer to a bundle: `ik` and `epk` of `key_exchange.responder`, and
/// the shared key.
pub fn respond(ik: &str, spk: &str, opk: &str) -> Result<(String, String, [u8; 32])> {
    let (ik_b, spk_b, opk_b) = (public(ik)?, public(spk)?, public(opk)?);
    let ik_a = StaticSecret::random_from_rng(OsRng);
    let ek_a = StaticSecret::random_from_rng(OsRng);
    let key = kdf([
        ik_a.diffie_hellman(&spk_b).to_bytes(),
        ek_a.diffie_hellman(&ik_b).to_bytes(),
        ek_a.diffie_hellman(&spk_b).to_bytes(),
        ek_a.diffie_hellman(&opk_b).to_bytes(),
    ]);
    Ok((public_b64(&ik_a), public_b64(&ek_a), key))
}

/// `(nonce, message)` of a `message` frame, both base64.
pub fn encrypt(key: &[u8; 32], plaintext: &str) -> (String, String) {
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    let mut data = plaintext.as_bytes().to_vec();
    XChaCha20::new(key.into(), &nonce.into()).apply_keystream(&mut data);
    (B64.encode(nonce), B64.encode(data))
}

/// The text of a `message` frame.
pub fn decrypt(key: &[u8; 32], nonce: &str, message: &str) -> Result<String> {
    let bad = |what: &str| Error::Crypto(format!("message {what}"));
    let nonce: [u8; 24] = B64
        .decode(nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| bad("nonce is not base64 of 24 bytes"))?;
    let mut data = B64.decode(message).map_err(|_| bad("is not base64"))?;
    XChaCha20::new(key.into(), &nonce.into()).apply_keystream(&mut data);
    String::from_utf8(data).map_err(|_| bad("is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_and_messages_round_trip() {
        let b = Initiator::generate();
        let (ik, spk, opk) = b.bundle();
        let (ik_a, epk, key_a) = respond(&ik, &spk, &opk).unwrap();
        let key_b = b.complete(&ik_a, &epk).unwrap();
        assert_eq!(key_a, key_b);
        let (nonce, ct) = encrypt(&key_a, "hello, bob");
        assert_eq!(B64.decode(&nonce).unwrap().len(), 24);
        assert_eq!(B64.decode(&ct).unwrap().len(), "hello, bob".len());
        assert_eq!(decrypt(&key_b, &nonce, &ct).unwrap(), "hello, bob");
    }
}
