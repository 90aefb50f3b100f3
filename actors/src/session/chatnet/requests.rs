//! chat-network requests, one at a time and in order (the actor waits on
//! each), answered with the profile's `resp_code`s.
//!
//! # Format
//! ```text
//! → {"type":"signup","username":"alice","password":"pw","hash":"sha256"}
//! ← {"type":"signup","resp_code":0,"session":"<uuid>"}       (2 taken, 3 hash)
//! → {"type":"subscribe","session":"<uuid>"}
//! ← {"type":"subscribe","resp_code":0}                         (1 and close)
//! → {"type":"invite.request","session":"<uuid>","dest":"bob"}
//! ← nothing; bob gets {"type":"invite.request","source":"alice","dest":"bob"}
//! ```

use std::sync::Arc;

use actix::prelude::*;
use serde_json::{Map, Value};
use switchboard_protocols::chatnet::{self, code, Kind, Request, CIPHERS, HASHES, VERSION};
use switchboard_protocols::command::{Command, NewMessage};
use switchboard_protocols::model::User;
use switchboard_protocols::ErrorKind;

use super::ChatnetSession;
use crate::accounts::{self, PasswordCheck};
use crate::hub::{InviteStep, Relay, Subscribe, UsesChatnet};
use crate::world::{Caller, Reply, World};

/// What a request comes to.
#[derive(Default)]
struct Outcome {
    frames: Vec<Map<String, Value>>,
    /// Close the socket after the frames.
    close: bool,
    /// The socket subscribes as this user, with the session token of this
    /// digest.
    subscribe: Option<(Arc<User>, [u8; 32])>,
}

impl Outcome {
    fn frame(frame: Map<String, Value>) -> Outcome {
        Outcome {
            frames: vec![frame],
            ..Outcome::default()
        }
    }

    fn nothing() -> Outcome {
        Outcome::default()
    }
}

impl ChatnetSession {
    pub(super) fn run(&mut self, c: &mut Context<Self>, req: Request) {
        let world = self.world.clone();
        let config = self.config.clone();
        let session = self.id;
        let subscribed = self.user_id();
        let fut = async move {
            match req.kind {
                Kind::Identification => identification(&req),
                Kind::ProtocolStandard => Outcome::frame(chatnet::protocol_standard()),
                Kind::Signup => signup(&world, &req).await,
                Kind::Signin => signin(&world, &req, config.signin_reply_type).await,
                Kind::Subscribe => subscribe(&world, &req, subscribed),
                _ => relay(&world, session, &req).await,
            }
        };
        c.wait(
            fut.into_actor(self)
                .map(|outcome, act, c| act.finish(c, outcome)),
        );
    }

    fn finish(&mut self, c: &mut Context<Self>, outcome: Outcome) {
        for f in &outcome.frames {
            self.send(c, f);
        }
        if outcome.close {
            return self.close_ws(c, 1000, "");
        }
        if let Some((user, token)) = outcome.subscribe {
            if self.user.is_none() {
                self.signed_in(user);
                self.token = Some(token);
                self.drain(c);
            }
        }
    }

    /// Takes what waited for the user, batch by batch, until the hub has
    /// made this socket live.
    fn drain(&mut self, c: &mut Context<Self>) {
        let Some(user) = self.user.clone() else {
            return;
        };
        let handle = self.session_handle(c, user.id);
        let req = self.world.hub().send(Subscribe(handle));
        c.wait(req.into_actor(self).map(|res, act, c| {
            let Ok(drained) = res else { return };
            for f in &drained.frames {
                act.send(c, f);
            }
            if !drained.live && !act.out.is_closing() {
                act.drain(c);
            }
        }));
    }
}

fn identification(req: &Request) -> Outcome {
    if req.text("version") == Some(VERSION) {
        return Outcome::frame(chatnet::identification());
    }
    Outcome {
        frames: vec![chatnet::reply(Kind::Identification, code::VERSION_MISMATCH)],
        close: true,
        subscribe: None,
    }
}

