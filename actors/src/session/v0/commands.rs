//! V0 commands, one at a time and in order (the actor waits on each).
//! The draft has no replies: what a command causes comes back as other
//! commands (SINFO, USR_LST, LST_CH, CH_APPEND, ...), and a command that
//! cannot be carried out is answered with `ERR {cmd, reason}`.
//!
//! # Format
//! ```text
//! → CH_MSG {id: "<channel>", msg_id: "<ULID>", msg: "hi"}
//! ← CH_MSG {id, msg_id, msg} and CH_MSG_COMMIT {id: msg_id, acks: [author]} to every V0 member
//! → PV_MSG {to: "<user id>", msg_id, msg}       ← (to them) MSG {from, msg_id, msg}
//! → CH_LEAD {election: 1}                         ← CH_VOTE {election: 1, user: <candidate>} to all
//! ```

use std::sync::Arc;

use actix::prelude::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use switchboard_protocols::command::{Command, HistoryQuery, NewMessage};
use switchboard_protocols::event::FullMessage;
use switchboard_protocols::model::{ChannelKind, User};
use switchboard_protocols::permissions::VIEW_CHANNEL;
use switchboard_protocols::v0::{self, Body, HistoryEntry, Inbound, Outbound};
use switchboard_protocols::{ErrorKind, GatewayError, Id};

use super::events::{body, msg_id};
use super::V0Session;
use crate::hub::OnlineUsers;
use crate::session::ready::go_online;
use crate::v0::merge::{ConfirmMerge, ProposeMerge};
use crate::v0::{Commit, Lead, Leader, RecordMessage, V0Online, V0Push, Vote};
use crate::world::{Caller, Reply, World};

/// Most messages one CH_APPEND carries.
const APPEND_PAGE: usize = 100;

/// What a command comes to: commands for this session, or the reason of an
/// `ERR`.
type Outcome = Result<Vec<Outbound>, String>;

fn refused(e: GatewayError) -> String {
    e.message
}

/// `content` and `binary` of a message body.
fn stored(msg: &Body) -> (String, bool) {
    match msg {
        Body::Text(t) => (t.clone(), false),
        Body::Bytes(b) => (B64.encode(b), true),
    }
}

/// A user named by id (decimal) or username.
fn user_named(world: &World, s: &str) -> Option<Arc<User>> {
    if let Ok(n) = s.parse::<u64>() {
        if let Ok(u) = world.user(Id(n)) {
            return Some(u);
        }
    }
    let u = world.store.user_by_name(s).ok().flatten()?;
    world.user(u.id).ok()
}

impl V0Session {
    /// After a valid CNN: online everywhere, SINFO, UCNN to the others, the
    /// channels' status.
    pub(super) fn admit(&mut self, c: &mut Context<Self>, user: Arc<User>) {
        let world = self.world.clone();
        let handle = self.session_handle(c, user.id);
        let fut = async move {
            let ready = go_online(world.clone(), handle.clone()).await.ok();
            let leader = world.v0().send(V0Online(handle)).await.unwrap_or_default();
            (ready.map(|r| r.guild_ids()).unwrap_or_default(), leader)
        };
        c.wait(fut.into_actor(self).map(move |(guilds, leader), act, c| {
            act.guilds = guilds;
            let sinfo = Outbound::Sinfo {
                server_name: act.world.config.server_name.clone(),
                timeout_s: act.config.idle_timeout_s,
            };
            act.send(c, &sinfo);
            for (id, name) in channels(&act.world, user.id) {
                let status = Outbound::ChStatus {
                    id,
                    name,
                    leader: leader.clone(),
                };
                act.send(c, &status);
            }
        }));
    }

