//! The admin endpoint: its own listener (localhost by default), every
//! route behind a bearer token that is kept only as a SHA-256 hash.
//!
//! - `GET /admin/health`: the process answers.
//! - `GET /admin/ready`: the store is open and the listeners are bound.
//! - `GET /admin/stats`: JSON figures.
//! - `GET /metrics`: the same in Prometheus text format.
//! - `POST /admin/backup`: a backup file of the whole store (what
//!   `switchboard backup` fetches while the server runs).
//! - `/admin/users...`: account administration while the server runs (what
//!   `switchboard user ...` uses then); see `users`.
//! - `GET /admin/`: the dashboard page (static; its script asks for the
//!   token and calls the routes above and `GET /admin/activity`).

mod dashboard;
pub mod recent;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use switchboard_actors::metrics::LATENCY_BUCKETS;
use switchboard_actors::nynja::NynjaContext;
use switchboard_actors::store::Store;
use switchboard_actors::World;
use switchboard_protocols::Dialect;

const TOKEN_HASH_KEY: &str = "admin_token_sha256";

pub struct AdminState {
    world: Arc<World>,
    nynja: Arc<NynjaContext>,
    token_hash: [u8; 32],
    ready: AtomicBool,
    data_dir: PathBuf,
}

impl AdminState {
    pub fn new(
        world: Arc<World>,
        nynja: Arc<NynjaContext>,
        token_hash: [u8; 32],
        data_dir: PathBuf,
    ) -> Self {
        AdminState {
            world,
            nynja,
            token_hash,
            ready: AtomicBool::new(false),
            data_dir,
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

/// The hash of the admin token: of the configured one, or of one generated
/// at first start, stored hashed and printed this once.
pub fn token_hash(store: &Store, configured: &str) -> anyhow::Result<[u8; 32]> {
    if !configured.is_empty() {
        return Ok(Sha256::digest(configured.as_bytes()).into());
    }
    if let Some(bytes) = store.meta_get(TOKEN_HASH_KEY)? {
        if let Ok(hash) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(hash);
        }
    }
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    store.meta_put(TOKEN_HASH_KEY, &hash)?;
    store.flush_blocking()?;
    println!("admin token (shown once; keep it): {token}");
    Ok(hash)
}

enum Auth {
    Ok,
    Missing,
    Wrong,
}

/// Compares in constant time, so the response time says nothing about how
/// much of a guess was right.
fn check_token(req: &HttpRequest, state: &AdminState) -> Auth {
    let Some(token) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Auth::Missing;
    };
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let same = hash
        .iter()
        .zip(state.token_hash.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0;
    if same {
        Auth::Ok
    } else {
        Auth::Wrong
    }
}

/// The 401 for a missing or wrong token. A wrong one is logged (so it shows
/// among the dashboard's recent errors): someone is guessing, or an
/// operator's tool has a stale token.
fn refuse(req: &HttpRequest, auth: Auth) -> HttpResponse {
    let message = match auth {
        Auth::Wrong => {
            let peer = req.peer_addr().map(|a| a.ip().to_string());
            tracing::warn!(
                peer = peer.as_deref().unwrap_or("?"),
                path = req.path(),
                "wrong admin token"
            );
            "Wrong admin token"
        }
        _ => "Admin token required",
    };
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
        .json(json!({"error": {"code": "NOT_AUTHENTICATED", "message": message}}))
}

macro_rules! guarded {
    ($req:expr, $state:expr) => {
        match check_token(&$req, &$state) {
            Auth::Ok => {}
            other => return refuse(&$req, other),
        }
    };
}

// After the macro: the routes in it use `guarded!`.
mod users;

async fn health(req: HttpRequest, state: web::Data<Arc<AdminState>>) -> HttpResponse {
    guarded!(req, state);
    HttpResponse::Ok().json(json!({"status": "ok", "uptime_s": state.world.metrics.uptime_s()}))
}

async fn ready(req: HttpRequest, state: web::Data<Arc<AdminState>>) -> HttpResponse {
    guarded!(req, state);
    if state.ready.load(Ordering::SeqCst) {
        HttpResponse::Ok().json(json!({"ready": true}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({"ready": false}))
    }
}

async fn stats(req: HttpRequest, state: web::Data<Arc<AdminState>>) -> HttpResponse {
    guarded!(req, state);
    let w = &state.world;
    let m = &w.metrics;
    let connections: serde_json::Map<String, serde_json::Value> = Dialect::ALL
        .iter()
        .map(|d| (d.as_str().to_string(), json!(m.connections(*d))))
        .collect();
    let f = w.store.file_stats();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    HttpResponse::Ok().json(json!({
        "files": {
            "count": f.files,
            "chunks": f.chunks,
            "logical_bytes": f.logical_bytes,
            "unique_bytes": f.unique_bytes,
            "stored_bytes": f.stored_bytes,
            "dedup_ratio": ratio(f.logical_bytes, f.unique_bytes),
            "compression_ratio": ratio(f.unique_bytes, f.stored_bytes),
        },
        "server": {"name": w.config.server_name, "domain": w.config.domain, "version": w.config.version},
        "federation": federation_stats(w),
        "uptime_s": m.uptime_s(),
        "connections": connections,
        "connections_total": Dialect::ALL.iter().map(|d| m.connections(*d)).sum::<i64>(),
        "users": w.store.user_count(),
        "guilds": w.store.guild_count(),
        "channels": w.store.channel_count(),
        "messages_stored": w.store.message_count(),
        "messages_created": m.messages_created(),
        "messages_per_second": m.messages_per_second(),
        "deliveries": m.deliveries(),
        "slow_consumers": m.slow_consumers(),
        "connections_refused": m.connections_refused(),
        "requests_rate_limited": m.requests_rate_limited(),
        "bytes_on_disk": w.store.size_on_disk(),
        "group_commit_flushes": w.store.group_commit_flushes(),
    }))
}

/// `federation` of `/admin/stats`: the key, and per peer the outbox depth,
/// deliveries, failed attempts, dropped bodies and the last error.
fn federation_stats(w: &World) -> serde_json::Value {
    let Some(fed) = w.federation() else {
        return json!({"public_key": null, "peers": []});
    };
    let peers: Vec<serde_json::Value> = fed
        .peers()
        .iter()
        .map(|p| {
            let s = &p.stats;
            json!({
                "domain": p.domain,
                "url": p.endpoint,
                "outbox": s.queued.load(Ordering::Relaxed).max(0),
                "delivered": s.delivered.load(Ordering::Relaxed),
                "failures": s.failures.load(Ordering::Relaxed),
                "dropped": s.dropped.load(Ordering::Relaxed),
                "last_error": *s.last_error.lock(),
            })
        })
        .collect();
    json!({"domain": fed.domain, "public_key": fed.public_key(), "peers": peers})
}

fn federation_metrics(out: &mut String, w: &World) {
    let Some(fed) = w.federation() else {
        return;
    };
    type Counter = fn(&switchboard_actors::federation::PeerStats) -> f64;
    let series: [(&str, &str, &str, Counter); 4] = [
        (
            "switchboard_federation_outbox",
            "gauge",
            "Bodies waiting for a peer.",
            |s| s.queued.load(Ordering::Relaxed).max(0) as f64,
        ),
        (
            "switchboard_federation_delivered_total",
            "counter",
            "Bodies a peer accepted.",
            |s| s.delivered.load(Ordering::Relaxed) as f64,
        ),
        (
            "switchboard_federation_failures_total",
            "counter",
            "Delivery attempts that failed.",
            |s| s.failures.load(Ordering::Relaxed) as f64,
        ),
        (
            "switchboard_federation_dropped_total",
            "counter",
            "Bodies a peer refused for good.",
            |s| s.dropped.load(Ordering::Relaxed) as f64,
        ),
    ];
    for (name, kind, help, value) in series {
        metric(out, name, kind, help);
        for p in fed.peers() {
            let _ = writeln!(out, "{name}{{peer=\"{}\"}} {}", p.domain, value(&p.stats));
        }
    }
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

async fn metrics(req: HttpRequest, state: web::Data<Arc<AdminState>>) -> HttpResponse {
    guarded!(req, state);
    let w = &state.world;
    let m = &w.metrics;
    let mut out = String::new();
    metric(
        &mut out,
        "switchboard_connections",
        "gauge",
        "Open connections by dialect.",
    );
    for d in Dialect::ALL {
        let _ = writeln!(
            out,
            "switchboard_connections{{dialect=\"{}\"}} {}",
            d.as_str(),
            m.connections(d)
        );
    }
    metric(
        &mut out,
        "switchboard_frames_received_total",
        "counter",
        "Frames received from clients by dialect.",
    );
    for d in Dialect::ALL {
        let _ = writeln!(
            out,
            "switchboard_frames_received_total{{dialect=\"{}\"}} {}",
            d.as_str(),
            m.frames_in(d)
        );
    }
    let f = w.store.file_stats();
    let scalars: [(&str, &str, &str, f64); 15] = [
        (
            "switchboard_files",
            "gauge",
            "Uploaded files.",
            f.files as f64,
        ),
        (
            "switchboard_files_logical_bytes",
            "gauge",
            "Sum of the sizes of uploaded files.",
            f.logical_bytes as f64,
        ),
        (
            "switchboard_files_unique_bytes",
            "gauge",
            "Raw bytes of the distinct chunks after deduplication.",
            f.unique_bytes as f64,
        ),
        (
            "switchboard_files_stored_bytes",
            "gauge",
            "Bytes the file chunks occupy after compression.",
            f.stored_bytes as f64,
        ),
        (
            "switchboard_messages_created_total",
            "counter",
            "Messages created, every dialect and REST.",
            m.messages_created() as f64,
        ),
        (
            "switchboard_messages_stored",
            "gauge",
            "Messages in the store.",
            w.store.message_count() as f64,
        ),
        (
            "switchboard_deliveries_total",
            "counter",
            "Events handed to session mailboxes.",
            m.deliveries() as f64,
        ),
        (
            "switchboard_slow_consumers_total",
            "counter",
            "Sessions closed for not reading their output.",
            m.slow_consumers() as f64,
        ),
        (
            "switchboard_connections_refused_total",
            "counter",
            "Connections turned away by limits.connections_per_ip.",
            m.connections_refused() as f64,
        ),
        (
            "switchboard_requests_rate_limited_total",
            "counter",
            "Requests refused by the per-user or per-address rate limits.",
            m.requests_rate_limited() as f64,
        ),
        (
            "switchboard_users",
            "gauge",
            "Registered users.",
            w.store.user_count() as f64,
        ),
        (
            "switchboard_guilds",
            "gauge",
            "Guilds.",
            w.store.guild_count() as f64,
        ),
        (
            "switchboard_channels",
            "gauge",
            "Channels.",
            w.store.channel_count() as f64,
        ),
        (
            "switchboard_store_bytes",
            "gauge",
            "Bytes the store occupies on disk.",
            w.store.size_on_disk() as f64,
        ),
        (
            "switchboard_uptime_seconds",
            "gauge",
            "Seconds since start.",
            m.uptime_s() as f64,
        ),
    ];
    for (name, kind, help, value) in scalars {
        metric(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    federation_metrics(&mut out, w);
    let name = "switchboard_fanout_latency_seconds";
    metric(
        &mut out,
        name,
        "histogram",
        "Time from a command to its event reaching the last mailbox.",
    );
    let (buckets, count, sum) = m.fanout_histogram();
    for (bound, n) in LATENCY_BUCKETS.iter().zip(buckets) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}"
    );
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out)
}

/// The snapshot is written to an unlinked file in the data directory on the
/// blocking pool and then streamed from it: store writes wait only while the
/// trees are read, never on a slow download, and a large store costs disk
/// rather than memory.
async fn backup(req: HttpRequest, state: web::Data<Arc<AdminState>>) -> HttpResponse {
    guarded!(req, state);
    let st = state.get_ref().clone();
    let built = web::block(move || spool_backup(&st)).await;
    match built {
        Ok(Ok((file, len))) => {
            let body = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
            HttpResponse::Ok()
                .content_type("application/octet-stream")
                .insert_header((header::CONTENT_LENGTH, len))
                .streaming(body)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "backup failed");
            HttpResponse::InternalServerError().json(
                json!({"error": {"code": "INTERNAL", "message": format!("backup failed: {e:#}")}}),
            )
        }
        Err(_) => HttpResponse::InternalServerError()
            .json(json!({"error": {"code": "INTERNAL", "message": "backup failed"}})),
    }
}

/// Writes a backup into a fresh file in the data directory, unlinks it
/// (the open handle keeps it readable, and nothing is left behind if the
/// download stops half way) and answers it rewound, with its length.
fn spool_backup(st: &AdminState) -> anyhow::Result<(std::fs::File, u64)> {
    use std::io::{Seek as _, SeekFrom};
    let mut nonce = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let path = st.data_dir.join(format!(
        ".admin-backup-{}.partial",
        URL_SAFE_NO_PAD.encode(nonce)
    ));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    let unlinked = std::fs::remove_file(&path);
    let written = crate::cli::backup::write_backup(
        &st.world.store,
        &st.world.config.domain,
        &st.data_dir,
        std::io::BufWriter::new(&mut file),
        &mut |_| {},
    );
    unlinked.map_err(|e| anyhow::anyhow!("cannot unlink {}: {e}", path.display()))?;
    written?;
    let len = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    Ok((file, len))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/backup", web::post().to(backup))
        .route("/admin/health", web::get().to(health))
        .route("/admin/ready", web::get().to(ready))
        .route("/admin/stats", web::get().to(stats))
        .route("/metrics", web::get().to(metrics));
    dashboard::configure(cfg);
    users::configure(cfg);
}
