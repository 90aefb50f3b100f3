//! Configuration: the `config.toml` schema, its defaults and its validation.
//!
//! Every table and every key has a default, so an empty file is a valid
//! configuration. Unknown tables or keys, values of the wrong type and values
//! out of range stop start-up with an error that names the dotted key (for
//! example `limits.frame_bytes`). Relative paths are used as given, so they
//! resolve from the process's working directory, not from the config file's
//! directory. The doc comments on the fields are the source of
//! `docs/configuration.md`; keep the two in step.

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer};
use serde::Deserialize;

const MIB: usize = 1024 * 1024;
const GIB: usize = 1024 * MIB;

/// Declares a config table: the struct, its serde attributes and its
/// `Default`, with each key's default written beside the key.
macro_rules! table {
    ($(#[$meta:meta])* $name:ident { $($(#[$attr:meta])* $key:ident: $ty:ty = $default:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name { $($(#[$attr])* pub $key: $ty,)* }
        impl Default for $name {
            fn default() -> Self { Self { $($key: $default,)* } }
        }
    };
}

mod env;
mod error;
mod federation;

pub use error::ConfigError;
use error::{invalid, toml_error};
pub use federation::FederationConfig;

table! {
    /// The whole configuration file.
    #[derive(Debug)]
    Config {
        server: ServerConfig = Default::default(),
        listeners: ListenersConfig = Default::default(),
        admin: AdminConfig = Default::default(),
        storage: StorageConfig = Default::default(),
        limits: LimitsConfig = Default::default(),
        jam: JamConfig = Default::default(),
        originchats: OriginChatsConfig = Default::default(),
        chatnet: ChatnetConfig = Default::default(),
        v0: V0Config = Default::default(),
        nynja: NynjaConfig = Default::default(),
        federation: FederationConfig = Default::default(),
        default_guild: DefaultGuildConfig = Default::default(),
        log: LogConfig = Default::default(),
        shutdown: ShutdownConfig = Default::default(),
    }
}

table! {
    /// `[server]`: identity of this server and where it keeps its data.
    #[derive(Debug)]
    ServerConfig {
        /// Display name shown to clients. Non-empty.
        name: String = "Switchboard".into(),
        /// Domain this server is known by (user addresses, federation).
        /// Non-empty, no whitespace.
        domain: String = "localhost".into(),
        /// Directory of the database and generated key files; created if
        /// missing. A relative path resolves from the working directory.
        data_dir: PathBuf = PathBuf::from("./data"),
        /// Number of HTTP worker threads, 1..=64.
        workers: usize = 2,
    }
}

table! {
    /// `[listeners]`: socket addresses "IP:PORT"; "" turns a listener off.
    #[derive(Debug)]
    ListenersConfig {
        /// Main HTTP listener: JAM WebSocket at `/ws` and REST under `/api`.
        #[serde(deserialize_with = "listen_addr")]
        http: Option<SocketAddr> = Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
        /// Admin HTTP endpoint, behind the admin token. Must differ from `http`.
        #[serde(deserialize_with = "listen_addr")]
        admin: Option<SocketAddr> = Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
        /// OriginChats WebSocket at the root path (stock clients dial `/`),
        /// with its HTTP side routes. The dialect is also at `/originchats` on
        /// `http`.
        #[serde(deserialize_with = "listen_addr")]
        originchats: Option<SocketAddr> = Some(SocketAddr::from(([0, 0, 0, 0], 5613))),
        /// chat-network WebSocket at the root path. The dialect is also at
        /// `/chatnet` on `http`.
        #[serde(deserialize_with = "listen_addr")]
        chatnet: Option<SocketAddr> = Some(SocketAddr::from(([0, 0, 0, 0], 6969))),
        /// V0 over plain TCP.
        #[serde(deserialize_with = "listen_addr")]
        v0: Option<SocketAddr> = Some(SocketAddr::from(([0, 0, 0, 0], 7777))),
        /// MQTT 3.1.1 for the CHAT (SYNRC/NYNJA) dialect.
        #[serde(deserialize_with = "listen_addr")]
        mqtt: Option<SocketAddr> = Some(SocketAddr::from(([0, 0, 0, 0], 1883))),
    }
}

table! {
    /// `[admin]`: the admin endpoint. `Debug` redacts the token.
    AdminConfig {
        /// Bearer token of the admin endpoint. "": a random token is generated
        /// at first start, stored hashed, and printed once.
        token: String = String::new(),
    }
}

table! {
    /// `[storage]`: the embedded database. `Debug` redacts the passphrase.
    StorageConfig {
        /// "strict": a write is acknowledged only once flushed to disk (group
        /// commit). "batched": writes are flushed every `flush_every_ms`.
        durability: Durability = Durability::Strict,
        /// Flush interval in milliseconds with "batched" durability, 1..=60000.
        flush_every_ms: u64 = 500,
        /// Database page cache in MiB, 1..=65536.
        cache_capacity_mb: u64 = 128,
        /// zstd level for uploaded files' chunks, 1..=22 (19: best compression
        /// without ultra mode; the window is capped at 16 MiB).
        zstd_level: i32 = 19,
        /// Passphrase that seals server secrets at rest (Argon2id-derived key).
        /// "": a random key is generated into `<data_dir>/seal.key` instead.
        /// Changing it later makes the sealed secrets unreadable.
        passphrase: String = String::new(),
    }
}

table! {
    /// `[limits]`: resource limits; input one past a limit is refused.
    #[derive(Debug)]
    LimitsConfig {
        /// Biggest inbound WebSocket frame in bytes, 256..=16777216 (16 MiB).
        frame_bytes: usize = 65536,
        /// Longest message content in characters, 1..=100000.
        message_length: usize = 4000,
        /// Unsent output a session may hold, in bytes, before it is dropped as
        /// a slow consumer (close code 4010), 4096..=1073741824 (1 GiB).
        pending_bytes: usize = MIB,
        /// Events queued for one session before it counts as a slow consumer,
        /// 16..=1000000.
        mailbox_capacity: usize = 1024,
        /// Biggest REST JSON request body in bytes, 1024..=1073741824 (1 GiB).
        request_body_bytes: usize = MIB,
        /// Biggest uploaded file in bytes, 1..=4294967296 (4 GiB).
        upload_bytes: usize = 25 * MIB,
        /// Open connections from one address, over every dialect, 0..=1000000
        /// (0: no limit). Behind a reverse proxy every client shares the
        /// proxy's address: raise it or set 0 there.
        connections_per_ip: u32 = 256,
        /// Requests per second of one user, summed over their connections
        /// and REST, 0..=1000000 (0: no limit). Bursts up to one second's
        /// worth; keepalives do not count.
        user_requests_per_second: u32 = 200,
        /// Requests per second from one address, before and after login,
        /// 0..=1000000 (0: no limit).
        ip_requests_per_second: u32 = 1000,
        /// Seconds a session token stays valid after it is issued (by a
        /// login, a registration or NYNJA's Auth verify); then it is refused
        /// and deleted, and the client logs in again. 1..=315360000 (ten
        /// years); default 30 days.
        session_ttl_s: u64 = 30 * 24 * 3600,
        /// Seconds a JAM, OriginChats or chat-network connection may stay
        /// without signing in (subscribing, for chat-network) before it is
        /// closed, 1..=3600. V0 has its own 5 s CNN deadline.
        login_timeout_s: u64 = 60,
        /// Argon2id password hashes computed at once, 0..=64 (0: one per
        /// core). Each holds 19 MiB while it runs.
        password_hashes: u32 = 0,
        /// Password hashes (logins, registrations) waiting for a hasher,
        /// 0..=100000; past it a login is refused as rate limited in the
        /// dialect's own shape.
        password_queue: u32 = 32,
        /// Bytes of uploads one user may keep stored (counted once per
        /// upload, before deduplication), 0..=1099511627776 (0: no limit).
        user_storage_bytes: u64 = GIB as u64,
    }
}

table! {
    /// `[jam]`: the JAM dialect.
    #[derive(Debug)]
    JamConfig {
        /// Heartbeat interval announced in HELLO, in milliseconds, 1000..=600000.
        heartbeat_interval_ms: u64 = 41250,
    }
}

table! {
    /// `[originchats]`: the OriginChats dialect.
    #[derive(Debug)]
    OriginChatsConfig {
        /// "cracked" (Rotur plus local register/login), "rotur" (Rotur only)
        /// or "cracked-only" (local accounts only). A Switchboard session
        /// token is accepted as `validator` in every mode.
        auth_mode: AuthMode = AuthMode::Cracked,
        /// Where Rotur validators are checked (`?key=...&v=...`).
        rotur_validate_url: String = "https://api.rotur.dev/validate".into(),
        /// Allow `register` in the cracked modes.
        allow_registration: bool = true,
        /// Guild id served at the root path; "" = the default guild.
        guild: String = String::new(),
        /// Rate limit of `message_new`, `message_edit` and `typing`.
        rate_limiting: OriginChatsRateLimit = Default::default(),
    }
}

table! {
    /// `[originchats.rate_limiting]`, named as the reference server names it.
    #[derive(Debug)]
    OriginChatsRateLimit {
        enabled: bool = true,
        /// Requests per sliding 60 s window, 1..=100000.
        messages_per_minute: u32 = 60,
        /// Requests in 10 s that start a cooldown, 1..=100000.
        burst_limit: u32 = 10,
        /// Length of the cooldown in seconds, 0..=86400.
        cooldown_seconds: u32 = 30,
    }
}

table! {
    /// `[chatnet]`: the chat-network dialect.
    #[derive(Debug)]
    ChatnetConfig {
        /// The `type` of the `signin` reply: "signin" as the document says,
        /// or "signup" as the original server sends it (its GTK client
        /// handles only that).
        signin_reply_type: SigninReply = SigninReply::Signin,
    }
}

table! {
    /// `[v0]`: the V0 dialect.
    #[derive(Debug)]
    V0Config {
        /// Biggest payload of one command in bytes, 64..=16777216.
        max_payload: usize = 65536,
        /// SINFO's `timeout_s`: a connection silent this long is closed,
        /// 10..=86400.
        timeout_s: u64 = 180,
    }
}

table! {
    /// `[nynja]`: the CHAT (SYNRC/NYNJA) dialect.
    #[derive(Debug)]
    NynjaConfig {
        /// How registration codes are checked (there is no SMS provider):
        /// "log" writes a random code per registration to the log; "fixed"
        /// accepts `fixed_code` (development and tests).
        verification: Verification = Verification::Log,
        /// The code "fixed" accepts; non-empty then.
        fixed_code: String = String::new(),
        /// Biggest MQTT packet in bytes, 1024..=16777216.
        max_packet: usize = 262144,
    }
}

table! {
    /// `[default_guild]`: the guild every new user joins.
    #[derive(Debug)]
    DefaultGuildConfig {
        /// Create the guild at first start and add every new user to it.
        enabled: bool = true,
        /// Guild name; non-empty when enabled.
        name: String = "Lobby".into(),
        /// Text channels created with the guild; names non-empty and unique.
        text_channels: Vec<String> = vec!["general".into()],
        /// Voice channels created with the guild; names non-empty and unique.
        voice_channels: Vec<String> = vec!["lounge".into()],
    }
}

table! {
    /// `[log]`: logging.
    #[derive(Debug)]
    LogConfig {
        /// A tracing `EnvFilter` directive such as "info" or
        /// "info,switchboard_actors=debug". Non-empty.
        level: String = "info".into(),
        /// "text" (human-readable) or "json" (one object per line).
        format: LogFormat = LogFormat::Text,
    }
}

table! {
    /// `[shutdown]`: graceful shutdown.
    #[derive(Debug)]
    ShutdownConfig {
        /// Grace period for connections to close and writes to flush, in
        /// milliseconds, 100..=600000.
        timeout_ms: u64 = 10000,
    }
}

/// Declares an enum read from one of two strings (the first is the default),
/// refusing others with `expected "a" or "b", got "x"`.
macro_rules! keyword {
    ($(#[$meta:meta])* $name:ident { $a:ident = $sa:literal, $b:ident = $sb:literal }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub enum $name { #[default] $a, $b }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match String::deserialize(d)?.as_str() {
                    $sa => Ok(Self::$a),
                    $sb => Ok(Self::$b),
                    other => Err(de::Error::custom(format!(
                        "expected {:?} or {:?}, got {other:?}", $sa, $sb
                    ))),
                }
            }
        }
    };
}

