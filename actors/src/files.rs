//! Uploads in and out: splitting, hashing, deduplication and zstd on the
//! way in, reassembly (of the whole file or a byte range) on the way out.
//! All of it runs on the blocking pool: a 25 MiB file at zstd level 19 is
//! seconds of CPU that no actor or HTTP worker thread may spend.
//! Each user keeps at most `limits.user_storage_bytes` of uploads, every
//! upload counted at its full size (deduplication does not make room).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use switchboard_protocols::event::Event;
use switchboard_protocols::model::{FileRecord, CHUNK_SIZE};
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

use crate::hub::DeliverToUsers;
use crate::store::{StoreError, StoredChunk};
use crate::world::{Caller, Reply, World};

/// Files up to this size are stored raw: compressing them saves nothing.
pub const COMPRESS_ABOVE: usize = 1024;
/// zstd window cap: 2^24 = 16 MiB.
const WINDOW_LOG: u32 = 24;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored form of one chunk: zstd when that is smaller, raw otherwise.
pub fn encode_chunk(raw: &[u8], compress: bool, level: i32) -> StoredChunk {
    if compress {
        let packed = zstd::bulk::Compressor::new(level).and_then(|mut c| {
            c.set_parameter(zstd::zstd_safe::CParameter::WindowLog(WINDOW_LOG))?;
            c.compress(raw)
        });
        if let Ok(packed) = packed {
            if packed.len() < raw.len() {
                return StoredChunk {
                    compressed: true,
                    data: packed,
                };
            }
        }
    }
    StoredChunk {
        compressed: false,
        data: raw.to_vec(),
    }
}

pub fn decode_chunk(chunk: &StoredChunk) -> Result<Vec<u8>, StoreError> {
    if chunk.compressed {
        zstd::bulk::decompress(&chunk.data, CHUNK_SIZE)
            .map_err(|e| StoreError::Decode(format!("chunk does not decompress: {e}")))
    } else {
        Ok(chunk.data.clone())
    }
}

fn blocking_error(_: tokio::task::JoinError) -> GatewayError {
    GatewayError::internal("file work was cancelled")
}

/// The refusal of an upload that would take `user` past their storage
/// quota: `TooLarge`, which every dialect maps (JAM 413 `TOO_LARGE`,
/// OriginChats HTTP 413).
pub fn over_quota(world: &World, user: Id) -> GatewayError {
    let limit = world.config.user_storage_bytes;
    match world.store.user_storage(user) {
        Ok(used) => GatewayError::too_large(format!(
            "Storage quota exceeded: {used} of {limit} bytes in use"
        )),
        Err(_) => {
            GatewayError::too_large(format!("Storage quota exceeded ({limit} bytes per user)"))
        }
    }
}

/// The bytes `user` may still upload before their quota, or `None` when
/// there is no quota. For refusing a body while it streams in; the store
/// checks again when the file is written.
pub fn storage_left(world: &World, user: Id) -> GatewayResult<Option<u64>> {
    let limit = world.config.user_storage_bytes;
    if limit == 0 {
        return Ok(None);
    }
    Ok(Some(limit.saturating_sub(world.store.user_storage(user)?)))
}

/// Stores an upload and returns its record. Durable when this returns.
/// An upload that would take the uploader past `limits.user_storage_bytes`
/// is refused (`TooLarge`) and nothing of it is kept.
pub async fn store_upload(
    world: &Arc<World>,
    uploader: Id,
    filename: String,
    content_type: String,
    data: Bytes,
) -> GatewayResult<FileRecord> {
    if data.is_empty() {
        return Err(GatewayError::invalid("The file is empty"));
    }
    let w = world.clone();
    let record =
        tokio::task::spawn_blocking(move || ingest(&w, uploader, filename, content_type, &data))
            .await
            .map_err(blocking_error)??;
    world.store.commit().await?;
    Ok(record)
}

