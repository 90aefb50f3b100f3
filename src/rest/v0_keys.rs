//! `POST /api/users/@me/v0-key`: the caller's V0 secret, issued fresh and
//! shown once (issuing again replaces it).

use actix_web::{web, HttpResponse};
use serde_json::json;
use switchboard_actors::v0::keys;

use super::auth::Authed;
use super::error::{ApiError, ApiResult};
use super::{ok, resource, WorldData};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/users/@me/v0-key").route(web::post().to(issue_key)));
}

/// # Format
/// ```text
/// → POST /api/users/@me/v0-key
/// ← 200 {"acc_id":"alice","secret":"<64 lowercase hex: the 32-byte HMAC key>"}
/// ```
async fn issue_key(authed: Authed, world: WorldData) -> ApiResult<HttpResponse> {
    let user = world.user(authed.id())?;
    let sealer = world.sealer()?;
    let key = keys::issue(sealer, user.id)
        .map_err(|_| ApiError::internal("The key could not be stored"))?;
    world.store.commit().await?;
    Ok(ok(json!({"acc_id": user.username, "secret": hex(&key)})))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
