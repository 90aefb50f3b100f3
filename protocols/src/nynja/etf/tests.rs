//! The ETF codec against real bytes: the 2018 NYNJA captures (client and
//! server payloads), terms written by Erlang/OTP 25, and round trips.

use proptest::prelude::*;

use super::*;

/// `(topic, bytes)` of every capture in the fixture file.
fn captures() -> Vec<(String, Vec<u8>)> {
    let text = include_str!("testdata/nynja-captures-2018.txt");
    let mut out = Vec::new();
    let mut topic = String::new();
    let mut next_is_topic = false;
    for line in text.lines() {
        let line = line.trim();
        if next_is_topic && !line.is_empty() {
            topic = line.to_string();
            next_is_topic = false;
        }
        if line.ends_with("Topic:") {
            next_is_topic = true;
        }
        if let Some(start) = line.find("<<") {
            let end = line.find(">>").expect("closing >>");
            let bytes: Vec<u8> = line[start + 2..end]
                .split(',')
                .map(|b| b.trim().parse().expect("a byte"))
                .collect();
            out.push((topic.clone(), bytes));
        }
    }
    out
}

#[test]
fn every_capture_decodes_and_client_ones_are_records() {
    let all = captures();
    assert_eq!(all.len(), 36, "36 payloads in the fixture");
    for (topic, bytes) in &all {
        let term =
            decode(bytes, Limits::default()).unwrap_or_else(|e| panic!("{topic}: {e}: {bytes:?}"));
        if topic.starts_with("events/") {
            assert!(term.record_name().is_some(), "{topic}: {term:?}");
        }
    }
}

/// Re-encoding gives the captured bytes back, except where the client wrote
/// something OTP would not (an empty LIST_EXT, a trailing byte).
#[test]
fn server_payloads_are_reproduced_byte_for_byte() {
    let mut same = 0;
    for (topic, bytes) in captures() {
        let term = decode(&bytes, Limits::default()).expect("decodes");
        let again = encode(&term);
        if topic.starts_with("events/") {
            continue;
        }
        assert_eq!(again, bytes, "{topic}: {term:?}");
        same += 1;
    }
    assert!(same >= 10, "only {same} server payloads");
}

#[test]
fn the_login_capture() {
    let (_, bytes) = captures().remove(0);
    let term = decode(&bytes, Limits::default()).unwrap();
    let fields = term.record_fields("Auth").expect("an Auth record");
    assert_eq!(fields.len(), 14, "Auth is a 15-tuple");
    assert_eq!(fields[3].as_text().as_deref(), Some("8613777322455"));
    assert_eq!(fields[5].as_atom(), Some("reg"));
}

/// Every term in `testdata/otp25.txt`, written by `term_to_binary` on
/// Erlang/OTP 25 (`testdata/etf_gen.erl`, run with Debian's erlang-base),
/// decodes and is written back byte for byte.
#[test]
fn otp25_generated_terms_round_trip() {
    let text = include_str!("testdata/otp25.txt");
    let mut n = 0;
    for line in text.lines() {
        let (name, bytes) = line.split_once('\t').expect("name<TAB>bytes");
        let bytes: Vec<u8> = bytes.split(',').map(|b| b.parse().expect("byte")).collect();
        let term = decode(&bytes, Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(encode(&term), bytes, "{name}: {term:?}");
        n += 1;
    }
    assert_eq!(n, 22);
    let find = |want: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{want}\t")))
            .expect(want);
        let bytes: Vec<u8> = line
            .split_once('\t')
            .unwrap()
            .1
            .split(',')
            .map(|b| b.parse().unwrap())
            .collect();
        decode(&bytes, Limits::default()).unwrap()
    };
    assert_eq!(find("timestamp_ms"), Term::Int(1_530_801_700_714));
    assert_eq!(find("utf8_atom"), Term::atom("Ωmega"));
    assert_eq!(find("utf8_binary"), Term::bin("Привет ✓"));
    let msg = find("p2p_message");
    assert_eq!(msg.record_fields("Message").map(<[Term]>::len), Some(16));
}

