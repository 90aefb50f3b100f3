//! NYNJA accounts: phone numbers bound to Switchboard users, registrations
//! waiting for their verification code, and how any user appears in NYNJA
//! (`<phone>_<roster id>`; users of other dialects show their username as
//! phone and their user id as roster id).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;
use switchboard_protocols::model::User;
use switchboard_protocols::nynja::{self, ContactView};
use switchboard_protocols::time::now_ms;
use switchboard_protocols::Id;
use tracing::info;

use crate::world::World;

/// How registration codes are checked (there is no SMS provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every registration accepts this code (development, tests).
    Fixed(String),
    /// A random 6-digit code per registration, written to the log.
    Log,
}

#[derive(Debug, Clone)]
pub struct NynjaConfig {
    pub verification: Verification,
    pub max_packet: usize,
}

impl Default for NynjaConfig {
    fn default() -> Self {
        NynjaConfig {
            verification: Verification::Log,
            max_packet: switchboard_protocols::mqtt::DEFAULT_MAX_PACKET,
        }
    }
}

/// Most wrong codes one registration takes.
const MAX_ATTEMPTS: u32 = 5;

struct Pending {
    code: String,
    attempts: u32,
}

/// Codes the admin dashboard lists in `log` mode: the operator reads them
/// there instead of in the log, so only the last few are kept.
pub const RECENT_CODES: usize = 20;

/// A code issued in `log` mode.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub phone: String,
    pub code: String,
    pub issued_at_ms: i64,
    /// Still waiting for the client to send it.
    pub pending: bool,
}

/// Shared by every NYNJA session.
pub struct NynjaContext {
    pub config: NynjaConfig,
    pending: Mutex<HashMap<String, Pending>>,
    recent: Mutex<VecDeque<IssuedCode>>,
}

/// Why a verification failed, in the reference's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    SessionNotFound,
    InvalidSmsCode,
    AttemptsExpired,
}

impl VerifyError {
    pub fn atom(self) -> &'static str {
        match self {
            VerifyError::SessionNotFound => "session_not_found",
            VerifyError::InvalidSmsCode => "invalid_sms_code",
            VerifyError::AttemptsExpired => "attempts_expired",
        }
    }
}

impl NynjaContext {
    pub fn new(config: NynjaConfig) -> Arc<NynjaContext> {
        Arc::new(NynjaContext {
            config,
            pending: Mutex::new(HashMap::new()),
            recent: Mutex::new(VecDeque::new()),
        })
    }

    /// The last codes issued, newest first, with whether each is still
    /// awaited; `None` unless codes go to the log (a fixed code is not news).
    pub fn recent_codes(&self) -> Option<Vec<IssuedCode>> {
        if self.config.verification != Verification::Log {
            return None;
        }
        let pending = self.pending.lock();
        let recent = self.recent.lock();
        Some(
            recent
                .iter()
                .rev()
                .map(|c| IssuedCode {
                    pending: pending.get(&c.phone).is_some_and(|p| p.code == c.code),
                    ..c.clone()
                })
                .collect(),
        )
    }

    /// Starts (or restarts) a registration for `phone`.
    pub fn register(&self, phone: &str) {
        let code = match &self.config.verification {
            Verification::Fixed(c) => c.clone(),
            Verification::Log => {
                let c = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
                info!(phone, code = %c, "nynja verification code");
                let mut recent = self.recent.lock();
                if recent.len() >= RECENT_CODES {
                    recent.pop_front();
                }
                recent.push_back(IssuedCode {
                    phone: phone.to_string(),
                    code: c.clone(),
                    issued_at_ms: now_ms(),
                    pending: true,
                });
                c
            }
        };
        self.pending
            .lock()
            .insert(phone.to_string(), Pending { code, attempts: 0 });
    }

    /// Checks a code; the registration ends when it matches.
    pub fn verify(&self, phone: &str, code: &str) -> Result<(), VerifyError> {
        let mut pending = self.pending.lock();
        let Some(p) = pending.get_mut(phone) else {
            return Err(VerifyError::SessionNotFound);
        };
        if p.attempts >= MAX_ATTEMPTS {
            pending.remove(phone);
            return Err(VerifyError::AttemptsExpired);
        }
        if p.code != code {
            p.attempts += 1;
            return Err(VerifyError::InvalidSmsCode);
        }
        pending.remove(phone);
        Ok(())
    }
}

