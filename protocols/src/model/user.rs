use serde::{Deserialize, Serialize};

use crate::{GatewayError, GatewayResult, Id};

/// Checks a username: 1–32 characters, letters, digits, `_`, `-`, `.`.
/// `@` is reserved for federated names (`name@domain`).
pub fn validate_username(name: &str) -> GatewayResult<String> {
    let name = name.trim();
    let len = name.chars().count();
    let ok = (1..=32).contains(&len)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return Err(GatewayError::invalid(
            "Username must be 1 to 32 letters, digits, '_', '-' or '.'",
        ));
    }
    Ok(name.to_string())
}

/// A public user profile: never a hash, never a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub display_name: String,
    #[serde(default)]
    pub avatar: Option<String>,
    /// Set for users that live on a federated server (`name@domain`).
    #[serde(default)]
    pub domain: Option<String>,
    /// X25519 public key, base64 of 32 bytes.
    #[serde(default)]
    pub public_key: Option<String>,
    #[serde(default)]
    pub bot: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Idle,
    Dnd,
    Offline,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "online" => Some(Status::Online),
            "idle" => Some(Status::Idle),
            "dnd" => Some(Status::Dnd),
            "offline" => Some(Status::Offline),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Idle => "idle",
            Status::Dnd => "dnd",
            Status::Offline => "offline",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub user_id: Id,
    pub status: Status,
    /// A custom status line, at most 100 chars.
    #[serde(default)]
    pub text: String,
}
