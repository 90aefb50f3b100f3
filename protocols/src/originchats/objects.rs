//! The reference's object shapes (§6): messages carry usernames, float
//! Unix-second timestamps and reactions as `{emoji: [usernames]}`.

use serde_json::{json, Map, Value};

use crate::event::FullMessage;
use crate::model::{Attachment, Status};
use crate::Id;

/// What an encrypted message shows in a dialect without ciphertext fields.
pub const ENCRYPTED_MARKER: &str = "[encrypted message]";

pub fn timestamp(unix_ms: i64) -> f64 {
    unix_ms as f64 / 1000.0
}

pub fn attachment(a: &Attachment) -> Value {
    json!({
        "id": a.id,
        "name": a.filename,
        "mime_type": a.content_type,
        "size": a.size,
        "url": format!("/attachments/{}", a.id),
        "permanent": true,
    })
}

/// A message as the reference sends it. `name_of` turns user ids into
/// usernames; `reply_user` is the author of the message replied to.
pub fn message(
    fm: &FullMessage,
    name_of: &dyn Fn(Id) -> String,
    reply_user: Option<String>,
) -> Value {
    let m = &fm.message;
    let mut o = Map::new();
    o.insert("user".into(), json!(fm.author.username));
    if m.encrypted {
        o.insert("content".into(), json!(ENCRYPTED_MARKER));
        o.insert("encrypted".into(), json!(true));
    } else {
        o.insert("content".into(), json!(m.content));
    }
    o.insert("timestamp".into(), json!(timestamp(m.created_at)));
    o.insert("id".into(), json!(m.id));
    if let Some(r) = m.reply_to {
        o.insert(
            "reply_to".into(),
            json!({"id": r, "user": reply_user.unwrap_or_default()}),
        );
    }
    if m.edited_at.is_some() {
        o.insert("edited".into(), json!(true));
    }
    if !m.reactions.is_empty() {
        let reactions: Map<String, Value> = m
            .reactions
            .iter()
            .map(|r| {
                let users: Vec<Value> = r.users.iter().map(|u| json!(name_of(*u))).collect();
                (r.emoji.clone(), Value::Array(users))
            })
            .collect();
        o.insert("reactions".into(), Value::Object(reactions));
    }
    o.insert("pinned".into(), json!(m.pinned));
    if !m.attachments.is_empty() {
        o.insert(
            "attachments".into(),
            m.attachments.iter().map(attachment).collect(),
        );
    }
    o.insert("type".into(), json!("message"));
    o.insert("interaction".into(), Value::Null);
    Value::Object(o)
}

/// `{"username","roles","color"}` of `user_join` / `user_connect`.
pub fn user_brief(username: &str, roles: &[String], color: Option<String>) -> Value {
    json!({"username": username, "roles": roles, "color": color})
}

/// OriginChats status words; `Offline` while connected reads `invisible`
/// to the user themselves.
pub fn status_word(status: Status) -> &'static str {
    status.as_str()
}

/// `#rrggbb`, or null for colour 0 (no colour).
pub fn color(rgb: u32) -> Option<String> {
    (rgb != 0).then(|| format!("#{:06x}", rgb & 0xFF_FFFF))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, Reaction, User};

    fn fm(content: &str) -> FullMessage {
        FullMessage {
            message: Message {
                id: Id(9),
                channel_id: Id(2),
                guild_id: Some(Id(1)),
                author_id: Id(5),
                content: content.into(),
                encrypted: false,
                nonce: None,
                attachments: vec![],
                reply_to: None,
                reactions: vec![],
                pinned: false,
                created_at: 1_773_182_676_073,
                edited_at: None,
                binary: false,
                client_ref: None,
            },
            author: User {
                id: Id(5),
                username: "alice".into(),
                display_name: "Alice".into(),
                avatar: None,
                domain: None,
                public_key: None,
                bot: false,
                created_at: 0,
            },
        }
    }

    #[test]
    fn a_plain_message_has_the_reference_fields() {
        let names = |_: Id| "x".to_string();
        assert_eq!(
            message(&fm("hi"), &names, None),
            json!({"user":"alice","content":"hi","timestamp":1773182676.073,"id":"9",
                   "pinned":false,"type":"message","interaction":null})
        );
    }

    #[test]
    fn optional_fields_appear_when_set() {
        let mut m = fm("hi");
        m.message.reply_to = Some(Id(3));
        m.message.edited_at = Some(1);
        m.message.reactions = vec![Reaction {
            emoji: "👍".into(),
            users: vec![Id(5), Id(6)],
        }];
        let names = |id: Id| {
            if id == Id(5) {
                "alice".into()
            } else {
                "bob".into()
            }
        };
        let v = message(&m, &names, Some("bob".into()));
        assert_eq!(v["reply_to"], json!({"id":"3","user":"bob"}));
        assert_eq!(v["edited"], json!(true));
        assert_eq!(v["reactions"], json!({"👍":["alice","bob"]}));
    }

    #[test]
    fn encrypted_messages_show_a_marker() {
        let mut m = fm("Y2lwaGVy");
        m.message.encrypted = true;
        let v = message(&m, &|_| String::new(), None);
        assert_eq!(
            (v["content"].clone(), v["encrypted"].clone()),
            (json!(ENCRYPTED_MARKER), json!(true))
        );
    }

    #[test]
    fn colors() {
        assert_eq!(color(0), None);
        assert_eq!(color(0x00aaff).as_deref(), Some("#00aaff"));
    }
}
