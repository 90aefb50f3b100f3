//! JAM v0.1 (`../shared/protocols/jam.md`): WebSocket frames
//! `{"op": <int>, "d": <any>, "s": <int|null>}` and the JSON objects shared
//! with the REST API.
//!
//! - [`frame`]: decoding inbound text frames, finishing outbound ones with the
//!   per-connection sequence number.
//! - [`request`]: client ops turned into [`Request`]s (common commands).
//! - [`encode`]: common events turned into JAM frames, once per event.
//! - [`objects`]: the JSON shape of every entity (User, Guild, Message, ...).
//! - [`codes`]: error codes, close codes, HTTP statuses.

pub mod codes;
pub mod encode;
pub mod frame;
pub mod objects;
pub mod request;
#[cfg(test)]
mod tests;

pub use codes::JamError;
pub use frame::{decode_frame, finish_frame, Inbound};
pub use request::{parse_request, AuthRequest, Request};

/// The protocol name sent in Hello.
pub const PROTOCOL: &str = "jam/0.1";

/// Opcodes, as numbered by the seed.
pub mod op {
    pub const HEARTBEAT: i64 = 0;
    pub const HELLO: i64 = 1;
    pub const AUTHENTICATE: i64 = 2;
    pub const AUTHENTICATED: i64 = 3;
    pub const ERROR: i64 = 4;
    pub const MESSAGE_CREATE: i64 = 10;
    pub const MESSAGE_UPDATE: i64 = 11;
    pub const MESSAGE_DELETE: i64 = 12;
    pub const MESSAGE_REACTION: i64 = 13;
    pub const CHANNEL_CREATE: i64 = 20;
    pub const CHANNEL_UPDATE: i64 = 21;
    pub const CHANNEL_DELETE: i64 = 22;
    pub const GUILD_CREATE: i64 = 30;
    pub const GUILD_UPDATE: i64 = 31;
    pub const VOICE_STATE_UPDATE: i64 = 40;
    pub const STREAM_START: i64 = 50;
    pub const STREAM_END: i64 = 51;
    pub const TYPING_START: i64 = 60;
    pub const USER_PRESENCE: i64 = 70;
    pub const FEDERATION_PACKET: i64 = 80;
    pub const CALL_OFFER: i64 = 90;
    pub const CALL_ANSWER: i64 = 91;
    pub const CALL_ICE: i64 = 92;
    pub const CALL_END: i64 = 93;
}
