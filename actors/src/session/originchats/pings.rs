//! `pings_get` (reference §10.1): messages that mention the user by
//! `@username` or reply to them, newest first, across the channels they may
//! read. Each channel is scanned back a bounded number of messages.

use std::collections::HashMap;

use serde_json::{json, Value};
use switchboard_protocols::model::{ChannelKind, Message};
use switchboard_protocols::permissions::{READ_MESSAGE_HISTORY, VIEW_CHANNEL};
use switchboard_protocols::Id;

use super::commands::{Frames, Op};
use super::views::{guild_channels, guild_threads};

/// Messages read back per channel.
const SCAN_PER_CHANNEL: usize = 1000;

/// True when `content` holds `@name` as a whole word (ASCII letters, digits
/// and `_` end a name, as in the reference's mention pattern).
fn mentions(content: &str, name: &str) -> bool {
    let lower = content.to_lowercase();
    let needle = format!("@{}", name.to_lowercase());
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    lower.match_indices(&needle).any(|(i, m)| {
        let after = lower[i + m.len()..].chars().next();
        !after.is_some_and(word)
    })
}

pub(super) async fn run(op: Op) -> Frames {
    let limit = match op.body.get("limit") {
        None => 50,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => return op.err("Limit must be a number between 1 and 100"),
        },
    };
    let offset = match op.body.get("offset") {
        None => 0,
        Some(v) => match v.as_u64() {
            Some(n) => n as usize,
            None => return op.err("Offset must be a non-negative number"),
        },
    };
    let me = op.user.id;
    let store = &op.world.store;
    let mut found: Vec<(Message, String, Option<Id>)> = Vec::new();
    let channels = guild_channels(&op.world, op.guild);
    let names: HashMap<Id, String> = channels.iter().map(|c| (c.id, c.name.clone())).collect();
    // Text channels, then threads (reported under their forum's name).
    let threads = guild_threads(&op.world, op.guild, None);
    for channel in channels.iter().chain(&threads) {
        let need = VIEW_CHANNEL | READ_MESSAGE_HISTORY;
        let readable = (channel.kind == ChannelKind::Text)
            && op.shared.channel_bits(me, channel) & need == need;
        if !readable {
            continue;
        }
        let (name, thread) = match channel.parent_id() {
            Some(p) => (names.get(&p).cloned().unwrap_or_default(), Some(channel.id)),
            None => (channel.name.clone(), None),
        };
        let mut before = None;
        let mut seen = 0;
        while seen < SCAN_PER_CHANNEL {
            let page = store
                .history(channel.id, before, None, 200)
                .unwrap_or_default();
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            for m in page {
                seen += 1;
                if m.author_id == me || m.encrypted {
                    continue;
                }
                let replied_to_me = m.reply_to.is_some_and(|r| {
                    store
                        .message(channel.id, r)
                        .ok()
                        .flatten()
                        .is_some_and(|t| t.author_id == me)
                });
                if replied_to_me || mentions(&m.content, &op.user.username) {
                    found.push((m, name.clone(), thread));
                }
            }
        }
    }
    found.sort_by_key(|(m, _, _)| std::cmp::Reverse(m.id));
    let total = found.len();
    let page: Vec<Value> = found
        .into_iter()
        .skip(offset)
        .take(limit)
        .filter_map(|(m, channel, thread)| {
            let full = op.world.full_message(m).ok()?;
            let mut v = op.message_json(&full);
            v["channel"] = json!(channel);
            if let Some(t) = thread {
                v["thread_id"] = json!(t);
            }
            Some(v)
        })
        .collect();
    op.reply([
        ("messages", Value::Array(page)),
        ("offset", json!(offset)),
        ("limit", json!(limit)),
        ("total", json!(total)),
    ])
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn whole_names_only() {
        assert!(mentions("hi @Bob!", "bob"));
        assert!(mentions("@bob", "bob"));
        assert!(!mentions("hi @bobby", "bob"));
        assert!(!mentions("bob", "bob"));
        assert!(mentions("cc @alice @bob_2 and @bob", "bob"));
    }
}
