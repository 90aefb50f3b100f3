//! NYNJA requests, one at a time and in order (the actor waits on each):
//! Auth, Profile, Search, Friend, Message, History, Typing.
//!
//! # Format
//! ```text
//! → {'Auth',<<"reg_..">>,Dev,[],Phone,[],reg,[],[],[],[],[],[],[],[]}  ← {io,{ok,sms_sent},<<>>}
//! → {'Auth',[],Dev,[],Phone,[],verify,Code,...}                        ← {io,{ok2,login,{Cid,Token}},<<>>}
//! → {'Friend',Me,Them,[],request|confirm}    ← ses/ pushes of Contact; confirm: {io,{ok,added},{ok,added}}
//! → {'Message',[],chain,{p2p,A,B},[],[],MsgId,From,To,Ms,[Desc],...,[]}  ← {'Ack','Message',MsgId}, p2p/A/B
//! ```

use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;
use switchboard_protocols::command::{Command, HistoryQuery, NewMessage};
use switchboard_protocols::etf::{self, Term};
use switchboard_protocols::event::{Envelope, Event};
use switchboard_protocols::model::{Channel, ChannelKind, User};
use switchboard_protocols::nynja::{self, Request};
use switchboard_protocols::Id;

use super::events::message_term;
use super::{MqttSession, Role};
use crate::accounts;
use crate::hub::DeliverToUsers;
use crate::nynja::{self as ny, contact_view, phone_of, phone_roster_of, NynjaContext};
use crate::world::{Caller, Reply, World};

/// What a request comes to: replies on this client's `actions/` topic.
type Replies = Vec<Term>;

impl MqttSession {
    pub(super) fn run(&mut self, c: &mut Context<Self>, request: Request) {
        let user = match (&self.role, request.name.as_str()) {
            (Some(Role::User(u)), _) => Some(u.clone()),
            (_, "Auth") => None,
            _ => return self.reply(c, &nynja::io_error("permission_denied")),
        };
        let world = self.world.clone();
        let ctx = self.ctx.clone();
        let session = self.id;
        let fut = async move {
            match user {
                None => auth(&world, &ctx, None, &request).await,
                Some(u) if request.name == "Auth" => auth(&world, &ctx, Some(u), &request).await,
                Some(u) => {
                    let caller = Caller {
                        user: u,
                        session: Some(session),
                        reference: None,
                    };
                    dispatch(&world, caller, &request).await
                }
            }
        };
        c.wait(fut.into_actor(self).map(|replies, act, c| {
            for r in replies {
                act.reply(c, &r);
            }
        }));
    }
}

/// `{'Profile', Phone, [], [Roster], [], 0, 0, online, Status}` with the
/// user's friends as contacts.
pub(super) fn profile_init(world: &World, user: &User) -> Term {
    profile(world, user, "init")
}

/// The user's Roster: their friends as contacts.
fn roster_of(world: &World, user: &User, status: &str) -> Term {
    let friends: Vec<Term> = world
        .store
        .friends_of(user.id)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| world.user(f).ok())
        .map(|f| nynja::contact(&contact_view(world, &f, false, "friend")))
        .collect();
    let me = contact_view(world, user, true, "");
    nynja::roster(user.id.0, &me, &phone_of(world, user), friends, status)
}

fn profile(world: &World, user: &User, status: &str) -> Term {
    let roster = roster_of(world, user, "");
    nynja::profile(&phone_of(world, user), vec![roster], status)
}

/// Sends `term` on `topic` to the NYNJA sessions of `users`.
fn push(world: &World, users: Vec<Id>, topic: String, term: &Term) {
    let env = Arc::new(Envelope::new(
        Event::Nynja {
            topic,
            payload: Bytes::from(etf::encode(term)),
        },
        None,
    ));
    world.hub().do_send(DeliverToUsers { users, env });
}

fn ses(world: &World, user: &User) -> String {
    format!("ses/{}", phone_of(world, user))
}

/// A phone in an Auth record: a binary, or `{fake, Binary}`.
fn auth_phone(r: &Request) -> Option<String> {
    match r.field(3) {
        Term::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Term::Tuple(t) if t.len() == 2 && t[0].as_atom() == Some("fake") => t[1].as_text(),
        _ => None,
    }
}

