//! Sessions as an attacker would keep them: a socket signed in with a token
//! that was then logged out, a socket that never signs in, and the data
//! directory's permissions.

mod common;

use common::{profile_get, rest_register, Cn, Jam, Ny, Oc, TestServer};
use serde_json::json;

/// Logging a token out over REST closes every socket that signed in with
/// it, in each dialect's way; a socket of the same user signed in with
/// another token keeps working.
#[tokio::test]
async fn a_logout_closes_the_sockets_of_that_token() {
    let server = TestServer::with_config(common::NYNJA_FIXED);
    let (token, user) = rest_register(&server, "erin").await;
    let id = user["id"].as_str().unwrap_or_default().to_string();
    let mut jam = Jam::with_token(&server, "erin", &token).await;
    let mut oc = Oc::with_token_at(&common::oc_url(&server), "erin", &token).await;
    let mut cn = Cn::connect(&server, "erin").await;
    cn.session = token.clone();
    cn.subscribe().await;
    let mut ny = Ny::connect(&server, &format!("emqttd_{id}"), Some(&token)).await;
    ny.send(&profile_get("erin")).await;
    ny.recv().await;
    // The same user, signed in again: another token.
    let mut other = Jam::login(&server, "erin", common::PASSWORD).await;

    let (status, body) = server
        .rest("POST", "/api/auth/logout", Some(&token), None)
        .await;
    assert!(status == 200 || status == 204, "{status} {body}");

    assert_eq!(
        jam.expect_close().await,
        (4004, "Logged out: log in again".to_string())
    );
    let bye = oc.recv_until("disconnect").await;
    assert_eq!(bye["reason"], "Logged out: log in again", "{bye}");
    assert_eq!(cn.expect_close_code().await, Some(1008));
    ny.expect_disconnected().await;

    // The other token's socket is untouched.
    let general = other.lobby().general;
    let echo = other.send_message(&general, "still signed in", "s1").await;
    assert_eq!(echo["content"], "still signed in");
}

/// Sockets that never sign in are closed once `limits.login_timeout_s`
/// passes: JAM with 4003, OriginChats with the reference's kick and 1008,
/// chat-network (never subscribed) with 1008. A socket that signed in stays.
#[tokio::test]
async fn sockets_that_never_sign_in_are_closed() {
    let server = TestServer::with_config("[limits]\nlogin_timeout_s = 1\n");
    let mut signed_in = Jam::register(&server, "stays").await;
    let mut jam = Jam::connect(&server, "idle-jam").await;
    let mut oc = Oc::connect(&server, "idle-oc").await;
    let mut cn = Cn::connect(&server, "idle-cn").await;

    let (code, _) = jam.expect_close().await;
    assert_eq!(code, 4003);
    let bye = oc.recv_until("disconnect").await;
    assert_eq!(bye["reason"], "Authentication timed out", "{bye}");
    assert_eq!(cn.expect_close_code().await, Some(1008));
    let general = signed_in.lobby().general;
    let echo = signed_in.send_message(&general, "still here", "h1").await;
    assert_eq!(echo["content"], "still here");
    // A chat-network socket that subscribes in time stays.
    let mut subscribed = Cn::signup(&server, "cnuser").await;
    subscribed
        .send(json!({"type": "invite.request", "session": subscribed.session, "source": "cnuser", "dest": "nobody"}))
        .await;
    let r = subscribed.recv().await;
    assert_eq!(r["resp_code"], 5, "{r}");
}

/// The data directory is 0700 and every file in it 0600, whatever the
/// umask of whoever started the server.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = TestServer::start();
    // Something stored, so that the store has written its files.
    let (_token, _) = rest_register(&server, "writer").await;
    let data = server.data_dir();
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    let mut stack = vec![data];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                stack.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    assert!(files > 0, "no file in the data directory");
}

/// A NYNJA `Auth logout` of the connection's own token: the answer comes,
/// then the connection ends; the token opens nothing afterwards.
#[tokio::test]
async fn a_nynja_logout_answers_then_closes() {
    use switchboard_protocols::nynja::etf::Term;
    let server = TestServer::with_config(common::NYNJA_FIXED);
    let (ny, token) = common::nynja_login(&server, "15550042").await;
    ny.disconnect().await;
    let id = server
        .rest("GET", "/api/users/@me", Some(&token), None)
        .await
        .1["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut raw = common::RawMqtt::tcp(&server, &format!("emqttd_{id}")).await;
    raw.login(&token, true).await;
    let mut logout = common::auth("", "15550042", "logout", None);
    if let Term::Tuple(fields) = &mut logout {
        // {'Auth', ClientId, Dev, _, Phone, Token, logout, ...}: the token
        // is the fifth field.
        fields[5] = Term::bin(&token);
    }
    assert!(raw.publish(&logout).await);
    let answer = loop {
        match raw.next_publish().await {
            Ok((_, term)) if term.record_fields("Profile").is_some() => continue,
            Ok((_, term)) => break term,
            Err(e) => panic!("ended before the answer: {e:?}"),
        }
    };
    assert_eq!(
        answer,
        switchboard_protocols::nynja::io_ok("logout", Term::bin(""))
    );
    let ending = raw.until_end().await;
    assert!(
        matches!(ending, common::Ending::Eof | common::Ending::Reset(_)),
        "{ending:?}"
    );
    let (status, _) = server
        .rest("GET", "/api/users/@me", Some(&token), None)
        .await;
    assert_eq!(status, 401, "the logged-out token still works");
}
