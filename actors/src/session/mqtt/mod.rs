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
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_http::ws::{Frame, ProtocolError};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use switchboard_protocols::etf::{self, Limits, Term};
use switchboard_protocols::model::{Dialect, User};
use switchboard_protocols::mqtt::{
    self, ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    SubAck, SubscribeReasonCode,
};
use switchboard_protocols::nynja;
use tokio_util::codec::{BytesCodec, Decoder, Encoder, FramedRead};
use tracing::debug;

use super::ready::go_offline;
use super::tcp::TcpOut;
use super::ws::{Assembler, Received, WsFramed, WsOut};
use crate::accounts;
use crate::admission::ConnectionSlot;
use crate::audience::{Control, Deliver, SessionHandle, Wake};
use crate::hub::{Attach, NynjaOnline};
use crate::nynja::{persistent_client, phone_of, set_persistent_client, NynjaContext};
use crate::session::{conn_span, record_user, start_in_span};
use crate::world::World;

/// Seconds a connection has to send CONNECT.
const CONNECT_DEADLINE_SECS: u64 = 10;

/// What kind of client this is, from its ClientId.
#[derive(Debug, Clone)]
enum Role {
    /// `reg_*`: may only send `Auth`.
    Registering,
    /// `emqttd_*` with a valid token.
    User(Arc<User>),
}

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
enum MqttOut {
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

    fn is_closing(&self) -> bool {
        match self {
            MqttOut::Tcp(t) => t.is_closing(),
            MqttOut::Ws(w) => w.is_closing(),
        }
    }
}

pub struct MqttSession {
    id: u64,
    span: tracing::Span,
    world: Arc<World>,
    ctx: Arc<NynjaContext>,
    peer: SocketAddr,
    out: MqttOut,
    /// WebSocket frames to MQTT bytes (WebSocket only).
    assembler: Option<Assembler>,
    inbuf: BytesMut,
    codec: mqtt::Codec,
    client_id: String,
    /// Digest of the token it connected with: a logout of that token ends it.
    token: Option<[u8; 32]>,
    role: Option<Role>,
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
    /// Guilds whose audience this session joined.
    guilds: Vec<switchboard_protocols::Id>,
}

impl MqttSession {
    pub fn start(
        world: Arc<World>,
        ctx: Arc<NynjaContext>,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        slot: ConnectionSlot,
    ) -> Addr<MqttSession> {
        let (read, write) = stream.into_split();
        world.metrics.connection_opened(Dialect::Nynja);
        let w = world.clone();
        // The address's connection place is freed with the socket.
        let on_closed = move || {
            drop(slot);
            w.metrics.connection_closed(Dialect::Nynja);
        };
        let id = world.next_session_id();
        let span = conn_span(Dialect::Nynja, peer, id);
        start_in_span(span.clone(), move |c| {
            c.add_stream(FramedRead::new(read, BytesCodec::new()));
            let out = TcpOut::start(write, world.config.pending_bytes, on_closed);
            MqttSession::new((id, span), world, ctx, peer, MqttOut::Tcp(out), None)
        })
    }

    /// MQTT over WebSocket (`/mqtt` on the main port).
    pub fn start_ws(
        world: Arc<World>,
        ctx: Arc<NynjaContext>,
        framed: WsFramed,
        peer: SocketAddr,
        slot: ConnectionSlot,
    ) -> Addr<MqttSession> {
        let (sink, stream) = framed.split();
        world.metrics.connection_opened(Dialect::Nynja);
        let w = world.clone();
        // The address's connection place is freed with the socket.
        let on_closed = move || {
            drop(slot);
            w.metrics.connection_closed(Dialect::Nynja);
        };
        let id = world.next_session_id();
        let span = conn_span(Dialect::Nynja, peer, id);
        start_in_span(span.clone(), move |c| {
            c.add_stream(stream);
            let out = WsOut::start(sink, world.config.pending_bytes, on_closed);
            // Fragments of one packet: its remaining length and header.
            let assembler =
                Assembler::new(ctx.config.max_packet.saturating_add(mqtt::MAX_FIXED_HEADER));
            MqttSession::new(
                (id, span),
                world,
                ctx,
                peer,
                MqttOut::Ws(out),
                Some(assembler),
            )
        })
    }

    /// `(id, span)`: the session id, and the connection span the actor
    /// runs in and names its user in.
    fn new(
        (id, span): (u64, tracing::Span),
        world: Arc<World>,
        ctx: Arc<NynjaContext>,
        peer: SocketAddr,
        out: MqttOut,
        assembler: Option<Assembler>,
    ) -> MqttSession {
        let max = ctx.config.max_packet;
        MqttSession {
            id,
            span,
            out,
            assembler,
            world,
            ctx,
            peer,
            inbuf: BytesMut::new(),
            codec: mqtt::codec(max),
            client_id: String::new(),
            role: None,
            token: None,
            keep_alive: Duration::ZERO,
            last_heard: Instant::now(),
            next_pkid: 1,
            inflight: HashMap::new(),
            incoming_qos2: HashSet::new(),
            persistent: false,
            guilds: Vec::new(),
        }
    }

    fn write(&mut self, c: &mut Context<Self>, packet: Packet) {
        let mut buf = BytesMut::new();
        if self.codec.encode(packet, &mut buf).is_err() {
            return;
        }
        if self.out.send(buf.to_vec()).is_err() {
            self.end(c, Ending::SlowConsumer, "slow consumer");
        }
    }

