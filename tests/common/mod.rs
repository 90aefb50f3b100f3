//! Shared helpers of the integration tests: the real `switchboard` binary on
//! 127.0.0.1 (port 0, a temporary data directory), a JAM WebSocket client
//! that checks every frame's `s`, a tiny HTTP/1.1 client for REST and the
//! admin endpoint.
//!
//! Timeouts here only keep a broken server from hanging the suite; no test
//! asserts on how fast anything happens.

#![allow(dead_code)]

mod jam;
#[allow(unused_imports)]
pub use jam::{Incoming, Jam, Lobby};
mod originchats;
#[allow(unused_imports)]
pub use originchats::*;
mod chatnet;
#[allow(unused_imports)]
pub use chatnet::*;
mod v0;
#[allow(unused_imports)]
pub use v0::*;
mod nynja;
#[allow(unused_imports)]
pub use nynja::*;
mod cli;
#[allow(unused_imports)]
pub use cli::*;
pub mod federation;
mod files;
#[allow(unused_imports)]
pub use files::*;
mod raw;
#[allow(unused_imports)]
pub use raw::*;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Only there so that a broken server fails a test instead of hanging it.
pub const TIMEOUT: Duration = Duration::from_secs(20);
pub const ADMIN_TOKEN: &str = "integration-admin-token-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

// ---------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------

/// The real server binary, killed on drop. `extra` is appended to the
/// generated config (tables other than `[server]`, `[listeners]`, `[admin]`
/// and `[log]`, e.g. `[limits]`).
pub struct TestServer {
    dir: TempDir,
    child: Option<Child>,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    /// The OriginChats listener (WebSocket at `/`), once it is announced.
    pub originchats: Option<SocketAddr>,
    /// The chat-network listener (WebSocket at `/`), once it is announced.
    pub chatnet: Option<SocketAddr>,
    /// The V0 TCP listener, once it is announced.
    pub v0: Option<SocketAddr>,
    /// The MQTT listener, once it is announced.
    pub mqtt: Option<SocketAddr>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_config("")
    }

    pub fn with_config(extra: &str) -> TestServer {
        let mut server = TestServer::prepared("localhost", extra);
        server.spawn();
        server
    }

    /// Writes the config (with `server.domain = domain`) but does not start
    /// the server: [`TestServer::restart`] does, after the test ran offline
    /// commands or added to the config.
    pub fn prepared(domain: &str, extra: &str) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        // SWITCHBOARD_TEST_LOG=debug (say) for more detail in the server log
        // printed when a test fails.
        let level = std::env::var("SWITCHBOARD_TEST_LOG").unwrap_or_else(|_| "info".into());
        let config = format!(
            "[server]\ndata_dir = {data:?}\ndomain = {domain:?}\n\n[listeners]\nhttp = \"127.0.0.1:0\"\n\
             admin = \"127.0.0.1:0\"\noriginchats = \"127.0.0.1:0\"\nchatnet = \"127.0.0.1:0\"\nv0 = \"127.0.0.1:0\"\nmqtt = \"127.0.0.1:0\"\n\n[admin]\ntoken = \"{ADMIN_TOKEN}\"\n\n\
             [log]\nlevel = {level:?}\n\n{extra}\n",
            data = data.display().to_string()
        );
        std::fs::write(dir.path().join("config.toml"), config).expect("write config");
        TestServer {
            dir,
            child: None,
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            originchats: None,
            chatnet: None,
            v0: None,
            mqtt: None,
        }
    }

    /// Appends TOML to the config file (takes effect at the next start).
    pub fn append_config(&self, toml: &str) {
        let path = self.config_path();
        let mut text = std::fs::read_to_string(&path).expect("read config");
        text.push('\n');
        text.push_str(toml);
        std::fs::write(&path, text).expect("write config");
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn spawn(&mut self) {
        self.spawn_env(&[]);
    }

    /// Starts the binary on this server's config and data directory and
    /// learns the ports from its `listening ...` lines. `env` is added to
    /// the process's environment (`SWITCHBOARD_*` overrides).
    fn spawn_env(&mut self, env: &[(&str, &str)]) {
        assert!(self.child.is_none(), "server already running");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn switchboard");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            // Keeps draining stdout for the life of the process.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);
        let (mut http, mut admin) = (None, None);
        let deadline = Instant::now() + TIMEOUT;
        while http.is_none() || admin.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let mut parts = line.split_whitespace();
                    if parts.next() != Some("listening") {
                        continue;
                    }
                    let name = parts.next().unwrap_or_default();
                    let addr: Option<SocketAddr> = parts.next().and_then(|a| a.parse().ok());
                    match name {
                        "http" => http = addr,
                        "admin" => admin = addr,
                        "originchats" => self.originchats = addr,
                        "chatnet" => self.chatnet = addr,
                        "v0" => self.v0 = addr,
                        "mqtt" => self.mqtt = addr,
                        _ => {}
                    }
                }
                Err(e) => panic!(
                    "server did not announce its listeners ({e:?}); log:\n{}",
                    self.log()
                ),
            }
        }
        self.http = http.expect("http addr");
        self.admin = admin.expect("admin addr");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Sends SIGTERM (graceful shutdown).
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit (bounded, so a hung shutdown fails).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("server running");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                panic!("server did not exit after SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.sigterm();
        self.wait_exit()
    }

    /// Starts the server again on the same data directory (ports change).
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// [`TestServer::restart`] with environment variables added.
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) {
        self.spawn_env(env);
    }

    /// The configuration file the server runs with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// The server's data directory (the store lives in `db` under it).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.http)
    }

    /// A REST call on the main listener, JSON in and out.
    pub async fn rest(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        let bytes = match body {
            Some(b) => {
                headers.push(("Content-Type", "application/json"));
                serde_json::to_vec(b).expect("json")
            }
            None => Vec::new(),
        };
        let res = http_request(self.http, method, path, &headers, &bytes).await;
        (res.status, res.json())
    }

    /// A GET on the admin listener with the given token (None: no header).
    pub async fn admin_get(&self, path: &str, token: Option<&str>) -> HttpResponse {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        http_request(self.admin, "GET", path, &headers, &[]).await
    }

    /// Opens the stopped server's store directly, as an operator's tool
    /// would (waiting for the server's lock to go).
    pub fn open_store(&self) -> switchboard_actors::store::Store {
        use switchboard_actors::store::{Durability, Store, StoreConfig};
        let cfg = StoreConfig {
            path: self.data_dir().join("db"),
            durability: Durability::Batched,
            flush_every_ms: 500,
            cache_capacity_bytes: 16 * 1024 * 1024,
        };
        for _ in 0..200 {
            match Store::open(&cfg) {
                Ok(s) => return s,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(25)),
            }
        }
        Store::open(&cfg).expect("open the stopped server's store")
    }

    /// `/admin/stats` with the right token.
    pub async fn stats(&self) -> Value {
        let res = self.admin_get("/admin/stats", Some(ADMIN_TOKEN)).await;
        assert_eq!(res.status, 200, "/admin/stats: {}", res.text());
        res.json()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- server log (last 60 lines, newest last) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP/1.1
// ---------------------------------------------------------------------------

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; `Null` when empty, a string when not JSON.
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
    }
}

