//! `POST /federation/receive` on the main port (JAM §4). The body is read
//! raw, up to `federation.max_body_bytes`, because its signature covers the
//! exact bytes; the checks and the replay are in
//! `switchboard_actors::federation::inbound`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use switchboard_actors::federation::inbound::{self, Received};
use switchboard_actors::federation::wire::{DOMAIN_HEADER, SIGNATURE_HEADER};
use switchboard_actors::World;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/federation/receive").route(web::post().to(receive)));
}

fn answer(r: Received) -> HttpResponse {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(r.body)
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn receive(
    req: HttpRequest,
    world: web::Data<Arc<World>>,
    mut payload: web::Payload,
) -> HttpResponse {
    let limit = world.federation().map_or(1024 * 1024, |f| f.max_body_bytes);
    let declared = header(&req, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return answer(Received::too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return answer(Received::fail(400, "INVALID", "The body could not be read"));
        };
        if body.len() + chunk.len() > limit {
            return answer(Received::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    let domain = header(&req, DOMAIN_HEADER);
    let signature = header(&req, SIGNATURE_HEADER);
    answer(inbound::receive(&world, domain, signature, &body).await)
}
