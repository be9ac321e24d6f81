//! `OPTIONS/POST /api/v1/uploads`, `HEAD/PATCH /api/v1/uploads/{id}`: tus 1.0.0.
//!
//! Staff send their bearer token and name the case (`hazard_id` in Upload-Metadata); a
//! reporter sends no token, names the report (`tracking_code`) and sends its secret in
//! `X-Report-Secret` with every request. Every answer, errors included, carries
//! `Tus-Resumable`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{head, options, patch, post, web, FromRequest, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::attachments::ingest::{self, MAX_BYTES};
use crate::auth::principal::Caller;
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::public::routes::SECRET_HEADER;
use crate::uploads::store::{self, Claim, Owner, Target, UploadRow};
use crate::uploads::{files, tus};
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(discover)
        .service(create_upload)
        .service(upload_status)
        .service(append_upload);
}

/// Bytes kept in memory before they are written and counted: what a dropped link can lose.
const FLUSH_BYTES: usize = 256 * 1024;
/// ... or this long after the last write, whichever comes first (a slow link).
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long a request waits for a PATCH in flight on the same upload (its link may just have
/// dropped: it then counts what it received and lets go) before it takes over.
const WAIT_FOR_WRITER: Duration = Duration::from_secs(5);
/// Bytes enough to tell a JPEG, PNG or WebP (`attachments::image::detect`).
const SNIFF: usize = 12;
const POLL: Duration = Duration::from_millis(50);
/// The slowest link served: a PATCH may take the body timeout plus its bytes at this rate.
const MIN_RATE_BYTES_PER_SEC: u64 = 2 * 1024;

/// The staff caller or the reporter, as the request names them.
#[derive(Clone)]
enum Who {
    Staff(Caller),
    Reporter(String),
}

impl Who {
    /// A bearer token makes it staff (401 if the token is bad); else `X-Report-Secret` a
    /// reporter; else 401.
    async fn of(req: &HttpRequest) -> AppResult<Who> {
        if req.headers().contains_key(header::AUTHORIZATION) {
            return Caller::extract(req).await.map(Who::Staff);
        }
        match req
            .headers()
            .get(SECRET_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            Some(s) => Ok(Who::Reporter(s.to_string())),
            None => Err(AppError::unauthenticated(
                "send a bearer token, or a report's secret in X-Report-Secret",
            )),
        }
    }

    async fn run<T, F>(self, pool: &db::Pool, tx: bool, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, &Owner) -> AppResult<T> + Send + 'static,
    {
        match (self, tx) {
            (Who::Staff(c), true) => {
                c.run_tx(pool, move |conn, p| f(conn, &Owner::Staff(p)))
                    .await
            }
            (Who::Staff(c), false) => c.run(pool, move |conn, p| f(conn, &Owner::Staff(p))).await,
            (Who::Reporter(s), true) => {
                db::run_tx(pool, move |conn| f(conn, &Owner::Reporter(s))).await
            }
            (Who::Reporter(s), false) => {
                db::run(pool, move |conn| f(conn, &Owner::Reporter(s))).await
            }
        }
    }
}

/// Every tus answer, errors included, names the protocol version; a 412 also the versions
/// spoken.
fn tus_reply(result: AppResult<HttpResponse>) -> HttpResponse {
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let mut r = actix_web::ResponseError::error_response(&e);
            if e.code == ErrorCode::UnsupportedTusVersion {
                r.headers_mut().insert(
                    header::HeaderName::from_static("tus-version"),
                    HeaderValue::from_static(tus::VERSION),
                );
            }
            r
        }
    };
    resp.headers_mut().insert(
        header::HeaderName::from_static(tus::TUS_RESUMABLE),
        HeaderValue::from_static(tus::VERSION),
    );
    resp
}

/// A PATCH body as the OpenAPI document states it: raw bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct UploadChunk(Vec<u8>);

/// tus headers of a response as the OpenAPI document states them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct TusHeader {
    /// The protocol version: always `1.0.0` (412 otherwise).
    #[param(rename = "Tus-Resumable", pattern = "^1\\.0\\.0$")]
    pub tus_resumable: String,
}

