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

use std::net::IpAddr;
use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;
use switchboard_protocols::event::{DialectOnly, Envelope, Event};
use switchboard_protocols::model::User;
use switchboard_protocols::nynja::etf::{self, Term};
use switchboard_protocols::nynja::{self, Request};
use switchboard_protocols::Id;

use super::NynjaSession;
use crate::accounts;
use crate::hub::{DeliverToUsers, Friendship};
use crate::nynja::{self as ny, contact_view, phone_of, phone_roster_of, NynjaContext};
use crate::world::{Caller, World};
use switchboard_protocols::ErrorKind;

mod messages;
mod rooms;

use messages::{history, history_update, message};
use rooms::{member_patch, room_change, room_create, room_term, roster_change};

/// What a request comes to: replies on this client's `actions/` topic.
type Replies = Vec<Term>;

impl NynjaSession {
    pub(super) fn run(&mut self, c: &mut Context<Self>, request: Request) {
        let user = match (&self.user, request.name.as_str()) {
            (Some(u), _) => Some(u.clone()),
            (_, "Auth") => None,
            _ => return self.reply(c, &nynja::io_error("permission_denied")),
        };
        let world = self.world.clone();
        let ctx = self.ctx.clone();
        let session = self.id;
        // Registration limits count per client address.
        let peer = self.peer.ip();
        let fut = async move {
            match user {
                None => auth(&world, &ctx, peer, None, &request).await,
                Some(u) if request.name == "Auth" => {
                    auth(&world, &ctx, peer, Some(u), &request).await
                }
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
    let publish = nynja::Publish {
        topic,
        payload: Bytes::from(etf::encode(term)),
    };
    let env = Arc::new(Envelope::new(
        Event::DialectOnly(DialectOnly::new(publish)),
        None,
    ));
    world.hub().do_send(DeliverToUsers { users, env });
}

fn ses(world: &World, user: &User) -> String {
    format!("ses/{}", phone_of(world, user))
}

/// A phone in an Auth record: a binary, or `{fake, Binary}`, of at most
/// [`ny::MAX_PHONE_LEN`] bytes.
fn auth_phone(r: &Request) -> Option<String> {
    let phone = match r.field(3) {
        Term::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Term::Tuple(t) if t.len() == 2 && t[0].as_atom() == Some("fake") => t[1].as_text(),
        _ => None,
    };
    phone.filter(|p| p.len() <= ny::MAX_PHONE_LEN)
}

/// `Auth`. `reg` while a code is pending sends the same code again, as
/// `resend`; codes per phone and wrong codes per phone and per address are
/// limited (see [`NynjaContext::verify`]).
async fn auth(
    world: &Arc<World>,
    ctx: &NynjaContext,
    peer: IpAddr,
    me: Option<Arc<User>>,
    r: &Request,
) -> Replies {
    let invalid = || vec![nynja::io_error("invalid_data")];
    match r.status() {
        Some("reg") | Some("resend") => {
            let Some(phone) = auth_phone(r).filter(|p| !p.is_empty()) else {
                return invalid();
            };
            if let Err(e) = ctx.register(&phone) {
                return vec![nynja::io_error(e.atom())];
            }
            vec![nynja::io_ok("sms_sent", Term::bin(""))]
        }
        Some("verify") => {
            let (Some(phone), Ok(Some(code))) = (auth_phone(r), r.text(6)) else {
                return invalid();
            };
            if let Err(e) = ctx.verify(&phone, &code, peer) {
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
                Err(e) if e.kind == ErrorKind::AuthFailed => {
                    return vec![nynja::io_error("permission_denied")]
                }
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
    let contact = |u: &User, status: &str| nynja::contact(&contact_view(world, u, false, status));
    let added = || {
        nynja::io(
            Term::tuple([Term::atom("ok"), Term::atom("added")]),
            Term::tuple([Term::atom("ok"), Term::atom("added")]),
        )
    };
    let done = match step {
        "request" => {
            let _ = world
                .hub()
                .send(Friendship::Request {
                    from: me.id,
                    to: other.id,
                })
                .await;
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
            let accepted = world
                .hub()
                .send(Friendship::Accept {
                    from: other.id,
                    to: me.id,
                })
                .await;
            if !matches!(accepted, Ok(Ok(true))) {
                return vec![nynja::io_error("not_found")];
            }
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
            let _ = world
                .hub()
                .send(Friendship::Withdraw {
                    a: me.id,
                    b: other.id,
                })
                .await;
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
    let _ = world.store.commit().await;
    done
}