    pub(super) fn run(&mut self, c: &mut Context<Self>, user: Arc<User>, cmd: Inbound) {
        let name = cmd.name();
        match cmd {
            Inbound::Kalive => return,
            Inbound::Dcnn => return self.close(c, "DCNN"),
            Inbound::Cnn { .. } => return self.err(c, name, "already connected"),
            Inbound::Info => {
                let sinfo = Outbound::Sinfo {
                    server_name: self.world.config.server_name.clone(),
                    timeout_s: self.config.idle_timeout_s,
                };
                return self.send(c, &sinfo);
            }
            _ => {}
        }
        if let Err(e) = self.world.admit(self.peer.ip(), Some(user.id)) {
            let ms = match e.kind {
                ErrorKind::RateLimited { retry_after_ms } => retry_after_ms,
                _ => 1000,
            };
            return self.err(c, name, &format!("rate limited: retry after {ms} ms"));
        }
        let world = self.world.clone();
        let caller = Caller {
            user,
            session: Some(self.id),
            reference: None,
        };
        let fut = async move { execute(&world, caller, cmd).await };
        c.wait(
            fut.into_actor(self)
                .map(move |outcome, act, c| match outcome {
                    Ok(cmds) => {
                        for cmd in cmds {
                            act.send(c, &cmd);
                        }
                    }
                    Err(reason) => act.err(c, name, &reason),
                }),
        );
    }
}

/// The default guild's text channels `user` may view: id and name.
fn channels(world: &World, user: Id) -> Vec<(String, String)> {
    let Some(g) = world.default_guild() else {
        return Vec::new();
    };
    let Ok(shared) = world.guild_shared(g) else {
        return Vec::new();
    };
    let mut list = world.store.channels_of(g).unwrap_or_default();
    list.retain(|c| {
        c.kind == ChannelKind::Text
            && c.thread.is_none()
            && shared.channel_bits(user, c) & VIEW_CHANNEL != 0
    });
    list.sort_by_key(|c| (c.position, c.id));
    list.into_iter()
        .map(|c| (c.id.to_string(), c.name))
        .collect()
}

/// A V0 channel `user` may view, by id.
fn channel(world: &World, user: Id, id: &str) -> Result<Id, String> {
    channels(world, user)
        .into_iter()
        .find(|(c, _)| c == id)
        .and_then(|(c, _)| c.parse().ok().map(Id))
        .ok_or_else(|| format!("unknown channel {id}"))
}

/// The channel and message a `msg_id` names.
fn find_message(world: &World, msg_id: &str) -> Option<(Id, Id)> {
    if let Ok(Some(found)) = world.store.v0_msg(msg_id) {
        return Some(found);
    }
    let id = Id(v0::derived_message_id(msg_id)?);
    let channel = world.store.channel_of_message(id).ok().flatten()?;
    Some((channel, id))
}

fn entry(fm: &FullMessage) -> HistoryEntry {
    HistoryEntry {
        id: msg_id(&fm.message),
        from: fm.message.author_id.to_string(),
        msg: body(&fm.message),
        timestamp: fm.message.created_at / 1000,
        acks: vec![fm.message.author_id.to_string()],
    }
}

/// Has the coordinator map `msg_id` to the stored message, before the
/// next command of this session can anchor on it.
async fn record_msg_id(world: &World, msg_id: &str, channel: Id, message: Id) {
    let _ = world
        .v0()
        .send(RecordMessage {
            msg_id: msg_id.to_string(),
            channel,
            message,
        })
        .await;
}

