//! Profile edits and file deletes go through their owners (the hub for
//! profiles, `files` for uploads) and reach the other dialects, each in its
//! own shape: OriginChats hears `nickname_update` and `attachment_deleted`
//! live; JAM, whose profile has no user-update or file op, sees a new
//! profile in the User objects of later frames and nothing unasked.

mod common;

use common::*;
use serde_json::{json, Value};
use switchboard_protocols::nynja::etf::Term;

const NO_RATE_LIMITS: &str = "[originchats.rate_limiting]\nenabled = false\n";

/// `POST /api/upload` of `data` as `name`; the File.
async fn upload(server: &TestServer, token: &str, name: &str, data: &[u8]) -> Value {
    let (status, file) = jam_upload(server, token, name, data).await;
    assert_eq!(status, 201, "upload {name}: {file}");
    file
}

/// An OriginChats `pfp_set` reaches JAM in the author of olive's next
/// message; JAM's socket hears nothing else, as its profile has no
/// user-update op. The OriginChats client gets its reply and nothing more.
#[tokio::test]
async fn originchats_avatar_change_reaches_jam() {
    let server = TestServer::with_config(NO_RATE_LIMITS);
    let mut jam = Jam::register(&server, "jamie").await;
    let mut oc = Oc::register(&server, "olive").await;
    let url = "https://img.example/olive.png";
    let set = oc.request("pfp_set", json!({"url": url})).await;
    assert_eq!(set, json!({"cmd": "pfp_set", "val": url}));
    // A new avatar is no nickname: OriginChats has no event for it.
    oc.ping_ok().await;
    // The same picture, again: nothing changed, nothing is sent.
    oc.request("pfp_set", json!({"url": url})).await;
    jam.heartbeat_ok().await;
    oc.send(json!({"cmd": "message_new", "channel": "general", "content": "new look"}))
        .await;
    let m = jam.recv_op(10).await["d"].clone();
    assert_eq!(m["content"], "new look", "{m}");
    assert_eq!(
        (&m["author"]["username"], &m["author"]["avatar"]),
        (&json!("olive"), &json!(url)),
        "{m}"
    );
}

/// A JAM `PATCH /api/users/@me` reaches an OriginChats client as
/// `nickname_update` (OriginChats shows the display name as the nickname
/// of a member without a guild nickname); the JAM socket hears nothing
/// unasked.
#[tokio::test]
async fn jam_display_name_change_reaches_originchats() {
    let server = TestServer::with_config(NO_RATE_LIMITS);
    let mut jam = Jam::register(&server, "jamie").await;
    let mut oc = Oc::register(&server, "olive").await;
    let jamie = jam.user_id();
    let body = json!({"display_name": "  Jamie J  "});
    let (status, me) = server
        .rest("PATCH", "/api/users/@me", Some(&jam.token()), Some(&body))
        .await;
    assert_eq!((status, &me["display_name"]), (200, &json!("Jamie J")));
    let f = oc.recv_cmd("nickname_update").await;
    assert_eq!(
        f,
        json!({"cmd": "nickname_update", "user": jamie, "username": "jamie", "nickname": "Jamie J"})
    );
    jam.heartbeat_ok().await;
    let users = oc.request("users_list", json!({})).await;
    let entry = find(&users["users"], "username", "jamie").expect("jamie listed");
    assert_eq!(entry["nickname"], "Jamie J", "{users}");

    // Only the avatar: OriginChats has no shape for it.
    let body = json!({"avatar": "https://img.example/j.png"});
    let (status, me) = server
        .rest("PATCH", "/api/users/@me", Some(&jam.token()), Some(&body))
        .await;
    assert_eq!(
        (status, &me["avatar"]),
        (200, &json!("https://img.example/j.png"))
    );
    oc.ping_ok().await;

    // Refusals are unchanged and change nothing.
    let body = json!({"display_name": ""});
    let (status, err) = server
        .rest("PATCH", "/api/users/@me", Some(&jam.token()), Some(&body))
        .await;
    assert_eq!((status, error_code(&err)), (400, "INVALID"), "{err}");
    jam.heartbeat_ok().await;
    oc.ping_ok().await;
}

