//! Client ops as common commands.
//!
//! # Format
//! ```text
//! {"op":2,"d":{"action":"login","username":"alice","password":"pw"}}
//! {"op":10,"d":{"channel_id":"12","content":"hi","reply_to":"9"},"ref":"c-1"}
//! {"op":13,"d":{"message_id":"9","channel_id":"12","emoji":"👍","action":"add"}}
//! {"op":40,"d":{"guild_id":"1","channel_id":null,"self_mute":false,"self_deaf":false}}
//! ```

use serde_json::{Map, Value};

use super::codes::{JamError, INVALID, UNKNOWN_OP};
use super::frame::Inbound;
use super::op;
use crate::command::{Command, NewMessage};
use crate::event::{CallKind, CallSignal};
use crate::model::StreamKind;
use crate::Id;

#[derive(Debug, Clone, PartialEq)]
pub enum AuthRequest {
    Register {
        username: String,
        password: String,
        display_name: Option<String>,
    },
    Login {
        username: String,
        password: String,
    },
    Token(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Op 0 with the last `s` the client saw.
    Heartbeat(Option<u64>),
    Authenticate(AuthRequest),
    Command(Command),
}

/// Turns a decoded frame into a request. `user` is the caller, needed for
/// call signalling (`from`); errors carry the failed op and `ref`.
pub fn parse_request(frame: &Inbound, user: Id) -> Result<Request, JamError> {
    parse(frame, user).map_err(|e| e.with_op(Some(frame.op), frame.reference.clone()))
}

fn parse(frame: &Inbound, user: Id) -> Result<Request, JamError> {
    let d = &frame.d;
    let command = match frame.op {
        op::HEARTBEAT => return Ok(Request::Heartbeat(d.as_u64())),
        op::AUTHENTICATE => return parse_auth(d).map(Request::Authenticate),
        op::MESSAGE_CREATE => Command::SendMessage(NewMessage {
            channel_id: id(d, "channel_id")?,
            content: opt_str(d, "content")?.unwrap_or_default(),
            reply_to: opt_id(d, "reply_to")?,
            attachments: id_list(d, "attachments")?,
            encrypted: opt_bool(d, "encrypted")?.unwrap_or(false),
            nonce: opt_str(d, "nonce")?,
            client_ref: frame.reference.clone(),
            untagged: false,
            binary: false,
        }),
        op::MESSAGE_UPDATE => Command::EditMessage {
            channel_id: id(d, "channel_id")?,
            message_id: id(d, "id")?,
            content: string(d, "content")?,
            encrypted: opt_bool(d, "encrypted")?.unwrap_or(false),
            nonce: opt_str(d, "nonce")?,
        },
        op::MESSAGE_DELETE => Command::DeleteMessage {
            channel_id: id(d, "channel_id")?,
            message_id: id(d, "id")?,
        },
        op::MESSAGE_REACTION => Command::React {
            channel_id: id(d, "channel_id")?,
            message_id: id(d, "message_id")?,
            emoji: emoji(d)?,
            add: match string(d, "action")?.as_str() {
                "add" => true,
                "remove" => false,
                _ => return Err(invalid("Field `action` must be \"add\" or \"remove\"")),
            },
        },
        op::VOICE_STATE_UPDATE => Command::VoiceState {
            guild_id: id(d, "guild_id")?,
            channel_id: opt_id(d, "channel_id")?,
            self_mute: opt_bool(d, "self_mute")?.unwrap_or(false),
            self_deaf: opt_bool(d, "self_deaf")?.unwrap_or(false),
            peer_id: None,
        },
        op::STREAM_START => Command::StreamStart {
            channel_id: id(d, "channel_id")?,
            kind: match string(d, "kind")?.as_str() {
                "screen" => StreamKind::Screen,
                "camera" => StreamKind::Camera,
                _ => return Err(invalid("Field `kind` must be \"screen\" or \"camera\"")),
            },
        },
        op::STREAM_END => Command::StreamEnd {
            stream_id: id(d, "stream_id")?,
        },
        op::TYPING_START => Command::Typing {
            channel_id: id(d, "channel_id")?,
        },
        op::CALL_OFFER | op::CALL_ANSWER | op::CALL_ICE | op::CALL_END => {
            Command::Call(parse_call(frame.op, d, user)?)
        }
        other => {
            return Err(JamError::new(
                UNKNOWN_OP,
                format!("Unknown or server-only op {other}"),
            ))
        }
    };
    Ok(Request::Command(command))
}

fn parse_auth(d: &Value) -> Result<AuthRequest, JamError> {
    if d.get("token").is_some() {
        return Ok(AuthRequest::Token(string(d, "token")?));
    }
    match string(d, "action")?.as_str() {
        "register" => Ok(AuthRequest::Register {
            username: string(d, "username")?,
            password: string(d, "password")?,
            display_name: opt_str(d, "display_name")?,
        }),
        "login" => Ok(AuthRequest::Login {
            username: string(d, "username")?,
            password: string(d, "password")?,
        }),
        _ => Err(invalid(
            "Field `action` must be \"register\" or \"login\" (or send `token`)",
        )),
    }
}

fn parse_call(op_code: i64, d: &Value, user: Id) -> Result<CallSignal, JamError> {
    let kind = match op_code {
        op::CALL_OFFER => CallKind::Offer,
        op::CALL_ANSWER => CallKind::Answer,
        op::CALL_ICE => CallKind::Ice,
        _ => CallKind::End,
    };
    let call_id = string(d, "call_id")?;
    let to = id(d, "to")?;
    let required: &[&str] = match kind {
        CallKind::Offer | CallKind::Answer => &["sdp"],
        CallKind::Ice => &["candidate"],
        CallKind::End => &[],
    };
    for key in required {
        string(d, key)?;
    }
    let optional = ["sdp", "candidate", "sdp_mid", "sdp_mline_index", "reason"];
    let mut data = Map::new();
    for key in optional {
        if let Some(v) = d.get(key).filter(|v| !v.is_null()) {
            data.insert(key.to_string(), v.clone());
        }
    }
    Ok(CallSignal {
        kind,
        call_id,
        from: user,
        to,
        data,
    })
}

fn invalid(msg: impl Into<String>) -> JamError {
    JamError::new(INVALID, msg)
}

fn field<'a>(d: &'a Value, key: &str) -> Option<&'a Value> {
    d.get(key).filter(|v| !v.is_null())
}

