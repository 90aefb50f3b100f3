use serde::{Deserialize, Serialize};

use crate::Id;

/// Size of a file chunk: files are split into 64 KiB pieces (the last may
/// be shorter), each stored once however many files contain it.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// An uploaded file as stored: its metadata and the SHA-256 of each chunk,
/// in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub id: Id,
    pub uploader_id: Id,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
    /// Concatenated 32-byte SHA-256 digests of the raw chunks.
    #[serde(with = "serde_bytes")]
    pub chunks: Vec<u8>,
    pub created_at: i64,
}

impl FileRecord {
    /// The chunk digests, in file order.
    pub fn chunk_hashes(&self) -> impl Iterator<Item = [u8; 32]> + '_ {
        self.chunks
            .chunks_exact(32)
            .filter_map(|c| <[u8; 32]>::try_from(c).ok())
    }

    pub fn attachment(&self) -> super::Attachment {
        super::Attachment {
            id: self.id,
            filename: self.filename.clone(),
            size: self.size,
            content_type: self.content_type.clone(),
            sha256: self.sha256.clone(),
        }
    }
}

/// A channel session key wrapped for one member. The server keeps
/// it opaque: it can neither unwrap it nor read what it protects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyEnvelope {
    pub channel_id: Id,
    pub user_id: Id,
    /// base64 of the sender's ephemeral X25519 public key (32 bytes).
    pub ephemeral_public_key: String,
    /// base64 of the 24-byte XChaCha20 nonce.
    pub nonce: String,
    /// base64 of the wrapped channel key with its tag.
    pub wrapped_key: String,
    /// Who published it.
    pub sender_id: Id,
    pub created_at: i64,
}
