//! The session shell: what a connection does whatever its dialect, written
//! once, as rumqttd's `Network<P>` or mini-redis's `Handler`.
//!
//! A session is the actor [`Session<D>`]. The shell owns the connection:
//! its id and span, its writer ([`Transport`]), the address's connection
//! slot and the open-connections gauge (given back when the socket closes),
//! the hub attachment, the login deadline, the audiences it joined, the
//! token it signed in with, and the handlers of what the core sends every
//! session ([`Deliver`], [`Wake`], [`Control`]). A WebSocket session's read
//! side (reassembly, pings, the peer's close, a queue overflowing while a
//! ping is answered) is here too.
//!
//! The dialect `D` ([`Translate`], and [`WsTranslate`] over WebSocket)
//! holds its own state and says only what differs: what a message from the
//! client means (decode → command), what an event becomes on its wire
//! (event → frames), how it greets, and how it says goodbye.
//!
//! `Session<D>` dereferences to `D`, so a dialect's code, written as
//! `impl Session<Jam> { ... }`, reads its own fields as `self.seq` and the
//! shell's as `self.world` or `self.user`.
//!
//! Sessions start here too: [`Session::start_ws`] for an upgraded
//! WebSocket, [`Session::start_tcp`] for a raw TCP connection, each given
//! the dialect's fresh state (`Jam::new()`, `Oc::new(..)`, ...).

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_http::ws::{Frame, ProtocolError};
use bytes::Bytes;
use futures_util::StreamExt;
use switchboard_protocols::event::Envelope;
use switchboard_protocols::model::User;
use switchboard_protocols::Dialect;
use switchboard_protocols::Id;
use tokio_util::codec::{Decoder, FramedRead};
use tracing::{debug, Instrument as _};

use super::ready::go_offline;
use super::tcp::TcpOut;
use super::ws::{Assembler, Received, WsFramed, WsOut};
use crate::admission::ConnectionSlot;
use crate::audience::{Control, Deliver, Revocation, SessionHandle, Wake};
use crate::hub::Attach;
use crate::world::World;

/// The WebSocket close code for a peer that stopped reading, in every
/// dialect that closes with a code (JAM's 4010).
pub const SLOW_CONSUMER: u16 = 4010;

/// One connection in dialect `D`.
pub struct Session<D: Translate> {
    pub(super) id: u64,
    /// The connection's span ([`conn_span`]); the actor runs in it.
    pub(super) span: tracing::Span,
    pub(super) world: Arc<World>,
    pub(super) peer: SocketAddr,
    pub(super) out: D::Out,
    /// The user it signed in as ([`Session::signed_in`]). Events flow only
    /// then.
    pub(super) user: Option<Arc<User>>,
    /// Reassembles WebSocket messages (`None` on raw TCP).
    assembler: Option<Assembler>,
    /// Digest of the token it signed in with: a logout of that token ends
    /// it ([`Revocation::applies_to`]). `None` for a dialect without tokens.
    pub(super) token: Option<[u8; 32]>,
    /// Guilds whose audiences this session joined.
    pub(super) guilds: Vec<Id>,
    /// The last envelope written ([`Translate::SKIP_REPEATS`]).
    last_env: Option<Arc<Envelope>>,
    dialect: D,
}

/// What differs from one dialect's session to the next. The functions take
/// the whole session: a dialect's state is `s.field` (through `Deref`), the
/// shell's `s.world`, `s.out`.
pub trait Translate: Sized + Unpin + 'static {
    /// The dialect, for the span, the logs, the metrics and the audiences.
    const DIALECT: Dialect;
    /// Whether an envelope delivered twice in a row is written once (the
    /// same event reaching the session through two of its audiences).
    const SKIP_REPEATS: bool = false;
    /// Its writer.
    type Out: Transport;

    /// Whether the client introduced itself (by default: signed in). One
    /// that has not by [`Translate::login_deadline`] is closed.
    fn introduced(s: &Session<Self>) -> bool {
        s.user.is_some()
    }

    /// How long a client has to introduce itself.
    fn login_deadline(world: &World) -> Duration {
        world.config.login_timeout
    }

    /// The client did not introduce itself in time: close as the dialect
    /// does.
    fn too_late(s: &mut Session<Self>, c: &mut Context<Session<Self>>);

    /// Once the session is attached: greetings, timers.
    fn started(_s: &mut Session<Self>, _c: &mut Context<Session<Self>>) {}

    /// What the dialect does on the way out, before the session leaves the
    /// hub and its audiences (the writer is already closing).
    fn stopping(_s: &mut Session<Self>) {}

    /// One event for the signed-in session, whose writer is open: its
    /// frames, written. Encodings shared by every recipient come from the
    /// envelope's per-dialect cache ([`Envelope::encoded`]).
    fn deliver(s: &mut Session<Self>, c: &mut Context<Session<Self>>, env: &Arc<Envelope>);

    /// Closes the connection for `why`, saying it as the dialect does.
    fn farewell(s: &mut Session<Self>, c: &mut Context<Session<Self>>, why: Farewell);
}

