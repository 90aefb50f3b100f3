//! Federation (JAM §4), inbound: `POST /federation/receive` on a server
//! "b.test" with one peer, "x.test", whose private key the test holds, and
//! whose `general` channel is bridged with it.
//!
//! - A signed message create lands in the bridged channel as the non-login
//!   user `name@x.test`, reaches a JAM client and the history, exactly once
//!   even when the same event id comes again.
//! - Edits, reactions, deletes and typing follow the sender's message id to
//!   the local mirror.
//! - Every refused body (401 signature, 403 sender or route, 408 time, 400
//!   malformed, 413 size) gets its status and an `error` object, and changes
//!   nothing: the user, channel and message counts of `/admin/stats` stay the
//!   same, the history does not show it, and the listening JAM client's next
//!   op 10 is a later valid marker that reuses the refused event id (so the
//!   refusal did not use the id up either).
//! - A DM (`channel_id: null`, `recipient`) reaches the local user; a
//!   recipient who is not a local user is 403.
//! - The peer is listed on `/admin/stats`.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

use common::{find, http_request, HttpResponse, Jam, TestServer};

/// This server.
const HOME: &str = "b.test";
/// The configured peer; the test signs as it.
const PEER: &str = "x.test";
const PEER_SEED: [u8; 32] = [7; 32];
/// A key nobody configured.
const WRONG_SEED: [u8; 32] = [9; 32];
const RECEIVE: &str = "/federation/receive";
/// `federation.max_body_bytes` of the server under test.
const MAX_BODY: usize = 2048;

fn peer_key() -> SigningKey {
    SigningKey::from_bytes(&PEER_SEED)
}

/// A server "b.test" that knows "x.test" and bridges `general` with it.
fn start() -> TestServer {
    let public = B64.encode(peer_key().verifying_key().as_bytes());
    let extra = format!(
        "[federation]\nmax_body_bytes = {MAX_BODY}\n\n\
         [[federation.peers]]\ndomain = \"{PEER}\"\nurl = \"http://127.0.0.1:9\"\npublic_key = \"{public}\"\n\n\
         [[federation.bridges]]\nchannel = \"general\"\npeer = \"{PEER}\"\nremote_channel = \"1\"\n"
    );
    let mut server = TestServer::prepared(HOME, &extra);
    server.restart();
    server
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    i64::try_from(since.as_millis()).expect("ms fit in i64")
}

/// A `FederationData` body from x.test to b.test, stamped now.
fn event(id: &str, op: i64, d: Value) -> Value {
    json!({"id": id, "origin": PEER, "destination": HOME, "timestamp": now_ms(), "op": op, "d": d})
}

/// `d` of an op 10 by `username` on x.test into the local `channel`.
fn create(remote_id: u64, channel: &str, username: &str, content: &str) -> Value {
    json!({
        "id": remote_id.to_string(),
        "channel_id": channel,
        "author": {"username": username, "display_name": format!("{username} (x)")},
        "content": content,
    })
}

fn bytes_of(data: &Value) -> Vec<u8> {
    serde_json::to_vec(data).expect("json")
}

/// Base64 (standard, padded) of the Ed25519 signature over `body`.
fn sign(key: &SigningKey, body: &[u8]) -> String {
    B64.encode(key.sign(body).to_bytes())
}

/// One request to `/federation/receive`, sent as it is; a `None` header
/// is left out.
struct Request {
    domain: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
}

impl Request {
    /// `body` signed with x.test's key, from x.test.
    fn signed_bytes(body: Vec<u8>) -> Request {
        Request {
            domain: Some(PEER.to_string()),
            signature: Some(sign(&peer_key(), &body)),
            body,
        }
    }

    fn signed(data: &Value) -> Request {
        Request::signed_bytes(bytes_of(data))
    }

    async fn send(&self, server: &TestServer) -> HttpResponse {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(d) = &self.domain {
            headers.push(("X-JAM-Domain", d));
        }
        if let Some(s) = &self.signature {
            headers.push(("X-JAM-Signature", s));
        }
        http_request(server.http, "POST", RECEIVE, &headers, &self.body).await
    }
}

/// Signs `data` with x.test's key and POSTs it as x.test.
async fn deliver(server: &TestServer, data: &Value) -> HttpResponse {
    Request::signed(data).send(server).await
}