/// Terms built here, against the bytes OTP 25 writes for them.
#[test]
fn otp25_bytes() {
    let cases: Vec<(Term, Vec<u8>)> = vec![
        (
            // {io,{ok,added},{ok,added}}
            Term::tuple([
                Term::atom("io"),
                Term::tuple([Term::atom("ok"), Term::atom("added")]),
                Term::tuple([Term::atom("ok"), Term::atom("added")]),
            ]),
            vec![
                131, 104, 3, 100, 0, 2, 105, 111, 104, 2, 100, 0, 2, 111, 107, 100, 0, 5, 97, 100,
                100, 101, 100, 104, 2, 100, 0, 2, 111, 107, 100, 0, 5, 97, 100, 100, 101, 100,
            ],
        ),
        // 1530801700714 (a millisecond timestamp)
        (
            Term::Int(1_530_801_700_714),
            vec![131, 110, 6, 0, 106, 63, 228, 106, 100, 1],
        ),
        (Term::Int(-15), vec![131, 98, 255, 255, 255, 241]),
        (Term::Int(255), vec![131, 97, 255]),
        (Term::Int(256), vec![131, 98, 0, 0, 1, 0]),
        (Term::nil(), vec![131, 106]),
        // [1,2,3] is a STRING_EXT
        (
            Term::List(vec![Term::Int(1), Term::Int(2), Term::Int(3)]),
            vec![131, 107, 0, 3, 1, 2, 3],
        ),
        (
            Term::List(vec![Term::Int(1000)]),
            vec![131, 108, 0, 0, 0, 1, 98, 0, 0, 3, 232, 106],
        ),
        (Term::bin("hi"), vec![131, 109, 0, 0, 0, 2, 104, 105]),
        (Term::Float(1.5), vec![131, 70, 63, 248, 0, 0, 0, 0, 0, 0]),
        // 'Ω' is not latin-1: SMALL_ATOM_UTF8_EXT.
        (Term::atom("Ω"), vec![131, 119, 2, 206, 169]),
    ];
    for (term, bytes) in cases {
        assert_eq!(encode(&term), bytes, "{term:?}");
        assert_eq!(decode(&bytes, Limits::default()).unwrap(), term);
    }
}