/// The request headers of a creation.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct CreateHeaders {
    /// The photo's size in bytes: 1 to 10 MiB (413 beyond).
    #[param(rename = "Upload-Length", minimum = 1, maximum = 10485760)]
    pub upload_length: i64,
    /// Comma-separated `key base64(value)` pairs. Staff name the case with `hazard_id`, a
    /// reporter the report with `tracking_code`; other keys (`filename`, `filetype`) are kept
    /// and echoed.
    #[param(
        rename = "Upload-Metadata",
        pattern = "^[!-+\\--~]+( [A-Za-z0-9+/]*=*)?(,[!-+\\--~]+( [A-Za-z0-9+/]*=*)?)*$"
    )]
    pub upload_metadata: String,
    /// A reporter's secret (no bearer token then).
    #[param(
        rename = "X-Report-Secret",
        pattern = "^[0-9A-Za-z -]{16,32}$",
        required = false
    )]
    pub x_report_secret: String,
}

/// The request headers of a status request.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct OwnerHeaders {
    /// A reporter's secret (no bearer token then).
    #[param(
        rename = "X-Report-Secret",
        pattern = "^[0-9A-Za-z -]{16,32}$",
        required = false
    )]
    pub x_report_secret: String,
}

/// The request headers of a PATCH.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct PatchHeaders {
    /// Where these bytes go: the upload's current offset (409 otherwise).
    #[param(rename = "Upload-Offset", minimum = 0, maximum = 10485760)]
    pub upload_offset: i64,
    /// `sha256 <base64 digest>` (or `sha1 …`) of this request's body: a mismatch is 460 and
    /// keeps none of it.
    #[param(
        rename = "Upload-Checksum",
        pattern = "^(sha1 [A-Za-z0-9+/]{26}[AEIMQUYcgkosw048]=|sha256 [A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)$",
        required = false
    )]
    pub upload_checksum: String,
    /// A reporter's secret (no bearer token then).
    #[param(
        rename = "X-Report-Secret",
        pattern = "^[0-9A-Za-z -]{16,32}$",
        required = false
    )]
    pub x_report_secret: String,
}

/// What this server speaks of tus: version 1.0.0 with creation, expiration and checksum (sha1,
/// sha256), photos up to 10 MiB. No account needed.
#[utoipa::path(tag = "uploads", responses((status = 204, description = "the tus capabilities",
    headers(("Tus-Resumable" = String), ("Tus-Version" = String), ("Tus-Extension" = String),
        ("Tus-Max-Size" = i64), ("Tus-Checksum-Algorithm" = String)))))]
#[options("/uploads")]
pub async fn discover() -> HttpResponse {
    tus_reply(Ok(HttpResponse::NoContent()
        .insert_header(("Tus-Version", tus::VERSION))
        .insert_header(("Tus-Extension", tus::EXTENSIONS))
        .insert_header(("Tus-Max-Size", MAX_BYTES.to_string()))
        .insert_header(("Tus-Checksum-Algorithm", tus::CHECKSUM_ALGORITHMS))
        .finish()))
}

/// Start a resumable photo upload (tus creation). Staff: bearer token and `hazard_id` of a case
/// in scope (404 otherwise) where they work cases (403). A reporter: no token,
/// `tracking_code` and `X-Report-Secret` of their report (404 for a wrong pair). Answers the
/// upload's URL in `Location`; incomplete uploads are removed after 24 hours
/// (`Upload-Expires`). The photo is attached to the case once its last byte arrived, checked
/// like any photo.
#[utoipa::path(tag = "uploads", security((), ("bearer" = [])), params(TusHeader, CreateHeaders),
    responses(
        (status = 201, description = "created", headers(("Location" = String), ("Upload-Expires" = String), ("Tus-Resumable" = String))),
        (status = 400, description = "a tus header is missing or malformed", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "neither a valid bearer token nor a report's secret", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "your roles do not add photos to cases", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case in your scope, or a wrong tracking code or secret", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Tus-Resumable is not 1.0.0", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Upload-Length beyond 10 MiB", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "the metadata names no case or report", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "the database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
#[post("/uploads")]
pub async fn create_upload(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    tus_reply(create(&state, &req).await)
}

/// The upload's metadata key naming its target.
fn target_of(pairs: &[(String, String)]) -> AppResult<Target> {
    let value = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim())
    };
    match (value("hazard_id"), value("tracking_code")) {
        (Some(id), None) => id
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Target::Case)
            .ok_or_else(|| AppError::field("hazard_id", "must be a case id")),
        (None, Some(code)) => Ok(Target::Report(code.to_string())),
        _ => Err(AppError::field(
            "hazard_id",
            "name the case (hazard_id) or the public report (tracking_code) in Upload-Metadata, one of them",
        )),
    }
}

