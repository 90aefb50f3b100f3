//! Common events as NYNJA publishes: direct messages on `p2p/A/B` (as
//! stored Message records), and the pushes other sessions address to this
//! user (`ses/`, `p2p/` typing).

use bytes::Bytes;
use switchboard_protocols::event::{Event, FullMessage};
use switchboard_protocols::model::{ChannelKind, Status, User};
use switchboard_protocols::nynja::etf::{self, Term};
use switchboard_protocols::nynja::{self, MessageView};

use crate::nynja::{contact_view, phone_roster_of, room_id_of};
use crate::world::World;

/// Where a stored message goes and how it looks: a direct message on
/// `p2p/A/B` with a `{p2p,A,B}` feed; a group or a default-guild text
/// channel on `room/<id>` with a `{muc,Id}` feed. None for the rest.
pub(super) fn placed(
    world: &World,
    fm: &FullMessage,
    status: Option<&'static str>,
) -> Option<(String, Term)> {
    let channel = world.store.channel(fm.message.channel_id).ok().flatten()?;
    let from = phone_roster_of(world, &fm.author);
    let (topic, feed, to) = match channel.kind {
        ChannelKind::Dm => {
            let to = channel
                .recipients
                .iter()
                .find(|r| **r != fm.author.id)
                .and_then(|r| world.user(*r).ok())
                .map(|u| phone_roster_of(world, &u))
                .unwrap_or_else(|| from.clone());
            (
                nynja::p2p_topic(&from, &to),
                nynja::p2p_feed(&from, &to),
                to,
            )
        }
        ChannelKind::Group => {
            let room = room_id_of(world, channel.id);
            (format!("room/{room}"), nynja::muc_feed(&room), room)
        }
        ChannelKind::Text
            if channel.thread.is_none()
                && channel.guild_id.is_some()
                && channel.guild_id == world.default_guild() =>
        {
            let room = room_id_of(world, channel.id);
            (format!("room/{room}"), nynja::muc_feed(&room), room)
        }
        _ => return None,
    };
    let term = nynja::message(&MessageView {
        id: fm.message.id.0 as i64,
        feed,
        msg_id: fm.message.client_ref.clone().unwrap_or_default(),
        from,
        to,
        created_ms: fm.message.created_at,
        text: fm.message.content.clone(),
        status,
    });
    Some((topic, term))
}

/// A stored message as a 2019 Message record.
pub(super) fn message_term(world: &World, fm: &FullMessage, status: Option<&'static str>) -> Term {
    placed(world, fm, status)
        .map(|(_, t)| t)
        .unwrap_or_else(Term::nil)
}

fn p2p_publish(
    world: &World,
    fm: &FullMessage,
    status: Option<&'static str>,
) -> Option<(String, Bytes)> {
    let (topic, term) = placed(world, fm, status)?;
    Some((topic, Bytes::from(etf::encode(&term))))
}

/// The publishes `me`'s NYNJA client gets for an event (topic, ETF bytes).
pub fn publishes_for(world: &World, me: &User, event: &Event) -> Vec<(String, Bytes)> {
    render(world, me, event)
}

pub(super) fn render(world: &World, me: &User, event: &Event) -> Vec<(String, Bytes)> {
    match event {
        Event::DialectOnly(d) => d
            .get::<nynja::Publish>()
            .map(|p| vec![(p.topic.clone(), p.payload.clone())])
            .unwrap_or_default(),
        // Friends' presence, on `ac/<their phone_roster>`.
        Event::Presence(p)
            if p.user_id != me.id
                && matches!(p.status, Status::Online | Status::Offline)
                && world.store.are_friends(me.id, p.user_id).unwrap_or(false) =>
        {
            let Ok(friend) = world.user(p.user_id) else {
                return Vec::new();
            };
            let online = p.status == Status::Online;
            let contact = nynja::contact(&contact_view(world, &friend, online, "friend"));
            let topic = format!("ac/{}", phone_roster_of(world, &friend));
            vec![(topic, Bytes::from(etf::encode(&contact)))]
        }
        Event::MessageCreate(fm) => p2p_publish(world, fm, None).into_iter().collect(),
        Event::MessageUpdate(fm) => p2p_publish(world, fm, Some("edit")).into_iter().collect(),
        Event::MessageDelete {
            id,
            channel_id,
            guild_id: None,
        } => {
            // Only the id is left: a Message with status delete.
            let Some(channel) = world.store.channel(*channel_id).ok().flatten() else {
                return Vec::new();
            };
            let ids: Vec<String> = channel
                .recipients
                .iter()
                .filter_map(|r| world.user(*r).ok())
                .map(|u| phone_roster_of(world, &u))
                .collect();
            let (a, b) = match ids.as_slice() {
                [a, b] => (a.clone(), b.clone()),
                _ => return Vec::new(),
            };
            let mine = phone_roster_of(world, me);
            let to = if a == mine { b.clone() } else { a.clone() };
            let term = nynja::message(&MessageView {
                id: id.0 as i64,
                feed: nynja::p2p_feed(&a, &b),
                msg_id: String::new(),
                from: mine,
                to,
                created_ms: 0,
                text: String::new(),
                status: Some("delete"),
            });
            vec![(nynja::p2p_topic(&a, &b), Bytes::from(etf::encode(&term)))]
        }
        _ => Vec::new(),
    }
}
