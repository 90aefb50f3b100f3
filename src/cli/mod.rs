//! The operator commands besides `serve`. Most work on the data directory
//! with the server stopped (sled admits one process at a time); `backup`
//! asks the running server through the admin endpoint when it holds the
//! store.

pub mod admin_client;
pub mod backup;
pub mod offline;
pub mod users;

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use switchboard_actors::sealed::Sealer;
use switchboard_actors::store::{Durability, Store, StoreConfig};

use crate::config::Config;

pub fn db_path(config: &Config) -> PathBuf {
    config.data_dir().join("db")
}

/// Opens the store for an offline command, saying what to do when the
/// server holds it.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    let data_dir = config.data_dir();
    Store::open(&StoreConfig {
        path: db_path(config),
        durability: Durability::Batched,
        flush_every_ms: 1000,
        cache_capacity_bytes: 16 * 1024 * 1024,
    })
    .map_err(|e| {
        if e.is_locked() {
            anyhow::anyhow!(
                "the store in {} is in use by a running server: stop the server first \
                 (or use the admin API)",
                data_dir.display()
            )
        } else {
            anyhow::Error::new(e)
                .context(format!("cannot open the store in {}", data_dir.display()))
        }
    })
}

pub fn open_sealed(config: &Config) -> anyhow::Result<(Store, Sealer)> {
    let store = open_store(config)?;
    let sealer = Sealer::open(&store, &config.data_dir(), &config.storage.passphrase)
        .context("cannot open the sealed secrets")?;
    Ok((store, sealer))
}

/// A progress bar on stderr when it is a terminal, else nothing drawn, so
/// scripts and logs get only the final line.
pub fn progress_bar(len: u64, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// `switchboard check-config`: the effective configuration's listeners.
pub fn check_config(path: &Path, config: &Config) -> String {
    let l = &config.listeners;
    let mut out = format!(
        "config OK: {}\n  domain   {}\n  data_dir {}\n",
        path.display(),
        config.server.domain,
        config.data_dir().display()
    );
    for (name, addr) in [
        ("http", l.http),
        ("admin", l.admin),
        ("originchats", l.originchats),
        ("chatnet", l.chatnet),
        ("v0", l.v0),
        ("mqtt", l.mqtt),
    ] {
        let addr = addr.map_or_else(|| "off".to_string(), |a| a.to_string());
        out.push_str(&format!("  listener {name:<11} {addr}\n"));
    }
    out.trim_end().to_string()
}