fn assert_accepted(res: &HttpResponse, what: &str) {
    assert_eq!(res.status, 200, "{what}: {}", res.text());
    assert_eq!(res.json(), json!({"ok": true}), "{what}");
}

fn assert_refused(res: &HttpResponse, status: u16, what: &str) {
    assert_eq!(res.status, status, "{what}: {}", res.text());
    let body = res.json();
    let non_empty = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
    assert!(
        non_empty(&body["error"]["code"]) && non_empty(&body["error"]["message"]),
        "{what}: the body must be {{\"error\":{{\"code\",\"message\"}}}}, got {body}"
    );
}

/// The channel's history, newest first.
async fn history(server: &TestServer, token: &str, channel: &str) -> Vec<Value> {
    let path = format!("/api/messages?channel_id={channel}");
    let (status, body) = server.rest("GET", &path, Some(token), None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body.as_array()
        .unwrap_or_else(|| panic!("history must be an array: {body}"))
        .clone()
}

fn with_content<'a>(messages: &'a [Value], content: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m["content"] == content)
        .collect()
}

/// What a refused body must not change: users, channels, stored messages.
async fn counts(server: &TestServer) -> Value {
    let s = server.stats().await;
    json!({"users": s["users"], "channels": s["channels"], "messages": s["messages_stored"]})
}

/// A server, a JAM client "bob" listening on the bridged `general`, and the
/// refused-body checks.
struct Harness {
    server: TestServer,
    bob: Jam,
    general: String,
    token: String,
    next_remote_id: u64,
}

impl Harness {
    async fn new() -> Harness {
        let server = start();
        let bob = Jam::register(&server, "bob").await;
        let general = bob.lobby().general;
        let token = bob.token();
        Harness {
            server,
            bob,
            general,
            token,
            next_remote_id: 5000,
        }
    }

    fn remote_id(&mut self) -> u64 {
        self.next_remote_id += 1;
        self.next_remote_id
    }

    /// An op 10 by "mallory" into `channel` with event id `id`.
    fn message(&mut self, id: &str, channel: &str, content: &str) -> Value {
        let remote = self.remote_id();
        event(id, 10, create(remote, channel, "mallory", content))
    }

    /// An op 10 by "mallory" into the bridged `general`.
    fn general_message(&mut self, id: &str, content: &str) -> Value {
        let general = self.general.clone();
        self.message(id, &general, content)
    }

    /// Sends one bad request and checks that it is refused with `status`
    /// and changes nothing; `content` is what it would have posted. Then a
    /// valid marker with the same event `id` must be accepted and be the
    /// next op 10 bob sees.
    async fn refused(&mut self, case: &str, status: u16, id: &str, content: &str, bad: Request) {
        let before = counts(&self.server).await;
        let res = bad.send(&self.server).await;
        assert_refused(&res, status, case);
        assert_eq!(
            counts(&self.server).await,
            before,
            "{case}: a refused body must change nothing"
        );
        let messages = history(&self.server, &self.token, &self.general).await;
        assert!(
            with_content(&messages, content).is_empty(),
            "{case}: the refused message is in the history: {messages:?}"
        );
        let marker = format!("marker after {case}");
        let remote = self.remote_id();
        let data = event(id, 10, create(remote, &self.general, "marker", &marker));
        assert_accepted(&deliver(&self.server, &data).await, &marker);
        let f = self.bob.recv_op(10).await;
        assert_eq!(
            f["d"]["content"], marker,
            "{case}: bob's next message must be the marker: {f}"
        );
    }
}

