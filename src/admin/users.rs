//! Account administration on the running server, for `switchboard user
//! ...` when the server holds the store. Same account functions as the
//! offline commands; a ban or a password reset also closes the account's
//! live connections, each with its dialect's authentication-failure signal.
//!
//! # Format
//! ```text
//! GET  /admin/users                       → {"users":[{"id","username","display_name","created_at","banned"}]}
//! POST /admin/users {"username","password","display_name"?} → 201 {"id","username"}
//! POST /admin/users/<name>/ban            → {"username","banned":true,"changed","sessions_closed"}
//! POST /admin/users/<name>/unban          → {"username","banned":false,"changed"}
//! POST /admin/users/<name>/password {"password"} → {"username","tokens_revoked","sessions_closed"}
//! ```
//! Errors: `{"error":{"code","message"}}` with 400 INVALID, 404 NOT_FOUND,
//! 409 CONFLICT or 500 INTERNAL.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_actors::accounts;
use switchboard_actors::audience::Revocation;
use switchboard_actors::hub::EndSessionsOf;
use switchboard_protocols::model::User;
use switchboard_protocols::{ErrorKind, GatewayError, Id};

use super::{check_token, refuse, AdminState, Auth};

type State = web::Data<Arc<AdminState>>;

fn error(status: u16, code: &str, message: impl Into<String>) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(json!({"error": {"code": code, "message": message.into()}}))
}

fn gateway_error(e: &GatewayError) -> HttpResponse {
    match e.kind {
        ErrorKind::Invalid | ErrorKind::TooLarge => error(400, "INVALID", &e.message),
        ErrorKind::Conflict => error(409, "CONFLICT", &e.message),
        ErrorKind::NotFound => error(404, "NOT_FOUND", &e.message),
        _ => error(500, "INTERNAL", &e.message),
    }
}

fn internal(e: impl std::fmt::Display) -> HttpResponse {
    error(500, "INTERNAL", e.to_string())
}

/// The account, or the 404/500 to answer (boxed: a response is large).
fn find(state: &AdminState, name: &str) -> Result<User, Box<HttpResponse>> {
    match state.world.store.user_by_name(name) {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(Box::new(error(
            404,
            "NOT_FOUND",
            format!("no account named {name:?}"),
        ))),
        Err(e) => Err(Box::new(internal(e))),
    }
}

/// Closes the user's live connections; answers how many there were.
async fn end_sessions(state: &AdminState, user: Id, why: Revocation) -> usize {
    state
        .world
        .hub()
        .send(EndSessionsOf(user, why))
        .await
        .unwrap_or(0)
}

async fn list(req: HttpRequest, state: State) -> HttpResponse {
    guarded!(req, state);
    let store = &state.world.store;
    let mut users = Vec::new();
    let mut after = None;
    // Bounded by the number of accounts: each page moves `after` forward.
    loop {
        let page = match store.list_users(after, 500) {
            Ok(p) => p,
            Err(e) => return internal(e),
        };
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for u in page {
            let banned = match store.is_account_banned(u.id) {
                Ok(b) => b,
                Err(e) => return internal(e),
            };
            users.push(json!({
                "id": u.id.0.to_string(),
                "username": u.username,
                "display_name": u.display_name,
                "created_at": u.created_at,
                "banned": banned,
            }));
        }
    }
    HttpResponse::Ok().json(json!({ "users": users }))
}

#[derive(Deserialize)]
struct NewAccount {
    username: String,
    password: String,
    display_name: Option<String>,
}

async fn create(req: HttpRequest, state: State, body: web::Json<Value>) -> HttpResponse {
    guarded!(req, state);
    let Ok(new) = serde_json::from_value::<NewAccount>(body.into_inner()) else {
        return error(
            400,
            "INVALID",
            "expected {\"username\", \"password\", \"display_name\"?}",
        );
    };
    let world = &state.world;
    let created = accounts::register(
        world,
        &new.username,
        &new.password,
        new.display_name.as_deref(),
    )
    .await;
    let (user, token) = match created {
        Ok(pair) => pair,
        Err(e) => return gateway_error(&e),
    };
    // The operator logs in like everyone else; no session is left behind.
    if let Err(e) = accounts::revoke_token(world, &token) {
        return gateway_error(&e);
    }
    if let Err(e) = world.store.commit().await {
        return internal(e);
    }
    HttpResponse::Created().json(json!({"id": user.id.0.to_string(), "username": user.username}))
}

async fn set_banned(state: &AdminState, name: &str, banned: bool) -> HttpResponse {
    let user = match find(state, name) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let changed = match state.world.store.set_account_banned(user.id, banned) {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    if let Err(e) = state.world.store.commit().await {
        return internal(e);
    }
    let mut reply = json!({"username": user.username, "banned": banned, "changed": changed});
    if banned {
        reply["sessions_closed"] = json!(end_sessions(state, user.id, Revocation::Banned).await);
    }
    HttpResponse::Ok().json(reply)
}

async fn ban(req: HttpRequest, state: State, name: web::Path<String>) -> HttpResponse {
    guarded!(req, state);
    set_banned(&state, &name, true).await
}

async fn unban(req: HttpRequest, state: State, name: web::Path<String>) -> HttpResponse {
    guarded!(req, state);
    set_banned(&state, &name, false).await
}

async fn password(
    req: HttpRequest,
    state: State,
    name: web::Path<String>,
    body: web::Json<Value>,
) -> HttpResponse {
    guarded!(req, state);
    let Some(password) = body.get("password").and_then(Value::as_str) else {
        return error(400, "INVALID", "expected {\"password\"}");
    };
    if let Err(e) = accounts::validate_password(password) {
        return gateway_error(&e);
    }
    let user = match find(&state, &name) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let phc = match accounts::hash_password(password.to_string()).await {
        Ok(p) => p,
        Err(e) => return gateway_error(&e),
    };
    let store = &state.world.store;
    if let Err(e) = store.set_password_hash(user.id, &phc) {
        return internal(e);
    }
    let revoked = match store.delete_tokens_of(user.id) {
        Ok(n) => n,
        Err(e) => return internal(e),
    };
    if let Err(e) = store.commit().await {
        return internal(e);
    }
    let closed = end_sessions(&state, user.id, Revocation::PasswordReset).await;
    HttpResponse::Ok().json(json!({
        "username": user.username,
        "tokens_revoked": revoked,
        "sessions_closed": closed,
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/users", web::get().to(list))
        .route("/admin/users", web::post().to(create))
        .route("/admin/users/{name}/ban", web::post().to(ban))
        .route("/admin/users/{name}/unban", web::post().to(unban))
        .route("/admin/users/{name}/password", web::post().to(password));
}