/// Username and password, or the malformed-input answer.
fn credentials(req: &Request) -> Result<(String, String), Outcome> {
    let malformed = |reason: String| Outcome::frame(chatnet::malformed(&reason));
    let username = req.required("username").map_err(malformed)?;
    let password = req.required("password").map_err(malformed)?;
    Ok((username.to_string(), password.to_string()))
}

async fn signup(world: &Arc<World>, req: &Request) -> Outcome {
    let failed = |code| Outcome::frame(chatnet::session_reply(Kind::Signup, code, ""));
    let (username, password) = match credentials(req) {
        Ok(c) => c,
        Err(o) => return o,
    };
    let hash = match req.required("hash") {
        Ok(h) => h,
        Err(reason) => return Outcome::frame(chatnet::malformed(&reason)),
    };
    // The hash is only checked and recorded: passwords are always stored
    // with Argon2id.
    if !HASHES.contains(&hash) {
        return failed(code::HASH_NOT_AVAILABLE);
    }
    match world.store.user_by_name(username.trim()) {
        Ok(Some(_)) => return failed(code::USER_IN_USE),
        Ok(None) => {}
        Err(e) => return Outcome::frame(chatnet::malformed(&e.to_string())),
    }
    let user = match accounts::register(world, &username, &password, None).await {
        Ok((user, token)) => {
            // The generic token is replaced by a UUID-shaped one.
            let _ = accounts::revoke_token(world, &token);
            user
        }
        Err(e) if e.kind == ErrorKind::Conflict => return failed(code::USER_IN_USE),
        Err(e) if matches!(e.kind, ErrorKind::RateLimited { .. }) => {
            return Outcome::frame(super::rate_limited(&e))
        }
        Err(e) => return Outcome::frame(chatnet::malformed(&e.message)),
    };
    let _ = world
        .store
        .meta_put(&format!("chatnet/hash/{}", user.id), hash.as_bytes());
    issue_session(world, &user, Kind::Signup).await
}

async fn signin(world: &Arc<World>, req: &Request, reply_as: Kind) -> Outcome {
    let (username, password) = match credentials(req) {
        Ok(c) => c,
        Err(o) => return o,
    };
    match accounts::check_password(world, &username, &password).await {
        Ok(user) => issue_session(world, &user, reply_as).await,
        Err(why) => {
            let code = match why {
                PasswordCheck::NoSuchUser => code::USER_NOT_IN_USE,
                PasswordCheck::WrongPassword => code::INVALID_PASSWORD,
                PasswordCheck::Busy => {
                    let e = switchboard_protocols::GatewayError::rate_limited(1000);
                    return Outcome::frame(super::rate_limited(&e));
                }
            };
            Outcome::frame(chatnet::session_reply(reply_as, code, ""))
        }
    }
}

/// A fresh session for `user`, durable before it is handed out.
async fn issue_session(world: &Arc<World>, user: &User, reply_as: Kind) -> Outcome {
    let issued = match accounts::issue_uuid_token(world, user) {
        Ok(token) => match world.hub().send(UsesChatnet(user.id)).await {
            Ok(Ok(())) => Ok(token),
            _ => Err(()),
        },
        Err(_) => Err(()),
    };
    let token = match issued {
        Ok(t) if world.store.commit().await.is_ok() => t,
        Ok(_) | Err(_) => return Outcome::frame(chatnet::malformed("storage error")),
    };
    Outcome::frame(chatnet::session_reply(reply_as, code::SUCCESS, &token))
}

/// The user behind the request's `session`.
fn session_user(world: &World, req: &Request) -> Option<Arc<User>> {
    let token = req.text("session")?;
    accounts::authenticate_token(world, token).ok()
}

