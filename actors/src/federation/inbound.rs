//! `POST /federation/receive`: a peer's body, checked, then replayed as a
//! command of a non-login user `name@origin`, so every dialect sees it the
//! way it sees a local user's.
//!
//! The checks run in the profile's order of trust: size (413), the
//! signature over the raw bytes before anything is parsed (401; an unknown
//! `X-JAM-Domain` is 403), the JSON (400), `origin` against the header
//! (403), the time window (408), a repeated id (200, dropped), and the
//! bridge (403). Nothing changes unless every check passed.

use std::sync::Arc;

use serde_json::{json, Value};
use switchboard_protocols::command::{Command, NewMessage};
use switchboard_protocols::jam::codes::{self, code_of, http_status};
use switchboard_protocols::model::User;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

use super::wire::{self, field_id, field_text, FederationData, Incoming, Profile, Refusal};
use super::{users, Federation};
use crate::guild;
use crate::world::{Caller, Reply, World};

/// The answer to a federation request.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub status: u16,
    pub body: Value,
}

impl Received {
    fn ok() -> Received {
        Received {
            status: 200,
            body: json!({"ok": true}),
        }
    }

    pub fn fail(status: u16, code: &str, message: impl Into<String>) -> Received {
        Received {
            status,
            body: json!({"error": {"code": code, "message": message.into()}}),
        }
    }

    fn refused(r: Refusal) -> Received {
        Received::fail(r.status, r.code, r.message)
    }

    fn from_error(e: &GatewayError) -> Received {
        Received::fail(http_status(e.kind), code_of(e.kind), e.message.clone())
    }

    /// The 413 answer, also for a body cut off while reading it.
    pub fn too_large(limit: usize) -> Received {
        Received::fail(
            413,
            codes::TOO_LARGE,
            format!("Federation bodies are at most {limit} bytes"),
        )
    }
}

