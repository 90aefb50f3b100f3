//! Voice: who is in which voice channel, the streams they share, and call
//! signalling relayed between users. Media never passes through here.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use switchboard_protocols::command::Command;
use switchboard_protocols::event::{CallSignal, Envelope, Event};
use switchboard_protocols::model::{Channel, ChannelKind, Stream, VoiceState};
use switchboard_protocols::permissions as perm;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

use crate::guild::GuildShared;
use crate::hub::DeliverToUsers;
use crate::world::{Caller, Reply, World};

pub struct VoiceActor {
    world: Arc<World>,
    states: HashMap<(Id, Id), VoiceState>,
    streams: HashMap<Id, Stream>,
}

impl Actor for VoiceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(16_384);
    }
}

#[derive(Message)]
#[rtype(result = "GatewayResult<Reply>")]
pub struct VoiceCmd {
    pub caller: Caller,
    pub command: Command,
}

/// A user's last session closed: they leave voice everywhere.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UserGone(pub Id);

/// Current voice states in the given guilds.
#[derive(Message)]
#[rtype(result = "Vec<VoiceState>")]
pub struct VoiceStates(pub Vec<Id>);

fn broadcast(shared: &GuildShared, channel: Option<&Channel>, env: &Arc<Envelope>) -> u64 {
    let mut n = 0;
    shared.for_each_viewer(channel, |s| {
        n += 1;
        s.offer(env)
    });
    n
}

impl VoiceActor {
    pub(crate) fn new(world: Arc<World>) -> Self {
        VoiceActor {
            world,
            states: HashMap::new(),
            streams: HashMap::new(),
        }
    }

    fn voice_channel(
        &self,
        shared: &GuildShared,
        user: Id,
        channel_id: Id,
    ) -> GatewayResult<Channel> {
        let channel = self
            .world
            .store
            .channel(channel_id)?
            .filter(|c| c.guild_id == Some(shared.guild_id))
            .ok_or_else(|| GatewayError::not_found("Unknown channel"))?;
        let bits = shared.channel_bits(user, &channel);
        if bits & perm::VIEW_CHANNEL == 0 {
            return Err(GatewayError::not_found("Unknown channel"));
        }
        if channel.kind != ChannelKind::Voice {
            return Err(GatewayError::invalid("Not a voice channel"));
        }
        Ok(channel)
    }

    /// Ends `user`'s streams in `guild` (all of them when `keep` is None,
    /// else those outside channel `keep`).
    fn end_streams(&mut self, caller: Option<&Caller>, guild: Id, user: Id, keep: Option<Id>) {
        let ended: Vec<Stream> = self
            .streams
            .values()
            .filter(|s| s.guild_id == guild && s.user_id == user && Some(s.channel_id) != keep)
            .cloned()
            .collect();
        for s in ended {
            self.streams.remove(&s.stream_id);
            self.announce_stream_end(caller, s);
        }
    }

    fn announce_stream_end(&self, caller: Option<&Caller>, s: Stream) {
        let Ok(shared) = self.world.guild_shared(s.guild_id) else {
            return;
        };
        let channel = self.world.store.channel(s.channel_id).ok().flatten();
        let event = Event::StreamEnd(s);
        let env = match caller {
            Some(c) => c.envelope(event),
            None => Arc::new(Envelope::new(event, None)),
        };
        let n = broadcast(&shared, channel.as_ref(), &env);
        self.world.metrics.delivered(n);
    }

    fn set_state(
        &mut self,
        caller: &Caller,
        guild_id: Id,
        channel_id: Option<Id>,
        self_mute: bool,
        self_deaf: bool,
        peer_id: Option<String>,
    ) -> GatewayResult<VoiceState> {
        let me = caller.id();
        let shared = self.world.guild_shared(guild_id)?;
        if !shared.is_member(me) {
            return Err(GatewayError::not_found("Unknown guild"));
        }
        if let Some(c) = channel_id {
            let channel = self.voice_channel(&shared, me, c)?;
            if shared.channel_bits(me, &channel) & perm::CONNECT == 0 {
                return Err(GatewayError::forbidden("Missing permission CONNECT"));
            }
        }
        let state = VoiceState {
            user_id: me,
            guild_id,
            channel_id,
            self_mute,
            self_deaf,
            peer_id,
        };
        let previous = self.states.get(&(guild_id, me)).and_then(|s| s.channel_id);
        match channel_id {
            Some(_) => {
                self.states.insert((guild_id, me), state.clone());
            }
            None => {
                self.states.remove(&(guild_id, me));
            }
        }
        self.end_streams(Some(caller), guild_id, me, channel_id);
        let env = caller.envelope(Event::VoiceState {
            state: state.clone(),
            previous,
        });
        let n = broadcast(&shared, None, &env);
        self.world.metrics.delivered(n);
        Ok(state)
    }

