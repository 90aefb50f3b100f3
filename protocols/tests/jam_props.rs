//! Property tests of the JAM codec: decoding never panics, and what the
//! server encodes is the JSON the profile describes, for any content.

use proptest::prelude::*;
use serde_json::{json, Value};
use switchboard_protocols::command::Command;
use switchboard_protocols::event::{Event, FullMessage};
use switchboard_protocols::jam::encode::{encode_event, encode_event_with_ref};
use switchboard_protocols::jam::{decode_frame, finish_frame, parse_request, Request};
use switchboard_protocols::model::{Message, User};
use switchboard_protocols::Id;

fn message(
    id: u64,
    channel: u64,
    content: String,
    reactions: Vec<(String, Vec<u64>)>,
) -> FullMessage {
    FullMessage {
        message: Message {
            id: Id(id),
            channel_id: Id(channel),
            guild_id: None,
            author_id: Id(1),
            content,
            encrypted: false,
            nonce: None,
            attachments: vec![],
            reply_to: None,
            reactions: reactions
                .into_iter()
                .map(|(emoji, users)| switchboard_protocols::model::Reaction {
                    emoji,
                    users: users.into_iter().map(Id).collect(),
                })
                .collect(),
            pinned: false,
            created_at: 1_700_000_000_000,
            edited_at: None,
            binary: false,
            client_ref: None,
        },
        author: User {
            id: Id(1),
            username: "u".into(),
            display_name: "U".into(),
            avatar: None,
            domain: None,
            public_key: None,
            bot: false,
            created_at: 0,
        },
    }
}

proptest! {
    #[test]
    fn decoding_arbitrary_text_never_panics(text in ".{0,256}") {
        let _ = decode_frame(&text);
    }

    #[test]
    fn decoding_arbitrary_json_never_panics(op in any::<i64>(), d in "[a-z0-9\"{}:,\\[\\] ]{0,64}") {
        let text = format!("{{\"op\":{op},\"d\":{d}}}");
        if let Ok(frame) = decode_frame(&text) {
            let _ = parse_request(&frame, Id(1));
        }
    }

    #[test]
    fn message_create_round_trips(channel in 1u64.., content in "\\PC{0,200}", reference in "[a-zA-Z0-9-]{1,64}") {
        let text = json!({"op": 10, "d": {"channel_id": channel.to_string(), "content": content}, "ref": reference}).to_string();
        let frame = decode_frame(&text).unwrap();
        let Request::Command(Command::SendMessage(m)) = parse_request(&frame, Id(9)).unwrap() else {
            panic!("not a send")
        };
        prop_assert_eq!(m.channel_id, Id(channel));
        prop_assert_eq!(m.content, content);
        prop_assert_eq!(m.client_ref, Some(reference));
    }

    #[test]
    fn encoded_messages_are_profile_json(
        id in 1u64..,
        channel in 1u64..,
        content in "\\PC{0,200}",
        reactions in proptest::collection::vec(("\\PC{1,4}", proptest::collection::vec(1u64..1000, 1..4)), 0..3),
        s in 1u64..,
        reference in proptest::option::of("[a-z0-9]{1,64}"),
    ) {
        let fm = message(id, channel, content.clone(), reactions.clone());
        let event = Event::MessageCreate(fm);
        let prefix = match &reference {
            Some(r) => encode_event_with_ref(&event, r).unwrap(),
            None => encode_event(&event).unwrap(),
        };
        let v: Value = serde_json::from_str(&finish_frame(&prefix, s)).unwrap();
        prop_assert_eq!(&v["op"], &json!(10));
        prop_assert_eq!(&v["s"], &json!(s));
        let d = &v["d"];
        prop_assert_eq!(&d["id"], &json!(id.to_string()));
        prop_assert_eq!(&d["channel_id"], &json!(channel.to_string()));
        prop_assert_eq!(&d["content"], &json!(content));
        prop_assert_eq!(&d["edited_at"], &Value::Null);
        prop_assert_eq!(d.get("ref").and_then(Value::as_str), reference.as_deref());
        let counts: Vec<u64> = d["reactions"].as_array().unwrap().iter().map(|r| r["count"].as_u64().unwrap()).collect();
        let expected: Vec<u64> = reactions.iter().map(|(_, u)| u.len() as u64).collect();
        prop_assert_eq!(counts, expected);
    }
}
