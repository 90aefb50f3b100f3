//! The shared context every actor and session holds: configuration, store,
//! id generator, metrics and the directory of running actors.
//!
//! [`World::execute`] is the one entry point for commands from every
//! dialect and from REST: it finds the actor that owns the state a command
//! touches and hands it over. The owner checks permissions and persists.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use actix::prelude::*;
use parking_lot::{Mutex, RwLock};
use switchboard_protocols::command::Command;
use switchboard_protocols::event::{Envelope, FullMessage, Origin};
use switchboard_protocols::model::{
    Category, Channel, FileRecord, GuildFull, Invite, KeyEnvelope, Message, Role, Stream, User,
    VoiceState,
};
use switchboard_protocols::{permissions, GatewayError, GatewayResult, Id, IdGenerator};

use crate::admission::{Admission, AdmissionLimits};
use crate::audience::OfflineEncoding;
use crate::channel::{ChannelActor, ChannelCmd};
use crate::federation::courier::Courier;
use crate::federation::{Federation, FederationSettings};
use crate::guild::{self, GuildActor, GuildCmd, GuildShared};
use crate::hub::{Hub, HubCmd};
use crate::metrics::Metrics;
use crate::sealed::Sealer;
use crate::store::Store;
use crate::v0::replay::ReplayGuard;
use crate::v0::V0Hub;
use crate::voice::{VoiceActor, VoiceCmd};

/// Limits and identity the actors need; the binary fills it from config.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub server_name: String,
    pub domain: String,
    pub version: String,
    pub message_length: usize,
    /// How long a session token stays valid after it is issued.
    pub session_ttl_ms: u64,
    pub mailbox_capacity: usize,
    /// Largest inbound WebSocket message.
    pub frame_bytes: usize,
    /// Unsent output a session may hold before it is dropped.
    pub pending_bytes: usize,
    pub jam_heartbeat_ms: u64,
    /// zstd level for uploaded files.
    pub zstd_level: i32,
    /// Biggest upload in bytes.
    pub upload_bytes: usize,
    /// How long a connection may stay without signing in.
    pub login_timeout: std::time::Duration,
    /// Upload bytes one user may keep stored (0: no limit).
    pub user_storage_bytes: u64,
    pub default_guild: Option<DefaultGuild>,
    /// Peers, configured bridges and the inbound size limit.
    pub federation: FederationSettings,
    /// Connections per address and request rates.
    pub admission: AdmissionLimits,
}

#[derive(Debug, Clone)]
pub struct DefaultGuild {
    pub name: String,
    pub text_channels: Vec<String>,
    pub voice_channels: Vec<String>,
}

/// Who issues a command, and where the echo of its result should go.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Arc<User>,
    /// The session that sent it, if any (REST calls have none).
    pub session: Option<u64>,
    /// The dialect's correlation token (JAM `ref`, OriginChats `listener`).
    pub reference: Option<String>,
}

impl Caller {
    pub fn id(&self) -> Id {
        self.user.id
    }

    pub fn origin(&self) -> Option<Origin> {
        self.session.map(|session| Origin {
            session,
            reference: self.reference.clone(),
        })
    }

    pub fn envelope(&self, event: switchboard_protocols::event::Event) -> Arc<Envelope> {
        Arc::new(Envelope::new(event, self.origin()))
    }
}

/// The canonical result of a command.
#[derive(Debug, Clone)]
pub enum Reply {
    Done,
    /// The command changed nothing (a reaction already there, say).
    Unchanged,
    Message(FullMessage),
    Messages(Vec<FullMessage>),
    Guild(GuildFull),
    Channel(Channel),
    Category(Category),
    Role(Role),
    Invite(Invite),
    VoiceState(VoiceState),
    Stream(Stream),
    KeyEnvelope(KeyEnvelope),
    Users(Vec<User>),
    /// A user's profile as it is after the command.
    User(User),
}

pub type ReplyFuture = Pin<Box<dyn Future<Output = GatewayResult<Reply>> + Send>>;

