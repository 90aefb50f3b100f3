//! Forum threads (reference §10.3). Writes answer through their broadcast
//! (`thread_create`, `thread_update`, `thread_delete`, `thread_join`,
//! `thread_leave`, rendered in `events.rs`); reads and failures answer
//! here. The checks run here first, in the reference's order and words;
//! the guild actor checks again, as the owner of the threads.

use serde_json::{json, Value};
use switchboard_protocols::command::{Command, HistoryQuery, ThreadPatch};
use switchboard_protocols::model::ChannelKind;
use switchboard_protocols::originchats::strings as s;
use switchboard_protocols::permissions::{CREATE_PUBLIC_THREADS, MANAGE_THREADS, VIEW_CHANNEL};
use switchboard_protocols::{ErrorKind, GatewayError, Refusal};

use super::commands::{Frames, Op};
use super::target::ThreadRef;
use super::views::{find_channel, thread_json};
use crate::world::Reply;

/// Most messages one `thread_messages` returns.
const MAX_PAGE: usize = 200;

pub(super) async fn run(op: Op) -> Frames {
    if op.cmd == "thread_create" {
        return create(op).await;
    }
    if !op.names_thread() {
        return op.err("Thread ID is required");
    }
    let thread = match op.thread_ref() {
        Ok(t) => t,
        Err(e) => return e,
    };
    match op.cmd.as_str() {
        "thread_get" => match viewable(&op, &thread) {
            Some(e) => e,
            None => op.reply([(
                "thread",
                thread_json(&op.world, &thread.channel, &thread.parent_name()),
            )]),
        },
        "thread_messages" => messages(&op, &thread).await,
        "thread_update" => update(&op, thread).await,
        "thread_delete" => {
            if let Some(e) = modifiable(&op, &thread) {
                return e;
            }
            let command = Command::DeleteThread {
                thread_id: thread.channel.id,
            };
            answer(&op, op.exec(command).await)
        }
        "thread_join" => {
            if let Some(e) = viewable(&op, &thread) {
                return e;
            }
            if thread.meta.locked {
                return op.err("This thread is locked");
            }
            let command = Command::ThreadMembership {
                thread_id: thread.channel.id,
                join: true,
            };
            answer(&op, op.exec(command).await)
        }
        _ => leave(&op, &thread).await,
    }
}

/// Writes answer through their broadcast; failures answer here.
fn answer(op: &Op, result: Result<Reply, GatewayError>) -> Frames {
    match result {
        Ok(_) => Vec::new(),
        Err(e) if op.timed_out(&e).is_some() => op.timed_out(&e).unwrap_or_default(),
        Err(e) if e.refusal == Some(Refusal::ThreadLocked) => op.err("This thread is locked"),
        Err(e) if e.kind == ErrorKind::Forbidden => {
            op.err("You do not have permission to modify this thread")
        }
        Err(e) if e.kind == ErrorKind::NotFound => op.err(s::THREAD_NOT_FOUND),
        Err(e) => op.err(&e.message),
    }
}

fn viewable(op: &Op, thread: &ThreadRef) -> Option<Frames> {
    (!op.may_view(&thread.channel))
        .then(|| op.err("You do not have permission to view this thread"))
}

fn can_manage(op: &Op, thread: &ThreadRef) -> bool {
    op.shared.channel_bits(op.user.id, &thread.channel) & MANAGE_THREADS != 0
}

/// Only the thread's creator or a holder of `manage_threads`.
fn modifiable(op: &Op, thread: &ThreadRef) -> Option<Frames> {
    let creator = thread.meta.created_by == op.user.id;
    (!creator && !can_manage(op, thread))
        .then(|| op.err("You do not have permission to modify this thread"))
}