#[tokio::test]
async fn a_signed_message_arrives_once_even_when_resent() {
    let server = start();
    let mut bob = Jam::register(&server, "bob").await;
    let general = bob.lobby().general;
    let data = event("evt-1", 10, create(1001, &general, "alice", "hello from x"));
    let first = Request::signed(&data);
    assert_accepted(&first.send(&server).await, "first delivery");

    let f = bob.recv_op(10).await;
    let d = &f["d"];
    assert_eq!(d["author"]["username"], "alice@x.test", "{f}");
    assert_eq!(d["author"]["display_name"], "alice (x)", "{f}");
    assert_eq!(d["content"], "hello from x", "{f}");
    assert_eq!(d["channel_id"], general.as_str(), "{f}");
    let local_id = common::assert_id(&d["id"], "the mirror's id");
    let messages = history(&server, &bob.token(), &general).await;
    let found = with_content(&messages, "hello from x");
    assert_eq!(found.len(), 1, "{messages:?}");
    assert_eq!(found[0]["id"], local_id.as_str());
    assert_eq!(found[0]["author"]["username"], "alice@x.test");

    // The same bytes again, then the same id re-stamped and re-signed (as a
    // retry from the peer's outbox would be): accepted, dropped.
    assert_accepted(&first.send(&server).await, "same bytes again");
    let retry = event("evt-1", 10, create(1001, &general, "alice", "hello from x"));
    assert_accepted(&deliver(&server, &retry).await, "same id re-stamped");
    let messages = history(&server, &bob.token(), &general).await;
    assert_eq!(
        with_content(&messages, "hello from x").len(),
        1,
        "a duplicate id must be dropped: {messages:?}"
    );
    let marker = event("evt-2", 10, create(1002, &general, "alice", "marker"));
    assert_accepted(&deliver(&server, &marker).await, "marker");
    let f = bob.recv_op(10).await;
    assert_eq!(
        f["d"]["content"], "marker",
        "no second copy before the marker: {f}"
    );
}

#[tokio::test]
async fn edits_reactions_typing_and_deletes_follow_the_mirror() {
    let server = start();
    let mut bob = Jam::register(&server, "bob").await;
    let general = bob.lobby().general;
    let token = bob.token();
    let data = event("evt-c", 10, create(2001, &general, "alice", "first draft"));
    assert_accepted(&deliver(&server, &data).await, "create");
    let local = bob.recv_op(10).await["d"]["id"].clone();

    let edit = json!({"id": "2001", "channel_id": general, "content": "second draft"});
    assert_accepted(&deliver(&server, &event("evt-u", 11, edit)).await, "edit");
    let f = bob.recv_op(11).await;
    assert_eq!(f["d"]["id"], local, "{f}");
    assert_eq!(f["d"]["content"], "second draft", "{f}");
    let messages = history(&server, &token, &general).await;
    assert_eq!(
        with_content(&messages, "second draft").len(),
        1,
        "{messages:?}"
    );
    assert!(with_content(&messages, "first draft").is_empty());

    let reaction = json!({
        "message_id": "2001", "channel_id": general,
        "user": {"username": "carol"}, "emoji": "👍", "action": "add",
    });
    assert_accepted(
        &deliver(&server, &event("evt-r", 13, reaction)).await,
        "reaction",
    );
    let f = bob.recv_op(13).await;
    assert_eq!(f["d"]["message_id"], local, "{f}");
    assert_eq!(f["d"]["emoji"], "👍", "{f}");
    assert_eq!(f["d"]["action"], "add", "{f}");
    assert_eq!(f["d"]["count"], 1, "{f}");

    let typing = json!({"channel_id": general, "user": {"username": "carol"}});
    assert_accepted(
        &deliver(&server, &event("evt-t", 60, typing)).await,
        "typing",
    );
    let f = bob.recv_op(60).await;
    assert_eq!(f["d"]["channel_id"], general.as_str(), "{f}");

    let delete = json!({"id": "2001", "channel_id": general});
    assert_accepted(
        &deliver(&server, &event("evt-d", 12, delete)).await,
        "delete",
    );
    let f = bob.recv_op(12).await;
    assert_eq!(f["d"]["id"], local, "{f}");
    let messages = history(&server, &token, &general).await;
    assert!(
        messages.iter().all(|m| m["id"] != local),
        "deleted: {messages:?}"
    );
}

