//! The V0 coordinator: which V0 clients are connected, who leads the
//! channels, and the elections that change it.
//!
//! The draft's channels are a distributed history with an elected leader.
//! Switchboard keeps every channel's history itself, so the server is the
//! leader until an election picks a V0 client (profile `v0.md`). Elections
//! carry no channel id in the draft, so one election decides the leader of
//! every V0 channel. Votes count among the connected V0 users; a majority
//! of them elects.

pub mod keys;
pub mod merge;
pub mod replay;

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use switchboard_protocols::event::{DialectOnly, Envelope, Event};
use switchboard_protocols::v0::{Outbound, SERVER_LEADER};
use switchboard_protocols::Id;

use crate::audience::SessionHandle;
use crate::world::World;

/// An election in progress or decided.
struct Election {
    number: u64,
    votes: HashMap<Id, Id>,
    decided: bool,
}

pub struct V0Hub {
    world: Arc<World>,
    sessions: HashMap<Id, Vec<SessionHandle>>,
    leader: Option<Id>,
    election: Option<Election>,
    /// `CH_MERGE`s of other users' messages waiting for their confirmations.
    merges: merge::Merges,
}

impl V0Hub {
    pub(crate) fn new(world: Arc<World>) -> Self {
        V0Hub {
            world,
            sessions: HashMap::new(),
            leader: None,
            election: None,
            merges: merge::Merges::new(),
        }
    }

    fn leader_id(&self) -> String {
        self.leader
            .map_or_else(|| SERVER_LEADER.to_string(), |l| l.to_string())
    }

    /// Sends `command` to the V0 sessions of `users` (every V0 user when
    /// `None`).
    fn push(&self, users: Option<&[Id]>, command: Outbound) {
        let env = Arc::new(Envelope::new(
            Event::DialectOnly(DialectOnly::new(command)),
            None,
        ));
        let targets: Vec<&SessionHandle> = match users {
            None => self.sessions.values().flatten().collect(),
            Some(us) => us
                .iter()
                .filter_map(|u| self.sessions.get(u))
                .flatten()
                .collect(),
        };
        let mut n = 0;
        for s in targets {
            if s.offer(&env) {
                n += 1;
            }
        }
        self.world.metrics.delivered(n);
    }

    fn name_of(&self, user: Id) -> String {
        self.world
            .user(user)
            .map(|u| u.username.clone())
            .unwrap_or_default()
    }

    /// The default guild's text channels, for CH_STATUS after a change of
    /// leader.
    fn announce_leader(&self) {
        let Some(g) = self.world.default_guild() else {
            return;
        };
        for c in self.world.store.channels_of(g).unwrap_or_default() {
            if c.kind == switchboard_protocols::model::ChannelKind::Text && c.thread.is_none() {
                self.push(
                    None,
                    Outbound::ChStatus {
                        id: c.id.to_string(),
                        name: c.name,
                        leader: self.leader_id(),
                    },
                );
            }
        }
    }
}

impl Actor for V0Hub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(65_536);
        ctx.run_interval(std::time::Duration::from_secs(1), |_, ctx| {
            ctx.notify(merge::ExpireMerges)
        });
    }
}

/// A V0 session signed in: it is told the others with UCNN, they it.
/// Answers the current leader.
#[derive(Message)]
#[rtype(result = "String")]
pub struct V0Online(pub SessionHandle);

/// A V0 session ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct V0Offline {
    pub session: u64,
    pub user: Id,
}

/// A command for the V0 sessions of some users (`None`: every V0 user).
#[derive(Message)]
#[rtype(result = "()")]
pub struct V0Push {
    pub users: Option<Vec<Id>>,
    pub command: Outbound,
}

/// The leader of the V0 channels, as `LST_CH` shows it.
#[derive(Message)]
#[rtype(result = "String")]
pub struct Leader;

/// `CH_LEAD`: `user` asks for election `number`.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Lead {
    pub user: Id,
    pub number: u64,
}

/// `CH_VOTE`: `user` votes for `choice` in election `number`.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Vote {
    pub user: Id,
    pub number: u64,
    pub choice: Id,
}

/// `CH_COMMIT`, accepted from the leader only.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Commit {
    pub user: Id,
    pub msg_id: String,
    pub acks: Vec<String>,
}

