//! Switchboard's actors and its store.
//!
//! Every connection is a session actor; commands go to the actor that owns
//! the state (hub, guild, channel, voice), which checks permissions,
//! persists through [`store::Store`] and fans the resulting event out.

pub mod store;
