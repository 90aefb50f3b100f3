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
/// dialect maps the variant rather than reading the message. The
/// [`ErrorKind`] follows from the variant ([`Refusal::kind`]), so dialects
/// that answer by kind alone (JAM codes and statuses, NYNJA atoms, ...) see
/// the same kind as before the variant existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The role hierarchy: the role or member acted on ranks at or above
    /// the actor's highest role, or is the owner (OriginChats: "Cannot
    /// manage roles at or above your position").
    RoleHierarchy,
    /// A message names an attachment someone else uploaded (OriginChats:
    /// "You can only attach your own uploads").
    NotUploader,
    /// A post in, or a join of, a locked thread (OriginChats: "This thread
    /// is locked").
    ThreadLocked,
    /// A message names an attachment that does not exist (OriginChats:
    /// "Attachment not found or expired").
    AttachmentMissing,
    /// A plain-text message sent to a channel that accepts only encrypted
    /// ones (OriginChats: "Cannot send messages in this channel type").
    EncryptedChannel,
}

impl Refusal {
    /// Every variant, for tests and exhaustive tables.
    pub const ALL: [Refusal; 5] = [
        Refusal::RoleHierarchy,
        Refusal::NotUploader,
        Refusal::ThreadLocked,
        Refusal::AttachmentMissing,
        Refusal::EncryptedChannel,
    ];

    /// The kind every dialect without its own wording answers with.
    pub const fn kind(self) -> ErrorKind {
        match self {
            Refusal::RoleHierarchy | Refusal::NotUploader | Refusal::ThreadLocked => {
                ErrorKind::Forbidden
            }
            Refusal::AttachmentMissing => ErrorKind::NotFound,
            Refusal::EncryptedChannel => ErrorKind::Invalid,
        }
    }
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
    /// A [`Refusal`], of the kind [`Refusal::kind`] gives; `m` is for logs
    /// and dialects without a fixed wording.
    pub fn refused(refusal: Refusal, m: impl Into<String>) -> Self {
        GatewayError {
            refusal: Some(refusal),
            ..Self::new(refusal.kind(), m)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_the_kind_the_wire_always_had() {
        let expected = [
            (Refusal::RoleHierarchy, ErrorKind::Forbidden),
            (Refusal::NotUploader, ErrorKind::Forbidden),
            (Refusal::ThreadLocked, ErrorKind::Forbidden),
            (Refusal::AttachmentMissing, ErrorKind::NotFound),
            (Refusal::EncryptedChannel, ErrorKind::Invalid),
        ];
        assert_eq!(expected.len(), Refusal::ALL.len());
        for (refusal, kind) in expected {
            assert!(Refusal::ALL.contains(&refusal), "{refusal:?}");
            assert_eq!(refusal.kind(), kind, "{refusal:?}");
        }
    }

    #[test]
    fn refused_takes_its_kind_from_the_variant_and_keeps_the_text() {
        for refusal in Refusal::ALL {
            let e = GatewayError::refused(refusal, "for the logs");
            assert_eq!(e.kind, refusal.kind());
            assert_eq!(e.refusal, Some(refusal));
            assert_eq!(e.message, "for the logs");
        }
    }

    #[test]
    fn plain_errors_carry_no_refusal() {
        for e in [
            GatewayError::forbidden("Missing permission SEND_MESSAGES"),
            GatewayError::not_found("Unknown message"),
            GatewayError::invalid("Message content must not be empty"),
            GatewayError::rate_limited(10),
        ] {
            assert_eq!(e.refusal, None, "{e}");
        }
    }
}
