//! Uploaded files: a record per file and its chunks, each chunk stored once
//! under the SHA-256 of its raw bytes with a reference count.
//!
//! Trees:
//! - `files`: file id → [`FileRecord`].
//! - `chunks`: sha256 → flag byte (0 raw, 1 zstd) ‖ bytes.
//! - `chunk_refs`: sha256 → refcount (u64) ‖ stored length (u32) ‖ raw
//!   length (u32), small so that stats are counted at open without reading
//!   chunk data.
//! - `file_refs`: file id ‖ channel id ‖ message id → (), the messages a
//!   file is attached to (for download permissions).
//! - `meta` key `usage/<user id>` (decimal) → u64 big-endian: the bytes of
//!   the uploads that user keeps stored, each file at its full size (before
//!   deduplication), for `limits.user_storage_bytes`. `meta` key
//!   `usage_counted` says the usage keys are complete; a database written
//!   before they existed has them counted from its file records once, at
//!   the first file operation.
//!
//! A file, all its chunk references and its uploader's usage change in one
//! transaction, so a crash never leaves a chunk counted for a file that
//! does not exist, nor a user charged for a file they no longer have.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sled::transaction::{ConflictableTransactionError, Transactional};
use switchboard_protocols::model::FileRecord;
use switchboard_protocols::Id;

use super::{abort, decode, decode_opt, encode, tx, Store, StoreError};

const RAW: u8 = 0;
const ZSTD: u8 = 1;

/// A chunk as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChunk {
    pub compressed: bool,
    pub data: Vec<u8>,
}

impl StoredChunk {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 1);
        out.push(if self.compressed { ZSTD } else { RAW });
        out.extend_from_slice(&self.data);
        out
    }

    fn from_bytes(bytes: &[u8]) -> Result<StoredChunk, StoreError> {
        match bytes.split_first() {
            Some((&RAW, data)) => Ok(StoredChunk {
                compressed: false,
                data: data.to_vec(),
            }),
            Some((&ZSTD, data)) => Ok(StoredChunk {
                compressed: true,
                data: data.to_vec(),
            }),
            _ => Err(StoreError::Decode("bad chunk flag".into())),
        }
    }
}

/// A chunk's reference record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChunkRef {
    count: u64,
    stored: u32,
    raw: u32,
}

impl ChunkRef {
    fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.count.to_be_bytes());
        out[8..12].copy_from_slice(&self.stored.to_be_bytes());
        out[12..].copy_from_slice(&self.raw.to_be_bytes());
        out
    }

    fn from_bytes(b: &[u8]) -> Result<ChunkRef, StoreError> {
        let bad = || StoreError::Decode("bad chunk ref".into());
        let count = b.get(..8).and_then(|s| s.try_into().ok()).ok_or_else(bad)?;
        let stored = b
            .get(8..12)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)?;
        let raw = b
            .get(12..16)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)?;
        Ok(ChunkRef {
            count: u64::from_be_bytes(count),
            stored: u32::from_be_bytes(stored),
            raw: u32::from_be_bytes(raw),
        })
    }
}

/// What the file store holds, for the admin endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    pub files: u64,
    /// Sum of the sizes of all files, as uploaded.
    pub logical_bytes: u64,
    /// Raw size of the distinct chunks: what is left after deduplication.
    pub unique_bytes: u64,
    /// Bytes the chunks occupy as stored (after compression).
    pub stored_bytes: u64,
    pub chunks: u64,
}

#[derive(Default)]
pub(super) struct FileCounters {
    files: AtomicU64,
    logical: AtomicU64,
    unique: AtomicU64,
    stored: AtomicU64,
    chunks: AtomicU64,
    /// The `usage/` keys are known to be complete (see the module doc).
    usage_counted: AtomicBool,
    /// Held while they are counted, so no file changes meanwhile.
    usage_lock: parking_lot::Mutex<()>,
}

/// Signed changes to the counters made by one transaction.
#[derive(Default)]
struct Delta {
    files: i64,
    logical: i64,
    unique: i64,
    stored: i64,
    chunks: i64,
}

fn add(c: &AtomicU64, d: i64) {
    let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_add_signed(d))
    });
}

impl FileCounters {
    pub(super) fn load(files: &sled::Tree, refs: &sled::Tree) -> Result<FileCounters, StoreError> {
        let c = FileCounters::default();
        for kv in files.iter() {
            let record: FileRecord = decode(&kv?.1)?;
            c.files.fetch_add(1, Ordering::Relaxed);
            c.logical.fetch_add(record.size, Ordering::Relaxed);
        }
        for kv in refs.iter() {
            let r = ChunkRef::from_bytes(&kv?.1)?;
            c.chunks.fetch_add(1, Ordering::Relaxed);
            c.unique.fetch_add(r.raw as u64, Ordering::Relaxed);
            c.stored.fetch_add(r.stored as u64, Ordering::Relaxed);
        }
        Ok(c)
    }

