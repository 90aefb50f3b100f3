//! Per-user storage quota (`limits.user_storage_bytes`, issue 16): the
//! uploads a user keeps stored, each at its full size before deduplication,
//! never pass the quota. One past it is refused before anything is kept,
//! in each dialect's shape: JAM REST 413 `TOO_LARGE`, OriginChats HTTP 413
//! `{"error": ...}`. Other users keep their own quota, deleting a file gives
//! its size back, and the usage survives a restart.

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};
use switchboard_protocols::Id;

fn config() -> &'static str {
    "[limits]\nuser_storage_bytes = 100000\n"
}

/// A JAM upload that must succeed; returns the file id.
async fn jam_upload_ok(server: &TestServer, token: &str, name: &str, data: &[u8]) -> String {
    let (status, file) = jam_upload(server, token, name, data).await;
    assert_eq!(status, 201, "upload {name}: {file}");
    assert_eq!(file["size"], data.len() as u64);
    assert_id(&file["id"], "file id")
}

/// A JAM upload that must be refused by the quota, in the profile's shape.
async fn jam_upload_over_quota(server: &TestServer, token: &str, data: &[u8]) {
    let (status, body) = jam_upload(server, token, "over.bin", data).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), "TOO_LARGE", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Storage quota exceeded"),
        "the message names the quota: {body}"
    );
}

async fn jam_delete(server: &TestServer, token: &str, id: &str) {
    let (status, body) = server
        .rest("DELETE", &format!("/api/files/{id}"), Some(token), None)
        .await;
    assert_eq!(status, 204, "{body}");
}

async fn jam_download_status(server: &TestServer, token: &str, id: &str) -> u16 {
    let auth = format!("Bearer {token}");
    http_request(
        server.http,
        "GET",
        &format!("/api/files/{id}"),
        &[("Authorization", &auth)],
        &[],
    )
    .await
    .status
}

/// `POST /attachments/upload` on the OriginChats port → (status, body).
async fn oc_upload(server: &TestServer, validator: &str, data: &[u8]) -> (u16, Value) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let body = json!({"validator_key": "k", "validator": validator, "name": "a.bin",
                      "mime_type": "application/octet-stream", "channel": "general",
                      "file": format!("data:application/octet-stream;base64,{b64}")});
    oc_http_upload(server, &serde_json::to_vec(&body).expect("json")).await
}

/// (files, logical bytes, unique bytes) from `/admin/stats`.
async fn stored(server: &TestServer) -> (u64, u64, u64) {
    let f = server.stats().await["files"].clone();
    let n = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("files.{k}: {f}"));
    (n("count"), n("logical_bytes"), n("unique_bytes"))
}

fn user_id(user: &Value) -> Id {
    Id(assert_id(&user["id"], "user id")
        .parse()
        .expect("decimal id"))
}

#[tokio::test]
async fn jam_uploads_stop_at_the_quota_per_user_and_deletes_make_room() {
    let mut server = TestServer::with_config(config());
    let (alice, alice_user) = rest_register(&server, "alice").await;
    let (bob, bob_user) = rest_register(&server, "bob").await;

    let first = jam_upload_ok(&server, &alice, "first.bin", &noise(60_000, 1)).await;
    let before = stored(&server).await;
    assert_eq!(before, (1, 60_000, 60_000));

    // 60 000 + 50 000 passes 100 000: refused, and nothing of it is kept.
    jam_upload_over_quota(&server, &alice, &noise(50_000, 2)).await;
    assert_eq!(
        stored(&server).await,
        before,
        "a refused upload is not kept"
    );

    // Up to the quota exactly is fine; one byte more is not.
    let second = jam_upload_ok(&server, &alice, "second.bin", &noise(40_000, 3)).await;
    jam_upload_over_quota(&server, &alice, b"x").await;
    assert_eq!(stored(&server).await.0, 2);

    // Another user has a quota of their own.
    let bobs = jam_upload_ok(&server, &bob, "bob.bin", &noise(60_000, 4)).await;

    // Deleting a file gives its size back.
    jam_delete(&server, &alice, &first).await;
    assert_eq!(jam_download_status(&server, &alice, &first).await, 404);
    let third = jam_upload_ok(&server, &alice, "third.bin", &noise(50_000, 5)).await;
    jam_upload_over_quota(&server, &alice, &noise(10_001, 6)).await;
    assert_eq!(stored(&server).await.0, 3);
    for id in [&second, &third] {
        assert_eq!(jam_download_status(&server, &alice, id).await, 200);
    }
    assert_eq!(jam_download_status(&server, &bob, &bobs).await, 200);

    // The usage is in the store and survives a restart.
    assert_eq!(server.stop().code(), Some(0));
    {
        let store = server.open_store();
        assert_eq!(
            store.user_storage(user_id(&alice_user)).expect("usage"),
            90_000
        );
        assert_eq!(
            store.user_storage(user_id(&bob_user)).expect("usage"),
            60_000
        );
    }
    server.restart();
    jam_upload_over_quota(&server, &alice, &noise(10_001, 7)).await;
    jam_upload_ok(&server, &alice, "fourth.bin", &noise(10_000, 8)).await;
    jam_upload_over_quota(&server, &alice, b"y").await;
    assert_eq!(stored(&server).await.0, 4);
}

