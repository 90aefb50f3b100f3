//! End-to-end encryption (JAM §3) against the real server, with the
//! `switchboard-client` library doing the client side: published X25519
//! keys, channel-key envelopes, encrypted messages over the socket and REST,
//! the server's shape checks, and — after a clean shutdown — no plaintext
//! and no channel key anywhere in the data directory.

mod common;

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use switchboard_client::crypto::{self, ChannelKey, Envelope, Identity};
use switchboard_client::{Error, JamClient, JamSocket};

use common::{TestServer, PASSWORD};

/// What alice writes; none of it may reach the server's disk.
const SECRETS: [&str; 3] = [
    "the eagle lands at midnight; bring the blue umbrella",
    "second secret, sent over REST: 42 crates of oranges",
    "third secret, proves rejected frames were not relayed",
];

/// The plaintext of an encrypted attachment (repeated to 200 kB).
const FILE_SECRET: &[u8] = b"attachment plaintext: the vault code is 7-4-1-9. ";

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every regular file under `dir`.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The op 4 that answers the frame sent with `reference`; other frames are
/// skipped. Checks code, `op` and `ref`.
async fn expect_error(socket: &mut JamSocket, reference: &str, code: &str) -> Value {
    loop {
        let f = socket.recv().await.expect("frame");
        if f.op == 4 && f.reference() == Some(reference) {
            assert_eq!(f.error_code(), Some(code), "{}", f.raw);
            assert_eq!(f.d["op"], 10, "op 4 must name op 10: {}", f.raw);
            assert!(f.d["message"].as_str().is_some_and(|m| !m.is_empty()));
            return f.d;
        }
        assert!(
            !(f.op == 10 && f.reference() == Some(reference)),
            "rejected message was accepted: {}",
            f.raw
        );
    }
}

