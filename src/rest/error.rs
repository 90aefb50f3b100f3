//! REST errors: `{"error": {"code", "message"}}` with the status of the
//! code (profile §2), and the handlers that turn actix extractor failures
//! (body too large, wrong content type, bad JSON, bad query) into that shape.

use std::fmt;

use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::error::Category;
use switchboard_actors::store::StoreError;
use switchboard_protocols::jam::codes::{http_status, JamError, INVALID};
use switchboard_protocols::{ErrorKind, GatewayError};

/// A gateway error answered over REST.
#[derive(Debug)]
pub struct ApiError(pub GatewayError);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError(GatewayError::invalid(message))
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError(GatewayError::not_found(message))
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError(GatewayError::forbidden(message))
    }
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError(GatewayError::internal(message))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(e.into())
    }
}

/// Whole seconds to wait, rounded up, for `Retry-After`.
fn retry_after_secs(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(http_status(self.0.kind)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if let ErrorKind::RateLimited { retry_after_ms } = self.0.kind {
            res.insert_header((
                header::RETRY_AFTER,
                retry_after_secs(retry_after_ms).to_string(),
            ));
        }
        res.json(JamError::from(&self.0).rest_body())
    }
}

/// An error whose status is not the one its code usually maps to
/// (415 and 405 carry `INVALID`).
#[derive(Debug)]
pub struct StatusError {
    status: StatusCode,
    error: JamError,
}

impl StatusError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        StatusError {
            status,
            error: JamError::new(code, message),
        }
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error.code, self.error.message)
    }
}

impl ResponseError for StatusError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(self.error.rest_body())
    }
}

fn too_large(limit: usize) -> actix_web::Error {
    ApiError(GatewayError::too_large(format!(
        "Request body is larger than {limit} bytes"
    )))
    .into()
}

/// Describes a JSON parse failure; serde_json's text names the problem
/// and where it is.
fn describe_json(e: &serde_json::Error) -> String {
    match e.classify() {
        Category::Syntax | Category::Eof => format!("Invalid JSON: {e}"),
        Category::Data => format!("Invalid body: {e}"),
        Category::Io => "Could not read the request body".to_string(),
    }
}

/// `JsonConfig` error handler: 413 `TOO_LARGE`, 415 `INVALID`, else 400 `INVALID`.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => too_large(limit),
        JsonPayloadError::ContentType => StatusError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID,
            "Content-Type must be application/json",
        )
        .into(),
        JsonPayloadError::Deserialize(e) => ApiError::invalid(describe_json(&e)).into(),
        JsonPayloadError::Payload(PayloadError::Overflow) => {
            ApiError(GatewayError::too_large("Request body is too large")).into()
        }
        _ => ApiError::invalid("Could not read the request body").into(),
    }
}

/// `QueryConfig` error handler: 400 `INVALID`.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let detail = match &err {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    ApiError::invalid(format!("Invalid query string: {detail}")).into()
}

/// `PathConfig` error handler: 400 `INVALID`.
pub fn path_error(_err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::invalid("Invalid path").into()
}

/// The default service of `/api`: an unknown route.
pub async fn unknown_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("Unknown route"))
}

/// The default service of each resource: a known route, another method.
pub async fn method_not_allowed() -> Result<HttpResponse, StatusError> {
    Err(StatusError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        INVALID,
        "Method not allowed on this route",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;
    use serde_json::{json, Value};

    fn body_of(res: HttpResponse) -> Value {
        let bytes = res.into_body().try_into_bytes().unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    #[test]
    fn statuses_and_bodies() {
        let e = ApiError::not_found("Unknown channel");
        assert_eq!(e.status_code(), StatusCode::NOT_FOUND);
        assert_eq!(
            body_of(e.error_response()),
            json!({"error":{"code":"NOT_FOUND","message":"Unknown channel"}})
        );
        let e = ApiError(GatewayError::auth_failed("Invalid token"));
        assert_eq!(e.status_code(), StatusCode::UNAUTHORIZED);
        let e = StatusError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, INVALID, "x");
        let res = e.error_response();
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(body_of(res)["error"]["code"], "INVALID");
    }

    #[test]
    fn rate_limited_sets_retry_after_rounded_up() {
        let res = ApiError(GatewayError::rate_limited(1500)).error_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let ra = res.headers().get(header::RETRY_AFTER).cloned();
        assert_eq!(ra.as_ref().and_then(|v| v.to_str().ok()), Some("2"));
        assert_eq!(body_of(res)["error"]["code"], "RATE_LIMITED");
        assert_eq!(retry_after_secs(1000), 1);
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(0), 0);
    }

    #[test]
    fn json_errors_map_to_profile_statuses() {
        let req = actix_web::test::TestRequest::default().to_http_request();
        let status = |e: JsonPayloadError| json_error(e, &req).as_response_error().status_code();
        assert_eq!(
            status(JsonPayloadError::Overflow { limit: 10 }),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            status(JsonPayloadError::ContentType),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let bad = serde_json::from_str::<Value>("{").unwrap_err();
        assert_eq!(
            status(JsonPayloadError::Deserialize(bad)),
            StatusCode::BAD_REQUEST
        );
    }
}
