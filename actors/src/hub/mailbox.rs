//! chat-network delivery through the hub: relayed frames, invites that
//! become friendships, and the mailbox where frames wait for a user with no
//! subscribed chat-network socket until their next `subscribe`.
//!
//! The hub does this because it alone knows, in one place and in order,
//! whether a user has a socket to deliver to: a frame is either handed to a
//! live session or stored, never both and never neither.

use std::sync::Arc;

use actix::prelude::*;
use serde_json::{Map, Value};
use switchboard_protocols::event::{DialectOnly, Envelope, Event};
use switchboard_protocols::Dialect;
use switchboard_protocols::Id;
use tracing::warn;

use super::Hub;
use crate::audience::SessionHandle;

/// What an invite frame does to the pair's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteStep {
    Request,
    Accept,
    Reject,
}

/// A chat-network frame from `from` for `to`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Relay {
    pub from: Id,
    pub to: Id,
    pub invite: Option<InviteStep>,
    pub frame: Map<String, Value>,
}

/// A chat-network socket subscribes. The hub answers with what waited for
/// the user, at most [`MAILBOX_BATCH`] frames at a time (removed from the
/// store), and registers the socket for live delivery in the same step
/// that empties the mailbox: the socket asks again until `live`, so frames
/// that arrive meanwhile join the mailbox and keep their order.
#[derive(Message)]
#[rtype(result = "Drained")]
pub struct Subscribe(pub SessionHandle);

pub const MAILBOX_BATCH: usize = 256;

#[derive(Debug, Default, MessageResponse)]
pub struct Drained {
    pub frames: Vec<Map<String, Value>>,
    /// The socket now gets frames as they come.
    pub live: bool,
}

impl Hub {
    fn chatnet_sessions(&self, user: Id) -> Vec<&SessionHandle> {
        self.by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter(|s| s.dialect == Dialect::ChatNet)
            .collect()
    }

    fn hold(&self, to: Id, frame: &Map<String, Value>) {
        let text = switchboard_protocols::chatnet::encode(frame);
        let seq = self.world.ids.next();
        if let Err(e) = self.world.store.outbox_push(to, seq, text.as_bytes()) {
            warn!(user = %to, error = %e, "chat-network mailbox write failed");
        }
    }

    /// What NYNJA clients with a persistent session (`clean_session=false`)
    /// would have been sent while they are away waits in their queue.
    fn hold_for_nynja(&self, users: &[Id], env: &Arc<Envelope>) {
        let absent: Vec<Id> = users
            .iter()
            .copied()
            .filter(|u| {
                !self
                    .by_user
                    .get(u)
                    .into_iter()
                    .flatten()
                    .any(|s| s.dialect == Dialect::Nynja)
            })
            .collect();
        self.hold_nynja_regardless(&absent, env);
    }

    /// Queues `env` for the persistent NYNJA sessions of `users`.
    pub(super) fn hold_nynja_regardless(&self, users: &[Id], env: &Arc<Envelope>) {
        for u in users {
            let Some(client_id) = crate::nynja::persistent_client(&self.world, *u) else {
                continue;
            };
            let Ok(user) = self.world.user(*u) else {
                continue;
            };
            let Some(encoding) = self.world.offline_encoding() else {
                return;
            };
            for (topic, payload) in encoding.queued_publishes(&self.world, &user, &env.event) {
                let seq = self.world.ids.next();
                if let Err(e) = self
                    .world
                    .store
                    .nynja_queue_push(&client_id, seq, &topic, &payload)
                {
                    warn!(error = %e, "nynja queue write failed");
                }
            }
        }
    }

    /// Direct messages for chat-network users who are away wait in their
    /// mailbox (the dialect has no history to read them back from).
    pub(super) fn hold_for_absent(&self, users: &[Id], env: &Arc<Envelope>) {
        self.hold_for_nynja(users, env);
        let Event::MessageCreate(fm) = &env.event else {
            return;
        };
        if fm.message.guild_id.is_some() {
            return;
        }
        for u in users {
            let absent = *u != fm.message.author_id
                && self.chatnet_sessions(*u).is_empty()
                && self.world.store.is_chatnet_user(*u).unwrap_or(false);
            if absent {
                let frame = self
                    .world
                    .offline_encoding()
                    .and_then(|e| e.mailbox_frame(&self.world, fm, *u));
                if let Some(frame) = frame {
                    self.hold(*u, &frame);
                }
            }
        }
    }

    fn record_invite(&self, from: Id, to: Id, step: InviteStep) {
        let store = &self.world.store;
        let done = match step {
            InviteStep::Request => store.put_friend_request(from, to),
            // Accepting an invite that was made: friends from now on.
            InviteStep::Accept => match store.take_friend_request(to, from) {
                Ok(true) => store.put_friendship(from, to),
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            },
            InviteStep::Reject => store.take_friend_request(to, from).map(|_| ()),
        };
        if let Err(e) = done {
            warn!(error = %e, "friendship write failed");
        }
    }
}

