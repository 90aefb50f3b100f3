//! Start-up and shutdown: open the store, start the world, bind the
//! listeners, and on SIGINT/SIGTERM close every socket with its dialect's
//! going-away signal, flush the store and exit 0.

use std::io::IsTerminal as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_http::HttpService;
use actix_service::{fn_factory, fn_service, map_config};
use actix_web::dev::AppConfig;
use actix_web::{middleware, web, App};
use anyhow::Context as _;
use switchboard_actors::admission::AdmissionLimits;
use switchboard_actors::federation::keys as federation_keys;
use switchboard_actors::federation::{BridgeSettings, FederationSettings, PeerSettings};
use switchboard_actors::hub::ShutdownAll;
use switchboard_actors::nynja::{NynjaConfig, NynjaContext, Verification};
use switchboard_actors::sealed::Sealer;
use switchboard_actors::session::chatnet::ChatnetConfig;
use switchboard_actors::session::nynja::Nynja;
use switchboard_actors::session::originchats::{AuthMode, OcConfig, OcContext};
use switchboard_actors::session::v0::{V0Config, V0};
use switchboard_actors::session::Session;
use switchboard_actors::store::{Durability, Store, StoreConfig};
use switchboard_actors::world::DefaultGuild;
use switchboard_actors::{World, WorldConfig};
use switchboard_protocols::originchats::limiter::Limits;
use switchboard_protocols::Id;
use tracing::{info, warn};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

use crate::admin::{self, AdminState};
use crate::config::{self, Config, LogFormat};
use crate::upgrade::Listener;
use crate::{door, federation_http, originchats_http, rest, upgrade};

/// Starts logging to stderr. `RUST_LOG`, when set, overrides `log.level`;
/// a `log.level` that is not a valid filter stops start-up.
pub fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = match tracing_subscriber::EnvFilter::try_from_default_env() {
        Ok(f) => f,
        Err(_) => tracing_subscriber::EnvFilter::try_new(&config.log.level).map_err(|e| {
            anyhow::anyhow!(
                "config key `log.level`: not a valid filter {:?}: {e}",
                config.log.level
            )
        })?,
    };
    // `log.level` filters only what is written: the dashboard keeps the
    // recent warnings and errors even when the log is set quieter.
    let recent = admin::recent::RecentErrors.with_filter(LevelFilter::WARN);
    let registry = tracing_subscriber::registry().with(recent);
    // Colour codes only for a person at a terminal: under systemd stderr is
    // the journal, where they would be noise in every line.
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => registry.with(layer.with_filter(filter)).init(),
        LogFormat::Json => registry.with(layer.json().with_filter(filter)).init(),
    }
    Ok(())
}

pub(crate) fn world_config(config: &Config) -> WorldConfig {
    let g = &config.default_guild;
    WorldConfig {
        server_name: config.server.name.clone(),
        domain: config.server.domain.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        message_length: config.limits.message_length,
        session_ttl_ms: config.limits.session_ttl_s.saturating_mul(1000),
        mailbox_capacity: config.limits.mailbox_capacity,
        frame_bytes: config.limits.frame_bytes,
        pending_bytes: config.limits.pending_bytes,
        jam_heartbeat_ms: config.jam.heartbeat_interval_ms,
        zstd_level: config.storage.zstd_level,
        upload_bytes: config.limits.upload_bytes,
        user_storage_bytes: config.limits.user_storage_bytes,
        login_timeout: Duration::from_secs(config.limits.login_timeout_s),
        admission: AdmissionLimits {
            connections_per_ip: config.limits.connections_per_ip,
            user_requests_per_second: config.limits.user_requests_per_second,
            ip_requests_per_second: config.limits.ip_requests_per_second,
        },
        default_guild: g.enabled.then(|| DefaultGuild {
            name: g.name.clone(),
            text_channels: g.text_channels.clone(),
            voice_channels: g.voice_channels.clone(),
        }),
        federation: FederationSettings {
            peers: config
                .federation
                .peers
                .iter()
                .map(|p| PeerSettings {
                    domain: p.domain.clone(),
                    url: p.url.clone(),
                    public_key: p.key_bytes(),
                })
                .collect(),
            bridges: config
                .federation
                .bridges
                .iter()
                .map(|b| BridgeSettings {
                    channel: b.channel.clone(),
                    peer: b.peer.clone(),
                    remote_channel: Id(b.remote_channel.parse().unwrap_or_default()),
                })
                .collect(),
            max_body_bytes: config.federation.max_body_bytes,
        },
    }
}

