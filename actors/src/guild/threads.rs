//! The guild actor's thread commands: threads are channels of the guild
//! with a forum channel as parent, so their messages go through a channel
//! actor like any other; the guild actor owns their records.
//!
//! A thread's overwrites are a copy of its forum's, refreshed whenever the
//! forum's change: who may view and post in a thread is who may in the
//! forum, and every permission check stays a plain channel check.

use switchboard_protocols::command::{Command, ThreadPatch};
use switchboard_protocols::event::{Event, ThreadChange};
use switchboard_protocols::model::{Channel, ChannelKind, ThreadMeta};
use switchboard_protocols::permissions as perm;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult, Id, Refusal};

use super::commands::{clean_name, Outcome};
use super::{Deliveries, GuildActor};
use crate::channel::SetChannel;
use crate::world::{Caller, Reply};

impl GuildActor {
    pub(super) fn thread_command(&mut self, caller: &Caller, command: Command) -> Outcome {
        let me = caller.id();
        let mut d = Deliveries::default();
        let reply = match command {
            Command::CreateThread { parent_id, name } => {
                let parent = self.channel(parent_id)?.clone();
                if parent.thread.is_some() || parent.kind != ChannelKind::Forum {
                    return Err(GatewayError::invalid(
                        "Threads can only be created in forum channels",
                    ));
                }
                self.require_in(me, &parent, perm::CREATE_PUBLIC_THREADS)?;
                self.shared.not_timed_out(me)?;
                let thread = Channel {
                    id: self.world.ids.next(),
                    guild_id: parent.guild_id,
                    category_id: parent.category_id,
                    name: clean_name(&name, "Thread name")?,
                    kind: ChannelKind::Text,
                    topic: String::new(),
                    position: 0,
                    encrypted: false,
                    recipients: Vec::new(),
                    overwrites: parent.overwrites.clone(),
                    created_at: now_ms(),
                    thread: Some(ThreadMeta {
                        parent_id,
                        created_by: me,
                        locked: false,
                        archived: false,
                        participants: vec![me],
                    }),
                };
                self.world.store.put_channel(&thread)?;
                self.state.channels.insert(thread.id, thread.clone());
                let event = Event::Thread {
                    thread: thread.clone(),
                    change: ThreadChange::Created,
                };
                self.to_viewers(&mut d, caller, Some(&parent), event);
                Reply::Channel(thread)
            }
            Command::UpdateThread { thread_id, patch } => {
                let (mut thread, meta) = self.thread(thread_id)?;
                self.may_update(me, &thread, &meta, &patch)?;
                let mut meta = meta;
                if let Some(name) = patch.name {
                    thread.name = clean_name(&name, "Thread name")?;
                }
                if let Some(locked) = patch.locked {
                    meta.locked = locked;
                }
                if let Some(archived) = patch.archived {
                    meta.archived = archived;
                }
                thread.thread = Some(meta);
                let thread = self.save(thread)?;
                let event = Event::Thread {
                    thread: thread.clone(),
                    change: ThreadChange::Updated,
                };
                self.to_viewers(&mut d, caller, Some(&thread), event);
                Reply::Channel(thread)
            }
            Command::DeleteThread { thread_id } => {
                let (thread, meta) = self.thread(thread_id)?;
                self.require(me, 0)?;
                self.creator_or_manager(me, &thread, &meta)?;
                self.to_viewers(
                    &mut d,
                    caller,
                    Some(&thread),
                    Event::ThreadDelete {
                        id: thread_id,
                        parent_id: meta.parent_id,
                        guild_id: self.state.guild.id,
                    },
                );
                self.drop_channel(thread_id)?;
                Reply::Done
            }
            Command::ThreadMembership { thread_id, join } => {
                let (mut thread, mut meta) = self.thread(thread_id)?;
                if join {
                    self.require_in(me, &thread, 0)?;
                    if meta.locked {
                        return Err(GatewayError::refused(
                            Refusal::ThreadLocked,
                            "This thread is locked",
                        ));
                    }
                    if !meta.participants.contains(&me) {
                        meta.participants.push(me);
                    }
                } else {
                    self.require(me, 0)?;
                    meta.participants.retain(|u| *u != me);
                }
                thread.thread = Some(meta);
                let thread = self.save(thread)?;
                let change = if join {
                    ThreadChange::Joined(me)
                } else {
                    ThreadChange::Left(me)
                };
                let event = Event::Thread {
                    thread: thread.clone(),
                    change,
                };
                self.to_viewers(&mut d, caller, Some(&thread), event);
                Reply::Channel(thread)
            }
            other => {
                return Err(GatewayError::internal(format!(
                    "not a thread command: {other:?}"
                )))
            }
        };
        Ok((reply, d))
    }

