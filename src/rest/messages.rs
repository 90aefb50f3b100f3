//! Messages: `GET`/`POST /api/messages`, `GET`/`PATCH`/`DELETE
//! /api/messages/<id>`, `PUT`/`DELETE /api/messages/<id>/reactions/<emoji>`,
//! `PUT`/`DELETE /api/messages/<id>/pin`.
//!
//! Routes on one message find its channel with the store's message index;
//! the channel actor then checks that the caller may see it.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde_json::Value;
use switchboard_actors::{Reply, World};
use switchboard_protocols::command::{Command, HistoryQuery, NewMessage};
use switchboard_protocols::jam::objects;
use switchboard_protocols::Id;

use super::auth::Authed;
use super::body::{parse_decimal, Fields};
use super::error::{ApiError, ApiResult};
use super::{created, no_content, ok, parse_id, resource, unexpected, WorldData};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 100;
/// Longest `ref` (idempotency key) and emoji, as on the WebSocket.
const MAX_REF_CHARS: usize = 64;
const MAX_EMOJI_CHARS: usize = 64;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/messages")
            .route(web::get().to(list_messages))
            .route(web::post().to(create_message)),
    )
    .service(
        resource("/messages/{id}")
            .route(web::get().to(get_message))
            .route(web::patch().to(edit_message))
            .route(web::delete().to(delete_message)),
    )
    .service(
        resource("/messages/{id}/reactions/{emoji}")
            .route(web::put().to(|a, w, p| react(a, w, p, true)))
            .route(web::delete().to(|a, w, p| react(a, w, p, false))),
    )
    .service(
        resource("/messages/{id}/pin")
            .route(web::put().to(|a, w, p| set_pin(a, w, p, true)))
            .route(web::delete().to(|a, w, p| set_pin(a, w, p, false))),
    );
}

/// A query parameter, empty counting as absent.
fn param<'a>(q: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    q.get(key).map(String::as_str).filter(|s| !s.is_empty())
}

fn query_id(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<Id>> {
    param(q, key)
        .map(|s| {
            parse_decimal(s).map(Id).ok_or_else(|| {
                ApiError::invalid(format!(
                    "Query parameter `{key}` must be an id (a decimal string)"
                ))
            })
        })
        .transpose()
}

/// `channel_id` (required), `limit` (1–100, default 50), and `before`,
/// `after` or `around`. `before` and `after` may bound one page together;
/// `around` stands alone.
fn history_query(q: &HashMap<String, String>) -> ApiResult<(Id, HistoryQuery)> {
    let channel_id = query_id(q, "channel_id")?
        .ok_or_else(|| ApiError::invalid("Missing query parameter `channel_id`"))?;
    let limit = match param(q, "limit") {
        None => DEFAULT_LIMIT,
        Some(s) => parse_decimal(s)
            .filter(|n| (1..=MAX_LIMIT as u64).contains(n))
            .map(|n| n as usize)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "Query parameter `limit` must be an integer from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let query = HistoryQuery {
        before: query_id(q, "before")?,
        after: query_id(q, "after")?,
        around: query_id(q, "around")?,
        limit,
        skip: 0,
    };
    if query.around.is_some() && (query.before.is_some() || query.after.is_some()) {
        return Err(ApiError::invalid(
            "`around` cannot be combined with `before` or `after`",
        ));
    }
    Ok((channel_id, query))
}

/// `GET /api/messages?channel_id=<id>&limit=50&before=<id>` (also `after`,
/// `around`): newest first.
///
/// # Format
/// ```text
/// ← 200 [Message, …]
/// ```
async fn list_messages(
    authed: Authed,
    world: WorldData,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let (channel_id, query) = history_query(&query)?;
    match authed
        .execute(&world, Command::History { channel_id, query })
        .await?
    {
        Reply::Messages(ms) => Ok(ok(ms.iter().map(objects::message).collect())),
        other => Err(unexpected(other)),
    }
}

fn new_message(body: &Value) -> ApiResult<NewMessage> {
    let f = Fields::of(body)?;
    let client_ref = f.opt_string("ref")?;
    if client_ref
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REF_CHARS)
    {
        return Err(ApiError::invalid(format!(
            "Field `ref` must be at most {MAX_REF_CHARS} characters"
        )));
    }
    Ok(NewMessage {
        channel_id: f.id("channel_id")?,
        content: f.opt_string("content")?.unwrap_or_default(),
        reply_to: f.opt_id("reply_to")?,
        attachments: f.id_list("attachments")?,
        encrypted: f.opt_bool("encrypted")?.unwrap_or(false),
        nonce: f.opt_string("nonce")?,
        client_ref,
        untagged: false,
        binary: false,
    })
}

