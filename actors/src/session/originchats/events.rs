//! Common events in OriginChats shapes.
//!
//! An event becomes zero, one or two reply objects (a voice move is a
//! `voice_user_left` and a `voice_user_joined`). They are rendered once per
//! event for every OriginChats recipient, as prefixes joined by NUL (which
//! JSON text never contains), and each recipient adds its own `listener`.
//! Presence is the exception: its shape carries the user's roles in the
//! recipient's guild, so it is rendered per session.

use bytes::Bytes;
use serde_json::{json, Map, Value};
use switchboard_protocols::event::{Envelope, Event, ThreadChange};
use switchboard_protocols::model::{Channel, Status, VoiceState};
use switchboard_protocols::originchats::{frame, objects};
use switchboard_protocols::Dialect;
use switchboard_protocols::Id;

use super::OcSession;
use crate::world::World;

fn channel_name(world: &World, id: Id) -> String {
    world
        .store
        .channel(id)
        .ok()
        .flatten()
        .map(|c| c.name)
        .unwrap_or_default()
}

/// Where a channel's events belong: its name, or for a thread its forum's
/// name and the thread's id.
fn place(world: &World, id: Id) -> (String, Option<Id>) {
    let Some(c) = world.store.channel(id).ok().flatten() else {
        return (String::new(), None);
    };
    match c.parent_id() {
        Some(parent) => (channel_name(world, parent), Some(id)),
        None => (c.name, None),
    }
}

/// `channel`, then `thread_id` when in a thread.
fn place_fields(world: &World, id: Id) -> Vec<(&'static str, Value)> {
    let (name, thread) = place(world, id);
    let mut fields = vec![("channel", json!(name))];
    if let Some(t) = thread {
        fields.push(("thread_id", json!(t)));
    }
    fields
}

/// A thread event's `thread` object.
fn thread_object(world: &World, thread: &Channel) -> Value {
    let parent = thread.parent_id().map(|p| channel_name(world, p));
    super::views::thread_json(world, thread, &parent.unwrap_or_default())
}

pub(super) fn username(world: &World, id: Id) -> String {
    world
        .user(id)
        .map(|u| u.username.clone())
        .unwrap_or_else(|_| id.to_string())
}

fn voice_user(world: &World, s: &VoiceState) -> Value {
    json!({
        "id": s.user_id,
        "username": username(world, s.user_id),
        "muted": s.self_mute,
        "peer_id": s.peer_id,
    })
}

/// The guild an event belongs to, if any.
fn guild_of(event: &Event) -> Option<Option<Id>> {
    Some(match event {
        Event::MessageCreate(m) | Event::MessageUpdate(m) | Event::MessagePin(m) => {
            m.message.guild_id
        }
        Event::MessageDelete { guild_id, .. } => *guild_id,
        Event::Reaction(r) => r.guild_id,
        Event::Typing { guild_id, .. } => *guild_id,
        Event::VoiceState { state, .. } => Some(state.guild_id),
        Event::MemberJoin { guild_id, .. } => Some(*guild_id),
        Event::MemberRoles { guild_id, .. } | Event::MemberNick { guild_id, .. } => Some(*guild_id),
        Event::GuildUpdate(g) | Event::GuildRoles(g) => Some(g.guild.id),
        Event::Thread { thread, .. } => thread.guild_id,
        Event::ThreadDelete { guild_id, .. } => Some(*guild_id),
        _ => return None,
    })
}

