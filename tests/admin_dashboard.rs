//! The dashboard's routes without a browser: the static page is public and
//! locked down, `/admin/activity` needs the token, a wrong token is told
//! apart from a missing one, and the figures follow what clients do.

mod common;

use common::{auth, Jam, Ny, TestServer, ADMIN_TOKEN};
use serde_json::Value;
use switchboard_protocols::nynja::etf::Term;

async fn activity(server: &TestServer) -> Value {
    let res = server.admin_get("/admin/activity", Some(ADMIN_TOKEN)).await;
    assert_eq!(res.status, 200, "/admin/activity: {}", res.text());
    res.json()
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_without_the_token() {
    let server = TestServer::start();
    for (path, kind, marker) in [
        ("/admin/", "text/html", "id=\"login-form\""),
        ("/admin/dashboard.css", "text/css", "#rate-chart"),
        ("/admin/dashboard.js", "text/javascript", "sessionStorage"),
    ] {
        let res = server.admin_get(path, None).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        assert!(
            res.header("content-type")
                .is_some_and(|t| t.starts_with(kind)),
            "{path}: {:?}",
            res.headers
        );
        let csp = res.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
            "{path}: {csp}"
        );
        let body = res.text();
        assert!(body.contains(marker), "{path}: {body}");
        // Nothing is fetched from elsewhere: no CDN, no absolute URL.
        assert!(
            !body.contains("http://") && !body.contains("https://") && !body.contains("//cdn"),
            "{path} refers to another origin"
        );
    }
    let res = server.admin_get("/admin", None).await;
    assert_eq!(res.status, 308);
    assert_eq!(res.header("location"), Some("/admin/"));
    // The page is only on the admin listener.
    let (status, _) = server.rest("GET", "/admin/", None, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn activity_needs_the_token_and_a_wrong_one_is_named() {
    let server = TestServer::start();
    let res = server.admin_get("/admin/activity", None).await;
    assert_eq!(res.status, 401, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], "NOT_AUTHENTICATED");
    assert_eq!(res.json()["error"]["message"], "Admin token required");
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    assert!(
        !res.text().contains("message_rate"),
        "no figures without the token: {}",
        res.text()
    );

    let before = activity(&server).await;
    assert!(
        before["recent_errors"]
            .as_array()
            .is_some_and(|e| e.is_empty()),
        "a fresh server has no warnings: {before}"
    );
    for path in ["/admin/activity", "/admin/stats"] {
        let res = server.admin_get(path, Some("not-the-token")).await;
        assert_eq!(res.status, 401, "{path}: {}", res.text());
        assert_eq!(
            res.json()["error"]["message"],
            "Wrong admin token",
            "{path}"
        );
    }
    // The refusals are news for the operator, and changed nothing else.
    let after = activity(&server).await;
    let errors = after["recent_errors"].as_array().expect("recent_errors");
    assert_eq!(errors.len(), 2, "{after}");
    for e in errors {
        assert_eq!(e["level"], "warn", "{e}");
        let message = e["message"].as_str().unwrap_or("");
        assert!(message.contains("wrong admin token"), "{e}");
        assert!(message.contains("peer=127.0.0.1"), "{e}");
        assert!(
            !message.contains("not-the-token"),
            "the guess is not logged: {e}"
        );
        assert!(e["at_ms"].as_i64().is_some_and(|t| t > 0), "{e}");
    }
    assert_eq!(
        errors[0]["message"]
            .as_str()
            .map(|m| m.contains("/admin/stats")),
        Some(true),
        "newest first: {after}"
    );
    let stats = server.stats().await;
    assert_eq!(stats["messages_created"], 0, "{stats}");
}

#[tokio::test]
async fn activity_follows_messages_per_channel_and_second() {
    let server = TestServer::start();
    let fresh = activity(&server).await;
    assert_eq!(fresh["message_rate"]["window_s"], 600, "{fresh}");
    assert_eq!(fresh["top_channels"]["window_minutes"], 10, "{fresh}");
    assert!(
        fresh["top_channels"]["channels"]
            .as_array()
            .is_some_and(|c| c.is_empty()),
        "{fresh}"
    );

    let mut jam = Jam::register(&server, "carol").await;
    let lobby = jam.lobby();
    for i in 0..3 {
        jam.send_message(&lobby.general, &format!("g{i}"), &format!("g{i}"))
            .await;
    }
    jam.send_message(&lobby.lounge, "l0", "l0").await;

    let a = activity(&server).await;
    let series: Vec<u64> = a["message_rate"]["per_second"]
        .as_array()
        .expect("per_second")
        .iter()
        .map(|v| v.as_u64().expect("a count"))
        .collect();
    assert!(!series.is_empty() && series.len() <= 600, "{a}");
    assert_eq!(
        series.iter().sum::<u64>(),
        4,
        "every message in the window: {a}"
    );
    let top = a["top_channels"]["channels"].as_array().expect("channels");
    assert_eq!(top.len(), 2, "{a}");
    assert_eq!(top[0]["id"], lobby.general.as_str(), "{a}");
    assert_eq!(top[0]["name"], "general", "{a}");
    assert_eq!(top[0]["guild"], "Lobby", "{a}");
    assert_eq!(top[0]["messages"], 3, "{a}");
    assert_eq!(top[1]["id"], lobby.lounge.as_str(), "{a}");
    assert_eq!(top[1]["messages"], 1, "{a}");
    jam.close().await;
}

#[tokio::test]
async fn nynja_codes_are_listed_in_log_mode_only() {
    // Log mode is the default.
    let server = TestServer::start();
    let a = activity(&server).await;
    assert_eq!(a["nynja"]["verification"], "log", "{a}");
    assert_eq!(a["nynja"]["codes"], serde_json::json!([]), "{a}");

    let (phone, reg_id) = ("15550001", "reg_15550001");
    let mut reg = Ny::connect(&server, reg_id, None).await;
    reg.send(&auth(reg_id, phone, "reg", None)).await;
    let (_, sent) = reg.recv().await;
    assert_eq!(
        sent,
        switchboard_protocols::nynja::io_ok("sms_sent", Term::bin(""))
    );
    let a = activity(&server).await;
    let codes = a["nynja"]["codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 1, "{a}");
    assert_eq!(codes[0]["phone"], phone, "{a}");
    assert_eq!(codes[0]["pending"], true, "{a}");
    let code = codes[0]["code"].as_str().expect("code").to_string();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{a}"
    );

    // The listed code is the one that works; once used it is no longer awaited.
    reg.send(&auth(reg_id, phone, "verify", Some(&code))).await;
    let (_, login) = reg.recv().await;
    assert!(format!("{login:?}").contains("login"), "{login:?}");
    let a = activity(&server).await;
    assert_eq!(a["nynja"]["codes"][0]["pending"], false, "{a}");
    reg.disconnect().await;

    let fixed = TestServer::with_config(common::NYNJA_FIXED);
    let a = activity(&fixed).await;
    assert_eq!(a["nynja"]["verification"], "fixed", "{a}");
    assert!(a["nynja"]["codes"].is_null(), "{a}");
}
