//! The `{op, d, s}` envelope.
//!
//! # Format
//! ```text
//! {"op": 10, "d": {"channel_id": "1", "content": "hi"}, "ref": "c-1"}   client → server
//! {"op": 10, "d": {...message...}, "s": 42}                              server → client
//! ```
//! Outbound frames are built in two steps so that one encoding serves every
//! recipient: [`prefix`] renders `{"op":N,"d":...` once per event and
//! [`finish_frame`] appends the connection's own `,"s":N}`.

use bytes::Bytes;
use serde_json::Value;

use super::codes::{JamError, DECODE_ERROR, INVALID};

/// Longest `ref` a client may attach.
pub const MAX_REF_LEN: usize = 64;

/// A decoded client frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub op: i64,
    pub d: Value,
    /// The client's correlation string, from the frame or from `d`.
    pub reference: Option<String>,
}

/// Decodes one text frame. Every failure is a `DECODE_ERROR` except a bad
/// `ref`, which is `INVALID` (the frame itself was readable).
pub fn decode_frame(text: &str) -> Result<Inbound, JamError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| JamError::new(DECODE_ERROR, format!("Invalid JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(JamError::new(DECODE_ERROR, "A frame must be a JSON object"));
    };
    let op = match obj.get("op") {
        None => return Err(JamError::new(DECODE_ERROR, "Missing field `op`")),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| JamError::new(DECODE_ERROR, "Field `op` must be an integer"))?,
    };
    let d = obj.remove("d").unwrap_or(Value::Null);
    let reference = match (present(obj.get("ref")), present(d.get("ref"))) {
        (Some(r), _) | (None, Some(r)) => {
            Some(parse_ref(r).map_err(|e| e.with_op(Some(op), None))?)
        }
        (None, None) => None,
    };
    Ok(Inbound { op, d, reference })
}

/// A null `ref` is an absent one, as null is for every optional field of a
/// request (found by the JAM round-trip property test).
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|r| !r.is_null())
}

fn parse_ref(v: &Value) -> Result<String, JamError> {
    match v.as_str() {
        Some(s) if s.chars().count() <= MAX_REF_LEN => Ok(s.to_string()),
        _ => Err(JamError::new(
            INVALID,
            format!("`ref` must be a string of at most {MAX_REF_LEN} characters"),
        )),
    }
}

/// `{"op":<op>,"d":<d>` without the closing brace; see [`finish_frame`].
pub fn prefix(op: i64, d: &Value) -> Bytes {
    Bytes::from(format!("{{\"op\":{op},\"d\":{d}"))
}

/// Completes a [`prefix`] with this connection's sequence number.
pub fn finish_frame(prefix: &[u8], s: u64) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(prefix.len() + 28);
    // Prefixes are serde_json output, so always UTF-8; the lossy path only
    // guards the signature.
    match std::str::from_utf8(prefix) {
        Ok(p) => out.push_str(p),
        Err(_) => out.push_str(&String::from_utf8_lossy(prefix)),
    }
    let _ = write!(out, ",\"s\":{s}}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_op_d_and_ref_from_either_place() {
        let f =
            decode_frame(r#"{"op":10,"d":{"channel_id":"1","content":"hi"},"ref":"a"}"#).unwrap();
        assert_eq!(f.op, 10);
        assert_eq!(f.d["content"], "hi");
        assert_eq!(f.reference.as_deref(), Some("a"));
        let f = decode_frame(r#"{"op":60,"d":{"channel_id":"1","ref":"b"}}"#).unwrap();
        assert_eq!(f.reference.as_deref(), Some("b"));
        let f = decode_frame(r#"{"op":0,"s":null}"#).unwrap();
        assert_eq!(f.d, Value::Null);
        let f = decode_frame(r#"{"op":60,"d":{"channel_id":"1","ref":null},"ref":null}"#).unwrap();
        assert_eq!(f.reference, None);
        let f = decode_frame(r#"{"op":60,"d":{"ref":"c"},"ref":null}"#).unwrap();
        assert_eq!(f.reference.as_deref(), Some("c"));
    }

    #[test]
    fn malformed_frames_are_decode_errors() {
        for bad in [
            "",
            "{",
            "[1]",
            "42",
            r#"{"d":{}}"#,
            r#"{"op":"10"}"#,
            r#"{"op":1.5}"#,
        ] {
            assert_eq!(decode_frame(bad).unwrap_err().code, DECODE_ERROR, "{bad}");
        }
        let long = "x".repeat(65);
        let e = decode_frame(&format!(r#"{{"op":10,"ref":"{long}"}}"#)).unwrap_err();
        assert_eq!((e.code, e.op), (INVALID, Some(10)));
    }

    #[test]
    fn finishes_with_sequence_number() {
        let p = prefix(0, &Value::Null);
        assert_eq!(finish_frame(&p, 7), r#"{"op":0,"d":null,"s":7}"#);
        let p = prefix(4, &json!({"code":"X"}));
        let v: Value = serde_json::from_str(&finish_frame(&p, 1)).unwrap();
        assert_eq!(v, json!({"op":4,"d":{"code":"X"},"s":1}));
    }
}