async fn auth(
    world: &Arc<World>,
    ctx: &NynjaContext,
    me: Option<Arc<User>>,
    r: &Request,
) -> Replies {
    let invalid = || vec![nynja::io_error("invalid_data")];
    match r.status() {
        Some("reg") | Some("resend") => {
            let Some(phone) = auth_phone(r).filter(|p| !p.is_empty()) else {
                return invalid();
            };
            ctx.register(&phone);
            vec![nynja::io_ok("sms_sent", Term::bin(""))]
        }
        Some("verify") => {
            let (Some(phone), Ok(Some(code))) = (auth_phone(r), r.text(6)) else {
                return invalid();
            };
            if let Err(e) = ctx.verify(&phone, &code) {
                return vec![nynja::io_error(e.atom())];
            }
            let user = match ny::user_of_phone(world, &phone).and_then(|id| world.user(id).ok()) {
                Some(u) => u,
                None => match accounts::create_linked(world, &phone).await {
                    Ok(u) => {
                        if ny::bind_phone(world, &phone, u.id).is_err() {
                            return vec![nynja::io_error("internal")];
                        }
                        u
                    }
                    Err(_) => return vec![nynja::io_error("internal")],
                },
            };
            let token = match accounts::issue_token(world, &user) {
                Ok(t) if world.store.commit().await.is_ok() => t,
                _ => return vec![nynja::io_error("internal")],
            };
            vec![nynja::io_login(&format!("emqttd_{}", user.id), &token)]
        }
        Some("logout") => {
            if let Ok(Some(token)) = r.text(4) {
                let _ = accounts::revoke_token(world, &token);
                let _ = world.store.commit().await;
            }
            vec![nynja::io_ok("logout", Term::bin(""))]
        }
        Some("list") => match me {
            Some(u) => {
                let phone = phone_of(world, &u);
                let mut fields = vec![Term::nil(); 14];
                fields[0] = Term::bin(format!("emqttd_{}", u.id));
                fields[3] = Term::bin(&phone);
                fields[5] = Term::atom("list");
                vec![nynja::io_ok(
                    "list",
                    Term::List(vec![Term::record("Auth", fields)]),
                )]
            }
            None => vec![nynja::io_error("permission_denied")],
        },
        Some("voice") | Some("push") => vec![nynja::io_error("not_supported")],
        _ => invalid(),
    }
}

async fn dispatch(world: &Arc<World>, caller: Caller, r: &Request) -> Replies {
    let me = caller.user.clone();
    match (r.name.as_str(), r.status()) {
        ("Profile", Some("get")) => vec![profile(world, &me, "get")],
        ("Profile", _) => vec![nynja::io_error("not_supported")],
        ("Roster", Some("get")) => vec![roster_of(world, &me, "get")],
        ("Search", _) => search(world, &me, r),
        ("Roster", Some("patch")) | ("Roster", Some("nick")) => roster_change(world, &me, r).await,
        ("History", Some("update")) => history_update(world, &me, r),
        ("Friend", Some(step)) => friend(world, &me, r, step).await,
        ("Message", _) => message(world, caller, r).await,
        ("History", Some("get")) => history(world, caller, r).await,
        ("Room", Some("create")) => room_create(world, caller, r).await,
        ("Room", Some(step @ ("add" | "remove" | "leave" | "patch"))) => {
            room_change(world, caller, r, step).await
        }
        ("Member", Some("patch")) => member_patch(world, &me, r),
        ("Room", Some("get")) => match r.text(0) {
            Ok(Some(rid)) => match ny::channel_of_room(world, &rid)
                .and_then(|id| world.store.channel(id).ok().flatten())
            {
                Some(c) => vec![room_term(world, &c, "get")],
                None => vec![nynja::io_error("not_found")],
            },
            _ => vec![nynja::io_error("invalid_data")],
        },
        ("Typing", _) => {
            if let Ok(Some(target)) = r.text(0) {
                if let Some(other) = ny::user_named(world, &target) {
                    let mine = phone_roster_of(world, &me);
                    let topic = nynja::p2p_topic(&mine, &phone_roster_of(world, &other));
                    let typing = Term::record("Typing", [Term::bin(&mine), r.field(1).clone()]);
                    push(world, vec![other.id], topic, &typing);
                }
            }
            Vec::new()
        }
        _ => vec![nynja::io_error("not_supported")],
    }
}

/// `{'Search', Id, Ref, Field, Op, [Value], Status}` → `{io,{ok,Ref},Roster}`.
fn search(world: &World, me: &User, r: &Request) -> Replies {
    let (Some(id), Ok(Some(reference)), Ok(Some(field))) =
        (r.field(0).as_int(), r.text(1), r.text(2))
    else {
        return vec![nynja::io_error("invalid_data")];
    };
    let values: Vec<String> = r
        .field(4)
        .as_list()
        .map(|l| l.iter().filter_map(Term::as_text).collect())
        .unwrap_or_default();
    let mut found = Vec::new();
    for v in values {
        let user = match field.as_str() {
            "phone" => ny::user_of_phone(world, &v)
                .and_then(|id| world.user(id).ok())
                .or_else(|| ny::user_named(world, &v)),
            "nick" => world
                .store
                .user_by_name(&v)
                .ok()
                .flatten()
                .and_then(|u| world.user(u.id).ok()),
            _ => return vec![nynja::io_error("invalid_data")],
        };
        if let Some(u) = user.filter(|u| u.id != me.id) {
            let friends = world.store.are_friends(me.id, u.id).unwrap_or(false);
            let status = if friends { "friend" } else { "contact" };
            found.push(nynja::contact(&contact_view(world, &u, false, status)));
        }
    }
    let mine = contact_view(world, me, true, "");
    let roster = nynja::roster(
        id.max(0) as u64,
        &mine,
        &phone_of(world, me),
        found,
        "contact",
    );
    vec![nynja::io(
        Term::tuple([Term::atom("ok"), Term::atom(&reference)]),
        roster,
    )]
}