#[test]
fn every_variant_a_client_may_send() {
    let d = |b: &[u8]| decode(b, Limits::default());
    // Atom tags 100, 115, 118, 119.
    for b in [
        &[131, 100, 0, 2, 111, 107][..],
        &[131, 115, 2, 111, 107],
        &[131, 118, 0, 2, 111, 107],
        &[131, 119, 2, 111, 107],
    ] {
        assert_eq!(d(b), Ok(Term::atom("ok")));
    }
    // A zero-length LIST_EXT, and a stray trailing byte.
    assert_eq!(d(&[131, 108, 0, 0, 0, 0, 106]), Ok(Term::nil()));
    assert_eq!(d(&[131, 97, 7, 0]), Ok(Term::Int(7)));
    // LARGE_TUPLE, LARGE_BIG, old FLOAT_EXT, maps, improper lists.
    assert_eq!(
        d(&[131, 105, 0, 0, 0, 1, 97, 1]),
        Ok(Term::Tuple(vec![Term::Int(1)]))
    );
    assert_eq!(d(&[131, 111, 0, 0, 0, 1, 1, 5]), Ok(Term::Int(-5)));
    let mut old_float = vec![131, 99];
    let mut s = b"1.50000000000000000000e+00".to_vec();
    s.resize(31, 0);
    old_float.extend_from_slice(&s);
    assert_eq!(d(&old_float), Ok(Term::Float(1.5)));
    assert_eq!(
        d(&[131, 116, 0, 0, 0, 1, 97, 1, 97, 2]),
        Ok(Term::Map(vec![(Term::Int(1), Term::Int(2))]))
    );
    assert_eq!(
        d(&[131, 108, 0, 0, 0, 1, 97, 1, 97, 2]),
        Ok(Term::ImproperList(
            vec![Term::Int(1)],
            Box::new(Term::Int(2))
        ))
    );
    // Beyond i64: kept as a big integer, written back the same.
    let big = [131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let t = d(&big).unwrap();
    assert!(matches!(t, Term::BigInt { .. }));
    assert_eq!(encode(&t), big);
}

#[test]
fn limits_and_bad_input() {
    let d = |b: &[u8]| decode(b, Limits::default());
    assert_eq!(d(&[]), Err(EtfError::NoVersion));
    assert_eq!(d(&[130, 106]), Err(EtfError::NoVersion));
    assert_eq!(d(&[131]), Err(EtfError::Truncated));
    assert_eq!(d(&[131, 109, 0, 0, 0, 9, 1]), Err(EtfError::Truncated));
    assert_eq!(d(&[131, 200]), Err(EtfError::UnknownTag(200)));
    // A list claiming four billion elements is refused before allocating.
    assert_eq!(
        d(&[131, 108, 255, 255, 255, 255]),
        Err(EtfError::TooBig(100_000))
    );
    // Nesting past the limit.
    let mut deep = vec![131];
    for _ in 0..100 {
        deep.extend_from_slice(&[104, 1]);
    }
    deep.push(106);
    assert_eq!(d(&deep), Err(EtfError::TooDeep(64)));
    let tight = Limits {
        max_depth: 64,
        max_elements: 2,
    };
    assert_eq!(
        decode(&[131, 104, 3, 97, 1, 97, 2, 97, 3], tight),
        Err(EtfError::TooBig(2))
    );
    assert_eq!(d(&[131, 119, 1, 255]), Err(EtfError::BadAtom));
}

/// `[]` inside `levels` 1-tuples: the nil sits at depth `levels`.
fn nested_tuples(levels: usize) -> Vec<u8> {
    let mut bytes = vec![131];
    for _ in 0..levels {
        bytes.extend_from_slice(&[104, 1]);
    }
    bytes.push(106);
    bytes
}

#[test]
fn depth_and_element_limits_hold_exactly() {
    let limits = Limits::default();
    assert!(decode(&nested_tuples(limits.max_depth), limits).is_ok());
    assert_eq!(
        decode(&nested_tuples(limits.max_depth + 1), limits),
        Err(EtfError::TooDeep(limits.max_depth))
    );
    // Elements of every tuple, list (STRING_EXT too) and map, all levels
    // together: {[1, ..., 1], "ab"} counts 2 + n + 2.
    let term = |n: usize| {
        let mut bytes = vec![131, 104, 2, 108];
        bytes.extend_from_slice(&(n as u32).to_be_bytes());
        for _ in 0..n {
            bytes.extend_from_slice(&[97, 1]);
        }
        bytes.extend_from_slice(&[106, 107, 0, 2, b'a', b'b']);
        bytes
    };
    let max = limits.max_elements;
    assert!(decode(&term(max - 4), limits).is_ok());
    assert_eq!(decode(&term(max - 3), limits), Err(EtfError::TooBig(max)));
}

fn term() -> impl Strategy<Value = Term> {
    let leaf = prop_oneof![
        "[a-z_]{1,12}".prop_map(Term::Atom),
        "\\PC{1,4}".prop_map(Term::Atom),
        any::<i64>().prop_map(Term::Int),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(Term::Float),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Term::Binary),
        Just(Term::nil()),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Term::Tuple),
            proptest::collection::vec(inner.clone(), 1..6).prop_map(Term::List),
            proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Term::Map),
        ]
    })
}

// Lists of small ints come back as the same list (through STRING_EXT);
// everything else is identical.
proptest! {
    #[test]
    fn encode_then_decode_gives_the_term_back(t in term()) {
        let bytes = encode(&t);
        prop_assert_eq!(decode(&bytes, Limits::default()), Ok(t));
    }

    #[test]
    fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut with_version = vec![131];
        with_version.extend_from_slice(&bytes);
        let _ = decode(&with_version, Limits::default());
    }
}