async fn send_message(
    world: &Arc<World>,
    caller: Caller,
    channel_id: Id,
    msg_id: &str,
    msg: &Body,
) -> Result<(), String> {
    if !v0::is_ulid(msg_id) {
        return Err("msg_id must be a ULID".into());
    }
    let (content, binary) = stored(msg);
    let m = NewMessage {
        channel_id,
        content,
        reply_to: None,
        attachments: Vec::new(),
        encrypted: false,
        nonce: None,
        client_ref: Some(msg_id.to_string()),
        untagged: false,
        binary,
    };
    match world.execute(caller, Command::SendMessage(m)).await {
        Ok(Reply::Message(fm)) => {
            record_msg_id(world, msg_id, channel_id, fm.message.id).await;
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(refused(e)),
    }
}

async fn execute(world: &Arc<World>, caller: Caller, cmd: Inbound) -> Outcome {
    let me = caller.id();
    let push = |users: Option<Vec<Id>>, command: Outbound| {
        world.v0().do_send(V0Push { users, command });
    };
    match cmd {
        Inbound::LstUsr => {
            let online = world.hub().send(OnlineUsers).await.unwrap_or_default();
            let users = online
                .into_iter()
                .filter_map(|u| world.user(u).ok())
                .map(|u| (u.id.to_string(), "online".to_string(), u.username.clone()))
                .collect();
            Ok(vec![Outbound::UsrLst { users }])
        }
        Inbound::CnnUsr { to } => {
            let other = user_named(world, &to).ok_or_else(|| format!("unknown user {to}"))?;
            push(
                Some(vec![other.id]),
                Outbound::UsrHsk { id: me.to_string() },
            );
            Ok(vec![Outbound::UsrHsk {
                id: other.id.to_string(),
            }])
        }
        Inbound::PvMsg { to, msg_id, msg } => {
            let other = user_named(world, &to).ok_or_else(|| format!("unknown user {to}"))?;
            let dm = match world
                .execute(
                    caller.clone(),
                    Command::OpenDm {
                        recipient: other.id,
                    },
                )
                .await
            {
                Ok(Reply::Channel(c)) => c.id,
                Ok(_) => return Err("no direct channel".into()),
                Err(e) => return Err(refused(e)),
            };
            send_message(world, caller, dm, &msg_id, &msg).await?;
            Ok(Vec::new())
        }
        Inbound::AckMsg { from, msg_id } => {
            let other = user_named(world, &from).ok_or_else(|| format!("unknown user {from}"))?;
            push(Some(vec![other.id]), Outbound::MsgAck { msg_id });
            Ok(Vec::new())
        }
        Inbound::ChLst => {
            let leader = world.v0().send(Leader).await.unwrap_or_default();
            let list = channels(world, me)
                .into_iter()
                .map(|(id, name)| (id, name, leader.clone()))
                .collect();
            Ok(vec![Outbound::LstCh { channels: list }])
        }
        Inbound::ChMsg { id, msg_id, msg } => {
            let channel_id = channel(world, me, &id)?;
            send_message(world, caller, channel_id, &msg_id, &msg).await?;
            Ok(Vec::new())
        }
        Inbound::ChPull { id, anchor } => {
            let channel_id = channel(world, me, &id)?;
            let anchored = anchor
                .as_deref()
                .and_then(|a| find_message(world, a))
                .filter(|(c, _)| *c == channel_id)
                .map(|(_, m)| m);
            let query = HistoryQuery {
                after: anchored,
                limit: APPEND_PAGE,
                ..HistoryQuery::default()
            };
            let command = Command::History { channel_id, query };
            let mut list = match world.execute(caller, command).await {
                Ok(Reply::Messages(l)) => l,
                Ok(_) => Vec::new(),
                Err(e) => return Err(refused(e)),
            };
            // Oldest first, whichever order the page came in.
            list.sort_by_key(|fm| fm.message.id);
            Ok(vec![Outbound::ChAppend {
                id,
                anchor: anchor.unwrap_or_default(),
                messages: list.iter().map(entry).collect(),
            }])
        }
        Inbound::ChMerge { id, msg } => merge(world, caller, &id, msg).await,
        Inbound::AckChMsg { id } => {
            // The draft's relay first: the coordinator handles its mail in
            // order, so every V0 user hears the ack before the message a
            // merge it confirms may bring.
            push(
                None,
                Outbound::ChMsgAck {
                    id: id.clone(),
                    user: me.to_string(),
                },
            );
            // It may confirm a merge waiting for this user's word.
            world.v0().do_send(ConfirmMerge {
                user: me,
                msg_id: id,
            });
            Ok(Vec::new())
        }
        Inbound::ChCommit { id, acks } => {
            let commit = Commit {
                user: me,
                msg_id: id,
                acks,
            };
            world
                .v0()
                .send(commit)
                .await
                .map_err(|_| "shutting down".to_string())??;
            Ok(Vec::new())
        }
        Inbound::ChLead { election } => {
            let lead = Lead {
                user: me,
                number: election,
            };
            world
                .v0()
                .send(lead)
                .await
                .map_err(|_| "shutting down".to_string())??;
            Ok(Vec::new())
        }
        Inbound::ChVote { election, user } => {
            let choice = user_named(world, &user).ok_or_else(|| format!("unknown user {user}"))?;
            let vote = Vote {
                user: me,
                number: election,
                choice: choice.id,
            };
            world
                .v0()
                .send(vote)
                .await
                .map_err(|_| "shutting down".to_string())??;
            Ok(Vec::new())
        }
        Inbound::ChAckReq { id, users } => {
            let (channel_id, _) =
                find_message(world, &id).ok_or_else(|| format!("unknown message {id}"))?;
            let mut to = Vec::new();
            for u in &users {
                to.push(
                    user_named(world, u)
                        .ok_or_else(|| format!("unknown user {u}"))?
                        .id,
                );
            }
            push(
                Some(to),
                Outbound::ChMsgConfirm {
                    id: channel_id.to_string(),
                    message: id,
                },
            );
            Ok(Vec::new())
        }
        Inbound::ChJoin { id } | Inbound::ChLeave { id } if channel(world, me, &id).is_err() => {
            Err(format!("unknown channel {id}"))
        }
        Inbound::ChJoin { id } => {
            push(
                None,
                Outbound::ChUjoin {
                    channel: id,
                    user: me.to_string(),
                },
            );
            Ok(Vec::new())
        }
        Inbound::ChLeave { id } => {
            push(
                None,
                Outbound::ChUleave {
                    channel: id,
                    user: me.to_string(),
                },
            );
            Ok(Vec::new())
        }
        Inbound::Cnn { .. } | Inbound::Kalive | Inbound::Dcnn | Inbound::Info => Ok(Vec::new()),
    }
}

/// `CH_MERGE`: each message the server lacks is added when at least two
/// members of the channel acknowledged it. The merging client's own
/// messages are stored at once; another user's are held until every user
/// the entry names in `acks`, its author among them, confirms it
/// (`crate::v0::merge`). The channel actor bounds the dates of both.
async fn merge(world: &Arc<World>, caller: Caller, id: &str, msgs: Vec<HistoryEntry>) -> Outcome {
    let me = caller.id();
    let channel_id = channel(world, me, id)?;
    let guild = world.default_guild().ok_or("no default guild")?;
    let shared = world.guild_shared(guild).map_err(refused)?;
    let record = world
        .store
        .channel(channel_id)
        .ok()
        .flatten()
        .ok_or("unknown channel")?;
    for m in msgs {
        if !v0::is_ulid(&m.id) {
            return Err(format!("message {}: id must be a ULID", m.id));
        }
        if find_message(world, &m.id).is_some() {
            continue;
        }
        let mut ackers: Vec<Id> = m
            .acks
            .iter()
            .filter_map(|a| user_named(world, a))
            .filter(|u| shared.channel_bits(u.id, &record) & VIEW_CHANNEL != 0)
            .map(|u| u.id)
            .collect();
        ackers.sort();
        ackers.dedup();
        if ackers.len() < 2 {
            return Err(format!(
                "message {}: a merge needs acks from two members of the channel",
                m.id
            ));
        }
        let author =
            user_named(world, &m.from).ok_or_else(|| format!("unknown user {}", m.from))?;
        let (content, binary) = stored(&m.msg);
        let command = Command::MergeMessage {
            channel_id,
            author_id: author.id,
            content,
            binary,
            client_ref: m.id.clone(),
            created_at: m.timestamp.saturating_mul(1000),
        };
        if author.id != me {
            if !ackers.contains(&author.id) {
                return Err(format!(
                    "message {}: a merge of another user's message needs its author's ack",
                    m.id
                ));
            }
            let propose = ProposeMerge {
                caller: caller.clone(),
                msg_id: m.id.clone(),
                channel: channel_id,
                confirmers: ackers,
                command,
            };
            world
                .v0()
                .send(propose)
                .await
                .map_err(|_| "shutting down".to_string())??;
            continue;
        }
        match world.execute(caller.clone(), command).await {
            Ok(Reply::Message(fm)) => {
                record_msg_id(world, &m.id, channel_id, fm.message.id).await;
            }
            Ok(_) => {}
            Err(e) => return Err(refused(e)),
        }
    }
    Ok(Vec::new())
}
