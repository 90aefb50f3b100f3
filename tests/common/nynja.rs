//! The NYNJA test client: rumqttc over TCP, ETF payloads.

use std::time::Duration;

use rumqttc::{AsyncClient, ConnectReturnCode, Event, EventLoop, MqttOptions, Packet, QoS};
use switchboard_protocols::nynja::etf::{self, Limits, Term};

use super::{TestServer, TIMEOUT};

/// `[nynja]` with a fixed verification code, for tests.
pub const NYNJA_FIXED: &str = "[nynja]\nverification = \"fixed\"\nfixed_code = \"123456\"\n";

pub struct Ny {
    pub client: AsyncClient,
    eventloop: EventLoop,
    pub client_id: String,
    /// Publishes that arrived while a send was being driven out.
    early: std::collections::VecDeque<(String, Term)>,
    /// CONNACK's session-present flag.
    pub session_present: bool,
}

impl Ny {
    /// Connects; answers the CONNACK code.
    pub async fn try_connect(
        server: &TestServer,
        client_id: &str,
        password: Option<&str>,
        clean: bool,
    ) -> Result<Ny, ConnectReturnCode> {
        let addr = server.mqtt.expect("the mqtt listener was announced");
        let opts = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
        Ny::connect_with(opts, client_id, password, clean).await
    }

    /// MQTT over WebSocket at `/mqtt` on the main port.
    pub async fn connect_ws(server: &TestServer, client_id: &str, password: Option<&str>) -> Ny {
        let url = format!("ws://{}/mqtt", server.http);
        let mut opts = MqttOptions::new(client_id, url, server.http.port());
        opts.set_transport(rumqttc::Transport::Ws);
        Ny::connect_with(opts, client_id, password, false)
            .await
            .unwrap_or_else(|code| panic!("{client_id}: CONNACK {code:?}"))
    }

    async fn connect_with(
        mut opts: MqttOptions,
        client_id: &str,
        password: Option<&str>,
        clean: bool,
    ) -> Result<Ny, ConnectReturnCode> {
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_clean_session(clean);
        if let Some(p) = password {
            opts.set_credentials("api", p);
        }
        let (client, mut eventloop) = AsyncClient::new(opts, 64);
        loop {
            let ev = tokio::time::timeout(TIMEOUT, eventloop.poll())
                .await
                .expect("connect timed out");
            match ev {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    if ack.code != ConnectReturnCode::Success {
                        return Err(ack.code);
                    }
                    return Ok(Ny {
                        client,
                        eventloop,
                        client_id: client_id.to_string(),
                        early: Default::default(),
                        session_present: ack.session_present,
                    });
                }
                Ok(_) => continue,
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("{client_id}: {e}"),
            }
        }
    }

    pub async fn connect(server: &TestServer, client_id: &str, password: Option<&str>) -> Ny {
        Ny::try_connect(server, client_id, password, false)
            .await
            .unwrap_or_else(|code| panic!("{client_id}: CONNACK {code:?}"))
    }

    /// Publishes a request at QoS 2, as real clients do.
    pub async fn send(&mut self, term: &Term) {
        self.send_raw(etf::encode(term)).await;
    }

    /// Publishes and drives the event loop until the PUBLISH is on the
    /// wire (rumqttc only queues it otherwise).
    pub async fn send_raw(&mut self, payload: Vec<u8>) {
        self.client
            .publish("events/1//api/anon//", QoS::ExactlyOnce, false, payload)
            .await
            .expect("publish");
        loop {
            match self.poll().await {
                Polled::Sent => return,
                Polled::Publish(t, term) => self.early.push_back((t, term)),
                Polled::Other => {}
            }
        }
    }

    async fn poll(&mut self) -> Polled {
        let Ok(ev) = tokio::time::timeout(TIMEOUT, self.eventloop.poll()).await else {
            panic!("{}: nothing within the safety timeout", self.client_id)
        };
        match ev {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let term = etf::decode(&p.payload, Limits::default())
                    .unwrap_or_else(|e| panic!("{}: not a term ({e})", self.client_id));
                Polled::Publish(p.topic, term)
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Publish(_))) => Polled::Sent,
            Ok(_) => Polled::Other,
            Err(e) => panic!("{}: {e}", self.client_id),
        }
    }

    /// The next publish from the server: topic and term.
    pub async fn recv(&mut self) -> (String, Term) {
        if let Some(early) = self.early.pop_front() {
            return early;
        }
        loop {
            if let Polled::Publish(t, term) = self.poll().await {
                return (t, term);
            }
        }
    }

    /// The next publish whose term is the record (or tuple tag) `name`,
    /// past contact pushes, acks and repeated Profile pushes.
    pub async fn recv_record(&mut self, name: &str) -> (String, Term) {
        loop {
            let (topic, term) = self.recv().await;
            if term.record_name() == Some(name) {
                return (topic, term);
            }
            assert!(
                // A Profile init a persistent session had not acknowledged
                // comes again after a reconnect.
                matches!(
                    term.record_name(),
                    Some("Contact") | Some("Ack") | Some("Profile")
                ) || topic.starts_with("ac/"),
                "{}: expected {name}, got {topic} {term:?}",
                self.client_id
            );
        }
    }

    /// Polls until the server closes the connection (fails on a publish or
    /// on the safety timeout).
    pub async fn expect_disconnected(&mut self) {
        loop {
            let Ok(ev) = tokio::time::timeout(TIMEOUT, self.eventloop.poll()).await else {
                panic!("{}: still connected", self.client_id)
            };
            match ev {
                Err(_) => return,
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic.starts_with("room/") => {
                    panic!("{}: a room publish after the takeover", self.client_id)
                }
                Ok(_) => continue,
            }
        }
    }

    pub async fn disconnect(mut self) {
        let _ = self.client.disconnect().await;
        // Drive the loop until the disconnect is sent.
        for _ in 0..10 {
            match tokio::time::timeout(Duration::from_millis(200), self.eventloop.poll()).await {
                Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) | Ok(Err(_)) | Err(_) => {
                    break
                }
                _ => continue,
            }
        }
    }
}

