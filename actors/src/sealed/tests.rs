use super::*;
use crate::store::{Durability, StoreConfig};

fn store_cfg(dir: &Path) -> StoreConfig {
    StoreConfig {
        path: dir.join("db"),
        durability: Durability::Batched,
        flush_every_ms: 100,
        cache_capacity_bytes: 8 * 1024 * 1024,
    }
}

fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&store_cfg(dir.path())).unwrap();
    (dir, store)
}

/// sled releases its file lock shortly after the last handle drops, so
/// a same-process reopen may briefly see "could not acquire lock" (as
/// the store's own `testutil::reopen`, which is private to the store).
fn reopen_store(dir: &Path) -> Store {
    for _ in 0..400 {
        match Store::open(&store_cfg(dir)) {
            Err(StoreError::Sled(sled::Error::Io(e))) if e.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => return other.unwrap(),
        }
    }
    Store::open(&store_cfg(dir)).unwrap()
}

fn open_err(store: &Store, dir: &Path, passphrase: &str) -> SealError {
    match Sealer::open(store, dir, passphrase) {
        Ok(_) => panic!("Sealer::open succeeded"),
        Err(e) => e,
    }
}

#[test]
fn seal_unseal_round_trip() {
    let (dir, store) = fresh();
    let s = Sealer::open(&store, dir.path(), "pw").unwrap();
    for plain in [&b""[..], b"x", &[0xa5; 1000]] {
        let sealed = s.seal("name", plain);
        assert_eq!(sealed.len(), SEALED_OVERHEAD + plain.len());
        assert_eq!(sealed[0], SEALED_VERSION);
        assert_eq!(s.unseal("name", &sealed).unwrap(), plain);
    }
    // Fresh nonce every time.
    assert_ne!(s.seal("name", b"same"), s.seal("name", b"same"));
}

#[test]
fn tampered_byte_fails() {
    let (dir, store) = fresh();
    let s = Sealer::open(&store, dir.path(), "pw").unwrap();
    let sealed = s.seal("k", b"secret value");
    for i in 1..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        assert!(
            matches!(s.unseal("k", &bad), Err(SealError::Corrupt(_))),
            "byte {i}"
        );
    }
    let mut bad = sealed.clone();
    bad[0] = 2;
    let e = s.unseal("k", &bad).unwrap_err();
    assert!(e.to_string().contains("version 2"), "{e}");
    let e = s.unseal("k", &sealed[..SEALED_OVERHEAD - 1]).unwrap_err();
    assert!(matches!(e, SealError::Corrupt(_)), "{e}");
    assert!(s.unseal("k", &sealed[..sealed.len() - 1]).is_err());
}

#[test]
fn wrong_name_fails() {
    let (dir, store) = fresh();
    let s = Sealer::open(&store, dir.path(), "pw").unwrap();
    let sealed = s.seal("federation_key", b"k");
    let e = s.unseal("v0/1", &sealed).unwrap_err();
    assert!(e.to_string().contains("does not authenticate"), "{e}");
    // Moving a stored value to another name does not work either.
    s.put_secret("a", b"value of a").unwrap();
    let raw = store.meta_get("secret/a").unwrap().unwrap();
    store.meta_put("secret/b", &raw).unwrap();
    assert!(s.secret("b").is_err());
    assert_eq!(s.secret("a").unwrap().unwrap(), b"value of a");
}

#[test]
fn secrets_are_stored_sealed() {
    let (dir, store) = fresh();
    let s = Sealer::open(&store, dir.path(), "pw").unwrap();
    assert_eq!(s.secret("missing").unwrap(), None);
    s.put_secret("hmac", b"plaintext-hmac-key").unwrap();
    let raw = store.meta_get("secret/hmac").unwrap().unwrap();
    assert_eq!(raw.len(), SEALED_OVERHEAD + b"plaintext-hmac-key".len());
    assert!(!raw
        .windows(b"plaintext-hmac-key".len())
        .any(|w| w == b"plaintext-hmac-key"));
    let check = store.meta_get("seal_check").unwrap().unwrap();
    assert!(!check
        .windows(CHECK_PLAINTEXT.len())
        .any(|w| w == CHECK_PLAINTEXT));
    assert_eq!(store.meta_get("seal_mode").unwrap().unwrap(), b"passphrase");
    assert_eq!(
        store.meta_get("seal_salt").unwrap().unwrap().len(),
        SALT_LEN
    );
    // Replacing works.
    s.put_secret("hmac", b"second").unwrap();
    assert_eq!(s.secret("hmac").unwrap().unwrap(), b"second");
}

#[test]
fn reopen_with_same_passphrase_reads_secrets() {
    let (dir, store) = fresh();
    {
        let s = Sealer::open(&store, dir.path(), "correct horse").unwrap();
        s.put_secret("federation", b"private key bytes").unwrap();
        store.flush_blocking().unwrap();
    }
    let salt = store.meta_get("seal_salt").unwrap();
    drop(store);
    let store = reopen_store(dir.path());
    let s = Sealer::open(&store, dir.path(), "correct horse").unwrap();
    assert_eq!(s.mode(), SealMode::Passphrase);
    assert_eq!(
        s.secret("federation").unwrap().unwrap(),
        b"private key bytes"
    );
    // The salt is kept, not regenerated.
    assert_eq!(store.meta_get("seal_salt").unwrap(), salt);
    assert!(!dir.path().join(KEY_FILE_NAME).exists());
}