/// A V0 `msg_id` names `message` in `channel` (V0 clients anchor history
/// and acks on it). The coordinator keeps the map.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RecordMessage {
    pub msg_id: String,
    pub channel: Id,
    pub message: Id,
}

impl Handler<RecordMessage> for V0Hub {
    type Result = ();

    fn handle(&mut self, msg: RecordMessage, _: &mut Self::Context) {
        if let Err(e) = self
            .world
            .store
            .put_v0_msg(&msg.msg_id, msg.channel, msg.message)
        {
            tracing::warn!(error = %e, "v0 message id not recorded");
        }
    }
}

impl Handler<V0Online> for V0Hub {
    type Result = String;

    fn handle(&mut self, V0Online(s): V0Online, _: &mut Self::Context) -> String {
        let user = s.user_id;
        let first = !self.sessions.contains_key(&user);
        if first {
            let others: Vec<Id> = self.sessions.keys().copied().collect();
            self.push(
                Some(&others),
                Outbound::Ucnn {
                    id: user.to_string(),
                    name: self.name_of(user),
                },
            );
        }
        self.sessions.entry(user).or_default().push(s);
        self.leader_id()
    }
}

impl Handler<V0Offline> for V0Hub {
    type Result = ();

    fn handle(&mut self, msg: V0Offline, _: &mut Self::Context) {
        let Some(list) = self.sessions.get_mut(&msg.user) else {
            return;
        };
        list.retain(|s| s.id != msg.session);
        if !list.is_empty() {
            return;
        }
        self.sessions.remove(&msg.user);
        self.push(
            None,
            Outbound::Udcnn {
                id: msg.user.to_string(),
                name: self.name_of(msg.user),
            },
        );
        // A leader that leaves hands the channels back to the server.
        if self.leader == Some(msg.user) {
            self.leader = None;
            self.announce_leader();
        }
    }
}

impl Handler<V0Push> for V0Hub {
    type Result = ();

    fn handle(&mut self, msg: V0Push, _: &mut Self::Context) {
        self.push(msg.users.as_deref(), msg.command);
    }
}

impl Handler<Leader> for V0Hub {
    type Result = String;

    fn handle(&mut self, _: Leader, _: &mut Self::Context) -> String {
        self.leader_id()
    }
}

impl Handler<Lead> for V0Hub {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: Lead, _: &mut Self::Context) -> Self::Result {
        let last = self.election.as_ref().map_or(0, |e| e.number);
        if msg.number <= last {
            return Err(format!(
                "election numbers must increase: the last was {last}"
            ));
        }
        self.election = Some(Election {
            number: msg.number,
            votes: HashMap::new(),
            decided: false,
        });
        self.push(
            None,
            Outbound::ChVote {
                election: msg.number,
                user: msg.user.to_string(),
            },
        );
        Ok(())
    }
}

impl Handler<Vote> for V0Hub {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: Vote, _: &mut Self::Context) -> Self::Result {
        if !self.sessions.contains_key(&msg.choice) {
            return Err("only a connected V0 user can lead".into());
        }
        let voters = self.sessions.len();
        let Some(e) = self.election.as_mut().filter(|e| e.number == msg.number) else {
            return Err(format!("there is no election {}", msg.number));
        };
        if e.decided {
            return Err(format!("election {} is decided", msg.number));
        }
        if e.votes.contains_key(&msg.user) {
            return Err(format!("you already voted in election {}", msg.number));
        }
        e.votes.insert(msg.user, msg.choice);
        let count = e.votes.values().filter(|c| **c == msg.choice).count();
        if count * 2 > voters {
            e.decided = true;
            let number = e.number;
            self.leader = Some(msg.choice);
            self.push(
                None,
                Outbound::ChElected {
                    election: number,
                    leader: msg.choice.to_string(),
                },
            );
        }
        Ok(())
    }
}

impl Handler<Commit> for V0Hub {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: Commit, _: &mut Self::Context) -> Self::Result {
        if self.leader != Some(msg.user) {
            return Err("only the current leader commits".into());
        }
        self.push(
            None,
            Outbound::ChMsgCommit {
                id: msg.msg_id,
                acks: msg.acks,
            },
        );
        Ok(())
    }
}