/// One request on a fresh connection (`Connection: close`).
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let what = format!("{method} {path}");
    tokio::time::timeout(TIMEOUT, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        // The server may answer (413) before reading everything: a failed
        // write is fine as long as a response comes back.
        let _ = stream.write_all(&bytes).await;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        loop {
            if let Some(res) = parse_response(&buf, false) {
                return res;
            }
            match stream.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    if let Some(res) = parse_response(&buf, true) {
                        return res;
                    }
                    panic!("{what}: read failed: {e}");
                }
            }
        }
        parse_response(&buf, true).unwrap_or_else(|| {
            panic!(
                "{what}: incomplete response: {:?}",
                String::from_utf8_lossy(&buf)
            )
        })
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: no response"))
}

/// A complete response in `buf`, if there is one (`eof`: the connection
/// ended, so a body without length ends here).
fn parse_response(buf: &[u8], eof: bool) -> Option<HttpResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &buf[end + 4..];
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            let line_end = rest[pos..].windows(2).position(|w| w == b"\r\n")? + pos;
            let size_str = std::str::from_utf8(&rest[pos..line_end]).ok()?;
            let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
            pos = line_end + 2;
            if size == 0 {
                break;
            }
            if rest.len() < pos + size + 2 {
                return None;
            }
            out.extend_from_slice(&rest[pos..pos + size]);
            pos += size + 2;
        }
        out
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// The `error.code` of a REST error body.
pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error.code>")
}

/// REST register; returns (token, user).
pub async fn rest_register(server: &TestServer, username: &str) -> (String, Value) {
    let (status, body) = server
        .rest(
            "POST",
            "/api/auth/register",
            None,
            Some(&json!({"username": username, "password": PASSWORD})),
        )
        .await;
    assert!(
        status == 200 || status == 201,
        "register {username}: {status} {body}"
    );
    let token = body["token"].as_str().expect("token").to_string();
    (token, body["user"].clone())
}

/// Finds an item with `key == value` in a JSON array.
pub fn find<'a>(items: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    items.as_array()?.iter().find(|i| i[key] == value)
}

/// Ids are decimal strings.
pub fn assert_id(v: &Value, what: &str) -> String {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} must be a string id, got {v}"));
    assert!(
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
        "{what} must be a decimal string, got {s:?}"
    );
    s.to_string()
}

/// Times are RFC 3339 UTC.
pub fn assert_time(v: &Value, what: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} must be an RFC 3339 string, got {v}"));
    assert!(
        s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T',
        "{what} must be RFC 3339 UTC, got {s:?}"
    );
}

/// The next frame of a test client's socket: JSON text parsed (invalid JSON
/// fails the test), binary and close frames as they are, pings skipped.
/// Each client checks its dialect's framing on top.
pub async fn read_incoming(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    name: &str,
) -> Incoming {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let item = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .unwrap_or_else(|_| panic!("{name}: nothing received within the safety timeout"));
        let msg = match item {
            None => return Incoming::Ended(None),
            Some(Err(e)) => return Incoming::Ended(Some(e.to_string())),
            Some(Ok(m)) => m,
        };
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t)
                    .unwrap_or_else(|e| panic!("{name}: server sent invalid JSON ({e}): {t}"));
                return Incoming::Json(v);
            }
            Message::Binary(b) => return Incoming::Binary(b),
            Message::Close(f) => {
                return Incoming::Close(f.map(|f| (u16::from(f.code), f.reason.into_owned())))
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        }
    }
}