/// The shared rendering of an event, or nothing.
pub(super) fn render(world: &World, event: &Event) -> Vec<Map<String, Value>> {
    let names = |id: Id| username(world, id);
    let g = json!(true);
    match event {
        Event::MessageCreate(fm) => {
            let reply_user = fm.message.reply_to.and_then(|r| {
                world
                    .store
                    .message(fm.message.channel_id, r)
                    .ok()
                    .flatten()
                    .map(|m| username(world, m.author_id))
            });
            let (channel, thread) = place(world, fm.message.channel_id);
            vec![frame::reply(
                "message_new",
                [
                    ("message", objects::message(fm, &names, reply_user)),
                    ("channel", json!(channel)),
                    ("thread_id", json!(thread)),
                    ("global", g),
                ],
            )]
        }
        Event::MessageUpdate(fm) => {
            let message = objects::message(fm, &names, None);
            let mut fields = vec![
                ("id", json!(fm.message.id)),
                ("content", message["content"].clone()),
                ("message", message),
            ];
            fields.extend(place_fields(world, fm.message.channel_id));
            fields.push(("global", g));
            vec![frame::reply("message_edit", fields)]
        }
        // The reference answers an unpin with `pinned: true` on success.
        Event::MessagePin(fm) => {
            let cmd = if fm.message.pinned {
                "message_pin"
            } else {
                "message_unpin"
            };
            let mut fields = vec![("id", json!(fm.message.id))];
            fields.extend(place_fields(world, fm.message.channel_id));
            fields.extend([("pinned", json!(true)), ("global", g)]);
            vec![frame::reply(cmd, fields)]
        }
        Event::MessageDelete { id, channel_id, .. } => {
            let mut fields = vec![("id", json!(id))];
            fields.extend(place_fields(world, *channel_id));
            fields.push(("global", g));
            vec![frame::reply("message_delete", fields)]
        }
        Event::Reaction(r) => vec![frame::reply(
            if r.added {
                "message_react_add"
            } else {
                "message_react_remove"
            },
            [("id", json!(r.message_id)), ("emoji", json!(r.emoji))]
                .into_iter()
                .chain(place_fields(world, r.channel_id))
                .chain([("from", json!(username(world, r.user_id))), ("global", g)]),
        )],
        Event::Typing {
            channel_id,
            user_id,
            ..
        } => {
            let (channel, thread) = place(world, *channel_id);
            vec![frame::reply(
                "typing",
                [
                    ("channel", json!(channel)),
                    ("user", json!(username(world, *user_id))),
                    ("thread_id", json!(thread)),
                    ("global", g),
                ],
            )]
        }
        Event::VoiceState { state, previous } => {
            let mut out = Vec::new();
            if *previous == state.channel_id {
                if let Some(c) = state.channel_id {
                    out.push(frame::reply(
                        "voice_user_updated",
                        [
                            ("channel", json!(channel_name(world, c))),
                            ("user", voice_user(world, state)),
                        ],
                    ));
                }
                return out;
            }
            if let Some(p) = previous {
                out.push(frame::reply(
                    "voice_user_left",
                    [
                        ("channel", json!(channel_name(world, *p))),
                        ("username", json!(username(world, state.user_id))),
                    ],
                ));
            }
            if let Some(c) = state.channel_id {
                out.push(frame::reply(
                    "voice_user_joined",
                    [
                        ("channel", json!(channel_name(world, c))),
                        ("user", voice_user(world, state)),
                    ],
                ));
            }
            out
        }
        Event::GuildUpdate(g) => vec![frame::reply(
            "server_update",
            [
                ("name", json!(g.guild.name)),
                ("icon", json!(g.guild.icon)),
                ("banner", json!(g.guild.banner)),
            ],
        )],
        Event::GuildRoles(g) => vec![frame::reply(
            "roles_list",
            [(
                "roles",
                Value::Object(super::roles::roles_map(&g.roles, g.guild.id)),
            )],
        )],
        Event::MemberNick { user_id, nick, .. } => vec![frame::reply(
            "user_updated",
            [
                ("user_id", json!(user_id)),
                ("username", json!(username(world, *user_id))),
                ("nickname", json!(nick)),
            ],
        )],
        Event::MemberRoles {
            guild_id, user_id, ..
        } => match world.guild_shared(*guild_id) {
            Ok(shared) => vec![super::roles::member_roles_frame(
                &shared,
                &username(world, *user_id),
                *user_id,
            )],
            Err(_) => Vec::new(),
        },
        Event::MemberJoin { user, .. } => vec![frame::reply(
            "user_join",
            [(
                "user",
                objects::user_brief(&user.username, &["user".to_string()], None),
            )],
        )],
        Event::Thread { thread, change } => {
            let object = thread_object(world, thread);
            let user = |u: &Id| json!(username(world, *u));
            vec![match change {
                ThreadChange::Created => frame::reply(
                    "thread_create",
                    [
                        ("thread", object),
                        ("channel", object_parent(thread, world)),
                        ("global", g),
                    ],
                ),
                ThreadChange::Updated => {
                    frame::reply("thread_update", [("thread", object), ("global", g)])
                }
                ThreadChange::Joined(u) | ThreadChange::Left(u) => frame::reply(
                    if matches!(change, ThreadChange::Joined(_)) {
                        "thread_join"
                    } else {
                        "thread_leave"
                    },
                    [
                        ("thread", object),
                        ("thread_id", json!(thread.id)),
                        ("user", user(u)),
                        ("global", g),
                    ],
                ),
            }]
        }
        Event::ThreadDelete { id, parent_id, .. } => vec![frame::reply(
            "thread_delete",
            [
                ("thread_id", json!(id)),
                ("channel", json!(channel_name(world, *parent_id))),
                ("global", g),
            ],
        )],
        _ => Vec::new(),
    }
}

