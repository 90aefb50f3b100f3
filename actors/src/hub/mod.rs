//! The hub: every session by user, presence, direct delivery to users, and
//! direct-message channels (one per pair, created here so that two people
//! opening a DM at once get the same one).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use switchboard_protocols::command::Command;
use switchboard_protocols::event::{Envelope, Event};
use switchboard_protocols::model::{Channel, ChannelKind, Presence, Status};
use switchboard_protocols::time::now_ms;
use switchboard_protocols::Dialect;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

mod mailbox;

pub use mailbox::{
    Drained, Friendship, InviteStep, NynjaOnline, Relay, Subscribe, UsesChatnet, MAILBOX_BATCH,
};

use crate::audience::{Control, Revocation, SessionHandle};
use crate::voice::UserGone;
use crate::world::{Caller, Reply, World};

/// Guilds with more sessions online than this get no presence broadcasts
/// (as Discord does for large guilds): one login would otherwise cost a
/// message to every connected member.
pub const PRESENCE_FANOUT_LIMIT: usize = 1000;

pub struct Hub {
    world: Arc<World>,
    /// Every open connection, authenticated or not, for shutdown.
    connections: HashMap<u64, Recipient<Control>>,
    by_user: HashMap<Id, Vec<SessionHandle>>,
    status: HashMap<Id, Status>,
    /// Custom status lines, kept while the user is known to the hub.
    status_text: HashMap<Id, String>,
}

impl Hub {
    pub(crate) fn new(world: Arc<World>) -> Self {
        Hub {
            world,
            connections: HashMap::new(),
            by_user: HashMap::new(),
            status: HashMap::new(),
            status_text: HashMap::new(),
        }
    }

    fn deliver(&self, users: impl IntoIterator<Item = Id>, env: &Arc<Envelope>) -> u64 {
        let mut n = 0;
        let mut missed = Vec::new();
        for u in users {
            for s in self.by_user.get(&u).into_iter().flatten() {
                if s.offer(env) {
                    n += 1;
                } else if s.dialect == Dialect::Nynja {
                    // A NYNJA session that just closed: a persistent one
                    // must not lose what it was being sent.
                    missed.push(u);
                }
            }
        }
        if !missed.is_empty() {
            self.hold_nynja_regardless(&missed, env);
        }
        n
    }

    /// Sends a presence change to everyone who shares a guild or a DM with
    /// `user`, once per session.
    fn broadcast_presence(&self, user: Id, status: Status) {
        let env = Arc::new(Envelope::new(
            Event::Presence(Presence {
                user_id: user,
                status,
                text: self.status_text.get(&user).cloned().unwrap_or_default(),
            }),
            None,
        ));
        let mut seen: HashSet<u64> = HashSet::new();
        let mut delivered = 0u64;
        for g in self.world.store.guilds_of_user(user).unwrap_or_default() {
            let Ok(shared) = self.world.guild_shared(g) else {
                continue;
            };
            if shared.online_count() > PRESENCE_FANOUT_LIMIT {
                continue;
            }
            shared.for_each_viewer(None, |s| {
                if s.user_id != user && seen.insert(s.id) && s.offer(&env) {
                    delivered += 1;
                }
                true
            });
        }
        let mut partners = self.dm_partners(user);
        partners.extend(self.world.store.friends_of(user).unwrap_or_default());
        for u in partners {
            for s in self.by_user.get(&u).into_iter().flatten() {
                if seen.insert(s.id) && s.offer(&env) {
                    delivered += 1;
                }
            }
        }
        self.world.metrics.delivered(delivered);
    }

    fn dm_partners(&self, user: Id) -> HashSet<Id> {
        let store = &self.world.store;
        let mut out = HashSet::new();
        for c in store.dm_channels_of(user).unwrap_or_default() {
            if let Ok(Some(channel)) = store.channel(c) {
                out.extend(channel.recipients.into_iter().filter(|u| *u != user));
            }
        }
        out
    }

    fn status_of(&self, user: Id) -> Status {
        if !self.by_user.contains_key(&user) {
            return Status::Offline;
        }
        self.status.get(&user).copied().unwrap_or(Status::Online)
    }

