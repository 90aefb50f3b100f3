//! The OriginChats client of the tests: connects to the root path of the
//! OriginChats listener (or a mount on the main port), reads the handshake,
//! authenticates, and reads frames with a small, explicit list of presence
//! broadcasts that may be skipped.
//!
//! There are no timed assertions: to prove that something was *not*
//! delivered, send a later marker and check that it is the next frame.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Incoming, TestServer, PASSWORD, TIMEOUT};

/// Broadcasts that [`Oc::recv_cmd`] skips when they are not what was asked
/// for: the server heartbeat, presence noise caused by other clients, and
/// the read-state sync `messages_get` triggers, and `roles_list` pushes
/// after role changes.
pub const SKIPPED: &[&str] = &[
    "ping",
    "user_join",
    "user_connect",
    "user_disconnect",
    "status_get",
    "unreads_update",
    "roles_list",
];

/// The 20 role permission names of the handshake (reference §3).
pub const PERMISSION_NAMES: &[&str] = &[
    "administrator",
    "manage_server",
    "view_audit_log",
    "manage_roles",
    "manage_channels",
    "manage_threads",
    "manage_users",
    "manage_messages",
    "read_message_history",
    "send_messages",
    "embed_links",
    "attach_files",
    "add_reactions",
    "external_emojis",
    "connect",
    "speak",
    "stream",
    "use_voice_activity",
    "mention_everyone",
    "use_slash_commands",
];

/// The commands of this slice that must be listed in `capabilities`.
pub const SLICE_COMMANDS: &[&str] = &[
    "channels_get",
    "message_delete",
    "message_edit",
    "message_get",
    "message_new",
    "message_pin",
    "message_react_add",
    "message_react_remove",
    "message_replies",
    "message_unpin",
    "messages_around",
    "messages_get",
    "messages_pinned",
    "messages_search",
    "ping",
    "server_info",
    "status_get",
    "status_set",
    "typing",
    "users_list",
    "users_online",
    "voice_join",
    "voice_leave",
    "voice_mute",
    "voice_state",
    "voice_unmute",
];

/// `ws://<originchats>/`: the root path of the OriginChats listener.
pub fn oc_url(server: &TestServer) -> String {
    let addr = server.originchats.unwrap_or_else(|| {
        panic!("the server did not announce `listening originchats ADDR` (no OriginChats listener)")
    });
    format!("ws://{addr}/")
}

/// `ws://<http>/originchats`: the default guild on the main port.
pub fn oc_main_url(server: &TestServer) -> String {
    format!("ws://{}/originchats", server.http)
}

/// `ws://<http>/originchats/<guild id>`: one guild on the main port.
pub fn oc_guild_url(server: &TestServer, guild_id: &str) -> String {
    format!("ws://{}/originchats/{guild_id}", server.http)
}

/// An OriginChats client.
pub struct Oc {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub name: String,
    /// `val` of the handshake.
    pub handshake: Value,
    /// The `ready` packet, `Null` before authentication.
    pub ready: Value,
}

