//! Secrets at rest: values sealed with XChaCha20-Poly1305 under a key that
//! Argon2id derives from `storage.passphrase`, or that a generated key file
//! (`<data_dir>/seal.key`) holds.
//!
//! Layout in the store's `meta` tree:
//! - `seal_mode`: `"passphrase"` or `"keyfile"`, how the data directory was
//!   first sealed; switching modes later is refused instead of silently
//!   producing a key that opens nothing;
//! - `seal_salt`: 16 random bytes, the Argon2id salt (passphrase mode only);
//! - `seal_check`: `seal("seal_check", "switchboard sealed secrets v1")`,
//!   written last at first start: every later start must unseal it, so a
//!   wrong passphrase or key file stops start-up at once rather than when a
//!   secret is first needed;
//! - `secret/<name>`: one sealed secret.
//!
//! A sealed value is `1 ‖ nonce (24 random bytes) ‖ ciphertext ‖ tag (16)`,
//! with the secret's name as associated data, so a value copied to another
//! name does not unseal.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::store::{Store, StoreError};

/// The version byte in front of every sealed value.
pub const SEALED_VERSION: u8 = 1;
/// Version byte, nonce and tag: the size of a sealed empty value.
pub const SEALED_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
/// The key file's name inside the data directory.
pub const KEY_FILE_NAME: &str = "seal.key";

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const SALT_LEN: usize = 16;

const META_MODE: &str = "seal_mode";
const META_SALT: &str = "seal_salt";
const META_CHECK: &str = "seal_check";
const SECRET_PREFIX: &str = "secret/";
const CHECK_PLAINTEXT: &[u8] = b"switchboard sealed secrets v1";

/// Argon2id parameters (protocols/jam.md §3): 19 MiB, 2 passes, 1 lane.
const ARGON2_M_KIB: u32 = 19_456;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;

/// Where the sealing key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealMode {
    /// Argon2id over `storage.passphrase` and the salt in `meta/seal_salt`.
    Passphrase,
    /// The 32 bytes of `<data_dir>/seal.key`.
    KeyFile,
}

impl SealMode {
    fn as_str(self) -> &'static str {
        match self {
            SealMode::Passphrase => "passphrase",
            SealMode::KeyFile => "keyfile",
        }
    }

    fn parse(raw: &[u8]) -> Option<SealMode> {
        match raw {
            b"passphrase" => Some(SealMode::Passphrase),
            b"keyfile" => Some(SealMode::KeyFile),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The check record does not unseal: wrong passphrase or key file.
    #[error("{}", wrong_key_message(*.mode, .data_dir))]
    WrongKey { mode: SealMode, data_dir: PathBuf },
    /// The data directory was sealed in the other mode.
    #[error("{}", mode_changed_message(*.sealed_with, .data_dir))]
    ModeChanged {
        sealed_with: SealMode,
        data_dir: PathBuf,
    },
    /// The key file cannot be read or created, or is not 32 bytes.
    #[error("key file {}: {source}", .path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A sealing record or a sealed value is malformed or does not
    /// authenticate.
    #[error("sealed secrets: {0}")]
    Corrupt(String),
    #[error("sealed secrets: store: {0}")]
    Store(#[from] StoreError),
}

fn wrong_key_message(mode: SealMode, data_dir: &Path) -> String {
    match mode {
        SealMode::Passphrase => format!(
            "storage.passphrase does not open the sealed secrets in {} (wrong passphrase, or \
             the data directory was sealed with a different one); set storage.passphrase to \
             the passphrase this data directory was first started with",
            data_dir.display()
        ),
        SealMode::KeyFile => format!(
            "{} does not open the sealed secrets in {} (the key file was changed or belongs \
             to another data directory); restore the seal.key this data directory was first \
             started with",
            data_dir.join(KEY_FILE_NAME).display(),
            data_dir.display()
        ),
    }
}

fn mode_changed_message(sealed_with: SealMode, data_dir: &Path) -> String {
    match sealed_with {
        SealMode::Passphrase => format!(
            "the sealed secrets in {} were sealed with storage.passphrase, but \
             storage.passphrase is empty; set storage.passphrase to the passphrase this data \
             directory was first started with",
            data_dir.display()
        ),
        SealMode::KeyFile => format!(
            "the sealed secrets in {} were sealed with the key file {}, but storage.passphrase \
             is set; remove storage.passphrase (or set it to \"\") to use the key file",
            data_dir.display(),
            data_dir.join(KEY_FILE_NAME).display()
        ),
    }
}

/// Seals and unseals server secrets. Clones share one key; the key is
/// zeroed when the last clone drops (the cipher zeroizes on drop).
#[derive(Clone)]
pub struct Sealer {
    inner: Arc<Inner>,
}

struct Inner {
    aead: XChaCha20Poly1305,
    store: Store,
    mode: SealMode,
}

/// No key material in logs.
impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("mode", &self.inner.mode)
            .finish_non_exhaustive()
    }
}

