//! Switchboard's persistence: one sled database behind one [`Store`] type.
//!
//! Everything the actors keep across restarts goes through here, so the
//! storage engine can change without a dialect or an actor noticing.
//!
//! Encoding rules, chosen so old data stays readable:
//! - a value is one schema-version byte followed by msgpack in *map* form, so
//!   entity fields can be added later with `#[serde(default)]` and old rows
//!   still decode;
//! - keys are big-endian ids, and composite keys are plain concatenations
//!   (`channel ++ message`), so sled's byte order is time order and history
//!   pages are range scans.
//!
//! Writes that touch several trees run as one sled transaction, so a crash
//! never leaves an index pointing at half an entity. Cascading deletes are
//! the exception (they need scans, which transactions cannot do): they remove
//! leaves first and the root row last, so an interrupted delete can simply be
//! run again.

pub mod backup;
mod channels;
mod chatnet;
mod codec;
mod dms;
mod federation;
mod files;
mod flusher;
mod guilds;
mod history;
mod keys;
mod members;
mod messages;
mod nynja;
mod users;
mod v0;

#[cfg(test)]
mod testutil;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use switchboard_protocols::GatewayError;

pub(crate) use codec::*;
pub use federation::StoredBridge;
pub use files::{FileStats, StoredChunk};

pub use users::TokenRecord;

/// The version byte in front of every encoded value and stored in
/// `meta/schema_version`. Bumped only for changes `#[serde(default)]` cannot
/// absorb; an older binary then refuses the newer data instead of misreading it.
pub const SCHEMA_VERSION: u8 = 1;

const META_SCHEMA_KEY: &str = "schema_version";

/// When a write counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// A write is acknowledged only after an fsync covers it ([`Store::commit`]).
    Strict,
    /// sled flushes on a timer; a crash may lose the last `flush_every_ms`.
    Batched,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub durability: Durability,
    pub flush_every_ms: u64,
    pub cache_capacity_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("encode: {0}")]
    Encode(String),
    #[error("decode: {0}")]
    Decode(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unknown schema version {0}")]
    UnknownSchema(u8),
}

impl StoreError {
    /// sled refused the database because another process (a running
    /// server) holds its lock.
    pub fn is_locked(&self) -> bool {
        matches!(self, StoreError::Sled(sled::Error::Io(io)) if io.to_string().contains("lock"))
    }
}

impl From<StoreError> for GatewayError {
    /// Only conflicts mean something to a client; any other storage failure
    /// is logged here, once, and the client learns nothing about the disk.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => GatewayError::conflict(msg),
            other => {
                tracing::error!(error = %other, "storage error");
                GatewayError::internal("storage error")
            }
        }
    }
}

/// Handle to the database. Clones share one sled instance, one set of
/// counters and one group-commit thread.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Counts only: a handle's identity is the database, and dumping trees
/// into a log line would be both huge and a leak.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("users", &self.user_count())
            .field("guilds", &self.guild_count())
            .field("channels", &self.channel_count())
            .field("messages", &self.message_count())
            .finish_non_exhaustive()
    }
}

struct Inner {
    db: sled::Db,
    t: Trees,
    /// Every store access holds this shared; a backup holds it exclusive
    /// while it reads, so the snapshot sees either all or none of each
    /// multi-tree write (see docs/decisions.md, "Backups").
    barrier: parking_lot::RwLock<()>,
    counts: Counters,
    /// Present in Strict mode only. Dropped with the last `Store` clone,
    /// which disconnects the channel and ends the thread.
    flusher: Option<flusher::Flusher>,
}

struct Trees {
    users: sled::Tree,
    users_by_name: sled::Tree,
    passwords: sled::Tree,
    tokens: sled::Tree,
    account_bans: sled::Tree,
    guilds: sled::Tree,
    categories: sled::Tree,
    channels: sled::Tree,
    guild_channels: sled::Tree,
    roles: sled::Tree,
    guild_roles: sled::Tree,
    members: sled::Tree,
    user_guilds: sled::Tree,
    messages: sled::Tree,
    message_channel: sled::Tree,
    client_refs: sled::Tree,
    pins: sled::Tree,
    invites: sled::Tree,
    bans: sled::Tree,
    read_states: sled::Tree,
    dm_pairs: sled::Tree,
    user_dms: sled::Tree,
    channel_keys: sled::Tree,
    files: sled::Tree,
    file_refs: sled::Tree,
    chunks: sled::Tree,
    chunk_refs: sled::Tree,
    friendships: sled::Tree,
    friend_requests: sled::Tree,
    chatnet_users: sled::Tree,
    chatnet_outbox: sled::Tree,
    v0_msg_ids: sled::Tree,
    nynja_outbox: sled::Tree,
    fed_outbox: sled::Tree,
    fed_seen: sled::Tree,
    fed_mirrors: sled::Tree,
    fed_mirror_of: sled::Tree,
    fed_bridges: sled::Tree,
    meta: sled::Tree,
}

