//! Generators the round-trip property tests share.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys a dialect gives a meaning to: drawn often, so that the tests meet
/// them, and then removed wherever a test needs its own value there.
const KEYWORDS: [&str; 10] = [
    "type", "cmd", "listener", "ref", "op", "d", "s", "session", "source", "dest",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => ".{0,8}",
        1 => proptest::sample::select(&KEYWORDS[..]).prop_map(str::to_string),
    ]
}

/// Any JSON value without floats: serde_json's default float parser may
/// land one ULP off, which is not what these tests are about.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A JSON object whose top level has none of `reserved`: they are removed
/// after generation, never filtered out by rejection, so every case runs.
pub fn object_without(
    reserved: &'static [&'static str],
) -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec((key(), json_value()), 0..6).prop_map(move |kv| {
        let mut m: Map<String, Value> = kv.into_iter().collect();
        for k in reserved {
            m.remove(*k);
        }
        m
    })
}
