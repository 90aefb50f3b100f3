//! chat-network over real sockets, walking the protocol document: the
//! identification and standards exchange, signup, signin, subscribe,
//! invites, the two key-exchange messages, an encrypted message delivered
//! byte for byte, offline delivery at the next subscribe, status events,
//! and every `resp_code` from 1 to 8.

mod common;

use common::{Cn, TestServer, PASSWORD};
use serde_json::json;
use switchboard_client::chatnet::{decrypt, encrypt, respond, Initiator};

/// UUID-shaped, as the profile says: 8-4-4-4-12 hex digits. Not a v4
/// UUID: all 128 bits are random (session tokens carry at least 128).
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && s.chars()
            .filter(|c| *c != '-')
            .all(|c| c.is_ascii_hexdigit())
}

#[tokio::test]
async fn identification_and_protocol_standard() {
    let server = TestServer::start();
    let mut cn = Cn::connect(&server, "gtk").await;
    cn.send(json!({"type": "identification", "version": "1.0.0", "client": "gtk"}))
        .await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "identification", "version": "1.0.0", "server": "switchboard", "invitations": true, "resp_code": 0})
    );
    cn.send(json!({"type": "protocol.standard", "standards": "ciphers,hashes"}))
        .await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "protocol.standard", "ciphers": ["xchacha-poly1305", "aes256-gcm"], "hashes": ["argon2id", "sha256"], "resp_code": 0})
    );
    // Code 7: another version, then the socket closes.
    cn.send(json!({"type": "identification", "version": "2.0.0"}))
        .await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "identification", "resp_code": 7})
    );
    cn.expect_end().await;
}

#[tokio::test]
async fn signup_signin_and_their_codes() {
    let server = TestServer::start();
    let mut cn = Cn::connect(&server, "alice").await;
    let signup = |user: &str, hash: &str| json!({"type": "signup", "username": user, "password": PASSWORD, "hash": hash});
    cn.send(signup("alice", "sha256")).await;
    let r = cn.recv().await;
    assert_eq!((&r["type"], &r["resp_code"]), (&json!("signup"), &json!(0)));
    let session = r["session"].as_str().expect("session");
    assert!(is_uuid(session), "{r}");
    // 2: taken. 3: a hash not advertised. Errors carry an empty session.
    cn.send(signup("alice", "argon2id")).await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "signup", "resp_code": 2, "session": ""})
    );
    cn.send(signup("carol", "md5")).await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "signup", "resp_code": 3, "session": ""})
    );
    // 5: no such user. 6: a wrong password.
    cn.send(json!({"type": "signin", "username": "nobody", "password": "x"}))
        .await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "signin", "resp_code": 5, "session": ""})
    );
    cn.send(json!({"type": "signin", "username": "alice", "password": "wrong"}))
        .await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "signin", "resp_code": 6, "session": ""})
    );
    cn.send(json!({"type": "signin", "username": "alice", "password": PASSWORD}))
        .await;
    let r = cn.recv().await;
    assert_eq!((&r["type"], &r["resp_code"]), (&json!("signin"), &json!(0)));
    let second = r["session"].as_str().expect("session");
    assert!(is_uuid(second) && second != session, "{r}");

    // The password is stored with Argon2id, whatever `hash` said: the
    // account signs in over JAM too.
    let (status, body) = server
        .rest(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // 1 on subscribe with a bad session, and the socket closes.
    cn.send(json!({"type": "subscribe", "session": "00000000-0000-4000-8000-000000000000"}))
        .await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "subscribe", "resp_code": 1})
    );
    cn.expect_end().await;
}

#[tokio::test]
async fn the_original_signin_reply_type_is_a_setting() {
    let server = TestServer::with_config("[chatnet]\nsignin_reply_type = \"signup\"\n");
    let alice = Cn::signup(&server, "alice").await;
    let mut cn = Cn::connect(&server, "alice2").await;
    cn.send(json!({"type": "signin", "username": "alice", "password": PASSWORD}))
        .await;
    let r = cn.recv().await;
    assert_eq!((&r["type"], &r["resp_code"]), (&json!("signup"), &json!(0)));
    cn.send(json!({"type": "signin", "username": "alice", "password": "no"}))
        .await;
    assert_eq!(
        cn.recv().await,
        json!({"type": "signup", "resp_code": 6, "session": ""})
    );
    alice.close().await;
}

