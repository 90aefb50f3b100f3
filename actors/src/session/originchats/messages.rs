//! Message requests (reference §10.1). Successful writes answer through
//! their broadcast (the requester's copy carries its `listener`); reads and
//! failures answer here.

use serde_json::{json, Value};
use switchboard_protocols::command::{Command, HistoryQuery, NewMessage, ThreadPatch};
use switchboard_protocols::originchats::strings as s;
use switchboard_protocols::originchats::{frame, SEARCH_RESULTS};
use switchboard_protocols::{ErrorKind, GatewayError, Id, Refusal};

use super::commands::{Frames, Op};
use super::target::{Miss, Target};
use crate::world::Reply;

/// Most messages one `messages_get` or `messages_around` side returns.
const MAX_PAGE: usize = 200;

fn denied(e: &GatewayError) -> bool {
    e.kind == ErrorKind::Forbidden
}

pub(super) async fn run(op: Op) -> Frames {
    match op.cmd.as_str() {
        "message_new" => message_new(op).await,
        "message_edit" => message_edit(op).await,
        "message_delete" => message_delete(op).await,
        "message_get" => message_get(op).await,
        "messages_get" => messages_get(op).await,
        "messages_around" => messages_around(op).await,
        "message_replies" => message_replies(op).await,
        "messages_search" => messages_search(op).await,
        "messages_pinned" => messages_pinned(op).await,
        "message_pin" | "message_unpin" => pin(op).await,
        "message_react_add" | "message_react_remove" => react(op).await,
        "typing" => typing(op).await,
        other => op.err(&format!("Unknown command: {other}")),
    }
}

async fn message_new(op: Op) -> Frames {
    let content = op.text("content").map(|c| c.trim().to_string());
    let attachments: Vec<Id> = op
        .body
        .get("attachments")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.get("id").and_then(super::commands::id_of))
                .collect()
        })
        .unwrap_or_default();
    let mut missing = Vec::new();
    if op.text("channel").is_none() && !op.names_thread() {
        missing.push("channel or thread_id");
    }
    if content.is_none() && attachments.is_empty() {
        missing.push("content or attachments");
    }
    if !missing.is_empty() {
        return op.err(&format!("Missing fields: {}", missing.join(", ")));
    }
    let content = content.unwrap_or_default();
    if content.is_empty() && attachments.is_empty() {
        return op.err("Message content or attachments cannot be empty");
    }
    let max = op.world.config.message_length;
    if content.chars().count() > max {
        return op.err(&format!(
            "Message too long. Maximum length is {max} characters"
        ));
    }
    if let Some(limited) = op.rate_limited() {
        return limited;
    }
    let target = match send_target(&op).await {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let place = if target.thread.is_some() {
        "thread"
    } else {
        "channel"
    };
    let reply_to = match op.body.get("reply_to") {
        None | Some(Value::Null) => None,
        Some(v) => match super::commands::id_of(v) {
            Some(id) => Some(id),
            None => return op.err("The message you're trying to reply to was not found"),
        },
    };
    let command = Command::SendMessage(NewMessage {
        channel_id: channel.id,
        content,
        reply_to,
        attachments,
        encrypted: false,
        nonce: None,
        client_ref: None,
        untagged: false,
        binary: false,
    });
    match op.exec(command).await {
        Ok(_) => Vec::new(),
        Err(e) if op.timed_out(&e).is_some() => op.timed_out(&e).unwrap_or_default(),
        Err(e) => op.err(&send_refused(&e, place)),
    }
}

/// The reference's words for a `message_new` the common model refused;
/// `place` is "channel" or "thread".
fn send_refused(e: &GatewayError, place: &str) -> String {
    match e.refusal {
        Some(Refusal::NotUploader) => "You can only attach your own uploads".into(),
        Some(Refusal::ThreadLocked) => "This thread is locked".into(),
        Some(Refusal::AttachmentMissing) => "Attachment not found or expired".into(),
        Some(Refusal::EncryptedChannel) => "Cannot send messages in this channel type".into(),
        _ if denied(e) => format!("You do not have permission to send messages in this {place}"),
        _ if e.kind == ErrorKind::NotFound => {
            "The message you're trying to reply to was not found".into()
        }
        _ => e.message.clone(),
    }
}

