//! Backups: one file holding a consistent snapshot of every sled tree, plus
//! the few data-directory files the store cannot be read without (the seal
//! key).
//!
//! Layout (hand-written; docs/decisions.md says why):
//!
//! ```text
//! "SWBACKUP"                      8 bytes, magic
//! format version                  u16 big-endian (1)
//! domain length, domain           u16 big-endian, UTF-8
//! created at                      i64 big-endian, ms since the Unix epoch
//! body                            one zstd frame of records:
//!     0x01 tree   u32 len, name
//!     0x02 entry  u32 len, key, u32 len, value    (in the last tree named)
//!     0x03 file   u32 len, name, u64 len, bytes
//!     0x00 end    u64 trees, u64 entries
//! SHA-256 of everything above     32 bytes
//! ```
//!
//! The checksum covers the header too, so it is checked in full before a
//! restore writes anything.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::Store;

pub const MAGIC: &[u8; 8] = b"SWBACKUP";
pub const FORMAT_VERSION: u16 = 1;
const CHECKSUM_LEN: u64 = 32;
const ZSTD_LEVEL: i32 = 3;
/// Longer names or keys than this mean a corrupt record, not a real one:
/// sled keys and tree names are short, and nothing reads this much into
/// memory on a corrupt length.
const MAX_NAME: u32 = 1 << 16;
const MAX_VALUE: u64 = 1 << 32;

const TAG_END: u8 = 0;
const TAG_TREE: u8 = 1;
const TAG_ENTRY: u8 = 2;
const TAG_FILE: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    #[error("not a Switchboard backup (the file does not start with {:?})", std::str::from_utf8(MAGIC).unwrap_or_default())]
    NotABackup,
    #[error(
        "backup format version {0} is not supported (this build reads version {FORMAT_VERSION})"
    )]
    UnsupportedVersion(u16),
    #[error("the backup is truncated")]
    Truncated,
    #[error("the backup is corrupt: its checksum does not match its contents")]
    Checksum,
    #[error("the backup is corrupt: {0}")]
    Corrupt(String),
}

/// What a backup file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupHeader {
    pub version: u16,
    pub domain: String,
    pub created_at_ms: i64,
}

impl BackupHeader {
    fn encoded_len(&self) -> u64 {
        8 + 2 + 2 + self.domain.len() as u64 + 8
    }
}

/// How far a backup or restore has got, for progress bars.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Backup: trees done out of `total`. Restore: compressed bytes read.
    pub done: u64,
    pub total: u64,
    pub entries: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupSummary {
    pub trees: u64,
    pub entries: u64,
    /// Size of the backup file.
    pub bytes: u64,
}

/// Counts and hashes what passes through to the inner writer.
struct HashingWriter<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn put_bytes32(w: &mut impl Write, b: &[u8]) -> io::Result<()> {
    let len = u32::try_from(b.len()).map_err(|_| io::Error::other("key longer than 4 GiB"))?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(b)
}

