//! OriginChats Rotur sign-in against a fake Rotur validation endpoint:
//! valid and invalid validators, an HTTP error, a validation that never
//! answers in time, the connection's validator_key passed as `key`, the
//! `rotur` and `cracked-only` modes.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{oc_url, rest_register, Oc, TestServer, PASSWORD};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every request the fake validator saw: path and query parameters.
type RequestLog = Arc<Mutex<Vec<(String, HashMap<String, String>)>>>;

/// A fake `https://api.rotur.dev/validate`: `v=good` is valid (user
/// `roturuser`, id `USR:abc`), `v=bad` is not, `v=err` gets a 500, `v=slow`
/// answers (valid) after 8 s. Every request's query is recorded.
struct FakeRotur {
    url: String,
    requests: RequestLog,
}

impl FakeRotur {
    async fn start() -> FakeRotur {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake rotur");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(answer(stream, log.clone()));
            }
        });
        FakeRotur {
            url: format!("http://127.0.0.1:{port}/validate"),
            requests,
        }
    }

    /// The `[originchats]` table pointing at this fake.
    fn config(&self, mode: &str) -> String {
        format!(
            "[originchats]\nauth_mode = \"{mode}\"\nrotur_validate_url = \"{}\"\n",
            self.url
        )
    }

    fn requests(&self) -> Vec<(String, HashMap<String, String>)> {
        self.requests.lock().unwrap().clone()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn answer(mut stream: TcpStream, log: RequestLog) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let target = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params: HashMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    log.lock().unwrap().push((path.to_string(), params.clone()));
    let valid = json!({"valid": true, "id": "USR:abc", "username": "roturuser"});
    let (status, body) = match params.get("v").map(String::as_str) {
        Some("good") => (200, valid),
        Some("slow") => {
            tokio::time::sleep(Duration::from_secs(8)).await;
            (200, valid)
        }
        Some("err") => (500, json!({"error": "boom"})),
        _ => (200, json!({"valid": false, "error": "Invalid validator"})),
    };
    let body = body.to_string();
    let reason = if status == 200 {
        "OK"
    } else {
        "Internal Server Error"
    };
    let res = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(res.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn validator_key(oc: &Oc) -> String {
    oc.handshake["validator_key"]
        .as_str()
        .expect("validator_key")
        .to_string()
}

#[tokio::test]
async fn a_valid_validator_signs_in_with_the_connections_key() {
    let rotur = FakeRotur::start().await;
    let server = TestServer::with_config(&rotur.config("cracked"));
    let mut oc = Oc::connect(&server, "roturuser").await;
    let key = validator_key(&oc);
    oc.send(json!({"cmd": "auth", "validator": "good", "listener": "a-1"}))
        .await;
    let ready = oc.expect_ready("roturuser").await;
    assert!(ready.get("listener").is_none(), "{ready}");
    assert!(ready["user"]["roles"]
        .as_array()
        .is_some_and(|r| r.contains(&json!("user"))));

    let reqs = rotur.requests();
    assert_eq!(reqs.len(), 1, "one validation request: {reqs:?}");
    let (path, params) = &reqs[0];
    assert_eq!(path, "/validate");
    assert_eq!(
        params.get("key"),
        Some(&key),
        "key must be this connection's validator_key"
    );
    assert_eq!(params.get("v").map(String::as_str), Some("good"));
    oc.ping_ok().await;

    // A second connection, with its own key, reaches the same account.
    let mut again = Oc::connect(&server, "roturuser").await;
    let key2 = validator_key(&again);
    assert_ne!(key, key2);
    again
        .send(json!({"cmd": "auth", "validator": "good"}))
        .await;
    again.expect_ready("roturuser").await;
    let reqs = rotur.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[1].1.get("key"), Some(&key2));
    again.send(json!({"cmd": "users_list"})).await;
    let list = again.recv_cmd("users_list").await;
    let count = list["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["username"] == "roturuser")
        .count();
    assert_eq!(count, 1, "the Rotur id is linked to one account: {list}");
}

#[tokio::test]
async fn invalid_and_failing_validations_are_auth_errors() {
    let rotur = FakeRotur::start().await;
    let server = TestServer::with_config(&rotur.config("cracked"));
    let mut oc = Oc::connect(&server, "x").await;
    let key = validator_key(&oc);
    for v in ["bad", "err"] {
        oc.send(json!({"cmd": "auth", "validator": v, "listener": "l"}))
            .await;
        oc.expect_auth_error("Invalid authentication").await;
    }
    let reqs = rotur.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    for (path, params) in &reqs {
        assert_eq!(path, "/validate");
        assert_eq!(params.get("key"), Some(&key));
    }
    // The connection stays open and can retry.
    oc.send(json!({"cmd": "auth", "validator": "good"})).await;
    oc.expect_ready("roturuser").await;
}

#[tokio::test]
async fn a_validation_that_does_not_answer_in_time_is_an_auth_error() {
    let rotur = FakeRotur::start().await;
    let server = TestServer::with_config(&rotur.config("cracked"));
    let mut oc = Oc::connect(&server, "x").await;
    oc.send(json!({"cmd": "auth", "validator": "slow"})).await;
    // The fake answers "valid" after 8 s; the server gives up after 5 s.
    let f = oc.recv_strict().await;
    assert_eq!(f["cmd"], "auth_error", "a late validation must fail: {f}");
    assert!(f["val"].as_str().is_some_and(|v| !v.is_empty()), "{f}");
    assert!(f.get("listener").is_none(), "{f}");
    oc.send(json!({"cmd": "auth", "validator": "good"})).await;
    oc.expect_ready("roturuser").await;
}

#[tokio::test]
async fn rotur_mode_refuses_local_accounts_but_takes_tokens() {
    let rotur = FakeRotur::start().await;
    let server = TestServer::with_config(&rotur.config("rotur"));
    let (token, _) = rest_register(&server, "jamuser").await;
    let mut oc = Oc::connect(&server, "x").await;
    assert_eq!(oc.handshake["auth_mode"], "rotur");
    for cmd in ["register", "login"] {
        oc.send(json!({"cmd": cmd, "username": "jamuser", "password": PASSWORD}))
            .await;
        let f = oc.recv_strict().await;
        assert_eq!(f["cmd"], "auth_error", "{cmd} in rotur mode: {f}");
    }
    oc.send(json!({"cmd": "auth", "validator": "bad"})).await;
    oc.expect_auth_error("Invalid authentication").await;
    oc.send(json!({"cmd": "auth", "validator": token})).await;
    oc.expect_ready("jamuser").await;

    let mut r = Oc::connect_url(&oc_url(&server), "roturuser").await;
    r.send(json!({"cmd": "auth", "validator": "good"})).await;
    r.expect_ready("roturuser").await;
    r.ping_ok().await;
}

#[tokio::test]
async fn cracked_only_never_asks_rotur() {
    let rotur = FakeRotur::start().await;
    let server = TestServer::with_config(&rotur.config("cracked-only"));
    let mut oc = Oc::connect(&server, "x").await;
    oc.send(json!({"cmd": "auth", "validator": "good"})).await;
    oc.expect_auth_error("Rotur authentication is disabled. Use login or register commands.")
        .await;
    oc.send(json!({"cmd": "register", "username": "local", "password": PASSWORD}))
        .await;
    oc.expect_ready("local").await;
    assert!(rotur.requests().is_empty(), "{:?}", rotur.requests());
}
