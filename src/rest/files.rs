//! Uploads and downloads (profile §2 and §5): `POST /api/upload`
//! (multipart, field `file`), `GET /api/files/<id>` (with `ETag` and
//! `Range`), `DELETE /api/files/<id>`.

use actix_multipart::Multipart;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::BytesMut;
use futures_util::TryStreamExt;
use switchboard_actors::files;
use switchboard_protocols::command::Command;
use switchboard_protocols::jam::codes::INVALID;
use switchboard_protocols::jam::objects;
use switchboard_protocols::model::FileRecord;
use switchboard_protocols::GatewayError;

use super::auth::Authed;
use super::error::{ApiError, ApiResult, StatusError};
use super::{created, no_content, parse_id, resource, WorldData};

/// Multipart framing a request may add around the file itself.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/upload").route(web::post().to(upload)))
        .service(
            resource("/files/{id}")
                .route(web::get().to(download))
                .route(web::delete().to(delete)),
        );
}

fn too_large(limit: usize) -> ApiError {
    ApiError(GatewayError::too_large(format!(
        "The file is larger than {limit} bytes"
    )))
}

/// The last path segment, without control characters, at most 255
/// characters; "file" when nothing is left.
fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "file".to_string()
    } else {
        clean.to_string()
    }
}

/// `POST /api/upload`: multipart/form-data with a `file` field.
///
/// # Format
/// ```text
/// → Content-Type: multipart/form-data; boundary=X   (field "file", filename, type)
/// ← 201 {"id","filename","size","content_type","sha256","url":"/api/files/<id>"}
/// ← 413 {"error":{"code":"TOO_LARGE","message":"The file is larger than N bytes"}}
/// ← 413 {"error":{"code":"TOO_LARGE","message":"Storage quota exceeded: U of Q bytes in use"}}
/// ```
///
/// A file that would take the caller's stored uploads past
/// `limits.user_storage_bytes` is refused as soon as the body passes it.
async fn upload(
    authed: Authed,
    world: WorldData,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_multipart {
        return Err(StatusError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID,
            "Expected multipart/form-data with a `file` field",
        )
        .into());
    }
    let limit = world.config.upload_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit.saturating_add(MULTIPART_OVERHEAD)) {
        return Err(too_large(limit).into());
    }
    let left = files::storage_left(&world, authed.id()).map_err(ApiError)?;
    let mut form = Multipart::new(req.headers(), payload);
    let mut found = None;
    while let Some(mut field) = form
        .try_next()
        .await
        .map_err(|e| ApiError::invalid(format!("Malformed multipart body: {e}")))?
    {
        if field.name() != Some("file") {
            // Other fields are read and dropped, within the same bound.
            let mut seen = 0usize;
            while let Some(chunk) = field
                .try_next()
                .await
                .map_err(|e| ApiError::invalid(format!("Malformed multipart body: {e}")))?
            {
                seen += chunk.len();
                if seen > MULTIPART_OVERHEAD {
                    return Err(too_large(limit).into());
                }
            }
            continue;
        }
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(clean_filename)
            .unwrap_or_else(|| "file".to_string());
        let content_type = field
            .content_type()
            .map(|m| m.essence_str().to_string())
            .unwrap_or_else(|| "application/octet-stream".to_string());
        let mut data = BytesMut::new();
        while let Some(chunk) = field
            .try_next()
            .await
            .map_err(|e| ApiError::invalid(format!("Malformed multipart body: {e}")))?
        {
            let total = data.len() + chunk.len();
            if total > limit {
                return Err(too_large(limit).into());
            }
            if left.is_some_and(|left| total as u64 > left) {
                return Err(ApiError(files::over_quota(&world, authed.id())).into());
            }
            data.extend_from_slice(&chunk);
        }
        found = Some((filename, content_type, data.freeze()));
        break;
    }
    let Some((filename, content_type, data)) = found else {
        return Err(ApiError::invalid("Missing multipart field `file`").into());
    };
    let record = files::store_upload(&world, authed.id(), filename, content_type, data)
        .await
        .map_err(ApiError)?;
    Ok(created(objects::file(&record.attachment())))
}