/// A REST failure with the profile's error body (`{"error":{"code","message"}}`),
/// one of `statuses`, and `code` when given.
fn assert_api_error(
    result: Result<impl std::fmt::Debug, Error>,
    statuses: &[u16],
    code: Option<&str>,
    what: &str,
) {
    match result {
        Err(Error::Api { status, body }) => {
            assert!(statuses.contains(&status), "{what}: status {status} {body}");
            assert!(
                body["error"]["code"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty()),
                "{what}: no error.code in {body}"
            );
            if let Some(code) = code {
                assert_eq!(body["error"]["code"], code, "{what}: {body}");
            }
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty()),
                "{what}: no error.message in {body}"
            );
        }
        other => panic!("{what}: expected an HTTP error {statuses:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn encrypted_channel_end_to_end() {
    let mut server = TestServer::start();
    let addr = server.http;

    // Two users with published X25519 keys: alice's derived from her
    // password, bob's random.
    let mut alice = JamClient::register(addr, "alice", PASSWORD).await.unwrap();
    let mut bob = JamClient::register(addr, "bob", PASSWORD).await.unwrap();
    let alice_id = Identity::from_password("alice", PASSWORD).unwrap();
    let bob_id = Identity::generate();
    let me = alice.publish_public_key(&alice_id).await.unwrap();
    assert_eq!(me["public_key"], alice_id.public_key_b64().as_str(), "{me}");
    bob.publish_public_key(&bob_id).await.unwrap();
    alice.connect().await.unwrap();
    bob.connect().await.unwrap();

    // Alice's guild; bob joins through an invite.
    let guild = alice.create_guild("Cipher Club", "secrets").await.unwrap();
    let guild_id = guild["id"].as_str().expect("guild id").to_string();
    let code = alice.create_invite(&guild_id).await.unwrap();
    bob.join(&code).await.unwrap();

    // The encrypted channel.
    let channel = alice
        .create_channel(&guild_id, "vault", "text", true)
        .await
        .unwrap();
    assert_eq!(channel["encrypted"], true, "{channel}");
    let channel_id = channel["id"].as_str().expect("channel id").to_string();

    // Alice reads bob's key from the server, wraps a fresh channel key for
    // both of them, and stores the envelopes.
    let bob_public = alice
        .public_key_of(bob.user_id())
        .await
        .unwrap()
        .expect("bob's public key");
    assert_eq!(bob_public, bob_id.public_key());
    let key = ChannelKey::generate();
    let members = [
        (alice.user_id().to_string(), alice_id.public_key()),
        (bob.user_id().to_string(), bob_public),
    ];
    let envelopes: Vec<Envelope> = members
        .iter()
        .map(|(id, public)| crypto::wrap_channel_key(&key, &channel_id, id, public).unwrap())
        .collect();
    let list: Vec<Value> = envelopes.iter().map(Envelope::to_json).collect();
    let (status, body) = alice
        .rest(
            "PUT",
            &format!("/api/channels/{channel_id}/keys"),
            Some(&json!({ "envelopes": list })),
        )
        .await
        .unwrap();
    assert_eq!(status, 204, "PUT /api/channels/<id>/keys: {body}");

    // Bob fetches his envelope (and only his) and opens it.
    let (status, body) = bob
        .rest("GET", &format!("/api/channels/{channel_id}/keys/@me"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "GET keys/@me: {body}");
    let bob_envelope = Envelope::from_json(&body).unwrap();
    assert_eq!(bob_envelope, envelopes[1]);
    let bob_key = crypto::unwrap_envelope(&bob_id, &channel_id, &bob_envelope).unwrap();
    assert_eq!(bob_key, key);
    // Alice's own, opened with her identity derived again from the password.
    let again = Identity::from_password("alice", PASSWORD).unwrap();
    assert_eq!(
        alice.fetch_channel_key(&again, &channel_id).await.unwrap(),
        key
    );

    // Alice sends an encrypted op 10; bob decrypts it.
    let socket = alice.socket().expect("alice's socket");
    let mine = socket
        .send_encrypted(&key, &channel_id, SECRETS[0].as_bytes(), "enc-1")
        .await
        .unwrap();
    assert_eq!(mine["encrypted"], true, "{mine}");
    let bob_socket = bob.socket().expect("bob's socket");
    let got = bob_socket.recv_until(10).await.unwrap();
    assert_eq!(got.d["channel_id"], channel_id.as_str(), "{}", got.raw);
    assert_eq!(got.d["encrypted"], true, "{}", got.raw);
    assert_eq!(got.d["content"], mine["content"], "{}", got.raw);
    assert_eq!(got.d["nonce"], mine["nonce"], "{}", got.raw);
    assert!(got.reference().is_none(), "ref leaked to bob: {}", got.raw);
    assert_eq!(
        crypto::decrypt_message_object(&bob_key, &got.d).unwrap(),
        SECRETS[0]
    );

    // The server checks shapes: plain text, a 12-byte nonce, a ciphertext
    // shorter than the tag.
    let socket = alice.socket().expect("alice's socket");
    socket
        .send(
            10,
            json!({"channel_id": channel_id, "content": "plain"}),
            Some("plain"),
        )
        .await
        .unwrap();
    expect_error(socket, "plain", "INVALID").await;
    let (content, _) = crypto::encrypt_message(&key, &channel_id, b"x").unwrap();
    let short_nonce = json!({"channel_id": channel_id, "content": content,
                             "encrypted": true, "nonce": "AAAAAAAAAAAAAAAA"});
    socket
        .send(10, short_nonce, Some("nonce-12"))
        .await
        .unwrap();
    expect_error(socket, "nonce-12", "INVALID").await;
    let (_, nonce) = crypto::encrypt_message(&key, &channel_id, b"x").unwrap();
    let short_ct = json!({"channel_id": channel_id, "content": "AAECAwQFBgcICQ==",
                          "encrypted": true, "nonce": nonce});
    socket.send(10, short_ct, Some("ct-10")).await.unwrap();
    expect_error(socket, "ct-10", "INVALID").await;
    let sent = socket
        .send_encrypted(&key, &channel_id, SECRETS[2].as_bytes(), "enc-3")
        .await
        .unwrap();
    // Bob saw none of the rejected frames: his next message is the last one.
    let next = bob.socket().expect("socket").recv_until(10).await.unwrap();
    assert_eq!(next.d["id"], sent["id"], "{}", next.raw);
    assert_eq!(
        crypto::decrypt_message_object(&bob_key, &next.d).unwrap(),
        SECRETS[2]
    );

    // Over REST: plain refused, encrypted stored; bob reads the history.
    assert_api_error(
        alice.send_message(&channel_id, "plain over REST").await,
        &[400],
        Some("INVALID"),
        "plain REST message",
    );
    let posted = alice
        .send_encrypted_message(&key, &channel_id, SECRETS[1].as_bytes())
        .await
        .unwrap();
    assert_eq!(posted["encrypted"], true, "{posted}");
    let page = bob.history(&channel_id, Some(10), None).await.unwrap();
    let texts: Vec<String> = page
        .iter()
        .map(|m| crypto::decrypt_message_object(&bob_key, m).expect("decrypt history"))
        .collect();
    assert_eq!(texts, [SECRETS[1], SECRETS[2], SECRETS[0]], "newest first");

    // An encrypted attachment: alice uploads the ciphertext and attaches it
    // to an encrypted message that carries the file's nonce; bob downloads
    // the exact bytes and opens them.
    let file_plain: Vec<u8> = FILE_SECRET.iter().cycle().take(200_000).copied().collect();
    let (file_ct, file_nonce) = crypto::encrypt_message(&key, &channel_id, &file_plain).unwrap();
    let uploaded = alice
        .upload("vault.bin", "application/octet-stream", file_ct.as_bytes())
        .await
        .unwrap();
    assert_eq!(uploaded["size"], file_ct.len(), "{uploaded}");
    let file_id = uploaded["id"].as_str().expect("file id").to_string();
    let (content, nonce) =
        crypto::encrypt_message(&key, &channel_id, file_nonce.as_bytes()).unwrap();
    let body = json!({"channel_id": channel_id, "content": content, "encrypted": true,
                      "nonce": nonce, "attachments": [file_id]});
    let with_file = alice
        .call("POST", "/api/messages", Some(&body))
        .await
        .unwrap();
    assert_eq!(
        with_file["attachments"][0]["id"],
        file_id.as_str(),
        "{with_file}"
    );
    let told_nonce = crypto::decrypt_message_object(&bob_key, &with_file).unwrap();
    let res = bob.download(&file_id).await.unwrap();
    assert_eq!(res.body, file_ct.as_bytes(), "downloaded bytes");
    assert_eq!(res.header("content-type"), Some("application/octet-stream"));
    let sha = hex_sha256(file_ct.as_bytes());
    assert_eq!(res.header("etag"), Some(format!("\"{sha}\"").as_str()));
    let body_text = String::from_utf8(res.body).unwrap();
    let opened = crypto::decrypt_message(&bob_key, &channel_id, &body_text, &told_nonce).unwrap();
    assert_eq!(opened, file_plain);

    // Envelopes: a malformed one, and one for a user who is not a member.
    let mut carol = JamClient::register(addr, "carol", PASSWORD).await.unwrap();
    let carol_id = Identity::generate();
    carol.publish_public_key(&carol_id).await.unwrap();
    let mut bad = crypto::wrap_channel_key(&key, &channel_id, bob.user_id(), &bob_public).unwrap();
    bad.nonce = "AAAAAAAAAAAAAAAA".into();
    assert_api_error(
        alice.put_key_envelopes(&channel_id, &[bad]).await,
        &[400],
        Some("INVALID"),
        "envelope with a 12-byte nonce",
    );
    let for_carol = (carol.user_id().to_string(), carol_id.public_key());
    assert_api_error(
        alice
            .share_channel_key(&channel_id, &key, &[for_carol])
            .await,
        &[400, 403, 404],
        None,
        "envelope for a non-member",
    );
    // Carol joins, but nobody wrapped the key for her: 404.
    carol.join(&code).await.unwrap();
    assert_api_error(
        carol.key_envelope(&channel_id).await,
        &[404],
        Some("NOT_FOUND"),
        "GET keys/@me without an envelope",
    );

    // Clean shutdown, then nothing secret on disk.
    let data = server.data_dir();
    for client in [&mut alice, &mut bob] {
        if let Some(s) = client.take_socket() {
            s.close().await.unwrap();
        }
    }
    let status = server.stop();
    assert!(status.success(), "server exit: {status:?}");
    let mut files = Vec::new();
    files_under(&data, &mut files);
    assert!(!files.is_empty(), "no files under {}", data.display());
    let key_b64 = STANDARD.encode(key.as_bytes());
    for file in &files {
        let bytes = std::fs::read(file).expect("read data file");
        for secret in SECRETS {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "plaintext {secret:?} found in {}",
                file.display()
            );
        }
        assert!(
            !contains(&bytes, FILE_SECRET),
            "attachment plaintext found in {}",
            file.display()
        );
        assert!(
            !contains(&bytes, key.as_bytes()) && !contains(&bytes, key_b64.as_bytes()),
            "the channel key found in {}",
            file.display()
        );
    }
}
