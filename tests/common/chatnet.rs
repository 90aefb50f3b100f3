//! The chat-network WebSocket client of the tests.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Incoming, TestServer, PASSWORD, TIMEOUT};

pub fn chatnet_url(server: &TestServer) -> String {
    let addr = server.chatnet.expect("the chatnet listener was announced");
    format!("ws://{addr}/")
}

pub struct Cn {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub name: String,
    /// The session token, once signed up or in.
    pub session: String,
}

impl Cn {
    pub async fn connect_url(url: &str, name: &str) -> Cn {
        let connected = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url)).await;
        let Ok(connected) = connected else {
            panic!("{name}: connect to {url} timed out")
        };
        let (ws, _) = connected.unwrap_or_else(|e| panic!("{name}: connect to {url}: {e}"));
        Cn {
            ws,
            name: name.to_string(),
            session: String::new(),
        }
    }

    pub async fn connect(server: &TestServer, name: &str) -> Cn {
        Cn::connect_url(&chatnet_url(server), name).await
    }

    /// Connects, signs up `username` (password [`PASSWORD`]) and
    /// subscribes.
    pub async fn signup(server: &TestServer, username: &str) -> Cn {
        let mut cn = Cn::connect(server, username).await;
        cn.send(
            json!({"type": "signup", "username": username, "password": PASSWORD, "hash": "sha256"}),
        )
        .await;
        let r = cn.recv().await;
        assert_eq!(
            (&r["type"], &r["resp_code"]),
            (&json!("signup"), &json!(0)),
            "{username}: {r}"
        );
        cn.session = r["session"].as_str().expect("session").to_string();
        cn.subscribe().await;
        cn
    }

    /// Connects, signs in and subscribes.
    pub async fn signin(server: &TestServer, username: &str) -> Cn {
        let mut cn = Cn::connect(server, username).await;
        cn.send(json!({"type": "signin", "username": username, "password": PASSWORD}))
            .await;
        let r = cn.recv().await;
        assert_eq!(r["resp_code"], 0, "{username}: {r}");
        cn.session = r["session"].as_str().expect("session").to_string();
        cn.subscribe().await;
        cn
    }

    pub async fn subscribe(&mut self) {
        let session = self.session.clone();
        self.send(json!({"type": "subscribe", "session": session}))
            .await;
        let r = self.recv().await;
        assert_eq!(
            r,
            json!({"type": "subscribe", "resp_code": 0}),
            "{}",
            self.name
        );
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::Text(text))
            .await
            .unwrap_or_else(|e| panic!("{}: send: {e}", self.name));
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.ws
            .send(Message::Binary(data))
            .await
            .unwrap_or_else(|e| panic!("{}: send: {e}", self.name));
    }

    /// Sends a relayed request with this client's session.
    pub async fn relay(&mut self, kind: &str, dest: &str, fields: Value) {
        let mut v = fields;
        v["type"] = json!(kind);
        v["session"] = json!(self.session);
        v["source"] = json!(self.name);
        v["dest"] = json!(dest);
        self.send(v).await;
    }

    pub async fn next_incoming(&mut self) -> Incoming {
        let got = super::read_incoming(&mut self.ws, &self.name).await;
        if let Incoming::Json(v) = &got {
            assert!(
                v["type"].is_string(),
                "{}: frame without a string type: {v}",
                self.name
            );
        }
        got
    }

    /// The next JSON frame.
    pub async fn recv(&mut self) -> Value {
        match self.next_incoming().await {
            Incoming::Json(v) => v,
            other => panic!("{}: expected a JSON frame, got {other:?}", self.name),
        }
    }

    /// The next frame of `kind`, skipping `status` events.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let f = self.recv().await;
            if f["type"] == kind {
                return f;
            }
            if f["type"] == "status" {
                continue;
            }
            panic!("{}: expected {kind}, got {f}", self.name);
        }
    }

    /// Reads until the connection ends (after a close frame, if any).
    pub async fn expect_end(&mut self) {
        loop {
            match self.next_incoming().await {
                Incoming::Ended(_) => return,
                Incoming::Close(_) => continue,
                other => panic!("{}: expected the end, got {other:?}", self.name),
            }
        }
    }

    /// Reads until a close frame (skipping JSON frames before it) and
    /// returns its code.
    pub async fn expect_close_code(&mut self) -> Option<u16> {
        loop {
            match self.next_incoming().await {
                Incoming::Json(_) => continue,
                Incoming::Close(close) => return close.map(|c| c.0),
                other => panic!("{}: expected a close frame, got {other:?}", self.name),
            }
        }
    }

    /// A round trip that proves everything sent before it was handled.
    pub async fn sync(&mut self) {
        self.send(json!({"type": "protocol.standard", "standards": "ciphers,hashes"}))
            .await;
        self.recv_type("protocol.standard").await;
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(TIMEOUT, self.ws.next()).await {}
    }
}
