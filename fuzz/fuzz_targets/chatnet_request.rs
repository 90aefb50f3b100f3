//! Any bytes a client can send as a chat-network text frame: decoding must
//! answer with a request or a reason, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocols::chatnet::decode;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode(text);
    }
});