/// Checks and applies one body. `domain` and `signature` are the
/// `X-JAM-Domain` and `X-JAM-Signature` headers.
pub async fn receive(
    world: &Arc<World>,
    domain: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Received {
    let Some(fed) = world.federation().cloned() else {
        return Received::fail(403, codes::FORBIDDEN, "Federation is not enabled");
    };
    if body.len() > fed.max_body_bytes {
        return Received::too_large(fed.max_body_bytes);
    }
    let Some(domain) = domain.map(str::trim).filter(|d| !d.is_empty()) else {
        return Received::fail(401, codes::AUTH_FAILED, "Missing X-JAM-Domain header");
    };
    let Some(peer) = fed.peer(domain).cloned() else {
        return Received::fail(403, codes::FORBIDDEN, format!("Unknown domain {domain:?}"));
    };
    let Some(signature) = signature else {
        return Received::fail(401, codes::AUTH_FAILED, "Missing X-JAM-Signature header");
    };
    if !wire::verify(body, signature, &peer.key) {
        return Received::fail(401, codes::AUTH_FAILED, "Bad signature");
    }
    let data = match wire::parse_body(body) {
        Ok(d) => d,
        Err(r) => return Received::refused(r),
    };
    if let Err(r) = wire::check_envelope(&data, &peer.domain, &fed.domain, now_ms()) {
        return Received::refused(r);
    }
    let origin = peer.domain.as_str();
    match world.store.fed_seen(origin, &data.id) {
        Ok(true) => return Received::ok(),
        Ok(false) => {}
        Err(e) => return Received::from_error(&e.into()),
    }
    let id = data.id.clone();
    match apply(world, &fed, origin, data).await {
        Ok(()) => match world.store.fed_mark_seen(origin, &id) {
            Ok(()) => Received::ok(),
            Err(e) => Received::from_error(&e.into()),
        },
        Err(e) => Received::from_error(&e),
    }
}

/// Where a body's event happens.
enum Place {
    /// A local channel bridged with the origin.
    Channel(Id),
    /// A DM with this local user.
    Dm(Arc<User>),
}

fn place(world: &World, fed: &Federation, origin: &str, d: &Value) -> GatewayResult<Place> {
    if d.get("channel_id").is_some_and(|c| !c.is_null()) {
        let channel = field_id(d, "channel_id")?;
        if !fed.is_bridged(channel, origin) {
            return Err(GatewayError::forbidden(format!(
                "Channel {channel} is not bridged with {origin}"
            )));
        }
        return Ok(Place::Channel(channel));
    }
    let name = field_text(d, "recipient")
        .map_err(|_| GatewayError::invalid("Give `d.channel_id` or `d.recipient`"))?;
    match world.store.user_by_name(name)? {
        Some(u) if u.domain.is_none() => Ok(Place::Dm(world.user(u.id)?)),
        _ => Err(GatewayError::forbidden(format!("No local user {name:?}"))),
    }
}

fn caller(user: Arc<User>) -> Caller {
    Caller {
        user,
        session: None,
        reference: None,
    }
}

/// The local channel of `place` for `user`: the bridged channel (joining
/// its guild on first use), or the DM with the local user.
async fn channel_for(world: &Arc<World>, place: &Place, user: &Arc<User>) -> GatewayResult<Id> {
    match place {
        Place::Channel(channel) => {
            let guild_id = world
                .store
                .channel(*channel)?
                .and_then(|c| c.guild_id)
                .ok_or_else(|| GatewayError::not_found("Unknown channel"))?;
            if !world.guild_shared(guild_id)?.is_member(user.id) {
                guild::join_guild(world, user.clone(), guild_id).await?;
            }
            Ok(*channel)
        }
        Place::Dm(local) => {
            let open = Command::OpenDm {
                recipient: local.id,
            };
            match world.execute(caller(user.clone()), open).await? {
                Reply::Channel(c) => Ok(c.id),
                _ => Err(GatewayError::internal("unexpected reply to OpenDm")),
            }
        }
    }
}

/// The local mirror of the origin's message `remote` (in the body's
/// channel), with its channel and author: edits and deletes act as that
/// author.
fn mirror(
    world: &World,
    origin: &str,
    remote: Id,
    place: &Place,
) -> GatewayResult<(Id, Id, Arc<User>)> {
    let unknown = || GatewayError::not_found("Unknown message");
    let local = world
        .store
        .fed_mirror(origin, remote)?
        .ok_or_else(unknown)?;
    let channel = world.store.channel_of_message(local)?.ok_or_else(unknown)?;
    if matches!(place, Place::Channel(c) if *c != channel) {
        return Err(unknown());
    }
    let message = world.store.message(channel, local)?.ok_or_else(unknown)?;
    Ok((channel, local, world.user(message.author_id)?))
}

/// The local id a peer names a message by: its own id for its messages
/// (mirrored here), ours for ours.
fn local_message(world: &World, origin: &str, named: Id) -> GatewayResult<Id> {
    if let Some(local) = world.store.fed_mirror(origin, named)? {
        return Ok(local);
    }
    match world.store.fed_mirror_of(named)? {
        None => Ok(named),
        Some(_) => Err(GatewayError::not_found("Unknown message")),
    }
}

fn user(world: &World, origin: &str, p: &Profile) -> GatewayResult<Arc<User>> {
    users::remote_user(world, origin, &p.name, p.display_name.as_deref())
}

async fn apply(
    world: &Arc<World>,
    fed: &Federation,
    origin: &str,
    data: FederationData,
) -> GatewayResult<()> {
    // Everything is read and checked first: a refused body must not leave
    // a user or a membership behind.
    let incoming = wire::parse_event(data.op, &data.d, world.config.message_length)?;
    let place = place(world, fed, origin, &data.d)?;
    match incoming {
        Incoming::Create {
            remote,
            author,
            content,
            encrypted,
            nonce,
            reply_to,
        } => {
            let author = user(world, origin, &author)?;
            let channel_id = channel_for(world, &place, &author).await?;
            let reply_to = reply_to.and_then(|r| {
                local_message(world, origin, r)
                    .ok()
                    .filter(|l| world.store.message(channel_id, *l).ok().flatten().is_some())
            });
            let message = NewMessage {
                channel_id,
                content,
                reply_to,
                attachments: Vec::new(),
                encrypted,
                nonce,
                client_ref: Some(format!("federation:{origin}:{remote}")),
                untagged: false,
                binary: false,
            };
            match world
                .execute(caller(author), Command::SendMessage(message))
                .await?
            {
                Reply::Message(full) => {
                    world
                        .store
                        .fed_put_mirror(origin, remote, full.message.id)?;
                    world.store.commit().await?;
                    Ok(())
                }
                _ => Err(GatewayError::internal("unexpected reply to SendMessage")),
            }
        }
        Incoming::Update {
            remote,
            content,
            encrypted,
            nonce,
        } => {
            let (channel_id, message_id, author) = mirror(world, origin, remote, &place)?;
            let edit = Command::EditMessage {
                channel_id,
                message_id,
                content,
                encrypted,
                nonce,
            };
            world.execute(caller(author), edit).await.map(|_| ())
        }
        Incoming::Delete { remote } => {
            let (channel_id, message_id, author) = mirror(world, origin, remote, &place)?;
            let delete = Command::DeleteMessage {
                channel_id,
                message_id,
            };
            world.execute(caller(author), delete).await.map(|_| ())
        }
        Incoming::React {
            message,
            user: who,
            emoji,
            add,
        } => {
            let message_id = local_message(world, origin, message)?;
            let held_in = world
                .store
                .channel_of_message(message_id)?
                .ok_or_else(|| GatewayError::not_found("Unknown message"))?;
            if let Place::Channel(c) = place {
                if c != held_in {
                    return Err(GatewayError::not_found("Unknown message"));
                }
            }
            let who = user(world, origin, &who)?;
            let channel_id = channel_for(world, &place, &who).await?;
            let react = Command::React {
                channel_id,
                message_id,
                emoji,
                add,
            };
            world.execute(caller(who), react).await.map(|_| ())
        }
        Incoming::Typing { user: who } => {
            let who = user(world, origin, &who)?;
            let channel_id = channel_for(world, &place, &who).await?;
            let typing = Command::Typing { channel_id };
            world.execute(caller(who), typing).await.map(|_| ())
        }
    }
}
