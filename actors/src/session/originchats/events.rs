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
use switchboard_protocols::event::{Envelope, Event};
use switchboard_protocols::model::{Dialect, Status, VoiceState};
use switchboard_protocols::originchats::{frame, objects};
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
            vec![frame::reply(
                "message_new",
                [
                    ("message", objects::message(fm, &names, reply_user)),
                    ("channel", json!(channel_name(world, fm.message.channel_id))),
                    ("thread_id", Value::Null),
                    ("global", g),
                ],
            )]
        }
        Event::MessageUpdate(fm) => vec![frame::reply(
            "message_edit",
            [
                ("id", json!(fm.message.id)),
                (
                    "content",
                    objects::message(fm, &names, None)["content"].clone(),
                ),
                ("message", objects::message(fm, &names, None)),
                ("channel", json!(channel_name(world, fm.message.channel_id))),
                ("global", g),
            ],
        )],
        // The reference answers an unpin with `pinned: true` on success.
        Event::MessagePin(fm) => vec![frame::reply(
            if fm.message.pinned {
                "message_pin"
            } else {
                "message_unpin"
            },
            [
                ("id", json!(fm.message.id)),
                ("channel", json!(channel_name(world, fm.message.channel_id))),
                ("pinned", json!(true)),
                ("global", g),
            ],
        )],
        Event::MessageDelete { id, channel_id, .. } => vec![frame::reply(
            "message_delete",
            [
                ("id", json!(id)),
                ("channel", json!(channel_name(world, *channel_id))),
                ("global", g),
            ],
        )],
        Event::Reaction(r) => vec![frame::reply(
            if r.added {
                "message_react_add"
            } else {
                "message_react_remove"
            },
            [
                ("id", json!(r.message_id)),
                ("emoji", json!(r.emoji)),
                ("channel", json!(channel_name(world, r.channel_id))),
                ("from", json!(username(world, r.user_id))),
                ("global", g),
            ],
        )],
        Event::Typing {
            channel_id,
            user_id,
            ..
        } => vec![frame::reply(
            "typing",
            [
                ("channel", json!(channel_name(world, *channel_id))),
                ("user", json!(username(world, *user_id))),
                ("thread_id", Value::Null),
                ("global", g),
            ],
        )],
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
        _ => Vec::new(),
    }
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
            let reply = frame::reply(
                "unreads_update",
                [
                    ("channel", json!(channel.name)),
                    ("last_read", json!(last_read)),
                ],
            );
            return vec![frame::prefix(&reply)];
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