    /// A group channel of the caller and `members` (at most 100 people).
    fn create_group(
        &mut self,
        caller: &Caller,
        name: &str,
        members: Vec<Id>,
    ) -> GatewayResult<Channel> {
        let me = caller.id();
        let mut recipients = vec![me];
        for m in members {
            self.world.user(m)?;
            if !recipients.contains(&m) {
                recipients.push(m);
            }
        }
        if recipients.len() > 100 {
            return Err(GatewayError::invalid("A group has at most 100 members"));
        }
        let name: String = name.trim().chars().take(100).collect();
        let channel = Channel {
            id: self.world.ids.next(),
            guild_id: None,
            category_id: None,
            name,
            kind: ChannelKind::Group,
            topic: String::new(),
            position: 0,
            encrypted: false,
            recipients,
            overwrites: Vec::new(),
            created_at: now_ms(),
            thread: None,
        };
        let store = &self.world.store;
        store.put_channel(&channel)?;
        for r in &channel.recipients {
            store.add_user_dm(*r, channel.id)?;
        }
        Ok(channel)
    }

    fn open_dm(&mut self, caller: &Caller, recipient: Id) -> GatewayResult<(Channel, bool)> {
        let me = caller.id();
        if recipient == me {
            return Err(GatewayError::invalid(
                "Cannot open a direct message with yourself",
            ));
        }
        self.world.user(recipient)?;
        let store = &self.world.store;
        if let Some(id) = store.dm_channel(me, recipient)? {
            if let Some(channel) = store.channel(id)? {
                return Ok((channel, false));
            }
        }
        let channel = Channel {
            id: self.world.ids.next(),
            guild_id: None,
            category_id: None,
            name: String::new(),
            kind: ChannelKind::Dm,
            topic: String::new(),
            position: 0,
            encrypted: false,
            recipients: vec![me, recipient],
            overwrites: Vec::new(),
            created_at: now_ms(),
            thread: None,
        };
        store.put_channel(&channel)?;
        store.put_dm_channel(me, recipient, channel.id)?;
        Ok((channel, true))
    }
}

/// Longest display name and avatar reference a profile may hold.
const MAX_DISPLAY_NAME: usize = 100;
const MAX_AVATAR: usize = 2048;

impl Hub {
    /// `Command::UpdateProfile`, written and cached: the profile as it is
    /// now, and as it was when something changed.
    fn update_profile(
        &self,
        caller: &Caller,
        display_name: Option<String>,
        avatar: Option<Option<String>>,
        public_key: Option<Option<String>>,
    ) -> GatewayResult<(
        switchboard_protocols::model::User,
        Option<switchboard_protocols::model::User>,
    )> {
        let before = (*self.world.user(caller.id())?).clone();
        let mut user = before.clone();
        if let Some(d) = display_name {
            let len = d.chars().count();
            if d.trim().is_empty() || len > MAX_DISPLAY_NAME {
                return Err(GatewayError::invalid(
                    "Display name must be 1 to 100 characters",
                ));
            }
            user.display_name = d;
        }
        if let Some(a) = avatar {
            if a.as_ref().is_some_and(|a| a.chars().count() > MAX_AVATAR) {
                return Err(GatewayError::invalid(format!(
                    "Avatar must be at most {MAX_AVATAR} characters"
                )));
            }
            user.avatar = a;
        }
        if let Some(k) = public_key {
            user.public_key = k;
        }
        if user == before {
            return Ok((user, None));
        }
        self.world.store.update_user(&user)?;
        self.world.cache_user(user.clone());
        Ok((user, Some(before)))
    }

    /// Who hears a user's profile change: their own sessions, everyone in
    /// their guilds, and their DM partners and friends, once per session.
    fn profile_audience(&self, user: Id) -> Vec<SessionHandle> {
        let mut seen: HashSet<u64> = HashSet::new();
        let mut out = Vec::new();
        for g in self.world.store.guilds_of_user(user).unwrap_or_default() {
            let Ok(shared) = self.world.guild_shared(g) else {
                continue;
            };
            shared.for_each_viewer(None, |s| {
                if seen.insert(s.id) {
                    out.push(s.clone());
                }
                true
            });
        }
        let mut users = self.dm_partners(user);
        users.extend(self.world.store.friends_of(user).unwrap_or_default());
        users.insert(user);
        for u in users {
            for s in self.by_user.get(&u).into_iter().flatten() {
                if seen.insert(s.id) {
                    out.push(s.clone());
                }
            }
        }
        out
    }
}

