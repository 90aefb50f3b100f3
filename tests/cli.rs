//! The command line: help texts, `user ...`, `check-config` and the
//! `SWITCHBOARD_*` environment overrides, run as the real binary against a
//! test server's config and data directory.

mod common;

use std::process::Command;

use common::{cli_failed as failed, cli_ok as ok, run_cli as run, Jam, Oc, TestServer, PASSWORD};
use serde_json::json;

async fn login(server: &TestServer, name: &str, password: &str) -> (u16, serde_json::Value) {
    server
        .rest(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": name, "password": password})),
        )
        .await
}

#[test]
fn help_describes_every_command() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .output()
            .expect("run the cli");
        ok(&out)
    };
    let top = help(&["--help"]);
    for cmd in [
        "serve",
        "user",
        "v0",
        "federation",
        "backup",
        "restore",
        "check-config",
    ] {
        assert!(top.contains(cmd), "--help must list {cmd}: {top}");
    }
    assert!(top.contains("SWITCHBOARD_<TABLE>_<KEY>"), "{top}");
    #[rustfmt::skip]
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "--help"], "Serve every configured listener"),
        (&["user", "--help"], "Account administration"),
        (&["user", "create", "--help"], "password is read from"),
        (&["user", "list", "--help"], "List every account"),
        (&["user", "ban", "--help"], "cannot log in"),
        (&["user", "unban", "--help"], "Lift a server-wide ban"),
        (&["user", "reset-password", "--help"], "log the account out everywhere"),
        (&["v0", "issue-key", "--help"], "V0 secret"),
        (&["federation", "key", "--help"], "federation public key"),
        (&["backup", "--help"], "consistent snapshot"),
        (&["restore", "--help"], "must be empty or missing"),
        (&["restore", "--help"], "--force"),
        (&["check-config", "--help"], "effective listeners"),
    ];
    for (args, want) in cases {
        let text = help(args);
        assert!(text.contains(want), "{args:?} must say {want:?}: {text}");
    }
}

#[tokio::test]
async fn user_create_list_and_bad_input() {
    let mut server = TestServer::prepared("localhost", "");
    let config = server.config_path();
    let out = run(
        &config,
        &["user", "create", "alice"],
        &format!("{PASSWORD}\n"),
        &[],
    );
    assert!(ok(&out).contains("created alice"), "{}", ok(&out));
    let out = run(&config, &["user", "create", "Alice"], "other\n", &[]);
    assert!(failed(&out).contains("taken"), "{}", failed(&out));
    let out = run(&config, &["user", "create", "bob"], "", &[]);
    assert!(
        failed(&out).contains("no password on stdin"),
        "{}",
        failed(&out)
    );
    let out = run(&config, &["user", "create", "no spaces"], "pw\n", &[]);
    assert!(failed(&out).contains("cannot create"), "{}", failed(&out));

    let list = ok(&run(&config, &["user", "list"], "", &[]));
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].contains("NAME") && lines[0].contains("BANNED"),
        "{list}"
    );
    // The server's own account (the default guild's owner) is listed too;
    // the refused creations are not.
    let alice: Vec<&&str> = lines.iter().filter(|l| l.contains(" alice ")).collect();
    assert_eq!(alice.len(), 1, "{list}");
    assert!(alice[0].trim_end().ends_with("no"), "{list}");
    assert!(!list.contains("bob") && !list.contains("Alice"), "{list}");
    server.restart();
    let (status, body) = login(&server, "alice", PASSWORD).await;
    assert_eq!(status, 200, "the CLI's account logs in: {body}");
    // While the server runs, the store is locked and the CLI needs the
    // admin address, which this config leaves to the OS: it says so.
    let out = run(&config, &["user", "list"], "", &[]);
    assert!(failed(&out).contains("pass --admin"), "{}", failed(&out));
}

