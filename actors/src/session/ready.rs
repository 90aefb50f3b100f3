//! What every dialect's session does once its user is known: join the
//! audiences of the user's guilds, go online, and collect the state the
//! client starts from.

use std::collections::HashSet;
use std::sync::Arc;

use switchboard_protocols::model::{Channel, GuildFull, Presence, VoiceState};
use switchboard_protocols::{GatewayResult, Id};

use crate::audience::SessionHandle;
use crate::guild::Connect;
use crate::hub::{Online, Presences, PRESENCE_FANOUT_LIMIT};
use crate::voice::VoiceStates;
use crate::world::World;

#[derive(Debug, Clone, Default)]
pub struct Ready {
    pub guilds: Vec<GuildFull>,
    pub dms: Vec<Channel>,
    pub presences: Vec<Presence>,
    pub voice_states: Vec<VoiceState>,
}

impl Ready {
    pub fn guild_ids(&self) -> Vec<Id> {
        self.guilds.iter().map(|g| g.guild.id).collect()
    }
}

pub async fn go_online(world: Arc<World>, session: SessionHandle) -> GatewayResult<Ready> {
    let user = session.user_id;
    let mut ready = Ready::default();
    let mut watch: HashSet<Id> = HashSet::new();
    for g in world.store.guilds_of_user(user)? {
        let Ok(addr) = world.guild_addr(g) else {
            continue;
        };
        let Ok(Ok(view)) = addr.send(Connect(session.clone())).await else {
            continue;
        };
        if let Ok(shared) = world.guild_shared(g) {
            if shared.online_count() <= PRESENCE_FANOUT_LIMIT {
                watch.extend(shared.member_ids());
            }
        }
        ready.guilds.push(view);
    }
    for c in world.store.dm_channels_of(user)? {
        if let Some(channel) = world.store.channel(c)? {
            watch.extend(channel.recipients.iter().copied());
            ready.dms.push(channel);
        }
    }
    let _ = world.hub().send(Online(session)).await;
    watch.remove(&user);
    ready.presences = world
        .hub()
        .send(Presences(watch.into_iter().collect()))
        .await
        .unwrap_or_default();
    ready.voice_states = world
        .voice()
        .send(VoiceStates(ready.guild_ids()))
        .await
        .unwrap_or_default();
    Ok(ready)
}

/// The other end of [`go_online`]: the session leaves the hub and the
/// audiences of its guilds.
pub fn go_offline(world: &World, session: u64, user: Option<Id>, guilds: &[Id]) {
    world
        .hub()
        .do_send(crate::hub::Detach { id: session, user });
    for g in guilds {
        if let Ok(addr) = world.guild_addr(*g) {
            addr.do_send(crate::guild::Disconnect(session));
        }
    }
}
