//! NYNJA load client: MQTT 3.1.1 packets written and read by hand over
//! TCP (`mqttbytes::v4`, no client event loop), records as Erlang terms.
//! It publishes `Message` records to `events/...` at QoS 2 like real
//! clients, and answers the server's QoS 2 publishes (PUBREC, then
//! PUBCOMP on PUBREL). Everything decoded from one read is answered with
//! one write.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use bytes::BytesMut;
use switchboard_protocols::nynja;
use switchboard_protocols::nynja::etf::{self, Limits, Term};
use switchboard_protocols::nynja::mqtt::{
    self, Connect, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, Encoder};

use super::{
    find_marker, tcp_connect, Account, ClientOpts, Connected, Room, Target, LOGIN_TIMEOUT,
    SEND_QUEUE,
};

/// The server ignores every segment after `events/`.
const EVENTS: &str = "events/1//api/anon//";
/// The server closes a connection silent for 1.5 × this.
const KEEP_ALIVE_S: u16 = 60;
/// A Profile init lists every room and contact; leave it room to grow.
const MAX_PACKET: usize = 16 * 1024 * 1024;
const READ_CHUNK: usize = 16 * 1024;

/// Only the first error reply of the run is printed (see v0.rs).
static ERROR_SHOWN: AtomicBool = AtomicBool::new(false);

struct Mqtt {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    inbuf: BytesMut,
    out: BytesMut,
    codec: mqtt::Codec,
    next_pkid: u16,
    last_sent: Instant,
}

impl Mqtt {
    async fn open(
        addr: SocketAddr,
        source: IpAddr,
        client_id: &str,
        password: Option<&str>,
    ) -> anyhow::Result<Mqtt> {
        let (rd, wr) = tcp_connect(addr, source).await?.into_split();
        let mut m = Mqtt {
            rd,
            wr,
            inbuf: BytesMut::with_capacity(READ_CHUNK),
            out: BytesMut::new(),
            codec: mqtt::codec(MAX_PACKET),
            next_pkid: 1,
            last_sent: Instant::now(),
        };
        let mut connect = Connect::new(client_id);
        connect.keep_alive = KEEP_ALIVE_S;
        // The bench wants no offline queue kept for it between runs.
        connect.clean_session = true;
        if let Some(p) = password {
            connect.set_login("api", p);
        }
        m.queue(Packet::Connect(connect))?;
        let ack = m.until(|p| match p {
            Packet::ConnAck(a) => Some(a.code),
            _ => None,
        });
        let code = ack.await.context("no CONNACK")?;
        if code != ConnectReturnCode::Success {
            bail!("CONNACK {code:?}");
        }
        Ok(m)
    }

    fn queue(&mut self, p: Packet) -> anyhow::Result<()> {
        self.codec.encode(p, &mut self.out)?;
        Ok(())
    }

    /// A QoS 2 PUBLISH of `payload` to the server.
    fn publish(&mut self, payload: Vec<u8>) -> anyhow::Result<()> {
        let mut p = Publish::new(EVENTS, QoS::ExactlyOnce, payload);
        p.pkid = self.next_pkid;
        // Packet id 0 is not allowed for QoS > 0.
        self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
        self.queue(Packet::Publish(p))
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.wr.write_all(&self.out).await?;
            self.out.clear();
            self.last_sent = Instant::now();
        }
        Ok(())
    }

    /// Decodes every complete packet, shows each to `seen` and queues the
    /// handshake answers.
    fn drain(&mut self, mut seen: impl FnMut(&Packet)) -> anyhow::Result<()> {
        while let Some(packet) = self.codec.decode(&mut self.inbuf)? {
            seen(&packet);
            let answer = match packet {
                Packet::Publish(p) => match p.qos {
                    QoS::AtMostOnce => continue,
                    QoS::AtLeastOnce => Packet::PubAck(PubAck::new(p.pkid)),
                    QoS::ExactlyOnce => Packet::PubRec(PubRec::new(p.pkid)),
                },
                Packet::PubRel(r) => Packet::PubComp(PubComp::new(r.pkid)),
                Packet::PubRec(r) => Packet::PubRel(PubRel::new(r.pkid)),
                _ => continue,
            };
            self.queue(answer)?;
        }
        Ok(())
    }

    /// Sends what is queued, then reads until `pick` picks a packet
    /// (handshakes go on meanwhile).
    async fn until<T>(&mut self, mut pick: impl FnMut(&Packet) -> Option<T>) -> anyhow::Result<T> {
        tokio::time::timeout(LOGIN_TIMEOUT, async {
            loop {
                self.flush().await?;
                self.inbuf.reserve(READ_CHUNK);
                if self.rd.read_buf(&mut self.inbuf).await? == 0 {
                    bail!("connection closed");
                }
                let mut picked = None;
                self.drain(|p| picked = picked.take().or_else(|| pick(p)))?;
                if let Some(v) = picked {
                    self.flush().await?;
                    return Ok(v);
                }
            }
        })
        .await
        .context("timed out")?
    }
}

