//! Federation bridges of a channel (JAM §4), for those who may manage it:
//! what a channel sends to a peer's channel and accepts from it.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use switchboard_actors::federation::{Bridge, Federation};

use super::auth::Authed;
use super::body::Fields;
use super::error::{ApiError, ApiResult};
use super::{created, no_content, ok, parse_id, resource, WorldData};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/channels/{id}/bridges")
            .route(web::get().to(list))
            .route(web::post().to(add)),
    )
    .service(resource("/channels/{id}/bridges/{peer}").route(web::delete().to(remove)));
}

fn bridge(b: &Bridge) -> Value {
    json!({"peer": b.peer, "remote_channel": b.remote_channel.to_string(), "configured": b.configured})
}

fn federation(world: &WorldData) -> ApiResult<&std::sync::Arc<Federation>> {
    world
        .federation()
        .ok_or_else(|| ApiError::invalid("Federation is not enabled"))
}

/// `GET /api/channels/<id>/bridges` (those who can view the channel).
///
/// # Format
/// ```text
/// ← 200 [{"peer":"b.example","remote_channel":"123","configured":false}, …]
/// ```
async fn list(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let channel = parse_id(&path)?;
    let bridges = federation(&world)?.list_bridges(&world, authed.id(), channel)?;
    Ok(ok(Value::Array(bridges.iter().map(bridge).collect())))
}

/// `POST /api/channels/<id>/bridges` (MANAGE_CHANNELS; guild text
/// channels; the peer must be configured). Replaces a bridge to the same
/// peer.
///
/// # Format
/// ```text
/// → {"peer":"b.example","remote_channel":"123"}
/// ← 201 {"peer":"b.example","remote_channel":"123","configured":false}
/// ```
async fn add(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let channel = parse_id(&path)?;
    let f = Fields::of(&body)?;
    let peer = f.string("peer")?;
    let remote_channel = f.id("remote_channel")?;
    let fed = federation(&world)?;
    let b = fed.add_bridge(&world, authed.id(), channel, &peer, remote_channel)?;
    world.store.commit().await?;
    Ok(created(bridge(&b)))
}

/// `DELETE /api/channels/<id>/bridges/<peer>` (MANAGE_CHANNELS; bridges
/// from config.toml stay).
async fn remove(
    authed: Authed,
    world: WorldData,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (channel, peer) = path.into_inner();
    let channel = parse_id(&channel)?;
    federation(&world)?.remove_bridge(&world, authed.id(), channel, &peer)?;
    world.store.commit().await?;
    Ok(no_content())
}
