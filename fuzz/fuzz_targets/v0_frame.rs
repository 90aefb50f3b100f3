//! Any bytes a client can send on the V0 port: the incremental decoder, the
//! msgpack payload and the command parser must answer with a value or an
//! error, never panic, however the bytes are split into reads.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use switchboard_protocols::v0::{Inbound, Payload, V0Codec};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(1, |b| (*b as usize % 7) + 1);
    let mut codec = V0Codec { max_payload: 64 * 1024 };
    let mut buf = BytesMut::new();
    for chunk in data.chunks(split) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Ok(p) = Payload::decode(&frame.payload) {
                        let _ = Inbound::parse(&frame.name, &p);
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