/// `POST /api/messages` (SEND_MESSAGES). An optional `ref` makes the send
/// idempotent: repeating it returns the stored message.
///
/// # Format
/// ```text
/// → {"channel_id":"12","content":"hi","reply_to":"9","attachments":[],"encrypted":false,"ref":"bot-1"}
/// ← 201 Message
/// ```
async fn create_message(
    authed: Authed,
    world: WorldData,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let message = new_message(&body)?;
    match authed
        .execute(&world, Command::SendMessage(message))
        .await?
    {
        Reply::Message(m) => Ok(created(objects::message(&m))),
        other => Err(unexpected(other)),
    }
}

/// The channel a message lives in, and the message id.
fn locate(world: &Arc<World>, raw_id: &str) -> ApiResult<(Id, Id)> {
    let message_id = parse_id(raw_id)?;
    let channel_id = world
        .store
        .channel_of_message(message_id)?
        .ok_or_else(|| ApiError::not_found("Unknown message"))?;
    Ok((channel_id, message_id))
}

/// `GET /api/messages/<id>` (READ_MESSAGE_HISTORY).
///
/// # Format
/// ```text
/// ← 200 Message
/// ```
async fn get_message(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (channel_id, message_id) = locate(&world, &path)?;
    let command = Command::GetMessage {
        channel_id,
        message_id,
    };
    match authed.execute(&world, command).await? {
        Reply::Message(m) => Ok(ok(objects::message(&m))),
        other => Err(unexpected(other)),
    }
}

/// `PATCH /api/messages/<id>` (author only).
///
/// # Format
/// ```text
/// → {"content":"fixed","encrypted":false,"nonce":null}
/// ← 200 Message
/// ```
async fn edit_message(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let (channel_id, message_id) = locate(&world, &path)?;
    let f = Fields::of(&body)?;
    let command = Command::EditMessage {
        channel_id,
        message_id,
        content: f.string("content")?,
        encrypted: f.opt_bool("encrypted")?.unwrap_or(false),
        nonce: f.opt_string("nonce")?,
    };
    match authed.execute(&world, command).await? {
        Reply::Message(m) => Ok(ok(objects::message(&m))),
        other => Err(unexpected(other)),
    }
}

/// `DELETE /api/messages/<id>` (author, or MANAGE_MESSAGES).
///
/// # Format
/// ```text
/// ← 204
/// ```
async fn delete_message(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (channel_id, message_id) = locate(&world, &path)?;
    let command = Command::DeleteMessage {
        channel_id,
        message_id,
    };
    authed.execute(&world, command).await?;
    Ok(no_content())
}

fn check_emoji(emoji: &str) -> ApiResult<()> {
    let len = emoji.chars().count();
    if len == 0 || len > MAX_EMOJI_CHARS {
        return Err(ApiError::invalid(format!(
            "Emoji must be 1 to {MAX_EMOJI_CHARS} characters"
        )));
    }
    Ok(())
}

