//! `switchboard backup <file>` and `switchboard restore <file>`. The file
//! format and the snapshot live in the store (`store::backup`); this side
//! picks the route (the store directly, or the running server's admin
//! endpoint) and moves directories into place.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use switchboard_actors::sealed::KEY_FILE_NAME;
use switchboard_actors::store::backup::{self as format, BackupHeader, Progress};
use switchboard_actors::store::Store;
use switchboard_protocols::time::now_ms;

use super::admin_client::{AdminArgs, AdminTarget};
use crate::config::Config;

/// The data-directory files a backup carries beside the trees: without the
/// generated seal key the sealed secrets in the store cannot be opened.
pub fn data_files(data_dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    match std::fs::read(data_dir.join(KEY_FILE_NAME)) {
        Ok(bytes) => files.push((KEY_FILE_NAME.to_string(), bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(files)
}

/// Writes a backup of `store` into `out` (used by the admin route too).
pub fn write_backup(
    store: &Store,
    config_domain: &str,
    data_dir: &Path,
    out: impl std::io::Write,
    progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<format::BackupSummary> {
    let files = data_files(data_dir).context("cannot read the data directory's key file")?;
    Ok(store.backup(out, config_domain, now_ms(), &files, progress)?)
}

/// A sibling of `path` for files written before they are moved into place
/// (a rename is atomic only within one file system).
fn sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path.file_name().map_or_else(
        || "switchboard".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join(format!(".{name}.{tag}-{}", std::process::id()))
}

fn describe(h: &BackupHeader) -> String {
    let when = chrono::DateTime::from_timestamp_millis(h.created_at_ms)
        .map_or_else(|| h.created_at_ms.to_string(), |t| t.to_rfc3339());
    format!("server {}, taken {when}", h.domain)
}

/// `switchboard backup <file>`.
pub fn backup(config: &Config, file: &Path, admin: &AdminArgs) -> anyhow::Result<String> {
    let db = super::db_path(config);
    if !db.exists() {
        anyhow::bail!(
            "no store in {}: nothing to back up",
            config.data_dir().display()
        );
    }
    let tmp = sibling(file, "partial");
    let result = match super::open_store(config) {
        Ok(store) => backup_offline(config, &store, &tmp),
        // The running server holds the store: it takes the snapshot.
        Err(_) if locked(config) => backup_online(config, &tmp, admin),
        Err(e) => Err(e),
    };
    let bytes = match result {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let header = match format::verify(&tmp) {
        Ok(h) => h,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            anyhow::bail!("the backup just written does not verify: {e}");
        }
    };
    std::fs::rename(&tmp, file)
        .with_context(|| format!("cannot move the backup to {}", file.display()))?;
    Ok(format!(
        "backup written to {} ({bytes} bytes; {})",
        file.display(),
        describe(&header)
    ))
}

pub fn locked(config: &Config) -> bool {
    matches!(
        Store::open(&switchboard_actors::store::StoreConfig {
            path: super::db_path(config),
            durability: switchboard_actors::store::Durability::Batched,
            flush_every_ms: 1000,
            cache_capacity_bytes: 1024 * 1024,
        }),
        Err(e) if e.is_locked()
    )
}

fn backup_offline(config: &Config, store: &Store, tmp: &Path) -> anyhow::Result<u64> {
    let out =
        std::fs::File::create(tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut out = std::io::BufWriter::new(out);
    let bar = super::progress_bar(0, "{bar:40} {pos}/{len} trees, {msg} entries");
    let summary = write_backup(
        store,
        &config.server.domain,
        &config.data_dir(),
        &mut out,
        &mut |p| {
            bar.set_length(p.total);
            bar.set_position(p.done);
            bar.set_message(p.entries.to_string());
        },
    )?;
    bar.finish_and_clear();
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(summary.bytes)
}

fn backup_online(config: &Config, tmp: &Path, admin: &AdminArgs) -> anyhow::Result<u64> {
    let target = AdminTarget::resolve(config, admin, "back up")?;
    let url = format!("{}/admin/backup", target.base);
    let token = target.token.as_str();
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(tmp).with_context(|| format!("cannot create {}", tmp.display()))?,
    );
    let system = actix_rt::System::new();
    let bytes = system.block_on(async {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(24 * 3600))
            .finish();
        let mut res = client
            .post(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot reach the running server's admin endpoint at {url}: {e}")
            })?;
        if !res.status().is_success() {
            let body = res.body().await.unwrap_or_default();
            anyhow::bail!(
                "the server refused the backup ({}): {}",
                res.status(),
                String::from_utf8_lossy(&body)
            );
        }
        let len = res
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let bar = super::progress_bar(len, "{bar:40} {bytes}/{total_bytes}");
        let mut written = 0u64;
        // Ends with the body: one chunk per iteration.
        while let Some(chunk) = res.next().await {
            let chunk = chunk.map_err(|e| anyhow::anyhow!("the download broke off: {e}"))?;
            out.write_all(&chunk)?;
            written += chunk.len() as u64;
            bar.set_position(written);
        }
        bar.finish_and_clear();
        Ok(written)
    })?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(bytes)
}

/// `switchboard restore <file> [--force]`.
pub fn restore(config: &Config, file: &Path, force: bool) -> anyhow::Result<String> {
    let header =
        format::verify(file).with_context(|| format!("cannot restore {}", file.display()))?;
    if header.domain != config.server.domain {
        anyhow::bail!(
            "cannot restore {}: it is a backup of server {:?}, the config says server.domain = {:?}",
            file.display(),
            header.domain,
            config.server.domain
        );
    }
    let data_dir = config.data_dir();
    let occupied = match std::fs::read_dir(&data_dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", data_dir.display())),
    };
    if occupied {
        if !force {
            anyhow::bail!(
                "the data directory {} is not empty: pass --force to replace it",
                data_dir.display()
            );
        }
        if super::db_path(config).exists() && locked(config) {
            anyhow::bail!(
                "a running server holds the store in {}: stop the server first",
                data_dir.display()
            );
        }
    }

    let fresh = sibling(&data_dir, "restore");
    let _ = std::fs::remove_dir_all(&fresh);
    let bar = super::progress_bar(0, "{bar:40} {bytes}/{total_bytes}, {msg} entries");
    let restored = format::restore(file, &fresh, &mut |p| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        bar.set_message(p.entries.to_string());
    });
    bar.finish_and_clear();
    let (_, summary) = match restored {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&fresh);
            return Err(anyhow::anyhow!("cannot restore {}: {e}", file.display()));
        }
    };
    // Moves the old directory aside first, so a failure leaves one of the
    // two complete directories in place.
    let old = sibling(&data_dir, "replaced");
    if data_dir.exists() {
        std::fs::rename(&data_dir, &old)
            .with_context(|| format!("cannot move {} aside", data_dir.display()))?;
    }
    if let Err(e) = std::fs::rename(&fresh, &data_dir) {
        let _ = std::fs::rename(&old, &data_dir);
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(e)
            .with_context(|| format!("cannot move the restore into {}", data_dir.display()));
    }
    let _ = std::fs::remove_dir_all(&old);
    Ok(format!(
        "restored {} entries in {} trees from {} ({}) into {}",
        summary.entries,
        summary.trees,
        file.display(),
        describe(&header),
        data_dir.display()
    ))
}