#[tokio::test]
async fn invites_key_exchange_and_an_encrypted_message() {
    let server = TestServer::start();
    let mut alice = Cn::signup(&server, "alice").await;
    let mut bob = Cn::signup(&server, "bob").await;

    // The invite reaches bob without the session; `source` is alice's.
    alice.relay("invite.request", "bob", json!({})).await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "invite.request", "source": "alice", "dest": "bob"})
    );
    bob.relay("invite.accept", "alice", json!({})).await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "invite.accept", "source": "bob", "dest": "alice"})
    );

    // The key exchange, relayed untouched.
    let b = Initiator::generate();
    let (ik, spk, opk) = b.bundle();
    bob.relay(
        "key_exchange.initiate",
        "alice",
        json!({"ik": ik, "spk": spk, "opk": opk}),
    )
    .await;
    let init = alice.recv().await;
    assert_eq!(
        init,
        json!({"type": "key_exchange.initiate", "source": "bob", "dest": "alice", "ik": ik, "spk": spk, "opk": opk})
    );
    let (ik_a, epk, key_a) = respond(&ik, &spk, &opk).expect("respond");
    alice
        .relay(
            "key_exchange.responder",
            "bob",
            json!({"ik": ik_a, "epk": epk}),
        )
        .await;
    let resp = bob.recv().await;
    assert_eq!(
        resp,
        json!({"type": "key_exchange.responder", "source": "alice", "dest": "bob", "ik": ik_a, "epk": epk})
    );
    let key_b = b.complete(&ik_a, &epk).expect("complete");

    // A message encrypted as the GTK client does arrives byte for byte.
    for text in ["hi", "a longer message, with ünïcode ✓"] {
        let (nonce, message) = encrypt(&key_a, text);
        alice
            .relay(
                "message",
                "bob",
                json!({"nonce": nonce, "message": message}),
            )
            .await;
        let got = bob.recv().await;
        assert_eq!(
            got,
            json!({"type": "message", "source": "alice", "dest": "bob", "nonce": nonce, "message": message})
        );
        assert_eq!(decrypt(&key_b, &nonce, &message).expect("decrypt"), text);
    }

    // Friends hear each other come and go.
    bob.close().await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "status", "user": "bob", "status": "offline"})
    );
    let bob = Cn::signin(&server, "bob").await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "status", "user": "bob", "status": "online"})
    );
    bob.close().await;
}

#[tokio::test]
async fn a_rejected_invite_makes_no_friends() {
    let server = TestServer::start();
    let mut alice = Cn::signup(&server, "alice").await;
    let mut bob = Cn::signup(&server, "bob").await;
    alice.relay("invite.request", "bob", json!({})).await;
    bob.recv_type("invite.request").await;
    bob.relay("invite.reject", "alice", json!({})).await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "invite.reject", "source": "bob", "dest": "alice"})
    );
    // An accept after the reject befriends no one. Carol, whose invite
    // bob accepts, hears bob leave; alice, at the same moment, does not.
    bob.relay("invite.accept", "alice", json!({})).await;
    alice.recv_type("invite.accept").await;
    let mut carol = Cn::signup(&server, "carol").await;
    carol.relay("invite.request", "bob", json!({})).await;
    bob.recv_type("invite.request").await;
    bob.relay("invite.accept", "carol", json!({})).await;
    carol.recv_type("invite.accept").await;
    bob.close().await;
    assert_eq!(
        carol.recv().await,
        json!({"type": "status", "user": "bob", "status": "offline"})
    );
    alice
        .send(json!({"type": "protocol.standard", "standards": ""}))
        .await;
    assert_eq!(alice.recv().await["type"], "protocol.standard");
}

#[tokio::test]
async fn events_wait_for_the_next_subscribe() {
    let server = TestServer::start();
    let mut alice = Cn::signup(&server, "alice").await;
    let bob = Cn::signup(&server, "bob").await;
    bob.close().await;
    // Bob is away: what alice sends waits in the store, in order.
    alice.relay("invite.request", "bob", json!({})).await;
    let (nonce, message) = encrypt(&[7u8; 32], "while you were out");
    alice
        .relay(
            "message",
            "bob",
            json!({"nonce": nonce, "message": message}),
        )
        .await;
    alice.sync().await;
    // ... across a restart too.
    let mut server = server;
    drop(alice);
    assert!(server.stop().success(), "{}", server.log());
    server.restart();
    let mut bob = Cn::signin(&server, "bob").await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "invite.request", "source": "alice", "dest": "bob"})
    );
    assert_eq!(
        bob.recv().await,
        json!({"type": "message", "source": "alice", "dest": "bob", "nonce": nonce, "message": message})
    );
    // Delivered once: a second subscribe finds nothing waiting.
    let mut again = Cn::signin(&server, "bob").await;
    again.sync().await;
    bob.sync().await;
}

