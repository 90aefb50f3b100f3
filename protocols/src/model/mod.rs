//! The entities of Switchboard's one world. Every dialect is a view of these.
//!
//! Times are Unix milliseconds; dialects format them. These types are also
//! what the store persists (msgpack), so fields are only ever added with
//! `#[serde(default)]`.

mod file;
mod guild;
mod message;
mod user;

pub use file::*;
pub use guild::*;
pub use message::*;
pub use user::*;
