//! JAM REST API under `/api` (profile §2).
//!
//! Every mutation goes through [`World::execute`] as the bearer's
//! [`Caller`](switchboard_actors::Caller), so the owning actor checks
//! permissions, persists and emits the WebSocket events; handlers here only
//! parse, call, and encode with `jam::objects`. The one exception is the
//! caller's own profile (`PATCH /api/users/@me`).
//!
//! Errors are `{"error": {"code", "message"}}` ([`error::ApiError`]).

mod auth;
mod body;
mod bridges;
mod channels;
mod dms;
mod error;
mod files;
mod guilds;
mod invites;
mod keys;
mod messages;
mod roles;
mod users;
mod v0_keys;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{self, Next};
use actix_web::{web, HttpResponse, Resource, ResponseError};
use serde_json::{json, Value};
use switchboard_actors::{Reply, World};
use switchboard_protocols::Id;

use self::body::parse_decimal;
use self::error::{ApiError, ApiResult};

/// The world, as the app holds it.
type WorldData = web::Data<Arc<World>>;

pub fn configure(cfg: &mut web::ServiceConfig, body_limit: usize) {
    let scope = web::scope("/api")
        .app_data(
            web::JsonConfig::default()
                .limit(body_limit)
                .error_handler(error::json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .wrap(middleware::from_fn(rate_limit))
        .service(resource("/health").route(web::get().to(health)))
        .configure(auth::routes)
        // Before users: `/users/@me/channels` is theirs.
        .configure(dms::routes)
        .configure(v0_keys::routes)
        .configure(users::routes)
        .configure(guilds::routes)
        .configure(invites::routes)
        .configure(roles::routes)
        .configure(keys::routes)
        .configure(bridges::routes)
        .configure(channels::routes)
        .configure(files::routes)
        .configure(messages::routes)
        .default_service(web::to(error::unknown_route));
    cfg.service(scope);
}

/// Counts every API request against its address's rate
/// (`limits.ip_requests_per_second`); over it, 429 with `Retry-After`. The
/// user's own rate is counted where the token is checked ([`auth::Authed`]).
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let world = req.app_data::<WorldData>().cloned();
    if let (Some(world), Some(peer)) = (world, req.peer_addr()) {
        if let Err(e) = world.admit_parts(Some(peer.ip()), None) {
            let res = ApiError(e).error_response();
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Refuses every request of a connection that found its address over
/// `limits.connections_per_ip` when it opened: 429 `RATE_LIMITED` with
/// `Retry-After`, and the connection closed after the answer.
pub async fn refuse_over_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if crate::door::over_limit(req.request()) {
        let e = switchboard_protocols::GatewayError::new(
            switchboard_protocols::ErrorKind::RateLimited {
                retry_after_ms: 1000,
            },
            switchboard_actors::admission::TooManyConnections::MESSAGE,
        );
        let mut res = ApiError(e).error_response();
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// A route whose other methods answer 405 with a JSON error body.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(error::method_not_allowed))
}

/// `GET /api/health` (no auth).
///
/// # Format
/// ```text
/// ← 200 {"status":"ok","version":"0.1.0","uptime_s":42}
/// ```
async fn health(world: WorldData) -> HttpResponse {
    ok(json!({
        "status": "ok",
        "version": world.config.version,
        "uptime_s": world.metrics.uptime_s(),
    }))
}

/// A path id: decimal digits only, else 400 `INVALID`.
fn parse_id(s: &str) -> ApiResult<Id> {
    parse_decimal(s)
        .map(Id)
        .ok_or_else(|| ApiError::invalid("Invalid id"))
}

fn ok(v: Value) -> HttpResponse {
    HttpResponse::Ok().json(v)
}

fn created(v: Value) -> HttpResponse {
    HttpResponse::Created().json(v)
}

fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// An actor answered with a reply of the wrong kind: a bug, not the client's.
fn unexpected(reply: Reply) -> ApiError {
    tracing::error!(?reply, "unexpected reply to a REST command");
    ApiError::internal("Unexpected reply")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids() {
        assert_eq!(parse_id("123").ok(), Some(Id(123)));
        for bad in ["", "abc", "-1", "+1", "1.0", "99999999999999999999"] {
            let e = parse_id(bad).err().map(|e| e.0.message);
            assert_eq!(e.as_deref(), Some("Invalid id"), "{bad}");
        }
    }
}
