//! Session actors: one per connection, each translating one wire dialect
//! into commands and events into that dialect.

pub mod chatnet;
pub mod handle;
pub mod jam;
pub mod mqtt;
pub mod originchats;
pub mod ready;
pub mod tcp;
pub mod v0;
pub mod ws;