keyword! {
    /// When a write counts as done: `storage.durability`.
    Durability { Strict = "strict", Batched = "batched" }
}

/// `originchats.auth_mode`: three values, so not a `keyword!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    Rotur,
    #[default]
    Cracked,
    CrackedOnly,
}

impl<'de> Deserialize<'de> for AuthMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "rotur" => Ok(AuthMode::Rotur),
            "cracked" => Ok(AuthMode::Cracked),
            "cracked-only" => Ok(AuthMode::CrackedOnly),
            other => Err(de::Error::custom(format!(
                "expected \"rotur\", \"cracked\" or \"cracked-only\", got {other:?}"
            ))),
        }
    }
}

keyword! {
    /// `nynja.verification`.
    Verification { Log = "log", Fixed = "fixed" }
}

keyword! {
    /// `chatnet.signin_reply_type`.
    SigninReply { Signin = "signin", Signup = "signup" }
}

keyword! {
    /// Log line format: `log.format`.
    LogFormat { Text = "text", Json = "json" }
}

/// Keeps the passphrase out of logs and panic messages.
impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let passphrase = if self.passphrase.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("StorageConfig")
            .field("durability", &self.durability)
            .field("flush_every_ms", &self.flush_every_ms)
            .field("cache_capacity_mb", &self.cache_capacity_mb)
            .field("zstd_level", &self.zstd_level)
            .field("passphrase", &passphrase)
            .finish()
    }
}

