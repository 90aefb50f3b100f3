//! Session actors: one per connection, each translating one wire dialect
//! into commands and events into that dialect.

pub mod chatnet;
pub mod jam;
pub mod mqtt;
pub mod originchats;
pub mod ready;
pub mod shell;
pub mod tcp;
pub mod v0;
pub mod ws;
pub mod ws_codec;

use std::net::SocketAddr;

use actix::{Actor, Addr, Context};
use switchboard_protocols::model::Dialect;
use switchboard_protocols::Id;
use tracing::Instrument as _;

/// The span every event of one connection is logged in, so that an operator
/// can follow one client with a single filter (`session=...` or `peer=...`)
/// and see who it was once it logged in. `user` stays empty until then.
pub(crate) fn conn_span(dialect: Dialect, peer: SocketAddr, session: u64) -> tracing::Span {
    tracing::info_span!(
        "conn",
        dialect = dialect.as_str(),
        peer = %peer,
        session,
        user = tracing::field::Empty,
    )
}

/// Names the user of a connection in its span from now on.
pub(crate) fn record_user(span: &tracing::Span, user: Id) {
    span.record("user", tracing::field::display(user));
}

/// `Actor::create`, but with the actor's whole future running inside `span`:
/// handlers, timers, `wait`ed futures, `started` and `stopped` all log in the
/// connection's span without entering it at each of them.
pub(crate) fn start_in_span<A, F>(span: tracing::Span, f: F) -> Addr<A>
where
    A: Actor<Context = Context<A>>,
    F: FnOnce(&mut Context<A>) -> A,
{
    let mut ctx = Context::new();
    let act = f(&mut ctx);
    let fut = ctx.into_future(act);
    let addr = fut.address();
    actix_rt::spawn(fut.instrument(span));
    addr
}

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
        mqtt::publishes_for(world, user, event)
    }
}