fn string(d: &Value, key: &str) -> Result<String, JamError> {
    opt_str(d, key)?.ok_or_else(|| invalid(format!("Missing field `{key}`")))
}

fn opt_str(d: &Value, key: &str) -> Result<Option<String>, JamError> {
    match field(d, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("Field `{key}` must be a string"))),
    }
}

fn opt_bool(d: &Value, key: &str) -> Result<Option<bool>, JamError> {
    match field(d, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(format!("Field `{key}` must be a boolean"))),
    }
}

fn id_value(v: &Value, key: &str) -> Result<Id, JamError> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64().map(Id),
        _ => None,
    }
    .ok_or_else(|| invalid(format!("Field `{key}` must be an id (a decimal string)")))
}

fn id(d: &Value, key: &str) -> Result<Id, JamError> {
    opt_id(d, key)?.ok_or_else(|| invalid(format!("Missing field `{key}`")))
}

fn opt_id(d: &Value, key: &str) -> Result<Option<Id>, JamError> {
    field(d, key).map(|v| id_value(v, key)).transpose()
}

fn id_list(d: &Value, key: &str) -> Result<Vec<Id>, JamError> {
    match field(d, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|v| id_value(v, key)).collect(),
        Some(_) => Err(invalid(format!("Field `{key}` must be a list of ids"))),
    }
}

fn emoji(d: &Value) -> Result<String, JamError> {
    let e = string(d, "emoji")?;
    if e.is_empty() || e.chars().count() > 64 {
        return Err(invalid("Field `emoji` must be 1 to 64 characters"));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jam::frame::decode_frame;

    fn req(text: &str) -> Result<Request, JamError> {
        parse_request(&decode_frame(text).unwrap(), Id(5))
    }

    #[test]
    fn authenticate_variants() {
        assert_eq!(
            req(r#"{"op":2,"d":{"action":"register","username":"a","password":"p","display_name":"A"}}"#).unwrap(),
            Request::Authenticate(AuthRequest::Register {
                username: "a".into(),
                password: "p".into(),
                display_name: Some("A".into())
            })
        );
        assert_eq!(
            req(r#"{"op":2,"d":{"token":"t"}}"#).unwrap(),
            Request::Authenticate(AuthRequest::Token("t".into()))
        );
        assert_eq!(
            req(r#"{"op":2,"d":{"action":"x"}}"#).unwrap_err().code,
            INVALID
        );
    }

    #[test]
    fn message_create_takes_ref_as_client_ref() {
        let r = req(
            r#"{"op":10,"d":{"channel_id":"12","content":"hi","attachments":["3"]},"ref":"c1"}"#,
        )
        .unwrap();
        let Request::Command(Command::SendMessage(m)) = r else {
            panic!("{r:?}")
        };
        assert_eq!(m.channel_id, Id(12));
        assert_eq!(m.attachments, vec![Id(3)]);
        assert_eq!(m.client_ref.as_deref(), Some("c1"));
    }

    #[test]
    fn missing_and_mistyped_fields_are_invalid_with_op_and_ref() {
        let e = req(r#"{"op":12,"d":{"id":"1"},"ref":"z"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.op, e.reference.as_deref(), e.message.as_str()),
            (INVALID, Some(12), Some("z"), "Missing field `channel_id`")
        );
        let e = req(r#"{"op":60,"d":{"channel_id":true}}"#).unwrap_err();
        assert_eq!(e.code, INVALID);
        let e = req(
            r#"{"op":13,"d":{"message_id":"1","channel_id":"2","emoji":"x","action":"toggle"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, INVALID);
    }

    #[test]
    fn unknown_and_server_only_ops() {
        assert_eq!(req(r#"{"op":999,"d":{}}"#).unwrap_err().code, UNKNOWN_OP);
        assert_eq!(req(r#"{"op":20,"d":{}}"#).unwrap_err().code, UNKNOWN_OP);
    }

    #[test]
    fn call_ice_needs_candidate_and_keeps_optionals() {
        let r =
            req(r#"{"op":92,"d":{"call_id":"c","to":"6","candidate":"x","sdp_mline_index":0}}"#)
                .unwrap();
        let Request::Command(Command::Call(c)) = r else {
            panic!()
        };
        assert_eq!((c.kind, c.from, c.to), (CallKind::Ice, Id(5), Id(6)));
        assert_eq!(c.data.get("sdp_mline_index"), Some(&serde_json::json!(0)));
        assert_eq!(
            req(r#"{"op":92,"d":{"call_id":"c","to":"6"}}"#)
                .unwrap_err()
                .code,
            INVALID
        );
    }

    #[test]
    fn heartbeat_carries_last_sequence() {
        assert_eq!(
            req(r#"{"op":0,"d":12}"#).unwrap(),
            Request::Heartbeat(Some(12))
        );
        assert_eq!(
            req(r#"{"op":0,"d":null}"#).unwrap(),
            Request::Heartbeat(None)
        );
    }
}
