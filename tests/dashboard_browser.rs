//! The admin dashboard in a real browser: headless Chromium, driven over
//! the DevTools protocol, loads `/admin/` from the test server, is refused
//! with a wrong token, logs in with the right one, and shows the numbers
//! move while a JAM client sends messages. The screenshot is kept in the
//! target directory (its path is printed).
//!
//! Chromium is required: without it this test fails and says how to
//! install it (`.ci/run` installs it in CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{http_request, Jam, TestServer, ADMIN_TOKEN, TIMEOUT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WIDTH: u64 = 1280;
const HEIGHT: u64 = 900;

fn find_chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&dirs) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "Chromium is needed by the dashboard browser test and was not found \
         (looked for $CHROMIUM, chromium, chromium-browser, google-chrome on PATH). \
         Install it: `sudo apt-get install -y chromium` on Debian/Ubuntu \
         (.ci/run does this in CI), or set CHROMIUM=/path/to/chrome."
    );
}

/// A headless Chromium with its own profile directory; killed on drop.
struct Browser {
    child: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    fn launch() -> Browser {
        let binary = find_chromium();
        let profile = tempfile::tempdir().expect("profile dir");
        let log = std::fs::File::create(profile.path().join("chromium.log")).expect("log file");
        let child = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--window-size={WIDTH},{HEIGHT}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Browser { child, profile }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default()
    }

    /// The DevTools port, from the file Chromium writes once it listens.
    async fn devtools_port(&mut self) -> u16 {
        let file = self.profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&file) {
                if let Some(port) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
                    return port;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromium exited ({status}) before listening:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromium wrote no DevToolsActivePort:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- chromium log ---\n{}", self.log());
        }
    }
}

/// One page's DevTools session: commands by id, events skipped.
struct Page {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Page {
    async fn attach(port: u16) -> Page {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let list = http_request(addr, "GET", "/json/list", &[], &[]).await;
        assert_eq!(list.status, 200, "/json/list: {}", list.text());
        let targets = list.json();
        let url = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .unwrap_or_else(|| panic!("no page target: {targets}"))
            .to_string();
        let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("devtools connect timed out")
            .expect("devtools connect");
        Page { ws, next_id: 1 }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let frame = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws
            .send(Message::text(frame))
            .await
            .expect("devtools send");
        // Events may come first; they are few, but the loop stays bounded.
        for _ in 0..100_000 {
            let next = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{method}: no answer"));
            let msg = match next {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => panic!("{method}: devtools read: {e}"),
                None => panic!("{method}: devtools closed"),
            };
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).expect("devtools json");
            if v["id"] != id {
                continue;
            }
            assert!(v["error"].is_null(), "{method}: {v}");
            return v["result"].clone();
        }
        panic!("{method}: no answer among 100000 frames");
    }

