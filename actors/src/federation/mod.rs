//! Federation with other Switchboard servers (JAM profile §4).
//!
//! - [`keys`]: the server's Ed25519 identity.
//! - [`wire`]: the `FederationData` body and its signature.
//! - [`outbound`]: which events of a channel go to which peer, written to
//!   the durable outbox in the same commit as the event itself.
//! - [`courier`]: the actor that empties the outbox, in order per peer,
//!   with exponential backoff.
//! - [`inbound`]: `POST /federation/receive`: checks, then the event is
//!   replayed as a command of a non-login user `name@origin`.
//!
//! [`Federation`] is the shared part: peers, bridges and delivery counters,
//! read by channel actors, the courier, REST and the admin endpoint.

pub mod courier;
pub mod inbound;
pub mod keys;
pub(crate) mod outbound;
pub mod users;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use actix::Addr;
use ed25519_dalek::{SigningKey, VerifyingKey};
use parking_lot::{Mutex, RwLock};
use switchboard_protocols::model::ChannelKind;
use switchboard_protocols::permissions as perm;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

use crate::store::StoredBridge;
use crate::world::World;
use courier::{Courier, Wake};

/// A peer as configured (`[[federation.peers]]`).
#[derive(Debug, Clone)]
pub struct PeerSettings {
    pub domain: String,
    pub url: String,
    pub public_key: [u8; 32],
}

/// A bridge as configured: `channel` is an id or a default-guild channel
/// name, resolved at start.
#[derive(Debug, Clone)]
pub struct BridgeSettings {
    pub channel: String,
    pub peer: String,
    pub remote_channel: Id,
}

#[derive(Debug, Clone, Default)]
pub struct FederationSettings {
    pub peers: Vec<PeerSettings>,
    pub bridges: Vec<BridgeSettings>,
    pub max_body_bytes: usize,
}

/// Delivery counters of one peer, for the admin endpoint.
#[derive(Debug, Default)]
pub struct PeerStats {
    /// Bodies in the outbox.
    pub queued: AtomicI64,
    /// Bodies the peer accepted (200).
    pub delivered: AtomicU64,
    /// Attempts that failed (network, a non-200 answer).
    pub failures: AtomicU64,
    /// Bodies given up on because the peer refused them for good.
    pub dropped: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

impl PeerStats {
    pub(crate) fn error(&self, message: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock() = Some(message);
    }
}

#[derive(Debug)]
pub struct Peer {
    /// Lower case.
    pub domain: String,
    /// Where bodies are POSTed: `<url>/federation/receive`.
    pub endpoint: String,
    pub key: VerifyingKey,
    pub stats: PeerStats,
}

/// One end of a bridge, seen from its local channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub peer: String,
    pub remote_channel: Id,
    /// From `config.toml` (REST cannot remove it).
    pub configured: bool,
}

pub struct Federation {
    /// This server's domain, lower case.
    pub domain: String,
    key: SigningKey,
    peers: Vec<Arc<Peer>>,
    /// Local channel id → its bridges.
    bridges: RwLock<HashMap<Id, Vec<Bridge>>>,
    pub max_body_bytes: usize,
    courier: OnceLock<Addr<Courier>>,
}

impl Federation {
    /// Builds the peers and resolves the bridges (configured ones first,
    /// then those made over REST).
    pub(crate) fn new(world: &World, key: SigningKey) -> GatewayResult<Federation> {
        let settings = &world.config.federation;
        let mut peers = Vec::new();
        for p in &settings.peers {
            let key = VerifyingKey::from_bytes(&p.public_key).map_err(|_| {
                GatewayError::invalid(format!("federation peer {}: bad public key", p.domain))
            })?;
            let domain = p.domain.to_ascii_lowercase();
            let stats = PeerStats::default();
            stats.queued.store(
                world.store.fed_outbox_len(&domain) as i64,
                Ordering::Relaxed,
            );
            peers.push(Arc::new(Peer {
                endpoint: format!("{}/federation/receive", p.url.trim_end_matches('/')),
                domain,
                key,
                stats,
            }));
        }
        let fed = Federation {
            domain: world.config.domain.to_ascii_lowercase(),
            key,
            peers,
            bridges: RwLock::new(HashMap::new()),
            max_body_bytes: settings.max_body_bytes,
            courier: OnceLock::new(),
        };
        for b in &settings.bridges {
            let channel = resolve_channel(world, &b.channel)?;
            fed.insert_bridge(channel, &b.peer, b.remote_channel, true);
        }
        for b in world.store.fed_bridges()? {
            if fed.peer(&b.peer).is_some() {
                fed.insert_bridge(b.channel, &b.peer, b.remote_channel, false);
            }
        }
        Ok(fed)
    }

