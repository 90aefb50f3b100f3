//! Sealed secrets at rest, through the real binary: the passphrase or key
//! file must open the data directory's check record, or start-up stops with
//! a message that says what is wrong, before anything listens.
//!
//! `TestServer` cannot change its config between runs or report a start that
//! failed, so these tests drive the binary with the small `Node` below and
//! use `common` only for HTTP.

mod common;

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::{http_request, ADMIN_TOKEN, TIMEOUT};
use tempfile::TempDir;

const CHECK_PLAINTEXT: &[u8] = b"switchboard sealed secrets v1";

/// A config directory and a data directory that outlive single runs.
struct Node {
    dir: TempDir,
    runs: usize,
}

/// A run that printed `listening http ...`; killed on drop.
struct Running {
    child: Option<Child>,
    http: SocketAddr,
    log: PathBuf,
}

/// A run that exited before listening.
struct Failed {
    status: ExitStatus,
    stderr: String,
    stdout: Vec<String>,
}

impl Node {
    fn new() -> Node {
        Node {
            dir: tempfile::tempdir().expect("temp dir"),
            runs: 0,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn key_file(&self) -> PathBuf {
        self.data().join("seal.key")
    }

    /// Writes the config with this `storage.passphrase` and runs the binary
    /// until it either listens or exits.
    fn start(&mut self, passphrase: &str) -> Result<Running, Failed> {
        let config = format!(
            "[server]\ndata_dir = {data:?}\n\n[listeners]\nhttp = \"127.0.0.1:0\"\n\
             admin = \"\"\noriginchats = \"\"\nchatnet = \"\"\nv0 = \"\"\nmqtt = \"\"\n\n[admin]\ntoken = \"{ADMIN_TOKEN}\"\n\n[log]\nlevel = \"info\"\n\n\
             [storage]\npassphrase = {passphrase:?}\n",
            data = self.data().display().to_string()
        );
        let config_path = self.dir.path().join("config.toml");
        fs::write(&config_path, config).expect("write config");
        self.runs += 1;
        let log = self.dir.path().join(format!("server-{}.log", self.runs));
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(File::create(&log).expect("log file")))
            .spawn()
            .expect("spawn switchboard");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut running = Running {
            child: Some(child),
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let mut stdout = Vec::new();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("listening http ") {
                        running.http = addr.trim().parse().expect("http address");
                        return Ok(running);
                    }
                    stdout.push(line);
                }
                Err(RecvTimeoutError::Timeout) => {}
                // stdout closed: the process is exiting.
                Err(RecvTimeoutError::Disconnected) => {
                    let status = running.wait_exit();
                    return Err(Failed {
                        status,
                        stderr: fs::read_to_string(&running.log).unwrap_or_default(),
                        stdout,
                    });
                }
            }
            assert!(
                Instant::now() < deadline,
                "server neither listened nor exited; log:\n{}",
                running.log()
            );
        }
    }

    fn start_ok(&mut self, passphrase: &str) -> Running {
        match self.start(passphrase) {
            Ok(r) => r,
            Err(f) => panic!(
                "start with passphrase {passphrase:?} failed ({:?}); stderr:\n{}",
                f.status, f.stderr
            ),
        }
    }

    fn start_err(&mut self, passphrase: &str) -> Failed {
        match self.start(passphrase) {
            Ok(r) => panic!(
                "start with passphrase {passphrase:?} succeeded on {}, expected a refusal; \
                 log:\n{}",
                r.http,
                r.log()
            ),
            Err(f) => {
                assert!(
                    !f.status.success(),
                    "refused start must exit non-zero: {:?}",
                    f.status
                );
                assert!(
                    !f.stdout.iter().any(|l| l.starts_with("listening")),
                    "refused start listened: {:?}",
                    f.stdout
                );
                f
            }
        }
    }
}