impl OcSession {
    /// A profile change as OriginChats sees it: the nickname it shows is
    /// the member's guild nickname or else the display name, so a new
    /// display name is a `nickname_update` where no guild nickname hides
    /// it. Avatars and keys have no event in the reference (`pfp_get`
    /// and `users_list` show the new avatar).
    fn nickname_update(
        &self,
        user: &switchboard_protocols::model::User,
        before: &switchboard_protocols::model::User,
    ) -> Option<Bytes> {
        if user.display_name == before.display_name || !self.shared.is_member(user.id) {
            return None;
        }
        let member = self.world.store.member(self.guild_id, user.id).ok()?;
        if member.is_some_and(|m| m.nick.is_some()) {
            return None;
        }
        let reply = frame::reply(
            "nickname_update",
            [
                ("user", json!(user.id)),
                ("username", json!(user.username)),
                ("nickname", json!(user.display_name)),
            ],
        );
        Some(frame::prefix(&reply))
    }
}

fn object_parent(thread: &Channel, world: &World) -> Value {
    json!(thread
        .parent_id()
        .map(|p| channel_name(world, p))
        .unwrap_or_default())
}

fn join(frames: &[Map<String, Value>]) -> Option<Bytes> {
    if frames.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(&frame::prefix(f));
    }
    Some(Bytes::from(out))
}

impl OcSession {
    /// The prefixes this session sends for an event.
    pub(super) fn encode_event(&self, env: &Envelope) -> Vec<Bytes> {
        if let Event::MemberTimeout {
            guild_id,
            user_id,
            until,
        } = &env.event
        {
            let mine = self.user.as_ref().is_some_and(|u| u.id == *user_id);
            if *guild_id != self.guild_id || !mine {
                return Vec::new();
            }
            let left = until.map_or(0, |t| (t - switchboard_protocols::time::now_ms()).max(0));
            let reply = frame::reply(
                "rate_limit",
                [
                    ("reason", json!("User timeout set")),
                    ("length", json!(left)),
                ],
            );
            return vec![frame::prefix(&reply)];
        }
        if let Event::ReadState {
            channel_id,
            last_read,
            ..
        } = &env.event
        {
            let Some(channel) = self.world.store.channel(*channel_id).ok().flatten() else {
                return Vec::new();
            };
            if channel.guild_id != Some(self.guild_id) {
                return Vec::new();
            }
            // A thread is named by its id, in place of a channel name.
            let place = match channel.thread {
                Some(_) => ("thread_id", json!(channel.id)),
                None => ("channel", json!(channel.name)),
            };
            let reply = frame::reply("unreads_update", [place, ("last_read", json!(last_read))]);
            return vec![frame::prefix(&reply)];
        }
        if let Event::FileDelete {
            file_id,
            uploader_id,
        } = &env.event
        {
            // The deleting session has its reply, of the same shape.
            let mine = self.user.as_ref().is_some_and(|u| u.id == *uploader_id);
            if !mine || env.is_from(self.id) {
                return Vec::new();
            }
            let reply = frame::reply(
                "attachment_deleted",
                [("attachment_id", json!(file_id)), ("deleted", json!(true))],
            );
            return vec![frame::prefix(&reply)];
        }
        if let Event::UserUpdate { user, before } = &env.event {
            return self.nickname_update(user, before).into_iter().collect();
        }
        if let Event::Presence(p) = &env.event {
            if !self.shared.is_member(p.user_id) {
                return Vec::new();
            }
            let name = username(&self.world, p.user_id);
            let reply = match p.status {
                Status::Online => frame::reply(
                    "user_connect",
                    [("user", self.user_brief(p.user_id, &name))],
                ),
                Status::Offline => frame::reply("user_disconnect", [("username", json!(name))]),
                Status::Idle | Status::Dnd => frame::reply(
                    "status_get",
                    [
                        ("username", json!(name)),
                        (
                            "status",
                            json!({"status": p.status.as_str(), "text": p.text}),
                        ),
                        ("global", json!(true)),
                    ],
                ),
            };
            return vec![frame::prefix(&reply)];
        }
        match guild_of(&env.event) {
            Some(Some(g)) if g == self.guild_id => {}
            _ => return Vec::new(),
        }
        let world = &self.world;
        env.encoded(Dialect::OriginChats, |e| join(&render(world, e)))
            .map(|b| b.split(|x| *x == 0).map(|p| b.slice_ref(p)).collect())
            .unwrap_or_default()
    }
}
