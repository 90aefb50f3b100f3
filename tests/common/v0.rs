//! The V0 TCP client of the tests: signs what it sends with the account's
//! secret, checks the signature of everything it receives.

use bytes::BytesMut;
use serde_json::{json, Value};
use switchboard_protocols::v0::{self, Frame, Inbound, Payload, V0Codec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

use super::{TestServer, TIMEOUT};

/// A fresh ULID, as V0 clients make for `msg_id`.
pub fn ulid() -> String {
    ulid::Ulid::new().to_string()
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `POST /api/users/@me/v0-key` with `token`: the account's secret.
pub async fn issue_v0_key(server: &TestServer, token: &str) -> (String, [u8; 32]) {
    let (status, body) = server
        .rest("POST", "/api/users/@me/v0-key", Some(token), None)
        .await;
    assert_eq!(status, 200, "v0-key: {body}");
    let hex = body["secret"].as_str().expect("secret");
    assert_eq!(hex.len(), 64, "{body}");
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    (body["acc_id"].as_str().expect("acc_id").to_string(), key)
}

/// What a read gave.
#[derive(Debug)]
pub enum V0Incoming {
    Command(String, Payload),
    Closed,
}

pub struct V0 {
    stream: TcpStream,
    buf: BytesMut,
    pub key: [u8; 32],
    pub name: String,
    /// The user's id, for `to` and `from` fields.
    pub id: String,
}

impl V0 {
    /// Opens a TCP connection without signing in.
    pub async fn open(server: &TestServer, name: &str, key: [u8; 32]) -> V0 {
        let addr = server.v0.expect("the v0 listener was announced");
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        V0 {
            stream,
            buf: BytesMut::new(),
            key,
            name: name.to_string(),
            id: String::new(),
        }
    }

    /// Registers `name` over JAM REST, gets a V0 key, connects, sends CNN
    /// and reads SINFO and the channel statuses.
    pub async fn register(server: &TestServer, name: &str) -> (V0, String) {
        let (token, user) = super::rest_register(server, name).await;
        let (acc, key) = issue_v0_key(server, &token).await;
        assert_eq!(acc, name);
        let mut c = V0::open(server, name, key).await;
        c.id = user["id"].as_str().expect("user id").to_string();
        c.cnn().await;
        (c, token)
    }

    /// Sends CNN and reads SINFO; returns the CH_STATUS commands that follow
    /// up to the first other command (which stays unread... so callers
    /// that expect more should use `recv`).
    pub async fn cnn(&mut self) -> Payload {
        let name = self.name.clone();
        self.send(&Inbound::Cnn { id: name }).await;
        let (cmd, p) = self.recv().await;
        assert_eq!(cmd, "SINFO", "{}: {p:?}", self.name);
        p
    }

    pub fn frame(&self, name: &str, fields: Payload) -> Frame {
        v0::signed(name, fields, &self.key, unix_now())
    }

    pub async fn send(&mut self, cmd: &Inbound) {
        let f = self.frame(cmd.name(), cmd.fields());
        self.send_frame(f).await;
    }

    pub async fn send_frame(&mut self, f: Frame) {
        self.send_raw(&v0::frame::to_bytes(f)).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // A write to a socket the server closed may fail: the test then
        // learns it from the next read.
        let _ = self.stream.write_all(bytes).await;
    }

    pub async fn next(&mut self) -> V0Incoming {
        let mut codec = V0Codec {
            max_payload: 16 * 1024 * 1024,
        };
        loop {
            if let Some(f) = codec.decode(&mut self.buf).expect("server framing") {
                assert!(
                    v0::verify(&self.key, &f.payload, &f.sig),
                    "{}: {} is not signed with my key",
                    self.name,
                    f.name
                );
                let p = Payload::decode(&f.payload).expect("server payload");
                assert!(p.timestamp().is_some() && p.nonce().is_some(), "{p:?}");
                return V0Incoming::Command(f.name, p);
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout(TIMEOUT, self.stream.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("{}: nothing within the safety timeout", self.name))
                .unwrap_or(0);
            if n == 0 {
                return V0Incoming::Closed;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub async fn recv(&mut self) -> (String, Payload) {
        match self.next().await {
            V0Incoming::Command(n, p) => (n, p),
            V0Incoming::Closed => panic!("{}: connection closed", self.name),
        }
    }

    /// The next `name`, skipping presence-like noise (UCNN, UDCNN, USR_ADD,
    /// CH_STATUS); anything else fails the test.
    pub async fn recv_cmd(&mut self, name: &str) -> Value {
        loop {
            let (got, p) = self.recv().await;
            if got == name {
                return to_json(&p);
            }
            assert!(
                ["UCNN", "UDCNN", "USR_ADD", "CH_STATUS"].contains(&got.as_str()),
                "{}: expected {name}, got {got} {:?}",
                self.name,
                to_json(&p)
            );
        }
    }

    /// Reads until the server closes the connection.
    pub async fn expect_closed(&mut self) {
        loop {
            if let V0Incoming::Closed = self.next().await {
                return;
            }
        }
    }

    /// A round trip: everything sent before was handled.
    pub async fn sync(&mut self) {
        self.send(&Inbound::Info).await;
        self.recv_cmd("SINFO").await;
    }
}

/// A payload as JSON, for assertions: bin as `{"bin": [bytes]}`, and
/// `timestamp`/`nonce` left out.
pub fn to_json(p: &Payload) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in &p.0 {
        if k == "timestamp" || k == "nonce" {
            continue;
        }
        m.insert(k.clone(), value_json(v));
    }
    Value::Object(m)
}

fn value_json(v: &rmpv::Value) -> Value {
    match v {
        rmpv::Value::Nil => Value::Null,
        rmpv::Value::Boolean(b) => json!(b),
        rmpv::Value::Integer(i) => i
            .as_u64()
            .map(|u| json!(u))
            .or_else(|| i.as_i64().map(|n| json!(n)))
            .unwrap_or(Value::Null),
        rmpv::Value::String(s) => json!(s.as_str().unwrap_or_default()),
        rmpv::Value::Binary(b) => json!({ "bin": b }),
        rmpv::Value::Array(a) => Value::Array(a.iter().map(value_json).collect()),
        rmpv::Value::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), value_json(v)))
                .collect(),
        ),
        other => json!(format!("{other}")),
    }
}
