//! A body's `d`, read and checked before anything is created: a refused
//! body must not leave a user or a membership behind.

use serde_json::Value;

use crate::jam::op;
use crate::model::validate_username;
use crate::{GatewayError, GatewayResult, Id};

/// A user as a body names them (`author` or `user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub display_name: Option<String>,
}

/// A body's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Create {
        remote: Id,
        author: Profile,
        content: String,
        encrypted: bool,
        nonce: Option<String>,
        reply_to: Option<Id>,
    },
    Update {
        remote: Id,
        content: String,
        encrypted: bool,
        nonce: Option<String>,
    },
    Delete {
        remote: Id,
    },
    React {
        message: Id,
        user: Profile,
        emoji: String,
        add: bool,
    },
    Typing {
        user: Profile,
    },
}

/// The string field `d.<key>`.
pub fn field_text<'a>(d: &'a Value, key: &str) -> GatewayResult<&'a str> {
    d.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| GatewayError::invalid(format!("Missing string field `d.{key}`")))
}

/// The id field `d.<key>`: a decimal string or a non-negative integer.
pub fn field_id(d: &Value, key: &str) -> GatewayResult<Id> {
    let parsed = match d.get(key) {
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    parsed
        .map(Id)
        .ok_or_else(|| GatewayError::invalid(format!("Field `d.{key}` must be an id")))
}

fn profile(d: &Value, key: &str) -> GatewayResult<Profile> {
    let p = d
        .get(key)
        .ok_or_else(|| GatewayError::invalid(format!("Missing object `d.{key}`")))?;
    Ok(Profile {
        name: validate_username(field_text(p, "username")?)?,
        display_name: p
            .get("display_name")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

fn content(d: &Value, max_chars: usize) -> GatewayResult<String> {
    let content = field_text(d, "content")?;
    if content.trim().is_empty() {
        return Err(GatewayError::invalid("Message content must not be empty"));
    }
    if content.chars().count() > max_chars {
        return Err(GatewayError::too_large(format!(
            "Message content is longer than {max_chars} characters"
        )));
    }
    Ok(content.to_string())
}

/// Reads the event of a body with opcode `op` and payload `d`; message
/// content is at most `max_chars` characters.
pub fn parse_event(op: i64, d: &Value, max_chars: usize) -> GatewayResult<Incoming> {
    if !d.is_object() {
        return Err(GatewayError::invalid("`d` must be an object"));
    }
    let encrypted = d.get("encrypted").and_then(Value::as_bool).unwrap_or(false);
    let nonce = d.get("nonce").and_then(Value::as_str).map(str::to_string);
    Ok(match op {
        op::MESSAGE_CREATE => Incoming::Create {
            remote: field_id(d, "id")?,
            author: profile(d, "author")?,
            content: content(d, max_chars)?,
            encrypted,
            nonce,
            reply_to: field_id(d, "reply_to").ok(),
        },
        op::MESSAGE_UPDATE => Incoming::Update {
            remote: field_id(d, "id")?,
            content: content(d, max_chars)?,
            encrypted,
            nonce,
        },
        op::MESSAGE_DELETE => Incoming::Delete {
            remote: field_id(d, "id")?,
        },
        op::MESSAGE_REACTION => Incoming::React {
            message: field_id(d, "message_id")?,
            user: profile(d, "user")?,
            emoji: field_text(d, "emoji")?.to_string(),
            add: match field_text(d, "action")? {
                "add" => true,
                "remove" => false,
                other => {
                    return Err(GatewayError::invalid(format!(
                        "`d.action` must be \"add\" or \"remove\", got {other:?}"
                    )))
                }
            },
        },
        op::TYPING_START => Incoming::Typing {
            user: profile(d, "user")?,
        },
        other => {
            return Err(GatewayError::invalid(format!(
                "op {other} does not federate (10, 11, 12, 13 and 60 do)"
            )))
        }
    })
}
