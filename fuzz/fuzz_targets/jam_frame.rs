//! Any bytes a client can send as a JAM text frame: decoding and request
//! parsing must answer with a value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocols::jam::{decode_frame, parse_request};
use switchboard_protocols::Id;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(frame) = decode_frame(text) {
            let _ = parse_request(&frame, Id(1));
        }
    }
});
