//! Lists an OriginChats client asks for: its guild's channels with their
//! permission lists, its users with roles and status.

use std::collections::HashMap;

use serde_json::{json, Value};
use switchboard_protocols::model::{
    Category, Channel, ChannelKind, Presence, Role, Status, VoiceState,
};
use switchboard_protocols::originchats::{objects, perms, EVERYONE, OWNER};
use switchboard_protocols::permissions::VIEW_CHANNEL;
use switchboard_protocols::Id;

use super::OcSession;
use crate::guild::GuildShared;
use crate::world::World;

/// A member's OriginChats role names (owner first, `user` last) and the
/// colour of the first role that has one.
pub(super) fn roles_of(shared: &GuildShared, user: Id) -> (Vec<String>, Option<String>) {
    let roles = shared.roles();
    let mut names = Vec::new();
    if shared.owner() == user {
        names.push(OWNER.to_string());
    }
    let mut mine: Vec<&Role> = shared
        .member_roles(user)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| roles.get(r))
        .collect();
    mine.sort_by_key(|r| (r.position, r.id));
    let color = mine
        .iter()
        .find(|r| r.color != 0)
        .and_then(|r| objects::color(r.color));
    names.extend(mine.iter().map(|r| r.name.clone()));
    names.push(EVERYONE.to_string());
    (names, color)
}

/// Channels of the guild in display order (threads are not channels here:
/// they are listed under their forum).
pub(super) fn guild_channels(world: &World, guild: Id) -> Vec<Channel> {
    let mut channels = world.store.channels_of(guild).unwrap_or_default();
    channels.retain(|c| c.thread.is_none());
    channels.sort_by_key(|c| (c.position, c.id));
    channels
}

/// The guild's threads, oldest first; only those of `parent` when given.
pub(super) fn guild_threads(world: &World, guild: Id, parent: Option<Id>) -> Vec<Channel> {
    let mut threads = world.store.channels_of(guild).unwrap_or_default();
    threads.retain(|c| c.thread.is_some() && (parent.is_none() || c.parent_id() == parent));
    threads.sort_by_key(|c| c.id);
    threads
}

/// The newest message of a channel: its timestamp and id, or nulls.
fn last_message(world: &World, channel: Id) -> (Value, Value) {
    let last = world.store.history(channel, None, None, 1).ok();
    let last = last.as_ref().and_then(|l| l.first());
    (
        json!(last.map(|m| objects::timestamp(m.created_at))),
        json!(last.map(|m| m.id)),
    )
}

/// A thread object (reference §6.3), with usernames for users.
pub(super) fn thread_json(world: &World, thread: &Channel, parent_name: &str) -> Value {
    let name = |id: Id| super::events::username(world, id);
    let Some(meta) = &thread.thread else {
        return Value::Null;
    };
    let (last, last_id) = last_message(world, thread.id);
    json!({
        "id": thread.id,
        "name": thread.name,
        "parent_channel": parent_name,
        "created_by": name(meta.created_by),
        "created_at": objects::timestamp(thread.created_at),
        "locked": meta.locked,
        "archived": meta.archived,
        "participants": meta.participants.iter().map(|u| name(*u)).collect::<Vec<_>>(),
        "last_message": last,
        "last_message_id": last_id,
    })
}

/// A channel of the guild by name: exact first, then ignoring case.
pub(super) fn find_channel(world: &World, guild: Id, name: &str) -> Option<Channel> {
    let channels = guild_channels(world, guild);
    channels
        .iter()
        .find(|c| c.name == name)
        .or_else(|| channels.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
        .cloned()
}

fn kind_word(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Voice => "voice",
        ChannelKind::Forum => "forum",
        _ => "text",
    }
}

/// `{"username","roles","color"}` of a member.
pub(super) fn brief(shared: &GuildShared, user: Id, name: &str) -> Value {
    let (roles, color) = roles_of(shared, user);
    objects::user_brief(name, &roles, color)
}

