//! The NYNJA session: an MQTT 3.1.1 connection on the MQTT port.
//!
//! The server is the broker and the application at once: clients publish
//! requests to `events/...`; the server publishes replies and pushes on the
//! topics it subscribed the client to itself (`actions/1/api/<cid>`,
//! `ses/<phone>`, `p2p/<a>/<b>`, ...), at QoS 2 with the full
//! PUBREC/PUBREL/PUBCOMP handshake. Client SUBSCRIBE is refused (0x80).
//! Requests run one at a time, in order (`rpc.rs`).

mod events;
mod rpc;

pub use events::publishes_for;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::{Bytes, BytesMut};
use switchboard_protocols::event::Envelope;
use switchboard_protocols::nynja;
use switchboard_protocols::nynja::etf::{self, Limits, Term};
use switchboard_protocols::nynja::mqtt::{
    self, ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    SubAck, SubscribeReasonCode,
};
use switchboard_protocols::Dialect;
use tokio_util::codec::{BytesCodec, Decoder, Encoder};
use tracing::debug;

use super::shell::{Farewell, Session, TcpTranslate, Translate, Transport, WsTranslate};
use super::tcp::TcpOut;
use super::ws::WsOut;
use crate::accounts;
use crate::hub::NynjaOnline;
use crate::nynja::{persistent_client, phone_of, set_persistent_client, NynjaContext};
use crate::world::World;

/// Seconds a connection has to send CONNECT.
const CONNECT_DEADLINE_SECS: u64 = 10;

/// Why the server ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Normal,
    GoingAway,
    /// The peer stopped reading: what is queued is dropped, not waited on.
    SlowConsumer,
    /// The account was banned, or its password reset, while connected.
    Revoked,
    /// A WebSocket frame over the packet limit (close 1009).
    TooLarge,
}

/// Where the bytes go: a TCP socket, or binary WebSocket frames (`/mqtt`).
pub enum MqttOut {
    Tcp(TcpOut),
    Ws(WsOut),
}

impl MqttOut {
    fn send(&self, bytes: Vec<u8>) -> Result<(), ()> {
        match self {
            MqttOut::Tcp(t) => t.send(bytes).map_err(|_| ()),
            MqttOut::Ws(w) => w.binary(Bytes::from(bytes)).map_err(|_| ()),
        }
    }

    /// Ends the connection. MQTT 3.1.1 has no server-to-client goodbye,
    /// so over TCP the end of the stream is the signal; over WebSocket the
    /// close frame says why (1000, 1001 going away, 4010 slow consumer,
    /// 1008 revoked, as the other WebSocket dialects).
    fn close(&mut self, how: Ending) {
        match (self, how) {
            (MqttOut::Tcp(t), Ending::SlowConsumer) => t.close_now(),
            (MqttOut::Tcp(t), _) => t.close(),
            (MqttOut::Ws(w), Ending::Normal) => w.close(1000, ""),
            (MqttOut::Ws(w), Ending::GoingAway) => w.close(1001, "server going away"),
            (MqttOut::Ws(w), Ending::SlowConsumer) => w.close_now(4010, "slow consumer"),
            (MqttOut::Ws(w), Ending::Revoked) => w.close(1008, "session revoked"),
            (MqttOut::Ws(w), Ending::TooLarge) => w.close_now(1009, "frame too large"),
        }
    }
}

impl From<TcpOut> for MqttOut {
    fn from(out: TcpOut) -> MqttOut {
        MqttOut::Tcp(out)
    }
}

impl From<WsOut> for MqttOut {
    fn from(out: WsOut) -> MqttOut {
        MqttOut::Ws(out)
    }
}

impl Transport for MqttOut {
    fn is_closing(&self) -> bool {
        match self {
            MqttOut::Tcp(t) => t.is_closing(),
            MqttOut::Ws(w) => w.is_closing(),
        }
    }

    fn close_normally(&mut self) {
        self.close(Ending::Normal);
    }

    fn close_slow_consumer(&mut self) {
        self.close(Ending::SlowConsumer);
    }

    fn ws(&self) -> Option<&WsOut> {
        match self {
            MqttOut::Tcp(_) => None,
            MqttOut::Ws(w) => Some(w),
        }
    }
}

