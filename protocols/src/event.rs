//! Facts published by the actors that own the state, fanned out to every
//! session that may see them as one shared [`Envelope`].
//!
//! A session encodes an envelope in its dialect through
//! [`Envelope::encoded`], which keeps one encoding per dialect: a channel
//! with 10 000 listeners of one dialect serialises a message once, not
//! 10 000 times. Per-connection fields (a sequence number, the sender's
//! correlation token) are spliced in by the
//! session afterwards.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::model::{Channel, GuildFull, Message, Presence, Stream, User, VoiceState};
use crate::Dialect;
use crate::Id;

/// A message together with its author's public profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullMessage {
    pub message: Message,
    pub author: User,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionEvent {
    pub message_id: Id,
    pub channel_id: Id,
    pub guild_id: Option<Id>,
    pub user_id: Id,
    pub emoji: String,
    pub added: bool,
    /// How many users hold this reaction after the change.
    pub count: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallKind {
    Offer,
    Answer,
    Ice,
    End,
}

/// WebRTC signalling relayed between two users, never interpreted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSignal {
    pub kind: CallKind,
    pub call_id: String,
    pub from: Id,
    pub to: Id,
    /// The signalling fields as the sender gave them (`sdp`, `candidate`,
    /// `sdp_mid`, `sdp_mline_index`, `reason`).
    pub data: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    MessageCreate(FullMessage),
    MessageUpdate(FullMessage),
    /// A message was pinned or unpinned (`message.pinned` says which).
    MessagePin(FullMessage),
    MessageDelete {
        id: Id,
        channel_id: Id,
        guild_id: Option<Id>,
    },
    Reaction(ReactionEvent),
    ChannelCreate(Channel),
    ChannelUpdate(Channel),
    ChannelDelete {
        id: Id,
        guild_id: Option<Id>,
    },
    /// A thread was opened or changed (`thread` as it is now).
    Thread {
        thread: Channel,
        change: ThreadChange,
    },
    ThreadDelete {
        id: Id,
        parent_id: Id,
        guild_id: Id,
    },
    GuildCreate(GuildFull),
    GuildUpdate(GuildFull),
    /// The guild's roles changed (the guild as in GuildUpdate).
    GuildRoles(GuildFull),
    /// The guild's categories changed (the guild as in GuildUpdate).
    GuildCategories(GuildFull),
    GuildDelete {
        id: Id,
    },
    MemberJoin {
        guild_id: Id,
        user: User,
    },
    MemberLeave {
        guild_id: Id,
        user_id: Id,
    },
    /// A user read a channel up to `last_read` (sent to that user only).
    ReadState {
        user_id: Id,
        channel_id: Id,
        last_read: Id,
    },
    /// A member was timed out (or the timeout lifted).
    MemberTimeout {
        guild_id: Id,
        user_id: Id,
        until: Option<i64>,
    },
    /// A member's nickname changed.
    MemberNick {
        guild_id: Id,
        user_id: Id,
        nick: Option<String>,
    },
    /// A user's public profile changed (display name, avatar, public
    /// key): `user` as it is now, `before` as it was. Sent to the user's
    /// own sessions and to everyone who shares a guild, a DM or a
    /// friendship with them.
    UserUpdate {
        user: User,
        before: User,
    },
    /// An upload no message carried was deleted (sent to its uploader's
    /// sessions: nobody else could see it).
    FileDelete {
        file_id: Id,
        uploader_id: Id,
    },
    /// A member's roles changed.
    MemberRoles {
        guild_id: Id,
        user_id: Id,
        roles: Vec<Id>,
    },
    /// A voice state changed; `previous` is the voice channel the user was in
    /// before (dialects that announce leaving a channel need it).
    VoiceState {
        state: VoiceState,
        previous: Option<Id>,
    },
    StreamStart(Stream),
    StreamEnd(Stream),
    Typing {
        channel_id: Id,
        guild_id: Option<Id>,
        user_id: Id,
        timestamp: i64,
    },
    Presence(Presence),
    Call(CallSignal),
    /// Something only one dialect has a shape for, handed to the sessions
    /// of the users it is for: the core carries it without reading it.
    DialectOnly(DialectOnly),
}

/// A value one dialect made for its own sessions (a relayed frame, a
/// dialect command, a pre-encoded publish). The common model does not know
/// its type; the dialect that made it gets it back with [`DialectOnly::get`],
/// and every other dialect ignores it.
#[derive(Clone)]
pub struct DialectOnly(Arc<dyn Any + Send + Sync>);

impl DialectOnly {
    pub fn new<T: Any + Send + Sync>(value: T) -> DialectOnly {
        DialectOnly(Arc::new(value))
    }

    /// The value, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for DialectOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DialectOnly(..)")
    }
}

/// The same value, not merely an equal one: the core never compares what
/// it cannot read.
impl PartialEq for DialectOnly {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What happened to a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadChange {
    Created,
    Updated,
    Joined(Id),
    Left(Id),
}

/// The session and correlation token a fact came from, so that the sender's
/// own copy can carry its dialect's echo field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub session: u64,
    pub reference: Option<String>,
}

/// An event on its way to many sessions, with one cached encoding per
/// dialect.
#[derive(Debug)]
pub struct Envelope {
    pub event: Event,
    pub origin: Option<Origin>,
    cache: [OnceLock<Option<Bytes>>; 5],
}

impl Envelope {
    pub fn new(event: Event, origin: Option<Origin>) -> Self {
        Envelope {
            event,
            origin,
            cache: Default::default(),
        }
    }

    /// The shared encoding of this event for `dialect`, computed on first use.
    /// `None` means the dialect has no shape for this event.
    pub fn encoded(
        &self,
        dialect: Dialect,
        encode: impl FnOnce(&Event) -> Option<Bytes>,
    ) -> Option<Bytes> {
        self.cache[dialect.index()]
            .get_or_init(|| encode(&self.event))
            .clone()
    }

    /// True when `session` sent the command behind this event.
    pub fn is_from(&self, session: u64) -> bool {
        self.origin.as_ref().is_some_and(|o| o.session == session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_once_per_dialect() {
        let env = Envelope::new(
            Event::GuildDelete { id: Id(1) },
            Some(Origin {
                session: 7,
                reference: None,
            }),
        );
        let mut calls = 0;
        for _ in 0..3 {
            let out = env.encoded(Dialect::ALL[0], |_| {
                calls += 1;
                Some(Bytes::from_static(b"x"))
            });
            assert_eq!(out.as_deref(), Some(&b"x"[..]));
        }
        assert_eq!(calls, 1);
        assert!(env.is_from(7) && !env.is_from(8));
    }
}
