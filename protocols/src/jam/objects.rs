//! The JSON shape of every JAM object (profile §1 "Objects"). Ids are
//! decimal strings, times RFC 3339 UTC, permissions a decimal string.
//! Optional fields marked `?` in the profile are omitted when absent.

use serde_json::{json, Map, Value};

use crate::event::FullMessage;
use crate::model::{
    Attachment, Category, Channel, Guild, GuildFull, KeyEnvelope, Presence, Role, Stream, User,
    VoiceState,
};
use crate::time::rfc3339;
use crate::Id;

fn put_opt(map: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        map.insert(key.to_string(), v);
    }
}

pub fn user(u: &User) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("username".into(), json!(u.username));
    m.insert("display_name".into(), json!(u.display_name));
    put_opt(&mut m, "avatar", u.avatar.as_ref().map(|v| json!(v)));
    put_opt(&mut m, "domain", u.domain.as_ref().map(|v| json!(v)));
    put_opt(
        &mut m,
        "public_key",
        u.public_key.as_ref().map(|v| json!(v)),
    );
    m.insert("bot".into(), json!(u.bot));
    Value::Object(m)
}

pub fn guild(g: &Guild) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(g.id));
    m.insert("name".into(), json!(g.name));
    m.insert("description".into(), json!(g.description));
    m.insert("owner_id".into(), json!(g.owner_id));
    put_opt(&mut m, "icon", g.icon.as_ref().map(|v| json!(v)));
    put_opt(&mut m, "banner", g.banner.as_ref().map(|v| json!(v)));
    m.insert("created_at".into(), json!(rfc3339(g.created_at)));
    Value::Object(m)
}

/// A guild with its channels, roles and categories.
pub fn guild_full(g: &GuildFull) -> Value {
    let mut v = guild(&g.guild);
    if let Value::Object(m) = &mut v {
        m.insert("channels".into(), g.channels.iter().map(channel).collect());
        m.insert("roles".into(), g.roles.iter().map(role).collect());
        m.insert(
            "categories".into(),
            g.categories.iter().map(category).collect(),
        );
    }
    v
}

pub fn category(c: &Category) -> Value {
    json!({"id": c.id, "guild_id": c.guild_id, "name": c.name, "position": c.position})
}

pub fn channel(c: &Channel) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("guild_id".into(), json!(c.guild_id));
    m.insert("category_id".into(), json!(c.category_id));
    m.insert("name".into(), json!(c.name));
    m.insert("type".into(), json!(c.kind.as_str()));
    m.insert("topic".into(), json!(c.topic));
    m.insert("position".into(), json!(c.position));
    m.insert("encrypted".into(), json!(c.encrypted));
    if c.kind.is_private() {
        m.insert("recipients".into(), json!(c.recipients));
    }
    if !c.overwrites.is_empty() {
        m.insert("overwrites".into(), overwrites(c));
    }
    Value::Object(m)
}

fn overwrites(c: &Channel) -> Value {
    c.overwrites
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "type": o.target,
                "allow": o.allow.to_string(),
                "deny": o.deny.to_string(),
            })
        })
        .collect()
}

pub fn role(r: &Role) -> Value {
    json!({
        "id": r.id,
        "guild_id": r.guild_id,
        "name": r.name,
        "color": r.color,
        "permissions": r.permissions.to_string(),
        "position": r.position,
        "hoisted": r.hoisted,
    })
}

pub fn file(a: &Attachment) -> Value {
    json!({
        "id": a.id,
        "filename": a.filename,
        "size": a.size,
        "content_type": a.content_type,
        "sha256": a.sha256,
        "url": format!("/api/files/{}", a.id),
    })
}

pub fn message(fm: &FullMessage) -> Value {
    let msg = &fm.message;
    let mut m = Map::new();
    m.insert("id".into(), json!(msg.id));
    m.insert("channel_id".into(), json!(msg.channel_id));
    m.insert("guild_id".into(), json!(msg.guild_id));
    m.insert("author".into(), user(&fm.author));
    m.insert("content".into(), json!(msg.content));
    m.insert("encrypted".into(), json!(msg.encrypted));
    put_opt(&mut m, "nonce", msg.nonce.as_ref().map(|v| json!(v)));
    m.insert(
        "attachments".into(),
        msg.attachments.iter().map(file).collect(),
    );
    put_opt(&mut m, "reply_to", msg.reply_to.map(|v| json!(v)));
    m.insert(
        "reactions".into(),
        msg.reactions
            .iter()
            .map(|r| json!({"emoji": r.emoji, "count": r.users.len(), "users": r.users}))
            .collect(),
    );
    m.insert("pinned".into(), json!(msg.pinned));
    m.insert("created_at".into(), json!(rfc3339(msg.created_at)));
    m.insert("edited_at".into(), json!(msg.edited_at.map(rfc3339)));
    Value::Object(m)
}

