//! The federation body (JAM §4) and everything a receiver does with one
//! before it touches any state: the signature over the raw bytes, the JSON,
//! the envelope (origin, destination, time window) and the event's fields.
//! Pure, so the fuzz target and the property tests reach exactly what the
//! server runs; the actors crate re-exports it as `federation::wire`.
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
use ed25519_dalek::{Signature, Signer, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod event;
#[cfg(test)]
mod tests;

pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use event::{field_id, field_text, parse_event, Incoming, Profile};

pub const DOMAIN_HEADER: &str = "X-JAM-Domain";
pub const SIGNATURE_HEADER: &str = "X-JAM-Signature";

/// The transport opcode of a whole federation packet.
pub const FEDERATION_OP: i64 = 80;

/// A body may be this much older than the receiver's clock.
pub const MAX_AGE_MS: i64 = 5 * 60 * 1000;
/// ... and this much newer.
pub const MAX_AHEAD_MS: i64 = 30 * 1000;

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

/// Why a body was refused: the HTTP status and the JAM error code of the
/// answer, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }
}

/// The body's JSON, once its signature has been checked (400 otherwise).
pub fn parse_body(body: &[u8]) -> Result<FederationData, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            400,
            crate::jam::codes::INVALID,
            format!("Malformed body: {e}"),
        )
    })
}

/// The envelope checks, in the profile's order: `origin` is the signing
/// peer (403), `destination` is this server (403), and `timestamp` is
/// within [`MAX_AGE_MS`] before and [`MAX_AHEAD_MS`] after `now` (408).
pub fn check_envelope(
    data: &FederationData,
    peer_domain: &str,
    own_domain: &str,
    now: i64,
) -> Result<(), Refusal> {
    use crate::jam::codes::FORBIDDEN;
    if !data.origin.eq_ignore_ascii_case(peer_domain) {
        return Err(Refusal::new(
            403,
            FORBIDDEN,
            "origin does not match X-JAM-Domain",
        ));
    }
    if !data.destination.eq_ignore_ascii_case(own_domain) {
        return Err(Refusal::new(
            403,
            FORBIDDEN,
            format!("destination is not {own_domain}"),
        ));
    }
    // Saturating: a hostile timestamp near i64::MIN or MAX must be refused,
    // not overflow.
    if now.saturating_sub(data.timestamp) > MAX_AGE_MS {
        return Err(Refusal::new(
            408,
            "TIMESTAMP",
            "timestamp is more than 5 minutes old",
        ));
    }
    if data.timestamp.saturating_sub(now) > MAX_AHEAD_MS {
        return Err(Refusal::new(
            408,
            "TIMESTAMP",
            "timestamp is more than 30 s ahead",
        ));
    }
    Ok(())
}