    fn close(&mut self, c: &mut Context<Self>, why: &str) {
        self.end(c, Ending::Normal, why);
    }

    fn end(&mut self, c: &mut Context<Self>, how: Ending, why: &str) {
        if !self.out.is_closing() {
            debug!(why, "mqtt closing");
            if how == Ending::SlowConsumer {
                self.world.metrics.slow_consumer();
            }
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

    fn handle_of(&self, c: &mut Context<Self>, user: &User) -> SessionHandle {
        let addr = c.address();
        SessionHandle {
            id: self.id,
            user_id: user.id,
            dialect: Dialect::Nynja,
            deliver: addr.clone().recipient(),
            control: addr.recipient(),
        }
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
            self.role = Some(Role::Registering);
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
        record_user(&self.span, user.id);
        self.role = Some(Role::User(user.clone()));
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
            session: self.handle_of(c, &user),
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
        let (world, handle) = (self.world.clone(), self.handle_of(c, &user));
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
        let user = match &self.role {
            Some(Role::User(u)) => Some(u.id),
            _ => None,
        };
        if self.world.admit(self.peer.ip(), user).is_err() {
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
        if self.role.is_none() {
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

impl Actor for MqttSession {
    type Context = Context<Self>;

    fn started(&mut self, c: &mut Self::Context) {
        c.set_mailbox_capacity(self.world.config.mailbox_capacity);
        self.world.hub().do_send(Attach {
            id: self.id,
            control: c.address().recipient(),
        });
        debug!("mqtt connected");
        c.run_later(Duration::from_secs(CONNECT_DEADLINE_SECS), |act, c| {
            if act.role.is_none() {
                act.close(c, "no CONNECT in time");
            }
        });
        c.run_interval(Duration::from_secs(1), |act, c| {
            // 1.5 × keep-alive without a packet ends the connection.
            let limit = act.keep_alive.mul_f32(1.5);
            if !act.keep_alive.is_zero() && act.last_heard.elapsed() > limit {
                act.close(c, "keep-alive expired");
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.out.close(Ending::Normal);
        let user = match &self.role {
            Some(Role::User(u)) => Some(u.id),
            _ => None,
        };
        // Unacknowledged publishes of a persistent session are sent again
        // after the reconnect (before anything that arrives meanwhile).
        if self.persistent {
            let mut unacked: Vec<_> = self.inflight.drain().collect();
            unacked.sort_by_key(|(pkid, _)| *pkid);
            for (_, p) in unacked {
                let seq = self.world.ids.next();
                let _ =
                    self.world
                        .store
                        .nynja_queue_push(&self.client_id, seq, &p.topic, &p.payload);
            }
        }
        go_offline(&self.world, self.id, user, &self.guilds);
        debug!("mqtt disconnected");
    }
}

impl StreamHandler<Result<BytesMut, std::io::Error>> for MqttSession {
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

impl StreamHandler<Result<Frame, ProtocolError>> for MqttSession {
    fn handle(&mut self, item: Result<Frame, ProtocolError>, c: &mut Self::Context) {
        let (MqttOut::Ws(out), Some(assembler)) = (&self.out, self.assembler.as_mut()) else {
            return;
        };
        if out.is_closing() {
            return;
        }
        match assembler.receive(out, item) {
            Received::Binary(b) => self.feed(c, &b),
            Received::Nothing => {}
            Received::Text(_) => self.close(c, "MQTT travels in binary frames"),
            Received::TooLarge | Received::Closed { code: 1009, .. } => {
                self.end(c, Ending::TooLarge, "frame too large")
            }
            Received::SlowConsumer => self.end(c, Ending::SlowConsumer, "slow consumer"),
            Received::Closed { .. } => self.close(c, "websocket closed"),
        }
    }

    fn finished(&mut self, c: &mut Self::Context) {
        c.stop();
    }
}

impl MqttSession {
    /// Bytes from either transport, decoded into packets.
    fn feed(&mut self, c: &mut Context<Self>, chunk: &[u8]) {
        self.inbuf.extend_from_slice(chunk);
        // Anything but a CONNECT first is not MQTT: no need to wait for the
        // length it seems to announce.
        if self.role.is_none() && self.inbuf.first().is_some_and(|b| b >> 4 != 1) {
            return self.close(c, "the first packet must be CONNECT");
        }
        loop {
            if self.out.is_closing() {
                return;
            }
            match self.codec.decode(&mut self.inbuf) {
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

impl Handler<Deliver> for MqttSession {
    type Result = ();

    fn handle(&mut self, Deliver(env): Deliver, c: &mut Self::Context) {
        let Some(Role::User(me)) = self.role.clone() else {
            return;
        };
        if self.out.is_closing() {
            return;
        }
        for (topic, payload) in events::render(&self.world, &me, &env.event) {
            self.publish(c, &topic, payload);
        }
    }
}

impl Handler<Wake> for MqttSession {
    type Result = ();
    fn handle(&mut self, _: Wake, _: &mut Self::Context) {}
}

impl Handler<Control> for MqttSession {
    type Result = ();

    fn handle(&mut self, msg: Control, c: &mut Self::Context) {
        match msg {
            Control::SlowConsumer => self.end(c, Ending::SlowConsumer, "slow consumer"),
            Control::Shutdown => self.end(c, Ending::GoingAway, "server going away"),
            Control::Revoked(why) if why.applies_to(self.token.as_ref()) => {
                self.end(c, Ending::Revoked, why.reason())
            }
            Control::Revoked(_) => {}
        }
    }
}
