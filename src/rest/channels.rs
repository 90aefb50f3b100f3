//! Channels: `POST /api/channels` (also categories),
//! `GET`/`PUT`/`DELETE /api/channels/<id>`.

use actix_web::{web, HttpResponse};
use serde_json::Value;
use switchboard_actors::Reply;
use switchboard_protocols::command::{ChannelPatch, Command};
use switchboard_protocols::jam::objects;
use switchboard_protocols::model::{ChannelKind, Overwrite, OverwriteTarget};
use switchboard_protocols::permissions;

use super::auth::Authed;
use super::body::Fields;
use super::error::{ApiError, ApiResult};
use super::{created, no_content, ok, parse_id, resource, unexpected, WorldData};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/channels").route(web::post().to(create_channel)))
        .service(
            resource("/channels/{id}")
                .route(web::get().to(get_channel))
                .route(web::put().to(update_channel))
                .route(web::patch().to(update_channel))
                .route(web::delete().to(delete_channel)),
        );
}

/// What `type` of `POST /api/channels` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewKind {
    Channel(ChannelKind),
    Category,
}

/// `text` (the default), `voice`, `forum` or `category`.
fn new_kind(kind: Option<&str>) -> ApiResult<NewKind> {
    match kind.unwrap_or("text") {
        "text" => Ok(NewKind::Channel(ChannelKind::Text)),
        "voice" => Ok(NewKind::Channel(ChannelKind::Voice)),
        "forum" => Ok(NewKind::Channel(ChannelKind::Forum)),
        "category" => Ok(NewKind::Category),
        _ => Err(ApiError::invalid(
            "Field `type` must be \"text\", \"voice\", \"forum\" or \"category\"",
        )),
    }
}

/// `POST /api/channels` (MANAGE_CHANNELS). `type: "category"` creates a
/// category and answers with it (`category_id`, `topic`, `encrypted` are
/// then ignored).
///
/// # Format
/// ```text
/// → {"guild_id":"1","category_id":null,"name":"news","type":"text","topic":"","position":3,"encrypted":false}
/// ← 201 Channel
/// → {"guild_id":"1","name":"Voice rooms","type":"category"}
/// ← 201 {"id","guild_id","name","position"}
/// ```
async fn create_channel(
    authed: Authed,
    world: WorldData,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let f = Fields::of(&body)?;
    let guild_id = f.id("guild_id")?;
    let name = f.string("name")?;
    let kind = new_kind(f.opt_string("type")?.as_deref())?;
    let position = f.opt_i32("position")?;
    let command = match kind {
        NewKind::Category => Command::CreateCategory {
            guild_id,
            name,
            position,
        },
        NewKind::Channel(kind) => Command::CreateChannel {
            guild_id,
            category_id: f.opt_id("category_id")?,
            name,
            kind,
            topic: f.opt_string("topic")?.unwrap_or_default(),
            position,
            encrypted: f.opt_bool("encrypted")?.unwrap_or(false),
        },
    };
    match authed.execute(&world, command).await? {
        Reply::Channel(c) => Ok(created(objects::channel(&c))),
        Reply::Category(c) => Ok(created(objects::category(&c))),
        other => Err(unexpected(other)),
    }
}

/// `GET /api/channels/<id>` (those who can view it; DMs: recipients).
///
/// # Format
/// ```text
/// ← 200 Channel
/// ```
async fn get_channel(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let channel_id = parse_id(&path)?;
    match authed
        .execute(&world, Command::GetChannel { channel_id })
        .await?
    {
        Reply::Channel(c) => Ok(ok(objects::channel(&c))),
        other => Err(unexpected(other)),
    }
}

/// One `{id, type: "role"|"member", allow, deny}`; bits Switchboard does
/// not know are dropped.
fn overwrite(v: &Value) -> ApiResult<Overwrite> {
    let f = Fields::of(v).map_err(|_| {
        ApiError::invalid("Each overwrite must be an object {id, type, allow, deny}")
    })?;
    let target = match f.string("type")?.as_str() {
        "role" => OverwriteTarget::Role,
        "member" => OverwriteTarget::Member,
        _ => {
            return Err(ApiError::invalid(
                "Overwrite `type` must be \"role\" or \"member\"",
            ))
        }
    };
    let bits = |key: &str| -> ApiResult<u64> {
        f.opt_permissions(key)
            .map(|b| b.unwrap_or(0) & permissions::ALL)
    };
    Ok(Overwrite {
        id: f.id("id")?,
        target,
        allow: bits("allow")?,
        deny: bits("deny")?,
    })
}