    /// Evaluates `expr` in the page and answers its JSON value.
    async fn eval(&mut self, expr: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(r["exceptionDetails"].is_null(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Like `eval`, but a script that throws (the page may still be
    /// `about:blank` or half loaded) answers the exception instead of failing.
    async fn try_eval(&mut self, expr: &str) -> Result<Value, Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if r["exceptionDetails"].is_null() {
            Ok(r["result"]["value"].clone())
        } else {
            Err(r["exceptionDetails"].clone())
        }
    }

    /// Evaluates `expr` until it is `true`; answers `report` evaluated then.
    /// While waiting, a script that throws counts as "not yet".
    async fn wait_until(&mut self, expr: &str, report: &str) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if self.try_eval(expr).await == Ok(json!(true)) {
                return self.eval(report).await;
            }
            let now = self.try_eval(report).await;
            assert!(
                Instant::now() < deadline,
                "the page never got to `{expr}`; it shows: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn log_in(&mut self, token: &str) {
        let expr = format!(
            "(() => {{ const i = document.getElementById('token'); i.value = {}; \
             document.getElementById('login-form').requestSubmit(); return true; }})()",
            json!(token)
        );
        assert_eq!(self.eval(&expr).await, json!(true));
    }
}

/// What the test reads off the page, as one JSON object.
const SNAPSHOT: &str = "(() => { const t = (id) => { const e = document.getElementById(id); \
    return e ? e.textContent.trim() : null; }; \
    const tb = (id) => { const e = document.querySelector('#' + id + ' tbody'); \
    return e ? e.textContent.trim() : null; }; \
    const jam = document.querySelector('#conn-jam td:last-child'); \
    const body = document.body || { dataset: {} }; \
    return { state: body.dataset.state, polls: Number(body.dataset.polls || 0), \
      dashboard_hidden: document.getElementById('dashboard')?.hidden, \
      login_error: t('login-error'), stored_token: sessionStorage.getItem('switchboard.adminToken'), \
      jam: jam ? jam.textContent : null, total: t('messages-total'), rate_max: t('rate-max'), \
      line: (document.getElementById('rate-line')?.getAttribute('d') || '').length, \
      top: tb('top-channels'), errors: tb('errors'), nynja_hidden: document.getElementById('nynja')?.hidden }; })()";

/// The target directory this test binary was built into (`target/debug/deps`
/// holds it), so the screenshot lands beside the build, wherever that is.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Width and height from a PNG's IHDR, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "not a PNG: {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "PNG without IHDR first");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[tokio::test]
async fn the_dashboard_shows_live_numbers_in_headless_chromium() {
    let server = TestServer::start();
    let mut jam = Jam::register(&server, "dashboard-dora").await;
    let general = jam.lobby().general;

    let mut browser = Browser::launch();
    let port = browser.devtools_port().await;
    let mut page = Page::attach(port).await;
    page.call("Page.enable", json!({})).await;
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await;
    let url = format!("http://{}/admin/", server.admin);
    let nav = page.call("Page.navigate", json!({"url": url})).await;
    assert!(nav["errorText"].is_null(), "{url}: {nav}");
    let shown = page
        .wait_until(
            "document.readyState === 'complete' && document.body.dataset.state === 'login'",
            SNAPSHOT,
        )
        .await;
    assert_eq!(shown["dashboard_hidden"], true, "{shown}");

    // A wrong token: a clear message, no figures, nothing kept.
    page.log_in("not-the-admin-token").await;
    let refused = page
        .wait_until("document.body.dataset.state === 'refused'", SNAPSHOT)
        .await;
    let message = refused["login_error"].as_str().unwrap_or("");
    assert!(message.contains("Wrong admin token"), "{refused}");
    assert_eq!(refused["dashboard_hidden"], true, "{refused}");
    assert_eq!(refused["stored_token"], Value::Null, "{refused}");
    assert_eq!(refused["total"], "–", "no figure was filled in: {refused}");

    // The right one: the connected JAM client is counted.
    page.log_in(ADMIN_TOKEN).await;
    let live = page
        .wait_until(
            "document.body.dataset.state === 'live' && \
             document.querySelector('#conn-jam td:last-child')?.textContent === '1'",
            SNAPSHOT,
        )
        .await;
    assert_eq!(live["dashboard_hidden"], false, "{live}");
    assert_eq!(live["stored_token"], ADMIN_TOKEN, "{live}");
    assert_eq!(live["total"], "0", "{live}");
    assert!(
        live["errors"]
            .as_str()
            .is_some_and(|e| e.contains("wrong admin token")),
        "the refused login is among the recent errors: {live}"
    );
    assert_eq!(live["nynja_hidden"], false, "log mode lists codes: {live}");

    // Messages sent now move the total, the chart and the channel ranking.
    const N: usize = 6;
    for i in 0..N {
        jam.send_message(&general, &format!("dashboard {i}"), &format!("d{i}"))
            .await;
    }
    let moved = page
        .wait_until(
            &format!(
                "document.getElementById('messages-total').textContent === '{N}' && \
                 document.querySelector('#top-channels tbody tr td:last-child')?.textContent === '{N}'"
            ),
            SNAPSHOT,
        )
        .await;
    assert!(
        moved["top"]
            .as_str()
            .is_some_and(|t| t.starts_with("#generalLobby")),
        "general leads the ranking: {moved}"
    );
    assert_ne!(
        moved["rate_max"], "peak 0/s",
        "the chart has the burst: {moved}"
    );
    assert!(moved["line"].as_u64().is_some_and(|n| n > 100), "{moved}");
    let polls = moved["polls"].as_u64().unwrap_or(0);
    // Still polling: one more update arrives after the numbers moved.
    page.wait_until(
        &format!("Number(document.body.dataset.polls) > {polls}"),
        SNAPSHOT,
    )
    .await;

    let shot = page
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    let png = STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("screenshot base64");
    let (w, h) = png_size(&png);
    assert_eq!(
        (u64::from(w), u64::from(h)),
        (WIDTH, HEIGHT),
        "screenshot size"
    );
    // A blank page compresses to a few hundred bytes; cards, text and the
    // chart take far more.
    assert!(png.len() > 20_000, "screenshot is only {} bytes", png.len());
    let path = target_dir().join("dashboard.png");
    std::fs::write(&path, &png).expect("write screenshot");
    println!("dashboard screenshot: {}", path.display());

    // The browser may hang up before it answers: send and do not wait.
    let close = json!({"id": page.next_id, "method": "Browser.close"}).to_string();
    let _ = page.ws.send(Message::text(close)).await;
    jam.close().await;
}
