//! Any bytes a client can send as an OriginChats text frame: decoding must
//! answer with a frame or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocols::originchats::decode;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode(text);
    }
});
