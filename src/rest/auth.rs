//! Bearer authentication ([`Authed`]) and the account routes:
//! `POST /api/auth/register`, `/api/auth/login`, `/api/auth/logout`.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use switchboard_actors::{accounts, Caller, Reply, World};
use switchboard_protocols::command::Command;
use switchboard_protocols::jam::objects;
use switchboard_protocols::model::User;
use switchboard_protocols::{GatewayError, Id};

use super::body::Fields;
use super::error::{ApiError, ApiResult};
use super::{created, no_content, ok, resource, WorldData};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/auth/register").route(web::post().to(register)))
        .service(resource("/auth/login").route(web::post().to(login)))
        .service(resource("/auth/logout").route(web::post().to(logout)));
}

/// The user behind `Authorization: Bearer <token>`. Put it first among a
/// handler's arguments, so that a missing token answers 401 before any
/// body is looked at.
pub struct Authed {
    pub user: Arc<User>,
    pub token: String,
}

impl Authed {
    pub fn id(&self) -> Id {
        self.user.id
    }

    /// REST calls have no session: every session of the user receives the
    /// resulting events, none marked as its own.
    pub fn caller(&self) -> Caller {
        Caller {
            user: self.user.clone(),
            session: None,
            reference: None,
        }
    }

    /// Runs a command as this user.
    pub async fn execute(&self, world: &Arc<World>, command: Command) -> ApiResult<Reply> {
        Ok(world.execute(self.caller(), command).await?)
    }
}

/// The token of an `Authorization` value: `Bearer <token>`, scheme in any case.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn authenticate(req: &HttpRequest) -> ApiResult<Authed> {
    let world = req
        .app_data::<WorldData>()
        .ok_or_else(|| ApiError::internal("The world is not mounted"))?;
    let missing = || ApiError(GatewayError::unauthenticated("Missing bearer token"));
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| ApiError(GatewayError::auth_failed("Invalid token")))?;
    let token = bearer(value).ok_or_else(missing)?;
    let user = accounts::authenticate_token(world, token)?;
    // The address was counted on the way in (`rest::rate_limit`).
    world.admit_parts(None, Some(user.id))?;
    Ok(Authed {
        user,
        token: token.to_string(),
    })
}

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn session(user: &User, token: String) -> Value {
    json!({"token": token, "user": objects::user(user)})
}

/// `POST /api/auth/register`: creates an account (joined to the default
/// guild) and logs it in.
///
/// # Format
/// ```text
/// → {"username":"alice","password":"pw","display_name":"Alice"}
/// ← 201 {"token":"…","user":{"id":"5","username":"alice","display_name":"Alice","bot":false}}
/// ```
async fn register(world: WorldData, body: web::Json<Value>) -> ApiResult<HttpResponse> {
    let f = Fields::of(&body)?;
    let username = f.string("username")?;
    let password = f.string("password")?;
    let display_name = f.opt_string("display_name")?;
    let (user, token) =
        accounts::register(&world, &username, &password, display_name.as_deref()).await?;
    Ok(created(session(&user, token)))
}

/// `POST /api/auth/login`.
///
/// # Format
/// ```text
/// → {"username":"alice","password":"pw"}
/// ← 200 {"token":"…","user":{…}}      401 AUTH_FAILED
/// ```
async fn login(world: WorldData, body: web::Json<Value>) -> ApiResult<HttpResponse> {
    let f = Fields::of(&body)?;
    let username = f.string("username")?;
    let password = f.string("password")?;
    let (user, token) = accounts::login(&world, &username, &password).await?;
    Ok(ok(session(&user, token)))
}

/// `POST /api/auth/logout`: revokes the token of this request.
///
/// # Format
/// ```text
/// ← 204
/// ```
async fn logout(authed: Authed, world: WorldData) -> ApiResult<HttpResponse> {
    accounts::revoke_token(&world, &authed.token)?;
    world.store.commit().await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("abc"), None);
    }
}
