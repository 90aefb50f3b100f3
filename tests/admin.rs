//! The admin endpoint: health, readiness, JSON stats and Prometheus metrics,
//! all behind the bearer token.

mod common;

use std::time::{Duration, Instant};

use common::{Jam, TestServer, ADMIN_TOKEN, TIMEOUT};
use serde_json::{json, Value};

const PATHS: [&str; 4] = ["/admin/health", "/admin/ready", "/admin/stats", "/metrics"];

#[tokio::test]
async fn every_admin_route_needs_the_token() {
    let server = TestServer::start();
    for path in PATHS {
        for token in [None, Some("wrong-token"), Some("")] {
            let res = server.admin_get(path, token).await;
            assert_eq!(res.status, 401, "{path} with {token:?}: {}", res.text());
            assert_eq!(
                res.json()["error"]["code"],
                "NOT_AUTHENTICATED",
                "{path}: {}",
                res.text()
            );
            assert_eq!(res.header("www-authenticate"), Some("Bearer"), "{path}");
        }
        let res = server.admin_get(path, Some(ADMIN_TOKEN)).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text());
    }
    // The admin routes are not on the main listener.
    let (status, _) = server
        .rest("GET", "/admin/stats", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn health_and_ready() {
    let server = TestServer::start();
    let res = server.admin_get("/admin/health", Some(ADMIN_TOKEN)).await;
    assert_eq!(res.status, 200);
    let v = res.json();
    assert_eq!(v["status"], "ok", "{v}");
    assert!(v["uptime_s"].is_u64(), "{v}");
    let res = server.admin_get("/admin/ready", Some(ADMIN_TOKEN)).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({"ready": true}));
}

/// The value of an unlabelled or labelled sample line in Prometheus text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("sample {series} is not a number: {e}"))
}

#[tokio::test]
async fn stats_and_metrics_follow_connections_and_messages() {
    let server = TestServer::start();
    let before = server.stats().await;
    assert_eq!(before["connections"]["jam"], 0, "{before}");
    assert_eq!(before["messages_created"], 0, "{before}");
    assert_eq!(before["messages_stored"], 0, "{before}");
    assert_eq!(before["server"]["name"], "Switchboard", "{before}");
    assert_eq!(before["server"]["domain"], "localhost", "{before}");

    let mut jam = Jam::register(&server, "alice").await;
    let ch = jam.lobby().general;
    let mut ids = Vec::new();
    for i in 0..3 {
        let m = jam
            .send_message(&ch, &format!("m{i}"), &format!("r{i}"))
            .await;
        ids.push(m["id"].as_str().unwrap().to_string());
    }
    jam.send(12, json!({"id": ids[0], "channel_id": ch}), None)
        .await;
    jam.recv_op(12).await;

    let stats = server.stats().await;
    assert_eq!(stats["connections"]["jam"], 1, "{stats}");
    assert_eq!(stats["connections_total"], 1, "{stats}");
    assert_eq!(stats["messages_created"], 3, "{stats}");
    assert_eq!(stats["messages_stored"], 2, "{stats}");
    assert_eq!(stats["slow_consumers"], 0, "{stats}");
    assert!(stats["uptime_s"].is_u64(), "{stats}");
    assert!(
        stats["deliveries"].as_u64().is_some_and(|d| d >= 4),
        "every create and the delete reached alice: {stats}"
    );

    let res = server.admin_get("/metrics", Some(ADMIN_TOKEN)).await;
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        res.headers
    );
    let text = res.text();
    assert_eq!(
        sample(&text, "switchboard_connections{dialect=\"jam\"}"),
        1.0
    );
    assert_eq!(sample(&text, "switchboard_messages_created_total"), 3.0);
    assert_eq!(sample(&text, "switchboard_messages_stored"), 2.0);
    assert!(
        text.contains("# TYPE switchboard_connections gauge"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE switchboard_messages_created_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE switchboard_fanout_latency_seconds histogram"),
        "{text}"
    );
    let inf = sample(
        &text,
        "switchboard_fanout_latency_seconds_bucket{le=\"+Inf\"}",
    );
    assert!(
        inf >= 4.0,
        "three creates and a delete were fanned out: {inf}"
    );
    assert_eq!(
        sample(&text, "switchboard_fanout_latency_seconds_count"),
        inf
    );
    // Buckets are cumulative.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("switchboard_fanout_latency_seconds_bucket{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(buckets.len() >= 2, "{text}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");

    // Once alice leaves, the gauge goes back to 0 (polled: closing is async).
    jam.close().await;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stats: Value = server.stats().await;
        if stats["connections"]["jam"] == 0 {
            assert_eq!(stats["connections_total"], 0, "{stats}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "connection never counted as closed: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