fn channel_patch(body: &Value) -> ApiResult<ChannelPatch> {
    let f = Fields::of(body)?;
    let overwrites = match f.opt_array("overwrites")? {
        None => None,
        Some(items) => Some(items.iter().map(overwrite).collect::<ApiResult<Vec<_>>>()?),
    };
    Ok(ChannelPatch {
        name: f.opt_string("name")?,
        topic: f.opt_string("topic")?,
        position: f.opt_i32("position")?,
        category_id: f.nullable_id("category_id")?,
        overwrites,
    })
}

/// `PUT /api/channels/<id>` (MANAGE_CHANNELS; `PATCH` too): any of `name`,
/// `topic`, `position`, `category_id` (null: no category), `overwrites`
/// (replaces the list; `allow`/`deny` as decimal strings or numbers).
///
/// # Format
/// ```text
/// → {"name":"news","overwrites":[{"id":"1","type":"role","allow":"0","deny":"2048"}]}
/// ← 200 Channel
/// ```
async fn update_channel(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let channel_id = parse_id(&path)?;
    let patch = channel_patch(&body)?;
    match authed
        .execute(&world, Command::UpdateChannel { channel_id, patch })
        .await?
    {
        Reply::Channel(c) => Ok(ok(objects::channel(&c))),
        other => Err(unexpected(other)),
    }
}

/// `DELETE /api/channels/<id>` (MANAGE_CHANNELS).
///
/// # Format
/// ```text
/// ← 204
/// ```
async fn delete_channel(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let channel_id = parse_id(&path)?;
    authed
        .execute(&world, Command::DeleteChannel { channel_id })
        .await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchboard_protocols::permissions::{SEND_MESSAGES, VIEW_CHANNEL};
    use switchboard_protocols::Id;

    #[test]
    fn kinds() {
        assert_eq!(
            new_kind(None).ok(),
            Some(NewKind::Channel(ChannelKind::Text))
        );
        assert_eq!(
            new_kind(Some("voice")).ok(),
            Some(NewKind::Channel(ChannelKind::Voice))
        );
        assert_eq!(new_kind(Some("category")).ok(), Some(NewKind::Category));
        for bad in ["dm", "group", "Text", ""] {
            assert!(new_kind(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn overwrites_parse_strings_and_numbers() {
        let p = channel_patch(&json!({"overwrites": [
            {"id": "1", "type": "role", "allow": "1024", "deny": 2048},
            {"id": 9, "type": "member", "deny": "18446744073709551615"},
        ]}))
        .unwrap();
        assert_eq!(
            p.overwrites,
            Some(vec![
                Overwrite {
                    id: Id(1),
                    target: OverwriteTarget::Role,
                    allow: VIEW_CHANNEL,
                    deny: SEND_MESSAGES,
                },
                Overwrite {
                    id: Id(9),
                    target: OverwriteTarget::Member,
                    allow: 0,
                    deny: permissions::ALL,
                },
            ])
        );
        for bad in [
            json!({"overwrites": [{"id": "1", "type": "user"}]}),
            json!({"overwrites": [{"type": "role"}]}),
            json!({"overwrites": [{"id": "1", "type": "role", "allow": "x"}]}),
            json!({"overwrites": ["1"]}),
            json!({"overwrites": {}}),
        ] {
            assert!(channel_patch(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patch_tells_null_category_from_absent() {
        let p = channel_patch(&json!({"category_id": null, "position": 2})).unwrap();
        assert_eq!(p.category_id, Some(None));
        assert_eq!(p.position, Some(2));
        let p = channel_patch(&json!({"overwrites": []})).unwrap();
        assert_eq!(p.category_id, None);
        assert_eq!(p.overwrites, Some(vec![]));
    }
}
