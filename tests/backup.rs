//! `switchboard backup` and `switchboard restore`: a backup taken while a
//! client sends restores into an empty directory and serves the same
//! history; bad backups and occupied directories are refused and change
//! nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{cli_ok as ok, Jam, TestServer, ADMIN_TOKEN, PASSWORD};
use serde_json::json;

fn cli(config: &Path, args: &[&str]) -> Output {
    common::run_cli(config, args, "", &[])
}

fn refused(out: &Output, want: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should have failed: {err}");
    assert!(err.contains(want), "the message must say {want:?}: {err}");
}

/// Every (id, content) of a channel, oldest first, paging with `before`.
async fn history(server: &TestServer, token: &str, channel: &str) -> Vec<(String, String)> {
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    // At most 100 pages of 100: far more than any test here sends.
    for _ in 0..100 {
        let mut path = format!("/api/messages?channel_id={channel}&limit=100");
        if let Some(b) = &before {
            path.push_str(&format!("&before={b}"));
        }
        let (status, body) = server.rest("GET", &path, Some(token), None).await;
        assert_eq!(status, 200, "{body}");
        let page = body.as_array().expect("a history page").clone();
        if page.is_empty() {
            break;
        }
        for m in &page {
            all.push((
                m["id"].as_str().expect("id").to_string(),
                m["content"].as_str().unwrap_or_default().to_string(),
            ));
        }
        before = page.last().and_then(|m| m["id"].as_str()).map(String::from);
    }
    all.reverse();
    all
}

async fn login(server: &TestServer, name: &str) -> String {
    let (status, body) = server
        .rest(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": name, "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("token").to_string()
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

#[tokio::test]
async fn a_backup_taken_while_clients_send_restores_the_same_history() {
    let source = TestServer::start();
    let mut alice = Jam::register(&source, "alice").await;
    let general = alice.lobby().general;
    let mut acked = Vec::new();
    for i in 0..20 {
        let m = alice
            .send_message(&general, &format!("before {i}"), &format!("b{i}"))
            .await;
        acked.push((
            m["id"].as_str().expect("id").to_string(),
            format!("before {i}"),
        ));
    }

    // One client keeps sending (a bounded number) while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (stop, general) = (stop.clone(), general.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 300 {
                alice
                    .send_message(&general, &format!("during {n}"), &format!("d{n}"))
                    .await;
                n += 1;
            }
            n
        })
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("live.swb");
    let (config, f, admin) = (source.config_path(), file.clone(), source.admin.to_string());
    let out = tokio::task::spawn_blocking(move || {
        cli(
            &config,
            &["backup", f.to_str().expect("utf-8 path"), "--admin", &admin],
        )
    })
    .await
    .expect("backup task");
    stop.store(true, Ordering::SeqCst);
    let during = sender.await.expect("sender");
    let said = ok(&out);
    assert!(said.contains("backup written to"), "{said}");
    assert!(file.exists());
    let spooled: Vec<_> = listing(&source.data_dir())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("admin-backup"))
        .collect();
    assert!(
        spooled.is_empty(),
        "the server's spool file is gone: {spooled:?}"
    );

    let token = login(&source, "alice").await;
    let full = history(&source, &token, &general).await;
    assert_eq!(full.len(), 20 + during, "the source kept every message");

    let mut target = TestServer::prepared("localhost", "");
    let said = ok(&cli(
        &target.config_path(),
        &["restore", file.to_str().expect("utf-8")],
    ));
    assert!(said.contains("restored"), "{said}");
    target.restart();
    let token = login(&target, "alice").await;
    let restored = history(&target, &token, &general).await;
    // Everything acknowledged before the backup began is there, same ids
    // and contents...
    assert_eq!(&restored[..acked.len()], &acked[..]);
    // ...and the rest is exactly the source's history up to some instant:
    // a consistent snapshot never holds a later message without an earlier.
    assert_eq!(&full[..restored.len()], &restored[..]);
}

