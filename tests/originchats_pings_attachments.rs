//! `pings_get`, and attachments over OriginChats: the HTTP upload and
//! download routes of its port, and `attachment_get` / `attachment_delete`.

mod common;

use base64::Engine;
use common::{http_request, Oc, TestServer};
use serde_json::{json, Value};

fn config() -> &'static str {
    "[originchats.rate_limiting]\nenabled = false\n"
}

#[tokio::test]
async fn pings_are_mentions_and_replies_newest_first() {
    let server = TestServer::with_config(config());
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;

    let mine = bob.send_message("general", "bob's own words", "b").await;
    alice.recv_cmd("message_new").await;
    let first = alice.send_message("general", "hello @bob!", "1").await;
    alice.send_message("general", "hello @bobby", "2").await;
    alice.send_message("general", "nothing for him", "3").await;
    alice
        .send(json!({"cmd": "message_new", "channel": "general", "content": "re", "reply_to": Oc::message_id(&mine), "listener": "4"}))
        .await;
    let reply = alice.recv_cmd("message_new").await;
    for _ in 0..4 {
        bob.recv_cmd("message_new").await;
    }

    bob.send(json!({"cmd": "pings_get", "listener": "p"})).await;
    let pings = bob.recv_cmd("pings_get").await;
    assert_eq!(pings["total"], 2, "{pings}");
    assert_eq!(
        (pings["offset"].clone(), pings["limit"].clone()),
        (json!(0), json!(50))
    );
    let got: Vec<&Value> = pings["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .collect();
    assert_eq!(got[0]["id"], reply["message"]["id"], "newest first");
    assert_eq!(got[1]["id"], first["message"]["id"]);
    assert!(got
        .iter()
        .all(|m| m["channel"] == "general" && m["user"] == "alice"));

    bob.send(json!({"cmd": "pings_get", "limit": 1, "offset": 1}))
        .await;
    let page = bob.recv_cmd("pings_get").await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["messages"][0]["id"], first["message"]["id"]);

    for bad in [json!(0), json!(101), json!("x")] {
        bob.send(json!({"cmd": "pings_get", "limit": bad})).await;
        bob.expect_error(
            Some("pings_get"),
            "Limit must be a number between 1 and 100",
        )
        .await;
    }
    bob.send(json!({"cmd": "pings_get", "offset": -1})).await;
    bob.expect_error(Some("pings_get"), "Offset must be a non-negative number")
        .await;
}

async fn upload(server: &TestServer, body: &Value) -> (u16, Value) {
    let addr = server.originchats.expect("originchats listener");
    let bytes = serde_json::to_vec(body).expect("json");
    let res = http_request(
        addr,
        "POST",
        "/attachments/upload",
        &[("Content-Type", "application/json")],
        &bytes,
    )
    .await;
    (res.status, res.json())
}

