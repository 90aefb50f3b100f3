//! Structured logs: with `[log] format = "json"` every line is one JSON
//! object, and whatever a connection logs carries its `conn` span with the
//! dialect, the peer address, the session id and, once the client has
//! logged in, the user id. JAM, chat-network and MQTT (NYNJA) are checked.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{nynja_login, Cn, Jam, TestServer, NYNJA_FIXED, TIMEOUT};
use serde_json::Value;

/// A server that logs JSON at debug level. The generated config already has
/// a `[log]` table, and TOML refuses a second one: it is replaced.
fn json_server() -> TestServer {
    json_server_with("")
}

fn json_server_with(extra: &str) -> TestServer {
    let mut server = TestServer::prepared("localhost", "");
    let path = server.config_path();
    let mut text = std::fs::read_to_string(&path).expect("read config");
    let cut = text.find("[log]").expect("[log] in the generated config");
    text.truncate(cut);
    text.push_str("[log]\nlevel = \"info,switchboard_actors=debug\"\nformat = \"json\"\n\n");
    text.push_str(extra);
    std::fs::write(&path, text).expect("write config");
    server.restart();
    server
}

/// Every line of the server's log, each of which must be JSON.
fn log_lines(server: &TestServer) -> Vec<Value> {
    server
        .log()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"))
        })
        .collect()
}

/// Waits for the first log line whose message is `message` and whose span
/// satisfies `want`, and returns that span.
async fn wait_for_span(server: &TestServer, message: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let found = log_lines(server)
            .into_iter()
            .find(|l| l["fields"]["message"] == message && want(&l["span"]));
        if let Some(line) = found {
            return line["span"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {message:?} line with the wanted span; log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_conn_span(span: &Value, dialect: &str) {
    assert_eq!(span["name"], "conn", "{span}");
    assert_eq!(span["dialect"], dialect, "{span}");
    let peer: SocketAddr = span["peer"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("peer is not an address: {span}"));
    assert!(peer.ip().is_loopback(), "{span}");
    assert!(peer.port() != 0, "{span}");
    assert!(span["session"].as_u64().is_some(), "{span}");
}

#[tokio::test]
async fn jam_connection_logs_in_a_span_naming_dialect_peer_and_user() {
    let server = json_server();
    let alice = Jam::register(&server, "alice").await;
    let user = alice.user_id();
    alice.close().await;

    // Before authentication the span has no user yet.
    let connected = wait_for_span(&server, "jam connected", |s| s["dialect"] == "jam").await;
    assert_conn_span(&connected, "jam");
    assert!(connected.get("user").is_none(), "{connected}");

    // Once authenticated, it has.
    let gone = wait_for_span(&server, "jam disconnected", |s| s["user"] == user.as_str()).await;
    assert_conn_span(&gone, "jam");
    assert_eq!(
        gone["session"], connected["session"],
        "one span per connection"
    );
    assert_eq!(gone["peer"], connected["peer"], "one span per connection");
}

#[tokio::test]
async fn chatnet_connection_logs_with_the_same_user_id() {
    let server = json_server();
    // One account for both dialects: the user id in the chat-network span is
    // the one JAM reports.
    let alice = Jam::register(&server, "alice").await;
    let user = alice.user_id();
    let cn = Cn::signin(&server, "alice").await;
    cn.close().await;

    let gone = wait_for_span(&server, "chat-network disconnected", |s| {
        s["user"] == user.as_str()
    })
    .await;
    assert_conn_span(&gone, "chatnet");
    alice.close().await;
}

#[tokio::test]
async fn mqtt_connection_logs_with_its_user_once_connected() {
    let server = json_server_with(NYNJA_FIXED);
    let (ny, _token) = nynja_login(&server, "15550001").await;
    // A logged-in NYNJA client is `emqttd_<user id>`.
    let user = ny
        .client_id
        .strip_prefix("emqttd_")
        .unwrap_or_else(|| panic!("client id {:?}", ny.client_id))
        .to_string();

    let logged_in = wait_for_span(&server, "nynja logged in", |s| s["user"] == user.as_str()).await;
    assert_conn_span(&logged_in, "nynja");
    ny.disconnect().await;
}