impl Actor for Hub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(65_536);
    }
}

/// A connection opened (before authentication).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Attach {
    pub id: u64,
    pub control: Recipient<Control>,
}

/// A connection closed; `user` if it had authenticated.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Detach {
    pub id: u64,
    pub user: Option<Id>,
}

/// A session authenticated. Answers the presences its client should
/// start with.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Online(pub SessionHandle);

#[derive(Message)]
#[rtype(result = "Vec<SessionHandle>")]
pub struct SessionsOf(pub Id);

#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverToUsers {
    pub users: Vec<Id>,
    pub env: Arc<Envelope>,
}

/// Presences of the given users that are not offline.
#[derive(Message)]
#[rtype(result = "Vec<Presence>")]
pub struct Presences(pub Vec<Id>);

/// Users with a connection in any dialect who do not appear offline.
#[derive(Message)]
#[rtype(result = "Vec<Id>")]
pub struct OnlineUsers;

impl Handler<OnlineUsers> for Hub {
    type Result = MessageResult<OnlineUsers>;
    fn handle(&mut self, _: OnlineUsers, _: &mut Self::Context) -> Self::Result {
        let mut users: Vec<Id> = self
            .by_user
            .keys()
            .copied()
            .filter(|u| self.status_of(*u) != Status::Offline)
            .collect();
        users.sort();
        MessageResult(users)
    }
}

/// Tells every connection the server is going away; answers how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct ShutdownAll;

#[derive(Message)]
#[rtype(result = "GatewayResult<Reply>")]
pub struct HubCmd {
    pub caller: Caller,
    pub command: Command,
}

impl Handler<Attach> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Attach, _: &mut Self::Context) {
        self.connections.insert(msg.id, msg.control);
    }
}

impl Handler<Detach> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Detach, _: &mut Self::Context) {
        self.connections.remove(&msg.id);
        let Some(user) = msg.user else { return };
        let Some(list) = self.by_user.get_mut(&user) else {
            return;
        };
        list.retain(|s| s.id != msg.id);
        if list.is_empty() {
            self.by_user.remove(&user);
            let was = self.status.remove(&user).unwrap_or(Status::Online);
            self.world.voice().do_send(UserGone(user));
            if was != Status::Offline {
                self.broadcast_presence(user, Status::Offline);
            }
        }
    }
}

impl Handler<Online> for Hub {
    type Result = ();
    fn handle(&mut self, Online(session): Online, _: &mut Self::Context) {
        let user = session.user_id;
        let first = !self.by_user.contains_key(&user);
        self.by_user.entry(user).or_default().push(session);
        if first {
            self.broadcast_presence(user, Status::Online);
        }
    }
}

impl Handler<SessionsOf> for Hub {
    type Result = MessageResult<SessionsOf>;
    fn handle(&mut self, SessionsOf(user): SessionsOf, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.by_user.get(&user).cloned().unwrap_or_default())
    }
}

impl Handler<DeliverToUsers> for Hub {
    type Result = ();
    fn handle(&mut self, msg: DeliverToUsers, _: &mut Self::Context) {
        self.hold_for_absent(&msg.users, &msg.env);
        let n = self.deliver(msg.users, &msg.env);
        self.world.metrics.delivered(n);
    }
}

impl Handler<Presences> for Hub {
    type Result = MessageResult<Presences>;
    fn handle(&mut self, Presences(users): Presences, _: &mut Self::Context) -> Self::Result {
        MessageResult(
            users
                .into_iter()
                .map(|u| Presence {
                    user_id: u,
                    status: self.status_of(u),
                    text: self.status_text.get(&u).cloned().unwrap_or_default(),
                })
                .filter(|p| p.status != Status::Offline)
                .collect(),
        )
    }
}

impl Handler<ShutdownAll> for Hub {
    type Result = usize;
    fn handle(&mut self, _: ShutdownAll, _: &mut Self::Context) -> usize {
        for c in self.connections.values() {
            c.do_send(Control::Shutdown);
        }
        self.connections.len()
    }
}