impl Oc {
    /// Connects to `url` and reads the handshake.
    pub async fn connect_url(url: &str, name: &str) -> Oc {
        let connected = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url)).await;
        let Ok(connected) = connected else {
            panic!("{name}: connect to {url} timed out")
        };
        let (ws, _) = connected.unwrap_or_else(|e| panic!("{name}: connect to {url}: {e}"));
        let mut oc = Oc {
            ws,
            name: name.to_string(),
            handshake: Value::Null,
            ready: Value::Null,
        };
        let first = oc.recv().await;
        assert_eq!(
            first["cmd"], "handshake",
            "{name}: the first frame must be the handshake: {first}"
        );
        assert!(
            first["val"].is_object(),
            "{name}: handshake without val: {first}"
        );
        oc.handshake = first["val"].clone();
        oc
    }

    /// Connects to the root path of the OriginChats listener.
    pub async fn connect(server: &TestServer, name: &str) -> Oc {
        Oc::connect_url(&oc_url(server), name).await
    }

    /// Connects to `url` and registers `username` (password [`PASSWORD`]).
    pub async fn register_at(url: &str, username: &str) -> Oc {
        let mut oc = Oc::connect_url(url, username).await;
        oc.send(json!({"cmd": "register", "username": username, "password": PASSWORD}))
            .await;
        oc.expect_ready(username).await;
        oc
    }

    /// Registers `username` on the root path of the OriginChats listener.
    pub async fn register(server: &TestServer, username: &str) -> Oc {
        Oc::register_at(&oc_url(server), username).await
    }

    /// Connects to `url` and logs in with a password.
    pub async fn login_at(url: &str, username: &str, password: &str) -> Oc {
        let mut oc = Oc::connect_url(url, username).await;
        oc.send(json!({"cmd": "login", "username": username, "password": password}))
            .await;
        oc.expect_ready(username).await;
        oc
    }

    /// Logs in on the root path of the OriginChats listener.
    pub async fn login(server: &TestServer, username: &str, password: &str) -> Oc {
        Oc::login_at(&oc_url(server), username, password).await
    }

    /// Connects to `url` and authenticates with a Switchboard session token
    /// as the validator; `username` is the account the token belongs to.
    pub async fn with_token_at(url: &str, username: &str, token: &str) -> Oc {
        let mut oc = Oc::connect_url(url, username).await;
        oc.send(json!({"cmd": "auth", "validator": token})).await;
        oc.expect_ready(username).await;
        oc
    }

    /// Reads `auth_success` then `ready` (checking the username) and keeps
    /// `ready`.
    pub async fn expect_ready(&mut self, username: &str) -> Value {
        let ok = self.recv_cmd("auth_success").await;
        assert_eq!(
            ok,
            json!({"cmd": "auth_success", "val": "Authentication successful"}),
            "{}: auth_success",
            self.name
        );
        let ready = self.recv_cmd("ready").await;
        assert_eq!(
            ready["user"]["username"], username,
            "{}: ready names the wrong user: {ready}",
            self.name
        );
        self.ready = ready.clone();
        ready
    }

    /// Reads an `auth_error` and checks its `val`; it never carries a
    /// listener.
    pub async fn expect_auth_error(&mut self, val: &str) -> Value {
        let f = self.recv_cmd("auth_error").await;
        assert_eq!(
            f,
            json!({"cmd": "auth_error", "val": val}),
            "{}: wrong auth_error",
            self.name
        );
        f
    }

    /// Sends one JSON value as a text frame.
    pub async fn send(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.send_ws(Message::Text(text)).await;
    }

    async fn send_ws(&mut self, msg: Message) {
        match tokio::time::timeout(TIMEOUT, self.ws.send(msg)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{}: send failed: {e}", self.name),
            Err(_) => panic!("{}: send timed out", self.name),
        }
    }

    /// The next frame or the end of the connection.
    pub async fn next_incoming(&mut self) -> Incoming {
        let got = super::read_incoming(&mut self.ws, &self.name).await;
        if let Incoming::Json(v) = &got {
            assert!(
                v["cmd"].is_string(),
                "{}: frame without a string cmd: {v}",
                self.name
            );
        }
        got
    }

    /// The next JSON frame, whatever it is.
    pub async fn recv(&mut self) -> Value {
        match self.next_incoming().await {
            Incoming::Json(v) => v,
            other => panic!("{}: expected a JSON frame, got {other:?}", self.name),
        }
    }

    /// The next frame with this `cmd`, skipping [`SKIPPED`] broadcasts.
    /// Any other frame fails the test.
    pub async fn recv_cmd(&mut self, cmd: &str) -> Value {
        loop {
            let f = self.recv().await;
            let got = f["cmd"].as_str().unwrap_or_default();
            if got == cmd {
                return f;
            }
            if SKIPPED.contains(&got) {
                continue;
            }
            panic!("{}: expected cmd {cmd:?}, got {f}", self.name);
        }
    }

    /// The next frame that is not the server's heartbeat `ping`: nothing
    /// else is skipped.
    pub async fn recv_strict(&mut self) -> Value {
        loop {
            let f = self.recv().await;
            if f == json!({"cmd": "ping"}) {
                continue;
            }
            return f;
        }
    }

    /// One frame of each of `cmds`, in whatever order they come; returned
    /// in the order of `cmds`. [`SKIPPED`] broadcasts not asked for are
    /// skipped; anything else fails the test.
    pub async fn recv_all(&mut self, cmds: &[&str]) -> Vec<Value> {
        let mut got: Vec<Option<Value>> = vec![None; cmds.len()];
        while got.iter().any(Option::is_none) {
            let f = self.recv().await;
            let cmd = f["cmd"].as_str().unwrap_or_default().to_string();
            match (0..cmds.len()).find(|&i| cmds[i] == cmd && got[i].is_none()) {
                Some(i) => got[i] = Some(f),
                None if SKIPPED.contains(&cmd.as_str()) => continue,
                None => panic!(
                    "{}: expected one of {cmds:?}, got {f} (so far {got:?})",
                    self.name
                ),
            }
        }
        got.into_iter().map(Option::unwrap).collect()
    }

    /// The next frame with this `cmd`, skipping every other frame.
    pub async fn recv_until(&mut self, cmd: &str) -> Value {
        loop {
            let f = self.recv().await;
            if f["cmd"] == cmd {
                return f;
            }
        }
    }

    /// Reads an `error` and checks `val` and, when given, `src`.
    pub async fn expect_error(&mut self, src: Option<&str>, val: &str) -> Value {
        let f = self.recv_cmd("error").await;
        assert_eq!(f["val"], val, "{}: wrong error: {f}", self.name);
        if let Some(src) = src {
            assert_eq!(f["src"], src, "{}: error must name src: {f}", self.name);
        }
        f
    }

    /// Reads an `error` whose `val` is one of `vals` (and, when given,
    /// whose `src` is `src`).
    pub async fn expect_error_one_of(&mut self, src: Option<&str>, vals: &[&str]) -> Value {
        let f = self.recv_cmd("error").await;
        if let Some(src) = src {
            assert_eq!(f["src"], src, "{}: error must name src: {f}", self.name);
        }
        let val = f["val"].as_str().unwrap_or_default();
        assert!(
            vals.contains(&val),
            "{}: error val must be one of {vals:?}: {f}",
            self.name
        );
        f
    }

    /// `ping` → exactly `{"cmd":"pong","val":"pong"}`: proves the
    /// connection still works and that nothing else came first.
    pub async fn ping_ok(&mut self) {
        self.send(json!({"cmd": "ping"})).await;
        let f = self.recv_cmd("pong").await;
        assert_eq!(f, json!({"cmd": "pong", "val": "pong"}), "{}", self.name);
    }

    /// Sends `message_new` with a listener and returns the sender's copy.
    pub async fn send_message(&mut self, channel: &str, content: &str, listener: &str) -> Value {
        self.send(json!({"cmd": "message_new", "channel": channel, "content": content, "listener": listener}))
            .await;
        let f = self.recv_cmd("message_new").await;
        assert_eq!(f["listener"], listener, "{}: own copy: {f}", self.name);
        assert_eq!(f["channel"], channel, "{}: {f}", self.name);
        assert_eq!(f["message"]["content"], content, "{}: {f}", self.name);
        f
    }

    /// Reads the next `message_new` and checks it is `content` in `channel`
    /// (a marker: whatever should not have been delivered did not come
    /// before it).
    pub async fn expect_marker(&mut self, channel: &str, content: &str) -> Value {
        let f = self.recv_cmd("message_new").await;
        assert_eq!(
            (&f["channel"], &f["message"]["content"]),
            (&json!(channel), &json!(content)),
            "{}: expected the marker, got {f}",
            self.name
        );
        f
    }

    /// The message id of a `message_new` (or any frame with `message.id`).
    pub fn message_id(frame: &Value) -> String {
        frame["message"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("message without string id: {frame}"))
            .to_string()
    }

    /// Reads until the connection ends (after a close frame, if any).
    pub async fn expect_end(&mut self) {
        loop {
            match self.next_incoming().await {
                Incoming::Ended(_) => return,
                Incoming::Close(_) | Incoming::Json(_) => continue,
                other => panic!("{}: expected the end, got {other:?}", self.name),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Drain until the server closes its side, so the disconnect is
        // processed before the caller goes on.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(TIMEOUT, self.ws.next()).await {}
    }
}

/// `value` without its `listener` key: what other clients get of a global
/// reply.
pub fn without_listener(value: &Value) -> Value {
    let mut v = value.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("listener");
    }
    v
}

