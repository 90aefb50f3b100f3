//! Any `POST /federation/receive` a peer can send: the signature check over
//! the raw bytes, the body's JSON, the envelope and the event's fields must
//! answer with a value or a refusal, never panic. The input is the
//! `X-JAM-Signature` header, a newline, then the body.
//!
//! A fuzzer cannot forge a signature, so everything after the check runs
//! whatever it answers: a peer we trust can still send any body. What
//! parses must also sign, verify and parse back to itself.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchboard_protocols::federation::{
    check_envelope, parse_body, parse_event, sign, verify, SigningKey,
};

/// 2023-11-14, a fixed clock so a crash reproduces.
const NOW: i64 = 1_700_000_000_000;

/// Deriving the public key is a scalar multiplication: once per process.
fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_bytes(&[7; 32]))
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

fuzz_target!(|input: &[u8]| {
    let (signature, body) = match input.iter().position(|b| *b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (&b""[..], input),
    };
    let key = key();
    if let Ok(signature) = std::str::from_utf8(signature) {
        let _ = verify(body, signature, &key.verifying_key());
    }
    let Ok(data) = parse_body(body) else {
        return;
    };
    let _ = check_envelope(&data, "a.example", "b.example", NOW);
    let _ = parse_event(data.op, &data.d, 2000);

    let (signed, signature) = sign(&data, key);
    assert!(verify(&signed, &signature, &key.verifying_key()));
    let back = parse_body(&signed);
    // serde_json's default float parser may land one ULP off.
    if !has_float(&data.d) {
        assert_eq!(back, Ok(data));
    } else {
        assert!(back.is_ok());
    }
});