    fn start_stream(
        &mut self,
        caller: &Caller,
        channel_id: Id,
        kind: switchboard_protocols::model::StreamKind,
    ) -> GatewayResult<Stream> {
        let me = caller.id();
        let channel = self
            .world
            .store
            .channel(channel_id)?
            .ok_or_else(|| GatewayError::not_found("Unknown channel"))?;
        let guild_id = channel
            .guild_id
            .ok_or_else(|| GatewayError::invalid("Not a voice channel"))?;
        let shared = self.world.guild_shared(guild_id)?;
        let channel = self.voice_channel(&shared, me, channel_id)?;
        let in_channel = self
            .states
            .get(&(guild_id, me))
            .is_some_and(|s| s.channel_id == Some(channel_id));
        if !in_channel {
            return Err(GatewayError::invalid(
                "Join the voice channel before streaming",
            ));
        }
        if shared.channel_bits(me, &channel) & perm::STREAM == 0 {
            return Err(GatewayError::forbidden("Missing permission STREAM"));
        }
        let stream = Stream {
            stream_id: self.world.ids.next(),
            user_id: me,
            channel_id,
            guild_id,
            kind,
        };
        self.streams.insert(stream.stream_id, stream.clone());
        let env = caller.envelope(Event::StreamStart(stream.clone()));
        let n = broadcast(&shared, Some(&channel), &env);
        self.world.metrics.delivered(n);
        Ok(stream)
    }

    fn relay_call(&self, caller: &Caller, signal: CallSignal) -> GatewayResult<()> {
        if signal.to == caller.id() {
            return Err(GatewayError::invalid("Cannot call yourself"));
        }
        if signal.call_id.is_empty() || signal.call_id.chars().count() > 128 {
            return Err(GatewayError::invalid(
                "`call_id` must be 1 to 128 characters",
            ));
        }
        self.world.user(signal.to)?;
        let to = signal.to;
        let env = caller.envelope(Event::Call(signal));
        self.world.hub().do_send(DeliverToUsers {
            users: vec![to],
            env,
        });
        Ok(())
    }
}

impl Handler<VoiceCmd> for VoiceActor {
    type Result = GatewayResult<Reply>;

    fn handle(&mut self, msg: VoiceCmd, _: &mut Self::Context) -> Self::Result {
        let caller = msg.caller;
        match msg.command {
            Command::VoiceState {
                guild_id,
                channel_id,
                self_mute,
                self_deaf,
                peer_id,
            } => self
                .set_state(&caller, guild_id, channel_id, self_mute, self_deaf, peer_id)
                .map(Reply::VoiceState),
            Command::StreamStart { channel_id, kind } => self
                .start_stream(&caller, channel_id, kind)
                .map(Reply::Stream),
            Command::StreamEnd { stream_id } => {
                let stream = self
                    .streams
                    .get(&stream_id)
                    .filter(|s| s.user_id == caller.id())
                    .cloned()
                    .ok_or_else(|| GatewayError::not_found("Unknown stream"))?;
                self.streams.remove(&stream_id);
                self.announce_stream_end(Some(&caller), stream);
                Ok(Reply::Done)
            }
            Command::Call(signal) => self.relay_call(&caller, signal).map(|_| Reply::Done),
            other => Err(GatewayError::internal(format!(
                "voice actor cannot handle {other:?}"
            ))),
        }
    }
}

impl Handler<UserGone> for VoiceActor {
    type Result = ();

    fn handle(&mut self, UserGone(user): UserGone, _: &mut Self::Context) {
        let guilds: Vec<Id> = self
            .states
            .keys()
            .filter(|(_, u)| *u == user)
            .map(|(g, _)| *g)
            .collect();
        for guild_id in guilds {
            let previous = self
                .states
                .remove(&(guild_id, user))
                .and_then(|s| s.channel_id);
            self.end_streams(None, guild_id, user, None);
            if let Ok(shared) = self.world.guild_shared(guild_id) {
                let env = Arc::new(Envelope::new(
                    Event::VoiceState {
                        state: VoiceState {
                            user_id: user,
                            guild_id,
                            channel_id: None,
                            self_mute: false,
                            self_deaf: false,
                            peer_id: None,
                        },
                        previous,
                    },
                    None,
                ));
                let n = broadcast(&shared, None, &env);
                self.world.metrics.delivered(n);
            }
        }
    }
}

impl Handler<VoiceStates> for VoiceActor {
    type Result = MessageResult<VoiceStates>;

    fn handle(&mut self, VoiceStates(guilds): VoiceStates, _: &mut Self::Context) -> Self::Result {
        MessageResult(
            self.states
                .values()
                .filter(|s| guilds.contains(&s.guild_id))
                .cloned()
                .collect(),
        )
    }
}