struct GuildEntry {
    addr: Addr<GuildActor>,
    shared: Arc<GuildShared>,
}

pub struct World {
    pub config: WorldConfig,
    pub store: Store,
    pub ids: IdGenerator,
    pub metrics: Metrics,
    /// Who may connect and how fast they may ask.
    pub admission: Arc<Admission>,
    core: ArbiterHandle,
    hub: OnceLock<Addr<Hub>>,
    voice: OnceLock<Addr<VoiceActor>>,
    v0: OnceLock<Addr<V0Hub>>,
    sealer: OnceLock<Sealer>,
    federation: OnceLock<Arc<Federation>>,
    /// How the dialects with offline queues encode what they keep.
    offline: OnceLock<Box<dyn OfflineEncoding>>,
    /// Nonces V0 accounts used recently.
    pub v0_replay: ReplayGuard,
    guilds: RwLock<HashMap<Id, GuildEntry>>,
    /// Running channel actors. A mutex, not a read lock, so that two
    /// sessions racing on an idle channel start one actor between them.
    channels: Mutex<HashMap<Id, Addr<ChannelActor>>>,
    users: RwLock<HashMap<Id, Arc<User>>>,
    default_guild: RwLock<Option<Id>>,
    next_session: AtomicU64,
}

fn mailbox_error(_: MailboxError) -> GatewayError {
    GatewayError::internal("The server is shutting down")
}

impl World {
    /// Opens the world: loads every guild, starts the hub and voice actors
    /// on `core`, and creates the default guild on first start.
    pub fn start(
        config: WorldConfig,
        store: Store,
        core: ArbiterHandle,
    ) -> GatewayResult<Arc<World>> {
        let admission = Admission::new(config.admission);
        let world = Arc::new(World {
            config,
            admission,
            store,
            ids: IdGenerator::new(1),
            metrics: Metrics::new(),
            core: core.clone(),
            hub: OnceLock::new(),
            voice: OnceLock::new(),
            v0: OnceLock::new(),
            sealer: OnceLock::new(),
            federation: OnceLock::new(),
            offline: OnceLock::new(),
            v0_replay: ReplayGuard::default(),
            guilds: RwLock::new(HashMap::new()),
            channels: Mutex::new(HashMap::new()),
            users: RwLock::new(HashMap::new()),
            default_guild: RwLock::new(None),
            next_session: AtomicU64::new(1),
        });
        let w = world.clone();
        let _ = world
            .hub
            .set(Hub::start_in_arbiter(&core, move |_| Hub::new(w)));
        let w = world.clone();
        let _ = world
            .voice
            .set(VoiceActor::start_in_arbiter(&core, move |_| {
                VoiceActor::new(w)
            }));
        let w = world.clone();
        let _ = world
            .v0
            .set(V0Hub::start_in_arbiter(&core, move |_| V0Hub::new(w)));
        for g in world.store.list_guilds()? {
            world.start_guild(g.id)?;
        }
        guild::ensure_default_guild(&world)?;
        Ok(world)
    }

    pub fn hub(&self) -> &Addr<Hub> {
        self.hub.get().expect("hub is set in World::start")
    }

    pub fn voice(&self) -> &Addr<VoiceActor> {
        self.voice.get().expect("voice is set in World::start")
    }

    pub fn v0(&self) -> &Addr<V0Hub> {
        self.v0.get().expect("v0 is set in World::start")
    }

    /// Gives the world the key that seals secrets at rest (start-up).
    pub fn set_sealer(&self, sealer: Sealer) {
        let _ = self.sealer.set(sealer);
    }

    /// Gives the hub the dialects' encoding of what it keeps for users who
    /// are away (start-up; the sessions module provides it).
    pub fn set_offline_encoding(&self, encoding: impl OfflineEncoding + 'static) {
        let _ = self.offline.set(Box::new(encoding));
    }

