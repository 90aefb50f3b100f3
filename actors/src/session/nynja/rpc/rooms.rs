//! NYNJA Room, Roster and Member changes: groups as private guild channels.

use std::sync::Arc;

use switchboard_protocols::command::Command;
use switchboard_protocols::model::{Channel, ChannelKind, User};
use switchboard_protocols::nynja::etf::Term;
use switchboard_protocols::nynja::{self, Request};
use switchboard_protocols::Id;

use crate::nynja::{self as ny, contact_view, phone_of, phone_roster_of};
use crate::world::{Caller, Reply, World};

use super::messages::room_channel;
use super::{push, ses, Replies};

/// A channel as a Room: a group (its members) or a default-guild channel.
pub(super) fn room_term(world: &World, c: &Channel, status: &str) -> Term {
    let rid = ny::room_id_of(world, c.id);
    let members: Vec<Term> = c
        .recipients
        .iter()
        .filter_map(|u| world.user(*u).ok())
        .map(|u| {
            nynja::member(
                u.id.0 as i64,
                &rid,
                &phone_roster_of(world, &u),
                &u.display_name,
                "member",
            )
        })
        .collect();
    let kind = if c.kind == ChannelKind::Group {
        "group"
    } else {
        "channel"
    };
    let name = if c.name.is_empty() {
        rid.clone()
    } else {
        c.name.clone()
    };
    nynja::room(&rid, &name, members, Vec::new(), kind, c.created_at, status)
}

/// `Room create`: a group channel of the creator and the Members listed,
/// named by the client's room id; the Room goes to every member's `ses/`.
pub(super) async fn room_create(world: &Arc<World>, caller: Caller, r: &Request) -> Replies {
    let (Ok(Some(rid)), Ok(name)) = (r.text(0), r.text(1)) else {
        return vec![nynja::io_error("invalid_data")];
    };
    if ny::channel_of_room(world, &rid)
        .and_then(|id| world.store.channel(id).ok().flatten())
        .is_some()
    {
        return vec![nynja::io_error("exist")];
    }
    let mut members = Vec::new();
    for m in r.field(5).as_list().unwrap_or_default() {
        let phone = m
            .record_fields("Member")
            .and_then(|f| f.get(6))
            .and_then(Term::as_text);
        match phone.and_then(|p| ny::user_named(world, &p)) {
            Some(u) => members.push(u.id),
            None => return vec![nynja::io_error("invalid_data")],
        }
    }
    let command = Command::CreateGroup {
        name: name.unwrap_or_default(),
        members,
    };
    let channel = match world.execute(caller, command).await {
        Ok(Reply::Channel(c)) => c,
        _ => return vec![nynja::io_error("invalid_data")],
    };
    if ny::bind_room(world, &rid, channel.id).is_err() {
        return vec![nynja::io_error("internal")];
    }
    let _ = world.store.commit().await;
    let room = room_term(world, &channel, "create");
    for u in &channel.recipients {
        if let Ok(user) = world.user(*u) {
            push(world, vec![*u], ses(world, &user), &room);
        }
    }
    Vec::new()
}

/// `Roster patch` (names, surnames → the display name) and `Roster nick`;
/// the updated Roster goes to the user's `ses/`.
pub(super) async fn roster_change(world: &Arc<World>, me: &Arc<User>, r: &Request) -> Replies {
    if r.status() == Some("nick") {
        let Ok(Some(nick)) = r.text(4) else {
            return vec![nynja::io_error("invalid_nick")];
        };
        if let Err(e) = ny::set_nick(world, me.id, &nick) {
            return vec![nynja::io_error(e)];
        }
    } else {
        let names = r.text(1).ok().flatten().unwrap_or_default();
        let surnames = r.text(2).ok().flatten().unwrap_or_default();
        let display = format!("{names} {surnames}")
            .trim()
            .chars()
            .take(100)
            .collect::<String>();
        if !display.is_empty() {
            let caller = Caller {
                user: me.clone(),
                session: None,
                reference: None,
            };
            let command = Command::UpdateProfile {
                display_name: Some(display),
                avatar: None,
                public_key: None,
            };
            if world.execute(caller, command).await.is_err() {
                return vec![nynja::io_error("internal")];
            }
        }
    }
    let _ = world.store.commit().await;
    let Ok(now) = world.user(me.id) else {
        return vec![nynja::io_error("not_found")];
    };
    let view = contact_view(world, &now, true, "");
    let roster = nynja::roster(now.id.0, &view, &phone_of(world, &now), Vec::new(), "patch");
    push(world, vec![now.id], ses(world, &now), &roster);
    Vec::new()
}

/// The user ids of the Members listed in a Room's `members` field.
pub(super) fn member_ids(world: &World, list: &Term) -> Option<Vec<Id>> {
    list.as_list()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let phone = m.record_fields("Member")?.get(6)?.as_text()?;
            ny::user_named(world, &phone).map(|u| u.id)
        })
        .collect()
}

/// `Room add|remove|leave|patch`: the group changes, and the Room (with
/// the step as status) goes on `room/<id>` to everyone before and after.
pub(super) async fn room_change(
    world: &Arc<World>,
    caller: Caller,
    r: &Request,
    step: &str,
) -> Replies {
    let me = caller.user.clone();
    let Ok(Some(rid)) = r.text(0) else {
        return vec![nynja::io_error("invalid_data")];
    };
    let Some(channel_id) = ny::channel_of_room(world, &rid) else {
        return vec![nynja::io_error("not_found")];
    };
    let Some(listed) = member_ids(world, r.field(5)) else {
        return vec![nynja::io_error("invalid_data")];
    };
    let before = world
        .store
        .channel(channel_id)
        .ok()
        .flatten()
        .map(|c| c.recipients)
        .unwrap_or_default();
    let (add, remove, name) = match step {
        "add" => (listed, Vec::new(), None),
        "remove" => (Vec::new(), listed, None),
        "leave" => (Vec::new(), vec![me.id], None),
        _ => (Vec::new(), Vec::new(), r.text(1).ok().flatten()),
    };
    let command = Command::UpdateGroup {
        channel_id,
        add,
        remove,
        name,
    };
    let channel = match world.execute(caller, command).await {
        Ok(Reply::Channel(c)) => c,
        Err(e) if e.kind == switchboard_protocols::ErrorKind::Forbidden => {
            return vec![nynja::io_error("permission_denied")]
        }
        _ => return vec![nynja::io_error("not_found")],
    };
    let _ = world.store.commit().await;
    let mut users = before;
    users.extend(channel.recipients.iter().copied());
    users.sort();
    users.dedup();
    push(
        world,
        users,
        format!("room/{rid}"),
        &room_term(world, &channel, step),
    );
    Vec::new()
}

/// `Member patch`: the Member goes on `room/<id>` to the room's members.
pub(super) fn member_patch(world: &World, me: &User, r: &Request) -> Replies {
    let Some(channel) = room_channel(world, me, r.field(2)) else {
        return vec![nynja::io_error("invalid_data")];
    };
    let Some(c) = world.store.channel(channel).ok().flatten() else {
        return vec![nynja::io_error("not_found")];
    };
    let rid = ny::room_id_of(world, c.id);
    let member = Term::record("Member", r.fields.clone());
    push(world, c.recipients, format!("room/{rid}"), &member);
    Vec::new()
}
