//! Two Switchboard servers federated with each other: `a.test` and
//! `b.test`, each the other's peer.
//!
//! Each peer's `url` is a small TCP relay in the test process, bound
//! before either server starts: the servers' own ports are only known once
//! they run and change at every restart, while a peer's URL is fixed in
//! the config. The relay forwards to wherever its server is now, and
//! refuses connections while it is down.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use super::{TestServer, ADMIN_TOKEN};

/// A TCP relay to a server that may move or be down.
pub struct Relay {
    pub addr: SocketAddr,
    target: Arc<Mutex<Option<SocketAddr>>>,
}

impl Relay {
    /// Binds now; serves from its own thread and runtime, so it keeps
    /// relaying while the test blocks (starting or stopping a server).
    pub async fn start() -> Relay {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("relay addr");
        let target: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
        let t = target.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("relay runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("relay listener");
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let to = *t.lock();
                    tokio::spawn(async move {
                        let Some(to) = to else { return };
                        if let Ok(mut outbound) = TcpStream::connect(to).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            });
        });
        Relay { addr, target }
    }

    pub fn point(&self, to: Option<SocketAddr>) {
        *self.target.lock() = to;
    }
}

/// `switchboard federation key` on a stopped server's data directory.
pub fn federation_key(server: &TestServer) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["federation", "key", "--config"])
        .arg(server.config_path())
        .output()
        .expect("run switchboard federation key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn peer_toml(domain: &str, relay: &Relay, key: &str) -> String {
    format!(
        "[[federation.peers]]\ndomain = \"{domain}\"\nurl = \"http://{}\"\npublic_key = \"{key}\"\n",
        relay.addr
    )
}

pub struct Pair {
    pub a: TestServer,
    pub b: TestServer,
    relay_a: Relay,
    relay_b: Relay,
}

impl Pair {
    /// Both servers, running, each configured with the other as peer.
    pub async fn start() -> Pair {
        let (a, b) = (
            TestServer::prepared("a.test", ""),
            TestServer::prepared("b.test", ""),
        );
        let (key_a, key_b) = (federation_key(&a), federation_key(&b));
        let (relay_a, relay_b) = (Relay::start().await, Relay::start().await);
        a.append_config(&peer_toml("b.test", &relay_b, &key_b));
        b.append_config(&peer_toml("a.test", &relay_a, &key_a));
        let mut pair = Pair {
            a,
            b,
            relay_a,
            relay_b,
        };
        pair.start_a();
        pair.start_b();
        pair
    }

    pub fn start_a(&mut self) {
        self.a.restart();
        self.relay_a.point(Some(self.a.http));
    }

    pub fn start_b(&mut self) {
        self.b.restart();
        self.relay_b.point(Some(self.b.http));
    }

    pub fn stop_a(&mut self) {
        self.relay_a.point(None);
        let status = self.a.stop();
        assert!(status.success(), "{status:?}\n{}", self.a.log());
    }

    pub fn stop_b(&mut self) {
        self.relay_b.point(None);
        let status = self.b.stop();
        assert!(status.success(), "{status:?}\n{}", self.b.log());
    }

    /// Bridges A's `general` with B's channel `b_general` in both configs
    /// (`channel` by name, as an operator would write it) and restarts
    /// both servers.
    pub fn bridge_generals(&mut self, a_general: &str, b_general: &str) {
        self.stop_a();
        self.stop_b();
        let bridge = |peer: &str, remote: &str| {
            format!("[[federation.bridges]]\nchannel = \"general\"\npeer = \"{peer}\"\nremote_channel = \"{remote}\"\n")
        };
        self.a.append_config(&bridge("b.test", b_general));
        self.b.append_config(&bridge("a.test", a_general));
        self.start_a();
        self.start_b();
    }
}

/// `federation.peers[0]` of a server's `/admin/stats`.
pub async fn peer_stats(server: &TestServer) -> Value {
    let res = server.admin_get("/admin/stats", Some(ADMIN_TOKEN)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()["federation"]["peers"][0].clone()
}
