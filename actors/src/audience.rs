//! The audience of the core: how an owning actor reaches a session without
//! knowing its dialect — a bounded mailbox for events and an unbounded side
//! door for control. Sessions implement the two handlers; the guild,
//! channel, hub and V0 actors keep [`SessionHandle`]s of whoever listens.

use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;
use switchboard_protocols::event::{Envelope, Event, FullMessage};
use switchboard_protocols::model::User;
use switchboard_protocols::Dialect;
use switchboard_protocols::Id;

use crate::world::World;

/// One event for one session. The envelope is shared by every recipient.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver(pub Arc<Envelope>);

/// A no-op a session sends itself after `ctx.wait`: messages that arrived
/// during the wait are only looked at once the actor is woken again.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Wake;

/// Orders a session obeys whatever its mailbox holds.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum Control {
    /// Its mailbox overflowed: close with the dialect's slow-consumer signal.
    SlowConsumer,
    /// The server is stopping: close with the dialect's going-away signal.
    Shutdown,
    /// The operator banned the account or reset its password, or a token
    /// was logged out: close with the dialect's authentication-failure
    /// signal (the tokens are already revoked) if it concerns this socket
    /// ([`Revocation::applies_to`]).
    Revoked(Revocation),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Banned,
    PasswordReset,
    /// One session token was revoked (a logout): only the sockets that
    /// signed in with it (its SHA-256 digest here) end.
    LoggedOut([u8; 32]),
}

impl Revocation {
    /// Why, for close frames and kick messages.
    pub fn reason(self) -> &'static str {
        match self {
            Revocation::Banned => "This account is banned",
            Revocation::PasswordReset => "The password was reset: log in again",
            Revocation::LoggedOut(_) => "Logged out: log in again",
        }
    }

    /// Whether it ends a socket that signed in with the token of digest
    /// `token` (`None`: not with a token, as V0).
    pub fn applies_to(self, token: Option<&[u8; 32]>) -> bool {
        match self {
            Revocation::LoggedOut(digest) => token == Some(&digest),
            _ => true,
        }
    }
}

#[derive(Clone)]
pub struct SessionHandle {
    pub id: u64,
    pub user_id: Id,
    pub dialect: Dialect,
    pub deliver: Recipient<Deliver>,
    pub control: Recipient<Control>,
}

impl SessionHandle {
    /// Queues an event without waiting. A full mailbox means the session
    /// is not keeping up: it is told to close, and the caller should drop it
    /// from its audience. Returns false in that case or when it is gone.
    ///
    /// `do_send` would ignore the mailbox bound, which is why fan-out never
    /// uses it.
    pub fn offer(&self, env: &Arc<Envelope>) -> bool {
        match self.deliver.try_send(Deliver(env.clone())) {
            Ok(()) => true,
            Err(SendError::Full(_)) => {
                self.control.do_send(Control::SlowConsumer);
                false
            }
            Err(SendError::Closed(_)) => false,
        }
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("dialect", &self.dialect)
            .finish()
    }
}

/// How the dialects that keep a queue for users who are away (the
/// chat-network mailbox, NYNJA persistent sessions) turn what happened into
/// what they keep. The hub decides who is away and stores; only the
/// dialect encodes. Set once at start-up ([`World::set_offline_encoding`]).
pub trait OfflineEncoding: Send + Sync {
    /// The chat-network frame a direct message becomes for `to`.
    fn mailbox_frame(
        &self,
        world: &World,
        message: &FullMessage,
        to: Id,
    ) -> Option<serde_json::Map<String, serde_json::Value>>;

    /// The NYNJA publishes (topic, payload) `user` would be sent for `event`.
    fn queued_publishes(&self, world: &World, user: &User, event: &Event) -> Vec<(String, Bytes)>;
}