/// A new message as a client sends it: `{'Message', [], chain, Feed, [], [],
/// MsgId, From, To, CreatedMs, [Desc text], [], ..., Status = []}`.
fn message(feed: &Term, from: &str, to: &str, text: String) -> Vec<u8> {
    // The server keeps `msg_id` to make resends idempotent: fresh each time.
    let msg_id = Term::bin(ulid::Ulid::new().to_string());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let desc = [
        msg_id.clone(),
        Term::bin("text"),
        Term::bin(text),
        Term::nil(),
        Term::nil(),
    ];
    let mut f = vec![Term::nil(); 16];
    f[1] = Term::atom("chain");
    f[2] = feed.clone();
    f[5] = msg_id;
    f[6] = Term::bin(from);
    f[7] = Term::bin(to);
    f[8] = Term::Int(now.as_millis() as i64);
    f[9] = Term::List(vec![Term::record("Desc", desc)]);
    etf::encode(&Term::record("Message", f))
}

pub async fn connect(
    target: &Target,
    account: &Account,
    opts: ClientOpts,
) -> anyhow::Result<Connected> {
    // Other dialects' users show as `<username>_<id>`; NYNJA accounts'
    // username is their phone, so this is the server's phone_roster id.
    let phone = account.phone.as_deref().unwrap_or(&account.username);
    let me = format!("{phone}_{}", account.user_id);
    let (feed, to) = match &opts.room {
        Room::Channel { id, .. } => (nynja::muc_feed(id), id.clone()),
        Room::Direct { username, user_id } => {
            if user_id.is_empty() {
                bail!("a NYNJA p2p feed names users by id; {username} has none");
            }
            let other = format!("{username}_{user_id}");
            (nynja::p2p_feed(&me, &other), other)
        }
    };
    let started = Instant::now();
    let client_id = format!("emqttd_{}", account.user_id);
    let password = Some(account.token.as_str());
    let mut m = Mqtt::open(target.mqtt, opts.source_ip, &client_id, password).await?;
    // The server pushes the Profile init right after CONNACK, then joins
    // the session to its guilds before it reads anything else: the answer
    // to a ping is the moment the rooms are live.
    m.queue(Packet::PingReq)?;
    let pong = m.until(|p| matches!(p, Packet::PingResp).then_some(()));
    pong.await.context("no PINGRESP after CONNACK")?;
    let ready_after = started.elapsed();
    let (tx, mut rx) = mpsc::channel::<String>(SEND_QUEUE);
    let task = tokio::spawn(async move {
        let quiet = Duration::from_secs(u64::from(KEEP_ALIVE_S) / 2);
        let mut keepalive = tokio::time::interval(quiet);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keepalive.tick().await;
        let seen = |p: &Packet| {
            let Packet::Publish(p) = p else { return };
            if let Some(mk) = find_marker(&p.payload) {
                opts.sink.seen(opts.index, mk);
            } else if p.topic.starts_with("actions/") {
                // Replies to our sends: an Ack, or `{io,{error,_},_}`.
                report_error(opts.index, &p.payload);
            }
        };
        loop {
            m.inbuf.reserve(READ_CHUNK);
            let sent = tokio::select! {
                n = m.rd.read_buf(&mut m.inbuf) => match n {
                    Ok(n) if n > 0 => m.drain(seen),
                    _ => break,
                },
                text = rx.recv() => {
                    let Some(text) = text else { break };
                    m.publish(message(&feed, &me, &to, text))
                }
                _ = keepalive.tick() => match m.last_sent.elapsed() < quiet {
                    true => Ok(()),
                    false => m.queue(Packet::PingReq),
                },
            };
            if sent.is_err() || m.flush().await.is_err() {
                break;
            }
        }
    });
    Ok(Connected {
        ready_after,
        tx,
        task,
    })
}

