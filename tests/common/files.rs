//! Uploads over JAM REST for the tests: multipart bodies and test data.

use serde_json::Value;

use super::{http_request, TestServer};

pub const BOUNDARY: &str = "switchboard-test-boundary";

/// Deterministic bytes that do not compress or repeat.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A multipart body with one file part, closed by [`BOUNDARY`].
pub fn multipart(field: &str, filename: &str, content_type: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// `POST /api/upload` of `body` with `content_type` → (status, body).
pub async fn post_upload(
    server: &TestServer,
    token: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let res = http_request(
        server.http,
        "POST",
        "/api/upload",
        &[("Authorization", &auth), ("Content-Type", content_type)],
        body,
    )
    .await;
    (res.status, res.json())
}

/// `POST /api/upload` of `data` as the file `name` → (status, body).
pub async fn jam_upload(server: &TestServer, token: &str, name: &str, data: &[u8]) -> (u16, Value) {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let body = multipart("file", name, "application/octet-stream", data);
    post_upload(server, token, &ct, &body).await
}

/// `POST /attachments/upload` on the OriginChats listener with a raw JSON
/// `body` → (status, body).
pub async fn oc_http_upload(server: &TestServer, body: &[u8]) -> (u16, Value) {
    let addr = server.originchats.expect("originchats listener");
    let res = http_request(
        addr,
        "POST",
        "/attachments/upload",
        &[("Content-Type", "application/json")],
        body,
    )
    .await;
    (res.status, res.json())
}
