//! The dashboard: a static page compiled into the binary (no build step,
//! nothing fetched from elsewhere) and `GET /admin/activity`, the figures it
//! needs beyond `/admin/stats`.
//!
//! The page itself is public: it holds no data, and its script asks for the
//! token before it calls any guarded route.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use switchboard_actors::metrics::{HISTORY_SECONDS, TOP_MINUTES};

use super::{check_token, refuse, AdminState, Auth};

const INDEX_HTML: &str = include_str!("../../assets/admin/index.html");
const DASHBOARD_CSS: &str = include_str!("../../assets/admin/dashboard.css");
const DASHBOARD_JS: &str = include_str!("../../assets/admin/dashboard.js");

/// Channels listed in the ranking.
const TOP_CHANNELS: usize = 10;

/// Only this page's own files may load, and only its own origin may be
/// called: an injected string can neither run nor send the token away.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; form-action 'none'; \
                   frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body)
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", DASHBOARD_CSS)
}

async fn js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", DASHBOARD_JS)
}

/// The page's files are addressed relative to `/admin/`.
async fn to_index() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/admin/"))
        .finish()
}

async fn activity(req: HttpRequest, state: web::Data<Arc<AdminState>>) -> HttpResponse {
    match check_token(&req, &state) {
        Auth::Ok => {}
        other => return refuse(&req, other),
    }
    let w = &state.world;
    let top: Vec<serde_json::Value> = w
        .metrics
        .top_channels(TOP_CHANNELS)
        .into_iter()
        .map(|(id, messages)| {
            // A channel deleted since still counts; it just has no name.
            let channel = w.store.channel(id).ok().flatten();
            let guild = channel
                .as_ref()
                .and_then(|c| c.guild_id)
                .and_then(|g| w.store.guild(g).ok().flatten());
            json!({
                "id": id.to_string(),
                "name": channel.map(|c| c.name),
                "guild": guild.map(|g| g.name),
                "messages": messages,
            })
        })
        .collect();
    let nynja = match state.nynja.recent_codes() {
        Some(codes) => {
            let codes: Vec<serde_json::Value> = codes
                .into_iter()
                .map(|c| {
                    json!({
                        "phone": c.phone,
                        "code": c.code,
                        "issued_at_ms": c.issued_at_ms,
                        "pending": c.pending,
                    })
                })
                .collect();
            json!({"verification": "log", "codes": codes})
        }
        None => json!({"verification": "fixed", "codes": null}),
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "uptime_s": w.metrics.uptime_s(),
            "message_rate": {
                "window_s": HISTORY_SECONDS,
                "per_second": w.metrics.message_rate_history(),
            },
            "top_channels": {"window_minutes": TOP_MINUTES, "channels": top},
            "recent_errors": super::recent::entries(),
            "nynja": nynja,
        }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(to_index))
        .route("/admin/", web::get().to(index))
        .route("/admin/index.html", web::get().to(index))
        .route("/admin/dashboard.css", web::get().to(css))
        .route("/admin/dashboard.js", web::get().to(js))
        .route("/admin/activity", web::get().to(activity));
}
