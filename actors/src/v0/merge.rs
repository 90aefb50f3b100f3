//! Merges of other users' messages, held until the users they name confirm.
//!
//! `CH_MERGE` brings back committed messages the server lacks. A client may
//! merge its own messages at once (the channel actor still bounds their
//! dates), but a message it says someone else wrote is only as good as that
//! someone's word: the server asks every user the entry names in `acks`
//! (the author among them) with `CH_MSG_CONFIRM`, and stores the message
//! once each has answered `ACK_CH_MSG`. Until then nothing is stored or
//! shown; a merge not confirmed within [`CONFIRM_WITHIN`] is dropped and
//! the merging client gets `ERR`.
//!
//! # Format
//! ```text
//! ann → CH_MERGE {id: chan, msg: [{id: X, from: ben, acks: [ann, ben], ...}]}
//! ben ← CH_MSG_CONFIRM {id: chan, message: X}
//! ben → ACK_CH_MSG {id: X}
//! all ← CH_MSG {id: chan, msg_id: X, msg} and CH_MSG_COMMIT {id: X, acks}
//! ```

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use actix::prelude::*;
use switchboard_protocols::command::Command;
use switchboard_protocols::v0::Outbound;
use switchboard_protocols::Id;

use super::V0Hub;
use crate::world::{Caller, Reply};

/// How long the named users have to confirm a merge.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(30);

/// Most merges one user may have waiting for confirmation.
const PENDING_PER_USER: usize = 64;

/// Most merges waiting in all.
const PENDING_TOTAL: usize = 4096;

/// A merge waiting for its confirmations.
pub(super) struct PendingMerge {
    caller: Caller,
    command: Command,
    channel: Id,
    waiting: HashSet<Id>,
    deadline: Instant,
}

/// `CH_MERGE` of a message by another user: hold `command` (a
/// `MergeMessage`) until every user of `confirmers` acknowledges `msg_id`.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct ProposeMerge {
    pub caller: Caller,
    pub msg_id: String,
    pub channel: Id,
    pub confirmers: Vec<Id>,
    pub command: Command,
}

/// `ACK_CH_MSG {id: msg_id}` from `user`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConfirmMerge {
    pub user: Id,
    pub msg_id: String,
}

/// Drops merges past their deadline.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct ExpireMerges;

impl Handler<ProposeMerge> for V0Hub {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: ProposeMerge, _: &mut Self::Context) -> Self::Result {
        if self.merges.contains_key(&msg.msg_id) {
            // Already waiting: the confirmations asked for still count.
            return Ok(());
        }
        let mine = self
            .merges
            .values()
            .filter(|p| p.caller.id() == msg.caller.id())
            .count();
        if mine >= PENDING_PER_USER || self.merges.len() >= PENDING_TOTAL {
            return Err("too many merges waiting for confirmation".into());
        }
        let waiting: HashSet<Id> = msg
            .confirmers
            .iter()
            .copied()
            .filter(|u| *u != msg.caller.id())
            .collect();
        if let Some(absent) = waiting.iter().find(|u| !self.sessions.contains_key(u)) {
            return Err(format!(
                "message {}: {} must be connected to confirm it",
                msg.msg_id,
                self.name_of(*absent)
            ));
        }
        let ask: Vec<Id> = waiting.iter().copied().collect();
        self.push(
            Some(&ask),
            Outbound::ChMsgConfirm {
                id: msg.channel.to_string(),
                message: msg.msg_id.clone(),
            },
        );
        self.merges.insert(
            msg.msg_id,
            PendingMerge {
                caller: msg.caller,
                command: msg.command,
                channel: msg.channel,
                waiting,
                deadline: Instant::now() + CONFIRM_WITHIN,
            },
        );
        Ok(())
    }
}

impl Handler<ConfirmMerge> for V0Hub {
    type Result = ();

    fn handle(&mut self, msg: ConfirmMerge, ctx: &mut Self::Context) {
        let Some(p) = self.merges.get_mut(&msg.msg_id) else {
            return;
        };
        p.waiting.remove(&msg.user);
        if !p.waiting.is_empty() {
            return;
        }
        let Some(p) = self.merges.remove(&msg.msg_id) else {
            return;
        };
        let world = self.world.clone();
        let merger = p.caller.id();
        let msg_id = msg.msg_id;
        let fut = async move {
            let result = world.execute(p.caller, p.command).await;
            if let Ok(Reply::Message(fm)) = &result {
                let _ = world.store.put_v0_msg(&msg_id, p.channel, fm.message.id);
            }
            result.err().map(|e| (msg_id, e.message))
        };
        ctx.spawn(fut.into_actor(self).map(move |failed, act, _| {
            if let Some((msg_id, reason)) = failed {
                act.push(Some(&[merger]), merge_err(&msg_id, &reason));
            }
        }));
    }
}

impl Handler<ExpireMerges> for V0Hub {
    type Result = ();

    fn handle(&mut self, _: ExpireMerges, _: &mut Self::Context) {
        let now = Instant::now();
        let expired: Vec<String> = self
            .merges
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            let Some(p) = self.merges.remove(&id) else {
                continue;
            };
            let names: Vec<String> = p.waiting.iter().map(|u| self.name_of(*u)).collect();
            let reason = format!(
                "not confirmed by {} within {} s",
                names.join(", "),
                CONFIRM_WITHIN.as_secs()
            );
            self.push(Some(&[p.caller.id()]), merge_err(&id, &reason));
        }
    }
}

fn merge_err(msg_id: &str, reason: &str) -> Outbound {
    Outbound::Err {
        cmd: "CH_MERGE".into(),
        reason: format!("message {msg_id}: {reason}"),
    }
}

/// The pending merges of the coordinator.
pub(super) type Merges = HashMap<String, PendingMerge>;