/// Where `message_new` posts, checked as the reference checks it. Posting
/// in an archived thread unarchives it.
async fn send_target(op: &Op) -> Result<Target, Frames> {
    if op.names_thread() {
        let t = op.thread_ref()?;
        if t.meta.locked {
            return Err(op.err("This thread is locked"));
        }
        if !op.may_send(&t.channel) {
            return Err(op.err("You do not have permission to send messages in this thread"));
        }
        if t.meta.archived {
            let patch = ThreadPatch {
                archived: Some(false),
                ..ThreadPatch::default()
            };
            let command = Command::UpdateThread {
                thread_id: t.channel.id,
                patch,
            };
            if let Err(e) = op.exec(command).await {
                return Err(op.err(&e.message));
            }
        }
        return Ok(t.into_target());
    }
    match op.find_target() {
        Ok(t) => Ok(t),
        Err(Miss::WrongType) => Err(op.err("Cannot send messages in this channel type")),
        Err(Miss::Refused(e)) if e[0].get("src").is_none() => {
            // Not viewable: the send check's words.
            Err(op.err("You do not have permission to send messages in this channel"))
        }
        Err(Miss::Refused(e)) => Err(e),
    }
}

async fn message_edit(op: Op) -> Frames {
    let (Some(id), Some(content)) = (op.id("id"), op.text("content")) else {
        return op.err("Invalid message edit format");
    };
    if let Some(limited) = op.rate_limited() {
        return limited;
    }
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let max = op.world.config.message_length;
    if content.trim().chars().count() > max {
        return op.err(&format!(
            "Message too long. Maximum length is {max} characters"
        ));
    }
    let command = Command::EditMessage {
        channel_id: channel.id,
        message_id: id,
        content: content.trim().to_string(),
        encrypted: false,
        nonce: None,
    };
    match op.exec(command).await {
        Ok(_) => Vec::new(),
        Err(e) if op.timed_out(&e).is_some() => op.timed_out(&e).unwrap_or_default(),
        Err(e) if denied(&e) => op.err("You do not have permission to edit this message"),
        Err(e) if e.kind == ErrorKind::NotFound => op.err("Message not found or cannot be edited"),
        Err(e) => op.err(&e.message),
    }
}

async fn message_delete(op: Op) -> Frames {
    let Some(id) = op.id("id") else {
        return op.err("Invalid message delete format");
    };
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let command = Command::DeleteMessage {
        channel_id: channel.id,
        message_id: id,
    };
    match op.exec(command).await {
        Ok(_) => Vec::new(),
        Err(e) if denied(&e) => op.err("You do not have permission to delete this message"),
        Err(e) if e.kind == ErrorKind::NotFound => op.err("Message not found or cannot be deleted"),
        Err(e) => op.err(&e.message),
    }
}

async fn message_get(op: Op) -> Frames {
    if (op.text("channel").is_none() && !op.names_thread()) || op.id("id").is_none() {
        return op.err("Channel/thread and message ID are required");
    }
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let command = Command::GetMessage {
        channel_id: channel.id,
        message_id: op.id("id").unwrap_or_default(),
    };
    match op.exec(command).await {
        Ok(Reply::Message(m)) => {
            let mut fields = target.place();
            fields.push(("message", op.message_json(&m)));
            op.reply(fields)
        }
        Ok(_) | Err(_) => op.err(s::MESSAGE_NOT_FOUND),
    }
}

/// `start` is a number of newest messages to skip, or a message id: the
/// page then ends just before that message.
async fn messages_get(op: Op) -> Frames {
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let limit = op
        .body
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(100, |l| (l as usize).clamp(1, MAX_PAGE));
    let start = op.body.get("start").cloned().unwrap_or(json!(0));
    let (query, range) = match &start {
        Value::Number(n) => {
            let skip = n.as_u64().unwrap_or(0) as usize;
            let q = HistoryQuery {
                limit,
                skip,
                ..HistoryQuery::default()
            };
            (q, json!({"start": skip, "end": skip + limit}))
        }
        Value::String(id) => match id.parse::<u64>() {
            Ok(id) => {
                let q = HistoryQuery {
                    before: Some(Id(id)),
                    limit,
                    ..HistoryQuery::default()
                };
                (q, json!({"start": start, "end": limit}))
            }
            Err(_) => return op.err("start must be a number or a message id"),
        },
        _ => return op.err("start must be a number or a message id"),
    };
    match op.history(channel.id, query).await {
        Ok(mut list) => {
            // Reading a channel marks it read, as the reference does.
            super::unreads::ack(&op, channel, None);
            list.reverse();
            let mut fields = target.place();
            fields.push(("messages", op.messages_json(&list)));
            fields.push(("range", range));
            op.reply(fields)
        }
        Err(e) => op.err(&e.message),
    }
}