fn report_error(index: usize, payload: &[u8]) {
    let Ok(Term::Tuple(io)) = etf::decode(payload, Limits::default()) else {
        return;
    };
    let Some(Term::Tuple(code)) = io.get(1) else {
        return;
    };
    if code.first().and_then(Term::as_atom) == Some("error")
        && !ERROR_SHOWN.swap(true, Ordering::Relaxed)
    {
        eprintln!("nynja client {index}: {io:?} (further errors are not shown)");
    }
}

/// `{'Auth', ClientId, DevKey, [], Phone, [], Type, Code, [], ...}`.
fn auth(client_id: &str, phone: &str, kind: &str, code: Option<&str>) -> Vec<u8> {
    let mut f = vec![Term::nil(); 14];
    f[0] = Term::bin(client_id);
    f[1] = Term::bin("switchboard-bench");
    f[3] = Term::bin(phone);
    f[5] = Term::atom(kind);
    if let Some(c) = code {
        f[6] = Term::bin(c);
    }
    etf::encode(&Term::record("Auth", f))
}

/// `{io,{ok2,login,{ClientId,Token}},<<>>}` → (ClientId, Token).
fn login_of(t: &Term) -> Option<(String, String)> {
    let Term::Tuple(io) = t else { return None };
    let Term::Tuple(code) = io.get(1)? else {
        return None;
    };
    let Term::Tuple(pair) = code.get(2)? else {
        return None;
    };
    let (cid, token) = (pair.first()?.as_text()?, pair.get(1)?.as_text()?);
    (*t == nynja::io_login(&cid, &token)).then_some((cid, token))
}

/// The next reply on this client's `actions/` topic, as a term.
async fn reply(m: &mut Mqtt) -> anyhow::Result<Term> {
    let payload = m.until(|p| match p {
        Packet::Publish(p) if p.topic.starts_with("actions/") => Some(p.payload.clone()),
        _ => None,
    });
    Ok(etf::decode(&payload.await?, Limits::default())?)
}

/// Makes (or signs in again) the NYNJA account of `phone` with `Auth reg`
/// and `Auth verify` over a `reg_` connection: a session token without
/// the Argon2 cost of a password login.
pub async fn register(
    target: &Target,
    source: IpAddr,
    phone: &str,
    code: &str,
) -> anyhow::Result<Account> {
    let reg_id = format!("reg_{phone}");
    let mut m = Mqtt::open(target.mqtt, source, &reg_id, None).await?;
    m.publish(auth(&reg_id, phone, "reg", None))?;
    let sent = reply(&mut m).await.context("no answer to Auth reg")?;
    if sent != nynja::io_ok("sms_sent", Term::bin("")) {
        bail!("Auth reg of {phone}: {sent:?}");
    }
    m.publish(auth(&reg_id, phone, "verify", Some(code)))?;
    let login = reply(&mut m).await.context("no answer to Auth verify")?;
    let (client_id, token) =
        login_of(&login).with_context(|| format!("Auth verify of {phone}: {login:?}"))?;
    let user_id = client_id
        .strip_prefix("emqttd_")
        .with_context(|| format!("odd ClientId {client_id}"))?
        .to_string();
    // A polite end; the account exists whatever happens to the socket now.
    if m.queue(Packet::Disconnect).is_ok() {
        let _ = m.flush().await;
    }
    Ok(Account {
        // The server names a phone-made account after the phone.
        username: phone.to_string(),
        user_id,
        token,
        phone: Some(phone.to_string()),
        ..Account::default()
    })
}