/// `{'Auth', ClientId, DevKey, [], Phone, [], Type, SmsCode, [], [], [], [], [], [], []}`.
/// `{'Profile', Phone, [], [], [], 0, 0, [], get}`: a round trip that shows
/// a NYNJA session is live.
pub fn profile_get(phone: &str) -> Term {
    Term::record(
        "Profile",
        [
            Term::bin(phone),
            Term::nil(),
            Term::nil(),
            Term::nil(),
            Term::Int(0),
            Term::Int(0),
            Term::nil(),
            Term::atom("get"),
        ],
    )
}

pub fn auth(client_id: &str, phone: &str, kind: &str, code: Option<&str>) -> Term {
    let mut f = vec![Term::nil(); 14];
    f[0] = Term::bin(client_id);
    f[1] = Term::bin("dev-key");
    f[3] = Term::bin(phone);
    f[5] = Term::atom(kind);
    if let Some(c) = code {
        f[6] = Term::bin(c);
    }
    Term::record("Auth", f)
}

/// Registers `phone` with the fixed code and signs in; answers the
/// logged-in client and its token.
pub async fn nynja_login(server: &TestServer, phone: &str) -> (Ny, String) {
    nynja_login_via(server, phone, false).await
}

/// [`nynja_login`], over WebSocket (`/mqtt`) when `ws`.
pub async fn nynja_login_via(server: &TestServer, phone: &str, ws: bool) -> (Ny, String) {
    let reg_id = format!("reg_{phone}");
    let mut reg = if ws {
        Ny::connect_ws(server, &reg_id, None).await
    } else {
        Ny::connect(server, &reg_id, None).await
    };
    reg.send(&auth(&reg_id, phone, "reg", None)).await;
    let (topic, sent) = reg.recv().await;
    assert_eq!(topic, format!("actions/1/api/{reg_id}"));
    assert_eq!(
        sent,
        switchboard_protocols::nynja::io_ok("sms_sent", Term::bin(""))
    );
    reg.send(&auth(&reg_id, phone, "verify", Some("123456")))
        .await;
    let (_, login) = reg.recv().await;
    let Term::Tuple(io) = &login else {
        panic!("{login:?}")
    };
    let Term::Tuple(code) = &io[1] else {
        panic!("{login:?}")
    };
    assert_eq!(code[1], Term::atom("login"), "{login:?}");
    let Term::Tuple(pair) = &code[2] else {
        panic!("{login:?}")
    };
    let cid = pair[0].as_text().expect("client id");
    let token = pair[1].as_text().expect("token");
    reg.disconnect().await;
    let ny = if ws {
        Ny::connect_ws(server, &cid, Some(&token)).await
    } else {
        Ny::connect(server, &cid, Some(&token)).await
    };
    (ny, token)
}

enum Polled {
    Sent,
    Publish(String, Term),
    Other,
}
