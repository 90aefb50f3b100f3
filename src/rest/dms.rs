//! Direct messages: `POST /api/users/@me/channels` opens one (or returns
//! the existing one), `GET /api/users/@me/channels` lists DMs and groups.

use actix_web::{web, HttpResponse};
use serde_json::Value;
use switchboard_actors::{federation, Reply};
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

/// Whom a `recipient` names: a local user (`name`, or `name@<our
/// domain>`, domain compared without case), or a user of another server.
#[derive(Debug, PartialEq, Eq)]
enum Recipient<'a> {
    Local(&'a str),
    Remote { name: &'a str, domain: &'a str },
}

fn recipient<'a>(recipient: &'a str, our_domain: &str) -> ApiResult<Recipient<'a>> {
    let recipient = recipient.trim();
    let (name, found) = match recipient.rsplit_once('@') {
        None => (recipient, Recipient::Local(recipient)),
        Some((name, domain)) if domain.eq_ignore_ascii_case(our_domain) => {
            (name, Recipient::Local(name))
        }
        Some((name, domain)) => (name, Recipient::Remote { name, domain }),
    };
    if name.is_empty() {
        return Err(ApiError::invalid("Field `recipient` must be a username"));
    }
    Ok(found)
}

/// `POST /api/users/@me/channels`: `{recipient_id}`, or `{recipient}` with
/// the username of a local user of any dialect (also as `name@<our
/// domain>`), or `name@<peer domain>` for a user of a federated server.
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
        (None, Some(name)) => match recipient(&name, &world.config.domain)? {
            Recipient::Local(name) => {
                world
                    .store
                    .user_by_name(name)?
                    .filter(|u| u.domain.is_none())
                    .ok_or_else(|| ApiError::not_found("Unknown user"))?
                    .id
            }
            Recipient::Remote { name, domain } => {
                let peer = world
                    .federation()
                    .and_then(|f| f.peer(domain))
                    .ok_or_else(|| {
                        ApiError::not_found(format!("{domain} is not a federated server"))
                    })?;
                federation::users::remote_user(&world, &peer.domain, name, None)?.id
            }
        },
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
    fn recipients_resolve_to_local_or_remote_names() {
        let d = "chat.example.org";
        let local = |r| recipient(r, d).ok();
        assert_eq!(local("bob"), Some(Recipient::Local("bob")));
        assert_eq!(local(" bob "), Some(Recipient::Local("bob")));
        assert_eq!(local("bob@chat.example.org"), Some(Recipient::Local("bob")));
        assert_eq!(local("bob@CHAT.example.org"), Some(Recipient::Local("bob")));
        assert_eq!(
            local("bob@elsewhere.net"),
            Some(Recipient::Remote {
                name: "bob",
                domain: "elsewhere.net"
            })
        );
        assert!(recipient("", d).is_err());
        assert!(recipient("@chat.example.org", d).is_err());
    }
}