/// Why a sealed value did not open.
enum Unseal {
    Malformed(String),
    Auth,
}

impl Sealer {
    /// Opens the sealed secrets of `store` (living in `data_dir`): derives or
    /// loads the key, and at first start records the mode, the salt and the
    /// check record and flushes them. At later starts the key must unseal the
    /// check record, otherwise [`SealError::WrongKey`]. `passphrase` "" means
    /// key-file mode. Runs Argon2id on this thread in passphrase mode.
    pub fn open(store: &Store, data_dir: &Path, passphrase: &str) -> Result<Sealer, SealError> {
        let mode = if passphrase.is_empty() {
            SealMode::KeyFile
        } else {
            SealMode::Passphrase
        };
        let check = store.meta_get(META_CHECK)?;
        let sealed_with = match store.meta_get(META_MODE)? {
            Some(raw) => Some(SealMode::parse(&raw).ok_or_else(|| {
                SealError::Corrupt(format!(
                    "meta/{META_MODE} is {:?}, expected \"passphrase\" or \"keyfile\"",
                    String::from_utf8_lossy(&raw)
                ))
            })?),
            None => None,
        };
        // Records from a first start that stopped before writing the check
        // record protect nothing yet: start over.
        let first_start = check.is_none();
        if !first_start {
            match sealed_with {
                Some(m) if m != mode => {
                    return Err(SealError::ModeChanged {
                        sealed_with: m,
                        data_dir: data_dir.to_path_buf(),
                    })
                }
                Some(_) => {}
                None => {
                    return Err(SealError::Corrupt(format!(
                        "meta/{META_CHECK} exists but meta/{META_MODE} is missing"
                    )))
                }
            }
        }

        let mut key = match mode {
            SealMode::Passphrase => {
                let salt = match store.meta_get(META_SALT)? {
                    Some(salt) if salt.len() == SALT_LEN => salt,
                    Some(salt) => {
                        return Err(SealError::Corrupt(format!(
                            "meta/{META_SALT} is {} bytes, expected {SALT_LEN}",
                            salt.len()
                        )))
                    }
                    None if first_start => {
                        let mut salt = vec![0u8; SALT_LEN];
                        fill_random(&mut salt)?;
                        store.meta_put(META_SALT, &salt)?;
                        salt
                    }
                    None => {
                        return Err(SealError::Corrupt(format!(
                            "meta/{META_CHECK} exists but meta/{META_SALT} is missing"
                        )))
                    }
                };
                derive_key(passphrase, &salt)?
            }
            SealMode::KeyFile => load_or_create_key_file(data_dir, first_start)?,
        };
        let aead = XChaCha20Poly1305::new((&key).into());
        wipe(&mut key);
        let sealer = Sealer {
            inner: Arc::new(Inner {
                aead,
                store: store.clone(),
                mode,
            }),
        };

        match check {
            Some(sealed) => match sealer.open_sealed(META_CHECK, &sealed) {
                Ok(plain) if plain == CHECK_PLAINTEXT => {}
                Ok(_) | Err(Unseal::Auth) => {
                    return Err(SealError::WrongKey {
                        mode,
                        data_dir: data_dir.to_path_buf(),
                    })
                }
                Err(Unseal::Malformed(why)) => {
                    return Err(SealError::Corrupt(format!("meta/{META_CHECK}: {why}")))
                }
            },
            None => {
                store.meta_put(META_MODE, mode.as_str().as_bytes())?;
                store.meta_put(META_CHECK, &sealer.seal(META_CHECK, CHECK_PLAINTEXT))?;
                store.flush_blocking()?;
                tracing::info!(mode = mode.as_str(), "sealed secrets initialised");
            }
        }
        Ok(sealer)
    }

    /// How the key was obtained.
    pub fn mode(&self) -> SealMode {
        self.inner.mode
    }