impl Oc {
    /// `channels_get` (with a listener, checked) → its `val`.
    pub async fn channels(&mut self) -> Value {
        self.send(json!({"cmd": "channels_get", "listener": "channels"}))
            .await;
        let f = self.recv_cmd("channels_get").await;
        assert_eq!(f["listener"], "channels", "{}: {f}", self.name);
        assert!(f["val"].is_array(), "{}: channels_get val: {f}", self.name);
        f["val"].clone()
    }

    /// `roles_list` → its `roles` object. Pushed `roles_list` frames (no
    /// listener) that come before the reply are passed over.
    pub async fn roles_list(&mut self) -> Value {
        self.send(json!({"cmd": "roles_list", "listener": "roles"}))
            .await;
        loop {
            let f = self.recv_cmd("roles_list").await;
            if f["listener"] == "roles" {
                assert!(f["roles"].is_object(), "{}: roles_list: {f}", self.name);
                return f["roles"].clone();
            }
            assert!(
                f.get("listener").is_none(),
                "{}: a pushed roles_list must carry no listener: {f}",
                self.name
            );
        }
    }

    /// Sends `cmd` with the fields of `body` and a listener; returns the
    /// reply to it (listener checked and removed).
    pub async fn request(&mut self, cmd: &str, body: Value) -> Value {
        let mut req = body;
        req["cmd"] = json!(cmd);
        req["listener"] = json!("req");
        self.send(req).await;
        let f = self.recv_cmd(cmd).await;
        assert_eq!(f["listener"], "req", "{}: {f}", self.name);
        without_listener(&f)
    }

