//! NYNJA accounts: phone numbers bound to Switchboard users, registrations
//! waiting for their verification code, and how any user appears in NYNJA
//! (`<phone>_<roster id>`; users of other dialects show their username as
//! phone and their user id as roster id).

mod codes;

use std::sync::Arc;

use switchboard_protocols::model::User;
use switchboard_protocols::nynja::{self, ContactView};
use switchboard_protocols::Id;

use crate::world::World;

pub use codes::{
    AuthError, IssuedCode, NynjaContext, CODE_TTL, LIMIT_WINDOW, MAX_ATTEMPTS, MAX_CODES_PER_PHONE,
    MAX_PHONE_LEN, MAX_TRACKED, MAX_WRONG_PER_ADDRESS, MAX_WRONG_PER_PHONE, RECENT_CODES,
};

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
            max_packet: switchboard_protocols::nynja::mqtt::DEFAULT_MAX_PACKET,
        }
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
