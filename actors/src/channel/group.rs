//! Group channels change their members and name here: the channel actor
//! owns a group's record, as it owns a DM's.

use std::time::Instant;

use switchboard_protocols::event::Event;
use switchboard_protocols::model::ChannelKind;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

use super::{ChannelActor, Outcome};
use crate::hub::DeliverToUsers;
use crate::world::{Caller, Reply};

/// Most members of a group.
const MAX_MEMBERS: usize = 100;

impl ChannelActor {
    pub(super) fn update_group(
        &mut self,
        caller: &Caller,
        add: Vec<Id>,
        remove: Vec<Id>,
        name: Option<String>,
        started: Instant,
    ) -> GatewayResult<Outcome> {
        let me = caller.id();
        if self.channel.kind != ChannelKind::Group || !self.channel.recipients.contains(&me) {
            return Err(GatewayError::not_found("Unknown channel"));
        }
        // The creator (first member) removes others; anyone removes
        // themselves.
        let creator = self.channel.recipients.first().copied();
        if remove.iter().any(|u| *u != me) && creator != Some(me) {
            return Err(GatewayError::forbidden(
                "Only the group's creator removes members",
            ));
        }
        let before = self.channel.recipients.clone();
        let mut channel = self.channel.clone();
        for u in add {
            self.world.user(u)?;
            if !channel.recipients.contains(&u) {
                channel.recipients.push(u);
            }
        }
        channel.recipients.retain(|u| !remove.contains(u));
        if channel.recipients.len() > MAX_MEMBERS {
            return Err(GatewayError::invalid("A group has at most 100 members"));
        }
        if let Some(n) = name {
            channel.name = n.trim().chars().take(100).collect();
        }
        let store = &self.world.store;
        store.put_channel(&channel)?;
        for u in &channel.recipients {
            if !before.contains(u) {
                store.add_user_dm(*u, channel.id)?;
            }
        }
        for u in &before {
            if !channel.recipients.contains(u) {
                store.remove_user_dm(*u, channel.id)?;
            }
        }
        self.channel = channel.clone();
        // Everyone before and after hears of it.
        let mut users = before;
        users.extend(channel.recipients.iter().copied());
        users.sort();
        users.dedup();
        let env = caller.envelope(Event::ChannelUpdate(channel.clone()));
        self.world.hub().do_send(DeliverToUsers { users, env });
        self.world
            .metrics
            .observe_fanout(started.elapsed().as_secs_f64());
        Ok(Outcome::Now(Reply::Channel(channel)))
    }
}
