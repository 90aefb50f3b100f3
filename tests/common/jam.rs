//! The JAM WebSocket client of the tests: checks that every frame's `s`
//! is one above the previous one, skips presence noise on request, and
//! has helpers for authentication, errors, heartbeats and closes.

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{TestServer, PASSWORD, TIMEOUT};

/// What a read from the socket gave.
#[derive(Debug)]
pub enum Incoming {
    Json(Value),
    Binary(Vec<u8>),
    /// A close frame: code and reason.
    Close(Option<(u16, String)>),
    /// The connection ended without (more) frames: error text, if any.
    Ended(Option<String>),
}

/// The ids a fresh user finds in op 3: the default guild "Lobby".
#[derive(Debug, Clone)]
pub struct Lobby {
    pub guild_id: String,
    pub general: String,
    pub lounge: String,
}

/// A JAM client. Every JSON frame received is checked to carry `s` one
/// above the previous one, starting at 1.
pub struct Jam {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub name: String,
    pub last_s: u64,
    pub hello: Value,
    /// `d` of op 3, `Null` before authentication.
    pub ready: Value,
}

impl Jam {
    /// Connects and reads op 1 Hello.
    pub async fn connect(server: &TestServer, name: &str) -> Jam {
        let (ws, _) =
            tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(server.ws_url()))
                .await
                .expect("ws connect timed out")
                .expect("ws connect");
        let mut jam = Jam {
            ws,
            name: name.to_string(),
            last_s: 0,
            hello: Value::Null,
            ready: Value::Null,
        };
        let hello = jam.recv().await;
        assert_eq!(hello["op"], 1, "{name}: first frame must be Hello: {hello}");
        assert_eq!(hello["s"], 1, "{name}: Hello must be s=1: {hello}");
        jam.hello = hello["d"].clone();
        jam
    }

    /// Connects and registers `username` (password [`PASSWORD`]).
    pub async fn register(server: &TestServer, username: &str) -> Jam {
        let mut jam = Jam::connect(server, username).await;
        jam.send(
            2,
            json!({"action": "register", "username": username, "password": PASSWORD}),
            None,
        )
        .await;
        jam.expect_ready().await;
        jam
    }

    /// Connects and logs in with a password.
    pub async fn login(server: &TestServer, username: &str, password: &str) -> Jam {
        let mut jam = Jam::connect(server, username).await;
        jam.send(
            2,
            json!({"action": "login", "username": username, "password": password}),
            None,
        )
        .await;
        jam.expect_ready().await;
        jam
    }

    /// Connects and resumes with a token.
    pub async fn with_token(server: &TestServer, name: &str, token: &str) -> Jam {
        let mut jam = Jam::connect(server, name).await;
        jam.send(2, json!({"token": token}), None).await;
        jam.expect_ready().await;
        jam
    }

    /// Reads op 3 and keeps its `d`.
    pub async fn expect_ready(&mut self) -> Value {
        let f = self.recv_op(3).await;
        self.ready = f["d"].clone();
        self.ready.clone()
    }

    pub fn user_id(&self) -> String {
        self.ready["user"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no user id in op 3 {}", self.name, self.ready))
            .to_string()
    }

    pub fn token(&self) -> String {
        self.ready["token"]
            .as_str()
            .expect("token in op 3")
            .to_string()
    }

    /// The default guild and its two channels, from op 3.
    pub fn lobby(&self) -> Lobby {
        let guilds = self.ready["guilds"].as_array().expect("guilds in op 3");
        let g = guilds
            .iter()
            .find(|g| g["name"] == "Lobby")
            .unwrap_or_else(|| panic!("no Lobby in op 3 guilds: {}", self.ready["guilds"]));
        let channel = |name: &str| {
            g["channels"]
                .as_array()
                .expect("channels")
                .iter()
                .find(|c| c["name"] == name)
                .and_then(|c| c["id"].as_str())
                .unwrap_or_else(|| panic!("no channel {name} in Lobby: {g}"))
                .to_string()
        };
        Lobby {
            guild_id: g["id"].as_str().expect("guild id").to_string(),
            general: channel("general"),
            lounge: channel("lounge"),
        }
    }

    /// Sends `{"op", "d", "ref"?}`.
    pub async fn send(&mut self, op: i64, d: Value, reference: Option<&str>) {
        let mut frame = json!({"op": op, "d": d});
        if let Some(r) = reference {
            frame["ref"] = json!(r);
        }
        self.send_text(frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.send_ws(Message::Text(text)).await;
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.send_ws(Message::Binary(data)).await;
    }

    async fn send_ws(&mut self, msg: Message) {
        match tokio::time::timeout(TIMEOUT, self.ws.send(msg)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{}: send failed: {e}", self.name),
            Err(_) => panic!("{}: send timed out", self.name),
        }
    }

    /// The next frame or the end of the connection. Checks `s`.
    pub async fn next_incoming(&mut self) -> Incoming {
        let got = super::read_incoming(&mut self.ws, &self.name).await;
        if let Incoming::Json(v) = &got {
            assert!(
                v["op"].is_i64(),
                "{}: frame without integer op: {v}",
                self.name
            );
            let s = v["s"]
                .as_u64()
                .unwrap_or_else(|| panic!("{}: frame without integer s: {v}", self.name));
            assert_eq!(
                s,
                self.last_s + 1,
                "{}: s must grow by 1 on every frame: {v}",
                self.name
            );
            self.last_s = s;
        }
        got
    }

    /// The next JSON frame, whatever its op.
    pub async fn recv(&mut self) -> Value {
        match self.next_incoming().await {
            Incoming::Json(v) => v,
            other => panic!("{}: expected a JSON frame, got {other:?}", self.name),
        }
    }

    /// The next frame with `op`, skipping presence updates (op 70) and, unless
    /// `op` is 0, heartbeat replies. Any other frame fails the test.
    pub async fn recv_op(&mut self, op: i64) -> Value {
        loop {
            let f = self.recv().await;
            let got = f["op"].as_i64().unwrap_or(-1);
            if got == op {
                return f;
            }
            if got == 70 || (got == 0 && op != 0) {
                continue;
            }
            panic!("{}: expected op {op}, got {f}", self.name);
        }
    }

    /// The next frame with `op`, skipping every other frame.
    pub async fn recv_until(&mut self, op: i64) -> Value {
        loop {
            let f = self.recv().await;
            if f["op"] == op {
                return f;
            }
        }
    }

    /// Reads op 4 and checks its code; returns its `d`.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let f = self.recv_op(4).await;
        assert_eq!(f["d"]["code"], code, "{}: wrong error: {f}", self.name);
        assert!(
            f["d"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}: op 4 without message: {f}",
            self.name
        );
        f["d"].clone()
    }

    /// Reads op 4 and checks code, `op` and `ref`.
    pub async fn expect_error_for(
        &mut self,
        code: &str,
        op: i64,
        reference: Option<&str>,
    ) -> Value {
        let d = self.expect_error(code).await;
        assert_eq!(
            d["op"], op,
            "{}: op 4 must name the failed op: {d}",
            self.name
        );
        match reference {
            Some(r) => assert_eq!(d["ref"], r, "{}: op 4 must carry the ref: {d}", self.name),
            None => assert!(d.get("ref").is_none(), "{}: unexpected ref: {d}", self.name),
        }
        d
    }

    /// Heartbeat round trip: op 0 must come back as exactly
    /// `{"op":0,"d":null,"s":<next>}`. Proves the connection still works.
    pub async fn heartbeat_ok(&mut self) {
        let last = self.last_s;
        self.send(0, json!(last), None).await;
        let f = self.recv_op(0).await;
        let s = f["s"].as_u64().expect("s");
        assert_eq!(
            f,
            json!({"op": 0, "d": null, "s": s}),
            "{}: heartbeat reply",
            self.name
        );
    }

    /// Sends op 10 and waits for the sender's own copy (matched by `ref`).
    pub async fn send_message(
        &mut self,
        channel_id: &str,
        content: &str,
        reference: &str,
    ) -> Value {
        self.send(
            10,
            json!({"channel_id": channel_id, "content": content}),
            Some(reference),
        )
        .await;
        let f = self.recv_op(10).await;
        assert_eq!(
            f["d"]["ref"], reference,
            "{}: own copy must carry ref: {f}",
            self.name
        );
        assert_eq!(f["d"]["content"], content, "{}: {f}", self.name);
        f["d"].clone()
    }

    /// Reads until a close frame and returns its code; fails on anything but
    /// JSON frames before it.
    pub async fn expect_close(&mut self) -> (u16, String) {
        loop {
            match self.next_incoming().await {
                Incoming::Json(v) if v["op"] == 70 || v["op"] == 0 => continue,
                Incoming::Close(Some(c)) => return c,
                other => panic!("{}: expected a close frame, got {other:?}", self.name),
            }
        }
    }

    /// After a close frame: the connection must end.
    pub async fn expect_end(&mut self) {
        loop {
            match self.next_incoming().await {
                Incoming::Ended(_) => return,
                Incoming::Close(_) => continue,
                other => panic!(
                    "{}: expected the end of the connection, got {other:?}",
                    self.name
                ),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