    /// Sends `cmd` with the fields of `body` and a listener; expects the
    /// error `val` with `src` = `cmd` and the listener.
    pub async fn refused(&mut self, cmd: &str, body: Value, val: &str) {
        let mut req = body.clone();
        req["cmd"] = json!(cmd);
        req["listener"] = json!("req");
        self.send(req).await;
        let f = self.recv_cmd("error").await;
        assert_eq!(
            f,
            json!({"cmd": "error", "src": cmd, "val": val, "listener": "req"}),
            "{}: {cmd} {body}",
            self.name
        );
    }

    /// `user_roles_get` for `user` → the reply (listener checked and
    /// removed).
    pub async fn user_roles(&mut self, user: &str) -> Value {
        self.send(json!({"cmd": "user_roles_get", "user": user, "listener": "ur"}))
            .await;
        let f = self.recv_cmd("user_roles_get").await;
        assert_eq!(f["listener"], "ur", "{}: {f}", self.name);
        without_listener(&f)
    }
}

/// The names in a `channels_get` list, in the order listed.
pub fn channel_names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("channel list expected, got {list}"))
        .iter()
        .map(|c| {
            c["name"]
                .as_str()
                .unwrap_or_else(|| panic!("channel without name: {c}"))
                .to_string()
        })
        .collect()
}

/// `channel.permissions[action]` as role names.
pub fn channel_roles(channel: &Value, action: &str) -> Vec<String> {
    channel["permissions"][action]
        .as_array()
        .unwrap_or_else(|| panic!("permissions.{action} must be a list: {channel}"))
        .iter()
        .map(|r| r.as_str().expect("role name").to_string())
        .collect()
}

/// A guild of alice's own, made over JAM REST (so she owns it), with bob
/// as a member by invite; both signed in to its OriginChats endpoint
/// (`/originchats/<guild id>`) with their JAM session tokens. The guild
/// has `@everyone` (id = guild id), `general` (text) and `lounge` (voice).
pub struct OwnGuild {
    pub server: TestServer,
    pub guild_id: String,
    pub alice_token: String,
    pub alice_id: String,
    pub bob_token: String,
    pub bob_id: String,
    pub alice: Oc,
    pub bob: Oc,
}

impl OwnGuild {
    /// A fresh server with `config` appended (see
    /// [`TestServer::with_config`]) and the guild `name` on it.
    pub async fn start(config: &str, name: &str) -> OwnGuild {
        let server = TestServer::with_config(config);
        let (alice_token, alice_user) = super::rest_register(&server, "alice").await;
        let (bob_token, bob_user) = super::rest_register(&server, "bob").await;
        let (status, guild) = server
            .rest(
                "POST",
                "/api/guilds",
                Some(&alice_token),
                Some(&json!({"name": name, "owner_id": alice_user["id"], "description": ""})),
            )
            .await;
        assert_eq!(status, 201, "POST /api/guilds: {guild}");
        let guild_id = guild["id"].as_str().expect("guild id").to_string();
        let (status, invite) = server
            .rest(
                "POST",
                &format!("/api/guilds/{guild_id}/invites"),
                Some(&alice_token),
                None,
            )
            .await;
        assert!(status == 200 || status == 201, "invite: {status} {invite}");
        let code = invite["code"].as_str().expect("invite code");
        let (status, body) = server
            .rest(
                "POST",
                &format!("/api/invites/{code}"),
                Some(&bob_token),
                None,
            )
            .await;
        assert!(status == 200 || status == 201, "join: {status} {body}");
        let url = oc_guild_url(&server, &guild_id);
        let alice = Oc::with_token_at(&url, "alice", &alice_token).await;
        let bob = Oc::with_token_at(&url, "bob", &bob_token).await;
        let id = |u: &Value| u["id"].as_str().expect("user id").to_string();
        OwnGuild {
            guild_id,
            alice_id: id(&alice_user),
            bob_id: id(&bob_user),
            alice_token,
            bob_token,
            alice,
            bob,
            server,
        }
    }

    /// A REST call as alice that must answer `want`; returns the body.
    pub async fn alice_rest(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        want: u16,
    ) -> Value {
        let (status, got) = self
            .server
            .rest(method, path, Some(&self.alice_token), body)
            .await;
        assert_eq!(status, want, "{method} {path}: {got}");
        got
    }

    /// `GET /api/guilds/<id>` as alice: the guild with channels, roles and
    /// categories.
    pub async fn jam_guild(&self) -> Value {
        self.alice_rest("GET", &format!("/api/guilds/{}", self.guild_id), None, 200)
            .await
    }

    /// The JAM id of one of the guild's channels, by name.
    pub async fn channel_id(&self, name: &str) -> String {
        let guild = self.jam_guild().await;
        super::find(&guild["channels"], "name", name)
            .and_then(|c| c["id"].as_str())
            .unwrap_or_else(|| panic!("no channel {name} in {guild}"))
            .to_string()
    }
}
