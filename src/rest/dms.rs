//! Direct messages: `POST /api/users/@me/channels` opens one (or returns
//! the existing one), `GET /api/users/@me/channels` lists DMs and groups.

use actix_web::{web, HttpResponse};
use serde_json::Value;
use switchboard_actors::Reply;
use switchboard_protocols::command::Command;
use switchboard_protocols::jam::objects;

use super::auth::Authed;
use super::body::Fields;
use super::error::{ApiError, ApiResult};
use super::{ok, resource, unexpected, WorldData};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/users/@me/channels")
            .route(web::get().to(list_dms))
            .route(web::post().to(open_dm)),
    );
}

/// The local username a `recipient` names: `name`, or `name@domain` when
/// `domain` is this server's (compared without case).
fn local_name<'a>(recipient: &'a str, our_domain: &str) -> ApiResult<&'a str> {
    let recipient = recipient.trim();
    let name = match recipient.rsplit_once('@') {
        None => recipient,
        Some((name, domain)) if domain.eq_ignore_ascii_case(our_domain) => name,
        Some(_) => return Err(ApiError::invalid("Federation is not configured")),
    };
    if name.is_empty() {
        return Err(ApiError::invalid("Field `recipient` must be a username"));
    }
    Ok(name)
}

/// `POST /api/users/@me/channels`: `{recipient_id}`, or `{recipient}` with
/// the username of a local user of any dialect (also as `name@<our
/// domain>`). Other domains: 400 until federation exists.
///
/// # Format
/// ```text
/// → {"recipient_id":"6"}      or      {"recipient":"bob"}
/// ← 200 {"id","guild_id":null,"category_id":null,"name":"","type":"dm",…,"recipients":["5","6"]}
/// ```
async fn open_dm(
    authed: Authed,
    world: WorldData,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let f = Fields::of(&body)?;
    let recipient = match (f.opt_id("recipient_id")?, f.opt_string("recipient")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "Give either `recipient_id` or `recipient`, not both",
            ))
        }
        (Some(id), None) => id,
        (None, Some(name)) => {
            let name = local_name(&name, &world.config.domain)?;
            world
                .store
                .user_by_name(name)?
                .ok_or_else(|| ApiError::not_found("Unknown user"))?
                .id
        }
        (None, None) => return Err(ApiError::invalid("Missing field `recipient_id`")),
    };
    match authed
        .execute(&world, Command::OpenDm { recipient })
        .await?
    {
        Reply::Channel(c) => Ok(ok(objects::channel(&c))),
        other => Err(unexpected(other)),
    }
}

/// `GET /api/users/@me/channels`: the caller's DM and group channels.
///
/// # Format
/// ```text
/// ← 200 [Channel, …]
/// ```
async fn list_dms(authed: Authed, world: WorldData) -> ApiResult<HttpResponse> {
    let mut channels = Vec::new();
    for id in world.store.dm_channels_of(authed.id())? {
        if let Some(c) = world.store.channel(id)? {
            channels.push(objects::channel(&c));
        }
    }
    Ok(ok(Value::Array(channels)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_resolve_to_local_names() {
        let d = "chat.example.org";
        assert_eq!(local_name("bob", d).ok(), Some("bob"));
        assert_eq!(local_name(" bob ", d).ok(), Some("bob"));
        assert_eq!(local_name("bob@chat.example.org", d).ok(), Some("bob"));
        assert_eq!(local_name("bob@CHAT.example.org", d).ok(), Some("bob"));
        let msg = |r| local_name(r, d).err().map(|e| e.0.message);
        assert_eq!(
            msg("bob@elsewhere.net").as_deref(),
            Some("Federation is not configured")
        );
        assert!(local_name("", d).is_err());
        assert!(local_name("@chat.example.org", d).is_err());
    }
}
