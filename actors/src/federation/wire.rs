//! The federation body and its signature.
//!
//! # Format
//! ```text
//! POST /federation/receive
//! X-JAM-Domain: a.example
//! X-JAM-Signature: <base64 Ed25519 signature over the exact body bytes>
//!
//! {"id":"<event id>","origin":"a.example","destination":"b.example",
//!  "timestamp":<unix ms>,"op":10,"d":{…the JAM op's payload…}}
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const DOMAIN_HEADER: &str = "X-JAM-Domain";
pub const SIGNATURE_HEADER: &str = "X-JAM-Signature";

/// The transport opcode of a whole federation packet.
pub const FEDERATION_OP: i64 = 80;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederationData {
    pub id: String,
    pub origin: String,
    pub destination: String,
    pub timestamp: i64,
    pub op: i64,
    pub d: Value,
}

/// What the outbox keeps: the body without its routing and time, which are
/// filled in (and signed) at each attempt so a retry is never stale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedEvent {
    pub id: String,
    pub op: i64,
    pub d: Value,
}

/// The exact bytes to send and their signature (base64).
pub fn sign(data: &FederationData, key: &SigningKey) -> (Vec<u8>, String) {
    // Serializing a struct of strings, integers and a Value cannot fail.
    let body = serde_json::to_vec(data).unwrap_or_default();
    let signature = B64.encode(key.sign(&body).to_bytes());
    (body, signature)
}

/// Checks `signature` (base64) over the raw `body`.
pub fn verify(body: &[u8], signature: &str, key: &VerifyingKey) -> bool {
    let Ok(raw) = B64.decode(signature.trim()) else {
        return false;
    };
    let Ok(raw) = <[u8; 64]>::try_from(raw.as_slice()) else {
        return false;
    };
    key.verify(body, &Signature::from_bytes(&raw)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> FederationData {
        FederationData {
            id: "1".into(),
            origin: "a".into(),
            destination: "b".into(),
            timestamp: 1_700_000_000_000,
            op: 10,
            d: json!({"content": "hi"}),
        }
    }

    #[test]
    fn the_body_is_the_profile_shape() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let (body, _) = sign(&data(), &key);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"id":"1","origin":"a","destination":"b","timestamp":1700000000000,"op":10,"d":{"content":"hi"}}"#
        );
    }

    #[test]
    fn signatures_cover_the_exact_bytes() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let (body, sig) = sign(&data(), &key);
        assert!(verify(&body, &sig, &key.verifying_key()));
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert!(!verify(&tampered, &sig, &key.verifying_key()));
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(!verify(&body, &sig, &other));
        assert!(!verify(&body, "not base64!", &key.verifying_key()));
        assert!(!verify(&body, &B64.encode([0u8; 10]), &key.verifying_key()));
    }
}