async fn create(state: &AppState, req: &HttpRequest) -> AppResult<HttpResponse> {
    let h = req.headers();
    tus::check_version(h)?;
    if h.contains_key("upload-defer-length") {
        return Err(AppError::bad_request(
            "Upload-Defer-Length is not supported: send Upload-Length",
        ));
    }
    let length = tus::number(h, tus::UPLOAD_LENGTH)?;
    if length > MAX_BYTES as i64 {
        return Err(ingest::too_large());
    }
    if length == 0 {
        return Err(AppError::bad_request("Upload-Length: a photo has bytes"));
    }
    let (raw, pairs) = tus::metadata(h)?;
    let target = target_of(&pairs)?;
    let who = Who::of(req).await?;
    let row = who
        .run(&state.pool, true, move |conn, owner| {
            store::create(conn, owner, &target, length, &raw, db::now())
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/uploads/{}", row.id)))
        .insert_header((tus::UPLOAD_EXPIRES, tus::http_date(row.expires_at)))
        .finish())
}

/// Offsets and dates of an upload, as HEAD and PATCH answer them.
fn upload_headers(resp: &mut actix_web::HttpResponseBuilder, row: &UploadRow) {
    resp.insert_header((tus::UPLOAD_OFFSET, row.upload_offset.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if row.completed_at.is_none() {
        resp.insert_header((tus::UPLOAD_EXPIRES, tus::http_date(row.expires_at)));
    }
    if let Some(a) = row.attachment_id {
        resp.insert_header(("Upload-Attachment", format!("/api/v1/attachments/{a}")));
    }
}

/// Where an upload stands (tus HEAD): `Upload-Offset` is how many bytes arrived and are kept;
/// resume from there. A PATCH cut off a moment ago is waited for (a few seconds), so that the
/// offset counts what it received. Someone else's upload, an expired one, or one whose case
/// left your scope is 404.
#[utoipa::path(tag = "uploads", security((), ("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9a-f]{32}$"), TusHeader, OwnerHeaders),
    responses(
        (status = 200, description = "the upload's state", headers(("Upload-Offset" = i64), ("Upload-Length" = i64),
            ("Upload-Metadata" = String), ("Upload-Expires" = String, description = "while incomplete"),
            ("Upload-Attachment" = String, description = "once complete: the photo"), ("Tus-Resumable" = String))),
        (status = 401, description = "neither a valid bearer token nor a report's secret"),
        (status = 404, description = "no such upload of yours"),
        (status = 412, description = "Tus-Resumable is not 1.0.0"),
        (status = 503, description = "the database is unreachable"),
    ))]
#[head("/uploads/{id}")]
pub async fn upload_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    tus_reply(status(&state, &req, id.into_inner()).await)
}

async fn status(state: &AppState, req: &HttpRequest, id: String) -> AppResult<HttpResponse> {
    tus::check_version(req.headers())?;
    let who = Who::of(req).await?;
    let started = Instant::now();
    let row = loop {
        let id = id.clone();
        let row = who
            .clone()
            .run(&state.pool, false, move |conn, owner| {
                store::owned(conn, owner, &id, db::now())
            })
            .await?;
        if !row.busy(db::now()) || started.elapsed() >= WAIT_FOR_WRITER {
            break row;
        }
        tokio::time::sleep(POLL).await;
    };
    let mut resp = HttpResponse::Ok();
    upload_headers(&mut resp, &row);
    resp.insert_header((tus::UPLOAD_LENGTH, row.length.to_string()));
    if !row.metadata.is_empty() {
        resp.insert_header((tus::UPLOAD_METADATA, row.metadata.clone()));
    }
    Ok(resp.finish())
}

