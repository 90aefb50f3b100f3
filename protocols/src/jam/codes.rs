//! JAM error codes, WebSocket close codes and REST statuses.

use serde_json::{json, Map, Value};

use crate::{ErrorKind, GatewayError};

pub const DECODE_ERROR: &str = "DECODE_ERROR";
pub const UNKNOWN_OP: &str = "UNKNOWN_OP";
pub const NOT_AUTHENTICATED: &str = "NOT_AUTHENTICATED";
pub const AUTH_FAILED: &str = "AUTH_FAILED";
pub const ALREADY_AUTHENTICATED: &str = "ALREADY_AUTHENTICATED";
pub const INVALID: &str = "INVALID";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const CONFLICT: &str = "CONFLICT";
pub const TOO_LARGE: &str = "TOO_LARGE";
pub const RATE_LIMITED: &str = "RATE_LIMITED";
pub const INTERNAL: &str = "INTERNAL";

/// WebSocket close codes.
pub mod close {
    pub const UNKNOWN_ERROR: u16 = 4000;
    pub const DECODE_ERROR: u16 = 4002;
    pub const NOT_AUTHENTICATED: u16 = 4003;
    pub const AUTHENTICATION_FAILED: u16 = 4004;
    pub const RATE_LIMITED: u16 = 4008;
    pub const SESSION_TIMEOUT: u16 = 4009;
    pub const SLOW_CONSUMER: u16 = 4010;
    pub const GOING_AWAY: u16 = 1001;
}

pub fn code_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unauthenticated => NOT_AUTHENTICATED,
        ErrorKind::AuthFailed => AUTH_FAILED,
        ErrorKind::Forbidden => FORBIDDEN,
        ErrorKind::NotFound => NOT_FOUND,
        ErrorKind::Invalid => INVALID,
        ErrorKind::Conflict => CONFLICT,
        ErrorKind::TooLarge => TOO_LARGE,
        ErrorKind::RateLimited { .. } => RATE_LIMITED,
        ErrorKind::Internal => INTERNAL,
    }
}

/// The REST status for an error kind.
pub fn http_status(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::Invalid => 400,
        ErrorKind::Unauthenticated | ErrorKind::AuthFailed => 401,
        ErrorKind::Forbidden => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::Conflict => 409,
        ErrorKind::TooLarge => 413,
        ErrorKind::RateLimited { .. } => 429,
        ErrorKind::Internal => 500,
    }
}

/// The `d` of an op 4 frame, also the `error` object of a REST error body.
#[derive(Debug, Clone, PartialEq)]
pub struct JamError {
    pub code: &'static str,
    pub message: String,
    /// The op that failed.
    pub op: Option<i64>,
    /// The client's `ref` on the failed frame.
    pub reference: Option<String>,
    pub retry_after_ms: Option<u64>,
}

impl JamError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        JamError {
            code,
            message: message.into(),
            op: None,
            reference: None,
            retry_after_ms: None,
        }
    }

    pub fn with_op(mut self, op: Option<i64>, reference: Option<String>) -> Self {
        self.op = op;
        self.reference = reference;
        self
    }

    pub fn to_value(&self) -> Value {
        let mut d = Map::new();
        d.insert("code".into(), json!(self.code));
        d.insert("message".into(), json!(self.message));
        if let Some(op) = self.op {
            d.insert("op".into(), json!(op));
        }
        if let Some(r) = &self.reference {
            d.insert("ref".into(), json!(r));
        }
        if let Some(ms) = self.retry_after_ms {
            d.insert("retry_after_ms".into(), json!(ms));
        }
        Value::Object(d)
    }

    /// `{"error": {"code", "message"}}`, the REST error body.
    pub fn rest_body(&self) -> Value {
        let mut e = Map::new();
        e.insert("code".into(), json!(self.code));
        e.insert("message".into(), json!(self.message));
        if let Some(ms) = self.retry_after_ms {
            e.insert("retry_after_ms".into(), json!(ms));
        }
        json!({ "error": e })
    }
}

impl From<&GatewayError> for JamError {
    fn from(e: &GatewayError) -> Self {
        let mut out = JamError::new(code_of(e.kind), e.message.clone());
        if let ErrorKind::RateLimited { retry_after_ms } = e.kind {
            out.retry_after_ms = Some(retry_after_ms);
        }
        out
    }
}

impl From<GatewayError> for JamError {
    fn from(e: GatewayError) -> Self {
        JamError::from(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_d_has_exactly_the_profile_fields() {
        let e =
            JamError::from(GatewayError::rate_limited(1500)).with_op(Some(10), Some("r1".into()));
        assert_eq!(
            e.to_value(),
            json!({"code":"RATE_LIMITED","message":"You are being rate limited","op":10,"ref":"r1","retry_after_ms":1500})
        );
        let e = JamError::new(NOT_FOUND, "Unknown channel");
        assert_eq!(
            e.to_value(),
            json!({"code":"NOT_FOUND","message":"Unknown channel"})
        );
        assert_eq!(
            e.rest_body(),
            json!({"error":{"code":"NOT_FOUND","message":"Unknown channel"}})
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(http_status(ErrorKind::Forbidden), 403);
        assert_eq!(
            http_status(ErrorKind::RateLimited { retry_after_ms: 1 }),
            429
        );
        assert_eq!(http_status(ErrorKind::AuthFailed), 401);
    }
}
