use serde::{Deserialize, Serialize};

use crate::Id;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guild {
    pub id: Id,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub owner_id: Id,
    #[serde(default)]
    pub icon: Option<String>,
    /// A banner image URL.
    #[serde(default)]
    pub banner: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub id: Id,
    pub guild_id: Id,
    pub name: String,
    pub position: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Text,
    Voice,
    Forum,
    Dm,
    Group,
}

impl ChannelKind {
    pub fn parse(s: &str) -> Option<ChannelKind> {
        match s {
            "text" => Some(ChannelKind::Text),
            "voice" => Some(ChannelKind::Voice),
            "forum" => Some(ChannelKind::Forum),
            "dm" => Some(ChannelKind::Dm),
            "group" => Some(ChannelKind::Group),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Text => "text",
            ChannelKind::Voice => "voice",
            ChannelKind::Forum => "forum",
            ChannelKind::Dm => "dm",
            ChannelKind::Group => "group",
        }
    }
    pub fn is_private(self) -> bool {
        matches!(self, ChannelKind::Dm | ChannelKind::Group)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverwriteTarget {
    Role,
    Member,
}

/// A per-channel allow/deny pair for one role or one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overwrite {
    pub id: Id,
    #[serde(rename = "type")]
    pub target: OverwriteTarget,
    pub allow: u64,
    pub deny: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: Id,
    pub guild_id: Option<Id>,
    #[serde(default)]
    pub category_id: Option<Id>,
    pub name: String,
    pub kind: ChannelKind,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub position: i32,
    #[serde(default)]
    pub encrypted: bool,
    /// Members of a DM or group channel; empty for guild channels.
    #[serde(default)]
    pub recipients: Vec<Id>,
    #[serde(default)]
    pub overwrites: Vec<Overwrite>,
    pub created_at: i64,
    /// Set when this channel is a thread of a forum channel.
    #[serde(default)]
    pub thread: Option<ThreadMeta>,
}

impl Channel {
    /// The forum channel this thread belongs to, if it is a thread.
    pub fn parent_id(&self) -> Option<Id> {
        self.thread.as_ref().map(|t| t.parent_id)
    }
}

/// What makes a channel a thread: a conversation inside a forum channel,
/// with its own messages. Its permission overwrites are kept equal to the
/// forum's, so who may view or post follows the forum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadMeta {
    pub parent_id: Id,
    pub created_by: Id,
    /// No one posts or joins while locked.
    #[serde(default)]
    pub locked: bool,
    /// Hidden from active lists; posting in it unarchives it.
    #[serde(default)]
    pub archived: bool,
    /// Users who joined (the creator first).
    #[serde(default)]
    pub participants: Vec<Id>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: Id,
    pub guild_id: Id,
    pub name: String,
    #[serde(default)]
    pub color: u32,
    pub permissions: u64,
    #[serde(default)]
    pub position: i32,
    #[serde(default)]
    pub hoisted: bool,
    /// Members may give themselves this role.
    #[serde(default)]
    pub self_assignable: bool,
    #[serde(default)]
    pub description: String,
    /// A grouping label for self-roles.
    #[serde(default)]
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub guild_id: Id,
    pub user_id: Id,
    /// Role ids besides `@everyone` (whose id is the guild id).
    #[serde(default)]
    pub roles: Vec<Id>,
    #[serde(default)]
    pub nick: Option<String>,
    pub joined_at: i64,
    /// Unix ms until which the member may not send, react or type.
    #[serde(default)]
    pub timeout_until: Option<i64>,
}

/// A guild with everything a client needs to draw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildFull {
    pub guild: Guild,
    pub channels: Vec<Channel>,
    pub roles: Vec<Role>,
    pub categories: Vec<Category>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    pub code: String,
    pub guild_id: Id,
    pub inviter_id: Id,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceState {
    pub user_id: Id,
    pub guild_id: Id,
    /// `None` once the user has left voice.
    pub channel_id: Option<Id>,
    pub self_mute: bool,
    pub self_deaf: bool,
    /// The client's peer-to-peer id (for direct media); the
    /// server only hands it to the other participants.
    #[serde(default)]
    pub peer_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    Screen,
    Camera,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    pub stream_id: Id,
    pub user_id: Id,
    pub channel_id: Id,
    pub guild_id: Id,
    pub kind: StreamKind,
}
