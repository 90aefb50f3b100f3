//! Roles: `POST /api/roles` (also `/api/roles/`, the seed's spelling),
//! `PUT`/`DELETE /api/roles/<id>`, `PUT /api/guilds/<gid>/members/<uid>/roles`.
//!
//! `permissions` is a u64 given as a decimal string (as the profile sends
//! it) or a number; `color` is `0..=0xFFFFFF`.

use actix_web::{web, HttpResponse};
use serde_json::Value;
use switchboard_actors::Reply;
use switchboard_protocols::command::{Command, RolePatch};
use switchboard_protocols::jam::objects;

use super::auth::Authed;
use super::body::{ids_value, Fields};
use super::error::ApiResult;
use super::{created, no_content, ok, parse_id, resource, unexpected, WorldData};

const MAX_COLOR: u32 = 0xFF_FFFF;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/roles").route(web::post().to(create_role)))
        .service(resource("/roles/").route(web::post().to(create_role)))
        .service(
            resource("/roles/{id}")
                .route(web::put().to(update_role))
                .route(web::patch().to(update_role))
                .route(web::delete().to(delete_role)),
        )
        .service(
            resource("/guilds/{gid}/members/{uid}/roles").route(web::put().to(set_member_roles)),
        );
}

/// `POST /api/roles` (MANAGE_ROLES).
///
/// # Format
/// ```text
/// → {"guild_id":"1","name":"mods","color":16711680,"permissions":"8192"}
/// ← 201 {"id","guild_id","name","color","permissions":"8192","position","hoisted"}
/// ```
async fn create_role(
    authed: Authed,
    world: WorldData,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let f = Fields::of(&body)?;
    let command = Command::CreateRole {
        guild_id: f.id("guild_id")?,
        name: f.string("name")?,
        color: f.opt_u32_max("color", MAX_COLOR)?.unwrap_or(0),
        permissions: f.opt_permissions("permissions")?.unwrap_or(0),
    };
    match authed.execute(&world, command).await? {
        Reply::Role(r) => Ok(created(objects::role(&r))),
        other => Err(unexpected(other)),
    }
}

fn role_patch(body: &Value) -> ApiResult<RolePatch> {
    let f = Fields::of(body)?;
    Ok(RolePatch {
        name: f.opt_string("name")?,
        color: f.opt_u32_max("color", MAX_COLOR)?,
        permissions: f.opt_permissions("permissions")?,
        position: f.opt_i32("position")?,
        hoisted: f.opt_bool("hoisted")?,
        self_assignable: f.opt_bool("self_assignable")?,
        description: f.opt_string("description")?,
        category: f.nullable_string("category")?,
    })
}

/// `PUT /api/roles/<id>` (MANAGE_ROLES; `PATCH` too): any of `name`,
/// `color`, `permissions`, `position`, `hoisted`.
///
/// # Format
/// ```text
/// → {"permissions":"0","hoisted":true}
/// ← 200 Role
/// ```
async fn update_role(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let role_id = parse_id(&path)?;
    let patch = role_patch(&body)?;
    match authed
        .execute(&world, Command::UpdateRole { role_id, patch })
        .await?
    {
        Reply::Role(r) => Ok(ok(objects::role(&r))),
        other => Err(unexpected(other)),
    }
}

/// `DELETE /api/roles/<id>` (MANAGE_ROLES; not `@everyone`).
///
/// # Format
/// ```text
/// ← 204
/// ```
async fn delete_role(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let role_id = parse_id(&path)?;
    authed
        .execute(&world, Command::DeleteRole { role_id })
        .await?;
    Ok(no_content())
}

/// `PUT /api/guilds/<gid>/members/<uid>/roles` (MANAGE_ROLES): replaces
/// the member's roles (besides `@everyone`). `<uid>` may be `@me`.
///
/// # Format
/// ```text
/// → ["31","32"]
/// ← 204
/// ```
async fn set_member_roles(
    authed: Authed,
    world: WorldData,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let (gid, uid) = path.into_inner();
    let guild_id = parse_id(&gid)?;
    let user_id = match uid.as_str() {
        "@me" => authed.id(),
        other => parse_id(other)?,
    };
    let roles = ids_value(&body, "roles")?;
    authed
        .execute(
            &world,
            Command::SetMemberRoles {
                guild_id,
                user_id,
                roles,
            },
        )
        .await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_patch_parses_permission_strings_and_numbers() {
        let p = role_patch(&json!({"permissions": "8192", "color": 255})).unwrap();
        assert_eq!(p.permissions, Some(8192));
        assert_eq!(p.color, Some(255));
        let p = role_patch(&json!({"permissions": 8, "position": 2, "hoisted": true})).unwrap();
        assert_eq!(
            (p.permissions, p.position, p.hoisted),
            (Some(8), Some(2), Some(true))
        );
        assert_eq!(role_patch(&json!({})).unwrap(), RolePatch::default());
        for bad in [
            json!({"permissions": "-1"}),
            json!({"permissions": 1.5}),
            json!({"color": 0x100_0000}),
            json!({"color": "red"}),
            json!({"hoisted": "yes"}),
        ] {
            assert!(role_patch(&bad).is_err(), "{bad}");
        }
    }
}