/// A NYNJA session's own state. Its user (an `emqttd_*` client with a
/// valid token) is the shell's.
pub struct Nynja {
    ctx: Arc<NynjaContext>,
    inbuf: BytesMut,
    codec: mqtt::Codec,
    client_id: String,
    /// A CONNECT was accepted: the user's, or a `reg_*` client's (which may
    /// only send `Auth`).
    connected: bool,
    keep_alive: Duration,
    last_heard: Instant,
    next_pkid: u16,
    /// Our QoS 1/2 publishes not yet acknowledged, by packet id.
    inflight: HashMap<u16, Publish>,
    /// Client QoS 2 packet ids between PUBLISH and PUBREL: a resend is not
    /// handled twice.
    incoming_qos2: HashSet<u16>,
    /// `clean_session=false`: what this client misses waits for it.
    persistent: bool,
}

impl Nynja {
    pub fn new(ctx: Arc<NynjaContext>) -> Nynja {
        let max = ctx.config.max_packet;
        Nynja {
            ctx,
            inbuf: BytesMut::new(),
            codec: mqtt::codec(max),
            client_id: String::new(),
            connected: false,
            keep_alive: Duration::ZERO,
            last_heard: Instant::now(),
            next_pkid: 1,
            inflight: HashMap::new(),
            incoming_qos2: HashSet::new(),
            persistent: false,
        }
    }
}

pub type NynjaSession = Session<Nynja>;

impl NynjaSession {
    fn write(&mut self, c: &mut Context<Self>, packet: Packet) {
        let mut buf = BytesMut::new();
        if self.codec.encode(packet, &mut buf).is_err() {
            return;
        }
        if self.out.send(buf.to_vec()).is_err() {
            self.slow_consumer(c);
        }
    }

    fn close(&mut self, c: &mut Context<Self>, why: &str) {
        self.end(c, Ending::Normal, why);
    }

    fn end(&mut self, c: &mut Context<Self>, how: Ending, why: &str) {
        if !self.out.is_closing() {
            debug!(why, "mqtt closing");
        }
        self.out.close(how);
        c.stop();
    }

    /// Publishes `term` on `topic` to this client at QoS 2.
    fn publish(&mut self, c: &mut Context<Self>, topic: &str, payload: Bytes) {
        let pkid = self.next_pkid;
        self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
        let mut p = Publish::new(topic, QoS::ExactlyOnce, payload.to_vec());
        p.pkid = pkid;
        self.inflight.insert(pkid, p.clone());
        self.write(c, Packet::Publish(p));
    }

    /// A reply on this client's `actions/1/api/<cid>` topic.
    fn reply(&mut self, c: &mut Context<Self>, term: &Term) {
        let topic = format!("actions/1/api/{}", self.client_id);
        self.publish(c, &topic, Bytes::from(etf::encode(term)));
    }

