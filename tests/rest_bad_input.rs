//! Bad input on the JAM REST API: no token, bad JSON, unknown ids, an
//! oversize body. After each, a valid call proves the server still works.

mod common;

use common::{error_code, http_request, rest_register, Jam, TestServer};
use serde_json::json;

const UNKNOWN: &str = "999999999";

#[tokio::test]
async fn no_token_or_a_bad_token_is_401() {
    let server = TestServer::start();
    let (token, user) = rest_register(&server, "alice").await;
    let routes = [
        ("GET", "/api/users/@me".to_string()),
        ("GET", format!("/api/messages?channel_id={UNKNOWN}")),
        ("GET", format!("/api/channels/{UNKNOWN}")),
        ("POST", "/api/guilds".to_string()),
        ("POST", "/api/channels".to_string()),
    ];
    for (method, path) in &routes {
        let body = (*method == "POST").then(|| json!({"name": "x"}));
        let (status, res) = server.rest(method, path, None, body.as_ref()).await;
        assert_eq!(
            (status, error_code(&res)),
            (401, "NOT_AUTHENTICATED"),
            "{method} {path} without a token: {res}"
        );
        let (status, res) = server
            .rest(method, path, Some("not-a-real-token"), body.as_ref())
            .await;
        assert_eq!(status, 401, "{method} {path} with a bad token: {res}");
        assert!(
            matches!(error_code(&res), "NOT_AUTHENTICATED" | "AUTH_FAILED"),
            "{method} {path} with a bad token: {res}"
        );
    }
    // A malformed Authorization header is no token.
    let res = http_request(
        server.http,
        "GET",
        "/api/users/@me",
        &[("Authorization", "Basic YWxpY2U6cHc=")],
        &[],
    )
    .await;
    assert_eq!(res.status, 401, "{}", res.text());

    let (status, me) = server
        .rest("GET", "/api/users/@me", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], user["id"]);
}

#[tokio::test]
async fn bad_json_is_400() {
    let server = TestServer::start();
    let (token, user) = rest_register(&server, "alice").await;
    let auth = format!("Bearer {token}");
    for body in [&b"{\"name\": \"x\","[..], b"not json at all", b"[1, 2"] {
        let res = http_request(
            server.http,
            "POST",
            "/api/guilds",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body,
        )
        .await;
        let v = res.json();
        assert_eq!(
            res.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(body),
            res.text()
        );
        assert!(
            matches!(error_code(&v), "INVALID" | "DECODE_ERROR"),
            "bad JSON: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
    }
    // Well-formed JSON with a wrong type is INVALID.
    let (status, v) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(&token),
            Some(&json!({"name": 5, "owner_id": user["id"], "description": ""})),
        )
        .await;
    assert_eq!((status, error_code(&v)), (400, "INVALID"), "{v}");

    let (status, guild) = server
        .rest(
            "POST",
            "/api/guilds",
            Some(&token),
            Some(&json!({"name": "Fine", "owner_id": user["id"], "description": "ok"})),
        )
        .await;
    assert_eq!(status, 201, "{guild}");
    assert_eq!(guild["name"], "Fine");
}

#[tokio::test]
async fn unknown_channel_is_404() {
    let server = TestServer::start();
    let jam = Jam::register(&server, "alice").await;
    let token = jam.token();
    let general = jam.lobby().general;
    let calls = [
        ("GET", format!("/api/channels/{UNKNOWN}"), None),
        ("GET", format!("/api/messages?channel_id={UNKNOWN}"), None),
        (
            "PUT",
            format!("/api/channels/{UNKNOWN}"),
            Some(json!({"name": "renamed"})),
        ),
        (
            "POST",
            "/api/messages".to_string(),
            Some(json!({"channel_id": UNKNOWN, "content": "hello?"})),
        ),
        ("DELETE", format!("/api/channels/{UNKNOWN}"), None),
    ];
    for (method, path, body) in &calls {
        let (status, v) = server.rest(method, path, Some(&token), body.as_ref()).await;
        assert_eq!(
            (status, error_code(&v)),
            (404, "NOT_FOUND"),
            "{method} {path}: {v}"
        );
    }
    let (status, channel) = server
        .rest(
            "GET",
            &format!("/api/channels/{general}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["name"], "general");
    assert_eq!(channel["type"], "text");
}

#[tokio::test]
async fn oversize_body_is_413() {
    let server = TestServer::with_config("[limits]\nrequest_body_bytes = 1024\n");
    let mut jam = Jam::register(&server, "alice").await;
    let token = jam.token();
    let general = jam.lobby().general;

    let big = json!({"channel_id": general, "content": "x".repeat(2000)});
    let (status, v) = server
        .rest("POST", "/api/messages", Some(&token), Some(&big))
        .await;
    assert_eq!((status, error_code(&v)), (413, "TOO_LARGE"), "{v}");

    // Under the limit: created, and the socket sees it (and nothing before).
    let small = json!({"channel_id": general, "content": "y".repeat(900)});
    assert!(serde_json::to_vec(&small).unwrap().len() < 1024);
    let (status, m) = server
        .rest("POST", "/api/messages", Some(&token), Some(&small))
        .await;
    assert!(status == 200 || status == 201, "{status} {m}");
    assert_eq!(m["content"], "y".repeat(900));
    let seen = jam.recv_op(10).await["d"].clone();
    assert_eq!(seen["id"], m["id"]);
    assert_eq!(seen["content"], "y".repeat(900));
    assert_eq!(server.stats().await["messages_created"], 1);
}
