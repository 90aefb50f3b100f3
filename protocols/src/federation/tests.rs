//! The body of the profile, signatures over the exact bytes, the envelope
//! window, and round trips: sign then verify then parse gives the body
//! back, any flipped bit fails verification, an event written as the
//! profile says reads back as itself.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::testgen::json_value;
use crate::Id;

fn data() -> FederationData {
    FederationData {
        id: "1".into(),
        origin: "a".into(),
        destination: "b".into(),
        timestamp: 1_700_000_000_000,
        op: 10,
        d: json!({"content": "hi"}),
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

#[test]
fn the_body_is_the_profile_shape() {
    let (body, _) = sign(&data(), &key());
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"id":"1","origin":"a","destination":"b","timestamp":1700000000000,"op":10,"d":{"content":"hi"}}"#
    );
}

#[test]
fn signatures_cover_the_exact_bytes() {
    let key = key();
    let (body, sig) = sign(&data(), &key);
    assert!(verify(&body, &sig, &key.verifying_key()));
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert!(!verify(&tampered, &sig, &key.verifying_key()));
    let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
    assert!(!verify(&body, &sig, &other));
    assert!(!verify(&body, "not base64!", &key.verifying_key()));
    assert!(!verify(&body, &B64.encode([0u8; 10]), &key.verifying_key()));
}

#[test]
fn malformed_bodies_are_400() {
    for bad in [&b""[..], b"{", b"[]", br#"{"id":1}"#, b"\xff"] {
        let r = parse_body(bad).unwrap_err();
        assert_eq!((r.status, r.code), (400, "INVALID"), "{bad:?}");
    }
}

#[test]
fn the_envelope_names_both_servers_and_a_recent_time() {
    let now = 1_700_000_000_000;
    let d = data();
    assert_eq!(check_envelope(&d, "A", "B", now), Ok(()));
    assert_eq!(check_envelope(&d, "c", "b", now).unwrap_err().status, 403);
    assert_eq!(check_envelope(&d, "a", "c", now).unwrap_err().status, 403);
    let at = |timestamp| FederationData {
        timestamp,
        ..data()
    };
    assert!(check_envelope(&at(now - MAX_AGE_MS), "a", "b", now).is_ok());
    assert!(check_envelope(&at(now + MAX_AHEAD_MS), "a", "b", now).is_ok());
    for late in [now - MAX_AGE_MS - 1, now + MAX_AHEAD_MS + 1] {
        let r = check_envelope(&at(late), "a", "b", now).unwrap_err();
        assert_eq!((r.status, r.code), (408, "TIMESTAMP"));
    }
}

/// Regression: `now - timestamp` overflowed (a panic in debug builds) for
/// a signed body with `"timestamp": -9223372036854775808`.
#[test]
fn extreme_timestamps_are_refused_not_overflowed() {
    let now = 1_700_000_000_000;
    for timestamp in [i64::MIN, i64::MIN + 1, i64::MAX] {
        let d = FederationData {
            timestamp,
            ..data()
        };
        assert_eq!(check_envelope(&d, "a", "b", now).unwrap_err().status, 408);
    }
    let body = br#"{"id":"1","origin":"a","destination":"b","timestamp":-9223372036854775808,"op":10,"d":{}}"#;
    let d = parse_body(body).unwrap();
    assert_eq!(check_envelope(&d, "a", "b", now).unwrap_err().status, 408);
}

#[test]
fn events_of_the_profile() {
    let d = json!({"id": "5", "author": {"username": "bob", "display_name": "Bob"},
        "content": "hi", "reply_to": 4, "channel_id": "9"});
    assert_eq!(
        parse_event(10, &d, 10),
        Ok(Incoming::Create {
            remote: Id(5),
            author: Profile {
                name: "bob".into(),
                display_name: Some("Bob".into())
            },
            content: "hi".into(),
            encrypted: false,
            nonce: None,
            reply_to: Some(Id(4)),
        })
    );
    assert!(parse_event(10, &d, 1).is_err());
    assert!(parse_event(80, &d, 10).is_err());
    assert!(parse_event(10, &json!([d]), 10).is_err());
    let bad_name = json!({"id": "5", "author": {"username": "a@b"}, "content": "hi"});
    assert!(parse_event(10, &bad_name, 10).is_err());
    let bad_action =
        json!({"message_id": "1", "user": {"username": "b"}, "emoji": "x", "action": "toggle"});
    assert!(parse_event(13, &bad_action, 10).is_err());
}

fn federation_data() -> impl Strategy<Value = FederationData> {
    (
        ".{0,20}",
        ".{0,20}",
        ".{0,20}",
        any::<i64>(),
        any::<i64>(),
        json_value(),
    )
        .prop_map(
            |(id, origin, destination, timestamp, op, d)| FederationData {
                id,
                origin,
                destination,
                timestamp,
                op,
                d,
            },
        )
}

