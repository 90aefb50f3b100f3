//! Where a message request points: a text channel named by `channel`, or a
//! forum thread named by `thread_id` (reference `get_channel_or_thread_context`).
//! Replies about a thread carry its forum's name as `channel` and the
//! thread's id as `thread_id`.

use serde_json::{json, Value};
use switchboard_protocols::model::{Channel, ThreadMeta};
use switchboard_protocols::originchats::frame;
use switchboard_protocols::originchats::strings as s;
use switchboard_protocols::permissions::{SEND_MESSAGES, VIEW_CHANNEL};

use super::commands::{id_of, Frames, Op};

/// A resolved message target.
pub(super) struct Target {
    /// The channel the common commands address (the thread itself for a
    /// thread).
    pub(super) channel: Channel,
    /// The `channel` field of replies: the forum's name for a thread.
    pub(super) name: String,
    pub(super) thread: Option<ThreadMeta>,
}

impl Target {
    /// `thread_id` as replies carry it: the id, or null outside threads.
    pub(super) fn thread_id(&self) -> Value {
        match self.thread {
            Some(_) => json!(self.channel.id),
            None => Value::Null,
        }
    }

    /// `channel`, and `thread_id` when in a thread: the fields that say
    /// where a reply belongs.
    pub(super) fn place(&self) -> Vec<(&'static str, Value)> {
        let mut fields = vec![("channel", json!(self.name))];
        if self.thread.is_some() {
            fields.push(("thread_id", self.thread_id()));
        }
        fields
    }
}

/// A thread with its forum.
pub(super) struct ThreadRef {
    pub(super) channel: Channel,
    pub(super) meta: ThreadMeta,
    pub(super) parent: Option<Channel>,
}

impl ThreadRef {
    pub(super) fn parent_name(&self) -> String {
        self.parent
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }

    pub(super) fn into_target(self) -> Target {
        Target {
            name: self.parent_name(),
            channel: self.channel,
            thread: Some(self.meta),
        }
    }
}

impl Op {
    /// True when the request names a thread (a non-empty `thread_id`).
    pub(super) fn names_thread(&self) -> bool {
        match self.body.get("thread_id") {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        }
    }

    /// The thread named by `thread_id` in this guild, or `Thread not found`.
    pub(super) fn thread_ref(&self) -> Result<ThreadRef, Frames> {
        let found = self
            .body
            .get("thread_id")
            .and_then(id_of)
            .and_then(|id| self.world.store.channel(id).ok().flatten())
            .filter(|c| c.guild_id == Some(self.guild));
        let Some(channel) = found else {
            return Err(self.err(s::THREAD_NOT_FOUND));
        };
        let Some(meta) = channel.thread.clone() else {
            return Err(self.err(s::THREAD_NOT_FOUND));
        };
        let parent = self.world.store.channel(meta.parent_id).ok().flatten();
        Ok(ThreadRef {
            channel,
            meta,
            parent,
        })
    }

    pub(super) fn may_view(&self, channel: &Channel) -> bool {
        self.shared.channel_bits(self.user.id, channel) & VIEW_CHANNEL != 0
    }

    pub(super) fn may_send(&self, channel: &Channel) -> bool {
        let need = VIEW_CHANNEL | SEND_MESSAGES;
        self.shared.channel_bits(self.user.id, channel) & need == need
    }

    /// A thread that message requests may use: not locked, not archived,
    /// viewable.
    pub(super) fn open_thread(&self) -> Result<ThreadRef, Frames> {
        let t = self.thread_ref()?;
        if t.meta.locked {
            return Err(self.err("This thread is locked"));
        }
        if t.meta.archived {
            return Err(self.err("This thread is archived"));
        }
        if !self.may_view(&t.channel) {
            return Err(self.err("You do not have permission to view this thread"));
        }
        Ok(t)
    }

    /// The thread named by `thread_id`, or else the text channel named by
    /// `channel`, with the reference's errors for each.
    pub(super) fn target(&self) -> Result<Target, Frames> {
        self.find_target().map_err(Miss::into_frames)
    }

    /// [`Op::target`], saying apart the one miss some commands word their
    /// own way.
    pub(super) fn find_target(&self) -> Result<Target, Miss> {
        if self.names_thread() {
            return self
                .open_thread()
                .map(ThreadRef::into_target)
                .map_err(Miss::Refused);
        }
        let channel = self.text_channel()?;
        Ok(Target {
            name: channel.name.clone(),
            channel,
            thread: None,
        })
    }
}

/// Why a request found no target.
pub(super) enum Miss {
    /// A viewable channel that is not a text channel (the reference's
    /// "Cannot use this command in this channel type", which `message_new`
    /// and `typing` word differently).
    WrongType,
    /// Any other miss, as the reference answers it.
    Refused(Frames),
}

impl Miss {
    pub(super) fn into_frames(self) -> Frames {
        match self {
            Miss::WrongType => vec![frame::error(None, s::WRONG_CHANNEL_TYPE)],
            Miss::Refused(frames) => frames,
        }
    }
}