#[test]
fn wrong_passphrase_is_refused() {
    let (dir, store) = fresh();
    Sealer::open(&store, dir.path(), "correct horse").unwrap();
    let e = open_err(&store, dir.path(), "wrong");
    assert!(matches!(e, SealError::WrongKey { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("storage.passphrase"), "{msg}");
    assert!(msg.contains("does not open the sealed secrets"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    // The failed attempt changed nothing.
    Sealer::open(&store, dir.path(), "correct horse").unwrap();
}

#[test]
fn key_file_mode_creates_0600_file_and_reopens() {
    let (dir, store) = fresh();
    let path = dir.path().join(KEY_FILE_NAME);
    {
        let s = Sealer::open(&store, dir.path(), "").unwrap();
        assert_eq!(s.mode(), SealMode::KeyFile);
        s.put_secret("x", b"y").unwrap();
    }
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 32);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(!dir.path().join("seal.key.tmp").exists());
    assert_eq!(store.meta_get("seal_mode").unwrap().unwrap(), b"keyfile");
    assert_eq!(store.meta_get("seal_salt").unwrap(), None);
    let key = fs::read(&path).unwrap();
    store.flush_blocking().unwrap();
    drop(store);

    let store = reopen_store(dir.path());
    let s = Sealer::open(&store, dir.path(), "").unwrap();
    assert_eq!(s.secret("x").unwrap().unwrap(), b"y");
    assert_eq!(fs::read(&path).unwrap(), key, "key file rewritten");
}

#[test]
fn changed_key_file_is_refused() {
    let (dir, store) = fresh();
    Sealer::open(&store, dir.path(), "").unwrap();
    let path = dir.path().join(KEY_FILE_NAME);
    let mut key = fs::read(&path).unwrap();
    key[0] ^= 0xff;
    fs::write(&path, &key).unwrap();
    let e = open_err(&store, dir.path(), "");
    assert!(matches!(e, SealError::WrongKey { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("does not open the sealed secrets"), "{msg}");
}

#[test]
fn key_file_of_wrong_size_is_refused() {
    let (dir, store) = fresh();
    let path = dir.path().join(KEY_FILE_NAME);
    fs::write(&path, [7u8; 31]).unwrap();
    let e = open_err(&store, dir.path(), "");
    assert!(matches!(e, SealError::KeyFile { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("seal.key") && msg.contains("31 bytes"),
        "{msg}"
    );
    // Nothing was recorded: a right-sized file then works.
    assert_eq!(store.meta_get("seal_check").unwrap(), None);
    fs::write(&path, [7u8; 32]).unwrap();
    Sealer::open(&store, dir.path(), "").unwrap();
}

#[test]
fn missing_key_file_after_first_start_is_refused() {
    let (dir, store) = fresh();
    Sealer::open(&store, dir.path(), "").unwrap();
    let path = dir.path().join(KEY_FILE_NAME);
    fs::remove_file(&path).unwrap();
    let e = open_err(&store, dir.path(), "");
    assert!(matches!(e, SealError::KeyFile { .. }), "{e:?}");
    assert!(e.to_string().contains("is missing"), "{e}");
    assert!(!path.exists(), "no new key may be generated");
}

#[test]
fn passphrase_to_key_file_switch_is_refused() {
    let (dir, store) = fresh();
    Sealer::open(&store, dir.path(), "correct horse").unwrap();
    let e = open_err(&store, dir.path(), "");
    assert!(
        matches!(
            e,
            SealError::ModeChanged {
                sealed_with: SealMode::Passphrase,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("storage.passphrase is empty"), "{e}");
    assert!(!dir.path().join(KEY_FILE_NAME).exists());
}

#[test]
fn key_file_to_passphrase_switch_is_refused() {
    let (dir, store) = fresh();
    Sealer::open(&store, dir.path(), "").unwrap();
    let e = open_err(&store, dir.path(), "a passphrase");
    assert!(
        matches!(
            e,
            SealError::ModeChanged {
                sealed_with: SealMode::KeyFile,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("storage.passphrase is set"), "{msg}");
    assert!(msg.contains("seal.key"), "{msg}");
}

#[test]
fn interrupted_first_start_starts_over() {
    let (dir, store) = fresh();
    // A first start that wrote the mode and salt but not the check record.
    store.meta_put("seal_mode", b"passphrase").unwrap();
    store.meta_put("seal_salt", &[1u8; SALT_LEN]).unwrap();
    let s = Sealer::open(&store, dir.path(), "").unwrap();
    assert_eq!(s.mode(), SealMode::KeyFile);
    assert_eq!(store.meta_get("seal_mode").unwrap().unwrap(), b"keyfile");
    Sealer::open(&store, dir.path(), "").unwrap();
}

#[test]
fn corrupt_records_are_reported() {
    let (dir, store) = fresh();
    Sealer::open(&store, dir.path(), "pw").unwrap();
    store.meta_put("seal_salt", &[0u8; 3]).unwrap();
    let e = open_err(&store, dir.path(), "pw");
    assert!(matches!(e, SealError::Corrupt(_)), "{e:?}");
    store.meta_put("seal_mode", b"rot13").unwrap();
    let e = open_err(&store, dir.path(), "pw");
    assert!(e.to_string().contains("rot13"), "{e}");
}

#[test]
fn sealer_is_send_sync_clone() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Sealer>();
    let (dir, store) = fresh();
    let s = Sealer::open(&store, dir.path(), "").unwrap();
    assert!(!format!("{s:?}").contains("aead"));
}