    fn apply(&self, d: &Delta) {
        add(&self.files, d.files);
        add(&self.logical, d.logical);
        add(&self.unique, d.unique);
        add(&self.stored, d.stored);
        add(&self.chunks, d.chunks);
    }
}

const USAGE_PREFIX: &str = "usage/";
const USAGE_COUNTED: &str = "usage_counted";

fn usage_key(user: Id) -> String {
    format!("{USAGE_PREFIX}{}", user.0)
}

fn usage_from_bytes(b: &[u8]) -> Result<u64, StoreError> {
    b.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Decode("bad storage usage".into()))
}

fn file_ref_key(file: Id, channel: Id, message: Id) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&file.to_be_bytes());
    k[8..16].copy_from_slice(&channel.to_be_bytes());
    k[16..].copy_from_slice(&message.to_be_bytes());
    k
}

impl Store {
    pub fn file_stats(&self) -> FileStats {
        let c = &self.inner.counts.files;
        FileStats {
            files: c.files.load(Ordering::Relaxed),
            logical_bytes: c.logical.load(Ordering::Relaxed),
            unique_bytes: c.unique.load(Ordering::Relaxed),
            stored_bytes: c.stored.load(Ordering::Relaxed),
            chunks: c.chunks.load(Ordering::Relaxed),
        }
    }