async fn messages_around(op: Op) -> Frames {
    let Some(around) = op.id("around") else {
        return op.err("around (message ID) is required");
    };
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let bound = |k: &str| {
        op.body
            .get("bounds")
            .and_then(|b| b.get(k))
            .and_then(Value::as_u64)
            .map_or(50, |n| (n as usize).min(MAX_PAGE))
    };
    let (above, below) = (bound("above"), bound("below"));
    let middle = match op
        .exec(Command::GetMessage {
            channel_id: channel.id,
            message_id: around,
        })
        .await
    {
        Ok(Reply::Message(m)) => m,
        _ => return op.err(s::MESSAGE_NOT_FOUND),
    };
    let older = if below == 0 {
        Vec::new()
    } else {
        let q = HistoryQuery {
            before: Some(around),
            limit: below,
            ..HistoryQuery::default()
        };
        op.history(channel.id, q).await.unwrap_or_default()
    };
    let newer = if above == 0 {
        Vec::new()
    } else {
        let q = HistoryQuery {
            after: Some(around),
            limit: above,
            ..HistoryQuery::default()
        };
        op.history(channel.id, q).await.unwrap_or_default()
    };
    let mut list: Vec<_> = older.into_iter().rev().collect();
    let start = list.len();
    list.push(middle);
    list.extend(newer.into_iter().rev());
    op.reply([
        ("channel", json!(target.name)),
        ("thread_id", target.thread_id()),
        ("messages", op.messages_json(&list)),
        (
            "range",
            json!({"start": 0, "end": list.len(), "target": start}),
        ),
    ])
}

async fn message_replies(op: Op) -> Frames {
    let (true, Some(id)) = (
        op.text("channel").is_some() || op.names_thread(),
        op.id("id"),
    ) else {
        return op.err("Channel name and message ID are required");
    };
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let limit = op
        .body
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(50, |l| l as usize);
    let command = Command::Replies {
        channel_id: channel.id,
        message_id: id,
        limit,
    };
    match op.exec(command).await {
        Ok(Reply::Messages(list)) => op.reply(target.place().into_iter().chain([
            ("message_id", json!(id)),
            ("replies", op.messages_json(&list)),
        ])),
        Ok(_) => op.err(s::MESSAGE_NOT_FOUND),
        Err(e) => op.err(&e.message),
    }
}

async fn messages_search(op: Op) -> Frames {
    let (true, Some(query)) = (
        op.text("channel").is_some() || op.names_thread(),
        op.text("query"),
    ) else {
        return op.err("Channel name and query are required");
    };
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let command = Command::SearchMessages {
        channel_id: channel.id,
        query: query.clone(),
        limit: SEARCH_RESULTS,
    };
    match op.exec(command).await {
        Ok(Reply::Messages(list)) => op.reply(target.place().into_iter().chain([
            ("query", json!(query)),
            ("results", op.messages_json(&list)),
        ])),
        Ok(_) => Vec::new(),
        Err(e) => op.err(&e.message),
    }
}

async fn messages_pinned(op: Op) -> Frames {
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    match op
        .exec(Command::PinnedMessages {
            channel_id: channel.id,
        })
        .await
    {
        Ok(Reply::Messages(list)) => op.reply(
            target
                .place()
                .into_iter()
                .chain([("messages", op.messages_json(&list))]),
        ),
        Ok(_) => Vec::new(),
        Err(e) => op.err(&e.message),
    }
}

async fn pin(op: Op) -> Frames {
    let pinned = op.cmd == "message_pin";
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let Some(id) = op.id("id") else {
        return op.err("Message ID is required");
    };
    let command = Command::Pin {
        channel_id: channel.id,
        message_id: id,
        pinned,
    };
    match op.exec(command).await {
        Ok(_) => Vec::new(),
        Err(e) if denied(&e) => {
            op.err("You do not have permission to pin messages in this channel")
        }
        // The reference answers a missing message with `pinned: false`.
        Err(e) if e.kind == ErrorKind::NotFound => op.reply(
            [("id", json!(id))]
                .into_iter()
                .chain(target.place())
                .chain([("pinned", json!(false))]),
        ),
        Err(e) => op.err(&e.message),
    }
}