    /// The dialects' offline encoding; `None` before start-up set it (then
    /// nothing is kept for the absent).
    pub(crate) fn offline_encoding(&self) -> Option<&dyn OfflineEncoding> {
        self.offline.get().map(|b| b.as_ref())
    }

    /// Starts federation with the server's signing key: resolves the
    /// bridges and starts the courier, which first sends what the outbox
    /// kept across a restart.
    pub fn start_federation(self: &Arc<Self>, key: ed25519_dalek::SigningKey) -> GatewayResult<()> {
        let fed = Arc::new(Federation::new(self, key)?);
        let (w, f) = (self.clone(), fed.clone());
        let courier = Courier::start_in_arbiter(&self.core, move |_| Courier::new(w, f));
        fed.set_courier(courier);
        let _ = self.federation.set(fed);
        Ok(())
    }

    /// Federation, once start-up has started it.
    pub fn federation(&self) -> Option<&Arc<Federation>> {
        self.federation.get()
    }

    /// The sealer, once start-up has set it.
    pub fn sealer(&self) -> GatewayResult<&Sealer> {
        self.sealer
            .get()
            .ok_or_else(|| GatewayError::internal("secrets are not available"))
    }

    /// Counts one request against the rate limits of its address and, once
    /// signed in, of its user; `RateLimited` with the wait when either is
    /// spent. Every dialect and REST call this before doing any work.
    pub fn admit(&self, ip: std::net::IpAddr, user: Option<Id>) -> GatewayResult<()> {
        self.admit_parts(Some(ip), user)
    }

    /// [`World::admit`] for a caller that counts the address and the user
    /// at different moments (REST).
    pub fn admit_parts(&self, ip: Option<std::net::IpAddr>, user: Option<Id>) -> GatewayResult<()> {
        let result = self.admission.request(ip, user);
        if result.is_err() {
            self.metrics.request_rate_limited();
        }
        result
    }

    pub fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    pub fn default_guild(&self) -> Option<Id> {
        *self.default_guild.read()
    }

    pub(crate) fn set_default_guild(&self, id: Id) {
        *self.default_guild.write() = Some(id);
    }

    /// Loads a guild from the store and starts its actor.
    pub(crate) fn start_guild(self: &Arc<Self>, guild_id: Id) -> GatewayResult<Addr<GuildActor>> {
        let state = guild::GuildState::load(&self.store, guild_id)?;
        let shared = Arc::new(GuildShared::new(&state));
        let w = self.clone();
        let sh = shared.clone();
        let addr = GuildActor::start_in_arbiter(&self.core, move |_| GuildActor::new(w, state, sh));
        self.guilds.write().insert(
            guild_id,
            GuildEntry {
                addr: addr.clone(),
                shared,
            },
        );
        Ok(addr)
    }

    pub(crate) fn forget_guild(&self, guild_id: Id) {
        self.guilds.write().remove(&guild_id);
    }

    pub fn guild_addr(&self, guild_id: Id) -> GatewayResult<Addr<GuildActor>> {
        self.guilds
            .read()
            .get(&guild_id)
            .map(|e| e.addr.clone())
            .ok_or_else(|| GatewayError::not_found("Unknown guild"))
    }

    pub fn guild_shared(&self, guild_id: Id) -> GatewayResult<Arc<GuildShared>> {
        self.guilds
            .read()
            .get(&guild_id)
            .map(|e| e.shared.clone())
            .ok_or_else(|| GatewayError::not_found("Unknown guild"))
    }

    /// The running actor of a channel, started on first use.
    pub fn channel_addr(self: &Arc<Self>, channel_id: Id) -> GatewayResult<Addr<ChannelActor>> {
        let mut running = self.channels.lock();
        if let Some(addr) = running.get(&channel_id).filter(|a| a.connected()) {
            return Ok(addr.clone());
        }
        let channel = self
            .store
            .channel(channel_id)?
            .ok_or_else(|| GatewayError::not_found("Unknown channel"))?;
        let shared = match channel.guild_id {
            Some(g) => Some(self.guild_shared(g)?),
            None => None,
        };
        let w = self.clone();
        let addr = ChannelActor::start_in_arbiter(&self.core, move |_| {
            ChannelActor::new(w, channel, shared)
        });
        running.insert(channel_id, addr.clone());
        Ok(addr)
    }

