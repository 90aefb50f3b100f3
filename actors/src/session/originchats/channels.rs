//! Channel management (reference §10.2), as the guild's channels and
//! categories: a `separator` is a JAM category. Permission lists given
//! here are written as role overwrites.

use serde_json::{json, Value};
use switchboard_protocols::command::{ChannelPatch, Command};
use switchboard_protocols::model::{ChannelKind, Role};
use switchboard_protocols::originchats::perms::overwrites_from_lists;
use switchboard_protocols::{ErrorKind, GatewayError};

use super::commands::{Frames, Op};
use super::views::{channel_json, entries, separator_json, Entry};
use crate::world::Reply;

fn denied(op: &Op, e: &GatewayError) -> Frames {
    if e.kind == ErrorKind::Forbidden {
        op.err("Access denied: 'manage_channels' permission required")
    } else {
        op.err(&e.message)
    }
}

fn roles(op: &Op) -> Vec<Role> {
    op.shared.roles().values().cloned().collect()
}

fn find<'a>(list: &'a [Entry], name: &str) -> Option<&'a Entry> {
    list.iter()
        .find(|e| e.name() == name)
        .or_else(|| list.iter().find(|e| e.name().eq_ignore_ascii_case(name)))
}

async fn shown(op: &Op, channel_id: switchboard_protocols::Id) -> Value {
    let voice = op.voice_states().await;
    match op.world.store.channel(channel_id).ok().flatten() {
        Some(c) => channel_json(&op.world, &roles(op), &c, &voice),
        None => Value::Null,
    }
}

pub(super) async fn run(op: Op) -> Frames {
    match op.cmd.as_str() {
        "channel_create" => create(op).await,
        "channel_update" => update(op).await,
        "channel_move" => move_channel(op).await,
        _ => delete(op).await,
    }
}

async fn create(op: Op) -> Frames {
    let Some(name) = op
        .text("name")
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
    else {
        return op.err("Channel name is required");
    };
    let Some(kind) = op.text("type") else {
        return op.err("Channel type is required (text, voice, or separator)");
    };
    if !matches!(kind.as_str(), "text" | "voice" | "separator") {
        return op.err("Invalid channel type, must be text, voice, or separator");
    }
    if find(&entries(&op.world, op.guild), &name).is_some() {
        return op.err("Channel already exists");
    }
    let overwrites = match op.body.get("permissions").and_then(Value::as_object) {
        Some(lists) => match overwrites_from_lists(lists, &roles(&op), op.guild) {
            Ok(o) => Some(o),
            Err(e) => return op.err(&e),
        },
        None => None,
    };
    // Categories are numbered apart from channels in the common model; a
    // new channel or separator must still come last in the combined list,
    // as the reference appends.
    let last = entries(&op.world, op.guild)
        .iter()
        .map(Entry::position)
        .max()
        .map_or(0, |p| p + 1);
    if kind == "separator" {
        let command = Command::CreateCategory {
            guild_id: op.guild,
            name,
            position: Some(last),
        };
        return match op.exec(command).await {
            Ok(Reply::Category(c)) => {
                op.reply([("channel", separator_json(&c)), ("created", json!(true))])
            }
            Ok(_) => op.err("Failed to create channel"),
            Err(e) => denied(&op, &e),
        };
    }
    let command = Command::CreateChannel {
        guild_id: op.guild,
        category_id: None,
        name,
        kind: if kind == "voice" {
            ChannelKind::Voice
        } else {
            ChannelKind::Text
        },
        topic: op.text("description").unwrap_or_default(),
        position: Some(last),
        encrypted: false,
    };
    let channel = match op.exec(command).await {
        Ok(Reply::Channel(c)) => c,
        Ok(_) => return op.err("Failed to create channel"),
        Err(e) => return denied(&op, &e),
    };
    if let Some(overwrites) = overwrites {
        let patch = ChannelPatch {
            overwrites: Some(overwrites),
            ..ChannelPatch::default()
        };
        if let Err(e) = op
            .exec(Command::UpdateChannel {
                channel_id: channel.id,
                patch,
            })
            .await
        {
            return denied(&op, &e);
        }
    }
    let shown = shown(&op, channel.id).await;
    op.reply([("channel", shown), ("created", json!(true))])
}