#[tokio::test]
async fn sessions_sources_and_destinations_are_checked() {
    let server = TestServer::start();
    let mut alice = Cn::signup(&server, "alice").await;
    let mut bob = Cn::signup(&server, "bob").await;
    let session = alice.session.clone();
    for kind in [
        "invite.request",
        "invite.accept",
        "invite.reject",
        "key_exchange.initiate",
        "key_exchange.responder",
        "message",
    ] {
        // 1: no session, a wrong one, or a `source` that is someone else.
        alice
            .send(json!({"type": kind, "source": "alice", "dest": "bob"}))
            .await;
        assert_eq!(alice.recv().await, json!({"type": kind, "resp_code": 1}));
        alice
            .send(json!({"type": kind, "session": "nope", "dest": "bob"}))
            .await;
        assert_eq!(alice.recv().await, json!({"type": kind, "resp_code": 1}));
        alice
            .send(json!({"type": kind, "session": session, "source": "bob", "dest": "bob"}))
            .await;
        assert_eq!(alice.recv().await, json!({"type": kind, "resp_code": 1}));
        // 5: no such user.
        let fields =
            json!({"ik": "a", "spk": "b", "opk": "c", "epk": "d", "nonce": "n", "message": "m"});
        alice.relay(kind, "nobody", fields).await;
        assert_eq!(alice.recv().await, json!({"type": kind, "resp_code": 5}));
        // 8: a missing field.
        alice.send(json!({"type": kind, "session": session})).await;
        let e = alice.recv().await;
        assert_eq!(
            e,
            json!({"type": "error", "resp_code": 8, "reason": "missing field `dest`"})
        );
    }
    alice
        .relay("key_exchange.initiate", "bob", json!({"ik": "a"}))
        .await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "error", "resp_code": 8, "reason": "missing field `spk`"})
    );
    // 4: a cipher the server does not offer; an offered one is fine.
    for kind in ["key_exchange.initiate", "message"] {
        let fields = json!({"ik": "a", "spk": "b", "opk": "c", "nonce": "n", "message": "m", "cipher": "rot13"});
        alice.relay(kind, "bob", fields).await;
        assert_eq!(alice.recv().await, json!({"type": kind, "resp_code": 4}));
    }
    let fields = json!({"ik": "a", "spk": "b", "opk": "c", "cipher": "xchacha-poly1305"});
    alice.relay("key_exchange.initiate", "bob", fields).await;
    assert_eq!(bob.recv().await["cipher"], "xchacha-poly1305");
    // A message whose nonce is not base64 of 24 bytes is not stored.
    alice
        .relay("message", "bob", json!({"nonce": "x", "message": "eA=="}))
        .await;
    let e = alice.recv().await;
    assert_eq!((&e["type"], &e["resp_code"]), (&json!("error"), &json!(8)));

    // 8: malformed input of every kind; the socket keeps serving.
    for (text, reason) in [
        ("{not json", "malformed JSON"),
        ("[1,2]", "a request must be a JSON object"),
        ("{}", "missing field `type`"),
        (r#"{"type":"call.start"}"#, "unknown type `call.start`"),
        (
            r#"{"type":"signin","username":"alice"}"#,
            "missing field `password`",
        ),
    ] {
        alice.send_text(text.to_string()).await;
        let e = alice.recv().await;
        assert_eq!((&e["type"], &e["resp_code"]), (&json!("error"), &json!(8)));
        let got = e["reason"].as_str().unwrap_or_default();
        assert!(got.starts_with(reason), "{text}: {e}");
    }
    // Nothing reached bob; alice still works.
    alice.relay("invite.request", "bob", json!({})).await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "invite.request", "source": "alice", "dest": "bob"})
    );
    alice.sync().await;
}

#[tokio::test]
async fn served_at_chatnet_on_the_main_port() {
    let server = TestServer::start();
    let url = format!("ws://{}/chatnet", server.http);
    let mut cn = Cn::connect_url(&url, "main").await;
    cn.send(json!({"type": "identification", "version": "1.0.0"}))
        .await;
    assert_eq!(cn.recv().await["resp_code"], 0);
    // Binary frames are not JSON text.
    cn.send_binary(vec![1, 2, 3]).await;
    let e = cn.recv().await;
    assert_eq!(e["resp_code"], 8, "{e}");
    cn.sync().await;
}
