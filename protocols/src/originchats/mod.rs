//! OriginChats (`../shared/protocols/originchats.md`): one JSON object per
//! WebSocket text frame, `{"cmd": "...", ...}` both ways.
//!
//! - [`frame`]: decoding requests, building replies with the `listener`
//!   echo spliced in per recipient.
//! - [`objects`]: the message, user and channel shapes of the reference.
//! - [`limiter`]: the reference's rate-limiting algorithm.
//! - [`perms`]: OriginChats permission names and channel permission lists
//!   as views of the common permission bits.

pub mod frame;
pub mod limiter;
pub mod objects;
pub mod perms;

pub use frame::{decode, finish, prefix, Inbound};

/// `handshake.val.version`.
pub const VERSION: &str = "1.1.0";

/// Heartbeat: the server sends `{"cmd":"ping"}` this often.
pub const PING_INTERVAL_SECS: u64 = 30;

/// `limits.search_results`.
pub const SEARCH_RESULTS: usize = 30;

/// Name of the `@everyone` role in OriginChats views.
pub const EVERYONE: &str = "user";
/// Pseudo-role of the guild owner.
pub const OWNER: &str = "owner";

/// Reply strings the reference sends, word for word.
pub mod strings {
    pub const AUTH_REQUIRED: &str = "Authentication required";
    pub const AUTH_SUCCESS: &str = "Authentication successful";
    pub const INVALID_AUTH: &str = "Invalid authentication";
    pub const ROTUR_DISABLED: &str =
        "Rotur authentication is disabled. Use login or register commands.";
    pub const REGISTRATION_DISABLED: &str = "Registration is disabled";
    pub const CREDENTIALS_REQUIRED: &str = "Username and password required";
    pub const USERNAME_LENGTH: &str = "Username must be 2-32 characters";
    pub const PASSWORD_LENGTH: &str = "Password must be 4-72 characters";
    pub const USERNAME_CHARS: &str =
        "Username can only contain letters, numbers, hyphens, and underscores";
    pub const USERNAME_TAKEN: &str = "Username already taken";
    pub const USER_NOT_FOUND: &str = "User not found";
    pub const INVALID_PASSWORD: &str = "Invalid password";
    pub const ROTUR_ACCOUNT: &str = "This account uses Rotur authentication";
    pub const BANNED: &str = "Access denied: You are banned from this server";
    pub const AUTH_FAILED: &str = "Authentication failed";
    pub const CHANNEL_NOT_FOUND: &str = "Channel not found";
    pub const ACCESS_DENIED_CHANNEL: &str = "Access denied to this channel";
    pub const CHANNEL_NAME_NOT_PROVIDED: &str = "Channel name not provided";
    pub const WRONG_CHANNEL_TYPE: &str = "Cannot use this command in this channel type";
    pub const MESSAGE_NOT_FOUND: &str = "Message not found";
    pub const THREAD_NOT_FOUND: &str = "Thread not found";
    /// A role command stopped by the role hierarchy (profile §7).
    pub const ROLE_AT_OR_ABOVE: &str = "Cannot manage roles at or above your position";
}