fn chatnet_config(config: &Config) -> ChatnetConfig {
    ChatnetConfig {
        signin_reply_type: match config.chatnet.signin_reply_type {
            config::SigninReply::Signin => switchboard_protocols::chatnet::Kind::Signin,
            config::SigninReply::Signup => switchboard_protocols::chatnet::Kind::Signup,
        },
    }
}

fn v0_config(config: &Config) -> V0Config {
    V0Config {
        max_payload: config.v0.max_payload,
        idle_timeout_s: config.v0.timeout_s,
    }
}

fn nynja_config(config: &Config) -> NynjaConfig {
    NynjaConfig {
        verification: match config.nynja.verification {
            config::Verification::Log => Verification::Log,
            config::Verification::Fixed => Verification::Fixed(config.nynja.fixed_code.clone()),
        },
        max_packet: config.nynja.max_packet,
    }
}

fn oc_config(config: &Config) -> OcConfig {
    let oc = &config.originchats;
    let rl = &oc.rate_limiting;
    OcConfig {
        auth_mode: match oc.auth_mode {
            config::AuthMode::Rotur => AuthMode::Rotur,
            config::AuthMode::Cracked => AuthMode::Cracked,
            config::AuthMode::CrackedOnly => AuthMode::CrackedOnly,
        },
        rotur_validate_url: oc.rotur_validate_url.clone(),
        allow_registration: oc.allow_registration,
        rate_limits: rl.enabled.then_some(Limits {
            messages_per_minute: rl.messages_per_minute,
            burst_limit: rl.burst_limit,
            cooldown_seconds: rl.cooldown_seconds,
        }),
        guild: oc.guild.parse().ok().map(switchboard_protocols::Id),
    }
}

/// The upgrade service of a listener: hands WebSocket requests to the
/// session of the dialect their path names.
fn upgrades(
    world: Arc<World>,
    dialects: upgrade::Dialects,
    listener: Listener,
) -> impl actix_service::ServiceFactory<
    (
        actix_http::Request,
        actix_codec::Framed<actix_rt::net::TcpStream, actix_http::h1::Codec>,
    ),
    Config = (),
    Response = (),
    Error = upgrade::UpgradeError,
    InitError = (),
> {
    fn_factory(move || {
        let (world, dialects) = (world.clone(), dialects.clone());
        async move {
            Ok::<_, ()>(fn_service(move |(req, framed)| {
                upgrade::upgrade(world.clone(), dialects.clone(), listener, req, framed)
            }))
        }
    })
}

