//! Users and status (reference §10.5).

use std::collections::HashMap;

use serde_json::{json, Value};
use switchboard_protocols::command::Command;
use switchboard_protocols::model::{Presence, Status};
use switchboard_protocols::originchats::strings as s;
use switchboard_protocols::Id;

use super::commands::{Frames, Op};
use super::views::{presence_map, user_entry};
use super::AuthMode;
use crate::hub::Presences;

const STATUSES: &str = "Invalid status. Must be one of: online, idle, dnd, offline, invisible";

async fn presences(op: &Op, users: Vec<Id>) -> HashMap<Id, Presence> {
    presence_map(
        op.world
            .hub()
            .send(Presences(users))
            .await
            .unwrap_or_default(),
    )
}

pub(super) async fn run(op: Op) -> Frames {
    match op.cmd.as_str() {
        "users_list" => {
            let members = op.shared.member_ids();
            let online = presences(&op, members.clone()).await;
            let users: Vec<Value> = members
                .iter()
                .filter_map(|u| user_entry(&op.world, &op.shared, *u, online.get(u)))
                .collect();
            op.reply([("users", Value::Array(users))])
        }
        "users_online" => {
            let online = presences(&op, op.shared.member_ids()).await;
            let users: Vec<Value> = online
                .values()
                .filter_map(|p| {
                    let mut e = user_entry(&op.world, &op.shared, p.user_id, Some(p))?;
                    if let Some(o) = e.as_object_mut() {
                        o.remove("cracked");
                        o.remove("pfp");
                    }
                    Some(e)
                })
                .collect();
            op.reply([("users", Value::Array(users))])
        }
        "status_set" => status_set(op).await,
        "user_update" => user_update(op).await,
        "pfp_set" => pfp_set(op).await,
        "pfp_get" => pfp_get(op),
        _ => status_get(op).await,
    }
}

/// Longest profile picture URL.
const MAX_PFP: usize = 500;

/// `{"url"}`: the account's avatar, the same one JAM shows.
async fn pfp_set(op: Op) -> Frames {
    if op.ctx.config.auth_mode == AuthMode::Rotur {
        return op.err("Profile pictures are managed by Rotur for this account");
    }
    let Some(url) = op
        .text("url")
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
    else {
        return op.err("URL required");
    };
    let valid = ["http://", "https://"]
        .iter()
        .any(|p| url.len() > p.len() && url.starts_with(p))
        && !url.chars().any(char::is_whitespace);
    if !valid {
        return op.err("Invalid URL format");
    }
    if url.chars().count() > MAX_PFP {
        return op.err("URL too long (max 500 characters)");
    }
    let command = Command::UpdateProfile {
        display_name: None,
        avatar: Some(Some(url.clone())),
        public_key: None,
    };
    match op.exec(command).await {
        Ok(_) => op.reply([("val", json!(url))]),
        Err(_) => op.err("Failed to update profile picture"),
    }
}

/// `{"username"}` → that user's picture URL, or null.
fn pfp_get(op: Op) -> Frames {
    let Some(name) = op.text("username").filter(|n| !n.is_empty()) else {
        return op.err("Username required");
    };
    match op.world.store.user_by_name(&name).ok().flatten() {
        Some(u) => op.reply([("val", json!(u.avatar)), ("username", json!(u.username))]),
        None => op.err(s::USER_NOT_FOUND),
    }
}

async fn status_set(op: Op) -> Frames {
    let Some(word) = op.text("status") else {
        return op.err("Status is required");
    };
    let status = match word.as_str() {
        "online" => Status::Online,
        "idle" => Status::Idle,
        "dnd" => Status::Dnd,
        "offline" | "invisible" => Status::Offline,
        _ => return op.err(STATUSES),
    };
    let text = op.text("text");
    if text.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return op.err("Status text must be at most 100 characters");
    }
    let shown = json!({"status": word, "text": text.clone().unwrap_or_default()});
    if let Err(e) = op.exec(Command::SetPresence { status, text }).await {
        return op.err(&e.message);
    }
    if status == Status::Offline {
        vec![switchboard_protocols::originchats::frame::reply(
            "status_set",
            [("status", shown), ("global", json!(true))],
        )]
    } else {
        vec![switchboard_protocols::originchats::frame::reply(
            "status_get",
            [
                ("username", json!(op.user.username)),
                ("status", shown),
                ("global", json!(true)),
            ],
        )]
    }
}

/// `user_update` (manage_users): the member's nickname in this guild.
/// Usernames are the account's, shared by every dialect, and not renamed
/// here.
async fn user_update(op: Op) -> Frames {
    let Some(name) = op.text("user").filter(|n| !n.is_empty()) else {
        return op.err("User parameter is required");
    };
    let Some(updates) = op.body.get("updates").and_then(Value::as_object).cloned() else {
        return op.err("Updates must be an object");
    };
    let user = match op.world.store.user_by_name(&name) {
        Ok(Some(u)) if op.shared.is_member(u.id) => u,
        _ => return op.err(s::USER_NOT_FOUND),
    };
    if let Some(field) = updates.keys().find(|k| k.as_str() != "nickname") {
        return op.err(&format!("Cannot update field: {field}"));
    }
    let nick = match updates.get("nickname") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return op.err("Nickname must be a string or null"),
    };
    let command = Command::SetNick {
        guild_id: op.guild,
        user_id: user.id,
        nick: nick.clone(),
    };
    match op.exec(command).await {
        Ok(_) => op.reply([("user", json!(user.username)), ("nickname", json!(nick))]),
        Err(e) if e.kind == switchboard_protocols::ErrorKind::Forbidden => {
            op.err("Access denied: 'manage_users' permission required")
        }
        Err(e) => op.err(&e.message),
    }
}

async fn status_get(op: Op) -> Frames {
    let Some(name) = op.text("user").filter(|n| !n.is_empty()) else {
        return op.err("User parameter is required");
    };
    let user = match op.world.store.user_by_name(&name) {
        Ok(Some(u)) if op.shared.is_member(u.id) => u,
        _ => return op.err(s::USER_NOT_FOUND),
    };
    let p = presences(&op, vec![user.id]).await;
    let (status, text) = p
        .get(&user.id)
        .map_or((Status::Offline, String::new()), |p| {
            (p.status, p.text.clone())
        });
    vec![switchboard_protocols::originchats::frame::reply(
        "status",
        [
            ("username", json!(user.username)),
            ("status", json!({"status": status.as_str(), "text": text})),
        ],
    )]
}