async fn react(op: Op) -> Frames {
    let add = op.cmd == "message_react_add";
    let (Some(id), Some(emoji)) = (op.id("id"), op.text("emoji")) else {
        return op.err("Message ID and emoji are required");
    };
    if emoji.is_empty() || emoji.chars().count() > 200 {
        return op.err("Invalid emoji");
    }
    let target = match op.target() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let channel = &target.channel;
    let failed = if add {
        "Failed to add reaction"
    } else {
        "Failed to remove reaction"
    };
    let command = Command::React {
        channel_id: channel.id,
        message_id: id,
        emoji,
        add,
    };
    match op.exec(command).await {
        Ok(Reply::Unchanged) => op.err(failed),
        Ok(_) => Vec::new(),
        Err(e) if op.timed_out(&e).is_some() => op.timed_out(&e).unwrap_or_default(),
        Err(e) if denied(&e) => op.err(if add {
            "You do not have permission to add reactions to this message"
        } else {
            "You do not have permission to remove reactions from this message"
        }),
        Err(_) => op.err(failed),
    }
}

/// Typing reaches everyone else as an event; the requester's own copy of
/// the global reply is sent from here.
async fn typing(op: Op) -> Frames {
    if op.text("channel").is_none() && !op.names_thread() {
        return op.err("Channel name or thread_id not provided");
    }
    if let Some(limited) = op.rate_limited() {
        return limited;
    }
    let target = if op.names_thread() {
        let t = match op.thread_ref() {
            Ok(t) => t,
            Err(e) => return e,
        };
        if t.parent.is_none() {
            return op.err("Thread has no parent channel");
        }
        if !op.may_send(&t.channel) {
            return op.err("You do not have permission to send messages in this thread");
        }
        t.into_target()
    } else {
        match op.find_target() {
            Ok(t) => t,
            Err(Miss::WrongType) => return vec![frame::error(None, s::ACCESS_DENIED_CHANNEL)],
            Err(Miss::Refused(e)) => return e,
        }
    };
    let channel = &target.channel;
    match op
        .exec(Command::Typing {
            channel_id: channel.id,
        })
        .await
    {
        Ok(_) => vec![frame::reply(
            "typing",
            [
                ("channel", json!(target.name)),
                ("user", json!(op.user.username)),
                ("thread_id", target.thread_id()),
                ("global", json!(true)),
            ],
        )],
        Err(e) if op.timed_out(&e).is_some() => op.timed_out(&e).unwrap_or_default(),
        Err(e) if denied(&e) => vec![frame::error(None, s::ACCESS_DENIED_CHANNEL)],
        Err(e) => op.err(&e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_refusals_are_worded_by_variant_not_by_text() {
        // The core's text is irrelevant: only the variant decides.
        let words = |r| send_refused(&GatewayError::refused(r, "anything at all"), "channel");
        assert_eq!(
            words(Refusal::NotUploader),
            "You can only attach your own uploads"
        );
        assert_eq!(words(Refusal::ThreadLocked), "This thread is locked");
        assert_eq!(
            words(Refusal::AttachmentMissing),
            "Attachment not found or expired"
        );
        assert_eq!(
            words(Refusal::EncryptedChannel),
            "Cannot send messages in this channel type"
        );
        assert_eq!(
            words(Refusal::RoleHierarchy),
            "You do not have permission to send messages in this channel"
        );
    }

    #[test]
    fn send_refusals_without_a_variant_go_by_kind() {
        // Text that once steered the wording no longer does.
        let plain = [
            GatewayError::forbidden("This thread is locked by the uploader"),
            GatewayError::not_found("Unknown file"),
            GatewayError::invalid("This channel accepts only encrypted messages"),
        ];
        let got: Vec<String> = plain.iter().map(|e| send_refused(e, "thread")).collect();
        assert_eq!(
            got,
            [
                "You do not have permission to send messages in this thread",
                "The message you're trying to reply to was not found",
                "This channel accepts only encrypted messages",
            ]
        );
    }
}