/// Send bytes (tus PATCH, body `application/offset+octet-stream`) from `Upload-Offset`, which
/// must be the upload's offset (409 otherwise). Bytes are kept as they arrive: when the link
/// drops mid-body, what arrived counts, and a HEAD tells where to resume. With
/// `Upload-Checksum` the body counts only whole and matching (460 otherwise). The request that
/// brings the last byte attaches the photo to its case, checked like any photo (415 for what is
/// not a JPEG, PNG or WebP: the upload is then gone); the answer names it in
/// `Upload-Attachment`.
#[utoipa::path(tag = "uploads", security((), ("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9a-f]{32}$"), TusHeader, PatchHeaders),
    request_body(content_type = "application/offset+octet-stream", content = UploadChunk,
        description = "the photo's next bytes"),
    responses(
        (status = 204, description = "the bytes are kept", headers(("Upload-Offset" = i64), ("Upload-Expires" = String),
            ("Upload-Attachment" = String, description = "once complete: the photo"), ("Tus-Resumable" = String))),
        (status = 400, description = "a tus header is missing or malformed", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "neither a valid bearer token nor a report's secret", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "your roles no longer add photos to this case", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such upload of yours", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 408, description = "the body stalled; what arrived is kept", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Upload-Offset is not the upload's offset, or another request took the upload over", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Tus-Resumable is not 1.0.0", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "the body runs past Upload-Length", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "not application/offset+octet-stream, or the photo is no JPEG, PNG or WebP", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 460, description = "Upload-Checksum does not match the body", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "the database is unreachable, or the disk is full", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/uploads/{id}")]
pub async fn append_upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let id = id.into_inner();
    // The body is read in a task of its own: should this request's future be dropped with its
    // connection, what arrived is still counted and the lease given back.
    let task = actix_web::rt::spawn(async move { append(&state, &req, id, payload).await });
    tus_reply(
        task.await
            .unwrap_or_else(|e| Err(AppError::internal("the upload task failed").caused_by(e))),
    )
}

async fn append(
    state: &AppState,
    req: &HttpRequest,
    id: String,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let h = req.headers();
    tus::check_version(h)?;
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.trim().eq_ignore_ascii_case(tus::OFFSET_OCTET_STREAM) {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            format!("send the bytes as {}", tus::OFFSET_OCTET_STREAM),
        ));
    }
    let offset = tus::number(h, tus::UPLOAD_OFFSET)?;
    let checksum = tus::checksum(h)?;
    let body_len = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let who = Who::of(req).await?;
    let started = Instant::now();
    let (row, token, stale) = loop {
        let (i, w) = (id.clone(), who.clone());
        let take_over = started.elapsed() >= WAIT_FOR_WRITER;
        let claim = w
            .run(&state.pool, true, move |conn, owner| {
                store::claim(conn, owner, &i, offset, body_len, take_over, db::now())
            })
            .await?;
        match claim {
            Claim::Busy => tokio::time::sleep(POLL).await,
            Claim::Complete(row) => {
                let mut resp = HttpResponse::NoContent();
                upload_headers(&mut resp, &row);
                return Ok(resp.finish());
            }
            Claim::Claimed { row, token, stale } => break (row, token, stale),
        }
    };
    if !stale.is_empty() {
        let (dir, i) = (state.settings.data_dir.clone(), id.clone());
        web::block(move || stale.iter().for_each(|f| files::remove_file(&dir, &i, f))).await?;
    }
    let mut w = Writer {
        state: state.clone(),
        who,
        id,
        token,
        length: row.length,
        committed: offset,
        buf: Vec::new(),
    };
    let result = w.receive(payload, checksum).await;
    match result {
        Ok(Some(attachment)) => {
            let mut resp = HttpResponse::NoContent();
            resp.insert_header((tus::UPLOAD_OFFSET, w.length.to_string()))
                .insert_header((
                    "Upload-Attachment",
                    format!("/api/v1/attachments/{attachment}"),
                ));
            Ok(resp.finish())
        }
        Ok(None) => {
            let mut resp = HttpResponse::NoContent();
            resp.insert_header((tus::UPLOAD_OFFSET, w.committed.to_string()))
                .insert_header((tus::UPLOAD_EXPIRES, tus::http_date(row.expires_at)));
            Ok(resp.finish())
        }
        Err(e) => Err(e),
    }
}

/// One PATCH writing its bytes.
struct Writer {
    state: AppState,
    who: Who,
    id: String,
    token: String,
    length: i64,
    /// The upload's offset as committed by this writer so far.
    committed: i64,
    /// Received, not yet written and counted.
    buf: Vec<u8>,
}

/// How reading the body ended.
enum End {
    Complete,
    /// The link dropped or stalled: what arrived counts (without a checksum).
    Cut(AppError),
    /// Bytes past Upload-Length.
    TooLong,
    NotAPhoto,
}

fn superseded() -> AppError {
    AppError::conflict("another request took this upload over; ask for its offset (HEAD)")
}