/// `{"channel","name"}` → broadcast `thread_create` to the forum's viewers.
async fn create(op: Op) -> Frames {
    let (Some(channel), Some(name)) = (
        op.text("channel").filter(|c| !c.is_empty()),
        op.text("name").filter(|n| !n.is_empty()),
    ) else {
        return op.err("Channel and thread name are required");
    };
    let Some(forum) = find_channel(&op.world, op.guild, &channel) else {
        return op.err(s::CHANNEL_NOT_FOUND);
    };
    if forum.kind != ChannelKind::Forum {
        return op.err("Threads can only be created in forum channels");
    }
    let need = VIEW_CHANNEL | CREATE_PUBLIC_THREADS;
    let no_permission = "You do not have permission to create threads in this channel";
    if op.shared.channel_bits(op.user.id, &forum) & need != need {
        return op.err(no_permission);
    }
    let name = name.trim().to_string();
    if name.is_empty() {
        return op.err("Thread name cannot be empty");
    }
    let command = Command::CreateThread {
        parent_id: forum.id,
        name,
    };
    match op.exec(command).await {
        Ok(_) => Vec::new(),
        Err(e) if op.timed_out(&e).is_some() => op.timed_out(&e).unwrap_or_default(),
        Err(e) if matches!(e.kind, ErrorKind::Forbidden | ErrorKind::NotFound) => {
            op.err(no_permission)
        }
        Err(e) => op.err(&e.message),
    }
}

/// `{"thread_id","start"?,"limit"?}`: `start` newest messages skipped,
/// oldest first.
async fn messages(op: &Op, thread: &ThreadRef) -> Frames {
    if let Some(e) = viewable(op, thread) {
        return e;
    }
    let number = |key: &str, default: u64| {
        op.body
            .get(key)
            .map_or(Some(default), Value::as_u64)
            .map(|n| n as usize)
    };
    let (Some(skip), Some(limit)) = (number("start", 0), number("limit", 100)) else {
        return op.err("start and limit must be non-negative integers");
    };
    let query = HistoryQuery {
        skip,
        limit: limit.clamp(1, MAX_PAGE),
        ..HistoryQuery::default()
    };
    match op.history(thread.channel.id, query).await {
        Ok(mut list) => {
            list.reverse();
            op.reply([
                ("thread_id", json!(thread.channel.id)),
                ("messages", op.messages_json(&list)),
            ])
        }
        Err(e) => op.err(&e.message),
    }
}

/// `{"thread_id","name"?,"locked"?,"archived"?}`. As in the reference,
/// `locked` from someone without `manage_threads` is ignored.
async fn update(op: &Op, thread: ThreadRef) -> Frames {
    if let Some(e) = modifiable(op, &thread) {
        return e;
    }
    let mut patch = ThreadPatch::default();
    if let Some(name) = op.body.get("name") {
        match name.as_str().map(str::trim) {
            Some(n) if !n.is_empty() => patch.name = Some(n.to_string()),
            _ => return op.err("Thread name cannot be empty"),
        }
    }
    let truthy = |v: &Value| match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    };
    if let Some(locked) = op.body.get("locked") {
        if can_manage(op, &thread) {
            patch.locked = Some(truthy(locked));
        }
    }
    if let Some(archived) = op.body.get("archived") {
        patch.archived = Some(truthy(archived));
    }
    let command = Command::UpdateThread {
        thread_id: thread.channel.id,
        patch,
    };
    answer(op, op.exec(command).await)
}

/// Leaving needs no view permission. Someone who cannot view the thread
/// hears no broadcast, so they get their answer here.
async fn leave(op: &Op, thread: &ThreadRef) -> Frames {
    let command = Command::ThreadMembership {
        thread_id: thread.channel.id,
        join: false,
    };
    match op.exec(command).await {
        Ok(Reply::Channel(now)) if !op.may_view(&now) => op.reply([
            (
                "thread",
                thread_json(&op.world, &now, &thread.parent_name()),
            ),
            ("thread_id", json!(now.id)),
            ("user", json!(op.user.username)),
            ("global", json!(true)),
        ]),
        other => answer(op, other),
    }
}