/// A dialect over WebSocket: what a whole message means. Control frames,
/// reassembly and the output queue are the shell's.
pub trait WsTranslate: Translate {
    /// The largest message it reassembles.
    fn max_message(&self, world: &World) -> usize {
        world.config.frame_bytes
    }

    fn text(s: &mut Session<Self>, c: &mut Context<Session<Self>>, text: Bytes);

    fn binary(s: &mut Session<Self>, c: &mut Context<Session<Self>>, data: Bytes);

    /// A message over the session's limit (it is not kept).
    fn too_large(s: &mut Session<Self>, c: &mut Context<Session<Self>>);

    /// The peer closed (its code is echoed), or its frame was unreadable
    /// (1002) or far too large (1009).
    fn peer_closed(
        s: &mut Session<Self>,
        c: &mut Context<Session<Self>>,
        code: u16,
        reason: &'static str,
    ) {
        s.close_ws(c, code, reason);
    }
}

/// A dialect over raw TCP: how its bytes are cut into items. What an item
/// means is the dialect's `StreamHandler` of the decoder's items.
pub trait TcpTranslate: Translate {
    type Codec: Decoder + 'static;
    fn codec(&self) -> Self::Codec;
}

/// Why the server ends a session that is keeping up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Farewell {
    /// The server is stopping.
    Shutdown,
    /// The account was banned, its password reset, or this session's token
    /// logged out.
    Revoked(Revocation),
}

impl Farewell {
    /// The close frame of a WebSocket dialect: 1001 for a shutdown,
    /// `revoked` with the reason for a revocation.
    pub fn ws_close(self, revoked: u16) -> (u16, &'static str) {
        match self {
            Farewell::Shutdown => (1001, "server going away"),
            Farewell::Revoked(why) => (revoked, why.reason()),
        }
    }
}

/// A session's writer, as the shell uses it.
pub trait Transport: Unpin + 'static {
    /// A close is under way: nothing more goes out.
    fn is_closing(&self) -> bool;
    /// Ends the connection once what is queued is out (or the close grace
    /// has passed): the end of every session, however it came.
    fn close_normally(&mut self);
    /// Ends the connection of a peer that stopped reading, without waiting
    /// behind what is queued for it.
    fn close_slow_consumer(&mut self);
    /// The WebSocket writer, for the read side (`None` on raw TCP).
    fn ws(&self) -> Option<&WsOut> {
        None
    }
}

impl Transport for WsOut {
    fn is_closing(&self) -> bool {
        WsOut::is_closing(self)
    }
    fn close_normally(&mut self) {
        self.close(1000, "");
    }
    fn close_slow_consumer(&mut self) {
        self.close_now(SLOW_CONSUMER, "slow consumer");
    }
    fn ws(&self) -> Option<&WsOut> {
        Some(self)
    }
}

impl Transport for TcpOut {
    fn is_closing(&self) -> bool {
        TcpOut::is_closing(self)
    }
    fn close_normally(&mut self) {
        self.close();
    }
    fn close_slow_consumer(&mut self) {
        self.close_now();
    }
}

/// The place a connection holds: its address's connection slot and its
/// count in the open-connections gauge, given back when the socket closes
/// (not merely when the session stops), so shutdown can wait for the last
/// frames to leave.
struct Place {
    slot: ConnectionSlot,
    world: Arc<World>,
    dialect: Dialect,
}

impl Place {
    fn take(world: &Arc<World>, slot: ConnectionSlot, dialect: Dialect) -> Place {
        world.metrics.connection_opened(dialect);
        Place {
            slot,
            world: world.clone(),
            dialect,
        }
    }