    fn thread(&self, id: Id) -> GatewayResult<(Channel, ThreadMeta)> {
        let channel = self.channel(id)?;
        match &channel.thread {
            Some(meta) => Ok((channel.clone(), meta.clone())),
            None => Err(GatewayError::not_found("Unknown thread")),
        }
    }

    fn creator_or_manager(&self, me: Id, thread: &Channel, meta: &ThreadMeta) -> GatewayResult<()> {
        let manager = self.shared.channel_bits(me, thread) & perm::MANAGE_THREADS != 0;
        if meta.created_by == me || manager {
            Ok(())
        } else {
            Err(GatewayError::forbidden(
                "You do not have permission to modify this thread",
            ))
        }
    }

    /// Unarchiving alone is open to anyone who may post in the thread (a
    /// post unarchives it); anything else needs its creator or
    /// MANAGE_THREADS, and locking needs MANAGE_THREADS.
    fn may_update(
        &self,
        me: Id,
        thread: &Channel,
        meta: &ThreadMeta,
        patch: &ThreadPatch,
    ) -> GatewayResult<()> {
        self.require(me, 0)?;
        let bits = self.shared.channel_bits(me, thread);
        let unarchive_only =
            patch.name.is_none() && patch.locked.is_none() && patch.archived == Some(false);
        let poster = bits & (perm::VIEW_CHANNEL | perm::SEND_MESSAGES)
            == perm::VIEW_CHANNEL | perm::SEND_MESSAGES;
        if unarchive_only && poster && !meta.locked {
            return Ok(());
        }
        self.creator_or_manager(me, thread, meta)?;
        if patch.locked.is_some() && bits & perm::MANAGE_THREADS == 0 {
            return Err(GatewayError::forbidden(
                "Missing permission MANAGE_THREADS to lock a thread",
            ));
        }
        Ok(())
    }

    /// Stores a changed channel record and hands it to its running actor.
    pub(super) fn save(&mut self, channel: Channel) -> GatewayResult<Channel> {
        self.world.store.put_channel(&channel)?;
        self.state.channels.insert(channel.id, channel.clone());
        if let Some(addr) = self.world.running_channel(channel.id) {
            addr.do_send(SetChannel(channel.clone()));
        }
        Ok(channel)
    }

    /// Removes a channel with its messages and stops its actor.
    pub(super) fn drop_channel(&mut self, id: Id) -> GatewayResult<()> {
        self.world.store.delete_channel(id)?;
        self.state.channels.remove(&id);
        if let Some(addr) = self.world.running_channel(id) {
            addr.do_send(crate::channel::Stop);
        }
        self.world.forget_channel(id);
        Ok(())
    }

    /// The threads of a forum channel.
    pub(super) fn threads_of(&self, parent: Id) -> Vec<Id> {
        self.state
            .channels
            .values()
            .filter(|c| c.parent_id() == Some(parent))
            .map(|c| c.id)
            .collect()
    }

    /// After a forum's overwrites changed: its threads follow.
    pub(super) fn sync_threads(&mut self, forum: &Channel) -> GatewayResult<()> {
        for id in self.threads_of(forum.id) {
            if let Some(mut thread) = self.state.channels.get(&id).cloned() {
                if thread.overwrites != forum.overwrites {
                    thread.overwrites = forum.overwrites.clone();
                    self.save(thread)?;
                }
            }
        }
        Ok(())
    }
}
