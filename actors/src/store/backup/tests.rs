use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use switchboard_protocols::Id;

use super::super::testutil::*;
use super::super::Durability;
use super::*;

fn fill(s: &Store) {
    s.create_user(&user(1, "alice"), Some("$argon2id$x"))
        .unwrap();
    s.put_guild(&guild(10, 1)).unwrap();
    s.put_channel(&channel(20, Some(10))).unwrap();
    for i in 0..50 {
        s.put_message(&message(20, 100 + i, 1)).unwrap();
    }
}

fn take(s: &Store, path: &Path) -> BackupSummary {
    let files = vec![("seal.key".to_string(), b"key bytes".to_vec())];
    let out = File::create(path).unwrap();
    s.backup(out, "example.org", 42, &files, &mut |_| {})
        .unwrap()
}

#[test]
fn round_trip_restores_every_tree_and_file() {
    let (dir, s) = open_tmp();
    fill(&s);
    let path = dir.path().join("b.swb");
    let summary = take(&s, &path);
    assert!(summary.entries >= 50 + 2, "{summary:?}");
    assert_eq!(summary.bytes, std::fs::metadata(&path).unwrap().len());

    let header = verify(&path).unwrap();
    assert_eq!(header.domain, "example.org");
    assert_eq!(header.created_at_ms, 42);

    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    let (_, restored) = restore(&path, &data, &mut |_| {}).unwrap();
    assert_eq!(restored.entries, summary.entries);
    assert_eq!(restored.trees, summary.trees);
    assert_eq!(std::fs::read(data.join("seal.key")).unwrap(), b"key bytes");
    let r = reopen(&data.join("db"), Durability::Batched);
    assert_eq!(r.message_count(), 50);
    assert_eq!(r.user_by_name("alice").unwrap(), Some(user(1, "alice")));
    assert_eq!(
        r.password_hash(Id(1)).unwrap().as_deref(),
        Some("$argon2id$x")
    );
    assert_eq!(r.meta_get("schema_version").unwrap(), Some(vec![1]));
}

type Expected = fn(&BackupError) -> bool;

#[test]
fn bad_files_are_refused_before_anything_is_written() {
    let (dir, s) = open_tmp();
    fill(&s);
    let path = dir.path().join("b.swb");
    take(&s, &path);
    let good = std::fs::read(&path).unwrap();
    let target = dir.path().join("target");
    let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
        ("foreign", b"PK\x03\x04 a zip file".to_vec(), |e| {
            matches!(e, BackupError::NotABackup)
        }),
        ("empty", Vec::new(), |e| {
            matches!(e, BackupError::NotABackup)
        }),
        ("truncated", good[..good.len() / 2].to_vec(), |e| {
            matches!(e, BackupError::Checksum | BackupError::Truncated)
        }),
        ("header only", good[..20].to_vec(), |e| {
            matches!(e, BackupError::Truncated)
        }),
        (
            "flipped byte",
            {
                let mut b = good.clone();
                let mid = b.len() / 2;
                b[mid] ^= 0x40;
                b
            },
            |e| matches!(e, BackupError::Checksum),
        ),
        (
            "version 9",
            {
                let mut b = good.clone();
                b[8..10].copy_from_slice(&9u16.to_be_bytes());
                b
            },
            |e| matches!(e, BackupError::UnsupportedVersion(9)),
        ),
    ];
    for (what, bytes, expected) in cases {
        let bad = dir.path().join(format!("{what}.swb"));
        std::fs::write(&bad, &bytes).unwrap();
        let e = restore(&bad, &target, &mut |_| {}).unwrap_err();
        assert!(expected(&e), "{what}: {e}");
        assert!(!target.exists(), "{what}: restore wrote something");
    }
}

#[test]
fn unsafe_file_names_are_corrupt() {
    for bad in ["", "db", "../x", "a/b", ".hidden", "a\\b"] {
        assert!(safe_file_name(bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert_eq!(safe_file_name(b"seal.key").unwrap(), "seal.key");
}

/// Users are written to two trees in one transaction; a backup taken
/// while they are being created must never hold one half.
#[test]
fn snapshot_is_consistent_under_concurrent_writes() {
    let (dir, s) = open_tmp();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let writer = {
        let (s, stop, started) = (s.clone(), stop.clone(), started.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && n < 100_000 {
                n += 1;
                s.create_user(&user(1000 + n, &format!("u{n}")), None)
                    .unwrap();
                s.put_message(&message(20, 1000 + n, 1)).unwrap();
                started.store(true, Ordering::Release);
            }
            n
        })
    };
    // The backups must overlap the writes: wait for the first one (on a
    // busy machine the thread may not have run before three backups end).
    while !started.load(Ordering::Acquire) && !writer.is_finished() {
        std::thread::yield_now();
    }
    let path = dir.path().join("b.swb");
    let mut summaries = Vec::new();
    for _ in 0..3 {
        summaries.push(take(&s, &path));
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);

    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    restore(&path, &data, &mut |_| {}).unwrap();
    let r = reopen(&data.join("db"), Durability::Batched);
    let users = r.list_users(None, usize::MAX).unwrap();
    for u in &users {
        assert_eq!(r.user_by_name(&u.username).unwrap().as_ref(), Some(u));
    }
    let names = r.t().users_by_name.len();
    assert_eq!(names, users.len(), "name index and users differ");
}
