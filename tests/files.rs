//! Uploads: deduplication, compression (checked with the reference `zstd`
//! tool), raw storage of incompressible data, deletes that keep shared
//! chunks, ranges, attachments, and every bad upload.

mod common;

use std::process::Command;

use common::*;
use serde_json::{json, Value};
use switchboard_protocols::Id;

/// Text that compresses well but never repeats a 64 KiB chunk.
fn text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("line {i:08} of the switchboard upload test\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

async fn upload(server: &TestServer, token: &str, name: &str, data: &[u8]) -> Value {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let (status, file) = post_upload(
        server,
        token,
        &ct,
        &multipart("file", name, "application/octet-stream", data),
    )
    .await;
    assert_eq!(status, 201, "upload {name}: {file}");
    assert_eq!(file["filename"], name);
    assert_eq!(file["size"], data.len() as u64);
    assert_eq!(file["content_type"], "application/octet-stream");
    let id = assert_id(&file["id"], "file id");
    assert_eq!(file["url"], format!("/api/files/{id}"));
    file
}

async fn download(server: &TestServer, token: &str, id: &str, range: Option<&str>) -> HttpResponse {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(r) = range {
        headers.push(("Range", r));
    }
    http_request(
        server.http,
        "GET",
        &format!("/api/files/{id}"),
        &headers,
        &[],
    )
    .await
}

async fn file_stats(server: &TestServer) -> Value {
    server.stats().await["files"].clone()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_same_file_twice_is_stored_once_and_downloads_intact() {
    let server = TestServer::start();
    let (token, _) = rest_register(&server, "alice").await;
    let data = noise(5 * 1024 * 1024, 7);
    let a = upload(&server, &token, "one.bin", &data).await;
    assert_eq!(a["sha256"], sha256_hex(&data));
    let after_one = file_stats(&server).await;
    let b = upload(&server, &token, "two.bin", &data).await;
    assert_ne!(a["id"], b["id"]);
    let after_two = file_stats(&server).await;
    assert_eq!(
        after_two["stored_bytes"], after_one["stored_bytes"],
        "no new chunk may be stored"
    );
    assert_eq!(after_two["unique_bytes"], after_one["unique_bytes"]);
    assert_eq!(after_two["logical_bytes"], 2 * data.len() as u64);
    assert_eq!(after_two["dedup_ratio"].as_f64(), Some(2.0));
    for f in [&a, &b] {
        let res = download(&server, &token, f["id"].as_str().unwrap(), None).await;
        assert_eq!(res.status, 200);
        assert!(res.body == data, "download differs from the upload");
        assert_eq!(
            res.header("content-length"),
            Some(data.len().to_string().as_str())
        );
        assert_eq!(
            res.header("etag"),
            Some(format!("\"{}\"", sha256_hex(&data)).as_str())
        );
        assert_eq!(res.header("content-type"), Some("application/octet-stream"));
        assert_eq!(res.header("accept-ranges"), Some("bytes"));
    }
    // A range that crosses a chunk boundary.
    let id = a["id"].as_str().unwrap();
    let res = download(&server, &token, id, Some("bytes=65530-65545")).await;
    assert_eq!(res.status, 206);
    assert_eq!(
        res.header("content-range"),
        Some(format!("bytes 65530-65545/{}", data.len()).as_str())
    );
    assert!(res.body == data[65530..65546]);
    let res = download(&server, &token, id, Some("bytes=-10")).await;
    assert_eq!(
        (res.status, res.body.as_slice()),
        (206, &data[data.len() - 10..])
    );
}

#[tokio::test]
async fn compressible_files_shrink_and_the_zstd_tool_reads_the_chunks() {
    let mut server = TestServer::start();
    let (token, _) = rest_register(&server, "alice").await;
    let data = text(10 * 1024 * 1024);
    let file = upload(&server, &token, "log.txt", &data).await;
    let stats = file_stats(&server).await;
    let stored = stats["stored_bytes"].as_u64().unwrap();
    assert!(
        stored < 2 * 1024 * 1024,
        "10 MiB of text stored in {stored} bytes"
    );
    assert!(stored < 1024 * 1024, "well under 2 MiB: {stored}");
    assert!(
        stats["compression_ratio"].as_f64().unwrap() > 10.0,
        "{stats}"
    );
    let res = download(&server, &token, file["id"].as_str().unwrap(), None).await;
    assert!(res.body == data);
    assert_eq!(server.stop().code(), Some(0));

    let store = server.open_store();
    let id: u64 = file["id"].as_str().unwrap().parse().unwrap();
    let record = store.file(Id(id)).unwrap().expect("file record");
    let dir = tempfile::tempdir().unwrap();
    let mut rebuilt = Vec::new();
    for (i, hash) in record.chunk_hashes().enumerate() {
        let chunk = store.chunk(&hash).unwrap().expect("chunk");
        assert!(
            chunk.compressed,
            "chunk {i} of a text file must be compressed"
        );
        let path = dir.path().join(format!("{i}.zst"));
        std::fs::write(&path, &chunk.data).unwrap();
        let out = Command::new("zstd")
            .arg("-d")
            .arg("-c")
            .arg(&path)
            .output()
            .expect("the zstd tool (install the `zstd` package)");
        assert!(
            out.status.success(),
            "zstd -d failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        rebuilt.extend_from_slice(&out.stdout);
    }
    assert!(
        rebuilt == data,
        "zstd -d of the stored chunks must give the file back"
    );
}

#[tokio::test]
async fn incompressible_and_small_files_are_stored_raw() {
    let mut server = TestServer::start();
    let (token, _) = rest_register(&server, "alice").await;
    let big = noise(200 * 1024, 3);
    let small = text(1000);
    let a = upload(&server, &token, "noise.bin", &big).await;
    let b = upload(&server, &token, "small.txt", &small).await;
    let stats = file_stats(&server).await;
    assert_eq!(stats["stored_bytes"], stats["unique_bytes"], "{stats}");
    assert_eq!(stats["stored_bytes"], (big.len() + small.len()) as u64);
    assert_eq!(server.stop().code(), Some(0));
    let store = server.open_store();
    for f in [&a, &b] {
        let id: u64 = f["id"].as_str().unwrap().parse().unwrap();
        let record = store.file(Id(id)).unwrap().unwrap();
        for hash in record.chunk_hashes() {
            assert!(!store.chunk(&hash).unwrap().unwrap().compressed);
        }
    }
}

#[tokio::test]
async fn deleting_one_of_two_files_keeps_the_shared_chunks() {
    let server = TestServer::start();
    let (token, _) = rest_register(&server, "alice").await;
    let first = noise(300 * 1024, 11);
    let mut second = first[..192 * 1024].to_vec();
    second.extend_from_slice(&noise(50 * 1024, 12));
    let a = upload(&server, &token, "a.bin", &first).await;
    let b = upload(&server, &token, "b.bin", &second).await;
    let both = file_stats(&server).await;
    assert_eq!(both["chunks"], 5 + 1, "a has 5 chunks, b adds one: {both}");
    let (status, body) = server
        .rest(
            "DELETE",
            &format!("/api/files/{}", a["id"].as_str().unwrap()),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let after = file_stats(&server).await;
    assert_eq!(after["count"], 1);
    assert_eq!(after["chunks"], 3 + 1, "{after}");
    assert_eq!(after["logical_bytes"], second.len() as u64);
    let res = download(&server, &token, b["id"].as_str().unwrap(), None).await;
    assert_eq!(res.status, 200);
    assert!(res.body == second, "the other file must stay intact");
    let gone = download(&server, &token, a["id"].as_str().unwrap(), None).await;
    assert_eq!(
        (gone.status, error_code(&gone.json()).to_string()),
        (404, "NOT_FOUND".to_string())
    );
}

#[tokio::test]
async fn attachments_travel_with_messages_and_open_downloads_to_viewers() {
    let server = TestServer::start();
    let mut alice = Jam::register(&server, "alice").await;
    let mut bob = Jam::register(&server, "bob").await;
    let general = alice.lobby().general;
    let data = text(100 * 1024);
    let file = upload(&server, &alice.token(), "notes.txt", &data).await;
    let id = file["id"].as_str().unwrap().to_string();

    // Not attached anywhere yet: only the uploader can read it.
    assert_eq!(download(&server, &bob.token(), &id, None).await.status, 404);
    // Bob cannot attach Alice's file.
    bob.send(
        10,
        json!({"channel_id": general, "content": "mine", "attachments": [id]}),
        Some("b1"),
    )
    .await;
    let err = bob.expect_error("FORBIDDEN").await;
    assert_eq!(
        (err["ref"].as_str(), err["op"].as_i64()),
        (Some("b1"), Some(10))
    );

    alice
        .send(
            10,
            json!({"channel_id": general, "content": "see attached", "attachments": [id]}),
            Some("a1"),
        )
        .await;
    let mine = alice.recv_op(10).await;
    let theirs = bob.recv_op(10).await;
    for m in [&mine, &theirs] {
        let att = &m["d"]["attachments"][0];
        assert_eq!(att["id"], id.as_str());
        assert_eq!(att["filename"], "notes.txt");
        assert_eq!(att["size"], data.len() as u64);
        assert_eq!(att["sha256"], sha256_hex(&data));
        assert_eq!(att["url"], format!("/api/files/{id}"));
    }
    let res = download(&server, &bob.token(), &id, None).await;
    assert_eq!(res.status, 200);
    assert!(res.body == data);
    // Attached files cannot be deleted from under their messages.
    let (status, body) = server
        .rest(
            "DELETE",
            &format!("/api/files/{id}"),
            Some(&alice.token()),
            None,
        )
        .await;
    assert_eq!((status, error_code(&body)), (409, "CONFLICT"));
    // An unknown file id in a message.
    alice
        .send(
            10,
            json!({"channel_id": general, "content": "x", "attachments": ["12345"]}),
            None,
        )
        .await;
    alice.expect_error("NOT_FOUND").await;
}

#[tokio::test]
async fn bad_uploads_get_clear_errors_and_change_nothing() {
    let server = TestServer::with_config("[limits]\nupload_bytes = 100000\n");
    let (token, _) = rest_register(&server, "alice").await;
    let kept = upload(&server, &token, "kept.bin", &noise(5000, 1)).await;
    let before = file_stats(&server).await;
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");

    let (status, body) = post_upload(
        &server,
        &token,
        &ct,
        &multipart("other", "x.bin", "text/plain", b"abc"),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "INVALID"), "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`file`"));

    let (status, body) = post_upload(
        &server,
        &token,
        &ct,
        &multipart("file", "empty.bin", "text/plain", b""),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "INVALID"), "{body}");

    let (status, body) = post_upload(
        &server,
        &token,
        &ct,
        &multipart("file", "big.bin", "text/plain", &noise(100_001, 2)),
    )
    .await;
    assert_eq!((status, error_code(&body)), (413, "TOO_LARGE"), "{body}");
    let (status, _) = post_upload(
        &server,
        &token,
        &ct,
        &multipart("file", "edge.bin", "text/plain", &noise(100_000, 2)),
    )
    .await;
    assert_eq!(status, 201, "exactly the limit is accepted");

    let (status, body) =
        post_upload(&server, &token, "application/json", b"{\"file\":\"x\"}").await;
    assert_eq!((status, error_code(&body)), (415, "INVALID"), "{body}");

    let (status, body) = post_upload(&server, &token, &ct, b"--nonsense").await;
    assert_eq!(status, 400, "{body}");

    let res = download(&server, &token, "999999", None).await;
    assert_eq!(
        (res.status, error_code(&res.json()).to_string()),
        (404, "NOT_FOUND".to_string())
    );
    let res = download(
        &server,
        &token,
        kept["id"].as_str().unwrap(),
        Some("bytes=5000-"),
    )
    .await;
    assert_eq!(res.status, 416);
    assert_eq!(res.header("content-range"), Some("bytes */5000"));
    assert_eq!(error_code(&res.json()), "INVALID");

    let auth_less = http_request(
        server.http,
        "POST",
        "/api/upload",
        &[("Content-Type", ct.as_str())],
        b"",
    )
    .await;
    assert_eq!(auth_less.status, 401);

    let after = file_stats(&server).await;
    assert_eq!(
        after["count"],
        before["count"].as_u64().unwrap() + 1,
        "only the edge upload was stored"
    );
    let res = download(&server, &token, kept["id"].as_str().unwrap(), None).await;
    assert!(res.body == noise(5000, 1));
}