    fn release(self) {
        drop(self.slot);
        self.world.metrics.connection_closed(self.dialect);
    }
}

impl<D: WsTranslate> Session<D>
where
    D::Out: From<WsOut>,
{
    /// Takes over an upgraded WebSocket.
    pub fn start_ws(
        world: Arc<World>,
        framed: WsFramed,
        peer: SocketAddr,
        slot: ConnectionSlot,
        dialect: D,
    ) -> Addr<Self> {
        let (sink, stream) = framed.split();
        let assembler = Some(Assembler::new(dialect.max_message(&world)));
        Self::open(
            world,
            peer,
            slot,
            stream,
            assembler,
            dialect,
            |limit, place| WsOut::start(sink, limit, move || place.release()).into(),
        )
    }
}

impl<D: TcpTranslate> Session<D>
where
    D::Out: From<TcpOut>,
    Self: Actor<Context = Context<Self>>
        + StreamHandler<Result<<D::Codec as Decoder>::Item, <D::Codec as Decoder>::Error>>,
{
    /// Takes over a raw TCP connection.
    pub fn start_tcp(
        world: Arc<World>,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        slot: ConnectionSlot,
        dialect: D,
    ) -> Addr<Self> {
        let (read, write) = stream.into_split();
        let read = FramedRead::new(read, dialect.codec());
        Self::open(world, peer, slot, read, None, dialect, |limit, place| {
            TcpOut::start(write, limit, move || place.release()).into()
        })
    }
}

impl<D: Translate> Session<D> {
    /// The start of every session: its place, id and span, its writer
    /// (`out`, given the output bound and the place to release), and the
    /// actor, running in the span and reading `stream`.
    fn open<S>(
        world: Arc<World>,
        peer: SocketAddr,
        slot: ConnectionSlot,
        stream: S,
        assembler: Option<Assembler>,
        dialect: D,
        out: impl FnOnce(usize, Place) -> D::Out,
    ) -> Addr<Self>
    where
        S: futures_util::Stream + 'static,
        Self: Actor<Context = Context<Self>> + StreamHandler<S::Item>,
    {
        let place = Place::take(&world, slot, D::DIALECT);
        let id = world.next_session_id();
        let span = conn_span(D::DIALECT, peer, id);
        start_in_span(span.clone(), move |c| {
            c.add_stream(stream);
            Session {
                id,
                span,
                out: out(world.config.pending_bytes, place),
                user: None,
                world,
                peer,
                assembler,
                token: None,
                guilds: Vec::new(),
                last_env: None,
                dialect,
            }
        })
    }

    /// The client is `user` from now on: events flow, and the connection's
    /// span names it.
    pub(super) fn signed_in(&mut self, user: Arc<User>) {
        self.span.record("user", tracing::field::display(user.id));
        self.user = Some(user);
    }

    pub(super) fn user_id(&self) -> Option<Id> {
        self.user.as_ref().map(|u| u.id)
    }

    /// How the core reaches this session once it is `user`'s.
    pub(super) fn session_handle(&self, c: &mut Context<Self>, user: Id) -> SessionHandle {
        let addr = c.address();
        SessionHandle {
            id: self.id,
            user_id: user,
            dialect: D::DIALECT,
            deliver: addr.clone().recipient(),
            control: addr.recipient(),
        }
    }

    /// The peer is not keeping up (its output queue or its mailbox is
    /// full): the connection ends without waiting behind what is queued.
    pub(super) fn slow_consumer(&mut self, c: &mut Context<Self>) {
        if !self.out.is_closing() {
            self.world.metrics.slow_consumer();
            debug!("closing: slow consumer");
            self.out.close_slow_consumer();
        }
        c.stop();
    }

    /// Closes a WebSocket with `code` and `reason` after what is queued.
    pub(super) fn close_ws(&mut self, c: &mut Context<Self>, code: u16, reason: &str) {
        debug!(code, reason, "closing");
        if let Some(out) = self.out.ws() {
            out.close(code, reason);
        }
        c.stop();
    }
}

impl<D: Translate> Deref for Session<D> {
    type Target = D;
    fn deref(&self) -> &D {
        &self.dialect
    }
}

impl<D: Translate> DerefMut for Session<D> {
    fn deref_mut(&mut self) -> &mut D {
        &mut self.dialect
    }
}