/// A bad session gets code 1 and the socket closes, as documented.
fn subscribe(world: &World, req: &Request, already: Option<switchboard_protocols::Id>) -> Outcome {
    let user = session_user(world, req).filter(|u| already.is_none_or(|a| a == u.id));
    let Some(user) = user else {
        return Outcome {
            frames: vec![chatnet::reply(Kind::Subscribe, code::BAD_TOKEN)],
            close: true,
            subscribe: None,
        };
    };
    let token = accounts::hash_token(req.text("session").unwrap_or_default());
    Outcome {
        frames: vec![chatnet::reply(Kind::Subscribe, code::SUCCESS)],
        close: false,
        subscribe: Some((user, token)),
    }
}

/// invite.*, key_exchange.* and message: checked, then passed on to
/// `dest` in whatever dialect they use. Nothing is answered on success.
async fn relay(world: &Arc<World>, session: u64, req: &Request) -> Outcome {
    let refuse = |code| Outcome::frame(chatnet::reply(req.kind, code));
    let Some(user) = session_user(world, req) else {
        return refuse(code::BAD_TOKEN);
    };
    // `source` is the session's user; naming anyone else is refused.
    match req.body.get("source") {
        None => {}
        Some(Value::String(s)) if *s == user.username => {}
        Some(_) => return refuse(code::BAD_TOKEN),
    }
    let fields = req.kind.relayed_fields().unwrap_or_default();
    for f in std::iter::once(&"dest").chain(fields) {
        if let Err(reason) = req.required(f) {
            return Outcome::frame(chatnet::malformed(&reason));
        }
    }
    // An optional `cipher` (reference §2.5, decision 6) must be one the
    // server advertises.
    let names_cipher = matches!(req.kind, Kind::KeyExchangeInitiate | Kind::Message);
    if let (true, Some(cipher)) = (names_cipher, req.body.get("cipher")) {
        if !cipher.as_str().is_some_and(|c| CIPHERS.contains(&c)) {
            return refuse(code::CIPHER_NOT_AVAILABLE);
        }
    }
    let dest = req.text("dest").unwrap_or_default();
    let Ok(Some(to)) = world.store.user_by_name(dest) else {
        return refuse(code::USER_NOT_IN_USE);
    };
    if to.id == user.id {
        return Outcome::frame(chatnet::malformed("`dest` must be someone else"));
    }
    let frame = chatnet::relayed(&req.body, &user.username);
    let invite = match req.kind {
        Kind::InviteRequest => Some(InviteStep::Request),
        Kind::InviteAccept => Some(InviteStep::Accept),
        Kind::InviteReject => Some(InviteStep::Reject),
        _ => None,
    };
    if req.kind == Kind::Message {
        return send_message(world, session, user, to.id, req).await;
    }
    world.hub().do_send(Relay {
        from: user.id,
        to: to.id,
        invite,
        frame,
    });
    Outcome::nothing()
}

/// A message is stored in the pair's direct-message channel as opaque
/// ciphertext, and reaches `dest` from there in every dialect.
async fn send_message(
    world: &Arc<World>,
    session: u64,
    user: Arc<User>,
    to: switchboard_protocols::Id,
    req: &Request,
) -> Outcome {
    let caller = Caller {
        user,
        session: Some(session),
        reference: None,
    };
    let channel = match world
        .execute(caller.clone(), Command::OpenDm { recipient: to })
        .await
    {
        Ok(Reply::Channel(c)) => c,
        Ok(_) => return Outcome::frame(chatnet::malformed("no direct channel")),
        Err(e) => return Outcome::frame(chatnet::malformed(&e.message)),
    };
    let message = NewMessage {
        channel_id: channel.id,
        content: req.text("message").unwrap_or_default().to_string(),
        reply_to: None,
        attachments: Vec::new(),
        encrypted: true,
        nonce: req.text("nonce").map(str::to_string),
        client_ref: None,
        untagged: true,
        binary: false,
    };
    match world.execute(caller, Command::SendMessage(message)).await {
        Ok(_) => Outcome::nothing(),
        Err(e) => Outcome::frame(chatnet::malformed(&e.message)),
    }
}
