//! The chat-network dialect (the seed "Protocol Specification"): one JSON
//! object per WebSocket text frame, every object with a `type`.
//!
//! # Format
//! ```text
//! → {"type":"identification","version":"1.0.0","client":"gtk"}
//! ← {"type":"identification","version":"1.0.0","server":"switchboard","invitations":true,"resp_code":0}
//! → {"type":"signin","username":"alice","password":"..."}
//! ← {"type":"signin","resp_code":0,"session":"<uuid>"}
//! → {"type":"message","session":"<uuid>","source":"alice","dest":"bob","nonce":"<b64>","message":"<b64>"}
//! ← (to bob) {"type":"message","source":"alice","dest":"bob","nonce":"<b64>","message":"<b64>"}
//! ```
//! Codes, the relayed types and their fields are in the profile
//! (`protocols/chatnet.md`); this module is the pure part: decoding
//! requests and building replies and events.

use serde_json::{json, Map, Value};

#[cfg(test)]
mod tests;

/// `resp_code` values.
pub mod code {
    pub const SUCCESS: u8 = 0;
    pub const BAD_TOKEN: u8 = 1;
    pub const USER_IN_USE: u8 = 2;
    pub const HASH_NOT_AVAILABLE: u8 = 3;
    pub const CIPHER_NOT_AVAILABLE: u8 = 4;
    pub const USER_NOT_IN_USE: u8 = 5;
    pub const INVALID_PASSWORD: u8 = 6;
    pub const VERSION_MISMATCH: u8 = 7;
    /// Malformed input (Switchboard's addition; the original closed).
    pub const MALFORMED: u8 = 8;
}

pub const VERSION: &str = "1.0.0";
pub const SERVER_NAME: &str = "switchboard";
pub const CIPHERS: [&str; 2] = ["xchacha-poly1305", "aes256-gcm"];
pub const HASHES: [&str; 2] = ["argon2id", "sha256"];

/// Every request type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Identification,
    ProtocolStandard,
    Signup,
    Signin,
    Subscribe,
    InviteRequest,
    InviteAccept,
    InviteReject,
    KeyExchangeInitiate,
    KeyExchangeResponder,
    Message,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Identification,
        Kind::ProtocolStandard,
        Kind::Signup,
        Kind::Signin,
        Kind::Subscribe,
        Kind::InviteRequest,
        Kind::InviteAccept,
        Kind::InviteReject,
        Kind::KeyExchangeInitiate,
        Kind::KeyExchangeResponder,
        Kind::Message,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Identification => "identification",
            Kind::ProtocolStandard => "protocol.standard",
            Kind::Signup => "signup",
            Kind::Signin => "signin",
            Kind::Subscribe => "subscribe",
            Kind::InviteRequest => "invite.request",
            Kind::InviteAccept => "invite.accept",
            Kind::InviteReject => "invite.reject",
            Kind::KeyExchangeInitiate => "key_exchange.initiate",
            Kind::KeyExchangeResponder => "key_exchange.responder",
            Kind::Message => "message",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Requests passed on to `dest`, with `session` removed.
    pub fn is_relayed(self) -> bool {
        self.relayed_fields().is_some()
    }

    /// The fields a relayed request must carry besides `dest`, all strings;
    /// `None` for requests that are not relayed.
    pub fn relayed_fields(self) -> Option<&'static [&'static str]> {
        Some(match self {
            Kind::InviteRequest | Kind::InviteAccept | Kind::InviteReject => &[],
            Kind::KeyExchangeInitiate => &["ik", "spk", "opk"],
            Kind::KeyExchangeResponder => &["ik", "epk"],
            Kind::Message => &["nonce", "message"],
            _ => return None,
        })
    }
}

/// A decoded request: its type and the whole object.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub kind: Kind,
    pub body: Map<String, Value>,
}