async fn friend(world: &Arc<World>, me: &Arc<User>, r: &Request, step: &str) -> Replies {
    let Ok(Some(them)) = r.text(1) else {
        return vec![nynja::io_error("invalid_data")];
    };
    let Some(other) = ny::user_named(world, &them).filter(|u| u.id != me.id) else {
        return vec![nynja::io_error("not_found")];
    };
    let store = &world.store;
    let contact = |u: &User, status: &str| nynja::contact(&contact_view(world, u, false, status));
    let added = || {
        nynja::io(
            Term::tuple([Term::atom("ok"), Term::atom("added")]),
            Term::tuple([Term::atom("ok"), Term::atom("added")]),
        )
    };
    let done = match step {
        "request" => {
            let _ = store.put_friend_request(me.id, other.id);
            push(
                world,
                vec![me.id],
                ses(world, me),
                &contact(&other, "request"),
            );
            push(
                world,
                vec![other.id],
                ses(world, &other),
                &contact(me, "authorization"),
            );
            Vec::new()
        }
        "confirm" => {
            if !store.take_friend_request(other.id, me.id).unwrap_or(false) {
                return vec![nynja::io_error("not_found")];
            }
            let _ = store.put_friendship(me.id, other.id);
            push(
                world,
                vec![me.id],
                ses(world, me),
                &contact(&other, "friend"),
            );
            push(
                world,
                vec![other.id],
                ses(world, &other),
                &contact(me, "friend"),
            );
            vec![added()]
        }
        "revoke" | "ignore" | "ban" => {
            let _ = store.take_friend_request(me.id, other.id);
            let _ = store.take_friend_request(other.id, me.id);
            let status = match step {
                "ban" => "banned",
                "ignore" => "ignore",
                _ => "deleted",
            };
            push(world, vec![me.id], ses(world, me), &contact(&other, status));
            vec![added()]
        }
        "unban" => {
            push(
                world,
                vec![me.id],
                ses(world, me),
                &contact(&other, "friend"),
            );
            vec![added()]
        }
        _ => return vec![nynja::io_error("invalid_data")],
    };
    let _ = store.commit().await;
    done
}

/// The other party of a `{p2p, A, B}` feed.
fn p2p_peer(world: &World, me: &User, feed: &Term) -> Option<Arc<User>> {
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

async fn dm_channel(world: &Arc<World>, caller: &Caller, other: Id) -> Option<Id> {
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
fn room_channel(world: &World, me: &User, feed: &Term) -> Option<Id> {
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
async fn feed_channel(world: &Arc<World>, caller: &Caller, feed: &Term) -> Result<Id, Term> {
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

async fn message(world: &Arc<World>, caller: Caller, r: &Request) -> Replies {
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
    use switchboard_protocols::ErrorKind;
    match world.execute(caller, command).await {
        Ok(_) => msg_id.map(|m| vec![nynja::ack(&m)]).unwrap_or_default(),
        Err(e) if e.kind == ErrorKind::NotFound => vec![nynja::io_error("not_found")],
        // Text over `limits.message_length`, or empty: a field the client
        // got wrong, which the profile answers with `invalid_data`; saying
        // `permission_denied` sent clients looking for a rights problem.
        Err(e) if matches!(e.kind, ErrorKind::TooLarge | ErrorKind::Invalid) => {
            vec![nynja::io_error("invalid_data")]
        }
        Err(_) => vec![nynja::io_error("permission_denied")],
    }
}

/// `{'History', RosterId, Feed, Size, EntityId, [], get}`: a negative size
/// pages backwards from `EntityId`, a positive one forwards.
async fn history(world: &Arc<World>, caller: Caller, r: &Request) -> Replies {
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
    let mut list = match channel {
        Some(channel_id) => match world
            .execute(caller, Command::History { channel_id, query })
            .await
        {
            Ok(Reply::Messages(l)) => l,
            _ => Vec::new(),
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

/// A channel as a Room: a group (its members) or a default-guild channel.
fn room_term(world: &World, c: &Channel, status: &str) -> Term {
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
async fn room_create(world: &Arc<World>, caller: Caller, r: &Request) -> Replies {
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
async fn roster_change(world: &Arc<World>, me: &Arc<User>, r: &Request) -> Replies {
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
            let mut user = (**me).clone();
            user.display_name = display;
            if world.store.update_user(&user).is_err() {
                return vec![nynja::io_error("internal")];
            }
            world.cache_user(user);
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

/// `History update`: the read cursor of a feed moves to `entity_id`.
fn history_update(world: &World, me: &User, r: &Request) -> Replies {
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

/// The user ids of the Members listed in a Room's `members` field.
fn member_ids(world: &World, list: &Term) -> Option<Vec<Id>> {
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
async fn room_change(world: &Arc<World>, caller: Caller, r: &Request, step: &str) -> Replies {
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
fn member_patch(world: &World, me: &User, r: &Request) -> Replies {
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
