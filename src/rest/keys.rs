//! Key envelopes of encrypted channels (profile §3):
//! `PUT /api/channels/<id>/keys` and `GET /api/channels/<id>/keys/@me`.
//! The channel actor checks who they are for; the server never unwraps them.

use actix_web::{web, HttpResponse};
use serde_json::Value;
use switchboard_actors::Reply;
use switchboard_protocols::command::Command;
use switchboard_protocols::jam::objects;
use switchboard_protocols::model::KeyEnvelope;
use switchboard_protocols::Id;

use super::auth::Authed;
use super::body::Fields;
use super::error::{ApiError, ApiResult};
use super::{no_content, ok, parse_id, resource, unexpected, WorldData};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/channels/{id}/keys").route(web::put().to(put_keys)))
        .service(resource("/channels/{id}/keys/@me").route(web::get().to(my_key)));
}

/// One envelope of the request; the server fills in channel, sender, time.
fn envelope(v: &Value) -> ApiResult<KeyEnvelope> {
    let f = Fields::of(v)?;
    Ok(KeyEnvelope {
        channel_id: Id::ZERO,
        user_id: f.id("user_id")?,
        ephemeral_public_key: f.string("ephemeral_public_key")?,
        nonce: f.string("nonce")?,
        wrapped_key: f.string("wrapped_key")?,
        sender_id: Id::ZERO,
        created_at: 0,
    })
}

/// The body is a list of envelopes, bare or as `{"envelopes": [...]}`.
fn envelopes(body: &Value) -> ApiResult<Vec<KeyEnvelope>> {
    let list = match body {
        Value::Array(items) => items,
        Value::Object(_) => Fields::of(body)?
            .opt_array("envelopes")?
            .ok_or_else(|| ApiError::invalid("Missing field `envelopes`"))?,
        _ => return Err(ApiError::invalid("Expected a list of envelopes")),
    };
    list.iter().map(envelope).collect()
}

/// `PUT /api/channels/<id>/keys`: one envelope per member.
///
/// # Format
/// ```text
/// → {"envelopes":[{"user_id":"5","ephemeral_public_key":"<b64 32>","nonce":"<b64 24>","wrapped_key":"<b64 48>"}]}
/// ← 204
/// ```
async fn put_keys(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let channel_id = parse_id(&path)?;
    let envelopes = envelopes(&body)?;
    authed
        .execute(
            &world,
            Command::PutKeyEnvelopes {
                channel_id,
                envelopes,
            },
        )
        .await?;
    Ok(no_content())
}

/// `GET /api/channels/<id>/keys/@me`: the caller's envelope.
///
/// # Format
/// ```text
/// ← 200 {"channel_id","user_id","sender_id","ephemeral_public_key","nonce","wrapped_key","created_at"}
/// ```
async fn my_key(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let channel_id = parse_id(&path)?;
    match authed
        .execute(&world, Command::GetKeyEnvelope { channel_id })
        .await?
    {
        Reply::KeyEnvelope(e) => Ok(ok(objects::key_envelope(&e))),
        other => Err(unexpected(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bare_and_wrapped_lists() {
        let e = json!({"user_id":"5","ephemeral_public_key":"a","nonce":"b","wrapped_key":"c"});
        assert_eq!(envelopes(&json!([e.clone()])).unwrap().len(), 1);
        assert_eq!(
            envelopes(&json!({"envelopes":[e]})).unwrap()[0].user_id,
            Id(5)
        );
        assert!(envelopes(&json!({})).is_err());
        assert!(envelopes(&json!([{"user_id":"5"}])).is_err());
        assert!(envelopes(&json!("x")).is_err());
    }
}