impl Running {
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit; log:\n{}",
                fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; a graceful shutdown exits 0.
    fn stop(mut self) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let status = self.wait_exit();
        assert_eq!(status.code(), Some(0), "exit status; log:\n{}", self.log());
    }

    async fn assert_serves(&self) {
        let res = http_request(self.http, "GET", "/api/health", &[], &[]).await;
        assert_eq!(res.status, 200, "/api/health: {}", res.text());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.log());
        }
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The files under `dir` that contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| {
            let bytes = fs::read(p).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

#[tokio::test]
async fn passphrase_opens_on_restart_and_a_wrong_one_is_refused() {
    let mut node = Node::new();
    let run = node.start_ok("correct horse");
    run.assert_serves().await;
    run.stop();
    assert!(
        !node.key_file().exists(),
        "passphrase mode must not write seal.key"
    );

    let run = node.start_ok("correct horse");
    run.assert_serves().await;
    run.stop();

    let failed = node.start_err("wrong");
    assert!(
        failed.stderr.contains("storage.passphrase")
            && failed.stderr.contains("does not open the sealed secrets"),
        "stderr:\n{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("switchboard: "),
        "stderr:\n{}",
        failed.stderr
    );

    // An empty passphrase would mean key-file mode: refused too, naming the
    // setting, and without generating a key file.
    let failed = node.start_err("");
    assert!(
        failed.stderr.contains("storage.passphrase is empty"),
        "stderr:\n{}",
        failed.stderr
    );
    assert!(!node.key_file().exists());

    // The refusals changed nothing.
    let run = node.start_ok("correct horse");
    run.assert_serves().await;
    run.stop();
}

#[tokio::test]
async fn key_file_mode_creates_seal_key_and_refuses_a_changed_one() {
    let mut node = Node::new();
    let run = node.start_ok("");
    run.assert_serves().await;
    run.stop();

    let path = node.key_file();
    let meta = fs::metadata(&path).expect("seal.key exists");
    assert_eq!(meta.len(), 32, "seal.key size");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "seal.key mode");
    let key = fs::read(&path).expect("read seal.key");

    let run = node.start_ok("");
    run.assert_serves().await;
    run.stop();
    assert_eq!(
        fs::read(&path).expect("read seal.key"),
        key,
        "seal.key rewritten"
    );

    // A passphrase now would derive another key: refused, naming the setting.
    let failed = node.start_err("correct horse");
    assert!(
        failed.stderr.contains("storage.passphrase") && failed.stderr.contains("seal.key"),
        "stderr:\n{}",
        failed.stderr
    );

    // Changed contents.
    let mut changed = key.clone();
    changed[5] ^= 0x5a;
    fs::write(&path, &changed).expect("write seal.key");
    let failed = node.start_err("");
    assert!(
        failed.stderr.contains("seal.key")
            && failed.stderr.contains("does not open the sealed secrets"),
        "stderr:\n{}",
        failed.stderr
    );

    // Wrong size.
    fs::write(&path, &key[..16]).expect("write seal.key");
    let failed = node.start_err("");
    assert!(
        failed.stderr.contains("seal.key") && failed.stderr.contains("16 bytes"),
        "stderr:\n{}",
        failed.stderr
    );

    // Missing: no new key is generated.
    fs::remove_file(&path).expect("remove seal.key");
    let failed = node.start_err("");
    assert!(
        failed.stderr.contains("seal.key") && failed.stderr.contains("missing"),
        "stderr:\n{}",
        failed.stderr
    );
    assert!(!path.exists(), "a new seal.key was generated");

    // Restored: starts again.
    fs::write(&path, &key).expect("restore seal.key");
    let run = node.start_ok("");
    run.assert_serves().await;
    run.stop();
}

#[tokio::test]
async fn data_directory_holds_no_plaintext() {
    for passphrase in ["correct horse battery", ""] {
        let mut node = Node::new();
        let run = node.start_ok(passphrase);
        run.assert_serves().await;
        run.stop();
        let data = node.data();
        // The scan sees what the store writes in the clear (the record's key).
        assert!(
            !files_containing(&data, b"seal_check").is_empty(),
            "scan found no meta keys in {}",
            data.display()
        );
        let found = files_containing(&data, CHECK_PLAINTEXT);
        assert!(found.is_empty(), "check plaintext in {found:?}");
        if !passphrase.is_empty() {
            let found = files_containing(&data, passphrase.as_bytes());
            assert!(found.is_empty(), "passphrase in {found:?}");
        }
    }
}
