//! Guilds: `GET /api/guilds?user_id=`, `POST /api/guilds`,
//! `GET`/`PATCH`/`DELETE /api/guilds/<id>`.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde_json::Value;
use switchboard_actors::Reply;
use switchboard_protocols::command::{Command, GuildPatch};
use switchboard_protocols::jam::objects;
use switchboard_protocols::Id;

use super::auth::Authed;
use super::body::{parse_decimal, Fields};
use super::error::{ApiError, ApiResult};
use super::{created, no_content, ok, parse_id, resource, unexpected, WorldData};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/guilds")
            .route(web::get().to(list_guilds))
            .route(web::post().to(create_guild)),
    )
    .service(
        resource("/guilds/{id}")
            .route(web::get().to(get_guild))
            .route(web::patch().to(update_guild))
            .route(web::delete().to(delete_guild)),
    );
}

/// Whose guilds `GET /api/guilds` lists: only the caller's own (no
/// server-admin role exists over REST).
fn listed_user(query: &HashMap<String, String>, me: Id) -> ApiResult<Id> {
    let user = match query.get("user_id").map(|s| s.as_str()) {
        None | Some("") | Some("@me") => me,
        Some(s) => parse_decimal(s).map(Id).ok_or_else(|| {
            ApiError::invalid("Query parameter `user_id` must be an id (a decimal string)")
        })?,
    };
    if user != me {
        return Err(ApiError::forbidden("You can only list your own guilds"));
    }
    Ok(user)
}

/// `GET /api/guilds?user_id=<id>`: the guilds that user belongs to
/// (without channels or roles).
///
/// # Format
/// ```text
/// ← 200 [{"id":"1","name":"Home","description":"","owner_id":"2","created_at":"…"}]
/// ```
async fn list_guilds(
    authed: Authed,
    world: WorldData,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let user = listed_user(&query, authed.id())?;
    let mut guilds = Vec::new();
    for id in world.store.guilds_of_user(user)? {
        if let Some(g) = world.store.guild(id)? {
            guilds.push(objects::guild(&g));
        }
    }
    Ok(ok(Value::Array(guilds)))
}

/// `POST /api/guilds`: `owner_id`, when given, must be the caller. Creates
/// `@everyone`, a `general` text channel and a `lounge` voice channel.
///
/// # Format
/// ```text
/// → {"name":"Home","owner_id":"5","description":"ours"}
/// ← 201 Guild with channels, roles, categories
/// ```
async fn create_guild(
    authed: Authed,
    world: WorldData,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let f = Fields::of(&body)?;
    let name = f.string("name")?;
    if let Some(owner) = f.opt_id("owner_id")? {
        if owner != authed.id() {
            return Err(ApiError::forbidden("`owner_id` must be your own id"));
        }
    }
    let description = f.opt_string("description")?.unwrap_or_default();
    match authed
        .execute(&world, Command::CreateGuild { name, description })
        .await?
    {
        Reply::Guild(g) => Ok(created(objects::guild_full(&g))),
        other => Err(unexpected(other)),
    }
}

/// `GET /api/guilds/<id>` (members only).
///
/// # Format
/// ```text
/// ← 200 {"id","name",…,"channels":[…],"roles":[…],"categories":[…]}
/// ```
async fn get_guild(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let guild_id = parse_id(&path)?;
    match authed
        .execute(&world, Command::GetGuild { guild_id })
        .await?
    {
        Reply::Guild(g) => Ok(ok(objects::guild_full(&g))),
        other => Err(unexpected(other)),
    }
}

fn guild_patch(body: &Value) -> ApiResult<GuildPatch> {
    let f = Fields::of(body)?;
    Ok(GuildPatch {
        name: f.opt_string("name")?,
        description: f.opt_string("description")?,
        icon: f.nullable_string("icon")?,
        banner: f.nullable_string("banner")?,
    })
}

/// `PATCH /api/guilds/<id>` (MANAGE_GUILD): any of `name`, `description`,
/// `icon`, `banner` (null clears either).
///
/// # Format
/// ```text
/// → {"name":"New name","icon":null}
/// ← 200 Guild with channels, roles, categories
/// ```
async fn update_guild(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let guild_id = parse_id(&path)?;
    let patch = guild_patch(&body)?;
    match authed
        .execute(&world, Command::UpdateGuild { guild_id, patch })
        .await?
    {
        Reply::Guild(g) => Ok(ok(objects::guild_full(&g))),
        other => Err(unexpected(other)),
    }
}

/// `DELETE /api/guilds/<id>` (owner only).
///
/// # Format
/// ```text
/// ← 204
/// ```
async fn delete_guild(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let guild_id = parse_id(&path)?;
    authed
        .execute(&world, Command::DeleteGuild { guild_id })
        .await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchboard_protocols::ErrorKind;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_your_own_guilds() {
        let me = Id(7);
        assert_eq!(listed_user(&q(&[]), me).ok(), Some(me));
        assert_eq!(listed_user(&q(&[("user_id", "7")]), me).ok(), Some(me));
        assert_eq!(listed_user(&q(&[("user_id", "@me")]), me).ok(), Some(me));
        let kind = |p| listed_user(&q(p), me).err().map(|e| e.0.kind);
        assert_eq!(kind(&[("user_id", "8")]), Some(ErrorKind::Forbidden));
        assert_eq!(kind(&[("user_id", "x")]), Some(ErrorKind::Invalid));
    }

    #[test]
    fn guild_patch_fields() {
        let p = guild_patch(&json!({"name": "n", "icon": null})).unwrap();
        assert_eq!(
            p,
            GuildPatch {
                name: Some("n".into()),
                description: None,
                icon: Some(None),
                banner: None,
            }
        );
        assert!(guild_patch(&json!({"description": 3})).is_err());
    }
}
