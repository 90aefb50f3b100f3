//! The V0 dialect (the "V0 Proposal" draft): plain TCP, msgpack payloads
//! signed with HMAC-SHA3-512, server-anchored channels.
//!
//! # Format
//! ```text
//! → CNN\n<len>\n<hmac hex>\n{id: "alice", timestamp: 1702622553, nonce: 15074760468938913545}
//! ← SINFO\n<len>\n<hmac hex>\n{protocol_version: 0, protocol_verion: 0, server_name, version: 0, timeout_s: 180, timestamp, nonce}
//! → CH_MSG\n<len>\n<hmac hex>\n{id: "<channel id>", msg_id: "<ULID>", msg: "hi", timestamp, nonce}
//! ← CH_MSG {id, msg_id, msg}, then CH_MSG_COMMIT {id: msg_id, acks}
//! ```
//! [`frame`] is the byte codec, [`payload`] the msgpack map and its
//! signature, [`command`] the typed commands.

pub mod command;
pub mod frame;
pub mod payload;

#[cfg(test)]
mod tests;

pub use command::{Body, HistoryEntry, Inbound, Outbound, ParseError};
pub use frame::{Frame, FrameError, V0Codec};
pub use payload::{sign, verify, Payload, PayloadError};

use rand::RngCore;
use ulid::Ulid;

/// How far a payload's timestamp may be from the server clock, and how
/// long nonces are remembered.
pub const REPLAY_WINDOW_SECS: i64 = 60;
/// Seconds a client has to send CNN.
pub const CNN_DEADLINE_SECS: u64 = 5;
/// SINFO's `timeout_s`: the idle timeout.
pub const IDLE_TIMEOUT_SECS: u64 = 180;
/// Default `v0.max_payload`.
pub const DEFAULT_MAX_PAYLOAD: usize = 64 * 1024;
/// The leader of a channel no V0 client leads.
pub const SERVER_LEADER: &str = "server";

/// The 16 bits that mark a `msg_id` the server made for a message from
/// another dialect (the rest of the ULID's randomness is the message id).
const DERIVED_MARK: u128 = 0x5B0A;

/// A signed frame: `fields` plus a fresh `timestamp` and `nonce`.
pub fn signed(name: &str, mut fields: Payload, key: &[u8], now_secs: i64) -> Frame {
    fields.put("timestamp", now_secs);
    fields.put("nonce", rand::thread_rng().next_u64());
    let payload = fields.encode();
    Frame {
        name: name.to_string(),
        sig: sign(key, &payload),
        payload,
    }
}

/// True for a 26-character Crockford base32 ULID.
pub fn is_ulid(s: &str) -> bool {
    s.len() == 26 && Ulid::from_string(s).is_ok()
}

/// The `msg_id` V0 clients see for a message sent in another dialect: a
/// ULID with the message's time whose randomness carries its id.
pub fn derived_msg_id(created_ms: i64, message_id: u64) -> String {
    let random = DERIVED_MARK << 64 | message_id as u128;
    Ulid::from_parts(created_ms.max(0) as u64, random).to_string()
}

/// The message id inside a [`derived_msg_id`], if `msg_id` is one.
pub fn derived_message_id(msg_id: &str) -> Option<u64> {
    let u = Ulid::from_string(msg_id).ok()?;
    let random = u.random();
    (random >> 64 == DERIVED_MARK).then_some(random as u64)
}
