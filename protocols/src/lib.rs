//! Switchboard's common event model and its wire dialects.
//!
//! Pure code: no sockets, no actors, no storage. Every dialect module turns
//! its frames into [`command::Command`]s and encodes [`event::Event`]s back,
//! so each can be read, unit-tested and fuzzed without starting anything.

pub mod chatnet;
pub mod command;
pub mod dialect;
pub mod error;
pub mod event;
pub mod federation;
pub mod id;
pub mod jam;
pub mod model;
pub mod nynja;
pub mod originchats;
pub mod permissions;
#[cfg(test)]
mod testgen;
pub mod time;
pub mod v0;

pub use dialect::Dialect;
pub use error::{ErrorKind, GatewayError, GatewayResult, Refusal};
pub use id::{Id, IdGenerator};
