//! A small JAM client (profile v0.1, `shared/protocols/jam.md`): REST
//! ([`Http`]), the WebSocket ([`JamSocket`]), and the client side of the
//! end-to-end encryption ([`crypto`]). [`JamClient`] bundles them for one
//! user.
//!
//! ```no_run
//! # async fn demo() -> switchboard_client::Result<()> {
//! use switchboard_client::crypto::{ChannelKey, Identity};
//! use switchboard_client::JamClient;
//!
//! let mut alice = JamClient::register("127.0.0.1:8080", "alice", "secret pw").await?;
//! let me = Identity::from_password("alice", "secret pw")?;
//! alice.publish_public_key(&me).await?;
//! // → POST /api/guilds {"name":"Home","owner_id":"5","description":""}   ← 201 Guild
//! let guild = alice.create_guild("Home", "").await?;
//! let guild_id = guild["id"].as_str().unwrap_or_default();
//! // → POST /api/channels {"guild_id":"..","name":"secret","type":"text","encrypted":true}
//! let channel = alice.create_channel(guild_id, "secret", "text", true).await?;
//! let channel_id = channel["id"].as_str().unwrap_or_default();
//! let key = ChannelKey::generate();
//! alice.share_channel_key(channel_id, &key, &[(alice.user_id().to_string(), me.public_key())]).await?;
//! alice.connect().await?;
//! if let Some(socket) = alice.socket() {
//!     socket.send_encrypted(&key, channel_id, b"hello", "c-1").await?;
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod chatnet;
pub mod crypto;
pub mod error;
pub mod http;
pub mod ws;

use std::time::Duration;

use serde_json::{json, Value};

pub use crate::crypto::{ChannelKey, Envelope, Identity};
pub use crate::error::{Error, Result};
pub use crate::http::{Http, Response};
pub use crate::ws::{Frame, Incoming, JamSocket};

/// One user's session: REST with their token, and optionally a socket.
/// `Debug` leaves the token out.
pub struct JamClient {
    /// REST to the server.
    pub http: Http,
    /// The bearer token.
    pub token: String,
    /// The User object the auth route returned.
    pub user: Value,
    socket: Option<JamSocket>,
}

impl std::fmt::Debug for JamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JamClient")
            .field("http", &self.http)
            .field("user_id", &self.user_id())
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// `Ok(body)` for a 2xx status, else [`Error::Api`].
fn success((status, body): (u16, Value)) -> Result<Value> {
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(Error::Api { status, body })
    }
}

