//! Users: `GET`/`PATCH /api/users/@me`, `PUT /api/users/@me/presence`,
//! `GET /api/users/<id>`.

use actix_web::{web, HttpResponse};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::Value;
use switchboard_actors::Reply;
use switchboard_protocols::command::Command;
use switchboard_protocols::jam::objects;
use switchboard_protocols::model::Status;

use super::auth::Authed;
use super::body::Fields;
use super::error::{ApiError, ApiResult};
use super::{no_content, ok, parse_id, resource, WorldData};

/// Longest `avatar` accepted (a URL or a file reference).
const MAX_AVATAR_CHARS: usize = 2048;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // `@me` before `{id}`, which would match it too.
    cfg.service(
        resource("/users/@me")
            .route(web::get().to(get_me))
            .route(web::patch().to(patch_me)),
    )
    .service(resource("/users/@me/presence").route(web::put().to(set_presence)))
    .service(resource("/users/{id}").route(web::get().to(get_user)));
}

/// `GET /api/users/@me`.
///
/// # Format
/// ```text
/// ← 200 {"id":"5","username":"alice","display_name":"Alice","bot":false}
/// ```
async fn get_me(authed: Authed, world: WorldData) -> ApiResult<HttpResponse> {
    let user = world.user(authed.id())?;
    Ok(ok(objects::user(&user)))
}

/// What `PATCH /api/users/@me` may change.
#[derive(Debug, Default, PartialEq)]
struct ProfilePatch {
    display_name: Option<String>,
    avatar: Option<Option<String>>,
    public_key: Option<Option<String>>,
}

impl ProfilePatch {
    fn parse(body: &Value) -> ApiResult<ProfilePatch> {
        let f = Fields::of(body)?;
        let display_name = match f.opt_string("display_name")? {
            None => None,
            Some(d) => {
                let d = d.trim();
                let len = d.chars().count();
                if len == 0 || len > 100 {
                    return Err(ApiError::invalid(
                        "Display name must be 1 to 100 characters",
                    ));
                }
                Some(d.to_string())
            }
        };
        let avatar = match f.nullable_string("avatar")? {
            None => None,
            Some(a) => Some(clean_avatar(a)?),
        };
        let public_key = f
            .nullable_string("public_key")?
            .map(|k| k.map(|k| canonical_public_key(&k)).transpose())
            .transpose()?;
        Ok(ProfilePatch {
            display_name,
            avatar,
            public_key,
        })
    }

    /// The command that makes the change (the hub owns profiles).
    fn command(self) -> Command {
        Command::UpdateProfile {
            display_name: self.display_name,
            avatar: self.avatar,
            public_key: self.public_key,
        }
    }
}

/// An avatar reference, trimmed; empty or null clears it.
fn clean_avatar(avatar: Option<String>) -> ApiResult<Option<String>> {
    let Some(a) = avatar.as_deref().map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    if a.chars().count() > MAX_AVATAR_CHARS {
        return Err(ApiError::invalid(format!(
            "Avatar must be at most {MAX_AVATAR_CHARS} characters"
        )));
    }
    Ok(Some(a.to_string()))
}

/// An X25519 public key: standard base64 (padded or not) of exactly 32
/// bytes, stored padded.
fn canonical_public_key(s: &str) -> ApiResult<String> {
    let engine = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    match engine.decode(s.trim()) {
        Ok(bytes) if bytes.len() == 32 => Ok(STANDARD.encode(bytes)),
        _ => Err(ApiError::invalid(
            "Field `public_key` must be base64 of exactly 32 bytes",
        )),
    }
}

/// `PATCH /api/users/@me`: any of `display_name` (1–100 characters),
/// `avatar` (string or null), `public_key` (base64 of 32 bytes, or null).
///
/// # Format
/// ```text
/// → {"display_name":"Alice B","public_key":"<44 chars>"}
/// ← 200 User
/// ```
async fn patch_me(
    authed: Authed,
    world: WorldData,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let patch = ProfilePatch::parse(&body)?;
    let user = match authed.execute(&world, patch.command()).await? {
        Reply::User(user) => user,
        _ => (*world.user(authed.id())?).clone(),
    };
    Ok(ok(objects::user(&user)))
}

/// `PUT /api/users/@me/presence`: broadcasts op 70 to those who share a
/// guild or a DM with the caller.
///
/// # Format
/// ```text
/// → {"status":"online"|"idle"|"dnd"|"offline"}
/// ← 204
/// ```
async fn set_presence(
    authed: Authed,
    world: WorldData,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let f = Fields::of(&body)?;
    let status = Status::parse(&f.string("status")?).ok_or_else(|| {
        ApiError::invalid("Field `status` must be \"online\", \"idle\", \"dnd\" or \"offline\"")
    })?;
    authed
        .execute(&world, Command::SetPresence { status, text: None })
        .await?;
    Ok(no_content())
}

/// `GET /api/users/<id>`.
///
/// # Format
/// ```text
/// ← 200 User      404 NOT_FOUND "Unknown user"
/// ```
async fn get_user(
    _authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&path)?;
    let user = world.user(id)?;
    Ok(ok(objects::user(&user)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn profile_patch_validates() {
        let key = STANDARD.encode([7u8; 32]);
        let unpadded = key.trim_end_matches('=').to_string();
        let p = ProfilePatch::parse(&json!({
            "display_name": "  Alice  ", "avatar": null, "public_key": unpadded
        }))
        .unwrap();
        assert_eq!(
            p,
            ProfilePatch {
                display_name: Some("Alice".into()),
                avatar: Some(None),
                public_key: Some(Some(key)),
            }
        );
        assert_eq!(
            ProfilePatch::parse(&json!({"public_key": null})).unwrap(),
            ProfilePatch {
                public_key: Some(None),
                ..Default::default()
            }
        );
        assert_eq!(
            ProfilePatch::parse(&json!({})).unwrap(),
            ProfilePatch::default()
        );
        for bad in [
            json!({"display_name": ""}),
            json!({"display_name": "x".repeat(101)}),
            json!({"display_name": 5}),
            json!({"public_key": STANDARD.encode([1u8; 31])}),
            json!({"public_key": "not base64!"}),
            json!({"avatar": "x".repeat(MAX_AVATAR_CHARS + 1)}),
            json!("not an object"),
        ] {
            assert!(ProfilePatch::parse(&bad).is_err(), "{bad}");
        }
    }
}
