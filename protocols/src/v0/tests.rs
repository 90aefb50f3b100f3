//! Exact frames, incremental decoding, and round trips.

use bytes::BytesMut;
use proptest::prelude::*;
use rmpv::Value;
use tokio_util::codec::{Decoder, Encoder};

use super::payload::MAX_DEPTH;
use super::*;

fn codec() -> V0Codec {
    V0Codec {
        max_payload: DEFAULT_MAX_PAYLOAD,
    }
}

fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let mut c = codec();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(f) = c.decode(&mut buf)? {
        out.push(f);
    }
    Ok(out)
}

#[test]
fn the_exact_bytes_of_a_frame() {
    let f = Frame {
        name: "KALIVE".into(),
        sig: [0xab; 64],
        payload: b"\x80".to_vec(),
    };
    let bytes = frame::to_bytes(f.clone());
    let mut want = format!("KALIVE\n1\n{}\n", "ab".repeat(64)).into_bytes();
    want.push(0x80);
    assert_eq!(bytes, want);
    assert_eq!(decode_all(&bytes).unwrap(), vec![f]);
}

#[test]
fn split_reads_and_several_commands_per_read() {
    let a = frame::to_bytes(Frame {
        name: "CNN".into(),
        sig: [1; 64],
        payload: vec![0x81, 0xa2, b'i', b'd', 0xa1, b'x'],
    });
    let b = frame::to_bytes(Frame {
        name: "CH_LST".into(),
        sig: [2; 64],
        payload: vec![0x80],
    });
    // Byte by byte: nothing until the last byte of each.
    let mut c = codec();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for byte in a.iter().chain(b"\n").chain(&b) {
        buf.extend_from_slice(&[*byte]);
        while let Some(f) = c.decode(&mut buf).unwrap() {
            got.push(f.name);
        }
    }
    assert_eq!(got, ["CNN", "CH_LST"]);
    // Both in one read, with a stray newline between.
    let mut both = a.clone();
    both.push(b'\n');
    both.extend_from_slice(&b);
    let names: Vec<String> = decode_all(&both)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["CNN", "CH_LST"]);
}

#[test]
fn bad_framing_is_an_error() {
    let sig = "00".repeat(64);
    assert_eq!(decode_all(b"cnn\n1\n"), Err(FrameError::BadName));
    assert_eq!(
        decode_all(format!("CNN\n1x\n{sig}\nx").as_bytes()),
        Err(FrameError::BadLength)
    );
    assert_eq!(
        decode_all(format!("CNN\n65537\n{sig}\n").as_bytes()),
        Err(FrameError::TooLong(65537))
    );
    assert_eq!(
        decode_all(format!("CNN\n1\n{}\nx", "AB".repeat(64)).as_bytes()),
        Err(FrameError::BadSignature)
    );
    assert_eq!(
        decode_all(&[b'A'; 40]),
        Err(FrameError::BadName),
        "an endless name"
    );
    // A truncated payload is not an error yet: it waits.
    assert_eq!(
        decode_all(format!("CNN\n5\n{sig}\nx").as_bytes()),
        Ok(vec![])
    );
}

#[test]
fn signatures() {
    let key = [7u8; 32];
    let sig = sign(&key, b"payload");
    assert!(verify(&key, b"payload", &sig));
    assert!(!verify(&key, b"payloaD", &sig));
    assert!(!verify(&[8u8; 32], b"payload", &sig));
    // HMAC-SHA3-512 is 64 bytes and not SHA3-512 of key ‖ payload.
    assert_eq!(sig.len(), 64);
}

#[test]
fn payloads_need_a_map_with_string_keys() {
    let mut p = Payload::default();
    p.put("id", "alice");
    p.put("timestamp", 1_702_622_553i64);
    p.put("nouce", 15_074_760_468_938_913_545u64);
    let back = Payload::decode(&p.encode()).unwrap();
    assert_eq!(back.nonce(), Some(15_074_760_468_938_913_545));
    assert_eq!(back.timestamp(), Some(1_702_622_553));
    assert_eq!(Payload::decode(&[0x91, 0x01]), Err(PayloadError::NotAMap));
    assert_eq!(Payload::decode(&[]), Err(PayloadError::NotMsgpack));
    assert_eq!(
        Payload::decode(&[0x82, 0xa1]),
        Err(PayloadError::NotMsgpack)
    );
    assert_eq!(Payload::decode(&[0x80, 0x80]), Err(PayloadError::Trailing));
    let int_key = [0x81, 0x01, 0x02];
    assert_eq!(Payload::decode(&int_key), Err(PayloadError::NotAMap));
}

/// `leaf` inside `levels` arrays.
fn nested(levels: usize, leaf: Value) -> Value {
    (0..levels).fold(leaf, |v, _| Value::Array(vec![v]))
}