/// Entity counts for metrics. sled's `len()` is a full scan, so the trees
/// are counted once at open and then kept exact by counting only inserts
/// that created a key and removes that found one.
#[derive(Default)]
struct Counters {
    users: AtomicU64,
    guilds: AtomicU64,
    channels: AtomicU64,
    messages: AtomicU64,
    files: files::FileCounters,
}

impl Counters {
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    fn dec(c: &AtomicU64) {
        let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(1))
        });
    }
}

/// The trees, borrowed under the shared side of the backup barrier.
struct TreesGuard<'a> {
    _shared: parking_lot::RwLockReadGuard<'a, ()>,
    trees: &'a Trees,
}

impl std::ops::Deref for TreesGuard<'_> {
    type Target = Trees;
    fn deref(&self) -> &Trees {
        self.trees
    }
}

impl Store {
    /// Recursive, because store methods call one another while holding a
    /// guard: a fair read lock would deadlock them behind a waiting backup.
    fn t(&self) -> TreesGuard<'_> {
        TreesGuard {
            _shared: self.inner.barrier.read_recursive(),
            trees: &self.inner.t,
        }
    }

    pub fn open(cfg: &StoreConfig) -> Result<Store, StoreError> {
        let mut sled_cfg = sled::Config::new()
            .path(&cfg.path)
            .cache_capacity(cfg.cache_capacity_bytes);
        if cfg.durability == Durability::Batched {
            // At 0 sled's flush thread would spin without sleeping.
            sled_cfg = sled_cfg.flush_every_ms(Some(cfg.flush_every_ms.max(1)));
        }
        let db = sled_cfg.open()?;
        let open = |name: &str| db.open_tree(name);
        let t = Trees {
            users: open("users")?,
            users_by_name: open("users_by_name")?,
            passwords: open("passwords")?,
            tokens: open("tokens")?,
            account_bans: open("account_bans")?,
            guilds: open("guilds")?,
            categories: open("categories")?,
            channels: open("channels")?,
            guild_channels: open("guild_channels")?,
            roles: open("roles")?,
            guild_roles: open("guild_roles")?,
            members: open("members")?,
            user_guilds: open("user_guilds")?,
            messages: open("messages")?,
            message_channel: open("message_channel")?,
            client_refs: open("client_refs")?,
            pins: open("pins")?,
            invites: open("invites")?,
            bans: open("bans")?,
            read_states: open("read_states")?,
            dm_pairs: open("dm_pairs")?,
            user_dms: open("user_dms")?,
            channel_keys: open("channel_keys")?,
            files: open("files")?,
            file_refs: open("file_refs")?,
            chunks: open("chunks")?,
            chunk_refs: open("chunk_refs")?,
            friendships: open("friendships")?,
            friend_requests: open("friend_requests")?,
            chatnet_users: open("chatnet_users")?,
            chatnet_outbox: open("chatnet_outbox")?,
            v0_msg_ids: open("v0_msg_ids")?,
            nynja_outbox: open("nynja_outbox")?,
            fed_outbox: open("fed_outbox")?,
            fed_seen: open("fed_seen")?,
            fed_mirrors: open("fed_mirrors")?,
            fed_mirror_of: open("fed_mirror_of")?,
            fed_bridges: open("fed_bridges")?,
            meta: open("meta")?,
        };

        match t.meta.get(META_SCHEMA_KEY)? {
            Some(v) => match v.first() {
                Some(&found) if found > SCHEMA_VERSION => {
                    return Err(StoreError::UnknownSchema(found))
                }
                Some(_) => {}
                None => return Err(StoreError::Decode("empty schema_version".into())),
            },
            None => {
                t.meta.insert(META_SCHEMA_KEY, &[SCHEMA_VERSION][..])?;
            }
        }

        let counts = Counters {
            users: AtomicU64::new(t.users.len() as u64),
            guilds: AtomicU64::new(t.guilds.len() as u64),
            channels: AtomicU64::new(t.channels.len() as u64),
            messages: AtomicU64::new(t.messages.len() as u64),
            files: files::FileCounters::load(&t.files, &t.chunk_refs)?,
        };
        let flusher = match cfg.durability {
            Durability::Strict => Some(flusher::Flusher::start(db.clone())?),
            Durability::Batched => None,
        };
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                t,
                barrier: parking_lot::RwLock::new(()),
                counts,
                flusher,
            }),
        })
    }

    /// Resolves once every write made before this call is on disk (Strict),
    /// or at once (Batched). The request is queued when `commit` is called,
    /// not when the future is first polled, so callers may write, call
    /// `commit`, and await later without losing coverage.
    pub fn commit(&self) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let pending = match &self.inner.flusher {
            Some(f) => f.request(&self.inner.db),
            None => flusher::Pending::Ready(Ok(())),
        };
        pending.wait()
    }

    /// Flushes now, on this thread: for shutdown, when nothing async is left.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// How many group-commit fsyncs have run; with `commit` counts, shows how
    /// well writes are being batched.
    pub fn group_commit_flushes(&self) -> u64 {
        self.inner.flusher.as_ref().map_or(0, |f| f.flushes())
    }

    pub fn size_on_disk(&self) -> u64 {
        self.inner.db.size_on_disk().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot measure store size");
            0
        })
    }

    pub fn message_count(&self) -> u64 {
        self.inner.counts.messages.load(Ordering::Relaxed)
    }
    pub fn user_count(&self) -> u64 {
        self.inner.counts.users.load(Ordering::Relaxed)
    }
    pub fn guild_count(&self) -> u64 {
        self.inner.counts.guilds.load(Ordering::Relaxed)
    }
    pub fn channel_count(&self) -> u64 {
        self.inner.counts.channels.load(Ordering::Relaxed)
    }

    /// Raw bytes, no version byte: meta holds server keys and markers whose
    /// owners define their own formats.
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.t().meta.get(key)?.map(|v| v.to_vec()))
    }
    pub fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.t().meta.insert(key, value)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use switchboard_protocols::Id;

    #[test]
    fn open_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(&cfg(dir.path(), Durability::Batched)).unwrap();
            assert_eq!(s.meta_get("schema_version").unwrap(), Some(vec![1]));
            s.meta_put("schema_version", &[9]).unwrap();
        }
        let r = reopen_result(dir.path(), Durability::Batched);
        assert!(
            matches!(r, Err(StoreError::UnknownSchema(9))),
            "{:?}",
            r.map(|_| ())
        );
    }

    #[test]
    fn meta_round_trips_raw_bytes() {
        let (_d, s) = open_tmp();
        assert_eq!(s.meta_get("k").unwrap(), None);
        s.meta_put("k", b"\x00\xffraw").unwrap();
        assert_eq!(s.meta_get("k").unwrap(), Some(b"\x00\xffraw".to_vec()));
    }

    #[test]
    fn errors_map_to_gateway_kinds() {
        use switchboard_protocols::ErrorKind;
        let g: GatewayError = StoreError::Conflict("username taken".into()).into();
        assert_eq!(g.kind, ErrorKind::Conflict);
        assert_eq!(g.message, "username taken");
        let g: GatewayError = StoreError::Decode("x".into()).into();
        assert_eq!(g.kind, ErrorKind::Internal);
        assert_eq!(g.message, "storage error");
    }

    #[test]
    fn store_is_send_sync_and_commit_future_is_send() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Store>();
        fn assert_send<T: Send + 'static>(_: T) {}
        let (_d, s) = open_tmp();
        assert_send(s.commit());
    }

    #[test]
    fn counters_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(&cfg(dir.path(), Durability::Batched)).unwrap();
            s.create_user(&user(1, "a"), None).unwrap();
            s.create_user(&user(2, "b"), None).unwrap();
            s.put_guild(&guild(10, 1)).unwrap();
            s.put_channel(&channel(20, Some(10))).unwrap();
            for i in 0..5 {
                s.put_message(&message(20, 100 + i, 1)).unwrap();
            }
            s.put_message(&message(20, 100, 1)).unwrap(); // replace: not new
            s.delete_message(Id(20), Id(104)).unwrap();
            assert_eq!(s.message_count(), 4);
        }
        let s = reopen(dir.path(), Durability::Batched);
        assert_eq!(s.user_count(), 2);
        assert_eq!(s.guild_count(), 1);
        assert_eq!(s.channel_count(), 1);
        assert_eq!(s.message_count(), 4);
        assert!(s.size_on_disk() > 0);
    }
}
