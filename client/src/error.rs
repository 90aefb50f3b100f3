//! The one error type of the client.

use serde_json::Value;

/// What can go wrong talking to a JAM server, or opening what it relayed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP connection failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket layer failed (handshake, framing, a closed stream).
    #[error("websocket error: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// A request body could not be encoded, or a reply that must be JSON
    /// was not.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
    /// Nothing arrived within the configured timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The server's HTTP response could not be parsed.
    #[error("malformed HTTP response: {0}")]
    Http(String),
    /// The server broke the JAM framing: a text frame that is not a JSON
    /// object with an integer `op`, or an `s` that is not one above the
    /// previous one.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// A frame other than the one waited for (and not one that is skipped).
    #[error("expected op {expected}, got {frame}")]
    UnexpectedFrame {
        /// The op that was waited for.
        expected: i64,
        /// The whole frame received instead.
        frame: Value,
    },
    /// The server closed the WebSocket (close code and reason, when it sent
    /// a close frame), or the connection ended.
    #[error("connection closed: {0:?}")]
    Closed(Option<(u16, String)>),
    /// The server answered with op 4 Error while another op was awaited.
    ///
    /// ```text
    /// {"op":4,"d":{"code":"INVALID","message":"...","op":10,"ref":"c-1"},"s":7}
    /// ```
    #[error("server error {code}: {message}")]
    Jam {
        /// `d.code`, e.g. `INVALID`.
        code: String,
        /// `d.message`.
        message: String,
        /// The whole `d`.
        d: Value,
    },
    /// A REST call answered with a status that is not 2xx. `body` is the
    /// JSON body (`{"error":{"code","message"}}`), `Null` when empty, or
    /// a string when it was not JSON.
    #[error("HTTP {status}: {body}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The decoded body.
        body: Value,
    },
    /// A key, nonce or ciphertext that does not decode, is the wrong size,
    /// or does not authenticate.
    #[error("crypto error: {0}")]
    Crypto(String),
}

impl Error {
    /// The JAM error code of an op 4 (`d.code`) or of a REST error body
    /// (`error.code`), when this error carries one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Jam { code, .. } => Some(code),
            Error::Api { body, .. } => body["error"]["code"].as_str(),
            _ => None,
        }
    }

    /// The HTTP status of a REST error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Error {
        Error::WebSocket(Box::new(e))
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
