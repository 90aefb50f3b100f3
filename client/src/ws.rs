//! The JAM WebSocket (`/ws`, profile §1): `{"op","d","s"}` text frames,
//! with every server frame's `s` checked to be one above the previous one,
//! starting at 1.
//!
//! ```no_run
//! # async fn demo() -> switchboard_client::Result<()> {
//! use serde_json::json;
//! use switchboard_client::JamSocket;
//!
//! // S: {"op":1,"d":{"heartbeat_interval":41250,"server":{...},"protocol":"jam/0.1"},"s":1}
//! let (mut socket, hello) = JamSocket::connect("127.0.0.1:8080").await?;
//! // C: {"op":2,"d":{"action":"login","username":"alice","password":"..."}}
//! // S: {"op":3,"d":{"token":"...","user":{...},"guilds":[...],...},"s":2}
//! let ready = socket.login("alice", "secret").await?;
//! // C: {"op":10,"d":{"channel_id":"42","content":"hello"},"ref":"c-1"}
//! // S: {"op":10,"d":{"id":"...","content":"hello",...,"ref":"c-1"},"s":3}
//! socket.send(10, json!({"channel_id": "42", "content": "hello"}), Some("c-1")).await?;
//! let mine = socket.recv_op(10).await?;
//! assert_eq!(mine.reference(), Some("c-1"));
//! # let _ = (hello, ready); Ok(()) }
//! ```

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::crypto::{self, ChannelKey};
use crate::error::{Error, Result};
use crate::http::DEFAULT_TIMEOUT;

/// Op 0 Heartbeat.
pub const OP_HEARTBEAT: i64 = 0;
/// Op 1 Hello.
pub const OP_HELLO: i64 = 1;
/// Op 2 Authenticate.
pub const OP_AUTHENTICATE: i64 = 2;
/// Op 3 Authenticated.
pub const OP_AUTHENTICATED: i64 = 3;
/// Op 4 Error.
pub const OP_ERROR: i64 = 4;
/// Op 10 MessageCreate.
pub const OP_MESSAGE_CREATE: i64 = 10;
/// Op 70 UserPresence.
pub const OP_PRESENCE: i64 = 70;

/// One JSON frame from the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// `op`.
    pub op: i64,
    /// `d` (`Null` when absent).
    pub d: Value,
    /// `s`, already checked to follow the previous frame's.
    pub s: u64,
    /// The whole frame as received.
    pub raw: Value,
}

impl Frame {
    /// The client `ref` the server echoed inside `d`, if any.
    pub fn reference(&self) -> Option<&str> {
        self.d.get("ref").and_then(Value::as_str)
    }

    /// `d.code` of an op 4 Error.
    pub fn error_code(&self) -> Option<&str> {
        (self.op == OP_ERROR)
            .then(|| self.d["code"].as_str())
            .flatten()
    }
}

/// What one read from the socket gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A JSON text frame.
    Frame(Frame),
    /// A binary frame (JAM servers send none).
    Binary(Vec<u8>),
    /// A close frame: its code and reason, when it had them.
    Close(Option<(u16, String)>),
    /// The connection ended: the transport's error text, if any.
    Ended(Option<String>),
}

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A JAM WebSocket connection.
pub struct JamSocket {
    ws: Stream,
    last_s: u64,
    timeout: Option<Duration>,
    hello: Value,
    ready: Value,
}

impl std::fmt::Debug for JamSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JamSocket")
            .field("last_s", &self.last_s)
            .field("timeout", &self.timeout)
            .field("user_id", &self.user_id())
            .finish_non_exhaustive()
    }
}

/// The WebSocket URL for `addr`: `host:port` becomes `ws://host:port/ws`;
/// a `ws://` or `wss://` URL is kept as it is.
fn ws_url(addr: &str) -> String {
    if addr.starts_with("ws://") || addr.starts_with("wss://") {
        return addr.to_string();
    }
    let host = addr.strip_prefix("http://").unwrap_or(addr);
    format!("ws://{}/ws", host.trim_end_matches('/'))
}

impl JamSocket {
    /// Connects to `addr` (`host:port` or a `ws://` URL) and reads op 1
    /// Hello, which must be the frame with `s` = 1; returns the socket and
    /// Hello's `d`. Waits at most [`DEFAULT_TIMEOUT`] for anything.
    pub async fn connect(addr: impl std::fmt::Display) -> Result<(JamSocket, Value)> {
        JamSocket::connect_with_timeout(addr, Some(DEFAULT_TIMEOUT)).await
    }

    /// [`JamSocket::connect`] with another timeout for every later wait as
    /// well (`None`: wait for ever, as a long-lived client does).
    pub async fn connect_with_timeout(
        addr: impl std::fmt::Display,
        timeout: Option<Duration>,
    ) -> Result<(JamSocket, Value)> {
        let url = ws_url(&addr.to_string());
        let connecting = tokio_tungstenite::connect_async(url.as_str());
        let (ws, _) = match timeout {
            Some(t) => tokio::time::timeout(t, connecting)
                .await
                .map_err(|_| Error::Timeout(format!("connecting to {url}")))??,
            None => connecting.await?,
        };
        let mut socket = JamSocket {
            ws,
            last_s: 0,
            timeout,
            hello: Value::Null,
            ready: Value::Null,
        };
        let hello = socket.recv().await?;
        if hello.op != OP_HELLO {
            return Err(Error::UnexpectedFrame {
                expected: OP_HELLO,
                frame: hello.raw,
            });
        }
        socket.hello = hello.d.clone();
        Ok((socket, hello.d))
    }