    pub(crate) fn set_courier(&self, addr: Addr<Courier>) {
        let _ = self.courier.set(addr);
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub fn public_key(&self) -> String {
        keys::public_key_b64(&self.key)
    }

    pub fn peers(&self) -> &[Arc<Peer>] {
        &self.peers
    }

    /// A configured peer by domain (any case).
    pub fn peer(&self, domain: &str) -> Option<&Arc<Peer>> {
        self.peers
            .iter()
            .find(|p| p.domain.eq_ignore_ascii_case(domain))
    }

    /// Tells the courier `peer` has new bodies.
    pub(crate) fn wake(&self, peer: &str) {
        if let Some(c) = self.courier.get() {
            c.do_send(Wake(peer.to_string()));
        }
    }

    fn insert_bridge(&self, channel: Id, peer: &str, remote_channel: Id, configured: bool) {
        let mut map = self.bridges.write();
        let list = map.entry(channel).or_default();
        let peer = peer.to_ascii_lowercase();
        list.retain(|b| b.peer != peer);
        list.push(Bridge {
            peer,
            remote_channel,
            configured,
        });
    }

    /// The bridges of a local channel.
    pub fn bridges_of(&self, channel: Id) -> Vec<Bridge> {
        self.bridges
            .read()
            .get(&channel)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether `channel` is bridged with `peer`.
    pub fn is_bridged(&self, channel: Id, peer: &str) -> bool {
        self.bridges
            .read()
            .get(&channel)
            .is_some_and(|l| l.iter().any(|b| b.peer.eq_ignore_ascii_case(peer)))
    }

    /// Bridges `channel` with `remote_channel` on `peer`, for a caller who
    /// may manage the channel. Persisted.
    pub fn add_bridge(
        &self,
        world: &World,
        user: Id,
        channel: Id,
        peer: &str,
        remote_channel: Id,
    ) -> GatewayResult<Bridge> {
        bridgeable(world, user, channel)?;
        let peer = self
            .peer(peer)
            .ok_or_else(|| GatewayError::invalid(format!("{peer:?} is not a configured peer")))?;
        world.store.fed_put_bridge(&StoredBridge {
            channel,
            peer: peer.domain.clone(),
            remote_channel,
        })?;
        self.insert_bridge(channel, &peer.domain, remote_channel, false);
        Ok(Bridge {
            peer: peer.domain.clone(),
            remote_channel,
            configured: false,
        })
    }

    /// Removes a bridge made over REST.
    pub fn remove_bridge(
        &self,
        world: &World,
        user: Id,
        channel: Id,
        peer: &str,
    ) -> GatewayResult<()> {
        bridgeable(world, user, channel)?;
        let peer = peer.to_ascii_lowercase();
        let mut map = self.bridges.write();
        let Some(list) = map.get_mut(&channel) else {
            return Err(GatewayError::not_found("Unknown bridge"));
        };
        match list.iter().find(|b| b.peer == peer) {
            None => return Err(GatewayError::not_found("Unknown bridge")),
            Some(b) if b.configured => {
                return Err(GatewayError::forbidden(
                    "This bridge is in config.toml; remove it there",
                ))
            }
            Some(_) => {}
        }
        world.store.fed_remove_bridge(channel, &peer)?;
        list.retain(|b| b.peer != peer);
        Ok(())
    }

    /// The bridges of `channel`, for someone who can view it.
    pub fn list_bridges(&self, world: &World, user: Id, channel: Id) -> GatewayResult<Vec<Bridge>> {
        if world.channel_bits(user, channel)? & perm::VIEW_CHANNEL == 0 {
            return Err(GatewayError::not_found("Unknown channel"));
        }
        Ok(self.bridges_of(channel))
    }
}

/// Guild text channels only, and MANAGE_CHANNELS on them.
fn bridgeable(world: &World, user: Id, channel: Id) -> GatewayResult<()> {
    let bits = world.channel_bits(user, channel)?;
    if bits & perm::VIEW_CHANNEL == 0 {
        return Err(GatewayError::not_found("Unknown channel"));
    }
    let c = world
        .store
        .channel(channel)?
        .ok_or_else(|| GatewayError::not_found("Unknown channel"))?;
    if c.guild_id.is_none() || c.kind != ChannelKind::Text || c.thread.is_some() {
        return Err(GatewayError::invalid(
            "Only guild text channels can be bridged",
        ));
    }
    if bits & perm::MANAGE_CHANNELS == 0 {
        return Err(GatewayError::forbidden(
            "Missing permission MANAGE_CHANNELS",
        ));
    }
    Ok(())
}

/// A configured bridge's `channel`: an id, or a text channel of the
/// default guild by name.
fn resolve_channel(world: &World, channel: &str) -> GatewayResult<Id> {
    if let Ok(id) = channel.parse::<u64>() {
        return match world.store.channel(Id(id))? {
            Some(c) => Ok(c.id),
            None => Err(GatewayError::invalid(format!(
                "federation bridge: no channel {id}"
            ))),
        };
    }
    let found = match world.default_guild() {
        Some(g) => world
            .store
            .channels_of(g)?
            .into_iter()
            .find(|c| c.kind == ChannelKind::Text && c.name == channel),
        None => None,
    };
    found.map(|c| c.id).ok_or_else(|| {
        GatewayError::invalid(format!(
            "federation bridge: no text channel {channel:?} in the default guild"
        ))
    })
}