/// Characters left as they are in a query value; the rest is %-encoded.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl JamClient {
    /// `POST /api/auth/register {username, password}` → `{token, user}`.
    pub async fn register(
        addr: impl std::fmt::Display,
        username: &str,
        password: &str,
    ) -> Result<JamClient> {
        JamClient::auth(Http::new(addr), "register", username, password).await
    }

    /// `POST /api/auth/login {username, password}` → `{token, user}`.
    pub async fn login(
        addr: impl std::fmt::Display,
        username: &str,
        password: &str,
    ) -> Result<JamClient> {
        JamClient::auth(Http::new(addr), "login", username, password).await
    }

    async fn auth(http: Http, route: &str, username: &str, password: &str) -> Result<JamClient> {
        let body = json!({"username": username, "password": password});
        let path = format!("/api/auth/{route}");
        let reply = success(http.request("POST", &path, None, Some(&body)).await?)?;
        let token = reply["token"]
            .as_str()
            .ok_or_else(|| Error::Protocol(format!("{path} without a token: {reply}")))?;
        Ok(JamClient {
            token: token.to_string(),
            user: reply["user"].clone(),
            socket: None,
            http,
        })
    }

    /// A client for a token obtained elsewhere (`user` may be `Null`; see
    /// [`JamClient::me`]).
    pub fn from_token(addr: impl std::fmt::Display, token: &str, user: Value) -> JamClient {
        JamClient {
            http: Http::new(addr),
            token: token.to_string(),
            user,
            socket: None,
        }
    }

    /// Changes the REST timeout (`None`: none).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.http = self.http.clone().with_timeout(timeout);
    }

    /// The user's id (empty when unknown).
    pub fn user_id(&self) -> &str {
        self.user["id"].as_str().unwrap_or_default()
    }

    /// Opens the WebSocket and authenticates with the token; returns op 3's
    /// `d`. The socket is then [`JamClient::socket`].
    pub async fn connect(&mut self) -> Result<Value> {
        let (mut socket, _hello) = JamSocket::connect(self.http.addr()).await?;
        let ready = socket.token(&self.token).await?;
        self.socket = Some(socket);
        Ok(ready)
    }

    /// The socket opened by [`JamClient::connect`].
    pub fn socket(&mut self) -> Option<&mut JamSocket> {
        self.socket.as_mut()
    }

    /// Takes the socket out of the client.
    pub fn take_socket(&mut self) -> Option<JamSocket> {
        self.socket.take()
    }

    /// Any REST call with the token: status and JSON body, whatever the
    /// status.
    pub async fn rest(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        self.http
            .request(method, path, Some(&self.token), body)
            .await
    }

    /// A REST call whose status must be 2xx ([`Error::Api`] otherwise).
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        success(self.rest(method, path, body).await?)
    }

    /// `GET /api/users/@me`; refreshes [`JamClient::user`].
    pub async fn me(&mut self) -> Result<Value> {
        self.user = self.call("GET", "/api/users/@me", None).await?;
        Ok(self.user.clone())
    }

    /// `GET /api/users/<id>` → User (with `public_key` when published).
    pub async fn user(&self, user_id: &str) -> Result<Value> {
        self.call("GET", &format!("/api/users/{user_id}"), None)
            .await
    }

    /// `PATCH /api/users/@me {"public_key":"<base64 of 32 bytes>"}` → User.
    pub async fn publish_public_key(&mut self, identity: &Identity) -> Result<Value> {
        let body = json!({"public_key": identity.public_key_b64()});
        self.user = self.call("PATCH", "/api/users/@me", Some(&body)).await?;
        Ok(self.user.clone())
    }

    /// A user's published X25519 key, `None` when they have none.
    pub async fn public_key_of(&self, user_id: &str) -> Result<Option<[u8; 32]>> {
        match self.user(user_id).await?["public_key"].as_str() {
            Some(k) => crypto::parse_public_key(k).map(Some),
            None => Ok(None),
        }
    }

    /// `POST /api/guilds {name, owner_id, description}` → 201 Guild (with
    /// its `general` and `lounge` channels).
    pub async fn create_guild(&self, name: &str, description: &str) -> Result<Value> {
        let body = json!({"name": name, "owner_id": self.user_id(), "description": description});
        self.call("POST", "/api/guilds", Some(&body)).await
    }

    /// `GET /api/guilds/<id>` → Guild with channels, roles, categories.
    pub async fn guild(&self, guild_id: &str) -> Result<Value> {
        self.call("GET", &format!("/api/guilds/{guild_id}"), None)
            .await
    }

    /// `POST /api/guilds/<id>/invites` → the invite code.
    pub async fn create_invite(&self, guild_id: &str) -> Result<String> {
        let reply = self
            .call("POST", &format!("/api/guilds/{guild_id}/invites"), None)
            .await?;
        reply["code"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Protocol(format!("invite without a code: {reply}")))
    }

    /// `POST /api/invites/<code>`: joins that guild.
    pub async fn join(&self, code: &str) -> Result<Value> {
        self.call(
            "POST",
            &format!("/api/invites/{}", query_escape(code)),
            None,
        )
        .await
    }

    /// `POST /api/channels {guild_id, name, type, encrypted}` → 201 Channel.
    /// `kind`: `"text"`, `"voice"`, `"forum"` or `"category"`.
    pub async fn create_channel(
        &self,
        guild_id: &str,
        name: &str,
        kind: &str,
        encrypted: bool,
    ) -> Result<Value> {
        let body =
            json!({"guild_id": guild_id, "name": name, "type": kind, "encrypted": encrypted});
        self.call("POST", "/api/channels", Some(&body)).await
    }

    /// `POST /api/messages {channel_id, content}` → 201 Message.
    pub async fn send_message(&self, channel_id: &str, content: &str) -> Result<Value> {
        let body = json!({"channel_id": channel_id, "content": content});
        self.call("POST", "/api/messages", Some(&body)).await
    }

    /// Encrypts `plaintext` with the channel key and sends
    /// `POST /api/messages {channel_id, content, encrypted: true, nonce}`.
    pub async fn send_encrypted_message(
        &self,
        key: &ChannelKey,
        channel_id: &str,
        plaintext: &[u8],
    ) -> Result<Value> {
        let (content, nonce) = crypto::encrypt_message(key, channel_id, plaintext)?;
        let body = json!({
            "channel_id": channel_id,
            "content": content,
            "encrypted": true,
            "nonce": nonce,
        });
        self.call("POST", "/api/messages", Some(&body)).await
    }

    /// `GET /api/messages?channel_id=&limit=&before=`: a page, newest first.
    pub async fn history(
        &self,
        channel_id: &str,
        limit: Option<u32>,
        before: Option<&str>,
    ) -> Result<Vec<Value>> {
        let mut path = format!("/api/messages?channel_id={}", query_escape(channel_id));
        if let Some(l) = limit {
            path.push_str(&format!("&limit={l}"));
        }
        if let Some(b) = before {
            path.push_str(&format!("&before={}", query_escape(b)));
        }
        match self.call("GET", &path, None).await? {
            Value::Array(items) => Ok(items),
            other => Err(Error::Protocol(format!("history is not an array: {other}"))),
        }
    }

    /// `POST /api/upload`, multipart/form-data with the field `file` →
    /// 201 File `{id, filename, size, content_type, sha256, url}`.
    pub async fn upload(&self, filename: &str, content_type: &str, data: &[u8]) -> Result<Value> {
        let (body, ct) = http::multipart_file("file", filename, content_type, data);
        let res = self
            .http
            .request_raw(
                "POST",
                "/api/upload",
                Some(&self.token),
                &[("Content-Type", &ct)],
                body,
            )
            .await?;
        success((res.status, res.json()))
    }

    /// `GET /api/files/<id>`: the original bytes, with `Content-Type`,
    /// `ETag` (the SHA-256) and `Content-Length` in the headers. A status
    /// other than 2xx is [`Error::Api`].
    pub async fn download(&self, file_id: &str) -> Result<Response> {
        let res = self
            .http
            .request_raw(
                "GET",
                &format!("/api/files/{file_id}"),
                Some(&self.token),
                &[],
                Vec::new(),
            )
            .await?;
        if res.is_success() {
            Ok(res)
        } else {
            Err(Error::Api {
                status: res.status,
                body: res.json(),
            })
        }
    }

    /// `PUT /api/channels/<id>/keys {"envelopes":[Envelope, ...]}` → 204.
    pub async fn put_key_envelopes(&self, channel_id: &str, envelopes: &[Envelope]) -> Result<()> {
        let list: Vec<Value> = envelopes.iter().map(Envelope::to_json).collect();
        let body = json!({ "envelopes": list });
        self.call(
            "PUT",
            &format!("/api/channels/{channel_id}/keys"),
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// `GET /api/channels/<id>/keys/@me` → this user's envelope.
    pub async fn key_envelope(&self, channel_id: &str) -> Result<Envelope> {
        let v = self
            .call("GET", &format!("/api/channels/{channel_id}/keys/@me"), None)
            .await?;
        Envelope::from_json(&v)
    }

    /// Fetches this user's envelope and opens it with `identity`.
    pub async fn fetch_channel_key(
        &self,
        identity: &Identity,
        channel_id: &str,
    ) -> Result<ChannelKey> {
        let envelope = self.key_envelope(channel_id).await?;
        crypto::unwrap_envelope(identity, channel_id, &envelope)
    }

    /// Wraps `key` for each `(user id, X25519 public key)` and PUTs the
    /// envelopes; returns them.
    pub async fn share_channel_key(
        &self,
        channel_id: &str,
        key: &ChannelKey,
        members: &[(String, [u8; 32])],
    ) -> Result<Vec<Envelope>> {
        let envelopes = members
            .iter()
            .map(|(id, public)| crypto::wrap_channel_key(key, channel_id, id, public))
            .collect::<Result<Vec<_>>>()?;
        self.put_key_envelopes(channel_id, &envelopes).await?;
        Ok(envelopes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_status() {
        assert_eq!(query_escape("12 a&b=c/é"), "12%20a%26b%3Dc%2F%C3%A9");
        assert!(success((204, Value::Null)).is_ok());
        let e = success((404, json!({"error": {"code": "NOT_FOUND", "message": "x"}})));
        let e = e.unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(404), Some("NOT_FOUND")));
    }
}