impl Request {
    /// A string field, if present and a string.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    /// A required string field, or the malformed-input reason.
    pub fn required(&self, key: &str) -> Result<&str, String> {
        match self.body.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("field `{key}` must be a string")),
            None => Err(format!("missing field `{key}`")),
        }
    }
}

/// Decodes one text frame, or says why it is malformed.
pub fn decode(text: &str) -> Result<Request, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
    let Value::Object(body) = value else {
        return Err("a request must be a JSON object".into());
    };
    let kind = match body.get("type") {
        Some(Value::String(t)) => Kind::parse(t).ok_or_else(|| format!("unknown type `{t}`"))?,
        Some(_) => return Err("field `type` must be a string".into()),
        None => return Err("missing field `type`".into()),
    };
    Ok(Request { kind, body })
}

/// `{type, resp_code}`.
pub fn reply(kind: Kind, resp_code: u8) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(kind.as_str()));
    m.insert("resp_code".into(), json!(resp_code));
    m
}

/// The answer to malformed input: `{type:"error", resp_code:8, reason}`.
pub fn malformed(reason: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("error"));
    m.insert("resp_code".into(), json!(code::MALFORMED));
    m.insert("reason".into(), json!(reason));
    m
}

/// The `identification` answer.
pub fn identification() -> Map<String, Value> {
    let mut m = reply(Kind::Identification, code::SUCCESS);
    m.insert("version".into(), json!(VERSION));
    m.insert("server".into(), json!(SERVER_NAME));
    m.insert("invitations".into(), json!(true));
    m
}

/// The `protocol.standard` answer.
pub fn protocol_standard() -> Map<String, Value> {
    let mut m = reply(Kind::ProtocolStandard, code::SUCCESS);
    m.insert("ciphers".into(), json!(CIPHERS));
    m.insert("hashes".into(), json!(HASHES));
    m
}

/// A signup or signin answer: the session on success, `""` otherwise.
/// `reply_as` is the `type` to answer with (`signin` may answer as
/// `signup`, the original server's quirk).
pub fn session_reply(reply_as: Kind, resp_code: u8, session: &str) -> Map<String, Value> {
    let mut m = reply(reply_as, resp_code);
    m.insert("session".into(), json!(session));
    m
}

/// A relayed request as `dest` receives it: `session` removed, `source`
/// the sender's username.
pub fn relayed(body: &Map<String, Value>, source: &str) -> Map<String, Value> {
    let mut m = body.clone();
    m.remove("session");
    m.insert("source".into(), json!(source));
    m
}

/// A message from a dialect without chat-network encryption.
pub fn plain_message(source: &str, dest: &str, text: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("message"));
    m.insert("source".into(), json!(source));
    m.insert("dest".into(), json!(dest));
    m.insert("nonce".into(), json!(""));
    m.insert("message".into(), json!(text));
    m.insert("plain".into(), json!(true));
    m
}

/// A chat-network ciphertext as it was sent.
pub fn encrypted_message(
    source: &str,
    dest: &str,
    nonce: &str,
    message: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("message"));
    m.insert("source".into(), json!(source));
    m.insert("dest".into(), json!(dest));
    m.insert("nonce".into(), json!(nonce));
    m.insert("message".into(), json!(message));
    m
}

/// `{type:"status", user, status:"online"|"offline"}`.
pub fn status(user: &str, online: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("status"));
    m.insert("user".into(), json!(user));
    m.insert(
        "status".into(),
        json!(if online { "online" } else { "offline" }),
    );
    m
}

/// The text of a frame.
pub fn encode(m: &Map<String, Value>) -> String {
    // A map of JSON values always serialises.
    serde_json::to_string(m).unwrap_or_default()
}

/// A frame the hub relays to one user's chat-network sockets (an invite, a
/// key exchange, a message that waited in the mailbox), carried as
/// [`crate::event::DialectOnly`].
#[derive(Debug, Clone, PartialEq)]
pub struct Relay {
    pub to: crate::Id,
    pub frame: Map<String, Value>,
}
