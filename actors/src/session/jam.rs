//! The JAM session: one actor per `/ws` connection.
//!
//! Hello on connect, heartbeats, authentication (ops 2/3), then client ops
//! become commands and events become frames. Every frame the server sends
//! carries this connection's next `s`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use serde_json::{json, Value};
use switchboard_protocols::event::Envelope;
use switchboard_protocols::event::Event;
use switchboard_protocols::jam::codes::{self, close, JamError};
use switchboard_protocols::jam::encode::{encode_event, encode_event_with_ref};
use switchboard_protocols::jam::frame::prefix;
use switchboard_protocols::jam::{self, decode_frame, finish_frame, op, AuthRequest, Request};
use switchboard_protocols::model::User;
use switchboard_protocols::Dialect;
use switchboard_protocols::{GatewayResult, Id};

use crate::accounts;
use crate::audience::Wake;
use crate::session::ready::{go_online, Ready};
use crate::session::shell::{Farewell, Session, Translate, WsTranslate};
use crate::session::ws::WsOut;
use crate::world::Caller;

/// Decode errors in a row that close the socket (4002).
const MAX_DECODE_ERRORS: u8 = 3;
/// Failed authentications on one socket that close it (4004).
const MAX_FAILED_LOGINS: u8 = 5;

/// A JAM session's own state.
pub struct Jam {
    seq: u64,
    decode_errors: u8,
    failed_logins: u8,
    last_heartbeat: Instant,
}

impl Jam {
    pub fn new() -> Jam {
        Jam {
            seq: 0,
            decode_errors: 0,
            failed_logins: 0,
            last_heartbeat: Instant::now(),
        }
    }
}

impl Default for Jam {
    fn default() -> Self {
        Jam::new()
    }
}

pub type JamSession = Session<Jam>;

impl JamSession {
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

    fn decode_error(&mut self, ctx: &mut Context<Self>, err: JamError) {
        self.send_error(ctx, &err);
        self.decode_errors += 1;
        if self.decode_errors >= MAX_DECODE_ERRORS {
            self.close_ws(ctx, close::DECODE_ERROR, "decode error");
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
        if let Err(e) = self.world.admit(self.peer.ip(), self.user_id()) {
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
            self.close_ws(ctx, close::AUTHENTICATION_FAILED, "authentication failed");
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

    fn go_online(&mut self, ctx: &mut Context<Self>, user: Arc<User>, token: String) {
        let handle = self.session_handle(ctx, user.id);
        let ready = go_online(self.world.clone(), handle);
        ctx.wait(ready.into_actor(self).map(
            move |res: GatewayResult<Ready>, act, ctx| match res {
                Ok(ready) => {
                    act.guilds = ready.guild_ids();
                    act.token = Some(accounts::hash_token(&token));
                    let d = authenticated(&token, &user, &ready);
                    act.signed_in(user);
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

impl Translate for Jam {
    const DIALECT: Dialect = Dialect::Jam;
    /// A user sharing two guilds with someone would otherwise get one
    /// presence change twice, each with its own `s`.
    const SKIP_REPEATS: bool = true;
    type Out = WsOut;

    fn too_late(s: &mut JamSession, ctx: &mut Context<JamSession>) {
        s.close_ws(ctx, close::NOT_AUTHENTICATED, "not authenticated in time");
    }

    fn started(s: &mut JamSession, ctx: &mut Context<JamSession>) {
        let hello = json!({
            "heartbeat_interval": s.world.config.jam_heartbeat_ms,
            "server": {
                "name": s.world.config.server_name,
                "domain": s.world.config.domain,
                "version": s.world.config.version,
            },
            "protocol": jam::PROTOCOL,
        });
        s.send_op(ctx, op::HELLO, &hello);
        let every = s.heartbeat_interval() / 4;
        ctx.run_interval(every, |act, ctx| {
            let limit = act.heartbeat_interval().mul_f64(1.5);
            if act.last_heartbeat.elapsed() > limit {
                if act.user.is_none() {
                    act.close_ws(ctx, close::NOT_AUTHENTICATED, "not authenticated");
                } else {
                    act.close_ws(ctx, close::SESSION_TIMEOUT, "session timed out");
                }
            }
        });
    }

    fn deliver(s: &mut JamSession, ctx: &mut Context<JamSession>, env: &Arc<Envelope>) {
        match &env.event {
            Event::GuildCreate(g) if !s.guilds.contains(&g.guild.id) => s.guilds.push(g.guild.id),
            Event::GuildDelete { id } => s.guilds.retain(|g| g != id),
            _ => {}
        }
        let own_ref = env
            .origin
            .as_ref()
            .filter(|o| o.session == s.id)
            .and_then(|o| o.reference.as_deref());
        let encoded = match own_ref {
            Some(r) => encode_event_with_ref(&env.event, r),
            None => env.encoded(Dialect::Jam, encode_event),
        };
        if let Some(p) = encoded {
            s.send_prefix(ctx, &p);
        }
    }

    fn farewell(s: &mut JamSession, ctx: &mut Context<JamSession>, why: Farewell) {
        let (code, reason) = why.ws_close(close::AUTHENTICATION_FAILED);
        s.close_ws(ctx, code, reason);
    }
}

impl WsTranslate for Jam {
    fn text(s: &mut JamSession, ctx: &mut Context<JamSession>, text: Bytes) {
        s.on_text(ctx, &text);
    }

    fn binary(s: &mut JamSession, ctx: &mut Context<JamSession>, _: Bytes) {
        let e = JamError::new(codes::DECODE_ERROR, "Binary frames are not supported");
        s.decode_error(ctx, e);
    }

    fn too_large(s: &mut JamSession, ctx: &mut Context<JamSession>) {
        let limit = s.world.config.frame_bytes;
        let e = JamError::new(
            codes::DECODE_ERROR,
            format!("Frame larger than {limit} bytes"),
        );
        s.decode_error(ctx, e);
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