impl<D: Translate> Actor for Session<D> {
    type Context = Context<Self>;

    fn started(&mut self, c: &mut Self::Context) {
        c.set_mailbox_capacity(self.world.config.mailbox_capacity);
        self.world.hub().do_send(Attach {
            id: self.id,
            control: c.address().recipient(),
        });
        debug!("{} connected", log_name(D::DIALECT));
        // A connection that never introduces itself is not kept.
        c.run_later(D::login_deadline(&self.world), |s, c| {
            if !D::introduced(s) {
                D::too_late(s, c);
            }
        });
        D::started(self, c);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        // However the session ended, the writer must end too, or the socket
        // would stay open with no one reading it.
        self.out.close_normally();
        D::stopping(self);
        go_offline(&self.world, self.id, self.user_id(), &self.guilds);
        debug!("{} disconnected", log_name(D::DIALECT));
    }
}

impl<D: WsTranslate> StreamHandler<Result<Frame, ProtocolError>> for Session<D> {
    fn handle(&mut self, item: Result<Frame, ProtocolError>, c: &mut Self::Context) {
        let (Some(out), Some(assembler)) = (self.out.ws(), self.assembler.as_mut()) else {
            return;
        };
        if out.is_closing() {
            return;
        }
        match assembler.receive(out, item) {
            Received::Text(b) => D::text(self, c, b),
            Received::Binary(b) => D::binary(self, c, b),
            Received::TooLarge => D::too_large(self, c),
            Received::Nothing => {}
            Received::SlowConsumer => self.slow_consumer(c),
            Received::Closed { code, reason } => D::peer_closed(self, c, code, reason),
        }
    }

    fn finished(&mut self, c: &mut Self::Context) {
        c.stop();
    }
}

impl<D: Translate> Handler<Deliver> for Session<D> {
    type Result = ();

    fn handle(&mut self, Deliver(env): Deliver, c: &mut Self::Context) {
        if self.out.is_closing() || self.user.is_none() {
            return;
        }
        if D::SKIP_REPEATS {
            if self.last_env.as_ref().is_some_and(|l| Arc::ptr_eq(l, &env)) {
                return;
            }
            D::deliver(self, c, &env);
            self.last_env = Some(env);
        } else {
            D::deliver(self, c, &env);
        }
    }
}

impl<D: Translate> Handler<Wake> for Session<D> {
    type Result = ();
    fn handle(&mut self, _: Wake, _: &mut Self::Context) {}
}

impl<D: Translate> Handler<Control> for Session<D> {
    type Result = ();

    fn handle(&mut self, msg: Control, c: &mut Self::Context) {
        match msg {
            Control::SlowConsumer => self.slow_consumer(c),
            Control::Shutdown => D::farewell(self, c, Farewell::Shutdown),
            Control::Revoked(why) if why.applies_to(self.token.as_ref()) => {
                D::farewell(self, c, Farewell::Revoked(why))
            }
            Control::Revoked(_) => {}
        }
    }
}

/// The span every event of one connection is logged in, so that an operator
/// can follow one client with a single filter (`session=...` or `peer=...`)
/// and see who it was once it logged in. `user` stays empty until then
/// ([`Session::signed_in`]).
fn conn_span(dialect: Dialect, peer: SocketAddr, session: u64) -> tracing::Span {
    tracing::info_span!(
        "conn",
        dialect = dialect.as_str(),
        peer = %peer,
        session,
        user = tracing::field::Empty,
    )
}

/// How the logs name a dialect's connections: "jam connected",
/// "chat-network disconnected".
fn log_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Jam => "jam",
        Dialect::OriginChats => "originchats",
        Dialect::Nynja => "mqtt",
        Dialect::V0 => "v0",
        Dialect::ChatNet => "chat-network",
    }
}

/// `Actor::create`, but with the actor's whole future running inside `span`:
/// handlers, timers, `wait`ed futures, `started` and `stopped` all log in the
/// connection's span without entering it at each of them.
fn start_in_span<A, F>(span: tracing::Span, f: F) -> Addr<A>
where
    A: Actor<Context = Context<A>>,
    F: FnOnce(&mut Context<A>) -> A,
{
    let mut ctx = Context::new();
    let act = f(&mut ctx);
    let fut = ctx.into_future(act);
    let addr = fut.address();
    actix_rt::spawn(fut.instrument(span));
    addr
}