impl Store {
    /// Writes a snapshot of every tree, plus `files` (name, contents), to
    /// `out`. Store writes wait while the trees are read, so the snapshot
    /// is one instant of the store: see docs/decisions.md, "Backups".
    pub fn backup<W: Write>(
        &self,
        out: W,
        domain: &str,
        created_at_ms: i64,
        files: &[(String, Vec<u8>)],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<BackupSummary, BackupError> {
        let mut hw = HashingWriter {
            inner: out,
            hash: Sha256::new(),
            bytes: 0,
        };
        let domain_len = u16::try_from(domain.len())
            .map_err(|_| BackupError::Corrupt("domain longer than 65535 bytes".into()))?;
        hw.write_all(MAGIC)?;
        hw.write_all(&FORMAT_VERSION.to_be_bytes())?;
        hw.write_all(&domain_len.to_be_bytes())?;
        hw.write_all(domain.as_bytes())?;
        hw.write_all(&created_at_ms.to_be_bytes())?;

        let mut z = zstd::Encoder::new(hw, ZSTD_LEVEL)?;
        let (mut trees, mut entries) = (0u64, 0u64);
        {
            let _exclusive = self.inner.barrier.write();
            let names = self.inner.db.tree_names();
            let total = names.len() as u64;
            for name in names {
                let tree = self.inner.db.open_tree(&name)?;
                z.write_all(&[TAG_TREE])?;
                put_bytes32(&mut z, &name)?;
                for kv in tree.iter() {
                    let (k, v) = kv?;
                    z.write_all(&[TAG_ENTRY])?;
                    put_bytes32(&mut z, &k)?;
                    put_bytes32(&mut z, &v)?;
                    entries += 1;
                }
                trees += 1;
                progress(Progress {
                    done: trees,
                    total,
                    entries,
                });
            }
        }
        for (name, bytes) in files {
            z.write_all(&[TAG_FILE])?;
            put_bytes32(&mut z, name.as_bytes())?;
            z.write_all(&(bytes.len() as u64).to_be_bytes())?;
            z.write_all(bytes)?;
        }
        z.write_all(&[TAG_END])?;
        z.write_all(&trees.to_be_bytes())?;
        z.write_all(&entries.to_be_bytes())?;
        let mut hw = z.finish()?;
        let digest = hw.hash.finalize_reset();
        hw.inner.write_all(&digest)?;
        hw.inner.flush()?;
        Ok(BackupSummary {
            trees,
            entries,
            bytes: hw.bytes + CHECKSUM_LEN,
        })
    }
}

fn read_exact_or_truncated(r: &mut impl Read, buf: &mut [u8]) -> Result<(), BackupError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => BackupError::Truncated,
        _ => BackupError::Io(e),
    })
}

fn read_header(r: &mut impl Read) -> Result<BackupHeader, BackupError> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => BackupError::NotABackup,
        _ => BackupError::Io(e),
    })?;
    if &magic != MAGIC {
        return Err(BackupError::NotABackup);
    }
    let mut two = [0u8; 2];
    read_exact_or_truncated(r, &mut two)?;
    let version = u16::from_be_bytes(two);
    if version != FORMAT_VERSION {
        return Err(BackupError::UnsupportedVersion(version));
    }
    read_exact_or_truncated(r, &mut two)?;
    let mut domain = vec![0u8; usize::from(u16::from_be_bytes(two))];
    read_exact_or_truncated(r, &mut domain)?;
    let domain = String::from_utf8(domain)
        .map_err(|_| BackupError::Corrupt("the domain is not UTF-8".into()))?;
    let mut eight = [0u8; 8];
    read_exact_or_truncated(r, &mut eight)?;
    Ok(BackupHeader {
        version,
        domain,
        created_at_ms: i64::from_be_bytes(eight),
    })
}

/// Checks the magic, the version and the checksum of the whole file without
/// writing anything, and returns the header.
pub fn verify(path: &Path) -> Result<BackupHeader, BackupError> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let header = read_header(&mut BufReader::new(&mut file))?;
    if len < header.encoded_len() + CHECKSUM_LEN {
        return Err(BackupError::Truncated);
    }
    let mut file = File::open(path)?;
    let mut hash = Sha256::new();
    // The copy stops early if the file shrank since `len` was read.
    let hashed = io::copy(
        &mut (&mut file).take(len - CHECKSUM_LEN),
        &mut HashSink(&mut hash),
    )?;
    if hashed != len - CHECKSUM_LEN {
        return Err(BackupError::Truncated);
    }
    let mut stored = [0u8; 32];
    read_exact_or_truncated(&mut file, &mut stored)?;
    if hash.finalize().as_slice() != stored {
        return Err(BackupError::Checksum);
    }
    Ok(header)
}

struct HashSink<'a>(&'a mut Sha256);

impl Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts the compressed bytes read, for the progress bar.
struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

fn get_u8(r: &mut impl Read) -> Result<u8, BackupError> {
    let mut b = [0u8; 1];
    read_exact_or_truncated(r, &mut b)?;
    Ok(b[0])
}

