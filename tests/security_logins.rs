//! Password logins past the hashers' queue, in every dialect that takes a
//! password: with one hasher and one place in its queue, a burst of concurrent logins is
//! answered, each login either with the dialect's ordinary failure or with
//! its rate-limit answer, and at least one of them is refused as rate
//! limited. The right password still works once the burst is over.

mod common;

use common::{rest_register, Cn, Jam, Oc, TestServer, PASSWORD};
use serde_json::{json, Value};

const ONE_HASHER: &str = "[limits]\npassword_hashes = 1\npassword_queue = 1\n";
const BURST: usize = 24;

/// Runs `BURST` copies of `attempt` at once and returns their answers.
async fn burst<F, Fut>(attempt: F) -> Vec<Value>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Value> + Send + 'static,
{
    let tasks: Vec<_> = (0..BURST).map(|i| tokio::spawn(attempt(i))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("login task"));
    }
    out
}

#[tokio::test]
async fn jam_logins_past_the_queue_get_rate_limited() {
    let server = std::sync::Arc::new(TestServer::with_config(ONE_HASHER));
    rest_register(&server, "victim").await;
    let answers = burst(|i| {
        let server = server.clone();
        async move {
            let mut jam = Jam::connect(&server, &format!("guess{i}")).await;
            jam.send(
                2,
                json!({"action": "login", "username": "victim", "password": format!("guess{i}")}),
                None,
            )
            .await;
            jam.recv_op(4).await
        }
    })
    .await;
    let mut limited = 0;
    for f in &answers {
        match f["d"]["code"].as_str() {
            Some("RATE_LIMITED") => {
                assert!(f["d"]["retry_after_ms"].as_u64().is_some(), "{f}");
                limited += 1;
            }
            Some("AUTH_FAILED") => {}
            _ => panic!("unexpected answer to a login: {f}"),
        }
    }
    assert!(limited > 0, "no JAM login was refused: {answers:?}");
    Jam::login(&server, "victim", PASSWORD).await;
}

#[tokio::test]
async fn originchats_logins_past_the_queue_get_rate_limited() {
    let server = std::sync::Arc::new(TestServer::with_config(ONE_HASHER));
    rest_register(&server, "victim").await;
    let answers = burst(|i| {
        let server = server.clone();
        async move {
            let mut oc = Oc::connect(&server, &format!("guess{i}")).await;
            oc.send(json!({"cmd": "login", "username": "victim", "password": format!("guess{i}")}))
                .await;
            loop {
                let f = oc.recv().await;
                if f["cmd"] == "auth_error" || f["cmd"] == "rate_limit" {
                    return f;
                }
            }
        }
    })
    .await;
    let mut limited = 0;
    for f in &answers {
        if f["cmd"] == "rate_limit" {
            assert!(f["length"].as_u64().is_some(), "{f}");
            assert!(
                f["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("Rate limit exceeded. Wait ")),
                "{f}"
            );
            limited += 1;
        } else {
            assert_eq!(f["val"], "Invalid password", "{f}");
        }
    }
    assert!(limited > 0, "no OriginChats login was refused: {answers:?}");
    let mut oc = Oc::login(&server, "victim", PASSWORD).await;
    oc.send(json!({"cmd": "ping"})).await;
}

#[tokio::test]
async fn chatnet_signins_past_the_queue_get_rate_limited() {
    let server = std::sync::Arc::new(TestServer::with_config(ONE_HASHER));
    rest_register(&server, "victim").await;
    let answers = burst(|i| {
        let server = server.clone();
        async move {
            let mut cn = Cn::connect(&server, &format!("guess{i}")).await;
            cn.send(
                json!({"type": "signin", "username": "victim", "password": format!("guess{i}")}),
            )
            .await;
            cn.recv().await
        }
    })
    .await;
    let mut limited = 0;
    for f in &answers {
        match f["resp_code"].as_u64() {
            Some(8) => {
                assert!(f["retry_after_ms"].as_u64().is_some(), "{f}");
                limited += 1;
            }
            Some(6) => {}
            _ => panic!("unexpected answer to a signin: {f}"),
        }
    }
    assert!(
        limited > 0,
        "no chat-network signin was refused: {answers:?}"
    );
    Cn::signin(&server, "victim").await;
}
