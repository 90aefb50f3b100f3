//! Moderation (reference §10.5): bans and timeouts, as the common model's.
//! A ban removes the member and keeps them out of the guild in every
//! dialect; a timeout stops their messages, reactions and typing everywhere.

use serde_json::{json, Value};
use switchboard_protocols::command::Command;
use switchboard_protocols::originchats::frame;
use switchboard_protocols::originchats::strings as s;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::ErrorKind;

use super::commands::{Frames, Op};
use crate::world::Reply;

/// The reference gates these on the owner role, in these words (no `src`).
fn owner_required() -> Frames {
    vec![frame::error(None, "Access denied: 'owner' role required")]
}

pub(super) async fn run(op: Op) -> Frames {
    if op.cmd == "users_banned_list" {
        return match op.exec(Command::ListBans { guild_id: op.guild }).await {
            Ok(Reply::Users(users)) => {
                let names: Vec<Value> = users.iter().map(|u| json!(u.username)).collect();
                op.reply([("users", Value::Array(names))])
            }
            Ok(_) => op.reply([("users", json!([]))]),
            Err(e) if e.kind == ErrorKind::Forbidden => owner_required(),
            Err(e) => op.err(&e.message),
        };
    }
    let Some(name) = op.text("user").filter(|u| !u.is_empty()) else {
        return op.err("User parameter is required");
    };
    let timeout = if op.cmd == "user_timeout" {
        match op.body.get("timeout").and_then(Value::as_i64) {
            Some(t) if t > 0 => Some(t),
            _ => return op.err("Timeout must be a positive integer"),
        }
    } else {
        None
    };
    let Some(user) = op.world.store.user_by_name(&name).ok().flatten() else {
        return op.err(s::USER_NOT_FOUND);
    };
    let command = match op.cmd.as_str() {
        "user_ban" => Command::Ban {
            guild_id: op.guild,
            user_id: user.id,
            banned: true,
        },
        "user_unban" => Command::Ban {
            guild_id: op.guild,
            user_id: user.id,
            banned: false,
        },
        _ => Command::Timeout {
            guild_id: op.guild,
            user_id: user.id,
            until: timeout.map(|t| now_ms() + t * 1000),
        },
    };
    match op.exec(command).await {
        Ok(_) => match op.cmd.as_str() {
            "user_ban" => op.reply([("user", json!(user.username)), ("banned", json!(true))]),
            "user_unban" => op.reply([("user", json!(user.username)), ("unbanned", json!(true))]),
            _ => op.reply([("user", json!(user.username)), ("timeout", json!(timeout))]),
        },
        Err(e) if e.kind == ErrorKind::Forbidden => owner_required(),
        Err(e) => op.err(&e.message),
    }
}
