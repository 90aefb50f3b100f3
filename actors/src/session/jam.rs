//! The JAM session: one actor per `/ws` connection.
//!
//! Hello on connect, heartbeats, authentication (ops 2/3), then client ops
//! become commands and events become frames. Every frame the server sends
//! carries this connection's next `s`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_http::ws::{Frame, ProtocolError};
use futures_util::StreamExt;
use serde_json::{json, Value};
use switchboard_protocols::event::Envelope;
use switchboard_protocols::event::Event;
use switchboard_protocols::jam::codes::{self, close, JamError};
use switchboard_protocols::jam::encode::{encode_event, encode_event_with_ref};
use switchboard_protocols::jam::frame::prefix;
use switchboard_protocols::jam::{self, decode_frame, finish_frame, op, AuthRequest, Request};
use switchboard_protocols::model::{Dialect, User};
use switchboard_protocols::{GatewayResult, Id};
use tracing::debug;

use crate::accounts;
use crate::admission::ConnectionSlot;
use crate::audience::{Control, Deliver, SessionHandle, Wake};
use crate::hub::Attach;
use crate::session::ready::{go_offline, go_online, Ready};
use crate::session::ws::{Assembler, Received, WsFramed, WsOut};
use crate::session::{conn_span, record_user, start_in_span};
use crate::world::{Caller, World};

/// Decode errors in a row that close the socket (4002).
const MAX_DECODE_ERRORS: u8 = 3;
/// Failed authentications on one socket that close it (4004).
const MAX_FAILED_LOGINS: u8 = 5;

pub struct JamSession {
    id: u64,
    span: tracing::Span,
    world: Arc<World>,
    peer: SocketAddr,
    out: WsOut,
    assembler: Assembler,
    seq: u64,
    user: Option<Arc<User>>,
    /// Digest of the token it identified with: a logout of that token ends it.
    token: Option<[u8; 32]>,
    guilds: Vec<Id>,
    decode_errors: u8,
    failed_logins: u8,
    last_heartbeat: Instant,
    /// The last envelope written, to drop the duplicate a user sharing two
    /// guilds with someone gets for one presence change.
    last_env: Option<Arc<Envelope>>,
}

impl JamSession {
    /// Takes over an upgraded connection.
    pub fn start(
        world: Arc<World>,
        framed: WsFramed,
        peer: SocketAddr,
        slot: ConnectionSlot,
    ) -> Addr<JamSession> {
        let (sink, stream) = framed.split();
        world.metrics.connection_opened(Dialect::Jam);
        let w = world.clone();
        // The address's connection place is freed with the socket.
        let on_closed = move || {
            drop(slot);
            w.metrics.connection_closed(Dialect::Jam);
        };
        let id = world.next_session_id();
        let span = conn_span(Dialect::Jam, peer, id);
        start_in_span(span.clone(), move |ctx| {
            ctx.add_stream(stream);
            JamSession {
                id,
                span,
                out: WsOut::start(sink, world.config.pending_bytes, on_closed),
                assembler: Assembler::new(world.config.frame_bytes),
                world,
                peer,
                seq: 0,
                user: None,
                token: None,
                guilds: Vec::new(),
                decode_errors: 0,
                failed_logins: 0,
                last_heartbeat: Instant::now(),
                last_env: None,
            }
        })
    }

    fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.world.config.jam_heartbeat_ms)
    }

    /// Writes one frame with the next sequence number.
    fn send_prefix(&mut self, ctx: &mut Context<Self>, prefix: &[u8]) {
        self.seq += 1;
        if self.out.text(finish_frame(prefix, self.seq)).is_err() {
            self.slow_consumer(ctx);
        }
    }

    fn send_op(&mut self, ctx: &mut Context<Self>, op: i64, d: &Value) {
        self.send_prefix(ctx, &prefix(op, d));
    }

    fn send_error(&mut self, ctx: &mut Context<Self>, err: &JamError) {
        self.send_op(ctx, op::ERROR, &err.to_value());
    }

    fn close(&mut self, ctx: &mut Context<Self>, code: u16, reason: &str) {
        debug!(code, reason, "closing");
        self.out.close(code, reason);
        ctx.stop();
    }

    fn slow_consumer(&mut self, ctx: &mut Context<Self>) {
        if self.out.is_closing() {
            return;
        }
        self.world.metrics.slow_consumer();
        self.out.close_now(close::SLOW_CONSUMER, "slow consumer");
        ctx.stop();
    }

    fn decode_error(&mut self, ctx: &mut Context<Self>, err: JamError) {
        self.send_error(ctx, &err);
        self.decode_errors += 1;
        if self.decode_errors >= MAX_DECODE_ERRORS {
            self.close(ctx, close::DECODE_ERROR, "decode error");
        }
    }

    fn on_text(&mut self, ctx: &mut Context<Self>, bytes: &[u8]) {
        self.world.metrics.frame_in(Dialect::Jam);
        let Ok(text) = std::str::from_utf8(bytes) else {
            return self.decode_error(
                ctx,
                JamError::new(codes::DECODE_ERROR, "Frame is not UTF-8"),
            );
        };
        let frame = match decode_frame(text) {
            Ok(f) => f,
            Err(e) if e.code == codes::DECODE_ERROR => return self.decode_error(ctx, e),
            Err(e) => return self.send_error(ctx, &e),
        };
        self.decode_errors = 0;
        if frame.op == op::HEARTBEAT {
            self.last_heartbeat = Instant::now();
            return self.send_op(ctx, op::HEARTBEAT, &Value::Null);
        }
        let user_id = self.user.as_ref().map(|u| u.id);
        if let Err(e) = self.world.admit(self.peer.ip(), user_id) {
            let e = JamError::from(e).with_op(Some(frame.op), frame.reference);
            return self.send_error(ctx, &e);
        }
        let Some(user) = self.user.clone() else {
            if frame.op != op::AUTHENTICATE {
                let e = JamError::new(codes::NOT_AUTHENTICATED, "Authenticate first (op 2)")
                    .with_op(Some(frame.op), frame.reference.clone());
                return self.send_error(ctx, &e);
            }
            return match jam::parse_request(&frame, Id::ZERO) {
                Ok(Request::Authenticate(auth)) => self.authenticate(ctx, auth, frame.reference),
                Ok(_) => {}
                Err(e) => self.auth_failed(ctx, e),
            };
        };
        let request = match jam::parse_request(&frame, user.id) {
            Ok(r) => r,
            Err(e) => return self.send_error(ctx, &e),
        };
        let command = match request {
            Request::Command(c) => c,
            Request::Authenticate(_) => {
                let e = JamError::new(codes::ALREADY_AUTHENTICATED, "Already authenticated")
                    .with_op(Some(frame.op), frame.reference);
                return self.send_error(ctx, &e);
            }
            Request::Heartbeat(_) => return,
        };
        let caller = Caller {
            user,
            session: Some(self.id),
            reference: frame.reference.clone(),
        };
        let (failed_op, reference) = (frame.op, frame.reference);
        let reply = self.world.execute(caller, command);
        // A task of its own, not a future of this actor: actix polls every
        // future an actor spawned whenever the actor wakes, so a client with
        // many commands in flight would make each wake cost all of them.
        let addr = ctx.address();
        actix_rt::spawn(async move {
            if let Err(e) = reply.await {
                let e = JamError::from(e).with_op(Some(failed_op), reference);
                addr.do_send(CommandFailed(e));
            }
        });
    }

    fn auth_failed(&mut self, ctx: &mut Context<Self>, err: JamError) {
        self.send_error(ctx, &err);
        self.failed_logins += 1;
        if self.failed_logins >= MAX_FAILED_LOGINS {
            self.close(ctx, close::AUTHENTICATION_FAILED, "authentication failed");
        }
    }

    fn authenticate(
        &mut self,
        ctx: &mut Context<Self>,
        auth: AuthRequest,
        reference: Option<String>,
    ) {
        let world = self.world.clone();
        let login = async move {
            match auth {
                AuthRequest::Register {
                    username,
                    password,
                    display_name,
                } => {
                    accounts::register(&world, &username, &password, display_name.as_deref()).await
                }
                AuthRequest::Login { username, password } => {
                    accounts::login(&world, &username, &password).await
                }
                AuthRequest::Token(token) => {
                    accounts::authenticate_token(&world, &token).map(|u| (u, token))
                }
            }
        };
        // `wait`: nothing else on this socket is handled until we know who
        // it is, and events for the user queue until op 3 is out.
        ctx.wait(login.into_actor(self).map(move |res, act, ctx| match res {
            Ok((user, token)) => act.go_online(ctx, user, token),
            Err(e) => {
                let e = JamError::from(e).with_op(Some(op::AUTHENTICATE), reference);
                act.auth_failed(ctx, e);
            }
        }));
    }

    fn session_handle(&self, ctx: &mut Context<Self>, user: Id) -> SessionHandle {
        let addr = ctx.address();
        SessionHandle {
            id: self.id,
            user_id: user,
            dialect: Dialect::Jam,
            deliver: addr.clone().recipient(),
            control: addr.recipient(),
        }
    }

    fn go_online(&mut self, ctx: &mut Context<Self>, user: Arc<User>, token: String) {
        let handle = self.session_handle(ctx, user.id);
        let ready = go_online(self.world.clone(), handle);
        ctx.wait(ready.into_actor(self).map(
            move |res: GatewayResult<Ready>, act, ctx| match res {
                Ok(ready) => {
                    act.guilds = ready.guild_ids();
                    act.token = Some(accounts::hash_token(&token));
                    let d = authenticated(&token, &user, &ready);
                    record_user(&act.span, user.id);
                    act.user = Some(user);
                    act.send_op(ctx, op::AUTHENTICATED, &d);
                    ctx.notify(Wake);
                }
                Err(e) => {
                    let e = JamError::from(e).with_op(Some(op::AUTHENTICATE), None);
                    act.send_error(ctx, &e);
                }
            },
        ));
    }
}