    /// Changes the timeout of every later send and receive.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The `s` of the last frame received (0 before any).
    pub fn last_s(&self) -> u64 {
        self.last_s
    }

    /// `d` of op 1 Hello.
    pub fn hello(&self) -> &Value {
        &self.hello
    }

    /// `d` of op 3 Authenticated, `Null` before authentication.
    pub fn ready(&self) -> &Value {
        &self.ready
    }

    /// The authenticated user's id, from op 3.
    pub fn user_id(&self) -> Option<&str> {
        self.ready["user"]["id"].as_str()
    }

    /// The session token, from op 3.
    pub fn session_token(&self) -> Option<&str> {
        self.ready["token"].as_str()
    }

    /// Sends `{"op": op, "d": d, "ref"?: reference}`.
    pub async fn send(&mut self, op: i64, d: Value, reference: Option<&str>) -> Result<()> {
        let mut frame = json!({"op": op, "d": d});
        if let Some(r) = reference {
            frame["ref"] = json!(r);
        }
        self.send_text(frame.to_string()).await
    }

    /// Sends any text frame, valid JSON or not.
    pub async fn send_text(&mut self, text: String) -> Result<()> {
        self.send_ws(Message::Text(text)).await
    }

    /// Sends a binary frame (which a JAM server refuses with `DECODE_ERROR`).
    pub async fn send_binary(&mut self, data: Vec<u8>) -> Result<()> {
        self.send_ws(Message::Binary(data)).await
    }

    async fn send_ws(&mut self, msg: Message) -> Result<()> {
        match self.timeout {
            Some(t) => tokio::time::timeout(t, self.ws.send(msg))
                .await
                .map_err(|_| Error::Timeout("sending a frame".into()))??,
            None => self.ws.send(msg).await?,
        }
        Ok(())
    }

    /// The next frame or the end of the connection. A text frame must be a
    /// JSON object with an integer `op` and an `s` one above the previous
    /// frame's; anything else is [`Error::Protocol`].
    pub async fn next_incoming(&mut self) -> Result<Incoming> {
        loop {
            let item = match self.timeout {
                Some(t) => tokio::time::timeout(t, self.ws.next()).await.map_err(|_| {
                    Error::Timeout(format!("nothing received after s={}", self.last_s))
                })?,
                None => self.ws.next().await,
            };
            let msg = match item {
                None => return Ok(Incoming::Ended(None)),
                Some(Err(e)) => return Ok(Incoming::Ended(Some(e.to_string()))),
                Some(Ok(m)) => m,
            };
            return match msg {
                Message::Text(t) => self.check_frame(&t).map(Incoming::Frame),
                Message::Binary(b) => Ok(Incoming::Binary(b)),
                Message::Close(f) => Ok(Incoming::Close(
                    f.map(|f| (u16::from(f.code), f.reason.into_owned())),
                )),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
        }
    }

    fn check_frame(&mut self, text: &str) -> Result<Frame> {
        let raw: Value = serde_json::from_str(text)
            .map_err(|e| Error::Protocol(format!("invalid JSON ({e}): {text}")))?;
        let op = raw["op"]
            .as_i64()
            .ok_or_else(|| Error::Protocol(format!("frame without an integer op: {raw}")))?;
        let s = raw["s"]
            .as_u64()
            .ok_or_else(|| Error::Protocol(format!("frame without an integer s: {raw}")))?;
        if Some(s) != self.last_s.checked_add(1) {
            return Err(Error::Protocol(format!(
                "s must grow by 1 on every frame: expected {}, got {raw}",
                self.last_s.saturating_add(1)
            )));
        }
        self.last_s = s;
        Ok(Frame {
            op,
            d: raw.get("d").cloned().unwrap_or(Value::Null),
            s,
            raw,
        })
    }

    /// The next JSON frame, whatever its op. A close, the end of the
    /// connection or a binary frame is an error.
    pub async fn recv(&mut self) -> Result<Frame> {
        match self.next_incoming().await? {
            Incoming::Frame(f) => Ok(f),
            Incoming::Close(c) => Err(Error::Closed(c)),
            Incoming::Ended(_) => Err(Error::Closed(None)),
            Incoming::Binary(b) => Err(Error::Protocol(format!(
                "unexpected binary frame of {} bytes",
                b.len()
            ))),
        }
    }

    /// The next frame with `op`, skipping presence updates (op 70) and,
    /// unless `op` is 0, heartbeat replies. An op 4 while waiting for
    /// another op is [`Error::Jam`]; any other frame is
    /// [`Error::UnexpectedFrame`].
    pub async fn recv_op(&mut self, op: i64) -> Result<Frame> {
        loop {
            let f = self.recv().await?;
            if f.op == op {
                return Ok(f);
            }
            if f.op == OP_PRESENCE || (f.op == OP_HEARTBEAT && op != OP_HEARTBEAT) {
                continue;
            }
            if f.op == OP_ERROR {
                return Err(jam_error(f.d));
            }
            return Err(Error::UnexpectedFrame {
                expected: op,
                frame: f.raw,
            });
        }
    }

    /// The next frame with `op`, skipping every other frame.
    pub async fn recv_until(&mut self, op: i64) -> Result<Frame> {
        loop {
            let f = self.recv().await?;
            if f.op == op {
                return Ok(f);
            }
        }
    }

    /// Sends op 2 with `d` and waits for op 3 Authenticated, whose `d` is
    /// kept (see [`JamSocket::ready`]) and returned. An op 4 (`AUTH_FAILED`,
    /// say) is [`Error::Jam`].
    pub async fn authenticate(&mut self, d: Value) -> Result<Value> {
        self.send(OP_AUTHENTICATE, d, None).await?;
        let f = self.recv_op(OP_AUTHENTICATED).await?;
        self.ready = f.d.clone();
        Ok(f.d)
    }

    /// `{"action":"register","username","password"}`; returns op 3's `d`.
    pub async fn register(&mut self, username: &str, password: &str) -> Result<Value> {
        self.authenticate(json!({"action": "register", "username": username, "password": password}))
            .await
    }

    /// `{"action":"login","username","password"}`; returns op 3's `d`.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<Value> {
        self.authenticate(json!({"action": "login", "username": username, "password": password}))
            .await
    }

