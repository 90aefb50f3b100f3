//! The exact frames of the profile, and decoding that never panics.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::testgen::object_without;

fn frame(m: &Map<String, Value>) -> Value {
    serde_json::from_str(&encode(m)).unwrap()
}

#[test]
fn identification_answer() {
    assert_eq!(
        frame(&identification()),
        json!({"type": "identification", "version": "1.0.0", "server": "switchboard", "invitations": true, "resp_code": 0})
    );
}

#[test]
fn protocol_standard_answer() {
    assert_eq!(
        frame(&protocol_standard()),
        json!({"type": "protocol.standard", "ciphers": ["xchacha-poly1305", "aes256-gcm"], "hashes": ["argon2id", "sha256"], "resp_code": 0})
    );
}

#[test]
fn session_replies() {
    assert_eq!(
        frame(&session_reply(Kind::Signup, code::SUCCESS, "u-u-i-d")),
        json!({"type": "signup", "resp_code": 0, "session": "u-u-i-d"})
    );
    assert_eq!(
        frame(&session_reply(Kind::Signin, code::INVALID_PASSWORD, "")),
        json!({"type": "signin", "resp_code": 6, "session": ""})
    );
    assert_eq!(
        frame(&reply(Kind::Subscribe, code::BAD_TOKEN)),
        json!({"type": "subscribe", "resp_code": 1})
    );
    assert_eq!(
        frame(&reply(Kind::Identification, code::VERSION_MISMATCH)),
        json!({"type": "identification", "resp_code": 7})
    );
}

#[test]
fn relaying_strips_the_session_and_sets_the_source() {
    let req = decode(
        r#"{"type":"key_exchange.initiate","session":"s","source":"mallory","dest":"bob","ik":"a","spk":"b","opk":"c"}"#,
    )
    .unwrap();
    assert_eq!(req.kind, Kind::KeyExchangeInitiate);
    assert_eq!(
        frame(&relayed(&req.body, "alice")),
        json!({"type": "key_exchange.initiate", "source": "alice", "dest": "bob", "ik": "a", "spk": "b", "opk": "c"})
    );
}

#[test]
fn events() {
    assert_eq!(
        frame(&plain_message("alice", "bob", "hi")),
        json!({"type": "message", "source": "alice", "dest": "bob", "nonce": "", "message": "hi", "plain": true})
    );
    assert_eq!(
        frame(&encrypted_message("alice", "bob", "bm9uY2U=", "Y3Q=")),
        json!({"type": "message", "source": "alice", "dest": "bob", "nonce": "bm9uY2U=", "message": "Y3Q="})
    );
    assert_eq!(
        frame(&status("alice", false)),
        json!({"type": "status", "user": "alice", "status": "offline"})
    );
}

#[test]
fn malformed_input_says_why() {
    for (text, reason) in [
        ("{", "malformed JSON"),
        ("[1]", "a request must be a JSON object"),
        ("{}", "missing field `type`"),
        (r#"{"type":3}"#, "field `type` must be a string"),
        (r#"{"type":"call.start"}"#, "unknown type `call.start`"),
    ] {
        let e = decode(text).unwrap_err();
        assert!(e.starts_with(reason), "{text}: {e}");
    }
    assert_eq!(
        frame(&malformed("missing field `dest`")),
        json!({"type": "error", "resp_code": 8, "reason": "missing field `dest`"})
    );
}

#[test]
fn every_type_round_trips_and_relayed_ones_name_their_fields() {
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.as_str()), Some(k));
    }
    let relayed: Vec<&str> = Kind::ALL
        .into_iter()
        .filter(|k| k.is_relayed())
        .map(Kind::as_str)
        .collect();
    assert_eq!(
        relayed,
        [
            "invite.request",
            "invite.accept",
            "invite.reject",
            "key_exchange.initiate",
            "key_exchange.responder",
            "message"
        ]
    );
    assert_eq!(
        Kind::Message.relayed_fields(),
        Some(&["nonce", "message"][..])
    );
}

#[test]
fn required_fields() {
    let req = decode(r#"{"type":"signin","username":"a","password":7}"#).unwrap();
    assert_eq!(req.required("username"), Ok("a"));
    assert_eq!(
        req.required("password"),
        Err("field `password` must be a string".to_string())
    );
    assert_eq!(
        req.required("hash"),
        Err("missing field `hash`".to_string())
    );
}

proptest! {
    #[test]
    fn decoding_never_panics(text in ".{0,200}") {
        let _ = decode(&text);
    }

    #[test]
    fn any_object_with_a_known_type_decodes(kind in 0usize..11, extra in "[a-z]{1,8}", v in ".{0,20}") {
        // Another `type` key would replace the one under test.
        prop_assume!(extra != "type");
        let k = Kind::ALL[kind];
        let text = json!({"type": k.as_str(), extra: v}).to_string();
        prop_assert_eq!(decode(&text).map(|r| r.kind), Ok(k));
    }

    /// A request object as a client encodes it decodes to its type and the
    /// whole object; the generated fields never hold another `type`.
    #[test]
    fn an_encoded_request_decodes_to_itself(
        kind in 0usize..11,
        fields in object_without(&["type"]),
    ) {
        let k = Kind::ALL[kind];
        let mut body = fields;
        body.insert("type".into(), json!(k.as_str()));
        prop_assert_eq!(decode(&encode(&body)), Ok(Request { kind: k, body }));
    }

    /// A relayed request reaches `dest` as the sender wrote it, without
    /// `session` and with `source` set to the sender, whatever `source` it
    /// claimed.
    #[test]
    fn a_relayed_request_decodes_as_dest_receives_it(
        kind in 0usize..6,
        fields in object_without(&["type"]),
        source in "[a-z0-9_]{1,16}",
    ) {
        let relayed_kinds: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.is_relayed()).collect();
        let k = relayed_kinds[kind % relayed_kinds.len()];
        let mut body = fields;
        body.insert("type".into(), json!(k.as_str()));
        let sent = decode(&encode(&body)).unwrap();
        let received = decode(&encode(&relayed(&sent.body, &source))).unwrap();
        let mut expected = body;
        expected.remove("session");
        expected.insert("source".into(), json!(source));
        prop_assert_eq!(received, Request { kind: k, body: expected });
    }
}
