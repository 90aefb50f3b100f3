//! Common events as V0 commands. Each V0 session signs with its own
//! secret, so commands are built per session; V0 sessions hear only the
//! default guild's text channels, their direct messages, members joining
//! and leaving, and the coordinator's own commands.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use switchboard_protocols::event::{Event, FullMessage};
use switchboard_protocols::model::{ChannelKind, Message, User};
use switchboard_protocols::v0::{self, Body, Outbound};

use crate::world::World;

/// The `msg_id` V0 knows a message by: the client's ULID for messages sent
/// over V0, one derived from the message for the others.
pub(super) fn msg_id(m: &Message) -> String {
    match &m.client_ref {
        Some(r) if v0::is_ulid(r) => r.clone(),
        _ => v0::derived_msg_id(m.created_at, m.id.0),
    }
}

/// `msg` as it came: bytes for binary messages, text otherwise
/// (ciphertext from JAM or chat-network stays its base64 text).
pub(super) fn body(m: &Message) -> Body {
    if m.binary {
        if let Ok(bytes) = B64.decode(&m.content) {
            return Body::Bytes(bytes);
        }
    }
    Body::Text(m.content.clone())
}

/// Whether a channel is one of the V0 channels: a text channel of the
/// default guild (threads and forums have no V0 shape).
pub(super) fn is_v0_channel(
    world: &World,
    guild: Option<switchboard_protocols::Id>,
    channel: switchboard_protocols::Id,
) -> bool {
    guild.is_some()
        && guild == world.default_guild()
        && world
            .store
            .channel(channel)
            .ok()
            .flatten()
            .is_some_and(|c| c.kind == ChannelKind::Text && c.thread.is_none())
}

fn channel_message(fm: &FullMessage) -> Vec<Outbound> {
    let id = msg_id(&fm.message);
    vec![
        Outbound::ChMsg {
            id: fm.message.channel_id.to_string(),
            msg_id: id.clone(),
            msg: body(&fm.message),
        },
        // The server keeps the history, so a message is committed once
        // stored; its author is the first ack.
        Outbound::ChMsgCommit {
            id,
            acks: vec![fm.message.author_id.to_string()],
        },
    ]
}

pub(super) fn render(world: &World, me: &User, event: &Event) -> Vec<Outbound> {
    match event {
        Event::DialectOnly(d) => d.get::<Outbound>().cloned().into_iter().collect(),
        Event::MessageCreate(fm) => match fm.message.guild_id {
            None if fm.message.author_id != me.id => vec![Outbound::Msg {
                from: fm.message.author_id.to_string(),
                msg_id: msg_id(&fm.message),
                msg: body(&fm.message),
            }],
            None => Vec::new(),
            g if is_v0_channel(world, g, fm.message.channel_id) => channel_message(fm),
            _ => Vec::new(),
        },
        Event::MemberJoin { guild_id, user } if Some(*guild_id) == world.default_guild() => {
            vec![Outbound::UsrAdd {
                id: user.id.to_string(),
                status: "offline".into(),
                name: user.username.clone(),
            }]
        }
        Event::MemberLeave { guild_id, user_id } if Some(*guild_id) == world.default_guild() => {
            vec![Outbound::UsrRmd {
                id: user_id.to_string(),
            }]
        }
        _ => Vec::new(),
    }
}