/// A file the caller may read, or 404 (also when it exists but is not
/// theirs to see).
fn readable(world: &WorldData, authed: &Authed, path: &str) -> ApiResult<FileRecord> {
    let id = parse_id(path)?;
    let record = world
        .store
        .file(id)?
        .ok_or_else(|| ApiError::not_found("Unknown file"))?;
    if !world.may_read_file(authed.id(), &record)? {
        return Err(ApiError::not_found("Unknown file"));
    }
    Ok(record)
}

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// No usable range: serve the whole file.
    Whole,
    /// `start..end` (end exclusive).
    Part(u64, u64),
    /// A range that lies outside the file: 416.
    Unsatisfiable,
}

/// One `bytes=` range (RFC 9110 §14.1.2); several ranges or another unit
/// are ignored (the whole file is served), as the RFC allows.
fn parse_range(value: &str, size: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, false) => match num(b) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(n) => RangeAsk::Part(size.saturating_sub(n), size),
            None => RangeAsk::Whole,
        },
        (false, _) => {
            let Some(start) = num(a) else {
                return RangeAsk::Whole;
            };
            let end = if b.is_empty() {
                size
            } else {
                match num(b) {
                    Some(last) if last >= start => last.saturating_add(1).min(size),
                    _ => return RangeAsk::Whole,
                }
            };
            if start >= size {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part(start, end)
            }
        }
        (true, true) => RangeAsk::Whole,
    }
}

/// `GET /api/files/<id>`: the original bytes.
///
/// # Format
/// ```text
/// ← 200 Content-Type: <as uploaded>, ETag: "<sha256>", Content-Length, Accept-Ranges: bytes
/// → Range: bytes=0-99   ← 206 Content-Range: bytes 0-99/<size>
/// ```
async fn download(
    authed: Authed,
    world: WorldData,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let record = readable(&world, &authed, &path)?;
    let etag = format!("\"{}\"", record.sha256);
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let size = record.size;
    let ask = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(RangeAsk::Whole, |v| parse_range(v, size));
    let (status, start, end) = match ask {
        RangeAsk::Whole => (StatusCode::OK, 0, size),
        RangeAsk::Part(s, e) => (StatusCode::PARTIAL_CONTENT, s, e),
        RangeAsk::Unsatisfiable => {
            let body = switchboard_protocols::jam::JamError::new(
                INVALID,
                format!("Range not satisfiable: the file has {size} bytes"),
            )
            .rest_body();
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .json(body));
        }
    };
    let content_type = record.content_type.clone();
    let disposition = ContentDisposition {
        disposition: DispositionType::Inline,
        parameters: vec![DispositionParam::Filename(record.filename.clone())],
    };
    let bytes = files::read_range(&world, record, start, end).await?;
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(disposition);
    if status == StatusCode::PARTIAL_CONTENT {
        res.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end.saturating_sub(1)),
        ));
    }
    Ok(res.body(bytes))
}

/// `DELETE /api/files/<id>`: the uploader removes a file no message
/// carries; chunks other files share stay. The uploader's sessions in
/// every dialect hear it (`Command::DeleteFile`).
///
/// # Format
/// ```text
/// ← 204      404 NOT_FOUND "Unknown file"      403 FORBIDDEN (not the uploader)
/// ← 409 CONFLICT "The file is attached to a message"
/// ```
async fn delete(
    authed: Authed,
    world: WorldData,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let file_id = parse_id(&path)?;
    authed
        .execute(&world, Command::DeleteFile { file_id })
        .await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeAsk::*;
        assert_eq!(parse_range("bytes=0-99", 1000), Part(0, 100));
        assert_eq!(parse_range("bytes=990-", 1000), Part(990, 1000));
        assert_eq!(parse_range("bytes=-10", 1000), Part(990, 1000));
        assert_eq!(parse_range("bytes=-5000", 1000), Part(0, 1000));
        assert_eq!(parse_range("bytes=500-5000", 1000), Part(500, 1000));
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Whole);
        assert_eq!(parse_range("items=0-1", 1000), Whole);
        assert_eq!(parse_range("bytes=x-1", 1000), Whole);
    }

    #[test]
    fn filenames() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\x\\a.png"), "a.png");
        assert_eq!(clean_filename("a\u{0}b.txt"), "ab.txt");
        assert_eq!(clean_filename(".."), "file");
        assert_eq!(clean_filename(""), "file");
    }
}