fn ingest(
    world: &World,
    uploader: Id,
    filename: String,
    content_type: String,
    data: &[u8],
) -> GatewayResult<FileRecord> {
    let quota = world.config.user_storage_bytes;
    // Refused before any chunk is hashed or compressed; `put_file` checks
    // again in the write, against uploads that finished meanwhile.
    if storage_left(world, uploader)?.is_some_and(|left| data.len() as u64 > left) {
        return Err(over_quota(world, uploader));
    }
    let compress = data.len() > COMPRESS_ABOVE;
    let level = world.config.zstd_level;
    let mut hashes = Vec::with_capacity(data.len().div_ceil(CHUNK_SIZE) * 32);
    for piece in data.chunks(CHUNK_SIZE) {
        hashes.extend_from_slice(&Sha256::digest(piece));
    }
    let record = FileRecord {
        id: world.ids.next(),
        uploader_id: uploader,
        filename,
        content_type,
        size: data.len() as u64,
        sha256: hex(&Sha256::digest(data)),
        chunks: hashes,
        created_at: now_ms(),
    };
    // Only chunks not stored yet are compressed; if one is deleted between
    // this look and the write, the write fails and we prepare them all.
    for only_missing in [true, false] {
        let mut fresh: HashMap<[u8; 32], (StoredChunk, u32)> = HashMap::new();
        for (hash, piece) in record.chunk_hashes().zip(data.chunks(CHUNK_SIZE)) {
            if fresh.contains_key(&hash) || (only_missing && world.store.chunk_exists(&hash)?) {
                continue;
            }
            fresh.insert(
                hash,
                (encode_chunk(piece, compress, level), piece.len() as u32),
            );
        }
        match world.store.put_file(&record, &fresh, quota) {
            Err(StoreError::Conflict(_)) if only_missing => continue,
            Ok(true) => return Ok(record),
            Ok(false) => return Err(over_quota(world, uploader)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(GatewayError::internal("could not store the file"))
}

/// The bytes `start..end` of a file (the whole file for `0..size`).
pub async fn read_range(
    world: &Arc<World>,
    record: FileRecord,
    start: u64,
    end: u64,
) -> GatewayResult<Bytes> {
    let w = world.clone();
    tokio::task::spawn_blocking(move || assemble(&w, &record, start, end))
        .await
        .map_err(blocking_error)?
}

fn assemble(world: &World, record: &FileRecord, start: u64, end: u64) -> GatewayResult<Bytes> {
    let end = end.min(record.size);
    let mut out = BytesMut::with_capacity(end.saturating_sub(start) as usize);
    let chunk = CHUNK_SIZE as u64;
    for (i, hash) in record.chunk_hashes().enumerate() {
        let (c_start, c_end) = (i as u64 * chunk, (i as u64 + 1) * chunk);
        if c_end <= start || c_start >= end {
            continue;
        }
        let stored = world
            .store
            .chunk(&hash)?
            .ok_or_else(|| GatewayError::internal("a chunk of this file is missing"))?;
        let raw = decode_chunk(&stored)?;
        let from = start.saturating_sub(c_start) as usize;
        let to = ((end - c_start) as usize).min(raw.len());
        if from < to {
            out.extend_from_slice(&raw[from..to]);
        }
    }
    Ok(out.freeze())
}

/// `Command::DeleteFile`: the caller deletes an upload of theirs that no
/// message carries. Refusals: `NotFound` "Unknown file" when it does not
/// exist or the caller may not read it, `Forbidden` when the caller did not
/// upload it, `Conflict` when a message carries it. The store gives its
/// size back to the uploader's quota. Once durable, the uploader's sessions
/// hear `Event::FileDelete` (nobody else could read an unattached file).
pub async fn delete(world: &Arc<World>, caller: &Caller, file_id: Id) -> GatewayResult<Reply> {
    let (w, me) = (world.clone(), caller.id());
    let record = tokio::task::spawn_blocking(move || remove(&w, me, file_id))
        .await
        .map_err(blocking_error)??;
    world.store.commit().await?;
    let env = caller.envelope(Event::FileDelete {
        file_id: record.id,
        uploader_id: record.uploader_id,
    });
    let tell = DeliverToUsers {
        users: vec![record.uploader_id],
        env,
    };
    // The deletion stands even if the hub is gone (shutdown).
    let _ = world.hub().send(tell).await;
    Ok(Reply::Done)
}

fn remove(world: &World, me: Id, file_id: Id) -> GatewayResult<FileRecord> {
    let unknown = || GatewayError::not_found("Unknown file");
    let record = world.store.file(file_id)?.ok_or_else(unknown)?;
    if !world.may_read_file(me, &record)? {
        return Err(unknown());
    }
    if record.uploader_id != me {
        return Err(GatewayError::forbidden(
            "Only the uploader can delete a file",
        ));
    }
    if !world.store.file_channels(record.id)?.is_empty() {
        return Err(GatewayError::conflict("The file is attached to a message"));
    }
    world.store.delete_file(record.id)?.ok_or_else(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_chunks_shrink_and_round_trip() {
        let raw = b"switchboard ".repeat(5000);
        let stored = encode_chunk(&raw[..CHUNK_SIZE.min(raw.len())], true, 19);
        assert!(stored.compressed);
        assert!(stored.data.len() < 1000);
        assert_eq!(
            decode_chunk(&stored).unwrap(),
            &raw[..CHUNK_SIZE.min(raw.len())]
        );
    }

    #[test]
    fn incompressible_chunks_stay_raw() {
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let raw: Vec<u8> = (0..CHUNK_SIZE)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let stored = encode_chunk(&raw, true, 19);
        assert!(!stored.compressed);
        assert_eq!(stored.data, raw);
    }

    #[test]
    fn small_files_are_never_compressed() {
        let stored = encode_chunk(&[b'a'; 1000], false, 19);
        assert!(!stored.compressed);
    }
}
