//! Who sees which channel, before and after a change that moves
//! permissions (a channel's overwrites, a role's bits, a member's roles).
//!
//! A member who loses view of a channel hears `ChannelDelete` for it and one
//! who gains view hears `ChannelCreate`, as if the channel had gone or come:
//! clients keep a channel list from the ready payload and the create and
//! delete events, and would otherwise show a channel they can no longer
//! open, or never show one they just got. Threads are left out: they follow
//! their forum and only dialects that list threads on request see them.

use std::collections::HashMap;

use switchboard_protocols::event::Event;
use switchboard_protocols::model::Channel;
use switchboard_protocols::Id;

use super::{Deliveries, GuildActor};
use crate::session::handle::SessionHandle;
use crate::world::Caller;

/// For each listed channel, the online sessions that may view it.
pub(super) struct Visibility {
    seen: HashMap<Id, HashMap<u64, SessionHandle>>,
}

impl GuildActor {
    /// The viewers of every listed channel now; with `only`, just that
    /// user's sessions (a change to one member's roles moves nobody else).
    pub(super) fn visibility(&self, only: Option<Id>) -> Visibility {
        let channels: Vec<&Channel> = self
            .state
            .channels
            .values()
            .filter(|c| c.thread.is_none())
            .collect();
        self.visibility_of(&channels, only)
    }

    pub(super) fn visibility_of(&self, channels: &[&Channel], only: Option<Id>) -> Visibility {
        let seen = channels
            .iter()
            .map(|c| {
                let mut viewers = HashMap::new();
                self.shared.for_each_viewer(Some(c), |s| {
                    if only.is_none_or(|u| u == s.user_id) {
                        viewers.insert(s.id, s.clone());
                    }
                    true
                });
                (c.id, viewers)
            })
            .collect();
        Visibility { seen }
    }

    /// Compares `before` with now and queues `ChannelCreate` for sessions
    /// that gained a channel and `ChannelDelete` for those that lost one.
    /// Answers, per channel, the sessions that saw it both times.
    pub(super) fn announce_visibility(
        &self,
        d: &mut Deliveries,
        caller: &Caller,
        before: Visibility,
        only: Option<Id>,
    ) -> HashMap<Id, HashMap<u64, SessionHandle>> {
        let mut kept = HashMap::new();
        for (channel_id, was) in before.seen {
            let Some(channel) = self.state.channels.get(&channel_id) else {
                continue;
            };
            let now = self.visibility_of(&[channel], only).seen;
            let mut now = now.into_values().next().unwrap_or_default();
            let mut create = None;
            for (id, s) in &now {
                if !was.contains_key(id) {
                    let env = create.get_or_insert_with(|| {
                        caller.envelope(Event::ChannelCreate(channel.clone()))
                    });
                    d.push(s, env);
                }
            }
            let mut delete = None;
            for (id, s) in &was {
                if !now.contains_key(id) {
                    let env = delete.get_or_insert_with(|| {
                        caller.envelope(Event::ChannelDelete {
                            id: channel.id,
                            guild_id: channel.guild_id,
                        })
                    });
                    d.push(s, env);
                }
            }
            now.retain(|id, _| was.contains_key(id));
            kept.insert(channel_id, now);
        }
        kept
    }
}