async fn update(op: Op) -> Frames {
    let Some(current) = op.text("current_name").filter(|n| !n.is_empty()) else {
        return op.err("current_name is required");
    };
    let Some(updates) = op.body.get("updates").and_then(Value::as_object).cloned() else {
        return op.err("updates object is required");
    };
    let list = entries(&op.world, op.guild);
    let Some(Entry::Channel(channel)) = find(&list, &current) else {
        return op.err("Channel not found");
    };
    let text = |k: &str| updates.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(t) = text("type") {
        let same = matches!(
            (t.as_str(), channel.kind),
            ("text", ChannelKind::Text)
                | ("voice", ChannelKind::Voice)
                | ("forum", ChannelKind::Forum)
        );
        if !same {
            return op.err("Invalid channel type");
        }
    }
    let new_name = text("name").map(|n| n.trim().to_string());
    if let Some(n) = &new_name {
        if n != &channel.name
            && find(&list, n).is_some_and(|e| !e.name().eq_ignore_ascii_case(&channel.name))
        {
            return op.err("Channel with new name already exists");
        }
    }
    let overwrites = match updates.get("permissions").and_then(Value::as_object) {
        Some(lists) => match overwrites_from_lists(lists, &roles(&op), op.guild) {
            Ok(o) => Some(o),
            Err(e) => return op.err(&e),
        },
        None => None,
    };
    let patch = ChannelPatch {
        name: new_name,
        topic: text("description"),
        overwrites,
        ..ChannelPatch::default()
    };
    match op
        .exec(Command::UpdateChannel {
            channel_id: channel.id,
            patch,
        })
        .await
    {
        Ok(_) => {
            let shown = shown(&op, channel.id).await;
            op.reply([("channel", shown), ("updated", json!(true))])
        }
        Err(e) => denied(&op, &e),
    }
}

/// Moves a channel to `position` in the `channels_get` order; the others
/// keep their order around it.
async fn move_channel(op: Op) -> Frames {
    let Some(name) = op.text("name").filter(|n| !n.is_empty()) else {
        return op.err("Channel name is required");
    };
    let Some(position) = op.body.get("position") else {
        return op.err("Position is required");
    };
    let Some(position) = position.as_u64() else {
        return op.err("Position must be a non-negative integer");
    };
    let mut list = entries(&op.world, op.guild);
    let Some(from) = list.iter().position(|e| e.name() == name) else {
        return op.err("Channel not found");
    };
    let item = list.remove(from);
    let to = (position as usize).min(list.len());
    list.insert(to, item);
    let mut moved = true;
    for (i, entry) in list.iter().enumerate() {
        let position = i as i32;
        let command = match entry {
            Entry::Channel(c) if c.position != position => Command::UpdateChannel {
                channel_id: c.id,
                patch: ChannelPatch {
                    position: Some(position),
                    ..ChannelPatch::default()
                },
            },
            Entry::Separator(c) if c.position != position => Command::UpdateCategory {
                guild_id: op.guild,
                category_id: c.id,
                name: None,
                position: Some(position),
            },
            _ => continue,
        };
        if let Err(e) = op.exec(command).await {
            if e.kind == ErrorKind::Forbidden {
                return denied(&op, &e);
            }
            moved = false;
        }
    }
    op.reply([
        ("name", json!(name)),
        ("position", json!(to)),
        ("moved", json!(moved)),
    ])
}

async fn delete(op: Op) -> Frames {
    let Some(name) = op.text("name").filter(|n| !n.is_empty()) else {
        return op.err("Channel name is required");
    };
    let list = entries(&op.world, op.guild);
    let command = match find(&list, &name) {
        Some(Entry::Channel(c)) => Command::DeleteChannel { channel_id: c.id },
        Some(Entry::Separator(c)) => Command::DeleteCategory {
            guild_id: op.guild,
            category_id: c.id,
        },
        None => return op.err("Channel not found"),
    };
    match op.exec(command).await {
        Ok(_) => op.reply([("name", json!(name)), ("deleted", json!(true))]),
        Err(e) if e.kind == ErrorKind::NotFound => op.err("Channel not found"),
        Err(e) => denied(&op, &e),
    }
}