fn bind(name: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr} ({name})"))?;
    let local = listener.local_addr()?;
    // One line per listener on stdout: operators read it, and tests that bind
    // port 0 learn the real port from it.
    println!("listening {name} {local}");
    Ok(listener)
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let signals = ShutdownSignals::register();
    switchboard_actors::passwords::configure(
        config.limits.password_hashes as usize,
        config.limits.password_queue as usize,
    );
    let data_dir = config.data_dir();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    // A directory made by an older version, or by hand, is closed to
    // others too: what is inside is only reachable through it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict data directory {}", data_dir.display()))?;
    }
    let store = Store::open(&StoreConfig {
        path: data_dir.join("db"),
        durability: match config.storage.durability {
            config::Durability::Strict => Durability::Strict,
            config::Durability::Batched => Durability::Batched,
        },
        flush_every_ms: config.storage.flush_every_ms,
        cache_capacity_bytes: config.storage.cache_capacity_mb * 1024 * 1024,
    })
    .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    // A wrong passphrase or key file stops start-up here, before anything

    let sealer = Sealer::open(&store, &data_dir, &config.storage.passphrase)?;
    let federation_key = federation_keys::load_or_create(&sealer)?;
    store.flush_blocking()?;
    let core = actix_rt::Arbiter::new();
    let world = World::start(world_config(&config), store.clone(), core.handle())
        .map_err(|e| anyhow::anyhow!("cannot load the world: {e}"))?;
    world.set_sealer(sealer);
    world.set_offline_encoding(switchboard_actors::session::OfflineEncoders);
    world
        .start_federation(federation_key)
        .map_err(|e| anyhow::anyhow!("cannot start federation: {}", e.message))?;
    let nynja = NynjaContext::new(nynja_config(&config));
    let admin_state = Arc::new(AdminState::new(
        world.clone(),
        nynja.clone(),
        admin::token_hash(&store, &config.admin.token)?,
        data_dir.clone(),
    ));

    let mut builder = actix_server::Server::build()
        .workers(config.server.workers)
        .disable_signals()
        .shutdown_timeout(config.shutdown.timeout_ms.div_ceil(1000));
    let oc = OcContext::new(oc_config(&config));
    let dialects = upgrade::Dialects {
        oc: oc.clone(),
        chatnet: Arc::new(chatnet_config(&config)),
        nynja: nynja.clone(),
    };
    if let Some(addr) = config.listeners.http {
        let listener = bind("http", addr)?;
        let (w, d) = (world.clone(), dialects.clone());
        let body_limit = config.limits.request_body_bytes;
        builder = builder.listen("http", listener, move || {
            let app = App::new()
                .wrap(middleware::from_fn(rest::refuse_over_limit))
                .app_data(web::Data::new(w.clone()))
                .configure(|cfg| rest::configure(cfg, body_limit))
                .configure(federation_http::configure);
            let counted = w.clone();
            HttpService::build()
                .on_connect_ext(move |io, ext| door::count_http(&counted, io, ext))
                .upgrade(upgrades(w.clone(), d.clone(), Listener::Main))
                .finish(map_config(app, |_| AppConfig::default()))
                .tcp()
        })?;
    }
    if let Some(addr) = config.listeners.originchats {
        let listener = bind("originchats", addr)?;
        let (w, d) = (world.clone(), dialects.clone());
        builder = builder.listen("originchats", listener, move || {
            let (w2, oc2) = (w.clone(), d.oc.clone());
            let app = App::new()
                .wrap(middleware::from_fn(originchats_http::rate_limit))
                .configure(move |cfg| originchats_http::configure(cfg, w2, oc2));
            let counted = w.clone();
            HttpService::build()
                .on_connect_ext(move |io, ext| door::count_http(&counted, io, ext))
                .upgrade(upgrades(w.clone(), d.clone(), Listener::OriginChats))
                .finish(map_config(app, |_| AppConfig::default()))
                .tcp()
        })?;
    }
    if let Some(addr) = config.listeners.chatnet {
        let listener = bind("chatnet", addr)?;
        let (w, d) = (world.clone(), dialects.clone());
        builder = builder.listen("chatnet", listener, move || {
            // Only the WebSocket: every plain HTTP request is a 404.
            let app = App::new();
            let counted = w.clone();
            HttpService::build()
                .on_connect_ext(move |io, ext| door::count_http(&counted, io, ext))
                .upgrade(upgrades(w.clone(), d.clone(), Listener::Chatnet))
                .finish(map_config(app, |_| AppConfig::default()))
                .tcp()
        })?;
    }
    if let Some(addr) = config.listeners.v0 {
        let listener = bind("v0", addr)?;
        let (w, v0) = (world.clone(), Arc::new(v0_config(&config)));
        builder = builder.listen("v0", listener, move || {
            let (w, v0) = (w.clone(), v0.clone());
            fn_service(move |stream: actix_rt::net::TcpStream| {
                let refused = match door::admit_tcp(&w, stream) {
                    Ok((stream, peer, slot)) => {
                        Session::start_tcp(w.clone(), stream, peer, slot, V0::new(v0.clone()));
                        None
                    }
                    Err(stream) => Some(stream),
                };
                async move {
                    if let Some(stream) = refused {
                        door::refuse_v0(stream).await;
                    }
                    Ok::<_, std::convert::Infallible>(())
                }
            })
        })?;
    }
    if let Some(addr) = config.listeners.mqtt {
        let listener = bind("mqtt", addr)?;
        let (w, ny) = (world.clone(), nynja.clone());
        builder = builder.listen("mqtt", listener, move || {
            let (w, ny) = (w.clone(), ny.clone());
            fn_service(move |stream: actix_rt::net::TcpStream| {
                let refused = match door::admit_tcp(&w, stream) {
                    Ok((stream, peer, slot)) => {
                        Session::start_tcp(w.clone(), stream, peer, slot, Nynja::new(ny.clone()));
                        None
                    }
                    Err(stream) => Some(stream),
                };
                async move {
                    if let Some(stream) = refused {
                        door::refuse_mqtt(stream).await;
                    }
                    Ok::<_, std::convert::Infallible>(())
                }
            })
        })?;
    }
    if let Some(addr) = config.listeners.admin {
        let listener = bind("admin", addr)?;
        let state = admin_state.clone();
        builder = builder.listen("admin", listener, move || {
            let app = App::new()
                .app_data(web::Data::new(state.clone()))
                .configure(admin::configure);
            HttpService::build()
                .finish(map_config(app, |_| AppConfig::default()))
                .tcp()
        })?;
    }
    let server = builder.run();
    let handle = server.handle();
    admin_state.set_ready(true);
    info!(domain = %config.server.domain, "switchboard is serving");

    let shutdown = Arc::new(AtomicBool::new(false));
    let stop_flag = shutdown.clone();
    let world2 = world.clone();
    let timeout = Duration::from_millis(config.shutdown.timeout_ms);
    let state2 = admin_state.clone();
    actix_rt::spawn(async move {
        signals.wait().await;
        info!("shutting down");
        stop_flag.store(true, Ordering::SeqCst);
        state2.set_ready(false);
        // Stop accepting, then close every session with its going-away
        // signal, and only then stop the workers: sessions live on the
        // worker arbiters, and a stopped worker would drop them unclosed.
        handle.pause().await;
        let _ = world2.hub().send(ShutdownAll).await;
        let deadline = Instant::now() + timeout;
        while open_connections(&world2) > 0 && Instant::now() < deadline {
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
        handle.stop(true).await;
    });
    server.await?;
    if let Err(e) = store.flush_blocking() {
        warn!(error = %e, "final flush failed");
        return Err(anyhow::anyhow!("final flush failed: {e}"));
    }
    core.stop();
    info!("stopped");
    Ok(())
}

fn open_connections(world: &World) -> i64 {
    switchboard_protocols::Dialect::ALL
        .iter()
        .map(|d| world.metrics.connections(*d))
        .sum()
}

/// SIGTERM and SIGINT, caught from here on. Registered before the first
/// listener is announced: a signal that arrives once clients can connect
/// must start a graceful shutdown, never kill the process outright.
struct ShutdownSignals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    fn register() -> ShutdownSignals {
        use tokio::signal::unix::{signal, SignalKind};
        ShutdownSignals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    async fn wait(self) {
        match (self.term, self.int) {
            (Some(mut term), Some(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
