//! Server-level requests: `server_update` and the rate-limit commands.

use serde_json::json;
use switchboard_protocols::command::{Command, GuildPatch};
use switchboard_protocols::permissions::MANAGE_GUILD;
use switchboard_protocols::ErrorKind;

use super::commands::{Frames, Op};
use crate::world::Reply;

pub(super) async fn run(op: Op) -> Frames {
    match op.cmd.as_str() {
        "server_update" => {
            let mut patch = GuildPatch::default();
            for key in ["name", "icon", "banner"] {
                match op.body.get(key) {
                    None => {}
                    Some(v) if v.is_string() || v.is_null() => {
                        let s = v.as_str().map(str::to_string);
                        match key {
                            "name" => patch.name = s,
                            "icon" => patch.icon = Some(s),
                            _ => patch.banner = Some(s),
                        }
                    }
                    Some(_) => {
                        let word = if key == "name" {
                            "Name"
                        } else if key == "icon" {
                            "Icon"
                        } else {
                            "Banner"
                        };
                        return op.err(&format!("{word} must be a string or null"));
                    }
                }
            }
            if !["name", "icon", "banner"]
                .iter()
                .any(|k| op.body.contains_key(*k))
            {
                return op.err("No updates provided");
            }
            match op
                .exec(Command::UpdateGuild {
                    guild_id: op.guild,
                    patch,
                })
                .await
            {
                // The reply; everyone (the requester too) also hears the
                // broadcast.
                Ok(Reply::Guild(g)) => op.reply([
                    ("name", json!(g.guild.name)),
                    ("icon", json!(g.guild.icon)),
                    ("banner", json!(g.guild.banner)),
                ]),
                Ok(_) => Vec::new(),
                Err(e) if e.kind == ErrorKind::Forbidden => {
                    op.err("Access denied: 'manage_server' permission required")
                }
                Err(e) => op.err(&e.message),
            }
        }
        "rate_limit_status" => {
            let Some(limits) = op.ctx.config.rate_limits else {
                return op.err("Rate limiter not available or disabled");
            };
            let target = match op.text("user") {
                None => op.user.clone(),
                Some(name) if name.eq_ignore_ascii_case(&op.user.username) => op.user.clone(),
                Some(name) => {
                    if op.shared.owner() != op.user.id {
                        return op.err("Access denied: can only check your own rate limit status");
                    }
                    match op.world.store.user_by_name(&name).ok().flatten() {
                        Some(u) => std::sync::Arc::new(u),
                        None => return op.err("User not found"),
                    }
                }
            };
            let (minute, recent, cooldown) = op.ctx.rate_status(target.id);
            op.reply([
                ("user", json!(target.username)),
                (
                    "status",
                    json!({
                        "messages_this_minute": minute,
                        "messages_per_minute_limit": limits.messages_per_minute,
                        "recent_messages": recent,
                        "burst_limit": limits.burst_limit,
                        "cooldown_remaining": cooldown,
                    }),
                ),
            ])
        }
        _ => {
            let Some(name) = op.text("user").filter(|u| !u.is_empty()) else {
                return op.err("User parameter is required");
            };
            if op.shared.guild_bits(op.user.id) & MANAGE_GUILD == 0 {
                return op.err("Access denied: 'manage_server' permission required");
            }
            let Some(user) = op.world.store.user_by_name(&name).ok().flatten() else {
                return op.err("User not found");
            };
            op.ctx.rate_reset(user.id);
            op.reply([
                ("user", json!(user.username)),
                (
                    "val",
                    json!(format!("Rate limit reset for user {}", user.username)),
                ),
            ])
        }
    }
}