    pub fn chunk_exists(&self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.t().chunk_refs.contains_key(hash)?)
    }

    pub fn chunk(&self, hash: &[u8; 32]) -> Result<Option<StoredChunk>, StoreError> {
        self.inner
            .t
            .chunks
            .get(hash)?
            .map(|b| StoredChunk::from_bytes(&b))
            .transpose()
    }

    /// The bytes of the uploads `user` keeps stored, each at its full size
    /// (a file stored twice counts twice, deduplication or not).
    pub fn user_storage(&self, user: Id) -> Result<u64, StoreError> {
        self.ensure_usage_counted()?;
        match self.t().meta.get(usage_key(user))? {
            Some(b) => usage_from_bytes(&b),
            None => Ok(0),
        }
    }

    /// Counts every user's usage from the file records, once, in a
    /// database that has files but no usage keys yet. Every file write
    /// waits for it, so none is missed or counted twice.
    fn ensure_usage_counted(&self) -> Result<(), StoreError> {
        let c = &self.inner.counts.files;
        if c.usage_counted.load(Ordering::Acquire) {
            return Ok(());
        }
        let _only = c.usage_lock.lock();
        if c.usage_counted.load(Ordering::Acquire) {
            return Ok(());
        }
        let t = self.t();
        if !t.meta.contains_key(USAGE_COUNTED)? {
            let mut sums: HashMap<Id, u64> = HashMap::new();
            for kv in t.files.iter() {
                let record: FileRecord = decode(&kv?.1)?;
                let sum = sums.entry(record.uploader_id).or_default();
                *sum = sum.saturating_add(record.size);
            }
            let mut batch = sled::Batch::default();
            for k in t.meta.scan_prefix(USAGE_PREFIX).keys() {
                batch.remove(k?);
            }
            for (user, bytes) in sums {
                batch.insert(usage_key(user).as_bytes(), &bytes.to_be_bytes()[..]);
            }
            batch.insert(USAGE_COUNTED, &[1u8][..]);
            t.meta.apply_batch(batch)?;
        }
        c.usage_counted.store(true, Ordering::Release);
        Ok(())
    }

    /// Stores a file record, takes a reference on each of its chunks and
    /// adds the file's size to its uploader's usage, all in one write.
    /// `new_chunks` holds the stored form (and raw length) of every chunk
    /// the caller found missing; a chunk that is neither stored nor in
    /// `new_chunks` (deleted meanwhile) fails with `Conflict`, and the
    /// caller retries with every chunk prepared.
    ///
    /// With `quota` above 0, a file that would take its uploader's usage
    /// past `quota` bytes is refused: `Ok(false)`, and nothing is written.
    pub fn put_file(
        &self,
        record: &FileRecord,
        new_chunks: &HashMap<[u8; 32], (StoredChunk, u32)>,
        quota: u64,
    ) -> Result<bool, StoreError> {
        self.ensure_usage_counted()?;
        let t = &self.t();
        let value = encode(record)?;
        let hashes: Vec<[u8; 32]> = record.chunk_hashes().collect();
        let usage = usage_key(record.uploader_id);
        let delta = tx((&t.files, &t.chunks, &t.chunk_refs, &t.meta).transaction(
            |(files, chunks, refs, meta)| {
                let mut d = Delta {
                    files: 1,
                    logical: record.size as i64,
                    ..Delta::default()
                };
                if files.get(record.id.to_be_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(StoreError::Conflict(
                        "file id exists".into(),
                    )));
                }
                let used = match meta.get(usage.as_bytes())? {
                    Some(b) => abort(usage_from_bytes(&b))?,
                    None => 0,
                };
                let after = used.saturating_add(record.size);
                if quota > 0 && after > quota {
                    return Ok(None);
                }
                let mut taken: HashMap<[u8; 32], ChunkRef> = HashMap::new();
                for h in &hashes {
                    let current = match taken.get(h) {
                        Some(r) => Some(*r),
                        None => refs
                            .get(&h[..])?
                            .map(|b| abort(ChunkRef::from_bytes(&b)))
                            .transpose()?,
                    };
                    let next = match current {
                        Some(r) => ChunkRef {
                            count: r.count + 1,
                            ..r
                        },
                        None => {
                            let Some((chunk, raw)) = new_chunks.get(h) else {
                                return Err(ConflictableTransactionError::Abort(
                                    StoreError::Conflict(
                                        "a chunk vanished while the file was stored".into(),
                                    ),
                                ));
                            };
                            chunks.insert(&h[..], chunk.to_bytes())?;
                            let stored = chunk.data.len() as u32;
                            d.chunks += 1;
                            d.unique += *raw as i64;
                            d.stored += stored as i64;
                            ChunkRef {
                                count: 1,
                                stored,
                                raw: *raw,
                            }
                        }
                    };
                    refs.insert(&h[..], &next.to_bytes()[..])?;
                    taken.insert(*h, next);
                }
                files.insert(&record.id.to_be_bytes()[..], value.as_slice())?;
                meta.insert(usage.as_bytes(), &after.to_be_bytes()[..])?;
                Ok(Some(d))
            },
        ))?;
        let Some(delta) = delta else {
            return Ok(false);
        };
        self.inner.counts.files.apply(&delta);
        Ok(true)
    }

    pub fn file(&self, id: Id) -> Result<Option<FileRecord>, StoreError> {
        decode_opt(self.t().files.get(id.to_be_bytes())?)
    }

    /// Removes a file, releases its chunks (a chunk no other file uses is
    /// removed) and gives its size back to its uploader's usage. Returns
    /// the record, or `None` if there was no such file.
    pub fn delete_file(&self, id: Id) -> Result<Option<FileRecord>, StoreError> {
        self.ensure_usage_counted()?;
        let t = &self.t();
        let key = id.to_be_bytes();
        let out = tx((&t.files, &t.chunks, &t.chunk_refs, &t.meta).transaction(
            |(files, chunks, refs, meta)| {
                let Some(bytes) = files.remove(&key[..])? else {
                    return Ok(None);
                };
                let record: FileRecord = abort(decode(&bytes))?;
                let usage = usage_key(record.uploader_id);
                let used = match meta.get(usage.as_bytes())? {
                    Some(b) => abort(usage_from_bytes(&b))?,
                    None => 0,
                };
                match used.saturating_sub(record.size) {
                    0 => {
                        meta.remove(usage.as_bytes())?;
                    }
                    left => {
                        meta.insert(usage.as_bytes(), &left.to_be_bytes()[..])?;
                    }
                }
                let mut d = Delta {
                    files: -1,
                    logical: -(record.size as i64),
                    ..Delta::default()
                };
                for h in record.chunk_hashes() {
                    let Some(b) = refs.get(&h[..])? else { continue };
                    let r = abort(ChunkRef::from_bytes(&b))?;
                    if r.count <= 1 {
                        refs.remove(&h[..])?;
                        chunks.remove(&h[..])?;
                        d.chunks -= 1;
                        d.unique -= r.raw as i64;
                        d.stored -= r.stored as i64;
                    } else {
                        let next = ChunkRef {
                            count: r.count - 1,
                            ..r
                        };
                        refs.insert(&h[..], &next.to_bytes()[..])?;
                    }
                }
                Ok(Some((record, d)))
            },
        ))?;
        Ok(out.map(|(record, d)| {
            self.inner.counts.files.apply(&d);
            record
        }))
    }

    /// Records that `message` in `channel` carries `file`.
    pub fn add_file_ref(&self, file: Id, channel: Id, message: Id) -> Result<(), StoreError> {
        self.inner
            .t
            .file_refs
            .insert(file_ref_key(file, channel, message), &[][..])?;
        Ok(())
    }

    pub fn remove_file_ref(&self, file: Id, channel: Id, message: Id) -> Result<(), StoreError> {
        self.inner
            .t
            .file_refs
            .remove(file_ref_key(file, channel, message))?;
        Ok(())
    }

    /// The channels whose messages carry `file`.
    pub fn file_channels(&self, file: Id) -> Result<Vec<Id>, StoreError> {
        let mut out: Vec<Id> = Vec::new();
        for kv in self.t().file_refs.scan_prefix(file.to_be_bytes()) {
            let (k, _) = kv?;
            let channel = super::id_at(&k, 8)?;
            if out.last() != Some(&channel) {
                out.push(channel);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn record(id: u64, hashes: &[[u8; 32]], size: u64) -> FileRecord {
        record_by(id, 1, hashes, size)
    }

    fn record_by(id: u64, uploader: u64, hashes: &[[u8; 32]], size: u64) -> FileRecord {
        FileRecord {
            id: Id(id),
            uploader_id: Id(uploader),
            filename: "f.bin".into(),
            content_type: "application/octet-stream".into(),
            size,
            sha256: "00".into(),
            chunks: hashes.concat(),
            created_at: 0,
        }
    }

    fn chunk(data: &[u8]) -> (StoredChunk, u32) {
        (
            StoredChunk {
                compressed: false,
                data: data.to_vec(),
            },
            data.len() as u32,
        )
    }

    #[test]
    fn shared_chunks_are_stored_once_and_released_last() {
        let (_d, s) = open_tmp();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let mut new = HashMap::new();
        new.insert(a, chunk(b"aaaa"));
        new.insert(b, chunk(b"bb"));
        assert!(s.put_file(&record(10, &[a, b, a], 10), &new, 0).unwrap());
        let st = s.file_stats();
        assert_eq!(
            (st.files, st.logical_bytes, st.unique_bytes, st.chunks),
            (1, 10, 6, 2)
        );
        // The second file brings no new chunk.
        assert!(s
            .put_file(&record(11, &[a], 4), &HashMap::new(), 0)
            .unwrap());
        let st = s.file_stats();
        assert_eq!((st.files, st.logical_bytes, st.stored_bytes), (2, 14, 6));
        s.delete_file(Id(10)).unwrap().unwrap();
        assert!(s.chunk(&a).unwrap().is_some());
        assert!(s.chunk(&b).unwrap().is_none());
        assert_eq!(s.file_stats().stored_bytes, 4);
        s.delete_file(Id(11)).unwrap().unwrap();
        assert!(s.chunk(&a).unwrap().is_none());
        assert_eq!(s.file_stats(), FileStats::default());
        assert!(s.delete_file(Id(11)).unwrap().is_none());
    }

    #[test]
    fn a_missing_chunk_is_a_conflict_and_changes_nothing() {
        let (_d, s) = open_tmp();
        let err = s.put_file(&record(10, &[[9u8; 32]], 3), &HashMap::new(), 0);
        assert!(matches!(err, Err(StoreError::Conflict(_))));
        assert!(s.file(Id(10)).unwrap().is_none());
        assert_eq!(s.file_stats(), FileStats::default());
    }

    #[test]
    fn counters_survive_reopen_and_refs_list_channels() {
        let (dir, s) = open_tmp();
        let a = [1u8; 32];
        let mut new = HashMap::new();
        new.insert(a, chunk(b"abc"));
        assert!(s.put_file(&record(10, &[a], 3), &new, 0).unwrap());
        s.add_file_ref(Id(10), Id(20), Id(30)).unwrap();
        s.add_file_ref(Id(10), Id(20), Id(31)).unwrap();
        s.add_file_ref(Id(10), Id(21), Id(32)).unwrap();
        assert_eq!(s.file_channels(Id(10)).unwrap(), vec![Id(20), Id(21)]);
        s.remove_file_ref(Id(10), Id(21), Id(32)).unwrap();
        assert_eq!(s.file_channels(Id(10)).unwrap(), vec![Id(20)]);
        let before = s.file_stats();
        drop(s);
        let s = reopen(dir.path(), super::super::Durability::Batched);
        assert_eq!(s.file_stats(), before);
    }

    #[test]
    fn usage_counts_every_upload_and_deletes_give_it_back() {
        let (_d, s) = open_tmp();
        let a = [1u8; 32];
        let mut new = HashMap::new();
        new.insert(a, chunk(b"abcd"));
        assert_eq!(s.user_storage(Id(1)).unwrap(), 0);
        assert!(s.put_file(&record(10, &[a], 4), &new, 0).unwrap());
        // The same bytes again: no new chunk, but the user is charged again.
        assert!(s
            .put_file(&record(11, &[a], 4), &HashMap::new(), 0)
            .unwrap());
        assert_eq!(s.user_storage(Id(1)).unwrap(), 8);
        assert_eq!(s.file_stats().unique_bytes, 4);
        // Another uploader of the same chunk is charged on their own.
        assert!(s
            .put_file(&record_by(12, 2, &[a], 4), &HashMap::new(), 0)
            .unwrap());
        assert_eq!(s.user_storage(Id(2)).unwrap(), 4);
        assert_eq!(s.user_storage(Id(1)).unwrap(), 8);
        s.delete_file(Id(10)).unwrap().unwrap();
        assert_eq!(s.user_storage(Id(1)).unwrap(), 4);
        s.delete_file(Id(11)).unwrap().unwrap();
        assert_eq!(s.user_storage(Id(1)).unwrap(), 0);
        assert!(s.meta_get(&usage_key(Id(1))).unwrap().is_none());
        assert_eq!(s.user_storage(Id(2)).unwrap(), 4);
    }

    #[test]
    fn a_file_past_the_quota_is_refused_and_writes_nothing() {
        let (_d, s) = open_tmp();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let mut new = HashMap::new();
        new.insert(a, chunk(b"aaaaaa"));
        // Exactly at the quota is allowed.
        assert!(s.put_file(&record(10, &[a], 6), &new, 10).unwrap());
        let before = s.file_stats();
        let mut more = HashMap::new();
        more.insert(b, chunk(b"bbbbb"));
        assert!(!s.put_file(&record(11, &[b], 5), &more, 10).unwrap());
        // A duplicate of stored bytes is charged too, so it is refused.
        assert!(!s
            .put_file(&record(12, &[a], 6), &HashMap::new(), 10)
            .unwrap());
        assert!(s.file(Id(11)).unwrap().is_none());
        assert!(s.file(Id(12)).unwrap().is_none());
        assert!(s.chunk(&b).unwrap().is_none());
        assert_eq!(s.file_stats(), before);
        assert_eq!(s.user_storage(Id(1)).unwrap(), 6);
        // Up to the quota still fits; another user has their own quota.
        let mut four = HashMap::new();
        four.insert(b, chunk(b"bbbb"));
        assert!(s.put_file(&record(13, &[b], 4), &four, 10).unwrap());
        assert_eq!(s.user_storage(Id(1)).unwrap(), 10);
        assert!(s
            .put_file(&record_by(14, 2, &[a], 6), &HashMap::new(), 10)
            .unwrap());
        // Deleting gives room back.
        s.delete_file(Id(10)).unwrap().unwrap();
        assert!(s
            .put_file(&record(15, &[b], 4), &HashMap::new(), 10)
            .unwrap());
        assert_eq!(s.user_storage(Id(1)).unwrap(), 8);
    }

    #[test]
    fn usage_survives_reopen_and_is_counted_once_for_older_databases() {
        let (dir, s) = open_tmp();
        let a = [1u8; 32];
        let mut new = HashMap::new();
        new.insert(a, chunk(b"abc"));
        assert!(s.put_file(&record(10, &[a], 3), &new, 0).unwrap());
        assert!(s
            .put_file(&record_by(11, 2, &[a], 3), &HashMap::new(), 0)
            .unwrap());
        assert!(s
            .put_file(&record(12, &[a], 3), &HashMap::new(), 0)
            .unwrap());
        drop(s);
        let s = reopen(dir.path(), super::super::Durability::Batched);
        assert_eq!(s.user_storage(Id(1)).unwrap(), 6);
        assert_eq!(s.user_storage(Id(2)).unwrap(), 3);
        // As a database from before the usage keys: only files, no usage.
        for k in s.t().meta.scan_prefix(USAGE_PREFIX).keys() {
            s.t().meta.remove(k.unwrap()).unwrap();
        }
        s.t().meta.remove(USAGE_COUNTED).unwrap();
        drop(s);
        let s = reopen(dir.path(), super::super::Durability::Batched);
        assert!(!s
            .put_file(&record(13, &[a], 3), &HashMap::new(), 8)
            .unwrap());
        assert_eq!(s.user_storage(Id(1)).unwrap(), 6);
        assert_eq!(s.user_storage(Id(2)).unwrap(), 3);
        s.delete_file(Id(11)).unwrap().unwrap();
        assert_eq!(s.user_storage(Id(2)).unwrap(), 0);
    }
}
