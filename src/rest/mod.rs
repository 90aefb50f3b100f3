//! JAM REST API under `/api`.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig, _body_limit: usize) {}