/// A change of standing between two users from a dialect without relayed
/// frames (NYNJA `Friend`): the hub keeps friendships, whoever asks.
#[derive(Message)]
#[rtype(result = "Result<bool, crate::store::StoreError>")]
pub enum Friendship {
    /// `from` asks `to`.
    Request { from: Id, to: Id },
    /// `to` accepts what `from` asked; false when nothing was asked.
    Accept { from: Id, to: Id },
    /// Either's pending request between the two goes.
    Withdraw { a: Id, b: Id },
}

impl Handler<Friendship> for Hub {
    type Result = Result<bool, crate::store::StoreError>;

    fn handle(&mut self, msg: Friendship, _: &mut Self::Context) -> Self::Result {
        let store = &self.world.store;
        match msg {
            Friendship::Request { from, to } => store.put_friend_request(from, to).map(|_| true),
            Friendship::Accept { from, to } => {
                if !store.take_friend_request(from, to)? {
                    return Ok(false);
                }
                store.put_friendship(from, to)?;
                Ok(true)
            }
            Friendship::Withdraw { a, b } => {
                let one = store.take_friend_request(a, b)?;
                let other = store.take_friend_request(b, a)?;
                Ok(one || other)
            }
        }
    }
}

impl Handler<Relay> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Relay, _: &mut Self::Context) {
        if let Some(step) = msg.invite {
            self.record_invite(msg.from, msg.to, step);
        }
        let live = self.chatnet_sessions(msg.to);
        if live.is_empty() {
            self.hold(msg.to, &msg.frame);
            return;
        }
        let relay = switchboard_protocols::chatnet::Relay {
            to: msg.to,
            frame: msg.frame,
        };
        let env = Arc::new(Envelope::new(
            Event::DialectOnly(DialectOnly::new(relay)),
            None,
        ));
        let mut n = 0;
        for s in live {
            if s.offer(&env) {
                n += 1;
            }
        }
        self.world.metrics.delivered(n);
    }
}

/// `user` signed in or subscribed over chat-network: from now on, direct
/// messages wait in their mailbox while they are away.
#[derive(Message)]
#[rtype(result = "Result<(), crate::store::StoreError>")]
pub struct UsesChatnet(pub Id);

impl Handler<UsesChatnet> for Hub {
    type Result = Result<(), crate::store::StoreError>;

    fn handle(&mut self, UsesChatnet(user): UsesChatnet, _: &mut Self::Context) -> Self::Result {
        self.world.store.mark_chatnet_user(user)
    }
}

impl Handler<Subscribe> for Hub {
    type Result = Drained;

    fn handle(&mut self, Subscribe(session): Subscribe, ctx: &mut Self::Context) -> Drained {
        let user = session.user_id;
        let store = &self.world.store;
        if let Err(e) = store.mark_chatnet_user(user) {
            warn!(user = %user, error = %e, "chat-network user mark failed");
        }
        let waiting = store.outbox_of(user).unwrap_or_default();
        let mut out = Drained {
            frames: Vec::new(),
            live: waiting.len() <= MAILBOX_BATCH,
        };
        for (key, text) in waiting.into_iter().take(MAILBOX_BATCH) {
            let frame = serde_json::from_slice::<Value>(&text)
                .ok()
                .and_then(|v| v.as_object().cloned());
            out.frames.extend(frame);
            if let Err(e) = store.outbox_remove(&key) {
                warn!(error = %e, "chat-network mailbox removal failed");
            }
        }
        if out.live {
            <Hub as Handler<super::Online>>::handle(self, super::Online(session), ctx);
        }
        out
    }
}

/// A persistent NYNJA session reconnected: what waited for it, in order,
/// and the session live from the same step.
#[derive(Message)]
#[rtype(result = "Vec<(String, Vec<u8>)>")]
pub struct NynjaOnline {
    pub session: SessionHandle,
    pub client_id: String,
}

impl Handler<NynjaOnline> for Hub {
    type Result = MessageResult<NynjaOnline>;

    fn handle(&mut self, msg: NynjaOnline, ctx: &mut Self::Context) -> Self::Result {
        // A NYNJA ClientId is `emqttd_<user id>`, so another NYNJA session of
        // the same user holds the same ClientId: MQTT 3.1.1 §3.1.4 says the
        // server disconnects it. For MQTT, going away is exactly that.
        let taken_over = self
            .by_user
            .get(&msg.session.user_id)
            .into_iter()
            .flatten()
            .filter(|s| {
                s.dialect == switchboard_protocols::Dialect::Nynja && s.id != msg.session.id
            });
        for old in taken_over {
            old.control.do_send(crate::audience::Control::Shutdown);
        }
        let waiting = self
            .world
            .store
            .nynja_queue_take(&msg.client_id)
            .unwrap_or_default();
        <Hub as Handler<super::Online>>::handle(self, super::Online(msg.session), ctx);
        MessageResult(waiting)
    }
}
