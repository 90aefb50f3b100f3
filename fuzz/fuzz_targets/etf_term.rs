//! Any MQTT payload a NYNJA client can publish: the term decoder must
//! answer with a term or an error within its limits, never panic, and what
//! it decodes must encode and decode to the same term.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocols::nynja::etf::{decode, encode, Limits};

fuzz_target!(|data: &[u8]| {
    if let Ok(term) = decode(data, Limits::default()) {
        let again = encode(&term);
        let back = decode(&again, Limits::default());
        // NaN floats are the one value not equal to themselves.
        if format!("{term:?}").contains("NaN") {
            return;
        }
        assert_eq!(back.as_ref(), Ok(&term));
    }
});