/// The `d` of op 3.
fn authenticated(token: &str, user: &User, ready: &Ready) -> Value {
    use switchboard_protocols::jam::objects;
    json!({
        "token": token,
        "user": objects::user(user),
        "guilds": ready.guilds.iter().map(objects::guild_full).collect::<Vec<_>>(),
        "dms": ready.dms.iter().map(objects::channel).collect::<Vec<_>>(),
        "presences": ready.presences.iter().map(objects::presence).collect::<Vec<_>>(),
        "voice_states": ready.voice_states.iter().map(objects::voice_state).collect::<Vec<_>>(),
    })
}

impl Actor for JamSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.world.config.mailbox_capacity);
        self.world.hub().do_send(Attach {
            id: self.id,
            control: ctx.address().recipient(),
        });
        debug!("jam connected");
        let hello = json!({
            "heartbeat_interval": self.world.config.jam_heartbeat_ms,
            "server": {
                "name": self.world.config.server_name,
                "domain": self.world.config.domain,
                "version": self.world.config.version,
            },
            "protocol": jam::PROTOCOL,
        });
        self.send_op(ctx, op::HELLO, &hello);
        ctx.run_later(self.world.config.login_timeout, |act, ctx| {
            if act.user.is_none() {
                act.close(ctx, close::NOT_AUTHENTICATED, "not authenticated in time");
            }
        });
        let every = self.heartbeat_interval() / 4;
        ctx.run_interval(every, |act, ctx| {
            let limit = act.heartbeat_interval().mul_f64(1.5);
            if act.last_heartbeat.elapsed() > limit {
                if act.user.is_none() {
                    act.close(ctx, close::NOT_AUTHENTICATED, "not authenticated");
                } else {
                    act.close(ctx, close::SESSION_TIMEOUT, "session timed out");
                }
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        // However the session ended, the writer must end too, or the socket
        // would stay open with no one reading it.
        self.out.close(1000, "");
        let user = self.user.as_ref().map(|u| u.id);
        go_offline(&self.world, self.id, user, &self.guilds);
        debug!("jam disconnected");
    }
}

impl StreamHandler<Result<Frame, ProtocolError>> for JamSession {
    fn handle(&mut self, item: Result<Frame, ProtocolError>, ctx: &mut Self::Context) {
        if self.out.is_closing() {
            return;
        }
        match self.assembler.receive(&self.out, item) {
            Received::Text(b) => self.on_text(ctx, &b),
            Received::Binary(_) => self.decode_error(
                ctx,
                JamError::new(codes::DECODE_ERROR, "Binary frames are not supported"),
            ),
            Received::TooLarge => self.decode_error(
                ctx,
                JamError::new(
                    codes::DECODE_ERROR,
                    format!("Frame larger than {} bytes", self.world.config.frame_bytes),
                ),
            ),
            Received::Nothing => {}
            Received::SlowConsumer => self.slow_consumer(ctx),
            Received::Closed { code, reason } => self.close(ctx, code, reason),
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<Deliver> for JamSession {
    type Result = ();

    fn handle(&mut self, Deliver(env): Deliver, ctx: &mut Self::Context) {
        if self.out.is_closing() || self.user.is_none() {
            return;
        }
        if self
            .last_env
            .as_ref()
            .is_some_and(|last| Arc::ptr_eq(last, &env))
        {
            return;
        }
        match &env.event {
            Event::GuildCreate(g) if !self.guilds.contains(&g.guild.id) => {
                self.guilds.push(g.guild.id)
            }
            Event::GuildDelete { id } => self.guilds.retain(|g| g != id),
            _ => {}
        }
        let own_ref = env
            .origin
            .as_ref()
            .filter(|o| o.session == self.id)
            .and_then(|o| o.reference.as_deref());
        let encoded = match own_ref {
            Some(r) => encode_event_with_ref(&env.event, r),
            None => env.encoded(Dialect::Jam, encode_event),
        };
        if let Some(p) = encoded {
            self.send_prefix(ctx, &p);
        }
        self.last_env = Some(env);
    }
}

/// A command of this session failed: its op 4.
#[derive(Message)]
#[rtype(result = "()")]
struct CommandFailed(JamError);

impl Handler<CommandFailed> for JamSession {
    type Result = ();
    fn handle(&mut self, CommandFailed(e): CommandFailed, ctx: &mut Self::Context) {
        self.send_error(ctx, &e);
    }
}

impl Handler<Wake> for JamSession {
    type Result = ();
    fn handle(&mut self, _: Wake, _: &mut Self::Context) {}
}

impl Handler<Control> for JamSession {
    type Result = ();

    fn handle(&mut self, msg: Control, ctx: &mut Self::Context) {
        match msg {
            Control::SlowConsumer => self.slow_consumer(ctx),
            Control::Shutdown => self.close(ctx, close::GOING_AWAY, "server going away"),
            Control::Revoked(why) if why.applies_to(self.token.as_ref()) => {
                self.close(ctx, close::AUTHENTICATION_FAILED, why.reason())
            }
            Control::Revoked(_) => {}
        }
    }
}