fn profile() -> impl Strategy<Value = Profile> {
    ("[A-Za-z0-9_.-]{1,32}", proptest::option::of(".{0,16}"))
        .prop_map(|(name, display_name)| Profile { name, display_name })
}

fn incoming() -> impl Strategy<Value = Incoming> {
    let id = any::<u64>().prop_map(Id);
    // Content is what parse_event keeps: not blank, at most 50 characters.
    let content = "[a-z]{1}.{0,49}";
    let nonce = proptest::option::of("[A-Za-z0-9+/=]{0,32}");
    prop_oneof![
        (
            id.clone(),
            profile(),
            content,
            any::<bool>(),
            nonce.clone(),
            proptest::option::of(id.clone())
        )
            .prop_map(|(remote, author, content, encrypted, nonce, reply_to)| {
                Incoming::Create {
                    remote,
                    author,
                    content,
                    encrypted,
                    nonce,
                    reply_to,
                }
            }),
        (id.clone(), content, any::<bool>(), nonce).prop_map(
            |(remote, content, encrypted, nonce)| Incoming::Update {
                remote,
                content,
                encrypted,
                nonce,
            }
        ),
        id.clone().prop_map(|remote| Incoming::Delete { remote }),
        (id, profile(), ".{0,8}", any::<bool>()).prop_map(|(message, user, emoji, add)| {
            Incoming::React {
                message,
                user,
                emoji,
                add,
            }
        }),
        profile().prop_map(|user| Incoming::Typing { user }),
    ]
}

fn profile_value(p: &Profile) -> Value {
    json!({"username": p.name, "display_name": p.display_name})
}

/// The `op` and `d` a sender writes for `event`, as the profile shows them
/// (ids as decimal strings, the channel beside them).
fn written(event: &Incoming) -> (i64, Value) {
    let (op, mut d) = match event {
        Incoming::Create {
            remote,
            author,
            content,
            encrypted,
            nonce,
            reply_to,
        } => (
            10,
            json!({"id": remote.0.to_string(), "author": profile_value(author),
                "content": content, "encrypted": encrypted, "nonce": nonce,
                "reply_to": reply_to.map(|r| r.0.to_string())}),
        ),
        Incoming::Update {
            remote,
            content,
            encrypted,
            nonce,
        } => (
            11,
            json!({"id": remote.0.to_string(), "content": content,
                "encrypted": encrypted, "nonce": nonce}),
        ),
        Incoming::Delete { remote } => (12, json!({"id": remote.0.to_string()})),
        Incoming::React {
            message,
            user,
            emoji,
            add,
        } => (
            13,
            json!({"message_id": message.0.to_string(), "user": profile_value(user),
                "emoji": emoji, "action": if *add { "add" } else { "remove" }}),
        ),
        Incoming::Typing { user } => (60, json!({"user": profile_value(user)})),
    };
    d["channel_id"] = json!("42");
    (op, d)
}

proptest! {
    // Ed25519 costs milliseconds in an unoptimised test build: a few dozen
    // signed cases, and the shapes of the body in the unsigned test below.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn sign_then_verify_then_parse_gives_the_body_back_and_any_flipped_bit_fails(
        data in federation_data(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let key = key();
        let (body, sig) = sign(&data, &key);
        prop_assert!(verify(&body, &sig, &key.verifying_key()));
        prop_assert_eq!(parse_body(&body), Ok(data));

        let mut tampered = body.clone();
        let i = at.index(tampered.len());
        tampered[i] ^= 1 << bit;
        prop_assert!(!verify(&tampered, &sig, &key.verifying_key()));

        let mut raw = B64.decode(&sig).unwrap();
        let i = at.index(raw.len());
        raw[i] ^= 1 << bit;
        prop_assert!(!verify(&body, &B64.encode(raw), &key.verifying_key()));
    }
}

proptest! {
    /// The bytes `sign` sends (its serialisation) parse back to the body.
    #[test]
    fn the_signed_bytes_parse_back_to_the_body(data in federation_data()) {
        let bytes = serde_json::to_vec(&data).unwrap();
        prop_assert_eq!(parse_body(&bytes), Ok(data));
    }

    #[test]
    fn the_time_window_is_exact_for_any_clock(timestamp in any::<i64>(), now in any::<i64>()) {
        let d = FederationData { timestamp, ..data() };
        let age = i128::from(now) - i128::from(timestamp);
        let inside = age <= i128::from(MAX_AGE_MS) && -age <= i128::from(MAX_AHEAD_MS);
        prop_assert_eq!(check_envelope(&d, "a", "b", now).is_ok(), inside);
    }

    #[test]
    fn an_event_written_as_the_profile_says_reads_back(event in incoming()) {
        let (op, d) = written(&event);
        prop_assert_eq!(parse_event(op, &d, 50), Ok(event));
    }

    #[test]
    fn reading_any_body_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(data) = parse_body(&bytes) {
            let _ = check_envelope(&data, "a", "b", 0);
            let _ = parse_event(data.op, &data.d, 50);
        }
    }
}