    /// The actor of a channel if it is running (no start).
    pub(crate) fn running_channel(&self, channel_id: Id) -> Option<Addr<ChannelActor>> {
        self.channels.lock().get(&channel_id).cloned()
    }

    pub(crate) fn forget_channel(&self, channel_id: Id) {
        self.channels.lock().remove(&channel_id);
    }

    /// A user's public profile, cached.
    pub fn user(&self, id: Id) -> GatewayResult<Arc<User>> {
        if let Some(u) = self.users.read().get(&id) {
            return Ok(u.clone());
        }
        let user = self
            .store
            .user(id)?
            .ok_or_else(|| GatewayError::not_found("Unknown user"))?;
        let user = Arc::new(user);
        self.users.write().insert(id, user.clone());
        Ok(user)
    }

    /// Replaces the cached profile after an update.
    pub fn cache_user(&self, user: User) -> Arc<User> {
        let user = Arc::new(user);
        self.users.write().insert(user.id, user.clone());
        user
    }

    /// What `user` may do in a channel (0 when they cannot see it).
    pub fn channel_bits(&self, user: Id, channel_id: Id) -> GatewayResult<u64> {
        let Some(channel) = self.store.channel(channel_id)? else {
            return Ok(0);
        };
        Ok(match channel.guild_id {
            Some(g) => match self.guild_shared(g) {
                Ok(shared) => shared.channel_bits(user, &channel),
                Err(_) => 0,
            },
            None if channel.recipients.contains(&user) => crate::channel::PRIVATE_BITS,
            None => 0,
        })
    }

