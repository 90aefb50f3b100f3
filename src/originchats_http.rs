//! The HTTP side of the OriginChats port (reference §2): `GET /info`, CORS
//! preflights, and `{"error":"Not found"}` for everything else.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use switchboard_actors::hub::Presences;
use switchboard_actors::session::originchats::OcContext;
use switchboard_actors::World;
use switchboard_protocols::model::{Dialect, Status};

struct State {
    world: Arc<World>,
    oc: Arc<OcContext>,
}

/// `GET /info`: the server and a few figures about its guild.
async fn info(state: web::Data<State>) -> HttpResponse {
    let world = &state.world;
    let Some(guild_id) = state.oc.guild_for_path(world, "/") else {
        return HttpResponse::NotFound().json(json!({"error": "Not found"}));
    };
    let guild = world.store.guild(guild_id).ok().flatten();
    let owner = guild
        .as_ref()
        .and_then(|g| world.user(g.owner_id).ok())
        .map(|u| u.username.clone());
    let (members, roles, channels) = match world.guild_shared(guild_id) {
        Ok(shared) => (
            shared.member_ids(),
            shared.roles().len(),
            world
                .store
                .channels_of(guild_id)
                .map(|c| c.len())
                .unwrap_or(0),
        ),
        Err(_) => (Vec::new(), 0, 0),
    };
    let total = members.len();
    let presences = world
        .hub()
        .send(Presences(members))
        .await
        .unwrap_or_default();
    let online = presences
        .iter()
        .filter(|p| p.status != Status::Offline)
        .count();
    HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(json!({
            "server": {
                "name": guild.map(|g| g.name).unwrap_or_else(|| world.config.server_name.clone()),
                "icon": null,
                "banner": null,
                "owner": {"name": owner},
            },
            "stats": {
                "total_users": total,
                "connected_users": world.metrics.connections(Dialect::OriginChats),
                "online_users": online,
                "total_channels": channels,
                "total_roles": roles,
            }
        }))
}

async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Access-Control-Allow-Methods", "GET, POST, OPTIONS"))
        .insert_header(("Access-Control-Allow-Headers", "*"))
        .finish()
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.method() == actix_web::http::Method::OPTIONS {
        return preflight().await;
    }
    HttpResponse::NotFound().json(json!({"error": "Not found"}))
}

pub fn configure(cfg: &mut web::ServiceConfig, world: Arc<World>, oc: Arc<OcContext>) {
    cfg.app_data(web::Data::new(State { world, oc }))
        .route("/info", web::get().to(info))
        .default_service(web::to(not_found));
}