#[tokio::test]
async fn ban_unban_and_reset_password() {
    let mut server = TestServer::start();
    let config = server.config_path();
    let (token, _) = common::rest_register(&server, "carol").await;
    let (status, _) = server
        .rest("GET", "/api/users/@me", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    assert!(server.stop().success());

    assert!(ok(&run(&config, &["user", "ban", "carol"], "", &[])).contains("banned carol"));
    let out = run(&config, &["user", "ban", "nobody"], "", &[]);
    assert!(
        failed(&out).contains("no account named \"nobody\""),
        "{}",
        failed(&out)
    );
    let list = ok(&run(&config, &["user", "list"], "", &[]));
    assert!(
        list.lines()
            .any(|l| l.contains("carol") && l.trim_end().ends_with("yes")),
        "{list}"
    );

    server.restart();
    let (status, body) = login(&server, "carol", PASSWORD).await;
    assert_eq!(status, 403, "a banned account cannot log in: {body}");
    let (status, _) = server
        .rest("GET", "/api/users/@me", Some(&token), None)
        .await;
    assert_eq!(status, 401, "a banned account's tokens are revoked");
    assert!(server.stop().success());

    assert!(ok(&run(&config, &["user", "unban", "carol"], "", &[])).contains("unbanned carol"));
    let new_password = "a brand new password";
    let out = run(
        &config,
        &["user", "reset-password", "carol"],
        &format!("{new_password}\n"),
        &[],
    );
    assert!(ok(&out).contains("password of carol reset"), "{}", ok(&out));
    let out = run(&config, &["user", "reset-password", "carol"], "", &[]);
    failed(&out);

    server.restart();
    let (status, _) = login(&server, "carol", PASSWORD).await;
    assert_eq!(status, 401, "the old password no longer works");
    let (status, body) = login(&server, "carol", new_password).await;
    assert_eq!(status, 200, "unbanned, with the new password: {body}");
    let token = body["token"].as_str().expect("token").to_string();
    assert!(server.stop().success());

    // A reset logs the account out everywhere.
    ok(&run(
        &config,
        &["user", "reset-password", "carol"],
        "third password\n",
        &[],
    ));
    server.restart();
    let (status, _) = server
        .rest("GET", "/api/users/@me", Some(&token), None)
        .await;
    assert_eq!(status, 401);
}

/// While the server runs (it holds the store), `user` goes through the
/// admin endpoint: an account is created and listed, banned — its JAM and
/// OriginChats connections are closed with their dialects' signals and it
/// cannot log in — then unbanned and given a new password.
#[tokio::test]
async fn user_commands_reach_a_running_server() {
    let server = TestServer::start();
    let config = server.config_path();
    let admin = server.admin.to_string();
    let user = |args: &[&str], stdin: &str| {
        let mut all = vec!["user"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--admin", &admin]);
        run(&config, &all, stdin, &[])
    };
    let first = "first password of dave";
    let said = ok(&user(&["create", "dave"], &format!("{first}\n")));
    assert!(said.contains("created dave"), "{said}");
    let said = failed(&user(&["create", "dave"], "another password\n"));
    assert!(said.contains("409"), "a taken name is refused: {said}");
    let list = ok(&user(&["list"], ""));
    assert!(
        list.lines()
            .any(|l| l.contains("dave") && l.trim_end().ends_with("no")),
        "{list}"
    );

    let mut jam = Jam::login(&server, "dave", first).await;
    let mut oc = Oc::login(&server, "dave", first).await;
    let said = ok(&user(&["ban", "dave"], ""));
    assert!(
        said.contains("banned dave") && said.contains("2 live connection(s) closed"),
        "{said}"
    );
    assert_eq!(
        jam.expect_close().await,
        (4004, "This account is banned".to_string())
    );
    let bye = oc.recv_until("disconnect").await;
    assert_eq!(
        bye["reason"], "Access denied: You are banned from this server",
        "{bye}"
    );
    let (status, body) = login(&server, "dave", first).await;
    assert_eq!(status, 403, "{body}");
    let list = ok(&user(&["list"], ""));
    assert!(
        list.lines()
            .any(|l| l.contains("dave") && l.trim_end().ends_with("yes")),
        "{list}"
    );

    assert!(ok(&user(&["unban", "dave"], "")).contains("unbanned dave"));
    let second = "second password of dave";
    let said = ok(&user(&["reset-password", "dave"], &format!("{second}\n")));
    assert!(said.contains("password of dave reset"), "{said}");
    let (status, _) = login(&server, "dave", first).await;
    assert_eq!(status, 401, "the old password no longer works");
    let (status, body) = login(&server, "dave", second).await;
    assert_eq!(status, 200, "{body}");

    let said = failed(&user(&["ban", "nobody"], ""));
    assert!(said.contains("no account named \"nobody\""), "{said}");
    let said = failed(&user(&["list", "--token", "not-the-token"], ""));
    assert!(said.contains("Wrong admin token"), "{said}");
    // The routes themselves: no token, no ban, nothing changed.
    let body = br#"{}"#;
    for (method, path) in [
        ("GET", "/admin/users"),
        ("POST", "/admin/users"),
        ("POST", "/admin/users/dave/ban"),
        ("POST", "/admin/users/dave/password"),
    ] {
        let res = common::http_request(
            server.admin,
            method,
            path,
            &[("Content-Type", "application/json")],
            body,
        )
        .await;
        assert_eq!(res.status, 401, "{method} {path}: {}", res.text());
    }
    let (status, body) = login(&server, "dave", second).await;
    assert_eq!(status, 200, "still not banned, same password: {body}");
}

/// A ban on the running server closes the account's connections in the
/// other dialects too: V0 and MQTT over TCP lose the connection, chat-network
/// gets close 1008.
#[tokio::test]
async fn a_ban_closes_v0_chatnet_and_mqtt_connections() {
    let server = TestServer::with_config(common::NYNJA_FIXED);
    let (mut v0, token) = common::V0::register(&server, "erin").await;
    let mut cn = common::Cn::signin(&server, "erin").await;
    let id = v0.id.clone();
    let mut ny = common::Ny::connect(&server, &format!("emqttd_{id}"), Some(&token)).await;
    // The MQTT session is attached once its login has been answered.
    ny.send(&common::profile_get("erin")).await;
    ny.recv().await;

    let admin = server.admin.to_string();
    let said = ok(&run(
        &server.config_path(),
        &["user", "ban", "erin", "--admin", &admin],
        "",
        &[],
    ));
    assert!(said.contains("3 live connection(s) closed"), "{said}");
    v0.expect_closed().await;
    ny.expect_disconnected().await;
    assert_eq!(cn.expect_close_code().await, Some(1008));
}

/// Sign-ins that prove identity elsewhere (here a NYNJA SMS code) still end
/// in a token, and a banned account gets none.
#[tokio::test]
async fn a_banned_account_cannot_sign_in_by_sms_code() {
    let mut server = TestServer::with_config(common::NYNJA_FIXED);
    let config = server.config_path();
    let (ny, _token) = common::nynja_login(&server, "+15550001").await;
    ny.disconnect().await;
    assert!(server.stop().success());
    assert!(ok(&run(&config, &["user", "ban", "15550001"], "", &[])).contains("banned"));

    server.restart();
    let mut reg = common::Ny::connect(&server, "reg_15550001", None).await;
    reg.send(&common::auth("reg_15550001", "+15550001", "reg", None))
        .await;
    let _sms_sent = reg.recv().await;
    reg.send(&common::auth(
        "reg_15550001",
        "+15550001",
        "verify",
        Some("123456"),
    ))
    .await;
    let (_, answer) = reg.recv().await;
    assert_eq!(
        answer,
        switchboard_protocols::nynja::io_error("permission_denied"),
        "a right code for a banned account gets no token"
    );
}

#[test]
fn check_config_reports_listeners_and_errors() {
    let server = TestServer::prepared("localhost", "");
    let config = server.config_path();
    let out = ok(&run(&config, &["check-config"], "", &[]));
    assert!(out.starts_with("config OK"), "{out}");
    assert!(
        out.contains("listener http") && out.contains("127.0.0.1:0"),
        "{out}"
    );

    // Environment overrides apply before validation.
    let env = [
        ("SWITCHBOARD_LISTENERS_CHATNET", ""),
        ("SWITCHBOARD_SERVER_DOMAIN", "example.org"),
    ];
    let out = ok(&run(&config, &["check-config"], "", &env));
    assert!(
        out.lines()
            .any(|l| l.contains("chatnet") && l.trim_end().ends_with("off")),
        "{out}"
    );
    assert!(out.contains("example.org"), "{out}");

    let out = run(
        &config,
        &["check-config"],
        "",
        &[("SWITCHBOARD_LIMITS_COLOUR", "red")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(failed(&out).contains("unknown environment variable SWITCHBOARD_LIMITS_COLOUR"));
    let out = run(
        &config,
        &["check-config"],
        "",
        &[("SWITCHBOARD_LIMITS_MESSAGE_LENGTH", "0")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = failed(&out);
    assert!(
        err.contains("SWITCHBOARD_LIMITS_MESSAGE_LENGTH") && err.contains("limits.message_length"),
        "{err}"
    );

    server.append_config("[limits]\ncolour = 1\n");
    let out = run(&config, &["check-config"], "", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        failed(&out).contains("unknown config key `limits.colour`"),
        "{}",
        failed(&out)
    );
}

#[tokio::test]
async fn env_overrides_reach_the_server() {
    // The file says 4000 characters; the environment says 5.
    let mut server = TestServer::prepared("localhost", "[limits]\nmessage_length = 4000\n");
    server.restart_with_env(&[("SWITCHBOARD_LIMITS_MESSAGE_LENGTH", "5")]);
    let alice = common::Jam::register(&server, "alice").await;
    let general = alice.lobby().general;
    let token = alice.token();
    let post = |content: &str| json!({"channel_id": general, "content": content});
    let (status, m) = server
        .rest("POST", "/api/messages", Some(&token), Some(&post("12345")))
        .await;
    assert!(status == 200 || status == 201, "{status} {m}");
    let (status, e) = server
        .rest("POST", "/api/messages", Some(&token), Some(&post("123456")))
        .await;
    assert_eq!(status, 413, "one past the overridden limit: {e}");
}