/// A NYNJA `Roster patch` (names and surnames: the display name) reaches
/// an OriginChats client as `nickname_update`.
#[tokio::test]
async fn nynja_roster_patch_reaches_originchats() {
    let server = TestServer::with_config(&format!("{NYNJA_FIXED}{NO_RATE_LIMITS}"));
    let (mut ny, _) = nynja_login(&server, "15550007").await;
    ny.recv_record("Profile").await;
    let mut oc = Oc::register(&server, "olive").await;
    let mut patch = vec![Term::nil(); 13];
    patch[0] = Term::Int(1);
    patch[1] = Term::bin("Bea");
    patch[2] = Term::bin("Trix");
    patch[12] = Term::atom("patch");
    ny.send(&Term::record("Roster", patch)).await;
    let (topic, _) = ny.recv_record("Roster").await;
    assert_eq!(topic, "ses/15550007");
    let f = oc.recv_cmd("nickname_update").await;
    assert_eq!(
        (&f["username"], &f["nickname"]),
        (&json!("15550007"), &json!("Bea Trix")),
        "{f}"
    );
}

/// A JAM `DELETE /api/files/<id>` reaches the uploader's OriginChats
/// session as `attachment_deleted` (no one else could see an unattached
/// upload, so no one else hears of it).
#[tokio::test]
async fn jam_file_delete_reaches_originchats() {
    let server = TestServer::with_config(NO_RATE_LIMITS);
    let (token, _) = rest_register(&server, "dana").await;
    let mut dana_oc = Oc::login(&server, "dana", PASSWORD).await;
    let mut olive = Oc::register(&server, "olive").await;
    let file = upload(&server, &token, "notes.txt", b"some notes").await;
    let id = assert_id(&file["id"], "file id");

    let (status, body) = server
        .rest("DELETE", &format!("/api/files/{id}"), Some(&token), None)
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        dana_oc.recv_cmd("attachment_deleted").await,
        json!({"cmd": "attachment_deleted", "attachment_id": id, "deleted": true})
    );
    let body = json!({"attachment_id": id});
    dana_oc
        .refused("attachment_get", body, "Attachment not found or expired")
        .await;
    olive.ping_ok().await;

    // Refusals keep their codes: gone, and not the uploader's.
    let (status, err) = server
        .rest("DELETE", &format!("/api/files/{id}"), Some(&token), None)
        .await;
    assert_eq!((status, error_code(&err)), (404, "NOT_FOUND"), "{err}");
    let (other, _) = rest_register(&server, "eve").await;
    let file = upload(&server, &token, "mine.txt", b"mine").await;
    let id = assert_id(&file["id"], "file id");
    let (status, err) = server
        .rest("DELETE", &format!("/api/files/{id}"), Some(&other), None)
        .await;
    assert_eq!((status, error_code(&err)), (404, "NOT_FOUND"), "{err}");
    dana_oc.ping_ok().await;
}

/// An OriginChats `attachment_delete` of a JAM upload: the deleting
/// session gets its reply once, the uploader's other OriginChats session
/// gets `attachment_deleted`, and JAM, whose profile has no file event,
/// finds the file gone over REST (its socket gets nothing).
#[tokio::test]
async fn originchats_attachment_delete_reaches_other_sessions() {
    let server = TestServer::with_config(NO_RATE_LIMITS);
    let mut jam = Jam::register(&server, "dana").await;
    let token = jam.token();
    let mut first = Oc::login(&server, "dana", PASSWORD).await;
    let mut second = Oc::login(&server, "dana", PASSWORD).await;
    let file = upload(&server, &token, "pic.bin", b"picture bytes").await;
    let id = assert_id(&file["id"], "file id");

    first
        .send(json!({"cmd": "attachment_delete", "attachment_id": id, "listener": "d"}))
        .await;
    assert_eq!(
        first.recv_cmd("attachment_deleted").await,
        json!({"cmd": "attachment_deleted", "attachment_id": id, "deleted": true, "listener": "d"})
    );
    first.ping_ok().await;
    assert_eq!(
        second.recv_cmd("attachment_deleted").await,
        json!({"cmd": "attachment_deleted", "attachment_id": id, "deleted": true})
    );
    let (status, err) = server
        .rest("GET", &format!("/api/files/{id}"), Some(&token), None)
        .await;
    assert_eq!((status, error_code(&err)), (404, "NOT_FOUND"), "{err}");
    jam.heartbeat_ok().await;
}