#[tokio::test]
async fn uploads_attach_and_download_through_the_originchats_port() {
    let server = TestServer::with_config(config());
    let mut alice = Oc::register(&server, "alice").await;
    let mut bob = Oc::register(&server, "bob").await;
    let token = bob.ready["validator"]
        .as_str()
        .expect("validator")
        .to_string();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);

    let body = json!({"validator_key": "k", "validator": token, "name": "pic.png",
                      "mime_type": "image/png", "channel": "general",
                      "file": format!("data:image/png;base64,{b64}")});
    let (status, created) = upload(&server, &body).await;
    assert_eq!(status, 201, "{created}");
    let att = &created["attachment"];
    assert_eq!(
        (
            att["name"].clone(),
            att["mime_type"].clone(),
            att["size"].clone()
        ),
        (json!("pic.png"), json!("image/png"), json!(5000))
    );
    let id = att["id"].as_str().expect("id").to_string();
    assert_eq!(att["url"], format!("/attachments/{id}"));

    // Not public until a message carries it.
    let addr = server.originchats.expect("listener");
    let early = http_request(addr, "GET", &format!("/attachments/{id}"), &[], &[]).await;
    assert_eq!(early.status, 404);
    assert_eq!(
        early.json(),
        json!({"error": "Attachment not found or expired"})
    );

    bob.send(
        json!({"cmd": "message_new", "channel": "general", "content": "look",
                    "attachments": [{"id": id}], "listener": "m"}),
    )
    .await;
    let sent = bob.recv_cmd("message_new").await;
    assert_eq!(sent["message"]["attachments"][0]["id"], id.as_str());
    let seen = alice.recv_cmd("message_new").await;
    assert_eq!(seen["message"]["attachments"][0]["name"], "pic.png");

    let got = http_request(addr, "GET", &format!("/attachments/{id}"), &[], &[]).await;
    assert_eq!(got.status, 200);
    assert!(got.body == data, "download differs");
    assert_eq!(got.header("content-type"), Some("image/png"));

    alice
        .send(json!({"cmd": "attachment_get", "attachment_id": id}))
        .await;
    let info = alice.recv_cmd("attachment_info").await;
    assert_eq!(info["attachment"]["id"], id.as_str());

    // Attached: cannot be deleted; someone else's: not theirs to delete.
    bob.send(json!({"cmd": "attachment_delete", "attachment_id": id}))
        .await;
    bob.expect_error(Some("attachment_delete"), "Failed to delete attachment")
        .await;
    alice
        .send(json!({"cmd": "attachment_delete", "attachment_id": id}))
        .await;
    alice
        .expect_error(
            Some("attachment_delete"),
            "You can only delete your own attachments",
        )
        .await;

    // A fresh, unattached upload its uploader may delete.
    let (status, other) = upload(&server, &body).await;
    assert_eq!(status, 201);
    let other_id = other["attachment"]["id"].as_str().expect("id").to_string();
    bob.send(json!({"cmd": "attachment_delete", "attachment_id": other_id}))
        .await;
    assert_eq!(
        bob.recv_cmd("attachment_deleted").await,
        json!({"cmd": "attachment_deleted", "attachment_id": other_id, "deleted": true})
    );
    bob.send(json!({"cmd": "attachment_get", "attachment_id": other_id}))
        .await;
    bob.expect_error(Some("attachment_get"), "Attachment not found or expired")
        .await;
    bob.send(json!({"cmd": "attachment_get"})).await;
    bob.expect_error(
        Some("attachment_get"),
        "Invalid attachment_get command: attachment_id is required",
    )
    .await;
}

#[tokio::test]
async fn bad_uploads_get_the_reference_errors() {
    let server = TestServer::with_config(config());
    let bob = Oc::register(&server, "bob").await;
    let token = bob.ready["validator"]
        .as_str()
        .expect("validator")
        .to_string();
    let addr = server.originchats.expect("listener");
    let ok = json!({"validator_key": "k", "validator": token, "name": "a.txt",
                    "mime_type": "text/plain", "channel": "general", "file": "aGVsbG8="});

    let res = http_request(
        addr,
        "POST",
        "/attachments/upload",
        &[("Content-Type", "text/plain")],
        b"x",
    )
    .await;
    assert_eq!(
        (res.status, res.json()),
        (
            415,
            json!({"error": "Content-Type must be application/json"})
        )
    );
    let res = http_request(
        addr,
        "POST",
        "/attachments/upload",
        &[("Content-Type", "application/json")],
        b"{",
    )
    .await;
    assert_eq!(
        (res.status, res.json()),
        (400, json!({"error": "Invalid JSON body"}))
    );

    let mut missing = ok.clone();
    missing.as_object_mut().expect("object").remove("channel");
    assert_eq!(
        upload(&server, &missing).await,
        (
            400,
            json!({"error": "Missing required fields: file, name, mime_type, channel"})
        )
    );
    let mut no_creds = ok.clone();
    no_creds
        .as_object_mut()
        .expect("object")
        .remove("validator");
    assert_eq!(
        upload(&server, &no_creds).await,
        (
            401,
            json!({"error": "validator_key and validator are required for authentication"})
        )
    );
    let mut bad_creds = ok.clone();
    bad_creds["validator"] = json!("not-a-token");
    assert_eq!(
        upload(&server, &bad_creds).await,
        (401, json!({"error": "Invalid credentials"}))
    );
    let mut nowhere = ok.clone();
    nowhere["channel"] = json!("nowhere");
    assert_eq!(
        upload(&server, &nowhere).await,
        (404, json!({"error": "Channel does not exist"}))
    );
    let (status, body) = upload(&server, &ok).await;
    assert_eq!(status, 201, "{body}");
}