/// One channel as `channels_get` shows it.
pub(super) fn channel_json(
    world: &World,
    roles: &[Role],
    c: &Channel,
    voice: &[VoiceState],
) -> Value {
    let mut o = json!({
        "type": kind_word(c.kind),
        "name": c.name,
        "description": c.topic,
        "permissions": perms::channel_permission_lists(c, roles),
    });
    match c.kind {
        ChannelKind::Voice => {
            let state: Vec<Value> = voice
                .iter()
                .filter(|s| s.channel_id == Some(c.id))
                .map(|s| {
                    json!({
                        "username": super::events::username(world, s.user_id),
                        "muted": s.self_mute,
                    })
                })
                .collect();
            o["voice_state"] = Value::Array(state);
        }
        ChannelKind::Forum => {
            let guild = c.guild_id.unwrap_or_default();
            let threads: Vec<Value> = guild_threads(world, guild, Some(c.id))
                .iter()
                .map(|t| thread_json(world, t, &c.name))
                .collect();
            o["threads"] = Value::Array(threads);
        }
        _ => {
            let (last, last_id) = last_message(world, c.id);
            o["last_message"] = last;
            o["last_message_id"] = last_id;
        }
    }
    o
}

/// A JAM category, which OriginChats shows as a separator.
pub(super) fn separator_json(c: &Category) -> Value {
    json!({"type": "separator", "name": c.name, "size": 10, "permissions": {"view": [OWNER, EVERYONE]}})
}

/// What `channels_get` lists, in display order: channels and separators.
pub(super) enum Entry {
    Channel(Channel),
    Separator(Category),
}

impl Entry {
    pub(super) fn name(&self) -> &str {
        match self {
            Entry::Channel(c) => &c.name,
            Entry::Separator(c) => &c.name,
        }
    }

    pub(super) fn position(&self) -> i32 {
        match self {
            Entry::Channel(c) => c.position,
            Entry::Separator(c) => c.position,
        }
    }
}

pub(super) fn entries(world: &World, guild: Id) -> Vec<Entry> {
    let mut out: Vec<(i32, Id, Entry)> = world
        .store
        .channels_of(guild)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.thread.is_none())
        .map(|c| (c.position, c.id, Entry::Channel(c)))
        .collect();
    for cat in world.store.categories_of(guild).unwrap_or_default() {
        out.push((cat.position, cat.id, Entry::Separator(cat)));
    }
    out.sort_by_key(|(p, id, _)| (*p, *id));
    out.into_iter().map(|(_, _, e)| e).collect()
}

/// `channels_get.val`: the channels `me` may view, in display order.
pub(super) fn channel_list(
    world: &World,
    shared: &GuildShared,
    guild: Id,
    me: Id,
    voice: &[VoiceState],
) -> Vec<Value> {
    let roles: Vec<Role> = shared.roles().values().cloned().collect();
    entries(world, guild)
        .into_iter()
        .filter_map(|e| match e {
            Entry::Channel(c) if shared.channel_bits(me, &c) & VIEW_CHANNEL != 0 => {
                Some(channel_json(world, &roles, &c, voice))
            }
            Entry::Channel(_) => None,
            Entry::Separator(cat) => Some(separator_json(&cat)),
        })
        .collect()
}

/// One `users_list` / `users_online` entry.
pub(super) fn user_entry(
    world: &World,
    shared: &GuildShared,
    user: Id,
    presence: Option<&Presence>,
) -> Option<Value> {
    let u = world.user(user).ok()?;
    let (roles, color) = roles_of(shared, user);
    let nick = world
        .store
        .member(shared.guild_id, user)
        .ok()
        .flatten()
        .and_then(|m| m.nick)
        .unwrap_or_else(|| u.display_name.clone());
    let (status, text) = match presence {
        Some(p) => (p.status, p.text.clone()),
        None => (Status::Offline, String::new()),
    };
    Some(json!({
        "username": u.username,
        "nickname": nick,
        "roles": roles,
        "color": color,
        "status": {"status": status.as_str(), "text": text},
        "cracked": true,
        "pfp": u.avatar,
    }))
}

/// Presences by user.
pub(super) fn presence_map(presences: Vec<Presence>) -> HashMap<Id, Presence> {
    presences.into_iter().map(|p| (p.user_id, p)).collect()
}

impl OcSession {
    pub(super) fn user_brief(&self, user: Id, name: &str) -> Value {
        brief(&self.shared, user, name)
    }
}
