//! Which events of a channel go to which peer, and in what shape.
//!
//! A channel actor calls [`enqueue`] with each event it is about to make
//! durable; the bodies land in the outbox in the same group commit, so an
//! event the server acknowledged is an event it will deliver. Only what
//! began here leaves: messages of local authors, reactions and typing of
//! local users, deletes of messages that are not mirrors of a peer's.

use serde_json::{json, Value};
use switchboard_protocols::event::{Event, FullMessage};
use switchboard_protocols::jam::{objects, op};
use switchboard_protocols::model::{Channel, ChannelKind, User};
use switchboard_protocols::time::rfc3339;
use switchboard_protocols::{GatewayResult, Id};

use super::wire::QueuedEvent;
use super::Federation;
use crate::world::World;

/// Where on a peer an event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A bridged channel: the peer's channel id.
    Channel { peer: String, remote_channel: Id },
    /// A DM with a user of the peer: their local name there.
    Dm { peer: String, recipient: String },
}

impl Target {
    fn peer(&self) -> &str {
        match self {
            Target::Channel { peer, .. } | Target::Dm { peer, .. } => peer,
        }
    }

    /// `channel_id` (the peer's), or `recipient` for a DM.
    fn address(&self, d: &mut Value) {
        match self {
            Target::Channel { remote_channel, .. } => {
                d["channel_id"] = json!(remote_channel.to_string());
            }
            Target::Dm { recipient, .. } => {
                d["channel_id"] = Value::Null;
                d["recipient"] = json!(recipient);
            }
        }
        if let Some(o) = d.as_object_mut() {
            o.remove("guild_id");
        }
    }
}

fn targets(world: &World, fed: &Federation, channel: &Channel) -> Vec<Target> {
    if channel.guild_id.is_some() {
        return fed
            .bridges_of(channel.id)
            .into_iter()
            .map(|b| Target::Channel {
                peer: b.peer,
                remote_channel: b.remote_channel,
            })
            .collect();
    }
    if channel.kind != ChannelKind::Dm {
        return Vec::new();
    }
    channel
        .recipients
        .iter()
        .filter_map(|id| world.user(*id).ok())
        .filter_map(|u| {
            let domain = u.domain.as_deref()?;
            let peer = fed.peer(domain)?;
            let (name, _) = u.username.rsplit_once('@')?;
            Some(Target::Dm {
                peer: peer.domain.clone(),
                recipient: name.to_string(),
            })
        })
        .collect()
}

fn is_local(user: &User) -> bool {
    user.domain.is_none()
}

/// The id `peer` knows a local message by: its own id when the message
/// mirrors one of its messages, ours otherwise; `None` when the message
/// mirrors a third server's (which `peer` never saw).
fn id_for(world: &World, peer: &str, local: Id) -> GatewayResult<Option<Id>> {
    Ok(match world.store.fed_mirror_of(local)? {
        Some((origin, remote)) if origin == peer => Some(remote),
        Some(_) => None,
        None => Some(local),
    })
}

fn message_d(world: &World, full: &FullMessage, target: &Target) -> GatewayResult<Value> {
    let mut d = objects::message(full);
    target.address(&mut d);
    // Files and reaction lists stay on the server that holds them; a
    // message of files alone is named by them so it is not empty there.
    if full.message.content.is_empty() && !full.message.attachments.is_empty() {
        let names: Vec<&str> = full
            .message
            .attachments
            .iter()
            .map(|a| a.filename.as_str())
            .collect();
        d["content"] = json!(format!("[files: {}]", names.join(", ")));
    }
    d["attachments"] = json!([]);
    d["reactions"] = json!([]);
    if let Some(o) = d.as_object_mut() {
        o.remove("ref");
    }
    d["reply_to"] = match full.message.reply_to {
        Some(r) => match id_for(world, target.peer(), r)? {
            Some(id) => json!(id.to_string()),
            None => Value::Null,
        },
        None => Value::Null,
    };
    Ok(d)
}

/// The bodies `event` makes for each peer.
fn bodies(
    world: &World,
    targets: &[Target],
    event: &Event,
) -> GatewayResult<Vec<(String, i64, Value)>> {
    let mut out = Vec::new();
    match event {
        Event::MessageCreate(full) | Event::MessageUpdate(full) if is_local(&full.author) => {
            let op = match event {
                Event::MessageCreate(_) => op::MESSAGE_CREATE,
                _ => op::MESSAGE_UPDATE,
            };
            for t in targets {
                out.push((t.peer().to_string(), op, message_d(world, full, t)?));
            }
        }
        Event::MessageDelete { id, .. } if world.store.fed_mirror_of(*id)?.is_none() => {
            for t in targets {
                let mut d = json!({"id": id.to_string()});
                t.address(&mut d);
                out.push((t.peer().to_string(), op::MESSAGE_DELETE, d));
            }
        }
        Event::Reaction(r) => {
            let user = world.user(r.user_id)?;
            if !is_local(&user) {
                return Ok(out);
            }
            for t in targets {
                let Some(message_id) = id_for(world, t.peer(), r.message_id)? else {
                    continue;
                };
                let mut d = json!({
                    "message_id": message_id.to_string(),
                    "user": objects::user(&user),
                    "emoji": r.emoji,
                    "action": if r.added { "add" } else { "remove" },
                });
                t.address(&mut d);
                out.push((t.peer().to_string(), op::MESSAGE_REACTION, d));
            }
        }
        Event::Typing {
            user_id, timestamp, ..
        } => {
            let user = world.user(*user_id)?;
            if !is_local(&user) {
                return Ok(out);
            }
            for t in targets {
                let mut d = json!({"user": objects::user(&user), "timestamp": rfc3339(*timestamp)});
                t.address(&mut d);
                out.push((t.peer().to_string(), op::TYPING_START, d));
            }
        }
        _ => {}
    }
    Ok(out)
}

/// Writes the bodies `event` makes into the outbox; returns the peers that
/// got one (to wake once the write is durable).
pub(crate) fn enqueue(world: &World, channel: &Channel, event: &Event) -> Vec<String> {
    let Some(fed) = world.federation() else {
        return Vec::new();
    };
    let targets = targets(world, fed, channel);
    if targets.is_empty() {
        return Vec::new();
    }
    let bodies = match bodies(world, &targets, event) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e.message, channel = %channel.id, "cannot federate an event");
            return Vec::new();
        }
    };
    let mut woken = Vec::new();
    for (peer, op, d) in bodies {
        let seq = world.ids.next();
        let item = QueuedEvent {
            id: seq.to_string(),
            op,
            d,
        };
        let bytes = serde_json::to_vec(&item).unwrap_or_default();
        match world.store.fed_outbox_push(&peer, seq, &bytes) {
            Ok(()) => {
                if let Some(p) = fed.peer(&peer) {
                    p.stats
                        .queued
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if !woken.contains(&peer) {
                    woken.push(peer);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, %peer, "cannot queue a federation body");
                if let Some(p) = fed.peer(&peer) {
                    p.stats.error(format!("outbox write failed: {e}"));
                }
            }
        }
    }
    woken
}