/// `PUT` (ADD_REACTIONS) and `DELETE /api/messages/<id>/reactions/<emoji>`:
/// adds or removes the caller's own reaction; the emoji is percent-encoded
/// in the path. Both are idempotent.
///
/// # Format
/// ```text
/// PUT /api/messages/9/reactions/%F0%9F%91%8D   ← 204
/// ```
async fn react(
    authed: Authed,
    world: WorldData,
    path: web::Path<(String, String)>,
    add: bool,
) -> ApiResult<HttpResponse> {
    let (id, emoji) = path.into_inner();
    let (channel_id, message_id) = locate(&world, &id)?;
    check_emoji(&emoji)?;
    let command = Command::React {
        channel_id,
        message_id,
        emoji,
        add,
    };
    authed.execute(&world, command).await?;
    Ok(no_content())
}

/// `PUT`/`DELETE /api/messages/<id>/pin` (MANAGE_MESSAGES).
///
/// # Format
/// ```text
/// ← 204
/// ```
async fn set_pin(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
    pinned: bool,
) -> ApiResult<HttpResponse> {
    let (channel_id, message_id) = locate(&world, &path)?;
    let command = Command::Pin {
        channel_id,
        message_id,
        pinned,
    };
    authed.execute(&world, command).await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn history_defaults_and_bounds() {
        let (c, h) = history_query(&q(&[("channel_id", "12")])).unwrap();
        assert_eq!(c, Id(12));
        assert_eq!(
            h,
            HistoryQuery {
                limit: 50,
                ..Default::default()
            }
        );
        let (_, h) = history_query(&q(&[
            ("channel_id", "1"),
            ("limit", "100"),
            ("before", "9"),
        ]))
        .unwrap();
        assert_eq!((h.limit, h.before), (100, Some(Id(9))));
        let (_, h) = history_query(&q(&[("channel_id", "1"), ("limit", "1")])).unwrap();
        assert_eq!(h.limit, 1);
        let (_, h) =
            history_query(&q(&[("channel_id", "1"), ("after", "3"), ("before", "9")])).unwrap();
        assert_eq!((h.after, h.before), (Some(Id(3)), Some(Id(9))));
    }

    #[test]
    fn history_rejects_bad_queries() {
        for bad in [
            q(&[]),
            q(&[("channel_id", "x")]),
            q(&[("channel_id", "1"), ("limit", "0")]),
            q(&[("channel_id", "1"), ("limit", "101")]),
            q(&[("channel_id", "1"), ("limit", "-5")]),
            q(&[("channel_id", "1"), ("limit", "ten")]),
            q(&[("channel_id", "1"), ("before", "abc")]),
            q(&[("channel_id", "1"), ("around", "5"), ("before", "6")]),
        ] {
            assert!(history_query(&bad).is_err(), "{bad:?}");
        }
        let e = history_query(&q(&[("channel_id", "1"), ("limit", "101")])).err();
        assert_eq!(
            e.map(|e| e.0.message).as_deref(),
            Some("Query parameter `limit` must be an integer from 1 to 100")
        );
    }

    #[test]
    fn new_messages() {
        let m = new_message(&json!({
            "channel_id": "12", "content": "hi", "reply_to": "9", "ref": "r1"
        }))
        .unwrap();
        assert_eq!(m.channel_id, Id(12));
        assert_eq!(m.reply_to, Some(Id(9)));
        assert_eq!(m.client_ref.as_deref(), Some("r1"));
        assert!(!m.encrypted);
        assert!(new_message(&json!({"content": "hi"})).is_err());
        assert!(new_message(&json!({"channel_id": "1", "ref": "x".repeat(65)})).is_err());
        assert!(new_message(&json!({"channel_id": "1", "attachments": "3"})).is_err());
    }

    #[test]
    fn emoji_length() {
        assert!(check_emoji("👍").is_ok());
        assert!(check_emoji("").is_err());
        assert!(check_emoji(&"x".repeat(65)).is_err());
    }
}
