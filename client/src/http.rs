//! A minimal HTTP/1.1 client over a tokio `TcpStream`: one request per
//! connection (`Connection: close`), bodies delimited by `Content-Length`,
//! chunked transfer coding, or the end of the connection.
//!
//! ```no_run
//! # async fn demo() -> switchboard_client::Result<()> {
//! use serde_json::json;
//! use switchboard_client::Http;
//!
//! let http = Http::new("127.0.0.1:8080");
//! // → POST /api/auth/login {"username":"alice","password":"..."}
//! // ← 200 {"token":"...","user":{"id":"5","username":"alice",...}}
//! let body = json!({"username": "alice", "password": "secret"});
//! let (status, reply) = http.request("POST", "/api/auth/login", None, Some(&body)).await?;
//! assert_eq!(status, 200);
//! let token = reply["token"].as_str().unwrap_or_default();
//! let (_, me) = http.request("GET", "/api/users/@me", Some(token), None).await?;
//! # let _ = me; Ok(()) }
//! ```

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Error, Result};

/// How long one request may take unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A response with its raw body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names and values as received (names keep their case).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON: `Null` when empty, a JSON string of the text when
    /// the body is not JSON.
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// An HTTP/1.1 client for one `host:port`.
#[derive(Debug, Clone)]
pub struct Http {
    addr: String,
    timeout: Option<Duration>,
}

impl Http {
    /// A client for `addr` (`host:port`; a leading `http://` and a trailing
    /// `/` are ignored). Requests time out after [`DEFAULT_TIMEOUT`].
    pub fn new(addr: impl std::fmt::Display) -> Http {
        let addr = addr.to_string();
        let addr = addr.strip_prefix("http://").unwrap_or(&addr);
        Http {
            addr: addr.trim_end_matches('/').to_string(),
            timeout: Some(DEFAULT_TIMEOUT),
        }
    }

    /// The same client with another timeout (`None`: wait for ever).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Http {
        self.timeout = timeout;
        self
    }

    /// The `host:port` requests go to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// A JSON request: `Authorization: Bearer <token>` when `token` is
    /// given, `Content-Type: application/json` when `body` is. Returns the
    /// status and the body as JSON (`Null` when empty, a string when not
    /// JSON), whatever the status.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let (headers, bytes) = match body {
            Some(b) => (
                &[("Content-Type", "application/json")][..],
                serde_json::to_vec(b)?,
            ),
            None => (&[][..], Vec::new()),
        };
        let res = self
            .request_raw(method, path, token, headers, bytes)
            .await?;
        Ok((res.status, res.json()))
    }

    /// A request with any headers and a raw body; the response keeps its
    /// headers and raw body. `Host`, `Connection: close`, `Content-Length`
    /// (for a body, or a method other than GET/HEAD) and the bearer token are
    /// added here.
    pub async fn request_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response> {
        let what = format!("{method} {path}");
        let work = self.exchange(method, path, token, headers, body);
        match self.timeout {
            Some(t) => tokio::time::timeout(t, work)
                .await
                .map_err(|_| Error::Timeout(what))?,
            None => work.await,
        }
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);

        let mut stream = TcpStream::connect(self.addr.as_str()).await?;
        // The server may answer (413, say) before reading the whole body: a
        // failed write only matters when no response comes back.
        let written = stream.write_all(&bytes).await;
        let head_only = method == "HEAD";
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            if let Some(res) = parse_response(&buf, false, head_only)? {
                return Ok(res);
            }
            match stream.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    if let Some(res) = parse_response(&buf, true, head_only)? {
                        return Ok(res);
                    }
                    return Err(e.into());
                }
            }
        }
        match parse_response(&buf, true, head_only)? {
            Some(res) => Ok(res),
            None => match written {
                Err(e) => Err(e.into()),
                Ok(()) => Err(Error::Http(format!(
                    "connection ended after {} bytes of an incomplete response",
                    buf.len()
                ))),
            },
        }
    }
}

/// A complete response at the start of `buf`, `None` when more bytes are
/// needed. `eof`: the connection has ended, so a body without a length ends
/// here. `head_only`: the answer to HEAD, which has no body. Interim 1xx
/// responses are skipped.
pub(crate) fn parse_response(buf: &[u8], eof: bool, head_only: bool) -> Result<Option<Response>> {
    let mut buf = buf;
    loop {
        let Some(end) = find(buf, b"\r\n\r\n") else {
            return if eof {
                Err(Error::Http("connection ended inside the headers".into()))
            } else {
                Ok(None)
            };
        };
        let head = std::str::from_utf8(&buf[..end])
            .map_err(|_| Error::Http("headers are not UTF-8".into()))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .filter(|s| (100..1000).contains(s))
            .ok_or_else(|| Error::Http(format!("bad status line {status_line:?}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let rest = &buf[end + 4..];
        if (100..200).contains(&status) && status != 101 {
            buf = rest;
            continue;
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let chunked =
            get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let body = if head_only || status == 204 || status == 304 || status == 101 {
            Vec::new()
        } else if chunked {
            match dechunk(rest)? {
                Some(b) => b,
                None if eof => return Err(Error::Http("connection ended inside a chunk".into())),
                None => return Ok(None),
            }
        } else if let Some(len) = get("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| Error::Http(format!("bad Content-Length {len:?}")))?;
            if rest.len() < len {
                return if eof {
                    Err(Error::Http(format!(
                        "connection ended after {} of {len} body bytes",
                        rest.len()
                    )))
                } else {
                    Ok(None)
                };
            }
            rest[..len].to_vec()
        } else if eof {
            rest.to_vec()
        } else {
            return Ok(None);
        };
        return Ok(Some(Response {
            status,
            headers,
            body,
        }));
    }
}

/// The body of a chunked message, `None` until the last chunk has arrived.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&rest[..line_end])
            .map_err(|_| Error::Http("chunk size is not UTF-8".into()))?;
        let digits = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(digits, 16)
            .map_err(|_| Error::Http(format!("bad chunk size {line:?}")))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        let needed = size
            .checked_add(2)
            .ok_or_else(|| Error::Http("chunk too large".into()))?;
        if rest.len() < needed {
            return Ok(None);
        }
        if &rest[size..needed] != b"\r\n" {
            return Err(Error::Http("chunk not followed by CRLF".into()));
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[needed..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A `multipart/form-data` body with one file field. Returns the body and
/// its `Content-Type` header value.
///
/// ```text
/// --<boundary>\r\n
/// Content-Disposition: form-data; name="file"; filename="notes.txt"\r\n
/// Content-Type: text/plain\r\n
/// \r\n
/// <bytes>\r\n
/// --<boundary>--\r\n
/// ```
pub fn multipart_file(
    field: &str,
    filename: &str,
    content_type: &str,
    data: &[u8],
) -> (Vec<u8>, String) {
    use rand::Rng;
    let boundary = format!("switchboard-{:032x}", rand::thread_rng().gen::<u128>());
    // Quotes and line breaks in names are percent-encoded, as browsers do.
    let escape = |s: &str| {
        s.replace('"', "%22")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\
         Content-Type: {}\r\n\r\n",
        escape(field),
        escape(filename),
        content_type.replace(['\r', '\n'], "")
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

#[cfg(test)]
mod tests;