/// Keeps the token out of logs and panic messages.
impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.token.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("AdminConfig")
            .field("token", &token)
            .finish()
    }
}

/// A listener address: "" is `None` (listener off), otherwise a `SocketAddr`.
fn listen_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| {
        de::Error::custom(format!(
            "not a socket address: {s:?} (expected IP:PORT such as \"0.0.0.0:8080\", or \"\" to turn the listener off)"
        ))
    })
}

impl Config {
    /// Reads the file at `path`, applies the process's `SWITCHBOARD_*`
    /// environment overrides, and validates. Errors name the path or the
    /// variable.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// [`Config::load`] with the given environment instead of the process's.
    pub fn load_with_env(
        path: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let in_file = |error| ConfigError::InFile {
            path: path.to_path_buf(),
            error: Box::new(error),
        };
        let (text, applied) = env::apply(&text, vars).map_err(|e| match e {
            e @ (ConfigError::Env { .. } | ConfigError::UnknownEnv { .. }) => e,
            other => in_file(other),
        })?;
        Self::from_toml_str(&text).map_err(|error| {
            // A value refused after the merge is blamed on its variable when
            // a variable set it.
            let var = error
                .key()
                .and_then(|k| applied.iter().find(|(key, _)| key == k));
            match var {
                Some((_, var)) => ConfigError::Env {
                    var: var.clone(),
                    error: Box::new(error),
                },
                None => in_file(error),
            }
        })
    }