    fn on_connect(&mut self, c: &mut Context<Self>, connect: mqtt::Connect) {
        self.keep_alive = Duration::from_secs(u64::from(connect.keep_alive));
        self.client_id = connect.client_id.clone();
        let refuse = |act: &mut Self, c: &mut Context<Self>, code| {
            act.write(c, Packet::ConnAck(ConnAck::new(code, false)));
            act.close(c, "connect refused");
        };
        // A CONNECT is a login attempt: it counts against the address.
        if self.world.admit(self.peer.ip(), None).is_err() {
            return refuse(self, c, ConnectReturnCode::ServiceUnavailable);
        }
        // The will topic `version/N` tells the client's protocol revision;
        // it is recorded, and no one subscribes to it.
        if let Some(w) = &connect.last_will {
            if let Some(v) = w.topic.strip_prefix("version/") {
                let key = format!("nynja/version/{}", self.client_id);
                let _ = self.world.store.meta_put(&key, v.as_bytes());
            }
        }
        if connect.client_id.starts_with("reg_") {
            self.connected = true;
            self.write(
                c,
                Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, false)),
            );
            return;
        }
        let Some(user_part) = connect.client_id.strip_prefix("emqttd_") else {
            return refuse(self, c, ConnectReturnCode::BadClientId);
        };
        let password = connect.login.as_ref().map(|l| l.password.clone());
        self.token = password.as_deref().map(accounts::hash_token);
        let user = password.and_then(|p| accounts::authenticate_token(&self.world, &p).ok());
        let Some(user) = user else {
            return refuse(self, c, ConnectReturnCode::BadUserNamePassword);
        };
        if user_part != user.id.to_string() {
            return refuse(self, c, ConnectReturnCode::NotAuthorized);
        }
        self.connected = true;
        self.signed_in(user.clone());
        self.persistent = !connect.clean_session;
        let had_session =
            persistent_client(&self.world, user.id).as_deref() == Some(self.client_id.as_str());
        if self.persistent {
            set_persistent_client(&self.world, user.id, Some(&self.client_id));
        } else {
            set_persistent_client(&self.world, user.id, None);
            let _ = self.world.store.nynja_queue_clear(&self.client_id);
        }
        let present = self.persistent && had_session;
        self.write(
            c,
            Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, present)),
        );
        // The roster the client starts from.
        let init = rpc::profile_init(&self.world, &user);
        self.reply(c, &init);
        // Live from the step that hands over what waited, so nothing is
        // lost or reordered between the two.
        let online = NynjaOnline {
            session: self.session_handle(c, user.id),
            client_id: self.client_id.clone(),
        };
        let req = self.world.hub().send(online);
        c.wait(req.into_actor(self).map(|waiting, act, c| {
            for (topic, payload) in waiting.unwrap_or_default() {
                act.publish(c, &topic, Bytes::from(payload));
            }
        }));
        // The default guild's text channels are rooms of type `channel`:
        // the session hears its guilds.
        let (world, handle) = (self.world.clone(), self.session_handle(c, user.id));
        let joined = async move {
            let mut guilds = Vec::new();
            for g in world
                .store
                .guilds_of_user(handle.user_id)
                .unwrap_or_default()
            {
                if let Ok(addr) = world.guild_addr(g) {
                    if let Ok(Ok(_)) = addr.send(crate::guild::Connect(handle.clone())).await {
                        guilds.push(g);
                    }
                }
            }
            guilds
        };
        c.wait(
            joined
                .into_actor(self)
                .map(|guilds, act, _| act.guilds = guilds),
        );
        debug!(phone = %phone_of(&self.world, &user), "nynja logged in");
    }

    fn on_publish(&mut self, c: &mut Context<Self>, p: Publish) {
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.write(c, Packet::PubAck(PubAck::new(p.pkid))),
            QoS::ExactlyOnce => {
                self.write(c, Packet::PubRec(PubRec::new(p.pkid)));
                if !self.incoming_qos2.insert(p.pkid) {
                    // A resend before PUBREL: handled already.
                    return;
                }
            }
        }
        if self.world.admit(self.peer.ip(), self.user_id()).is_err() {
            return self.reply(c, &nynja::io_error("rate_limited"));
        }
        if !p.topic.starts_with("events/") {
            return self.reply(c, &nynja::io_error("invalid_data"));
        }
        let term = match etf::decode(&p.payload, Limits::default()) {
            Ok(t) => t,
            Err(_) => return self.reply(c, &nynja::io_error("invalid_data")),
        };
        let request = match nynja::Request::parse(&term) {
            Ok(r) => r,
            Err(nynja::Invalid::Data) => return self.reply(c, &nynja::io_error("invalid_data")),
            Err(nynja::Invalid::NotSupported) => {
                return self.reply(c, &nynja::io_error("not_supported"))
            }
        };
        self.run(c, request);
    }

    fn on_packet(&mut self, c: &mut Context<Self>, packet: Packet) {
        self.last_heard = Instant::now();
        if !self.connected {
            return match packet {
                Packet::Connect(connect) => self.on_connect(c, connect),
                _ => self.close(c, "the first packet must be CONNECT"),
            };
        }
        match packet {
            Packet::Connect(_) => self.close(c, "a second CONNECT"),
            Packet::Publish(p) => self.on_publish(c, p),
            Packet::PubRel(r) => {
                self.incoming_qos2.remove(&r.pkid);
                self.write(c, Packet::PubComp(PubComp::new(r.pkid)));
            }
            Packet::PubAck(a) => {
                self.inflight.remove(&a.pkid);
            }
            Packet::PubRec(r) => {
                // Received: only the release remains, so a reconnect does
                // not deliver it again.
                self.inflight.remove(&r.pkid);
                self.write(c, Packet::PubRel(PubRel::new(r.pkid)));
            }
            Packet::PubComp(p) => {
                self.inflight.remove(&p.pkid);
            }
            Packet::Subscribe(s) => {
                // Clients subscribe to nothing themselves.
                let codes = vec![SubscribeReasonCode::Failure; s.filters.len().max(1)];
                self.write(c, Packet::SubAck(SubAck::new(s.pkid, codes)));
            }
            Packet::Unsubscribe(u) => {
                self.write(c, Packet::UnsubAck(mqtt::UnsubAck::new(u.pkid)));
            }
            Packet::PingReq => self.write(c, Packet::PingResp),
            Packet::Disconnect => self.close(c, "DISCONNECT"),
            _ => self.close(c, "a packet only servers send"),
        }
    }
}

impl Translate for Nynja {
    const DIALECT: Dialect = Dialect::Nynja;
    type Out = MqttOut;

    /// A CONNECT, registering or not.
    fn introduced(s: &NynjaSession) -> bool {
        s.connected
    }

    fn login_deadline(_: &World) -> Duration {
        Duration::from_secs(CONNECT_DEADLINE_SECS)
    }

