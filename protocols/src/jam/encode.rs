//! Common events as JAM frames (without `s`; see [`super::frame`]).

use bytes::Bytes;
use serde_json::{json, Value};

use super::frame::prefix;
use super::objects;
use super::op;
use crate::event::{CallKind, Event};
use crate::time::rfc3339;

/// The op and `d` of an event, or `None` when JAM has no shape for it.
pub fn op_and_d(event: &Event) -> Option<(i64, Value)> {
    Some(match event {
        Event::MessageCreate(m) => (op::MESSAGE_CREATE, objects::message(m)),
        Event::MessageUpdate(m) | Event::MessagePin(m) => (op::MESSAGE_UPDATE, objects::message(m)),
        Event::MessageDelete {
            id,
            channel_id,
            guild_id,
        } => (
            op::MESSAGE_DELETE,
            json!({"id": id, "channel_id": channel_id, "guild_id": guild_id}),
        ),
        Event::Reaction(r) => (
            op::MESSAGE_REACTION,
            json!({
                "message_id": r.message_id,
                "channel_id": r.channel_id,
                "guild_id": r.guild_id,
                "user_id": r.user_id,
                "emoji": r.emoji,
                "action": if r.added { "add" } else { "remove" },
                "count": r.count,
            }),
        ),
        Event::ChannelCreate(c) => (op::CHANNEL_CREATE, objects::channel(c)),
        Event::ChannelUpdate(c) => (op::CHANNEL_UPDATE, objects::channel(c)),
        Event::ChannelDelete { id, guild_id } => {
            (op::CHANNEL_DELETE, objects::channel_deleted(*id, *guild_id))
        }
        Event::GuildCreate(g) => (op::GUILD_CREATE, objects::guild_full(g)),
        Event::GuildUpdate(g) | Event::GuildRoles(g) | Event::GuildCategories(g) => {
            (op::GUILD_UPDATE, objects::guild_full(g))
        }
        // JAM has no GuildDelete op; a GuildUpdate marked `deleted` tells
        // clients to drop the guild.
        Event::GuildDelete { id } => (op::GUILD_UPDATE, json!({"id": id, "deleted": true})),
        Event::VoiceState { state, .. } => (op::VOICE_STATE_UPDATE, objects::voice_state(state)),
        Event::StreamStart(s) => (op::STREAM_START, objects::stream(s)),
        Event::StreamEnd(s) => (op::STREAM_END, objects::stream_end(s)),
        Event::Typing {
            channel_id,
            user_id,
            timestamp,
            ..
        } => (
            op::TYPING_START,
            json!({"channel_id": channel_id, "user_id": user_id, "timestamp": rfc3339(*timestamp)}),
        ),
        Event::Presence(p) => (op::USER_PRESENCE, objects::presence(p)),
        Event::Call(c) => {
            let op = match c.kind {
                CallKind::Offer => op::CALL_OFFER,
                CallKind::Answer => op::CALL_ANSWER,
                CallKind::Ice => op::CALL_ICE,
                CallKind::End => op::CALL_END,
            };
            let mut d = c.data.clone();
            d.insert("call_id".into(), json!(c.call_id));
            d.insert("from".into(), json!(c.from));
            d.insert("to".into(), json!(c.to));
            (op, Value::Object(d))
        }
        Event::MemberJoin { .. }
        | Event::MemberLeave { .. }
        | Event::MemberRoles { .. }
        | Event::MemberTimeout { .. }
        | Event::MemberNick { .. }
        | Event::ReadState { .. }
        // The profile has no file events: files are reached by URL only.
        | Event::FileDelete { .. }
        // Nor a user-update op: JAM clients see a new display name or
        // avatar in the User objects of later frames (message authors,
        // op 3, REST).
        | Event::UserUpdate { .. }
        // Threads are an OriginChats view (the JAM profile has no thread
        // channel type).
        | Event::Thread { .. }
        | Event::ThreadDelete { .. }
        // chat-network's own frames.
        | Event::DialectOnly(_) => return None,
    })
}

/// The shared encoding of an event, for every recipient but the sender.
pub fn encode_event(event: &Event) -> Option<Bytes> {
    op_and_d(event).map(|(op, d)| prefix(op, &d))
}

/// The sender's own copy, carrying its `ref`.
pub fn encode_event_with_ref(event: &Event, reference: &str) -> Option<Bytes> {
    let (op, mut d) = op_and_d(event)?;
    if let Value::Object(m) = &mut d {
        m.insert("ref".into(), json!(reference));
    }
    Some(prefix(op, &d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CallSignal, ReactionEvent};
    use crate::jam::frame::finish_frame;
    use crate::Id;

    fn frame(e: &Event) -> Value {
        serde_json::from_str(&finish_frame(&encode_event(e).unwrap(), 3)).unwrap()
    }

    #[test]
    fn reaction_frame() {
        let e = Event::Reaction(ReactionEvent {
            message_id: Id(9),
            channel_id: Id(2),
            guild_id: Some(Id(1)),
            user_id: Id(5),
            emoji: "🔥".into(),
            added: true,
            count: 2,
        });
        assert_eq!(
            frame(&e),
            json!({"op":13,"d":{"message_id":"9","channel_id":"2","guild_id":"1","user_id":"5","emoji":"🔥","action":"add","count":2},"s":3})
        );
    }

    #[test]
    fn delete_and_typing_frames() {
        let e = Event::MessageDelete {
            id: Id(9),
            channel_id: Id(2),
            guild_id: None,
        };
        assert_eq!(
            frame(&e),
            json!({"op":12,"d":{"id":"9","channel_id":"2","guild_id":null},"s":3})
        );
        let e = Event::Typing {
            channel_id: Id(2),
            guild_id: Some(Id(1)),
            user_id: Id(5),
            timestamp: 0,
        };
        assert_eq!(
            frame(&e),
            json!({"op":60,"d":{"channel_id":"2","user_id":"5","timestamp":"1970-01-01T00:00:00.000Z"},"s":3})
        );
    }

    #[test]
    fn call_frames_keep_signalling_fields_and_add_from() {
        let mut data = serde_json::Map::new();
        data.insert("sdp".into(), json!("v=0"));
        let e = Event::Call(CallSignal {
            kind: CallKind::Offer,
            call_id: "c1".into(),
            from: Id(5),
            to: Id(6),
            data,
        });
        assert_eq!(
            frame(&e),
            json!({"op":90,"d":{"call_id":"c1","from":"5","to":"6","sdp":"v=0"},"s":3})
        );
    }

    #[test]
    fn no_frame_for_user_updates_or_file_deletes() {
        let user = crate::model::User {
            id: Id(5),
            username: "alice".into(),
            display_name: "Alice B".into(),
            avatar: Some("https://img.example/a.png".into()),
            domain: None,
            public_key: None,
            bot: false,
            created_at: 0,
        };
        let before = crate::model::User {
            display_name: "Alice".into(),
            ..user.clone()
        };
        assert!(encode_event(&Event::UserUpdate { user, before }).is_none());
        let e = Event::FileDelete {
            file_id: Id(7),
            uploader_id: Id(5),
        };
        assert!(encode_event(&e).is_none());
    }

    #[test]
    fn sender_copy_carries_ref_and_others_do_not() {
        let e = Event::ChannelDelete {
            id: Id(2),
            guild_id: Some(Id(1)),
        };
        let mine: Value =
            serde_json::from_str(&finish_frame(&encode_event_with_ref(&e, "r9").unwrap(), 1))
                .unwrap();
        assert_eq!(mine["d"]["ref"], "r9");
        assert!(frame(&e)["d"].get("ref").is_none());
    }
}