    /// A file may be read by its uploader and by whoever can read a channel
    /// where it is attached.
    pub fn may_read_file(&self, user: Id, file: &FileRecord) -> GatewayResult<bool> {
        if file.uploader_id == user {
            return Ok(true);
        }
        let need = permissions::VIEW_CHANNEL | permissions::READ_MESSAGE_HISTORY;
        for channel in self.store.file_channels(file.id)? {
            if self.channel_bits(user, channel)? & need == need {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A stored message with its author's profile.
    pub fn full_message(&self, message: Message) -> GatewayResult<FullMessage> {
        let author = (*self.user(message.author_id)?).clone();
        Ok(FullMessage { message, author })
    }

    /// Routes a command to the actor that owns what it touches. The command
    /// is queued before this returns, so commands from one session reach an
    /// actor in the order they were issued.
    pub fn execute(self: &Arc<Self>, caller: Caller, command: Command) -> ReplyFuture {
        match self.route(caller, command) {
            Ok(fut) => fut,
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn route(self: &Arc<Self>, caller: Caller, command: Command) -> GatewayResult<ReplyFuture> {
        use Command as C;
        let channel_of = |id: Id| self.channel_addr(id);
        Ok(match &command {
            C::SendMessage(m) => to_channel(channel_of(m.channel_id)?, caller, command),
            C::EditMessage { channel_id, .. }
            | C::DeleteMessage { channel_id, .. }
            | C::React { channel_id, .. }
            | C::Pin { channel_id, .. }
            | C::Typing { channel_id }
            | C::MergeMessage { channel_id, .. }
            | C::UpdateGroup { channel_id, .. }
            | C::History { channel_id, .. }
            | C::GetMessage { channel_id, .. }
            | C::PutKeyEnvelopes { channel_id, .. }
            | C::SearchMessages { channel_id, .. }
            | C::Replies { channel_id, .. }
            | C::PinnedMessages { channel_id }
            | C::GetKeyEnvelope { channel_id } => {
                to_channel(channel_of(*channel_id)?, caller, command)
            }
            C::CreateGuild { .. } => {
                let world = self.clone();
                Box::pin(async move { guild::create_guild(&world, &caller, command).await })
            }
            C::UpdateGuild { guild_id, .. }
            | C::DeleteGuild { guild_id }
            | C::GetGuild { guild_id }
            | C::CreateChannel { guild_id, .. }
            | C::CreateCategory { guild_id, .. }
            | C::DeleteCategory { guild_id, .. }
            | C::UpdateCategory { guild_id, .. }
            | C::CreateRole { guild_id, .. }
            | C::SetMemberRoles { guild_id, .. }
            | C::SelfRole { guild_id, .. }
            | C::SetNick { guild_id, .. }
            | C::CreateInvite { guild_id }
            | C::Ban { guild_id, .. }
            | C::ListBans { guild_id }
            | C::Timeout { guild_id, .. }
            | C::LeaveGuild { guild_id } => to_guild(self.guild_addr(*guild_id)?, caller, command),
            C::GetChannel { channel_id }
            | C::UpdateChannel { channel_id, .. }
            | C::DeleteChannel { channel_id } => {
                let channel = self
                    .store
                    .channel(*channel_id)?
                    .ok_or_else(|| GatewayError::not_found("Unknown channel"))?;
                match channel.guild_id {
                    Some(g) => to_guild(self.guild_addr(g)?, caller, command),
                    // DM and group channels are owned by their channel actor.
                    None => to_channel(channel_of(*channel_id)?, caller, command),
                }
            }
            C::CreateThread { parent_id: id, .. }
            | C::UpdateThread { thread_id: id, .. }
            | C::DeleteThread { thread_id: id }
            | C::ThreadMembership { thread_id: id, .. } => {
                // Threads live in guilds only; their guild actor owns them.
                let guild = self
                    .store
                    .channel(*id)?
                    .and_then(|c| c.guild_id)
                    .ok_or_else(|| GatewayError::not_found("Unknown channel"))?;
                to_guild(self.guild_addr(guild)?, caller, command)
            }
            C::UpdateRole { role_id, .. } | C::DeleteRole { role_id } => {
                let role = self
                    .store
                    .role(*role_id)?
                    .ok_or_else(|| GatewayError::not_found("Unknown role"))?;
                to_guild(self.guild_addr(role.guild_id)?, caller, command)
            }
            C::JoinInvite { code } => {
                let invite = self
                    .store
                    .invite(code)?
                    .ok_or_else(|| GatewayError::not_found("Unknown invite"))?;
                let world = self.clone();
                let user = caller.user.clone();
                Box::pin(async move { guild::join_guild(&world, user, invite.guild_id).await })
            }
            // The hub knows every session by user: it owns profiles, so
            // that a change reaches everyone who can see the user.
            C::OpenDm { .. }
            | C::CreateGroup { .. }
            | C::SetPresence { .. }
            | C::UpdateProfile { .. } => {
                let req = self.hub().send(HubCmd { caller, command });
                Box::pin(async move { req.await.map_err(mailbox_error)? })
            }
            // Uploads are owned by `files`, which tells the uploader's
            // sessions through the hub.
            C::DeleteFile { file_id } => {
                let (world, file_id) = (self.clone(), *file_id);
                Box::pin(async move { crate::files::delete(&world, &caller, file_id).await })
            }
            C::VoiceState { .. } | C::StreamStart { .. } | C::StreamEnd { .. } | C::Call(_) => {
                let req = self.voice().send(VoiceCmd { caller, command });
                Box::pin(async move { req.await.map_err(mailbox_error)? })
            }
        })
    }
}

fn to_channel(addr: Addr<ChannelActor>, caller: Caller, command: Command) -> ReplyFuture {
    let req = addr.send(ChannelCmd { caller, command });
    Box::pin(async move { req.await.map_err(mailbox_error)? })
}

fn to_guild(addr: Addr<GuildActor>, caller: Caller, command: Command) -> ReplyFuture {
    let req = addr.send(GuildCmd { caller, command });
    Box::pin(async move { req.await.map_err(mailbox_error)? })
}