    /// `1 ‖ nonce ‖ ciphertext ‖ tag`, authenticated together with `name`.
    pub fn seal(&self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .inner
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: name.as_bytes(),
                },
            )
            // XChaCha20-Poly1305 refuses only plaintexts over 256 GiB, which
            // no secret comes near; not influenced by anything on disk.
            .expect("XChaCha20-Poly1305 seals any secret-sized plaintext");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(SEALED_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// The plaintext of a value sealed under `name` with this key; an error
    /// when the value is malformed, was tampered with, was sealed under
    /// another name, or under another key.
    pub fn unseal(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.open_sealed(name, sealed).map_err(|e| match e {
            Unseal::Malformed(why) => SealError::Corrupt(format!("secret {name:?}: {why}")),
            Unseal::Auth => SealError::Corrupt(format!(
                "secret {name:?} does not authenticate (tampered with, or sealed under \
                 another name or key)"
            )),
        })
    }

    /// Seals `plaintext` into `meta/secret/<name>`, replacing any previous
    /// value. Does not flush: the caller decides when it must be on disk
    /// (`Store::commit`, or `Store::flush_blocking` at start-up).
    pub fn put_secret(&self, name: &str, plaintext: &[u8]) -> Result<(), SealError> {
        let sealed = self.seal(name, plaintext);
        self.inner.store.meta_put(&secret_key(name), &sealed)?;
        Ok(())
    }

    /// The unsealed `meta/secret/<name>`, or `None` if it was never put.
    pub fn secret(&self, name: &str) -> Result<Option<Vec<u8>>, SealError> {
        match self.inner.store.meta_get(&secret_key(name))? {
            Some(sealed) => self.unseal(name, &sealed).map(Some),
            None => Ok(None),
        }
    }

    fn open_sealed(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, Unseal> {
        if sealed.len() < SEALED_OVERHEAD {
            return Err(Unseal::Malformed(format!(
                "{} bytes, shorter than the {SEALED_OVERHEAD} every sealed value has",
                sealed.len()
            )));
        }
        let (version, rest) = sealed.split_at(1);
        if version[0] != SEALED_VERSION {
            return Err(Unseal::Malformed(format!(
                "unknown sealed-value version {}",
                version[0]
            )));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.inner
            .aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| Unseal::Auth)
    }
}

fn secret_key(name: &str) -> String {
    format!("{SECRET_PREFIX}{name}")
}

fn fill_random(buf: &mut [u8]) -> Result<(), SealError> {
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(|e| SealError::Corrupt(format!("cannot get random bytes from the OS: {e}")))
}

/// Best-effort wipe of a key copy on the stack (`black_box` keeps the
/// compiler from dropping the zeroing as a dead store).
fn wipe(buf: &mut [u8; KEY_LEN]) {
    buf.fill(0);
    std::hint::black_box(buf);
}

fn derive_key(passphrase: &str, salt: &[u8]) -> Result<[u8; KEY_LEN], SealError> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, Some(KEY_LEN))
        .map_err(|e| SealError::Corrupt(format!("argon2id parameters: {e}")))?;
    let mut key = [0u8; KEY_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| SealError::Corrupt(format!("argon2id: {e}")))?;
    Ok(key)
}

/// Reads `<data_dir>/seal.key`, or creates it (mode 0600) at first start.
/// After the first start a missing key file is an error, never a new key.
fn load_or_create_key_file(data_dir: &Path, first_start: bool) -> Result<[u8; KEY_LEN], SealError> {
    let path = data_dir.join(KEY_FILE_NAME);
    let key_file_err = |source: io::Error| SealError::KeyFile {
        path: path.clone(),
        source,
    };
    match File::open(&path) {
        Ok(mut file) => {
            let meta = file.metadata().map_err(key_file_err)?;
            if meta.len() != KEY_LEN as u64 {
                return Err(key_file_err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "is {} bytes, expected {KEY_LEN}; restore the seal.key this data \
                         directory was first started with",
                        meta.len()
                    ),
                )));
            }
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{:o}", meta.permissions().mode() & 0o777),
                    "the key file is readable by other users; chmod 600 it"
                );
            }
            let mut key = [0u8; KEY_LEN];
            file.read_exact(&mut key).map_err(key_file_err)?;
            Ok(key)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound && first_start => {
            let mut key = [0u8; KEY_LEN];
            fill_random(&mut key)?;
            write_key_file(data_dir, &path, &key).map_err(key_file_err)?;
            Ok(key)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(key_file_err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "is missing, but the sealed secrets in {} were sealed with it; restore it \
                 (a new key would not open them)",
                data_dir.display()
            ),
        ))),
        Err(e) => Err(key_file_err(e)),
    }
}

/// Writes the key to a temporary file and renames it into place, so a crash
/// never leaves a short `seal.key` behind.
fn write_key_file(data_dir: &Path, path: &Path, key: &[u8; KEY_LEN]) -> io::Result<()> {
    let tmp = data_dir.join(format!("{KEY_FILE_NAME}.tmp"));
    // A leftover from an interrupted first start: remove it so the new file
    // is created, with mode 0600, rather than reused with whatever mode it has.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(key)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    File::open(data_dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests;
