//! Session actors: one per connection, each translating one wire dialect
//! into commands and events into that dialect.

pub mod chatnet;
pub mod jam;
pub mod nynja;
pub mod originchats;
pub mod ready;
pub mod shell;
pub mod tcp;
pub mod v0;
pub mod ws;
pub mod ws_codec;

use switchboard_protocols::Id;

pub use shell::Session;

/// The dialects' side of the hub's offline queues: chat-network mailbox
/// frames and NYNJA persistent-session publishes, encoded here, stored by
/// the hub. Handed to the world at start-up
/// ([`crate::World::set_offline_encoding`]).
pub struct OfflineEncoders;

impl crate::audience::OfflineEncoding for OfflineEncoders {
    fn mailbox_frame(
        &self,
        world: &crate::World,
        message: &switchboard_protocols::event::FullMessage,
        to: Id,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        chatnet::message_frame(world, message, to)
    }

    fn queued_publishes(
        &self,
        world: &crate::World,
        user: &switchboard_protocols::model::User,
        event: &switchboard_protocols::event::Event,
    ) -> Vec<(String, bytes::Bytes)> {
        nynja::publishes_for(world, user, event)
    }
}
