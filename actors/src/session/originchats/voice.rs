//! Voice signalling (reference §10.4): the server hands out peer ids; media
//! stays peer to peer. Voice states are the common model's, so JAM clients
//! and OriginChats clients see each other in voice channels.

use serde_json::{json, Value};
use switchboard_protocols::command::Command;
use switchboard_protocols::model::{ChannelKind, VoiceState};
use switchboard_protocols::permissions::VIEW_CHANNEL;

use super::commands::{Frames, Op};
use super::events::username;
use super::views::find_channel;

fn mine(op: &Op, states: &[VoiceState]) -> Option<VoiceState> {
    states
        .iter()
        .find(|s| s.user_id == op.user.id && s.channel_id.is_some())
        .cloned()
}

fn channel_name(op: &Op, state: &VoiceState) -> String {
    state
        .channel_id
        .and_then(|c| op.world.store.channel(c).ok().flatten())
        .map(|c| c.name)
        .unwrap_or_default()
}

pub(super) async fn run(op: Op) -> Frames {
    let states = op.voice_states().await;
    match op.cmd.as_str() {
        "voice_join" => {
            let Some(peer_id) = op.text("peer_id").filter(|p| !p.is_empty()) else {
                return op.err("Peer ID is required");
            };
            let Some(name) = op.text("channel").filter(|c| !c.is_empty()) else {
                return op.err("Channel name is required");
            };
            let channel = match find_channel(&op.world, op.guild, &name) {
                Some(c) if op.shared.channel_bits(op.user.id, &c) & VIEW_CHANNEL != 0 => c,
                _ => return op.err("You do not have permission to access this voice channel"),
            };
            if channel.kind != ChannelKind::Voice {
                return op.err("This is not a voice channel");
            }
            let command = Command::VoiceState {
                guild_id: op.guild,
                channel_id: Some(channel.id),
                self_mute: false,
                self_deaf: false,
                peer_id: Some(peer_id),
            };
            if let Err(e) = op.exec(command).await {
                return op.err(&e.message);
            }
            let others: Vec<Value> = states
                .iter()
                .filter(|s| s.channel_id == Some(channel.id) && s.user_id != op.user.id)
                .map(|s| {
                    json!({"username": username(&op.world, s.user_id), "peer_id": s.peer_id, "muted": s.self_mute})
                })
                .collect();
            op.reply([
                ("channel", json!(channel.name)),
                ("participants", Value::Array(others)),
            ])
        }
        "voice_leave" => {
            let Some(state) = mine(&op, &states) else {
                return op.err("You are not in a voice channel");
            };
            let command = Command::VoiceState {
                guild_id: op.guild,
                channel_id: None,
                self_mute: false,
                self_deaf: false,
                peer_id: None,
            };
            if let Err(e) = op.exec(command).await {
                return op.err(&e.message);
            }
            op.reply([("channel", json!(channel_name(&op, &state)))])
        }
        "voice_mute" | "voice_unmute" => {
            let muted = op.cmd == "voice_mute";
            let Some(state) = mine(&op, &states) else {
                return op.err("You are not in a voice channel");
            };
            let command = Command::VoiceState {
                guild_id: op.guild,
                channel_id: state.channel_id,
                self_mute: muted,
                self_deaf: state.self_deaf,
                peer_id: state.peer_id.clone(),
            };
            if let Err(e) = op.exec(command).await {
                return op.err(&e.message);
            }
            op.reply([
                ("channel", json!(channel_name(&op, &state))),
                ("muted", json!(muted)),
            ])
        }
        _ => {
            let Some(name) = op.text("channel").filter(|c| !c.is_empty()) else {
                return op.err("Channel name is required");
            };
            let channel = match find_channel(&op.world, op.guild, &name) {
                Some(c) if op.shared.channel_bits(op.user.id, &c) & VIEW_CHANNEL != 0 => c,
                _ => return op.err("Channel not found"),
            };
            let inside = states
                .iter()
                .any(|s| s.user_id == op.user.id && s.channel_id == Some(channel.id));
            let participants: Vec<Value> = states
                .iter()
                .filter(|s| s.channel_id == Some(channel.id))
                .map(|s| {
                    let mut p = json!({"id": s.user_id, "username": username(&op.world, s.user_id), "muted": s.self_mute});
                    if inside {
                        p["peer_id"] = json!(s.peer_id);
                    }
                    p
                })
                .collect();
            op.reply([
                ("channel", json!(channel.name)),
                ("participants", Value::Array(participants)),
            ])
        }
    }
}
