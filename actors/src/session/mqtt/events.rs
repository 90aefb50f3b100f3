//! Common events as NYNJA publishes: direct messages on `p2p/A/B` (as
//! stored Message records), and the pushes other sessions address to this
//! user (`ses/`, `p2p/` typing).

use bytes::Bytes;
use switchboard_protocols::etf::{self, Term};
use switchboard_protocols::event::{Event, FullMessage};
use switchboard_protocols::model::User;
use switchboard_protocols::nynja::{self, MessageView};

use crate::nynja::phone_roster_of;
use crate::world::World;

/// A stored direct message as a 2019 Message record.
pub(super) fn message_term(world: &World, fm: &FullMessage, status: Option<&'static str>) -> Term {
    let from = phone_roster_of(world, &fm.author);
    let channel = world.store.channel(fm.message.channel_id).ok().flatten();
    let to = channel
        .and_then(|c| c.recipients.into_iter().find(|r| *r != fm.author.id))
        .and_then(|r| world.user(r).ok())
        .map(|u| phone_roster_of(world, &u))
        .unwrap_or_else(|| from.clone());
    nynja::message(&MessageView {
        id: fm.message.id.0 as i64,
        feed: nynja::p2p_feed(&from, &to),
        msg_id: fm.message.client_ref.clone().unwrap_or_default(),
        from,
        to,
        created_ms: fm.message.created_at,
        text: fm.message.content.clone(),
        status,
    })
}

fn p2p_publish(
    world: &World,
    fm: &FullMessage,
    status: Option<&'static str>,
) -> Option<(String, Bytes)> {
    let term = message_term(world, fm, status);
    let fields = term.record_fields("Message")?;
    let (from, to) = (fields[6].as_text()?, fields[7].as_text()?);
    Some((
        nynja::p2p_topic(&from, &to),
        Bytes::from(etf::encode(&term)),
    ))
}

/// The publishes `me`'s NYNJA client gets for an event (topic, ETF bytes).
pub fn publishes_for(world: &World, me: &User, event: &Event) -> Vec<(String, Bytes)> {
    render(world, me, event)
}

pub(super) fn render(world: &World, me: &User, event: &Event) -> Vec<(String, Bytes)> {
    match event {
        Event::Nynja { topic, payload } => vec![(topic.clone(), payload.clone())],
        Event::MessageCreate(fm) if fm.message.guild_id.is_none() => {
            p2p_publish(world, fm, None).into_iter().collect()
        }
        Event::MessageUpdate(fm) if fm.message.guild_id.is_none() => {
            p2p_publish(world, fm, Some("edit")).into_iter().collect()
        }
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
