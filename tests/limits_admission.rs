//! One past `limits.connections_per_ip`, `limits.user_requests_per_second`
//! and `limits.ip_requests_per_second`, in every dialect and over REST:
//! each refusal comes in the dialect's own shape, nothing refused is
//! stored, and everyone else keeps being served.
//!
//! Rates are token buckets that refill with time, so "one past" is found by
//! sending until the first refusal (bounded by a count): how many pass
//! before it depends on how fast this machine sends, not on the test.

mod common;

use common::{
    http_request, nynja_login, oc_url, rest_register, Cn, Jam, Ny, Oc, TestServer, NYNJA_FIXED,
    TIMEOUT, V0,
};
use futures_util::{SinkExt, StreamExt};
use rumqttc::ConnectReturnCode;
use serde_json::{json, Value};
use switchboard_protocols::nynja::io_error;
use switchboard_protocols::v0::Inbound;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

/// More requests than any test rate below lets through at once.
const ATTEMPTS: usize = 60;

const TOO_MANY: &str = "Too many connections from your address";

/// Opens a WebSocket and returns the first frame and the close code after
/// it: what a refused client sees.
async fn refused_ws(url: &str, first: Option<Message>) -> (Message, Option<u16>) {
    let (mut ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect timed out")
        .expect("connect");
    if let Some(m) = first {
        ws.send(m).await.expect("send");
    }
    let reply = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("read timed out")
        .expect("a frame")
        .expect("frame");
    let code = match tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("read timed out")
    {
        Some(Ok(Message::Close(Some(c)))) => Some(u16::from(c.code)),
        other => panic!("{url}: expected a close frame, got {other:?}"),
    };
    (reply, code)
}

fn json_of(m: &Message) -> Value {
    match m {
        Message::Text(t) => serde_json::from_str(t).expect("JSON"),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// An MQTT 3.1.1 CONNECT for client id "x", clean session, keep-alive 60.
const CONNECT: [u8; 15] = [
    0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'x',
];

#[tokio::test]
async fn one_past_connections_per_ip_is_refused_in_every_dialect() {
    let server = TestServer::with_config("[limits]\nconnections_per_ip = 2\n");
    let mut first = Jam::register(&server, "first").await;
    let mut second = Jam::connect(&server, "second").await;

    // JAM: op 4 RATE_LIMITED, then close 4008.
    let (reply, code) = refused_ws(&server.ws_url(), None).await;
    let f = json_of(&reply);
    assert_eq!(f["op"], 4, "{f}");
    assert_eq!(f["d"]["code"], "RATE_LIMITED", "{f}");
    assert_eq!(f["d"]["message"], TOO_MANY, "{f}");
    assert_eq!(code, Some(4008));

    // OriginChats: the reference's error packet, then 1008.
    let (reply, code) = refused_ws(&oc_url(&server), None).await;
    assert_eq!(json_of(&reply), json!({"cmd": "error", "val": TOO_MANY}));
    assert_eq!(code, Some(1008));

    // chat-network: code 8 with the reason, then 1008.
    let url = format!("ws://{}/", server.chatnet.expect("chatnet listener"));
    let (reply, code) = refused_ws(&url, None).await;
    assert_eq!(
        json_of(&reply),
        json!({"type": "error", "resp_code": 8, "reason": TOO_MANY})
    );
    assert_eq!(code, Some(1008));

    // MQTT over WebSocket: CONNACK 3 "server unavailable", then 1008.
    let url = format!("ws://{}/mqtt", server.http);
    let (reply, code) = refused_ws(&url, Some(Message::Binary(CONNECT.to_vec()))).await;
    assert_eq!(reply, Message::Binary(vec![0x20, 2, 0, 3]));
    assert_eq!(code, Some(1008));

    // MQTT over TCP: CONNACK 3.
    let refused = Ny::try_connect(&server, "emqttd_1", Some("x"), true).await;
    assert!(
        matches!(refused, Err(ConnectReturnCode::ServiceUnavailable)),
        "{:?}",
        refused.err()
    );

    // V0 cannot answer before CNN: the connection closes.
    let mut v0 = V0::open(&server, "v0", [0; 32]).await;
    v0.send(&Inbound::Cnn { id: "v0".into() }).await;
    v0.expect_closed().await;

    let stats = server.stats().await;
    assert_eq!(stats["connections_refused"], 6, "{stats}");

    // The two admitted connections are untouched.
    first.heartbeat_ok().await;
    second.heartbeat_ok().await;

    // Another address has a count of its own (all of 127/8 is loopback).
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.2:0".parse().expect("addr"))
        .expect("bind 127.0.0.2");
    let stream = socket.connect(server.http).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(server.ws_url(), stream)
        .await
        .expect("upgrade");
    let hello = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("hello timed out")
        .expect("a frame")
        .expect("frame");
    assert_eq!(json_of(&hello)["op"], 1, "a JAM Hello from 127.0.0.2");

    // Closing one frees its place (once the server has seen the close:
    // retried, bounded by a count).
    second.close().await;
    let mut admitted = false;
    for _ in 0..ATTEMPTS {
        let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .expect("connect");
        let f = json_of(&ws.next().await.expect("a frame").expect("frame"));
        if f["op"] == 1 {
            admitted = true;
            break;
        }
        assert_eq!(f["d"]["code"], "RATE_LIMITED", "{f}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(admitted, "a place was freed by the close");
    first.heartbeat_ok().await;
}

/// Sends one JAM message; Ok(()) when its own copy comes back, Err(error
/// frame) when refused.
async fn jam_send(jam: &mut Jam, channel: &str, n: usize) -> Result<(), Value> {
    let r = format!("m{n}");
    jam.send(
        10,
        json!({"channel_id": channel, "content": format!("jam {n}")}),
        Some(&r),
    )
    .await;
    loop {
        let f = jam.recv().await;
        match f["op"].as_i64() {
            Some(10) if f["d"]["ref"] == r.as_str() => return Ok(()),
            Some(4) => return Err(f["d"].clone()),
            _ => {}
        }
    }
}

async fn history_len(server: &TestServer, token: &str, channel: &str) -> usize {
    let (status, page) = server
        .rest(
            "GET",
            &format!("/api/messages?channel_id={channel}&limit=100"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page.as_array().expect("a page").len()
}

#[tokio::test]
async fn one_past_the_user_rate_is_refused_in_every_dialect() {
    let server = TestServer::with_config(&format!(
        "[limits]\nuser_requests_per_second = 3\nip_requests_per_second = 0\n\n\
         [originchats.rate_limiting]\nenabled = false\n\n{NYNJA_FIXED}"
    ));
    let (reader, _) = rest_register(&server, "reader").await;

    // JAM over WebSocket: op 4 RATE_LIMITED with the wait, nothing stored.
    let mut jam = Jam::register(&server, "jam").await;
    let general = jam.lobby().general;
    let mut jam_accepted = 0;
    let mut refusal = None;
    for n in 0..ATTEMPTS {
        match jam_send(&mut jam, &general, n).await {
            Ok(()) => jam_accepted += 1,
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
    }
    let e = refusal.expect("JAM: refused within the attempts");
    assert_eq!(e["code"], "RATE_LIMITED", "{e}");
    assert_eq!(e["op"], 10, "{e}");
    assert_eq!(e["ref"], format!("m{jam_accepted}"), "{e}");
    assert!(e["retry_after_ms"].as_u64().unwrap_or(0) > 0, "{e}");
    assert_eq!(history_len(&server, &reader, &general).await, jam_accepted);

    // REST shares the user's bucket: 429 with Retry-After.
    let token = jam.token();
    let mut refused = None;
    for _ in 0..ATTEMPTS {
        let auth = format!("Bearer {token}");
        let res = http_request(
            server.http,
            "GET",
            "/api/users/@me",
            &[("Authorization", auth.as_str())],
            &[],
        )
        .await;
        if res.status == 429 {
            refused = Some(res);
            break;
        }
        assert_eq!(res.status, 200, "{}", res.text());
    }
    let res = refused.expect("REST: refused within the attempts");
    let body = res.json();
    assert_eq!(common::error_code(&body), "RATE_LIMITED", "{body}");
    assert!(
        body["error"]["retry_after_ms"].as_u64().unwrap_or(0) > 0,
        "{body}"
    );
    assert!(res.header("retry-after").is_some(), "Retry-After");

    // OriginChats: `rate_limit` with the reason and the wait, to the
    // requester with its listener.
    let mut oc = Oc::register(&server, "oc").await;
    let mut oc_accepted = 0;
    let mut refusal = None;
    for n in 0..ATTEMPTS {
        let l = format!("l{n}");
        oc.send(json!({"cmd": "message_new", "channel": "general", "content": format!("oc {n}"), "listener": l}))
            .await;
        let f = loop {
            let f = oc.recv().await;
            if f["listener"] == l.as_str() {
                break f;
            }
        };
        if f["cmd"] == "rate_limit" {
            refusal = Some(f);
            break;
        }
        assert_eq!(f["cmd"], "message_new", "{f}");
        oc_accepted += 1;
    }
    let f = refusal.expect("OriginChats: refused within the attempts");
    assert!(
        f["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("Rate limit exceeded. Wait ")),
        "{f}"
    );
    assert!(f["length"].as_u64().unwrap_or(0) > 0, "{f}");
    // Only what was accepted is stored (JAM's and OriginChats' messages
    // share the channel).
    assert_eq!(
        history_len(&server, &reader, &general).await,
        jam_accepted + oc_accepted
    );

    // chat-network: code 8 with the reason and the wait.
    let mut cn = Cn::signup(&server, "cn").await;
    let mut refusal = None;
    for _ in 0..ATTEMPTS {
        cn.send(json!({"type": "identification", "version": "1.0.0"}))
            .await;
        let f = cn.recv().await;
        if f["type"] == "error" {
            refusal = Some(f);
            break;
        }
        assert_eq!(f["type"], "identification", "{f}");
    }
    let f = refusal.expect("chat-network: refused within the attempts");
    assert_eq!(f["resp_code"], 8, "{f}");
    assert!(
        f["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("Rate limit exceeded")),
        "{f}"
    );
    assert!(f["retry_after_ms"].as_u64().unwrap_or(0) > 0, "{f}");

    // V0: ERR naming the command, and the connection stays.
    let (mut v0, _) = V0::register(&server, "vzero").await;
    let mut refusal = None;
    for _ in 0..ATTEMPTS {
        v0.send(&Inbound::LstUsr).await;
        let (cmd, p) = loop {
            let (cmd, p) = v0.recv().await;
            if cmd == "ERR" || cmd == "USR_LST" {
                break (cmd, p);
            }
        };
        if cmd == "ERR" {
            refusal = Some(common::to_json(&p));
            break;
        }
    }
    let e = refusal.expect("V0: refused within the attempts");
    assert_eq!(e["cmd"], "LST_USR", "{e}");
    assert!(
        e["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("rate limited")),
        "{e}"
    );
    v0.sync().await;

    // NYNJA: {io,{error,rate_limited},<<>>}.
    let (mut ny, _) = nynja_login(&server, "15550009").await;
    ny.recv_record("Profile").await;
    let mut refused = false;
    for _ in 0..ATTEMPTS {
        ny.send_raw(b"not a term".to_vec()).await;
        let (_, reply) = ny.recv().await;
        if reply == io_error("rate_limited") {
            refused = true;
            break;
        }
        assert_eq!(reply, io_error("invalid_data"));
    }
    assert!(refused, "NYNJA: refused within the attempts");

    let stats = server.stats().await;
    assert!(
        stats["requests_rate_limited"].as_u64().unwrap_or(0) >= 6,
        "{stats}"
    );
    // Another user is not slowed by them.
    let (status, _) = server
        .rest("GET", "/api/users/@me", Some(&reader), None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn one_past_the_address_rate_is_refused_before_login() {
    let server = TestServer::with_config(
        "[limits]\nip_requests_per_second = 3\nuser_requests_per_second = 0\n",
    );
    // REST: failed logins from one address meet 429 (brute force).
    let mut refused = None;
    for _ in 0..ATTEMPTS {
        let (status, body) = server
            .rest(
                "POST",
                "/api/auth/login",
                None,
                Some(&json!({"username": "nobody", "password": "wrong"})),
            )
            .await;
        if status == 429 {
            refused = Some(body);
            break;
        }
        assert_eq!(status, 401, "{body}");
    }
    let body = refused.expect("REST: refused within the attempts");
    assert_eq!(common::error_code(&body), "RATE_LIMITED", "{body}");

    // JAM before authentication: NOT_AUTHENTICATED until RATE_LIMITED.
    let mut jam = Jam::connect(&server, "anon").await;
    let mut code = None;
    for n in 0..ATTEMPTS {
        jam.send(
            10,
            json!({"channel_id": "1", "content": "x"}),
            Some(&format!("a{n}")),
        )
        .await;
        let f = jam.recv_op(4).await;
        if f["d"]["code"] != "NOT_AUTHENTICATED" {
            code = Some(f["d"]["code"].clone());
            break;
        }
    }
    assert_eq!(code, Some(json!("RATE_LIMITED")));

    // OriginChats before authentication: `rate_limit` instead of
    // `auth_error`.
    let mut oc = Oc::connect(&server, "anon").await;
    let mut refusal = None;
    for _ in 0..ATTEMPTS {
        oc.send(json!({"cmd": "channels_get"})).await;
        let f = oc.recv().await;
        if f["cmd"] == "rate_limit" {
            refusal = Some(f);
            break;
        }
        assert_eq!(f["cmd"], "auth_error", "{f}");
    }
    assert!(
        refusal.is_some(),
        "OriginChats: refused within the attempts"
    );

    // MQTT: a CONNECT is a login attempt; past the rate, CONNACK 3.
    let mut code = None;
    for _ in 0..ATTEMPTS {
        match Ny::try_connect(&server, "emqttd_1", Some("wrong"), true).await {
            Err(ConnectReturnCode::ServiceUnavailable) => {
                code = Some(ConnectReturnCode::ServiceUnavailable);
                break;
            }
            Err(c) => assert_eq!(c, ConnectReturnCode::BadUserNamePassword),
            Ok(_) => panic!("a wrong token was accepted"),
        }
    }
    assert_eq!(code, Some(ConnectReturnCode::ServiceUnavailable));

    // The admin endpoint is not rate limited, and the server still serves
    // once the bucket refills (bounded retries).
    let stats = server.stats().await;
    assert!(stats["requests_rate_limited"].as_u64().unwrap_or(0) >= 4);
    let mut ok = false;
    for _ in 0..ATTEMPTS {
        let (status, _) = server.rest("GET", "/api/health", None, None).await;
        if status == 200 {
            ok = true;
            break;
        }
        assert_eq!(status, 429);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "served again once the bucket refilled");
}
