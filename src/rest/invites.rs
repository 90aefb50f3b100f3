//! Membership: `POST /api/guilds/<id>/invites`, `POST /api/invites/<code>`
//! (join), `DELETE /api/guilds/<id>/members/@me` (leave).

use actix_web::{web, HttpResponse};
use serde_json::json;
use switchboard_actors::Reply;
use switchboard_protocols::command::Command;
use switchboard_protocols::jam::objects;

use super::auth::Authed;
use super::error::{ApiError, ApiResult};
use super::{created, no_content, ok, parse_id, resource, unexpected, WorldData};

/// Longest invite code looked up; longer ones cannot exist.
const MAX_CODE_CHARS: usize = 64;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/guilds/{id}/invites").route(web::post().to(create_invite)))
        .service(resource("/guilds/{id}/members/@me").route(web::delete().to(leave_guild)))
        .service(resource("/invites/{code}").route(web::post().to(join_invite)));
}

/// `POST /api/guilds/<id>/invites` (CREATE_INVITE). No body.
///
/// # Format
/// ```text
/// ← 201 {"code":"aB3dE5gH7j","guild_id":"1"}
/// ```
async fn create_invite(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let guild_id = parse_id(&path)?;
    match authed
        .execute(&world, Command::CreateInvite { guild_id })
        .await?
    {
        Reply::Invite(i) => Ok(created(json!({"code": i.code, "guild_id": i.guild_id}))),
        other => Err(unexpected(other)),
    }
}

/// `POST /api/invites/<code>`: joins the guild (idempotent for members).
/// No body.
///
/// # Format
/// ```text
/// ← 200 Guild with channels, roles, categories      404 "Unknown invite"
/// ```
async fn join_invite(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let code = path.into_inner();
    if code.is_empty() || code.chars().count() > MAX_CODE_CHARS {
        return Err(ApiError::not_found("Unknown invite"));
    }
    match authed.execute(&world, Command::JoinInvite { code }).await? {
        Reply::Guild(g) => Ok(ok(objects::guild_full(&g))),
        other => Err(unexpected(other)),
    }
}

/// `DELETE /api/guilds/<id>/members/@me`: leaves the guild (not its owner).
///
/// # Format
/// ```text
/// ← 204
/// ```
async fn leave_guild(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let guild_id = parse_id(&path)?;
    authed
        .execute(&world, Command::LeaveGuild { guild_id })
        .await?;
    Ok(no_content())
}