    fn too_late(s: &mut NynjaSession, c: &mut Context<NynjaSession>) {
        s.close(c, "no CONNECT in time");
    }

    fn started(_: &mut NynjaSession, c: &mut Context<NynjaSession>) {
        c.run_interval(Duration::from_secs(1), |act, c| {
            // 1.5 × keep-alive without a packet ends the connection.
            let limit = act.keep_alive.mul_f32(1.5);
            if !act.keep_alive.is_zero() && act.last_heard.elapsed() > limit {
                act.close(c, "keep-alive expired");
            }
        });
    }

    /// Unacknowledged publishes of a persistent session are sent again
    /// after the reconnect (before anything that arrives meanwhile).
    fn stopping(s: &mut NynjaSession) {
        if !s.persistent {
            return;
        }
        let mut unacked: Vec<_> = s.inflight.drain().collect();
        unacked.sort_by_key(|(pkid, _)| *pkid);
        for (_, p) in unacked {
            let seq = s.world.ids.next();
            let _ = s
                .world
                .store
                .nynja_queue_push(&s.client_id, seq, &p.topic, &p.payload);
        }
    }

    fn deliver(s: &mut NynjaSession, c: &mut Context<NynjaSession>, env: &Arc<Envelope>) {
        let Some(me) = s.user.clone() else {
            return;
        };
        for (topic, payload) in events::render(&s.world, &me, &env.event) {
            s.publish(c, &topic, payload);
        }
    }

    fn farewell(s: &mut NynjaSession, c: &mut Context<NynjaSession>, why: Farewell) {
        match why {
            Farewell::Shutdown => s.end(c, Ending::GoingAway, "server going away"),
            Farewell::Revoked(why) => s.end(c, Ending::Revoked, why.reason()),
        }
    }
}

impl StreamHandler<Result<BytesMut, std::io::Error>> for NynjaSession {
    fn handle(&mut self, item: Result<BytesMut, std::io::Error>, c: &mut Self::Context) {
        let Ok(chunk) = item else {
            return self.close(c, "read error");
        };
        self.feed(c, &chunk);
    }

    fn finished(&mut self, c: &mut Self::Context) {
        c.stop();
    }
}

impl TcpTranslate for Nynja {
    type Codec = BytesCodec;
    fn codec(&self) -> BytesCodec {
        BytesCodec::new()
    }
}

impl WsTranslate for Nynja {
    /// Fragments of one packet: its remaining length and header.
    fn max_message(&self, _: &World) -> usize {
        self.ctx
            .config
            .max_packet
            .saturating_add(mqtt::MAX_FIXED_HEADER)
    }

    fn text(s: &mut NynjaSession, c: &mut Context<NynjaSession>, _: Bytes) {
        s.close(c, "MQTT travels in binary frames");
    }

    fn binary(s: &mut NynjaSession, c: &mut Context<NynjaSession>, data: Bytes) {
        s.feed(c, &data);
    }

    fn too_large(s: &mut NynjaSession, c: &mut Context<NynjaSession>) {
        s.end(c, Ending::TooLarge, "frame too large");
    }

    fn peer_closed(
        s: &mut NynjaSession,
        c: &mut Context<NynjaSession>,
        code: u16,
        _: &'static str,
    ) {
        match code {
            1009 => Self::too_large(s, c),
            _ => s.close(c, "websocket closed"),
        }
    }
}

impl NynjaSession {
    /// Bytes from either transport, decoded into packets.
    fn feed(&mut self, c: &mut Context<Self>, chunk: &[u8]) {
        self.inbuf.extend_from_slice(chunk);
        // Anything but a CONNECT first is not MQTT: no need to wait for the
        // length it seems to announce.
        if !self.connected && self.inbuf.first().is_some_and(|b| b >> 4 != 1) {
            return self.close(c, "the first packet must be CONNECT");
        }
        loop {
            if self.out.is_closing() {
                return;
            }
            let Nynja { codec, inbuf, .. } = &mut **self;
            match codec.decode(inbuf) {
                Ok(Some(packet)) => {
                    self.world.metrics.frame_in(Dialect::Nynja);
                    self.on_packet(c, packet);
                    if c.waiting() {
                        // CONNECT is still making the session live (its
                        // guilds, its waiting publishes): what followed it in
                        // the same read is handled once that is done.
                        c.wait(actix::fut::ready(()).map(|(), act: &mut Self, c| act.feed(c, &[])));
                        return;
                    }
                }
                Ok(None) => return,
                // Broken MQTT framing: the connection ends.
                Err(e) => return self.close(c, &e.to_string()),
            }
        }
    }
}
