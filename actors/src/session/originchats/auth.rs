//! Signing in (reference §4): Rotur validators checked over HTTP, local
//! `register`/`login` against Switchboard's one account store, and a
//! Switchboard session token as `validator` in every mode.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::{json, Value};
use switchboard_protocols::model::User;
use switchboard_protocols::originchats::strings as s;
use switchboard_protocols::originchats::{frame, Inbound};
use switchboard_protocols::{ErrorKind, GatewayError, Id};
use tracing::warn;

use super::{AuthMode, OcContext, OcSession};
use crate::accounts;
use crate::session::ready::{go_online, Ready};
use crate::world::World;

/// How long a Rotur validation may take.
const ROTUR_TIMEOUT: Duration = Duration::from_secs(5);

/// A signed-in user, the session token shown as `ready.validator`, and
/// whether the account was created just now (for `user_join`).
type Signed = (Arc<User>, String, bool);

fn field<'a>(i: &'a Inbound, key: &str) -> Option<&'a str> {
    i.body.get(key).and_then(Value::as_str)
}

/// Asks Rotur whether `validator` was made for this connection's key;
/// answers the Rotur user id and username.
async fn rotur_validate(url: &str, key: &str, validator: &str) -> Result<(String, String), String> {
    let client = awc::Client::builder()
        .timeout(ROTUR_TIMEOUT)
        .connector(awc::Connector::new().rustls_021(crate::tls::client_config()))
        .finish();
    let request = client
        .get(url)
        .query(&[("key", key), ("v", validator)])
        .map_err(|e| e.to_string())?;
    let mut response = request.send().await.map_err(|e| e.to_string())?;
    if response.status().as_u16() != 200 {
        return Err(format!("status {}", response.status()));
    }
    let body: Value = response
        .json()
        .limit(64 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    if body.get("valid") != Some(&Value::Bool(true)) {
        return Err("not valid".into());
    }
    let text = |k: &str| {
        body.get(k).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    match (text("id"), text("username")) {
        (Some(id), Some(name)) if !id.is_empty() && !name.is_empty() => Ok((id, name)),
        _ => Err("no id or username".into()),
    }
}

/// The local account linked to a Rotur id, created on first sign-in.
async fn rotur_account(
    world: &Arc<World>,
    rotur_id: &str,
    username: &str,
) -> Result<(Arc<User>, bool), String> {
    let key = format!("rotur/{rotur_id}");
    if let Ok(Some(bytes)) = world.store.meta_get(&key) {
        if let Some(id) = Id::from_be_slice(&bytes) {
            if let Ok(user) = world.user(id) {
                return Ok((user, false));
            }
        }
    }
    let user = accounts::create_linked(world, username)
        .await
        .map_err(|e| e.message)?;
    world
        .store
        .meta_put(&key, &user.id.to_be_bytes())
        .map_err(|e| e.to_string())?;
    world.store.commit().await.map_err(|e| e.to_string())?;
    Ok((user, true))
}

/// The user behind an upload's credentials: a Switchboard session token,
/// or a Rotur validator made for `key` (the uploader's connection key).
pub async fn user_for_validator(
    world: &Arc<World>,
    ctx: &OcContext,
    key: &str,
    validator: &str,
) -> Option<Arc<User>> {
    if let Ok(user) = accounts::authenticate_token(world, validator) {
        return Some(user);
    }
    if ctx.config.auth_mode == AuthMode::CrackedOnly {
        return None;
    }
    let (rotur_id, name) = rotur_validate(&ctx.config.rotur_validate_url, key, validator)
        .await
        .ok()?;
    rotur_account(world, &rotur_id, &name)
        .await
        .ok()
        .map(|(u, _)| u)
}

/// The reference's rules for new local accounts, in its order.
fn check_new_account(username: &str, password: &str) -> Result<String, &'static str> {
    let len = username.chars().count();
    if !(2..=32).contains(&len) {
        return Err(s::USERNAME_LENGTH);
    }
    if !(4..=72).contains(&password.chars().count()) {
        return Err(s::PASSWORD_LENGTH);
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(s::USERNAME_CHARS);
    }
    Ok(username.to_lowercase())
}

async fn sign_in(
    world: Arc<World>,
    ctx: Arc<OcContext>,
    key: String,
    req: Inbound,
) -> Result<Signed, Refusal> {
    let cmd = req.cmd.as_deref().unwrap_or_default();
    let mode = ctx.config.auth_mode;
    match cmd {
        "auth" => {
            let validator = field(&req, "validator").unwrap_or_default().to_string();
            if validator.is_empty() {
                return Err(s::INVALID_AUTH.into());
            }
            if let Ok(user) = accounts::authenticate_token(&world, &validator) {
                return Ok((user, validator, false));
            }
            if mode == AuthMode::CrackedOnly {
                return Err(s::ROTUR_DISABLED.into());
            }
            let (rotur_id, name) = rotur_validate(&ctx.config.rotur_validate_url, &key, &validator)
                .await
                .map_err(|e| {
                    warn!(error = %e, "rotur validation failed");
                    s::INVALID_AUTH.to_string()
                })?;
            let (user, created) = rotur_account(&world, &rotur_id, &name)
                .await
                .map_err(|_| s::AUTH_FAILED.to_string())?;
            let token = token_for(&world, &user)?;
            Ok((user, token, created))
        }
        "register" => {
            if !ctx.config.allow_registration {
                return Err(s::REGISTRATION_DISABLED.into());
            }
            let (Some(name), Some(password)) = (field(&req, "username"), field(&req, "password"))
            else {
                return Err(s::CREDENTIALS_REQUIRED.into());
            };
            if name.is_empty() || password.is_empty() {
                return Err(s::CREDENTIALS_REQUIRED.into());
            }
            let name = check_new_account(name, password)?;
            match accounts::register(&world, &name, password, None).await {
                Ok((user, token)) => Ok((user, token, true)),
                Err(e) if e.kind == ErrorKind::Conflict => Err(s::USERNAME_TAKEN.into()),
                Err(e) if matches!(e.kind, ErrorKind::RateLimited { .. }) => Err(Refusal::Busy(e)),
                Err(_) => Err("Registration failed".into()),
            }
        }
        _ => {
            let (Some(name), Some(password)) = (field(&req, "username"), field(&req, "password"))
            else {
                return Err(s::CREDENTIALS_REQUIRED.into());
            };
            if name.is_empty() || password.is_empty() {
                return Err(s::CREDENTIALS_REQUIRED.into());
            }
            let Ok(Some(user)) = world.store.user_by_name(name.trim()) else {
                return Err(s::USER_NOT_FOUND.into());
            };
            let Ok(Some(phc)) = world.store.password_hash(user.id) else {
                return Err(s::ROTUR_ACCOUNT.into());
            };
            if !accounts::verify_password(phc, password.to_string())
                .await
                .map_err(Refusal::Busy)?
            {
                return Err(s::INVALID_PASSWORD.into());
            }
            let user = world
                .user(user.id)
                .map_err(|_| s::AUTH_FAILED.to_string())?;
            let token = token_for(&world, &user)?;
            world
                .store
                .commit()
                .await
                .map_err(|_| s::AUTH_FAILED.to_string())?;
            Ok((user, token, false))
        }
    }
}

/// Why a sign-in failed: the reference's `auth_error` wording, or the
/// password hashers' queue was full (answered with `rate_limit`).
enum Refusal {
    Denied(String),
    Busy(GatewayError),
}

impl From<String> for Refusal {
    fn from(s: String) -> Self {
        Refusal::Denied(s)
    }
}

impl From<&str> for Refusal {
    fn from(s: &str) -> Self {
        Refusal::Denied(s.to_string())
    }
}

/// A session token, or the reply string: a server-wide ban (the only
/// reason `issue_token` refuses) reads as the reference's ban wording.
fn token_for(world: &World, user: &User) -> Result<String, String> {
    accounts::issue_token(world, user).map_err(|e| match e.kind {
        ErrorKind::AuthFailed => s::BANNED.to_string(),
        _ => s::AUTH_FAILED.to_string(),
    })
}

impl OcSession {
    pub(super) fn before_auth(&mut self, c: &mut Context<Self>, req: Inbound) {
        let cmd = req.cmd.as_deref().unwrap_or_default();
        let mode = self.ctx.config.auth_mode;
        let allowed = match cmd {
            "auth" => true,
            "register" | "login" => mode != AuthMode::Rotur,
            _ => false,
        };
        if !allowed || self.authenticating {
            return self.send(c, &frame::auth_error(s::AUTH_REQUIRED), None);
        }
        self.authenticating = true;
        let fut = sign_in(
            self.world.clone(),
            self.ctx.clone(),
            self.validator_key.clone(),
            req,
        );
        // `wait`: nothing else on this socket is handled until we know who
        // it is, and events for the user queue until `ready` is out.
        c.wait(fut.into_actor(self).map(|res, act, c| {
            act.authenticating = false;
            match res {
                Ok((user, token, created)) => act.admit(c, user, token, created),
                Err(Refusal::Denied(val)) => act.send(c, &frame::auth_error(&val), None),
                Err(Refusal::Busy(e)) => act.send(c, &super::rate_limit_reply(&e), None),
            }
        }));
    }

    fn admit(&mut self, c: &mut Context<Self>, user: Arc<User>, token: String, created: bool) {
        if self
            .world
            .store
            .is_banned(self.guild_id, user.id)
            .unwrap_or(false)
        {
            return self.send(c, &frame::auth_error(s::BANNED), None);
        }
        if !self.shared.is_member(user.id) {
            let e = frame::auth_error("Access denied: You are not a member of this server");
            return self.send(c, &e, None);
        }
        self.token = Some(accounts::hash_token(&token));
        let handle = self.session_handle(c, user.id);
        let ready = go_online(self.world.clone(), handle);
        c.wait(
            ready
                .into_actor(self)
                .map(move |res: Result<Ready, _>, act, c| {
                    let Ok(ready) = res else {
                        return act.send(c, &frame::auth_error(s::AUTH_FAILED), None);
                    };
                    act.guilds = ready.guild_ids();
                    let brief = act.user_brief(user.id, &user.username);
                    act.signed_in(user.clone());
                    act.send(
                        c,
                        &frame::reply("auth_success", [("val", json!(s::AUTH_SUCCESS))]),
                        None,
                    );
                    let mut me = brief.clone();
                    if let Some(o) = me.as_object_mut() {
                        o.remove("color");
                        o.insert("status".into(), json!({"status": "online", "text": ""}));
                        o.insert("cracked".into(), json!(true));
                        o.insert("nickname".into(), json!(user.display_name));
                    }
                    act.send(
                        c,
                        &frame::reply("ready", [("user", me), ("validator", json!(token))]),
                        None,
                    );
                    if created {
                        act.send(c, &frame::reply("user_join", [("user", brief)]), None);
                    }
                }),
        );
    }
}