#[tokio::test]
async fn bad_signatures_are_refused_with_401() {
    let mut h = Harness::new().await;

    let data = h.general_message("sig-missing", "no signature");
    let bad = Request {
        signature: None,
        ..Request::signed(&data)
    };
    h.refused(
        "missing X-JAM-Signature",
        401,
        "sig-missing",
        "no signature",
        bad,
    )
    .await;

    let data = h.general_message("sig-nodomain", "no domain");
    let bad = Request {
        domain: None,
        ..Request::signed(&data)
    };
    h.refused(
        "missing X-JAM-Domain",
        401,
        "sig-nodomain",
        "no domain",
        bad,
    )
    .await;

    let body = bytes_of(&h.general_message("sig-wrong", "wrong key"));
    let bad = Request {
        signature: Some(sign(&SigningKey::from_bytes(&WRONG_SEED), &body)),
        ..Request::signed_bytes(body)
    };
    h.refused(
        "signed by the wrong key",
        401,
        "sig-wrong",
        "wrong key",
        bad,
    )
    .await;

    let mut bad = Request::signed(&h.general_message("sig-tamper", "tampered AAAA"));
    let text = String::from_utf8(bad.body).expect("utf-8");
    let tampered = text.replace("tampered AAAA", "tampered BBBB");
    assert_ne!(tampered, text);
    bad.body = tampered.into_bytes();
    h.refused(
        "tampered after signing",
        401,
        "sig-tamper",
        "tampered BBBB",
        bad,
    )
    .await;

    let data = h.general_message("sig-b64", "not base64");
    let bad = Request {
        signature: Some("this is not base64!".into()),
        ..Request::signed(&data)
    };
    h.refused("signature not base64", 401, "sig-b64", "not base64", bad)
        .await;
}

#[tokio::test]
async fn unknown_senders_and_wrong_routes_are_refused_with_403() {
    let mut h = Harness::new().await;

    let data = h.general_message("route-y", "from y");
    let bad = Request {
        domain: Some("y.test".into()),
        ..Request::signed(&data)
    };
    h.refused("unknown domain y.test", 403, "route-y", "from y", bad)
        .await;

    let mut data = h.general_message("route-origin", "other origin");
    data["origin"] = json!("y.test");
    let bad = Request::signed(&data);
    h.refused(
        "origin is not the header",
        403,
        "route-origin",
        "other origin",
        bad,
    )
    .await;

    let mut data = h.general_message("route-dest", "other destination");
    data["destination"] = json!("c.test");
    let bad = Request::signed(&data);
    h.refused(
        "destination is not b.test",
        403,
        "route-dest",
        "other destination",
        bad,
    )
    .await;

    let lounge = h.bob.lobby().lounge;
    let bad = Request::signed(&h.message("route-lounge", &lounge, "into lounge"));
    h.refused(
        "an unbridged voice channel",
        403,
        "route-lounge",
        "into lounge",
        bad,
    )
    .await;

    // A text channel bob can see (he owns its guild), but not bridged.
    let owner = h.bob.user_id();
    let new_guild = json!({"name": "Elsewhere", "owner_id": owner, "description": "not bridged"});
    let (status, guild) = h
        .server
        .rest("POST", "/api/guilds", Some(&h.token), Some(&new_guild))
        .await;
    assert_eq!(status, 201, "POST /api/guilds: {guild}");
    h.bob.recv_op(30).await;
    let other = find(&guild["channels"], "name", "general")
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("no general in {guild}"))
        .to_string();
    let bad = Request::signed(&h.message("route-other", &other, "into another guild"));
    h.refused(
        "an unbridged text channel",
        403,
        "route-other",
        "into another guild",
        bad,
    )
    .await;
    let elsewhere = history(&h.server, &h.token, &other).await;
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
}

#[tokio::test]
async fn stale_and_future_timestamps_are_refused_with_408() {
    let mut h = Harness::new().await;

    let mut data = h.general_message("time-old", "six minutes old");
    data["timestamp"] = json!(now_ms() - 6 * 60 * 1000);
    let bad = Request::signed(&data);
    h.refused(
        "timestamp 6 min old",
        408,
        "time-old",
        "six minutes old",
        bad,
    )
    .await;

    let mut data = h.general_message("time-ahead", "a minute ahead");
    data["timestamp"] = json!(now_ms() + 60 * 1000);
    let bad = Request::signed(&data);
    h.refused(
        "timestamp 60 s ahead",
        408,
        "time-ahead",
        "a minute ahead",
        bad,
    )
    .await;
}

