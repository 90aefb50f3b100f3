//! What a session (or a REST call) asks of the world, in dialect-neutral
//! terms. The actors crate routes each command to the actor that owns the
//! state it touches; that actor checks permissions and answers with a
//! [`crate::GatewayResult`].

use crate::event::CallSignal;
use crate::model::{ChannelKind, KeyEnvelope, Overwrite, Status, StreamKind};
use crate::Id;

#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub channel_id: Id,
    pub content: String,
    pub reply_to: Option<Id>,
    pub attachments: Vec<Id>,
    pub encrypted: bool,
    pub nonce: Option<String>,
    /// Idempotency key chosen by the client.
    pub client_ref: Option<String>,
    /// Ciphertext of a scheme without an authentication tag (chat-network's
    /// XChaCha20): any non-empty length, where JAM's AEAD ciphertext is at
    /// least its 16-byte tag.
    pub untagged: bool,
    /// `content` is base64 of opaque bytes (V0 `msg` as msgpack bin).
    pub binary: bool,
}

/// Which page of a channel's history, newest first unless `after` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    pub before: Option<Id>,
    pub after: Option<Id>,
    pub around: Option<Id>,
    pub limit: usize,
    /// Newest messages to skip before the page starts (OriginChats
    /// `messages_get` `start`).
    pub skip: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelPatch {
    pub name: Option<String>,
    pub topic: Option<String>,
    pub position: Option<i32>,
    pub category_id: Option<Option<Id>>,
    pub overwrites: Option<Vec<Overwrite>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThreadPatch {
    pub name: Option<String>,
    pub locked: Option<bool>,
    pub archived: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub color: Option<u32>,
    pub permissions: Option<u64>,
    pub position: Option<i32>,
    pub hoisted: Option<bool>,
    pub self_assignable: Option<bool>,
    pub description: Option<String>,
    pub category: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuildPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub icon: Option<Option<String>>,
    pub banner: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SendMessage(NewMessage),
    EditMessage {
        channel_id: Id,
        message_id: Id,
        content: String,
        encrypted: bool,
        nonce: Option<String>,
    },
    DeleteMessage {
        channel_id: Id,
        message_id: Id,
    },
    React {
        channel_id: Id,
        message_id: Id,
        emoji: String,
        add: bool,
    },
    Pin {
        channel_id: Id,
        message_id: Id,
        pinned: bool,
    },
    Typing {
        channel_id: Id,
    },
    /// Adds a message the channel lacks to its history, as another node of
    /// a distributed history saw it (V0 `CH_MERGE`). The caller vouches
    /// for it; a message with the same author and `client_ref` is not
    /// added twice.
    MergeMessage {
        channel_id: Id,
        author_id: Id,
        content: String,
        binary: bool,
        client_ref: String,
        created_at: i64,
    },
    History {
        channel_id: Id,
        query: HistoryQuery,
    },
    GetMessage {
        channel_id: Id,
        message_id: Id,
    },
    CreateGuild {
        name: String,
        description: String,
    },
    UpdateGuild {
        guild_id: Id,
        patch: GuildPatch,
    },
    DeleteGuild {
        guild_id: Id,
    },
    GetGuild {
        guild_id: Id,
    },
    CreateChannel {
        guild_id: Id,
        category_id: Option<Id>,
        name: String,
        kind: ChannelKind,
        topic: String,
        position: Option<i32>,
        encrypted: bool,
    },
    CreateCategory {
        guild_id: Id,
        name: String,
        position: Option<i32>,
    },
    DeleteCategory {
        guild_id: Id,
        category_id: Id,
    },
    UpdateCategory {
        guild_id: Id,
        category_id: Id,
        name: Option<String>,
        position: Option<i32>,
    },
    GetChannel {
        channel_id: Id,
    },
    UpdateChannel {
        channel_id: Id,
        patch: ChannelPatch,
    },
    DeleteChannel {
        channel_id: Id,
    },
    /// Opens a thread in a forum channel (CREATE_PUBLIC_THREADS there).
    CreateThread {
        parent_id: Id,
        name: String,
    },
    /// Renames, locks or archives a thread (its creator or MANAGE_THREADS;
    /// locking needs MANAGE_THREADS; anyone who may post may unarchive).
    UpdateThread {
        thread_id: Id,
        patch: ThreadPatch,
    },
    /// Deletes a thread and its messages (its creator or MANAGE_THREADS).
    DeleteThread {
        thread_id: Id,
    },
    /// Joins (`join`) or leaves a thread's participants.
    ThreadMembership {
        thread_id: Id,
        join: bool,
    },
    CreateRole {
        guild_id: Id,
        name: String,
        color: u32,
        permissions: u64,
    },
    UpdateRole {
        role_id: Id,
        patch: RolePatch,
    },
    DeleteRole {
        role_id: Id,
    },
    /// Sets a member's nickname in a guild (their own, or anyone's with
    /// MODERATE_MEMBERS); `None` clears it.
    SetNick {
        guild_id: Id,
        user_id: Id,
        nick: Option<String>,
    },
    /// A member gives themselves a self-assignable role, or drops it.
    SelfRole {
        guild_id: Id,
        role_id: Id,
        add: bool,
    },
    SetMemberRoles {
        guild_id: Id,
        user_id: Id,
        roles: Vec<Id>,
    },
    CreateInvite {
        guild_id: Id,
    },
    /// Bans (removes, and keeps out) or unbans a user (BAN_MEMBERS).
    Ban {
        guild_id: Id,
        user_id: Id,
        banned: bool,
    },
    /// The banned users of a guild (BAN_MEMBERS).
    ListBans {
        guild_id: Id,
    },
    /// Keeps a member from sending, reacting and typing until `until`
    /// (Unix ms), or lifts that (MODERATE_MEMBERS).
    Timeout {
        guild_id: Id,
        user_id: Id,
        until: Option<i64>,
    },
    JoinInvite {
        code: String,
    },
    LeaveGuild {
        guild_id: Id,
    },
    /// Changes a group channel: members in or out (its creator removes
    /// others; anyone may leave), or its name.
    UpdateGroup {
        channel_id: Id,
        add: Vec<Id>,
        remove: Vec<Id>,
        name: Option<String>,
    },
    /// Creates a group channel of the caller and `members`.
    CreateGroup {
        name: String,
        members: Vec<Id>,
    },
    OpenDm {
        recipient: Id,
    },
    VoiceState {
        guild_id: Id,
        channel_id: Option<Id>,
        self_mute: bool,
        self_deaf: bool,
        peer_id: Option<String>,
    },
    StreamStart {
        channel_id: Id,
        kind: StreamKind,
    },
    StreamEnd {
        stream_id: Id,
    },
    Call(CallSignal),
    SetPresence {
        status: Status,
        /// A custom status line; `None` keeps the current one.
        text: Option<String>,
    },
    /// Messages whose content contains `query` (case-insensitive), newest
    /// first.
    SearchMessages {
        channel_id: Id,
        query: String,
        limit: usize,
    },
    /// Messages replying to `message_id`, oldest first.
    Replies {
        channel_id: Id,
        message_id: Id,
        limit: usize,
    },
    /// Pinned messages, newest first.
    PinnedMessages {
        channel_id: Id,
    },
    /// Publishes channel-key envelopes (`user_id` and the key fields of
    /// each are taken from the client; channel, sender and time are set by
    /// the server).
    PutKeyEnvelopes {
        channel_id: Id,
        envelopes: Vec<KeyEnvelope>,
    },
    /// The caller's own envelope for a channel.
    GetKeyEnvelope {
        channel_id: Id,
    },
    /// Changes the caller's own public profile (nobody else's: there is
    /// no user field). `None` keeps a field; `Some(None)` clears an
    /// optional one. Each dialect validates its own input and wording
    /// first; the owner refuses a display name that is blank or over 100
    /// characters and an avatar over 2048.
    UpdateProfile {
        display_name: Option<String>,
        avatar: Option<Option<String>>,
        public_key: Option<Option<String>>,
    },
    /// Deletes an upload that no message carries (its uploader only); its
    /// size goes back to the uploader's storage quota.
    DeleteFile {
        file_id: Id,
    },
}