#[tokio::test]
async fn duplicate_uploads_count_against_the_quota() {
    let mut server = TestServer::with_config(config());
    let (alice, alice_user) = rest_register(&server, "alice").await;
    let data = noise(40_000, 9);
    let a = jam_upload_ok(&server, &alice, "a.bin", &data).await;
    let b = jam_upload_ok(&server, &alice, "b.bin", &data).await;
    let before = stored(&server).await;
    assert_eq!(before, (2, 80_000, 40_000), "stored once, counted twice");

    // A third copy adds no chunk, but 120 000 bytes would pass the quota.
    jam_upload_over_quota(&server, &alice, &data).await;
    assert_eq!(stored(&server).await, before);

    // Another user's copy of the same bytes is theirs to count.
    let (bob, _) = rest_register(&server, "bob").await;
    let c = jam_upload_ok(&server, &bob, "c.bin", &data).await;
    let (_, logical, unique) = stored(&server).await;
    assert_eq!((logical, unique), (120_000, 40_000));

    // Deleting one copy makes room for it again.
    jam_delete(&server, &alice, &a).await;
    jam_upload_ok(&server, &alice, "again.bin", &data).await;
    jam_upload_over_quota(&server, &alice, &data[..20_001]).await;
    for (token, id) in [(&alice, &b), (&bob, &c)] {
        assert_eq!(jam_download_status(&server, token, id).await, 200);
    }

    assert_eq!(server.stop().code(), Some(0));
    let store = server.open_store();
    assert_eq!(
        store.user_storage(user_id(&alice_user)).expect("usage"),
        80_000
    );
}

#[tokio::test]
async fn originchats_uploads_share_the_quota_and_get_the_reference_413() {
    let server = TestServer::with_config(config());
    let mut alice = Oc::register(&server, "alice").await;
    let token = alice.ready["validator"]
        .as_str()
        .expect("validator")
        .to_string();

    let (status, created) = oc_upload(&server, &token, &noise(60_000, 10)).await;
    assert_eq!(status, 201, "{created}");
    let first = created["attachment"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let before = stored(&server).await;
    assert_eq!(before.0, 1);

    // Over the quota: 413 with the reference's `{"error": ...}` and nothing else.
    let (status, body) = oc_upload(&server, &token, &noise(50_000, 11)).await;
    assert_eq!(status, 413, "{body}");
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys, vec!["error"], "{body}");
    let message = body["error"].as_str().expect("error string");
    assert!(message.starts_with("Storage quota exceeded"), "{body}");
    assert_eq!(
        stored(&server).await,
        before,
        "a refused upload is not kept"
    );

    // The quota is the user's, whatever the dialect: JAM REST refuses too.
    jam_upload_over_quota(&server, &token, &noise(50_000, 12)).await;
    assert_eq!(stored(&server).await, before);

    // Another user can still upload.
    let bob = Oc::register(&server, "bob").await;
    let bob_token = bob.ready["validator"].as_str().expect("validator");
    let (status, body) = oc_upload(&server, bob_token, &noise(60_000, 13)).await;
    assert_eq!(status, 201, "{body}");

    // After `attachment_delete` the room is back.
    alice
        .send(json!({"cmd": "attachment_delete", "attachment_id": first}))
        .await;
    assert_eq!(
        alice.recv_cmd("attachment_deleted").await,
        json!({"cmd": "attachment_deleted", "attachment_id": first, "deleted": true})
    );
    let (status, body) = oc_upload(&server, &token, &noise(90_000, 14)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = oc_upload(&server, &token, &noise(10_001, 15)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(stored(&server).await.0, 2);
}