    /// Parses and validates a configuration from TOML text.
    pub fn from_toml_str(s: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(s).map_err(|e| toml_error(s, e))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and cross-key rules; returns the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (s, st, l) = (&self.server, &self.storage, &self.limits);
        let n = |v: usize| v as u64; // lossless: usize is at most 64 bits
        #[rustfmt::skip]
        let rl = &self.originchats.rate_limiting;
        let ranges: [(&str, u64, RangeInclusive<u64>); 26] = [
            (
                "v0.max_payload",
                n(self.v0.max_payload),
                64..=16 * MIB as u64,
            ),
            ("v0.timeout_s", self.v0.timeout_s, 10..=86_400),
            (
                "nynja.max_packet",
                n(self.nynja.max_packet),
                1024..=16 * MIB as u64,
            ),
            (
                "originchats.rate_limiting.messages_per_minute",
                rl.messages_per_minute as u64,
                1..=100_000,
            ),
            (
                "originchats.rate_limiting.burst_limit",
                rl.burst_limit as u64,
                1..=100_000,
            ),
            (
                "originchats.rate_limiting.cooldown_seconds",
                rl.cooldown_seconds as u64,
                0..=86_400,
            ),
            ("server.workers", n(s.workers), 1..=64),
            ("limits.session_ttl_s", l.session_ttl_s, 1..=315_360_000),
            ("storage.flush_every_ms", st.flush_every_ms, 1..=60_000),
            (
                "storage.cache_capacity_mb",
                st.cache_capacity_mb,
                1..=65_536,
            ),
            (
                "limits.frame_bytes",
                n(l.frame_bytes),
                256..=16 * MIB as u64,
            ),
            ("limits.message_length", n(l.message_length), 1..=100_000),
            (
                "limits.pending_bytes",
                n(l.pending_bytes),
                4096..=GIB as u64,
            ),
            (
                "limits.mailbox_capacity",
                n(l.mailbox_capacity),
                16..=1_000_000,
            ),
            (
                "limits.request_body_bytes",
                n(l.request_body_bytes),
                1024..=GIB as u64,
            ),
            ("limits.upload_bytes", n(l.upload_bytes), 1..=4 * GIB as u64),
            (
                "limits.connections_per_ip",
                l.connections_per_ip.into(),
                0..=1_000_000,
            ),
            (
                "limits.user_requests_per_second",
                l.user_requests_per_second.into(),
                0..=1_000_000,
            ),
            (
                "limits.ip_requests_per_second",
                l.ip_requests_per_second.into(),
                0..=1_000_000,
            ),
            ("limits.login_timeout_s", l.login_timeout_s, 1..=3600),
            ("limits.password_hashes", l.password_hashes.into(), 0..=64),
            (
                "limits.password_queue",
                l.password_queue.into(),
                0..=100_000,
            ),
            (
                "limits.user_storage_bytes",
                l.user_storage_bytes,
                0..=1 << 40,
            ),
            ("storage.zstd_level", st.zstd_level.max(0) as u64, 1..=22),
            (
                "jam.heartbeat_interval_ms",
                self.jam.heartbeat_interval_ms,
                1000..=600_000,
            ),
            (
                "shutdown.timeout_ms",
                self.shutdown.timeout_ms,
                100..=600_000,
            ),
        ];
        for (key, value, range) in ranges {
            if value < *range.start() {
                let min = range.start();
                return Err(invalid(key, format!("{value} is below the minimum {min}")));
            }
            if value > *range.end() {
                let max = range.end();
                return Err(invalid(key, format!("{value} is above the maximum {max}")));
            }
        }
        non_empty("server.name", &s.name)?;
        non_empty("server.domain", &s.domain)?;
        if s.domain.chars().any(char::is_whitespace) {
            let message = format!("must not contain whitespace: {:?}", s.domain);
            return Err(invalid("server.domain", message));
        }
        if s.data_dir.as_os_str().is_empty() {
            return Err(invalid("server.data_dir", "must not be empty"));
        }
        if let (Some(http), Some(admin)) = (self.listeners.http, self.listeners.admin) {
            if http == admin && http.port() != 0 {
                let message = format!("{admin} is also listeners.http");
                return Err(invalid("listeners.admin", message));
            }
        }
        let g = &self.default_guild;
        if g.enabled {
            non_empty("default_guild.name", &g.name)?;
            channel_names("default_guild.text_channels", &g.text_channels)?;
            channel_names("default_guild.voice_channels", &g.voice_channels)?;
        }
        let url = &self.originchats.rotur_validate_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "originchats.rotur_validate_url",
                format!("must be an http:// or https:// URL, got {url:?}"),
            ));
        }
        let g = &self.originchats.guild;
        if !g.is_empty() && g.parse::<u64>().is_err() {
            return Err(invalid(
                "originchats.guild",
                format!("must be a guild id (digits) or \"\", got {g:?}"),
            ));
        }
        if self.nynja.verification == Verification::Fixed {
            non_empty("nynja.fixed_code", &self.nynja.fixed_code)?;
        }
        self.federation.validate(&s.domain)?;
        non_empty("log.level", &self.log.level)
    }

    /// The data directory exactly as configured; a relative path resolves
    /// from the working directory when it is used.
    pub fn data_dir(&self) -> PathBuf {
        self.server.data_dir.clone()
    }
}

fn non_empty(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    Ok(())
}

fn channel_names(key: &str, names: &[String]) -> Result<(), ConfigError> {
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(invalid(key, format!("channel name {} is empty", i + 1)));
        }
        if names[..i].contains(name) {
            return Err(invalid(key, format!("channel name {name:?} appears twice")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