fn get_u32(r: &mut impl Read) -> Result<u32, BackupError> {
    let mut b = [0u8; 4];
    read_exact_or_truncated(r, &mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn get_u64(r: &mut impl Read) -> Result<u64, BackupError> {
    let mut b = [0u8; 8];
    read_exact_or_truncated(r, &mut b)?;
    Ok(u64::from_be_bytes(b))
}

fn get_vec(r: &mut impl Read, len: u64, max: u64, what: &str) -> Result<Vec<u8>, BackupError> {
    if len > max {
        return Err(BackupError::Corrupt(format!("{what} of {len} bytes")));
    }
    let mut v = Vec::new();
    r.take(len).read_to_end(&mut v)?;
    if v.len() as u64 != len {
        return Err(BackupError::Truncated);
    }
    Ok(v)
}

/// A data-directory file name from a backup: a plain name, so a crafted
/// backup cannot write outside the directory or over the database.
fn safe_file_name(name: &[u8]) -> Result<String, BackupError> {
    let name = std::str::from_utf8(name)
        .map_err(|_| BackupError::Corrupt("a file name is not UTF-8".into()))?;
    let plain = !name.is_empty()
        && name != "db"
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !plain {
        return Err(BackupError::Corrupt(format!("unsafe file name {name:?}")));
    }
    Ok(name.to_string())
}

/// Verifies `path`, then writes its trees into a new database at
/// `data_dir/db` and its files into `data_dir`. `data_dir` should be a
/// fresh directory: the caller moves it into place only when this succeeds.
pub fn restore(
    path: &Path,
    data_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<(BackupHeader, BackupSummary), BackupError> {
    let header = verify(path)?;
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = BufReader::new(file);
    read_header(&mut reader)?;
    let body_len = len - header.encoded_len() - CHECKSUM_LEN;
    let counted = CountingReader {
        inner: reader.take(body_len),
        read: 0,
    };
    let mut z = zstd::Decoder::with_buffer(BufReader::new(counted))?;

    std::fs::create_dir_all(data_dir)?;
    let db = sled::Config::new().path(data_dir.join("db")).open()?;
    let mut tree: Option<sled::Tree> = None;
    let mut batch = sled::Batch::default();
    let mut pending = 0usize;
    let (mut trees, mut entries) = (0u64, 0u64);
    let flush_batch =
        |tree: &Option<sled::Tree>, batch: &mut sled::Batch| -> Result<(), BackupError> {
            if let Some(t) = tree {
                t.apply_batch(std::mem::take(batch))?;
            }
            Ok(())
        };
    loop {
        match get_u8(&mut z)? {
            TAG_TREE => {
                flush_batch(&tree, &mut batch)?;
                pending = 0;
                let n = get_u32(&mut z)?;
                let name = get_vec(&mut z, n.into(), MAX_NAME.into(), "a tree name")?;
                tree = Some(db.open_tree(name)?);
                trees += 1;
            }
            TAG_ENTRY => {
                if tree.is_none() {
                    return Err(BackupError::Corrupt("an entry before any tree".into()));
                }
                let n = get_u32(&mut z)?;
                let k = get_vec(&mut z, n.into(), MAX_VALUE, "a key")?;
                let n = get_u32(&mut z)?;
                let v = get_vec(&mut z, n.into(), MAX_VALUE, "a value")?;
                batch.insert(k, v);
                pending += 1;
                entries += 1;
                if pending >= 4096 {
                    flush_batch(&tree, &mut batch)?;
                    pending = 0;
                    progress(Progress {
                        done: z.get_ref().get_ref().read,
                        total: body_len,
                        entries,
                    });
                }
            }
            TAG_FILE => {
                let n = get_u32(&mut z)?;
                let name = get_vec(&mut z, n.into(), MAX_NAME.into(), "a file name")?;
                let name = safe_file_name(&name)?;
                let n = get_u64(&mut z)?;
                let bytes = get_vec(&mut z, n, MAX_VALUE, "a file")?;
                let mut f = BufWriter::new(File::create(data_dir.join(name))?);
                f.write_all(&bytes)?;
                f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            }
            TAG_END => {
                flush_batch(&tree, &mut batch)?;
                let (want_trees, want_entries) = (get_u64(&mut z)?, get_u64(&mut z)?);
                if (want_trees, want_entries) != (trees, entries) {
                    return Err(BackupError::Corrupt(format!(
                        "it announces {want_trees} trees and {want_entries} entries, \
                         holds {trees} and {entries}"
                    )));
                }
                break;
            }
            other => return Err(BackupError::Corrupt(format!("unknown record tag {other}"))),
        }
    }
    db.flush()?;
    progress(Progress {
        done: body_len,
        total: body_len,
        entries,
    });
    Ok((
        header,
        BackupSummary {
            trees,
            entries,
            bytes: len,
        },
    ))
}

#[cfg(test)]
mod tests;