    /// `{"token":"..."}`: resumes with a token from op 3 or the REST auth
    /// routes; returns op 3's `d`.
    pub async fn token(&mut self, token: &str) -> Result<Value> {
        self.authenticate(json!({ "token": token })).await
    }

    /// Sends op 0 with the last `s` received and waits for the reply
    /// `{"op":0,"d":null,"s":<next>}`.
    pub async fn heartbeat(&mut self) -> Result<Frame> {
        self.send(OP_HEARTBEAT, json!(self.last_s), None).await?;
        self.recv_op(OP_HEARTBEAT).await
    }

    /// Sends op 10 `{"channel_id","content"}` with `reference` and waits for
    /// the sender's own copy (the next op 10 carrying that `ref`), skipping
    /// other events; an op 4 carrying the `ref` is [`Error::Jam`].
    pub async fn send_message(
        &mut self,
        channel_id: &str,
        content: &str,
        reference: &str,
    ) -> Result<Value> {
        let d = json!({"channel_id": channel_id, "content": content});
        self.send_and_confirm(d, reference).await
    }

    /// Encrypts `plaintext` with the channel key (profile §3) and sends op 10
    /// `{"channel_id","content","encrypted":true,"nonce"}`; returns the
    /// sender's own copy as [`JamSocket::send_message`] does.
    pub async fn send_encrypted(
        &mut self,
        key: &ChannelKey,
        channel_id: &str,
        plaintext: &[u8],
        reference: &str,
    ) -> Result<Value> {
        let (content, nonce) = crypto::encrypt_message(key, channel_id, plaintext)?;
        let d = json!({
            "channel_id": channel_id,
            "content": content,
            "encrypted": true,
            "nonce": nonce,
        });
        self.send_and_confirm(d, reference).await
    }

    async fn send_and_confirm(&mut self, d: Value, reference: &str) -> Result<Value> {
        self.send(OP_MESSAGE_CREATE, d, Some(reference)).await?;
        loop {
            let f = self.recv().await?;
            if f.reference() != Some(reference) {
                continue;
            }
            match f.op {
                OP_MESSAGE_CREATE => return Ok(f.d),
                OP_ERROR => return Err(jam_error(f.d)),
                _ => {
                    return Err(Error::UnexpectedFrame {
                        expected: OP_MESSAGE_CREATE,
                        frame: f.raw,
                    })
                }
            }
        }
    }

    /// Sends a close frame with `code` and `reason` and waits (within the
    /// timeout) for the server's close.
    pub async fn close_with(mut self, code: u16, reason: &str) -> Result<()> {
        use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_string().into(),
        };
        let closing = self.ws.close(Some(frame));
        match self.timeout {
            Some(t) => {
                let _ = tokio::time::timeout(t, closing).await;
            }
            None => {
                let _ = closing.await;
            }
        }
        Ok(())
    }

    /// Closes normally (1000).
    pub async fn close(self) -> Result<()> {
        self.close_with(1000, "").await
    }
}

/// Op 4's `d` as an [`Error::Jam`].
pub(crate) fn jam_error(d: Value) -> Error {
    Error::Jam {
        code: d["code"].as_str().unwrap_or_default().to_string(),
        message: d["message"].as_str().unwrap_or_default().to_string(),
        d,
    }
}

#[cfg(test)]
mod tests;
