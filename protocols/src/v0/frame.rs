//! V0 framing: `NAME\nLEN\nSIG\n` and exactly LEN bytes of payload.
//!
//! # Format
//! ```text
//! CNN\n42\n<128 lowercase hex: HMAC-SHA3-512 of the payload>\n<42 bytes of msgpack>
//! ```
//! A single stray `\n` between commands is tolerated. The decoder is
//! incremental (tokio-util): a command split across reads waits for the
//! rest, and one read may hold several commands.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Longest command name.
pub const MAX_NAME: usize = 32;
/// Longest LEN field (the decimal digits).
const MAX_LEN_DIGITS: usize = 10;
/// SIG: 64 bytes as lowercase hex.
pub const SIG_HEX: usize = 128;

/// One command on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub name: String,
    pub sig: [u8; 64],
    pub payload: Vec<u8>,
}

/// Why a byte stream is not V0: the connection must close.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("bad command name")]
    BadName,
    #[error("length is not a decimal number")]
    BadLength,
    #[error("payload of {0} bytes is over the limit")]
    TooLong(usize),
    #[error("signature is not 128 lowercase hex characters")]
    BadSignature,
    #[error("i/o: {0}")]
    Io(String),
}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        FrameError::Io(e.to_string())
    }
}

/// The V0 codec, with the payload limit (`v0.max_payload`).
#[derive(Debug, Clone)]
pub struct V0Codec {
    pub max_payload: usize,
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn parse_sig(hex: &[u8]) -> Result<[u8; 64], FrameError> {
    if hex.len() != SIG_HEX {
        return Err(FrameError::BadSignature);
    }
    let mut out = [0u8; 64];
    for (i, pair) in hex.chunks(2).enumerate() {
        let (Some(h), Some(l)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
            return Err(FrameError::BadSignature);
        };
        out[i] = h << 4 | l;
    }
    Ok(out)
}

/// The position of the `n`-th newline, or why there is none yet: `Ok(None)`
/// means wait for more bytes; an error means the line is already too long.
fn line_end(
    buf: &[u8],
    from: usize,
    max: usize,
    err: FrameError,
) -> Result<Option<usize>, FrameError> {
    let window = &buf[from..buf.len().min(from + max + 1)];
    match window.iter().position(|&b| b == b'\n') {
        Some(p) => Ok(Some(from + p)),
        None if window.len() > max => Err(err),
        None => Ok(None),
    }
}

impl Decoder for V0Codec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        // A stray newline between commands.
        if src.first() == Some(&b'\n') {
            src.advance(1);
        }
        let Some(n1) = line_end(src, 0, MAX_NAME, FrameError::BadName)? else {
            return Ok(None);
        };
        let name = &src[..n1];
        if name.is_empty() || !name.iter().all(|c| c.is_ascii_uppercase() || *c == b'_') {
            return Err(FrameError::BadName);
        }
        let Some(n2) = line_end(src, n1 + 1, MAX_LEN_DIGITS, FrameError::BadLength)? else {
            return Ok(None);
        };
        let digits = &src[n1 + 1..n2];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(FrameError::BadLength);
        }
        let len: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or(FrameError::BadLength)?;
        if len > self.max_payload {
            return Err(FrameError::TooLong(len));
        }
        let Some(n3) = line_end(src, n2 + 1, SIG_HEX, FrameError::BadSignature)? else {
            return Ok(None);
        };
        let sig = parse_sig(&src[n2 + 1..n3])?;
        let total = n3 + 1 + len;
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        let name = String::from_utf8_lossy(&src[..n1]).into_owned();
        let payload = src[n3 + 1..total].to_vec();
        src.advance(total);
        Ok(Some(Frame { name, sig, payload }))
    }
}

impl Encoder<Frame> for V0Codec {
    type Error = FrameError;

    fn encode(&mut self, f: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(f.name.len() + 24 + SIG_HEX + f.payload.len());
        dst.put_slice(f.name.as_bytes());
        dst.put_u8(b'\n');
        dst.put_slice(f.payload.len().to_string().as_bytes());
        dst.put_u8(b'\n');
        let mut sig = [0u8; SIG_HEX];
        // A buffer of exactly twice the signature's length cannot be refused.
        let _ = hex::encode_to_slice(f.sig, &mut sig);
        dst.put_slice(&sig);
        dst.put_u8(b'\n');
        dst.put_slice(&f.payload);
        Ok(())
    }
}

/// The bytes of one frame.
pub fn to_bytes(f: Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    // Encoding into memory cannot fail.
    let _ = V0Codec {
        max_payload: usize::MAX,
    }
    .encode(f, &mut out);
    out.to_vec()
}
