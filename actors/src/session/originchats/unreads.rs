//! Unreads (reference §10.13): how far each user has read each channel,
//! shared by all their connections.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use switchboard_protocols::event::{Envelope, Event};
use switchboard_protocols::model::{Channel, ChannelKind};
use switchboard_protocols::Id;

use super::commands::{Frames, Op};
use super::target::Target;
use super::views::{guild_channels, guild_threads};
use crate::hub::DeliverToUsers;

fn newest(op: &Op, channel: Id) -> Option<Id> {
    op.world
        .store
        .history(channel, None, None, 1)
        .ok()
        .and_then(|page| page.first().map(|m| m.id))
}

/// `{"last_read","unread_count","total_messages"}` of one channel.
fn state(op: &Op, channel: Id) -> Value {
    let store = &op.world.store;
    let last = store.last_read(op.user.id, channel).ok().flatten();
    let unread = store.count_after(channel, last).unwrap_or(0);
    let total = store.count_after(channel, None).unwrap_or(0);
    json!({"last_read": last, "unread_count": unread, "total_messages": total})
}

/// Marks `channel` read up to `message` (the newest when `None`) and tells
/// all of the user's connections.
pub(super) fn ack(op: &Op, channel: &Channel, message: Option<Id>) -> Option<Id> {
    let last = message.or_else(|| newest(op, channel.id))?;
    op.world
        .store
        .set_last_read(op.user.id, channel.id, last)
        .ok()?;
    let env = Arc::new(Envelope::new(
        Event::ReadState {
            user_id: op.user.id,
            channel_id: channel.id,
            last_read: last,
        },
        None,
    ));
    op.world.hub().do_send(DeliverToUsers {
        users: vec![op.user.id],
        env,
    });
    Some(last)
}

/// `channel`, or `thread_id` for a thread: how unreads replies say where.
fn named(target: &Target) -> (&'static str, Value) {
    match target.thread {
        Some(_) => ("thread_id", target.thread_id()),
        None => ("channel", json!(target.name)),
    }
}

pub(super) async fn run(op: Op) -> Frames {
    match op.cmd.as_str() {
        "unreads_get" => {
            let mut unreads = Map::new();
            for c in guild_channels(&op.world, op.guild) {
                if c.kind == ChannelKind::Text && op.may_view(&c) {
                    unreads.insert(c.name.clone(), state(&op, c.id));
                }
            }
            // Threads as the reference keys them, with their forum's name.
            for t in guild_threads(&op.world, op.guild, None) {
                if !op.may_view(&t) {
                    continue;
                }
                let mut s = state(&op, t.id);
                let parent = t
                    .parent_id()
                    .and_then(|p| op.world.store.channel(p).ok().flatten());
                s["parent_channel"] = json!(parent.map(|p| p.name));
                unreads.insert(format!("thread/{}", t.id), s);
            }
            op.reply([("unreads", Value::Object(unreads))])
        }
        "unreads_count" => {
            let target = match op.target() {
                Ok(t) => t,
                Err(e) => return e,
            };
            let s = state(&op, target.channel.id);
            op.reply([
                named(&target),
                ("unread_count", s["unread_count"].clone()),
                ("last_read", s["last_read"].clone()),
                ("total_messages", s["total_messages"].clone()),
            ])
        }
        _ => {
            let target = match op.target() {
                Ok(t) => t,
                Err(e) => return e,
            };
            let channel = &target.channel;
            let message = op.id("message_id");
            if let Some(m) = message {
                if op
                    .world
                    .store
                    .message(channel.id, m)
                    .ok()
                    .flatten()
                    .is_none()
                {
                    return op.err("Message not found");
                }
            }
            let last = ack(&op, channel, message);
            op.reply([named(&target), ("last_read", json!(last))])
        }
    }
}