pub fn presence(p: &Presence) -> Value {
    json!({"user_id": p.user_id, "status": p.status.as_str()})
}

pub fn voice_state(v: &VoiceState) -> Value {
    json!({
        "user_id": v.user_id,
        "guild_id": v.guild_id,
        "channel_id": v.channel_id,
        "self_mute": v.self_mute,
        "self_deaf": v.self_deaf,
    })
}

pub fn stream(s: &Stream) -> Value {
    json!({"stream_id": s.stream_id, "user_id": s.user_id, "channel_id": s.channel_id, "kind": s.kind})
}

pub fn stream_end(s: &Stream) -> Value {
    json!({"stream_id": s.stream_id, "user_id": s.user_id, "channel_id": s.channel_id})
}

/// A channel-key envelope: `{user_id, ephemeral_public_key, nonce,
/// wrapped_key}` plus who published it, for which channel, and when.
pub fn key_envelope(e: &KeyEnvelope) -> Value {
    json!({
        "channel_id": e.channel_id,
        "user_id": e.user_id,
        "sender_id": e.sender_id,
        "ephemeral_public_key": e.ephemeral_public_key,
        "nonce": e.nonce,
        "wrapped_key": e.wrapped_key,
        "created_at": rfc3339(e.created_at),
    })
}

/// `{id, guild_id}` of a deleted channel.
pub fn channel_deleted(id: Id, guild_id: Option<Id>) -> Value {
    json!({"id": id, "guild_id": guild_id})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChannelKind, Message, Reaction};

    pub fn alice() -> User {
        User {
            id: Id(5),
            username: "alice".into(),
            display_name: "Alice".into(),
            avatar: None,
            domain: None,
            public_key: None,
            bot: false,
            created_at: 0,
        }
    }

    #[test]
    fn user_omits_absent_optionals() {
        assert_eq!(
            user(&alice()),
            json!({"id":"5","username":"alice","display_name":"Alice","bot":false})
        );
    }

    #[test]
    fn message_has_the_profile_fields() {
        let fm = FullMessage {
            message: Message {
                id: Id(9),
                channel_id: Id(2),
                guild_id: Some(Id(1)),
                author_id: Id(5),
                content: "hi".into(),
                encrypted: false,
                nonce: None,
                attachments: vec![],
                reply_to: Some(Id(8)),
                reactions: vec![Reaction {
                    emoji: "👍".into(),
                    users: vec![Id(5)],
                }],
                pinned: false,
                created_at: 0,
                edited_at: None,
                binary: false,
                client_ref: Some("never sent".into()),
            },
            author: alice(),
        };
        assert_eq!(
            message(&fm),
            json!({
                "id":"9","channel_id":"2","guild_id":"1",
                "author":{"id":"5","username":"alice","display_name":"Alice","bot":false},
                "content":"hi","encrypted":false,"attachments":[],"reply_to":"8",
                "reactions":[{"emoji":"👍","count":1,"users":["5"]}],
                "pinned":false,"created_at":"1970-01-01T00:00:00.000Z","edited_at":null
            })
        );
    }

    #[test]
    fn channel_and_role_shapes() {
        let c = Channel {
            id: Id(3),
            guild_id: None,
            category_id: None,
            name: "dm".into(),
            kind: ChannelKind::Dm,
            topic: String::new(),
            position: 0,
            encrypted: false,
            recipients: vec![Id(5), Id(6)],
            overwrites: vec![],
            created_at: 0,
            thread: None,
        };
        assert_eq!(
            channel(&c),
            json!({"id":"3","guild_id":null,"category_id":null,"name":"dm","type":"dm","topic":"","position":0,"encrypted":false,"recipients":["5","6"]})
        );
        let r = Role {
            id: Id(1),
            guild_id: Id(1),
            name: "@everyone".into(),
            color: 0,
            permissions: 1 << 10,
            position: 0,
            hoisted: false,
            self_assignable: false,
            description: String::new(),
            category: None,
        };
        assert_eq!(role(&r)["permissions"], "1024");
    }
}
