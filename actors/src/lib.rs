//! Switchboard's actors and its store.
//!
//! Every connection is a session actor; commands go to the actor that owns
//! the state (hub, guild, channel, voice), which checks permissions,
//! persists through [`store::Store`] and fans the resulting event out as one
//! shared [`switchboard_protocols::event::Envelope`].

pub mod accounts;
pub mod admission;
pub mod audience;
pub mod channel;
pub mod federation;
pub mod files;
pub mod guild;
pub mod hub;
pub mod metrics;
pub mod nynja;
pub mod passwords;
pub mod sealed;
pub mod session;
pub mod store;
pub mod tls;
pub mod v0;
pub mod voice;
pub mod world;

pub use world::{Caller, Reply, World, WorldConfig};
