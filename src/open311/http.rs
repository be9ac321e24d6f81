//! GeoReport v2's HTTP conventions: the format as a path suffix (`/services.json`), errors as
//! an array of `{code, description}` instead of problem+json, and request bodies either
//! form-encoded (as GeoReport clients send them) or JSON.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::uri::{PathAndQuery, Uri};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::error::{AppError, ErrorCode};
use crate::open311::model::{Open311Error, PREFIX};

/// The failure of a GeoReport request: any `AppError`, written in GeoReport's format.
#[derive(Debug)]
pub struct GeoError(pub AppError);

pub type GeoResult<T> = Result<T, GeoError>;

impl From<AppError> for GeoError {
    fn from(e: AppError) -> Self {
        GeoError(e)
    }
}

impl std::fmt::Display for GeoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for GeoError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let e = &self.0;
        if e.code == ErrorCode::Internal {
            tracing::error!(error = %crate::error::chain(e), "internal error");
        }
        let description = match e.code {
            // Never leak internals to the client; the log has the detail.
            ErrorCode::Internal => "an internal error occurred; it has been logged".to_string(),
            _ => e.detail.clone(),
        };
        respond(e.status, &description, e.retry_after_secs)
    }
}

/// A GeoReport error answer.
pub fn respond(status: StatusCode, description: &str, retry_after: Option<u64>) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    if let Some(secs) = retry_after {
        resp.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    resp.json([Open311Error {
        code: status.as_u16(),
        description: description.to_string(),
    }])
}

/// Whether a request is GeoReport's (its errors are then in GeoReport's format).
pub fn is_open311(req: &HttpRequest) -> bool {
    req.path() == PREFIX || req.path().starts_with(&format!("{PREFIX}/"))
}

/// Middleware: `/open311/v2/services.json` is `/open311/v2/services`, as GeoReport clients
/// name every resource with its format. Only JSON is served: `.xml` is a 400 saying so.
pub async fn format_suffix(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if req.path().starts_with(PREFIX) {
        if req.path().ends_with(".xml") {
            let resp = respond(
                StatusCode::BAD_REQUEST,
                "only the JSON format is served: use .json",
                None,
            );
            return Ok(req.into_response(resp).map_into_right_body());
        }
        if let Some(stem) = req.path().strip_suffix(".json") {
            let pq = match req.query_string() {
                "" => stem.to_string(),
                q => format!("{stem}?{q}"),
            };
            if let Ok(pq) = PathAndQuery::try_from(pq) {
                let mut parts = req.head().uri.clone().into_parts();
                parts.path_and_query = Some(pq);
                if let Ok(uri) = Uri::from_parts(parts) {
                    // What actix's NormalizePath does: the router reads the match info.
                    req.match_info_mut().get_mut().update(&uri);
                    req.head_mut().uri = uri;
                }
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The fields of a query string or form body, in order; 400 when it cannot be decoded.
pub fn pairs(encoded: &[u8], what: &str) -> Result<Vec<(String, String)>, AppError> {
    serde_urlencoded::from_bytes(encoded)
        .map_err(|e| AppError::bad_request(format!("invalid {what}: {e}")))
}

/// The value of one field given at most once (400 when repeated).
pub fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, AppError> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(AppError::bad_request(format!("{name} is given twice")));
    }
    Ok(first)
}