fn phone_key(phone: &str) -> String {
    format!("nynja/phone/{phone}")
}

fn user_key(user: Id) -> String {
    format!("nynja/user/{user}")
}

/// The user a phone number is bound to.
pub fn user_of_phone(world: &World, phone: &str) -> Option<Id> {
    let bytes = world.store.meta_get(&phone_key(phone)).ok().flatten()?;
    Id::from_be_slice(&bytes)
}

/// Binds `phone` to `user`.
pub fn bind_phone(world: &World, phone: &str, user: Id) -> Result<(), crate::store::StoreError> {
    world
        .store
        .meta_put(&phone_key(phone), &user.to_be_bytes())?;
    world.store.meta_put(&user_key(user), phone.as_bytes())
}

/// A user's phone: the bound number, or their username.
pub fn phone_of(world: &World, user: &User) -> String {
    world
        .store
        .meta_get(&user_key(user.id))
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| user.username.clone())
}

/// `<phone>_<user id>`.
pub fn phone_roster_of(world: &World, user: &User) -> String {
    nynja::phone_roster(&phone_of(world, user), user.id.0)
}

/// A user by phone_roster id, phone, or username.
pub fn user_named(world: &World, s: &str) -> Option<Arc<User>> {
    if let Some(id) = nynja::roster_id_of(s) {
        if let Ok(u) = world.user(Id(id)) {
            return Some(u);
        }
    }
    if let Some(id) = user_of_phone(world, s) {
        return world.user(id).ok();
    }
    let u = world.store.user_by_name(s).ok().flatten()?;
    world.user(u.id).ok()
}

/// How `user` shows as a Contact.
pub fn contact_view(world: &World, user: &User, online: bool, status: &str) -> ContactView {
    ContactView {
        phone_roster: phone_roster_of(world, user),
        avatar: user.avatar.clone(),
        names: user.display_name.clone(),
        surnames: String::new(),
        nick: nick_of(world, user),
        created_ms: user.created_at,
        online,
        status: status.to_string(),
    }
}

fn persistent_key(user: Id) -> String {
    format!("nynja/persistent/{user}")
}

/// The ClientId of `user`'s persistent NYNJA session, if it has one.
pub fn persistent_client(world: &World, user: Id) -> Option<String> {
    let bytes = world.store.meta_get(&persistent_key(user)).ok().flatten()?;
    String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
}

/// Records (or, with `None`, forgets) `user`'s persistent session.
pub fn set_persistent_client(world: &World, user: Id, client_id: Option<&str>) {
    let _ = world
        .store
        .meta_put(&persistent_key(user), client_id.unwrap_or("").as_bytes());
}

/// The NYNJA room id of a channel: the id a NYNJA client gave it, or the
/// channel id.
pub fn room_id_of(world: &World, channel: Id) -> String {
    world
        .store
        .meta_get(&format!("nynja/roomid/{channel}"))
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| channel.to_string())
}

/// The channel behind a NYNJA room id.
pub fn channel_of_room(world: &World, room: &str) -> Option<Id> {
    if let Some(b) = world
        .store
        .meta_get(&format!("nynja/room/{room}"))
        .ok()
        .flatten()
    {
        return Id::from_be_slice(&b);
    }
    room.parse().ok().map(Id)
}

/// Names a channel with the room id a NYNJA client chose.
pub fn bind_room(world: &World, room: &str, channel: Id) -> Result<(), crate::store::StoreError> {
    world
        .store
        .meta_put(&format!("nynja/room/{room}"), &channel.to_be_bytes())?;
    world
        .store
        .meta_put(&format!("nynja/roomid/{channel}"), room.as_bytes())
}

/// The nick a NYNJA user chose (`Roster nick`), else the username.
pub fn nick_of(world: &World, user: &User) -> String {
    world
        .store
        .meta_get(&format!("nynja/nick/{}", user.id))
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| user.username.clone())
}

/// Sets a NYNJA nick: 2–32 letters, digits or `_`.
pub fn set_nick(world: &World, user: Id, nick: &str) -> Result<(), &'static str> {
    let ok = (2..=32).contains(&nick.chars().count())
        && nick.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err("invalid_nick");
    }
    world
        .store
        .meta_put(&format!("nynja/nick/{user}"), nick.as_bytes())
        .map_err(|_| "nick")
}
