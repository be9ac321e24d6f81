//! `POST /api/v1/hazards/{id}/attachments`, `GET /api/v1/hazards/{id}/attachments`,
//! `GET /api/v1/attachments/{id}`

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::attachments::ingest::{self, may_attach, too_large, Uploader};
use crate::attachments::store::{self, Attachment};
use crate::auth::principal::Caller;
use crate::error::{AppError, AppResult, ErrorCode, StdErrors};
use crate::hazards::store as hazard_store;
use crate::http::pagination::PageParams;
use crate::http::Page;
use crate::idempotency::{self, Idempotent};
use crate::AppState;

pub use crate::attachments::ingest::MAX_BYTES;
/// Room for the multipart envelope around the file.
const ENVELOPE: usize = 64 * 1024;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(upload_attachment)
        .service(list_attachments)
        .service(get_attachment);
}

/// Reads the one file of a multipart body, refusing more than `MAX_BYTES` without keeping any.
async fn read_file(req: &HttpRequest, payload: web::Payload) -> AppResult<Vec<u8>> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            "upload the photo as multipart/form-data",
        ));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BYTES + ENVELOPE) {
        return Err(too_large());
    }
    let mut parts = Multipart::new(req.headers(), payload);
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = parts.next().await {
        let mut field =
            field.map_err(|e| AppError::bad_request(format!("malformed multipart body: {e}")))?;
        let is_file = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .is_some()
            || field.name() == Some("file");
        if is_file && file.is_some() {
            return Err(AppError::field("file", "upload one photo per request"));
        }
        let mut buf = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk
                .map_err(|e| AppError::bad_request(format!("malformed multipart body: {e}")))?;
            if buf.len() + chunk.len() > MAX_BYTES {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        if is_file {
            file = Some(buf);
        }
    }
    file.ok_or_else(|| AppError::field("file", "a photo file is required"))
}

/// Upload one photo (multipart, field `file`): JPEG, PNG or WebP recognised by its bytes (else
/// 415), at most 10 MiB (else 413, nothing kept). EXIF capture time and GPS position are kept
/// in the record; the stored and served image has its metadata removed.
#[utoipa::path(tag = "hazards", security(("bearer" = [])),
    params(("id" = i64, Path), crate::idempotency::KeyHeader),
    request_body(content_type = "multipart/form-data", description = "one file field named `file`"),
    responses((status = 201, body = Attachment), StdErrors))]
#[post("/hazards/{id}/attachments")]
pub async fn upload_attachment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    // A malformed key is refused before the upload is read; the fingerprint needs the bytes.
    idempotency::check_key(&req)?;
    // Check the case before reading megabytes from a weak connection.
    caller
        .clone()
        .run(&state.pool, move |conn, p| {
            let row = hazard_store::visible(conn, &p, id)?;
            may_attach(&p, &row)
        })
        .await?;
    let raw = crate::http::json::read_within(&req, read_file(&req, payload)).await?;
    let format = ingest::detect(&raw)?;
    let once = Idempotent::bytes(
        &req,
        &format!("POST /hazards/{id}/attachments"),
        &Sha256::digest(&raw),
    )?;
    let photo = ingest::store(&state, format, raw).await?;
    let photo = std::sync::Arc::new(photo);
    let recorded = photo.clone();
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            once.run(conn, p.user_id, |conn| {
                let a = ingest::record(conn, id, &recorded, Uploader::Staff(&p))?;
                Ok((StatusCode::CREATED, a.to_api()))
            })
        })
        .await;
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => {
            if let Ok(photo) = std::sync::Arc::try_unwrap(photo) {
                ingest::discard(&state, photo).await;
            }
            return Err(e);
        }
    };
    Ok(reply.respond())
}

/// The photos of a case, oldest first, a page at a time.
#[utoipa::path(tag = "hazards", security(("bearer" = [])), params(("id" = i64, Path), PageParams),
    responses((status = 200, body = Page<Attachment>), StdErrors))]
#[get("/hazards/{id}/attachments")]
pub async fn list_attachments(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Attachment>>> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after = page.after_id()?;
    let rows = caller
        .run(&state.pool, move |conn, p| {
            hazard_store::visible(conn, &p, id)?;
            store::of_hazard(conn, id, after, limit + 1)
        })
        .await?;
    let items = rows.iter().map(|r| r.to_api()).collect();
    Ok(web::Json(Page::from_rows(
        items,
        limit,
        |a: &Attachment| a.id,
    )))
}

/// The photo itself, without metadata, to whoever can see its case.
#[utoipa::path(tag = "hazards", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "the image", content_type = "image/jpeg"), StdErrors))]
#[get("/attachments/{id}")]
pub async fn get_attachment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let row = caller
        .run(&state.pool, move |conn, p| {
            let a = store::get(conn, id)?;
            hazard_store::visible(conn, &p, a.hazard_id)?;
            Ok(a)
        })
        .await?;
    let data_dir = state.settings.data_dir.clone();
    let sha = row.sha256.clone();
    let bytes = web::block(move || store::read_blob(&data_dir, &sha)).await??;
    Ok(HttpResponse::Ok()
        .content_type(row.content_type.as_str())
        .insert_header((header::ETAG, format!("\"{}\"", row.sha256)))
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(bytes))
}
