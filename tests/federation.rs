//! Federation (JAM §4), first part: the server's Ed25519 identity, made at
//! first start, sealed at rest, kept across restarts, shown on the admin
//! endpoint and by `switchboard federation key`.

mod common;

use common::TestServer;

#[tokio::test]
async fn the_server_key_is_made_once_and_shown() {
    let mut server = TestServer::start();
    let stats = server.stats().await;
    let key = stats["federation"]["public_key"]
        .as_str()
        .expect("a public key in the stats")
        .to_string();
    assert_eq!(key.len(), 44, "base64 of 32 bytes: {key}");
    assert!(server.stop().success(), "{}", server.log());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["federation", "key", "--config"])
        .arg(server.config_path())
        .output()
        .expect("run the cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), key);
    server.restart();
    assert_eq!(
        server.stats().await["federation"]["public_key"],
        key.as_str()
    );
}
