//! Requests and replies.
//!
//! # Format
//! ```text
//! → {"cmd":"message_new","channel":"general","content":"hi","listener":"l1"}
//! ← {"cmd":"message_new","message":{...},"channel":"general","thread_id":null,"global":true,"listener":"l1"}   (sender)
//! ← {"cmd":"message_new","message":{...},"channel":"general","thread_id":null,"global":true}                   (others)
//! ```
//! A reply is rendered once as a [`prefix`] (the object without its closing
//! brace); [`finish`] appends the recipient's `listener` if it has one.

use bytes::Bytes;
use serde_json::{Map, Value};

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// `None` when the frame had no string `cmd`.
    pub cmd: Option<String>,
    pub body: Map<String, Value>,
    /// The correlation string to echo; a non-string `listener` is ignored,
    /// as the reference ignores it.
    pub listener: Option<String>,
}

/// Why a frame could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    NotJson(String),
    NotObject,
}

impl DecodeError {
    /// The `val` of the `error` reply (the reference answers nothing; this
    /// server never stays silent).
    pub fn message(&self) -> String {
        match self {
            DecodeError::NotJson(e) => format!("Invalid JSON: {e}"),
            DecodeError::NotObject => "Invalid message: expected a JSON object".to_string(),
        }
    }
}

pub fn decode(text: &str) -> Result<Inbound, DecodeError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let Value::Object(mut body) = value else {
        return Err(DecodeError::NotObject);
    };
    let cmd = body.get("cmd").and_then(Value::as_str).map(str::to_string);
    let listener = match body.remove("listener") {
        Some(Value::String(l)) => Some(l),
        _ => None,
    };
    Ok(Inbound {
        cmd,
        body,
        listener,
    })
}

/// The reply object without its closing brace.
pub fn prefix(reply: &Map<String, Value>) -> Bytes {
    let mut s = Value::Object(reply.clone()).to_string();
    s.pop();
    Bytes::from(s)
}

/// Completes a [`prefix`], adding `listener` for the requester's copy.
pub fn finish(prefix: &[u8], listener: Option<&str>) -> String {
    let mut out = String::with_capacity(prefix.len() + 32);
    out.push_str(&String::from_utf8_lossy(prefix));
    if let Some(l) = listener {
        // An empty object renders as "{": no comma before the first key.
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str("\"listener\":");
        out.push_str(&Value::String(l.to_string()).to_string());
    }
    out.push('}');
    out
}

/// A reply object from `(key, value)` pairs, `cmd` first.
pub fn reply(
    cmd: &str,
    fields: impl IntoIterator<Item = (&'static str, Value)>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("cmd".into(), Value::String(cmd.to_string()));
    for (k, v) in fields {
        m.insert(k.to_string(), v);
    }
    m
}

/// `{"cmd":"error","val":...,"src":...}`; `src` only when given.
pub fn error(src: Option<&str>, val: &str) -> Map<String, Value> {
    let mut m = reply("error", [("val", Value::String(val.to_string()))]);
    if let Some(src) = src {
        m.insert("src".into(), Value::String(src.to_string()));
    }
    m
}

pub fn auth_error(val: &str) -> Map<String, Value> {
    reply("auth_error", [("val", Value::String(val.to_string()))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen::{json_value, object_without};
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn decodes_cmd_and_listener() {
        let i = decode(r#"{"cmd":"ping","listener":"x"}"#).unwrap();
        assert_eq!(i.cmd.as_deref(), Some("ping"));
        assert_eq!(i.listener.as_deref(), Some("x"));
        assert!(!i.body.contains_key("listener"));
        let i = decode(r#"{"cmd":5,"listener":7}"#).unwrap();
        assert_eq!((i.cmd, i.listener), (None, None));
        assert_eq!(decode("[1]").unwrap_err(), DecodeError::NotObject);
        assert!(matches!(decode("{"), Err(DecodeError::NotJson(_))));
    }

    #[test]
    fn listener_is_spliced_into_the_senders_copy_only() {
        let r = reply("pong", [("val", json!("pong"))]);
        let p = prefix(&r);
        assert_eq!(finish(&p, None), r#"{"cmd":"pong","val":"pong"}"#);
        let mine: Value = serde_json::from_str(&finish(&p, Some("l\"1"))).unwrap();
        assert_eq!(mine, json!({"cmd":"pong","val":"pong","listener":"l\"1"}));
    }

    #[test]
    fn error_shapes() {
        assert_eq!(
            Value::Object(error(Some("message_new"), "Channel not found")),
            json!({"cmd":"error","val":"Channel not found","src":"message_new"})
        );
        assert_eq!(
            Value::Object(error(None, "Unknown command: None")),
            json!({"cmd":"error","val":"Unknown command: None"})
        );
        assert_eq!(
            Value::Object(auth_error("Authentication required")),
            json!({"cmd":"auth_error","val":"Authentication required"})
        );
    }

    proptest! {
        /// A reply, finished with or without the requester's `listener`,
        /// decodes to that reply and that listener: the splice never
        /// breaks the JSON, whatever the object (the empty one too).
        #[test]
        fn a_finished_reply_decodes_to_itself(
            body in object_without(&["listener"]),
            listener in proptest::option::of(".{0,16}"),
        ) {
            let text = finish(&prefix(&body), listener.as_deref());
            let cmd = body.get("cmd").and_then(Value::as_str).map(str::to_string);
            prop_assert_eq!(decode(&text), Ok(Inbound { cmd, body, listener }));
        }

        /// A request as a client writes it: `cmd`, its fields, and a
        /// `listener` of any JSON type, echoed only when it is a string.
        #[test]
        fn a_request_decodes_to_its_cmd_fields_and_listener(
            cmd in "[a-z_]{1,16}",
            fields in object_without(&["cmd", "listener"]),
            listener in proptest::option::of(json_value()),
        ) {
            let mut body = fields;
            body.insert("cmd".into(), json!(cmd));
            let mut sent = body.clone();
            if let Some(l) = &listener {
                sent.insert("listener".into(), l.clone());
            }
            let text = Value::Object(sent).to_string();
            let listener = match listener {
                Some(Value::String(l)) => Some(l),
                _ => None,
            };
            prop_assert_eq!(decode(&text), Ok(Inbound { cmd: Some(cmd), body, listener }));
        }
    }
}
