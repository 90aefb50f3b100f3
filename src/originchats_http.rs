//! The HTTP side of the OriginChats port (reference §2, §12): `GET /info`,
//! `GET /attachments/<id>`, `POST /attachments/upload`, CORS preflights, and
//! `{"error":"Not found"}` for everything else.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use switchboard_actors::files;
use switchboard_actors::hub::Presences;
use switchboard_actors::session::originchats::{user_for_validator, OcContext};
use switchboard_actors::World;
use switchboard_protocols::model::Status;
use switchboard_protocols::originchats::{objects, perms, EVERYONE};
use switchboard_protocols::Dialect;
use switchboard_protocols::{permissions, Id};

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
                .map(|c| c.iter().filter(|c| c.thread.is_none()).count())
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

fn json_error(status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(json!({"error": message}))
}

/// `GET /attachments/<id>`: a file attached to a message in a channel of
/// this guild that every member can see (the reference serves attachments
/// without credentials, so only those are public here).
async fn attachment(state: web::Data<State>, path: web::Path<String>) -> HttpResponse {
    use actix_web::http::StatusCode;
    let not_found = || json_error(StatusCode::NOT_FOUND, "Attachment not found or expired");
    let world = &state.world;
    let Some(guild_id) = state.oc.guild_for_path(world, "/") else {
        return not_found();
    };
    let Ok(id) = path.parse::<u64>().map(Id) else {
        return not_found();
    };
    let Some(record) = world.store.file(id).ok().flatten() else {
        return not_found();
    };
    let Ok(shared) = world.guild_shared(guild_id) else {
        return not_found();
    };
    let roles: Vec<_> = shared.roles().values().cloned().collect();
    let public = world
        .store
        .file_channels(id)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| world.store.channel(c).ok().flatten())
        .filter(|c| c.guild_id == Some(guild_id))
        .any(|c| {
            perms::channel_permission_lists(&c, &roles)
                .get("view")
                .and_then(|v| v.as_array())
                .is_some_and(|v| v.iter().any(|r| r == EVERYONE))
        });
    if !public {
        return not_found();
    }
    let (size, content_type) = (record.size, record.content_type.clone());
    match files::read_range(world, record, 0, size).await {
        Ok(bytes) => HttpResponse::Ok()
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .insert_header(("Content-Type", content_type))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(bytes),
        Err(_) => not_found(),
    }
}

/// `POST /attachments/upload` (reference §12): JSON with the file as a
/// data URL or base64, authenticated by `validator` (a Switchboard session
/// token, or a Rotur validator made for `validator_key`). A file that would
/// take the uploader past `limits.user_storage_bytes` gets 413
/// `{"error":"Storage quota exceeded: ..."}` and is not kept.
async fn upload(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    use actix_web::http::StatusCode;
    use base64::Engine;
    let world = &state.world;
    let limit = world.config.upload_bytes;
    let is_json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        );
    }
    // Base64 is 4/3 of the bytes it carries, plus the other fields.
    let max_body = limit.saturating_mul(4) / 3 + 64 * 1024;
    if body.len() > max_body {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request body too large (max {max_body} bytes)"),
        );
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "Invalid JSON body");
    };
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let (Some(file), Some(name), Some(mime), Some(channel)) = (
        text("file"),
        text("name"),
        text("mime_type"),
        text("channel"),
    ) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "Missing required fields: file, name, mime_type, channel",
        );
    };
    let (Some(key), Some(validator)) = (text("validator_key"), text("validator")) else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "validator_key and validator are required for authentication",
        );
    };
    let Some(user) = user_for_validator(world, &state.oc, &key, &validator).await else {
        return json_error(StatusCode::UNAUTHORIZED, "Invalid credentials");
    };
    let Some(guild_id) = state.oc.guild_for_path(world, "/") else {
        return json_error(StatusCode::NOT_FOUND, "Channel does not exist");
    };
    let target = world
        .store
        .channels_of(guild_id)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.thread.is_none() && c.name == channel);
    let Some(target) = target else {
        return json_error(StatusCode::NOT_FOUND, "Channel does not exist");
    };
    let need = permissions::SEND_MESSAGES | permissions::ATTACH_FILES;
    if world.channel_bits(user.id, target.id).unwrap_or(0) & need != need {
        return json_error(
            StatusCode::FORBIDDEN,
            "You don't have permission to send in this channel",
        );
    }
    let b64 = match file.split_once(";base64,") {
        Some((_, data)) => data.to_string(),
        None => file,
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return json_error(StatusCode::BAD_REQUEST, "Failed to read request body");
    };
    if bytes.len() > limit {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request body too large (max {limit} bytes)"),
        );
    }
    match files::store_upload(world, user.id, name, mime, bytes.into()).await {
        Ok(record) => HttpResponse::Created()
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .json(
                json!({"attachment": objects::attachment(&record.attachment()), "permanent": true}),
            ),
        Err(e) if e.kind == switchboard_protocols::ErrorKind::Invalid => {
            json_error(StatusCode::BAD_REQUEST, &e.message)
        }
        // Over the uploader's storage quota: the reference's too-large status.
        Err(e) if e.kind == switchboard_protocols::ErrorKind::TooLarge => {
            json_error(StatusCode::PAYLOAD_TOO_LARGE, &e.message)
        }
        Err(_) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Failed to save attachment",
        ),
    }
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

/// Counts every request against its address's rate
/// (`limits.ip_requests_per_second`); over it, 429 in the reference's
/// `{"error": ...}` shape with `Retry-After`.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<State>>().cloned();
    if let (Some(state), Some(peer)) = (state, req.peer_addr()) {
        // A connection refused at the door (`limits.connections_per_ip`)
        // counts as a request over the rate, and is closed after it.
        let admitted = if crate::door::over_limit(req.request()) {
            Err(switchboard_protocols::GatewayError::rate_limited(1000))
        } else {
            state.world.admit(peer.ip(), None)
        };
        if let Err(e) = admitted {
            let ms = match e.kind {
                switchboard_protocols::ErrorKind::RateLimited { retry_after_ms } => retry_after_ms,
                _ => 1000,
            };
            let res = HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", ms.div_ceil(1000).to_string()))
                .insert_header(("Access-Control-Allow-Origin", "*"))
                .json(json!({"error": "Rate limit exceeded", "retry_after_ms": ms}));
            let mut res = res;
            if crate::door::over_limit(req.request()) {
                res.head_mut()
                    .set_connection_type(actix_web::http::ConnectionType::Close);
            }
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

pub fn configure(cfg: &mut web::ServiceConfig, world: Arc<World>, oc: Arc<OcContext>) {
    // Twice the largest upload body: within that, an oversize upload gets the
    // reference's JSON 413; beyond it actix refuses before buffering.
    let max_body = world.config.upload_bytes.saturating_mul(4) / 3 + 64 * 1024;
    cfg.app_data(web::Data::new(State { world, oc }))
        .app_data(web::PayloadConfig::new(max_body.saturating_mul(2)))
        .route("/info", web::get().to(info))
        .route("/attachments/upload", web::post().to(upload))
        .route("/attachments/{id}", web::get().to(attachment))
        .default_service(web::to(not_found));
}