#[tokio::test]
async fn malformed_bodies_are_refused_with_400() {
    let mut h = Harness::new().await;

    let body =
        br#"{"id": "bad-json", "origin": "x.test", "destination": "b.test", "op": 10, "d": {"#;
    let bad = Request::signed_bytes(body.to_vec());
    h.refused("malformed JSON", 400, "bad-json", "", bad).await;

    // By an author who already exists here (the markers'): see
    // `a_refused_message_does_not_make_its_author` for a new one.
    let general = h.general.clone();
    let mut d = create(4001, &general, "marker", "unused");
    d.as_object_mut().expect("object").remove("content");
    let bad = Request::signed(&event("bad-content", 10, d));
    h.refused("no d.content", 400, "bad-content", "unused", bad)
        .await;

    let bad = Request::signed(&event("bad-op", 40, json!({"channel_id": general})));
    h.refused("an op that does not federate", 400, "bad-op", "", bad)
        .await;
}

#[tokio::test]
async fn a_refused_message_does_not_make_its_author() {
    let mut h = Harness::new().await;
    // "ghost" has never spoken here: a 400 must not leave a user ghost@x.test.
    let general = h.general.clone();
    let mut d = create(4002, &general, "ghost", "unused");
    d.as_object_mut().expect("object").remove("content");
    let bad = Request::signed(&event("ghost-content", 10, d));
    h.refused(
        "no d.content by a new author",
        400,
        "ghost-content",
        "unused",
        bad,
    )
    .await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let mut h = Harness::new().await;
    let content = "a".repeat(4096);
    let bad = Request::signed(&h.general_message("too-big", &content));
    assert!(bad.body.len() > MAX_BODY);
    h.refused("a 4 KiB body", 413, "too-big", &content, bad)
        .await;
}

#[tokio::test]
async fn a_dm_reaches_the_local_recipient() {
    let server = start();
    let mut dana = Jam::register(&server, "dana").await;
    let dm = |id: &str, recipient: &str, content: &str| {
        let d = json!({
            "id": id, "channel_id": null, "recipient": recipient,
            "author": {"username": "alice"}, "content": content,
        });
        event(&format!("dm-{id}"), 10, d)
    };
    assert_accepted(&deliver(&server, &dm("1", "dana", "psst")).await, "DM");
    // The DM opens (op 20), then the message arrives in it.
    let opened = dana.recv_op(20).await;
    assert_eq!(opened["d"]["type"], "dm", "{opened}");
    let channel = common::assert_id(&opened["d"]["id"], "DM channel id");
    let f = dana.recv_op(10).await;
    assert_eq!(f["d"]["content"], "psst", "{f}");
    assert_eq!(f["d"]["channel_id"], channel.as_str(), "{f}");
    assert_eq!(f["d"]["author"]["username"], "alice@x.test", "{f}");
    let recipients = opened["d"]["recipients"].as_array().expect("recipients");
    assert!(recipients.contains(&f["d"]["author"]["id"]), "{opened}");
    assert!(recipients.contains(&json!(dana.user_id())), "{opened}");
    let (status, dms) = server
        .rest("GET", "/api/users/@me/channels", Some(&dana.token()), None)
        .await;
    assert_eq!(status, 200, "{dms}");
    assert!(
        find(&dms, "id", &channel).is_some(),
        "{channel} not in {dms}"
    );

    // Nobody by that name; a user of the peer is not a local recipient.
    for (id, recipient) in [("2", "nobody"), ("3", "alice@x.test")] {
        let before = counts(&server).await;
        let res = deliver(&server, &dm(id, recipient, "to nobody")).await;
        assert_refused(&res, 403, &format!("DM to {recipient}"));
        assert_eq!(
            counts(&server).await,
            before,
            "DM to {recipient}: no change"
        );
    }
    assert_accepted(
        &deliver(&server, &dm("4", "dana", "marker")).await,
        "marker",
    );
    let f = dana.recv_op(10).await;
    assert_eq!(f["d"]["content"], "marker", "{f}");
}

#[tokio::test]
async fn the_peer_is_listed_on_the_admin_stats() {
    let server = start();
    let stats = server.stats().await;
    let fed = &stats["federation"];
    assert_eq!(fed["domain"], HOME, "{fed}");
    assert_eq!(fed["peers"][0]["domain"], PEER, "{fed}");
}