impl Writer {
    /// Reads the body, counting it as it goes; `Some(attachment id)` when it completed the
    /// upload.
    async fn receive(
        &mut self,
        mut payload: web::Payload,
        checksum: Option<tus::Checksum>,
    ) -> AppResult<Option<i64>> {
        let start = self.committed;
        let room = (self.length - start) as usize;
        let idle = self.state.settings.body_timeout;
        let deadline =
            Instant::now() + idle + Duration::from_secs(room as u64 / MIN_RATE_BYTES_PER_SEC);
        let mut hasher = checksum.as_ref().map(|c| tus::Hasher::new(c.algorithm));
        let mut received = 0usize;
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF);
        let mut last_flush = Instant::now();
        let mut last_data = Instant::now();
        let end = loop {
            // Wake at least every FLUSH_EVERY: bytes that arrived just before the link went
            // silent are counted within a second, not when the stall is finally noticed.
            let now = Instant::now();
            let stall_at = (last_data + idle).min(deadline);
            if now >= stall_at {
                break End::Cut(AppError::new(
                    ErrorCode::RequestTimeout,
                    "the body stalled; the bytes that arrived are kept",
                ));
            }
            // Without a checksum, bytes count as they reach the disk; never the last one,
            // which completes the upload (`finish`).
            if hasher.is_none()
                && !self.buf.is_empty()
                && (self.buf.len() >= FLUSH_BYTES || last_flush.elapsed() >= FLUSH_EVERY)
                && self.committed + (self.buf.len() as i64) < self.length
            {
                self.flush(false).await?;
                last_flush = Instant::now();
            }
            let wait = FLUSH_EVERY.min(stall_at - now);
            let next = tokio::time::timeout(wait, payload.next()).await;
            match next {
                Err(_) => continue,
                Ok(None) => break End::Complete,
                Ok(Some(Err(e))) => {
                    break End::Cut(AppError::bad_request(format!("the body was cut off: {e}")))
                }
                Ok(Some(Ok(chunk))) => {
                    if received + chunk.len() > room {
                        break End::TooLong;
                    }
                    received += chunk.len();
                    if let Some(h) = hasher.as_mut() {
                        h.update(&chunk);
                    }
                    self.buf.extend_from_slice(&chunk);
                    last_data = Instant::now();
                    // A photo's first bytes say what it is: no need to carry 10 MiB of
                    // something else over a weak link.
                    if start == 0 && head.len() < SNIFF {
                        let before = head.len();
                        head.extend(chunk.iter().take(SNIFF - before));
                        if head.len() == SNIFF && crate::attachments::image::detect(&head).is_none()
                        {
                            break End::NotAPhoto;
                        }
                    }
                }
            }
        };
        match end {
            End::NotAPhoto => self.refuse(None).await,
            End::TooLong => {
                self.buf.clear();
                self.flush(true).await?;
                Err(AppError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the body runs past Upload-Length {}", self.length),
                ))
            }
            End::Cut(e) => {
                if hasher.is_some() {
                    // A checksum covers the whole body: a part of it cannot be vouched for.
                    self.buf.clear();
                }
                if self.committed + self.buf.len() as i64 == self.length {
                    return self.finish().await.map(Some);
                }
                self.flush(true).await?;
                Err(e)
            }
            End::Complete => {
                if let (Some(h), Some(c)) = (hasher, checksum) {
                    if h.finish() != c.expected {
                        self.buf.clear();
                        self.flush(true).await?;
                        return Err(AppError::new(
                            ErrorCode::ChecksumMismatch,
                            "Upload-Checksum does not match the body; none of it was kept",
                        ));
                    }
                }
                if self.committed + self.buf.len() as i64 == self.length {
                    return self.finish().await.map(Some);
                }
                self.flush(true).await?;
                Ok(None)
            }
        }
    }

    /// Writes the buffered bytes to this writer's file, durably, then counts them (and gives
    /// the lease back when `release`). A writer that was taken over stops here with 409.
    async fn flush(&mut self, release: bool) -> AppResult<()> {
        let bytes = std::mem::take(&mut self.buf);
        let n = bytes.len() as i64;
        if n > 0 {
            let (dir, id, file) = (
                self.state.settings.data_dir.clone(),
                self.id.clone(),
                self.token.clone(),
            );
            let written = web::block(move || files::append(&dir, &id, &file, &bytes)).await?;
            self.state.pool.storage().observe(&written);
            if let Err(e) = written {
                self.give_back().await;
                return Err(e);
            }
        } else if !release {
            return Ok(());
        }
        let (id, token, from) = (self.id.clone(), self.token.clone(), self.committed);
        let moved = db::run_tx(&self.state.pool, move |conn| {
            if n == 0 {
                store::release(conn, &id, &token)?;
                return Ok(true);
            }
            store::progress(conn, &id, &token, from, from + n, release, db::now())
        })
        .await?;
        if !moved {
            return Err(superseded());
        }
        self.committed += n;
        Ok(())
    }

    /// Lets go of the upload without counting anything more (best effort: a lease left behind
    /// goes stale in seconds).
    async fn give_back(&self) {
        let (id, token) = (self.id.clone(), self.token.clone());
        let _ = db::run_tx(&self.state.pool, move |conn| {
            store::release(conn, &id, &token)
        })
        .await;
    }

    /// The bytes are no photo: the upload is dropped with its files (415).
    async fn refuse(&mut self, why: Option<AppError>) -> AppResult<Option<i64>> {
        let (id, token) = (self.id.clone(), self.token.clone());
        let removed = db::run_tx(&self.state.pool, move |conn| {
            store::remove(conn, &id, &token)
        })
        .await?;
        if removed {
            let (dir, id) = (self.state.settings.data_dir.clone(), self.id.clone());
            web::block(move || files::remove_dir(&dir, &id)).await?;
        }
        Err(why.unwrap_or_else(|| {
            AppError::new(
                ErrorCode::UnsupportedMediaType,
                "the file is not a JPEG, PNG or WebP image; the upload is removed",
            )
        }))
    }

    /// The last bytes arrived: the photo is assembled from the writers' files, checked and
    /// stored exactly like a one-shot photo, and attached in the transaction that completes
    /// the upload. Returns the attachment's id.
    async fn finish(&mut self) -> AppResult<i64> {
        let bytes = std::mem::take(&mut self.buf);
        let (dir, id, file) = (
            self.state.settings.data_dir.clone(),
            self.id.clone(),
            self.token.clone(),
        );
        let length = self.length;
        let (i, this) = (id.clone(), file.clone());
        // This writer's file is the last one, and holds everything from its start to the end
        // once the buffered bytes are appended.
        let segments = db::run(&self.state.pool, move |conn| {
            store::segments(conn, &i, length)
        })
        .await?;
        if segments.last().is_none_or(|(f, _)| *f != this) {
            return Err(superseded());
        }
        let raw = web::block(move || -> AppResult<Vec<u8>> {
            files::append(&dir, &id, &file, &bytes)?;
            let mut raw = Vec::with_capacity(length as usize);
            for (f, n) in &segments {
                files::read_prefix(&dir, &id, f, *n as u64, &mut raw)?;
            }
            if raw.len() as i64 != length {
                return Err(AppError::internal(
                    "an upload's files do not add up to its length",
                ));
            }
            Ok(raw)
        })
        .await?;
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => {
                self.give_back().await;
                return Err(e);
            }
        };
        let format = match ingest::detect(&raw) {
            Ok(f) => f,
            Err(e) => return self.refuse(Some(e)).await.map(|_| 0),
        };
        let photo = match ingest::store(&self.state, format, raw).await {
            Ok(p) => p,
            Err(e) if e.code == ErrorCode::UnsupportedMediaType => {
                return self.refuse(Some(e)).await.map(|_| 0)
            }
            Err(e) => {
                self.give_back().await;
                return Err(e);
            }
        };
        let photo = Arc::new(photo);
        let (id, token, from, kept) = (
            self.id.clone(),
            self.token.clone(),
            self.committed,
            photo.clone(),
        );
        let done = self
            .who
            .clone()
            .run(&self.state.pool, true, move |conn, owner| {
                store::complete(conn, owner, &id, &token, from, &kept, db::now())
            })
            .await;
        let attachment = match done {
            Ok(Some(a)) => a,
            other => {
                if let Ok(photo) = Arc::try_unwrap(photo) {
                    ingest::discard(&self.state, photo).await;
                }
                return match other {
                    Ok(None) => Err(superseded()),
                    Err(e) => {
                        self.give_back().await;
                        Err(e)
                    }
                    Ok(Some(_)) => unreachable!("matched above"),
                };
            }
        };
        self.committed = self.length;
        let (dir, id) = (self.state.settings.data_dir.clone(), self.id.clone());
        web::block(move || files::remove_dir(&dir, &id)).await?;
        Ok(attachment.id)
    }
}
