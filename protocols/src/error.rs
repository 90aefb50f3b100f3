//! The one error type every actor answers with. Each dialect maps the kinds
//! to its own error shape (JAM op 4 codes and HTTP statuses, OriginChats
//! `error` strings, ...).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Unauthenticated,
    AuthFailed,
    Forbidden,
    NotFound,
    Invalid,
    Conflict,
    TooLarge,
    RateLimited { retry_after_ms: u64 },
    Internal,
}

/// A refusal a dialect's profile words in its own fixed way, so the
/// dialect maps the variant rather than reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The role hierarchy: the role or member acted on ranks at or above
    /// the actor's highest role, or is the owner (OriginChats: "Cannot
    /// manage roles at or above your position").
    RoleHierarchy,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct GatewayError {
    pub kind: ErrorKind,
    pub message: String,
    /// Which fixed refusal this is, when a dialect words it itself.
    pub refusal: Option<Refusal>,
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl GatewayError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        GatewayError {
            kind,
            message: message.into(),
            refusal: None,
        }
    }
    /// A [`Refusal`] of kind `Forbidden`; `m` is for logs and dialects
    /// without a fixed wording.
    pub fn refused(refusal: Refusal, m: impl Into<String>) -> Self {
        GatewayError {
            refusal: Some(refusal),
            ..Self::new(ErrorKind::Forbidden, m)
        }
    }
    pub fn unauthenticated(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, m)
    }
    pub fn auth_failed(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::AuthFailed, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, m)
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, m)
    }
    pub fn too_large(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, m)
    }
    pub fn rate_limited(retry_after_ms: u64) -> Self {
        Self::new(
            ErrorKind::RateLimited { retry_after_ms },
            "You are being rate limited",
        )
    }
}

pub type GatewayResult<T> = Result<T, GatewayError>;
