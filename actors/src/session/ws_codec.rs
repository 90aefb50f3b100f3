//! The WebSocket codec with its size limit checked at the frame header.
//!
//! actix-http's decoder compares a frame's length with its `max_size` only
//! once the whole payload has arrived, so a header declaring 2^62 bytes
//! makes it buffer everything the peer sends. This wrapper reads the
//! declared length as soon as the header is in and refuses the frame then
//! (`ProtocolError::Overflow`, which the sessions answer with close 1009),
//! before a byte of the payload is kept.
//!
//! # Format (RFC 6455 §5.2)
//! ```text
//! byte 0: FIN RSV1-3 opcode   byte 1: MASK len7
//! len7 = 126 → 2 more bytes of length; 127 → 8 more bytes
//! ```

use actix_codec::{Decoder, Encoder};
use actix_http::ws::{Codec, Frame, Message, ProtocolError};
use bytes::BytesMut;

/// [`Codec`] that refuses an over-long frame when its header arrives.
pub struct LimitedCodec {
    inner: Codec,
    max: usize,
}

impl LimitedCodec {
    /// A server-side codec for frames of at most `max` payload bytes.
    pub fn new(max: usize) -> LimitedCodec {
        LimitedCodec {
            inner: Codec::new().max_size(max),
            max,
        }
    }
}

/// The payload length a frame header declares, once enough of the header
/// is buffered.
pub fn declared_length(src: &[u8]) -> Option<u64> {
    let len7 = src.get(1)? & 0x7F;
    match len7 {
        126 => {
            let b = src.get(2..4)?;
            Some(u64::from(u16::from_be_bytes([b[0], b[1]])))
        }
        127 => {
            let b: [u8; 8] = src.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(b))
        }
        n => Some(u64::from(n)),
    }
}

impl Decoder for LimitedCodec {
    type Item = Frame;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        if let Some(len) = declared_length(src) {
            if len > self.max as u64 {
                // What is buffered is dropped with the connection; nothing
                // more of this frame is read.
                src.clear();
                return Err(ProtocolError::Overflow);
            }
        }
        self.inner.decode(src)
    }
}

impl Encoder<Message> for LimitedCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        self.inner.encode(item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked_header(len7: u8, ext: &[u8]) -> BytesMut {
        let mut b = BytesMut::new();
        b.extend_from_slice(&[0x81, 0x80 | len7]);
        b.extend_from_slice(ext);
        b
    }

    #[test]
    fn a_huge_declared_length_is_refused_with_the_header_alone() {
        let mut c = LimitedCodec::new(1024);
        let mut src = masked_header(127, &(1u64 << 62).to_be_bytes());
        assert!(matches!(c.decode(&mut src), Err(ProtocolError::Overflow)));
        assert!(src.is_empty());
    }

    #[test]
    fn a_16_bit_length_over_the_limit_is_refused() {
        let mut c = LimitedCodec::new(1024);
        let mut src = masked_header(126, &1025u16.to_be_bytes());
        assert!(matches!(c.decode(&mut src), Err(ProtocolError::Overflow)));
    }

    #[test]
    fn a_frame_at_the_limit_waits_for_its_payload() {
        let mut c = LimitedCodec::new(1024);
        let mut src = masked_header(126, &1024u16.to_be_bytes());
        src.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(c.decode(&mut src), Ok(None)));
    }

    #[test]
    fn partial_headers_wait() {
        assert_eq!(declared_length(&[0x81]), None);
        assert_eq!(declared_length(&[0x81, 0xFF, 0, 0]), None);
        assert_eq!(declared_length(&[0x81, 0xFE, 1]), None);
        assert_eq!(declared_length(&[0x81, 0x85]), Some(5));
    }

    #[test]
    fn small_frames_decode_as_before() {
        let mut c = LimitedCodec::new(1024);
        // "hi", masked with a zero key.
        let mut src = BytesMut::from(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i'][..]);
        match c.decode(&mut src) {
            Ok(Some(Frame::Text(t))) => assert_eq!(&t[..], b"hi"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
