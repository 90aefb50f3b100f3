//! Common events as a subscribed chat-network socket hears them. The
//! frames depend on the recipient (`dest` is them), so they are built per
//! socket rather than once per event; chat-network sockets only ever hear
//! direct messages, relays and friends' status, so this stays cheap.

use serde_json::{Map, Value};
use switchboard_protocols::chatnet;
use switchboard_protocols::event::{Event, FullMessage};
use switchboard_protocols::model::{Status, User};
use switchboard_protocols::Id;

use crate::world::World;

fn username(world: &World, id: Id) -> Option<String> {
    world.user(id).ok().map(|u| u.username.clone())
}

/// A direct message as chat-network user `to` receives it: chat-network
/// ciphertext unchanged, anything else as `plain: true` text.
pub fn message_frame(world: &World, fm: &FullMessage, to: Id) -> Option<Map<String, Value>> {
    let dest = username(world, to)?;
    let m = &fm.message;
    let source = &fm.author.username;
    Some(if m.encrypted {
        chatnet::encrypted_message(source, &dest, m.nonce.as_deref().unwrap_or(""), &m.content)
    } else {
        chatnet::plain_message(source, &dest, &m.content)
    })
}

/// The frame `me` hears for an event, if any.
pub(super) fn render(world: &World, me: &User, event: &Event) -> Option<Map<String, Value>> {
    match event {
        Event::DialectOnly(d) => d
            .get::<chatnet::Relay>()
            .filter(|r| r.to == me.id)
            .map(|r| r.frame.clone()),
        // Direct messages only (guild channels have no chat-network shape),
        // and never one's own back.
        Event::MessageCreate(fm)
            if fm.message.guild_id.is_none() && fm.message.author_id != me.id =>
        {
            message_frame(world, fm, me.id)
        }
        Event::Presence(p) if p.user_id != me.id => {
            let online = match p.status {
                Status::Online => true,
                Status::Offline => false,
                // chat-network knows only online and offline.
                Status::Idle | Status::Dnd => return None,
            };
            if !world.store.are_friends(me.id, p.user_id).unwrap_or(false) {
                return None;
            }
            Some(chatnet::status(&username(world, p.user_id)?, online))
        }
        _ => None,
    }
}
