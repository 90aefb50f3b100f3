//! NYNJA Message and History: the p2p and room feeds, mapped to channels.

use std::sync::Arc;

use switchboard_protocols::command::{Command, HistoryQuery, NewMessage};
use switchboard_protocols::model::{ChannelKind, User};
use switchboard_protocols::nynja::etf::Term;
use switchboard_protocols::nynja::{self, Request};
use switchboard_protocols::{ErrorKind, GatewayError, Id};

use super::super::events::message_term;

use super::Replies;
use crate::nynja::{self as ny, phone_roster_of};
use crate::world::{Caller, Reply, World};

/// The other party of a `{p2p, A, B}` feed.
pub(super) fn p2p_peer(world: &World, me: &User, feed: &Term) -> Option<Arc<User>> {
    let Term::Tuple(t) = feed else { return None };
    if t.len() != 3 || t[0].as_atom() != Some("p2p") {
        return None;
    }
    let mine = phone_roster_of(world, me);
    let other = [t[1].as_text()?, t[2].as_text()?]
        .into_iter()
        .find(|x| *x != mine)?;
    ny::user_named(world, &other)
}

pub(super) async fn dm_channel(world: &Arc<World>, caller: &Caller, other: Id) -> Option<Id> {
    match world
        .execute(caller.clone(), Command::OpenDm { recipient: other })
        .await
    {
        Ok(Reply::Channel(c)) => Some(c.id),
        _ => None,
    }
}

/// The channel of a `{muc, RoomId}` feed the caller may talk in: a group
/// they are in, or a text channel of the default guild.
pub(super) fn room_channel(world: &World, me: &User, feed: &Term) -> Option<Id> {
    let Term::Tuple(t) = feed else { return None };
    if t.len() != 2 || t[0].as_atom() != Some("muc") {
        return None;
    }
    let id = ny::channel_of_room(world, &t[1].as_text()?)?;
    let channel = world.store.channel(id).ok().flatten()?;
    let ok = match channel.kind {
        ChannelKind::Group => channel.recipients.contains(&me.id),
        ChannelKind::Text => channel.thread.is_none() && channel.guild_id == world.default_guild(),
        _ => false,
    };
    ok.then_some(id)
}

/// The channel a Message or History feed names.
pub(super) async fn feed_channel(
    world: &Arc<World>,
    caller: &Caller,
    feed: &Term,
) -> Result<Id, Term> {
    if let Some(id) = room_channel(world, &caller.user, feed) {
        return Ok(id);
    }
    let Some(other) = p2p_peer(world, &caller.user, feed) else {
        return Err(nynja::io_error("invalid_data"));
    };
    dm_channel(world, caller, other.id)
        .await
        .ok_or_else(|| nynja::io_error("permission_denied"))
}

pub(super) async fn message(world: &Arc<World>, caller: Caller, r: &Request) -> Replies {
    let channel_id = match feed_channel(world, &caller, r.field(2)).await {
        Ok(id) => id,
        Err(e) => return vec![e],
    };
    let text = nynja::message_text(r.field(9)).unwrap_or_default();
    let msg_id = r.text(5).ok().flatten();
    let command = match r.field(15).as_atom() {
        Some("edit") | Some("update") => Command::EditMessage {
            channel_id,
            message_id: Id(r.field(0).as_int().unwrap_or(0).max(0) as u64),
            content: text,
            encrypted: false,
            nonce: None,
        },
        Some("delete") => Command::DeleteMessage {
            channel_id,
            message_id: Id(r.field(0).as_int().unwrap_or(0).max(0) as u64),
        },
        None if r.field(15).is_nil() => Command::SendMessage(NewMessage {
            channel_id,
            content: text,
            reply_to: None,
            attachments: Vec::new(),
            encrypted: false,
            nonce: None,
            client_ref: msg_id.clone(),
            untagged: false,
            binary: false,
        }),
        _ => return vec![nynja::io_error("invalid_data")],
    };
    match world.execute(caller, command).await {
        Ok(_) => msg_id.map(|m| vec![nynja::ack(&m)]).unwrap_or_default(),
        Err(e) => vec![refusal(&e)],
    }
}

/// The `{io,{error,Atom},<<>>}` a refused Message or History gets.
fn refusal(e: &GatewayError) -> Term {
    match e.kind {
        ErrorKind::NotFound => nynja::io_error("not_found"),
        // Text over `limits.message_length`, or empty: a field the client
        // got wrong, which the profile answers with `invalid_data`; saying
        // `permission_denied` sent clients looking for a rights problem.
        ErrorKind::TooLarge | ErrorKind::Invalid => nynja::io_error("invalid_data"),
        _ => nynja::io_error("permission_denied"),
    }
}

/// `{'History', RosterId, Feed, Size, EntityId, [], get}`: a negative size
/// pages backwards from `EntityId`, a positive one forwards.
pub(super) async fn history(world: &Arc<World>, caller: Caller, r: &Request) -> Replies {
    let me = caller.user.clone();
    let room = room_channel(world, &me, r.field(1));
    let peer = p2p_peer(world, &me, r.field(1));
    if room.is_none() && peer.is_none() {
        return vec![nynja::io_error("invalid_data")];
    }
    let size = r.field(2).as_int().unwrap_or(-20);
    let entity = r.field(3).as_int().filter(|n| *n > 0).map(|n| Id(n as u64));
    let limit = size.unsigned_abs().clamp(1, 100) as usize;
    let query = if size < 0 {
        HistoryQuery {
            before: entity,
            limit,
            ..HistoryQuery::default()
        }
    } else {
        HistoryQuery {
            after: entity,
            limit,
            ..HistoryQuery::default()
        }
    };
    let channel =
        room.or_else(|| peer.and_then(|p| world.store.dm_channel(me.id, p.id).ok().flatten()));
    // A p2p feed with no channel yet has no history; a channel the caller
    // may not read is refused, never shown as an empty page.
    let mut list = match channel {
        Some(channel_id) => match world
            .execute(caller, Command::History { channel_id, query })
            .await
        {
            Ok(Reply::Messages(l)) => l,
            Ok(_) => Vec::new(),
            Err(e) => return vec![refusal(&e)],
        },
        None => Vec::new(),
    };
    list.sort_by_key(|m| m.message.id);
    let data: Vec<Term> = list
        .iter()
        .map(|fm| message_term(world, fm, None))
        .collect();
    let mut fields = r.fields.clone();
    fields[4] = Term::List(data);
    vec![Term::record("History", fields)]
}

/// `History update`: the read cursor of a feed moves to `entity_id`.
pub(super) fn history_update(world: &World, me: &User, r: &Request) -> Replies {
    let channel = room_channel(world, me, r.field(1)).or_else(|| {
        p2p_peer(world, me, r.field(1))
            .and_then(|p| world.store.dm_channel(me.id, p.id).ok().flatten())
    });
    let (Some(channel), Some(entity)) = (channel, r.field(3).as_int()) else {
        return vec![nynja::io_error("invalid_data")];
    };
    if world
        .store
        .set_last_read(me.id, channel, Id(entity.max(0) as u64))
        .is_err()
    {
        return vec![nynja::io_error("internal")];
    }
    let mut fields = r.fields.clone();
    if let Some(last) = fields.last_mut() {
        *last = Term::atom("updated");
    }
    vec![Term::record("History", fields)]
}