#[test]
fn payloads_nested_one_past_the_depth_limit_are_refused() {
    let leaves = [
        Value::Nil,
        Value::from(7),
        Value::from("text"),
        Value::Binary(vec![1, 2, 3]),
        Value::Ext(5, vec![9]),
        Value::Map(Vec::new()),
    ];
    for leaf in leaves {
        // The payload's own map is level 1; an empty map leaf is one more.
        let extra = usize::from(matches!(leaf, Value::Map(_)));
        let at = |levels: usize| {
            let mut p = Payload::default();
            p.put("timestamp", 1i64);
            p.put("deep", nested(levels - 1 - extra, leaf.clone()));
            p.encode()
        };
        let ok = Payload::decode(&at(MAX_DEPTH));
        assert!(ok.is_ok(), "{leaf}: exactly {MAX_DEPTH} levels: {ok:?}");
        assert_eq!(
            Payload::decode(&at(MAX_DEPTH + 1)),
            Err(PayloadError::TooDeep),
            "{leaf}"
        );
    }
    // Nesting in a key counts too.
    let top = Value::Map(vec![(nested(MAX_DEPTH, Value::Nil), Value::Nil)]);
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &top).unwrap();
    assert_eq!(Payload::decode(&bytes), Err(PayloadError::TooDeep));
    // A hundred thousand levels stop early, without exhausting the stack.
    let mut deep = vec![0x81, 0xa1, b'x'];
    deep.extend(std::iter::repeat_n(0x91, 100_000));
    deep.push(0xc0);
    assert_eq!(Payload::decode(&deep), Err(PayloadError::TooDeep));
}

#[test]
fn sinfo_carries_both_spellings() {
    let f = signed(
        "SINFO",
        Outbound::Sinfo {
            server_name: "sb".into(),
            timeout_s: 180,
        }
        .fields(),
        b"k",
        1_700_000_000,
    );
    let p = Payload::decode(&f.payload).unwrap();
    assert_eq!(p.get("protocol_version"), Some(&Value::from(0)));
    assert_eq!(p.get("protocol_verion"), Some(&Value::from(0)));
    assert_eq!(p.get("timeout_s"), Some(&Value::from(180)));
    assert_eq!(p.timestamp(), Some(1_700_000_000));
    assert!(p.nonce().is_some());
    assert!(verify(b"k", &f.payload, &f.sig));
}

#[test]
fn missing_fields_are_named() {
    let p = Payload::default();
    assert_eq!(Inbound::parse("CH_MSG", &p), Err(ParseError::Missing("id")));
    assert_eq!(Inbound::parse("NOPE", &p), Err(ParseError::Unknown));
    assert_eq!(Inbound::parse("KALIVE", &p), Ok(Inbound::Kalive));
}

#[test]
fn derived_msg_ids_carry_the_message_id() {
    let id = derived_msg_id(1_700_000_000_000, 385_726_983_339_773_952);
    assert!(is_ulid(&id), "{id}");
    assert_eq!(derived_message_id(&id), Some(385_726_983_339_773_952));
    let client = ulid::Ulid::new().to_string();
    assert!(is_ulid(&client));
    assert!(!is_ulid("not-a-ulid"));
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        ".{0,40}".prop_map(Body::Text),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Body::Bytes),
    ]
}

fn inbound() -> impl Strategy<Value = Inbound> {
    let s = "[0-9A-Za-z]{1,26}";
    prop_oneof![
        s.prop_map(|id| Inbound::Cnn { id }),
        Just(Inbound::Kalive),
        Just(Inbound::LstUsr),
        (s, s, body()).prop_map(|(to, msg_id, msg)| Inbound::PvMsg { to, msg_id, msg }),
        (s, s).prop_map(|(from, msg_id)| Inbound::AckMsg { from, msg_id }),
        (s, proptest::option::of(s)).prop_map(|(id, anchor)| Inbound::ChPull { id, anchor }),
        (s, s, body()).prop_map(|(id, msg_id, msg)| Inbound::ChMsg { id, msg_id, msg }),
        (s, proptest::collection::vec(s, 0..4))
            .prop_map(|(id, acks)| Inbound::ChCommit { id, acks }),
        any::<u64>().prop_map(|election| Inbound::ChLead { election }),
        (any::<u64>(), s).prop_map(|(election, user)| Inbound::ChVote { election, user }),
        (
            s,
            s,
            s,
            body(),
            any::<i64>(),
            proptest::collection::vec(s, 0..3)
        )
            .prop_map(|(id, mid, from, msg, timestamp, acks)| Inbound::ChMerge {
                id,
                msg: vec![HistoryEntry {
                    id: mid,
                    from,
                    msg,
                    timestamp,
                    acks
                }],
            }),
    ]
}

proptest! {
    /// Encode then decode gives back the command (through the bytes).
    #[test]
    fn commands_round_trip(cmd in inbound(), now in 0i64..4_000_000_000) {
        let key = [3u8; 32];
        let f = signed(cmd.name(), cmd.fields(), &key, now);
        let mut buf = BytesMut::new();
        codec().encode(f, &mut buf).unwrap();
        let back = codec().decode(&mut buf).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        prop_assert!(verify(&key, &back.payload, &back.sig));
        let p = Payload::decode(&back.payload).unwrap();
        prop_assert_eq!(p.timestamp(), Some(now));
        prop_assert_eq!(Inbound::parse(&back.name, &p), Ok(cmd));
    }

    #[test]
    fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_all(&bytes);
        let _ = Payload::decode(&bytes);
    }
}