#[tokio::test]
async fn an_offline_backup_restores_too_and_force_replaces() {
    let mut source = TestServer::start();
    let mut bob = Jam::register(&source, "bob").await;
    let general = bob.lobby().general;
    for i in 0..5 {
        bob.send_message(&general, &format!("m{i}"), &format!("r{i}"))
            .await;
    }
    let token = login(&source, "bob").await;
    let want = history(&source, &token, &general).await;
    assert!(source.stop().success());

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("offline.swb");
    let file_arg = file.to_str().expect("utf-8");
    assert!(ok(&cli(&source.config_path(), &["backup", file_arg])).contains("backup written"));

    // The target already has a store of its own: refused without --force.
    let mut target = TestServer::start();
    common::rest_register(&target, "someone-else").await;
    assert!(target.stop().success());
    let before = listing(&target.data_dir().join("db"));
    refused(
        &cli(&target.config_path(), &["restore", file_arg]),
        "--force",
    );
    assert_eq!(
        listing(&target.data_dir().join("db")),
        before,
        "nothing changed"
    );
    target.restart();
    login(&target, "someone-else").await;
    assert!(target.stop().success());

    ok(&cli(
        &target.config_path(),
        &["restore", file_arg, "--force"],
    ));
    target.restart();
    let token = login(&target, "bob").await;
    assert_eq!(history(&target, &token, &general).await, want);
    let (status, _) = target
        .rest(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": "someone-else", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 401, "--force replaced the old store");
}

#[tokio::test]
async fn bad_backups_are_refused_and_change_nothing() {
    let mut source = TestServer::start();
    common::rest_register(&source, "carol").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.swb");
    ok(&cli(
        &source.config_path(),
        &[
            "backup",
            good.to_str().expect("utf-8"),
            "--admin",
            &source.admin.to_string(),
        ],
    ));
    // A wrong admin token: a clear refusal and no file.
    let wrong = dir.path().join("wrong-token.swb");
    let text = std::fs::read_to_string(source.config_path()).expect("config");
    let other_config = dir.path().join("other.toml");
    std::fs::write(&other_config, text.replace(ADMIN_TOKEN, "not-the-token")).expect("write");
    refused(
        &cli(
            &other_config,
            &[
                "backup",
                wrong.to_str().expect("utf-8"),
                "--admin",
                &source.admin.to_string(),
            ],
        ),
        "refused the backup",
    );
    assert!(!wrong.exists());
    assert!(source.stop().success());

    let bytes = std::fs::read(&good).expect("backup");
    let corrupt = dir.path().join("corrupt.swb");
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    std::fs::write(&corrupt, &flipped).expect("write");
    let truncated = dir.path().join("truncated.swb");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).expect("write");
    let foreign = dir.path().join("foreign.swb");
    std::fs::write(&foreign, b"SQLite format 3\0 not ours").expect("write");
    let missing = dir.path().join("missing.swb");

    let target = TestServer::prepared("localhost", "");
    let config = target.config_path();
    let path = |p: &Path| p.to_str().expect("utf-8").to_string();
    refused(&cli(&config, &["restore", &path(&missing)]), "No such file");
    refused(&cli(&config, &["restore", &path(&corrupt)]), "checksum");
    refused(&cli(&config, &["restore", &path(&truncated)]), "corrupt");
    refused(
        &cli(&config, &["restore", &path(&foreign)]),
        "not a Switchboard backup",
    );
    let other = TestServer::prepared("other.example", "");
    refused(
        &cli(&other.config_path(), &["restore", &path(&good)]),
        "backup of server \"localhost\"",
    );
    assert!(!target.data_dir().exists(), "nothing was written");
    assert!(!other.data_dir().exists(), "nothing was written");
    assert!(
        listing(target.data_dir().parent().expect("parent"))
            .iter()
            .all(|p| !p.to_string_lossy().contains(".data.")),
        "no leftovers beside the data directory"
    );
    // The good file still restores.
    ok(&cli(&config, &["restore", &path(&good)]));
}