/// Closes every session of one user (the operator banned the account or
/// reset its password); answers how many there were.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct EndSessionsOf(pub Id, pub Revocation);

impl Handler<EndSessionsOf> for Hub {
    type Result = usize;
    fn handle(&mut self, EndSessionsOf(user, why): EndSessionsOf, _: &mut Self::Context) -> usize {
        let sessions = self.by_user.get(&user).map_or(&[][..], Vec::as_slice);
        for s in sessions {
            s.control.do_send(Control::Revoked(why));
        }
        sessions.len()
    }
}

impl Handler<HubCmd> for Hub {
    type Result = ResponseFuture<GatewayResult<Reply>>;

    fn handle(&mut self, msg: HubCmd, _: &mut Self::Context) -> Self::Result {
        let caller = msg.caller;
        match msg.command {
            Command::SetPresence { status, text } => {
                let me = caller.id();
                if text.as_ref().is_some_and(|t| t.chars().count() > 100) {
                    return Box::pin(async {
                        Err(GatewayError::invalid(
                            "Status text must be at most 100 characters",
                        ))
                    });
                }
                let before = (self.status_of(me), self.status_text.get(&me).cloned());
                self.status.insert(me, status);
                if let Some(t) = text {
                    self.status_text.insert(me, t);
                }
                let after = (self.status_of(me), self.status_text.get(&me).cloned());
                if before != after {
                    self.broadcast_presence(me, after.0);
                }
                Box::pin(async { Ok(Reply::Done) })
            }
            Command::CreateGroup { name, members } => {
                let created = self.create_group(&caller, &name, members);
                let commit = self.world.store.commit();
                let deliveries: Vec<SessionHandle> = match &created {
                    Ok(c) => c
                        .recipients
                        .iter()
                        .flat_map(|u| self.by_user.get(u).into_iter().flatten().cloned())
                        .collect(),
                    Err(_) => Vec::new(),
                };
                let env = created
                    .as_ref()
                    .ok()
                    .map(|c| caller.envelope(Event::ChannelCreate(c.clone())));
                Box::pin(async move {
                    commit.await?;
                    if let Some(env) = env {
                        for s in deliveries {
                            s.offer(&env);
                        }
                    }
                    created.map(Reply::Channel)
                })
            }
            Command::OpenDm { recipient } => {
                let opened = self.open_dm(&caller, recipient);
                let commit = self.world.store.commit();
                let mut deliveries = Vec::new();
                if let Ok((channel, true)) = &opened {
                    let env = caller.envelope(Event::ChannelCreate(channel.clone()));
                    for u in &channel.recipients {
                        for s in self.by_user.get(u).into_iter().flatten() {
                            deliveries.push(s.clone());
                        }
                    }
                    let env2 = env.clone();
                    return Box::pin(async move {
                        commit.await?;
                        for s in deliveries {
                            s.offer(&env2);
                        }
                        let (channel, _) = opened?;
                        Ok(Reply::Channel(channel))
                    });
                }
                Box::pin(async move { opened.map(|(c, _)| Reply::Channel(c)) })
            }
            Command::UpdateProfile {
                display_name,
                avatar,
                public_key,
            } => {
                let updated = self.update_profile(&caller, display_name, avatar, public_key);
                let commit = self.world.store.commit();
                let (user, env, audience) = match updated {
                    Err(e) => return Box::pin(async move { Err(e) }),
                    Ok((user, None)) => (user, None, Vec::new()),
                    Ok((user, Some(before))) => {
                        let audience = self.profile_audience(user.id);
                        let event = Event::UserUpdate {
                            user: user.clone(),
                            before,
                        };
                        (user, Some(caller.envelope(event)), audience)
                    }
                };
                let world = self.world.clone();
                Box::pin(async move {
                    commit.await?;
                    if let Some(env) = env {
                        let n = audience.iter().filter(|s| s.offer(&env)).count();
                        world.metrics.delivered(n as u64);
                    }
                    Ok(Reply::User(user))
                })
            }
            other => Box::pin(async move {
                Err(GatewayError::internal(format!(
                    "hub cannot handle {other:?}"
                )))
            }),
        }
    }
}
