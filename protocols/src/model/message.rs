use serde::{Deserialize, Serialize};

use crate::Id;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: Id,
    pub filename: String,
    pub size: u64,
    pub content_type: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    /// Users in the order they reacted; the count is its length.
    pub users: Vec<Id>,
}

/// A message as stored. The author is kept by id; dialects resolve the
/// profile when they encode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Id,
    pub channel_id: Id,
    pub guild_id: Option<Id>,
    pub author_id: Id,
    /// Plain text, or base64(ciphertext ‖ tag) when `encrypted`.
    pub content: String,
    #[serde(default)]
    pub encrypted: bool,
    /// base64 of the 24-byte XChaCha20 nonce, for encrypted messages.
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub reply_to: Option<Id>,
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    #[serde(default)]
    pub pinned: bool,
    pub created_at: i64,
    #[serde(default)]
    pub edited_at: Option<i64>,
    /// The client's own id for this send (a dialect's correlation id);
    /// a repeated send with the same ref returns the stored message.
    #[serde(default)]
    pub client_ref: Option<String>,
    /// `content` is base64 of opaque bytes from a dialect with binary
    /// payloads, given back as bytes there.
    #[serde(default)]
    pub binary: bool,
}

impl Message {
    pub fn reaction_count(&self, emoji: &str) -> usize {
        self.reactions
            .iter()
            .find(|r| r.emoji == emoji)
            .map_or(0, |r| r.users.len())
    }

    /// Adds `user`'s reaction; false when it was already there.
    pub fn add_reaction(&mut self, emoji: &str, user: Id) -> bool {
        match self.reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) if r.users.contains(&user) => false,
            Some(r) => {
                r.users.push(user);
                true
            }
            None => {
                self.reactions.push(Reaction {
                    emoji: emoji.to_string(),
                    users: vec![user],
                });
                true
            }
        }
    }

    /// Removes `user`'s reaction; false when there was none.
    pub fn remove_reaction(&mut self, emoji: &str, user: Id) -> bool {
        let Some(pos) = self.reactions.iter().position(|r| r.emoji == emoji) else {
            return false;
        };
        let r = &mut self.reactions[pos];
        let before = r.users.len();
        r.users.retain(|u| *u != user);
        let removed = r.users.len() != before;
        if r.users.is_empty() {
            self.reactions.remove(pos);
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Message {
        Message {
            id: Id(1),
            channel_id: Id(2),
            guild_id: None,
            author_id: Id(3),
            content: "hi".into(),
            encrypted: false,
            nonce: None,
            attachments: vec![],
            reply_to: None,
            reactions: vec![],
            pinned: false,
            created_at: 0,
            edited_at: None,
            binary: false,
            client_ref: None,
        }
    }

    #[test]
    fn reactions_count_each_user_once_and_vanish_at_zero() {
        let mut m = msg();
        assert!(m.add_reaction("👍", Id(7)));
        assert!(!m.add_reaction("👍", Id(7)));
        assert!(m.add_reaction("👍", Id(8)));
        assert_eq!(m.reaction_count("👍"), 2);
        assert!(m.remove_reaction("👍", Id(7)));
        assert!(!m.remove_reaction("👍", Id(7)));
        assert!(m.remove_reaction("👍", Id(8)));
        assert!(m.reactions.is_empty());
    }
}
