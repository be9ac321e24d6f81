//! The one error type of firegrid. Every failure a request can meet ends here and leaves as an
//! RFC 9457 `application/problem+json` body with a stable `code` that clients may branch on.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The stable machine-readable error codes (SPEC §9). Never rename one: phones in the field
/// branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationFailed,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    InvalidTransition,
    VersionConflict,
    RateLimited,
    /// The client sent its request body too slowly; the connection is closed.
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    IdempotencyKeyReused,
    /// A tus request without `Tus-Resumable: 1.0.0` (412).
    UnsupportedTusVersion,
    /// A tus PATCH body whose `Upload-Checksum` does not match (460); nothing of it was kept.
    ChecksumMismatch,
    /// The database (or another dependency) cannot be reached right now; retry later.
    Unavailable,
    /// The disk under the database or the photos is full, over quota or read-only; retry later.
    StorageUnavailable,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict | ErrorCode::InvalidTransition | ErrorCode::VersionConflict => {
                StatusCode::CONFLICT
            }
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::UnsupportedTusVersion => StatusCode::PRECONDITION_FAILED,
            // tus checksum extension: 460 Checksum Mismatch.
            ErrorCode::ChecksumMismatch => {
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ErrorCode::Unavailable | ErrorCode::StorageUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::VersionConflict => "version_conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::UnsupportedTusVersion => "unsupported_tus_version",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    fn title(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "The request is not valid",
            ErrorCode::Unauthenticated => "Authentication is required",
            ErrorCode::Forbidden => "This role may not do that",
            ErrorCode::NotFound => "Not found",
            ErrorCode::MethodNotAllowed => "Method not allowed",
            ErrorCode::Conflict => "Conflict with the current state",
            ErrorCode::InvalidTransition => "Action not allowed in the current state",
            ErrorCode::VersionConflict => "The resource was changed by someone else",
            ErrorCode::RateLimited => "Too many requests",
            ErrorCode::RequestTimeout => "The request body arrived too slowly",
            ErrorCode::PayloadTooLarge => "Payload too large",
            ErrorCode::UnsupportedMediaType => "Unsupported media type",
            ErrorCode::IdempotencyKeyReused => "Idempotency key reused with another request",
            ErrorCode::UnsupportedTusVersion => "Unsupported tus protocol version",
            ErrorCode::ChecksumMismatch => "Checksum mismatch",
            ErrorCode::Unavailable => "Service temporarily unavailable",
            ErrorCode::StorageUnavailable => "Storage full or read-only",
            ErrorCode::Internal => "Internal error",
        }
    }
}

/// One field-level validation message.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The problem+json body (RFC 9457) every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// A failure of a request. `detail` is what the client reads (replaced by a fixed sentence for
/// `internal`); `source` is the underlying error, kept for the log and never sent.
#[derive(Debug, thiserror::Error)]
#[error("{}: {detail}", code.as_str())]
pub struct AppError {
    pub code: ErrorCode,
    /// Usually `code.status()`; differs only where one code spans two statuses (a body that
    /// cannot be parsed at all is a 400 `validation_failed`, a parsed but invalid one a 422).
    pub status: StatusCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after_secs: Option<u64>,
    #[source]
    pub source: Option<BoxError>,
}

/// An underlying error of any kind, as kept in a chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub type AppResult<T> = Result<T, AppError>;

/// The `Retry-After` of a 503: about one pool timeout, by when the database may be back.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

impl AppError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        AppError {
            code,
            status: code.status(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
            source: None,
        }
    }
    /// The same error, remembering what caused it (for the log; clients never see it).
    pub fn caused_by(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "no such resource")
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, detail)
    }
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, detail)
    }
    /// A 422 with one field error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::fields(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
    /// A 422 with several field errors.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        AppError {
            errors,
            ..Self::new(ErrorCode::ValidationFailed, detail)
        }
    }
    /// A 400: the request could not even be parsed (malformed JSON, bad query string).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        AppError {
            status: StatusCode::BAD_REQUEST,
            ..Self::new(ErrorCode::ValidationFailed, detail)
        }
    }
    /// A 503: a dependency (the database) is unreachable or too slow; worth retrying soon.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        AppError {
            retry_after_secs: Some(UNAVAILABLE_RETRY_SECS),
            ..Self::new(ErrorCode::Unavailable, detail)
        }
    }
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        AppError {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(ErrorCode::RateLimited, "too many attempts; retry later")
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:firegrid:problem:{}", self.code.as_str()),
            title: self.code.title().to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            errors: self.errors.clone(),
        }
    }
}

/// Why a command-line operation (`firegrid migrate`, `user`, `import`, `serve`'s start-up …)
/// failed: one sentence for the operator, with the underlying error kept as its source, so that
/// the log and stderr show the whole chain (`chain`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub message: String,
    #[source]
    pub source: Option<BoxError>,
}

impl CommandError {
    /// A refusal with no underlying cause (a bad flag, a weak password, a broken chain).
    pub fn new(message: impl Into<String>) -> Self {
        CommandError {
            message: message.into(),
            source: None,
        }
    }

    /// `message` failed because of `source`.
    pub fn caused_by(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        CommandError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl From<AppError> for CommandError {
    /// The client-facing detail is the sentence; the request error's own cause stays the source.
    fn from(e: AppError) -> Self {
        CommandError {
            message: e.detail,
            source: e.source,
        }
    }
}

impl From<diesel::result::Error> for CommandError {
    /// For diesel's `transaction`, whose error type must take its own errors (BEGIN, COMMIT).
    fn from(e: diesel::result::Error) -> Self {
        CommandError::caused_by("a database statement failed", e)
    }
}

impl From<String> for CommandError {
    fn from(message: String) -> Self {
        CommandError::new(message)
    }
}

/// An error with its causes, outermost first: `a: b: c`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.code == ErrorCode::Internal {
            tracing::error!(error = %chain(self), "internal error");
        }
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if self.code == ErrorCode::Unauthenticated {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if self.code == ErrorCode::RequestTimeout {
            // The rest of a slow body is not worth waiting for: free the connection.
            resp.force_close();
        }
        if let Some(secs) = self.retry_after_secs {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        let mut problem = self.problem();
        if self.code == ErrorCode::Internal {
            // Never leak internals to the client; the log has the detail.
            problem.detail = "an internal error occurred; it has been logged".into();
        }
        resp.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        let mapped = match &e {
            E::NotFound => AppError::not_found(),
            E::DatabaseError(K::UniqueViolation, info) => {
                AppError::conflict(format!("already exists ({})", info.message()))
            }
            E::DatabaseError(K::ForeignKeyViolation, _) => AppError::conflict(
                "the resource is still referenced, or refers to one that does not exist",
            ),
            E::DatabaseError(K::SerializationFailure, _) => {
                AppError::new(ErrorCode::Conflict, "concurrent update; retry")
            }
            E::DatabaseError(K::ClosedConnection, _) => {
                AppError::unavailable("database connection lost")
            }
            E::DatabaseError(_, info) if crate::storage::is_storage_message(info.message()) => {
                crate::storage::unavailable(info.message().to_string())
            }
            // SQLite's busy timeout ran out: another writer (a backup, a second server on the
            // same file) held the lock for longer than a request may wait.
            E::DatabaseError(_, info) if info.message().contains("database is locked") => {
                AppError::unavailable("the database is busy; retry shortly")
            }
            _ => AppError::internal("database error"),
        };
        mapped.caused_by(e)
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(error = %e, "database pool could not hand out a connection");
        AppError::unavailable("the database is unreachable right now").caused_by(e)
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::internal("a blocking task failed").caused_by(e)
    }
}

impl From<serde_json::Error> for AppError {
    /// Only for JSON the server itself writes or stored (request bodies have their own 400/422
    /// in `http::json`): a failure there is a bug, so a 500.
    fn from(e: serde_json::Error) -> Self {
        AppError::internal("JSON (de)serialisation failed").caused_by(e)
    }
}

/// The errors any authenticated endpoint may answer, for the OpenAPI description.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum StdErrors {
    /// Malformed JSON or query string.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Missing, invalid or revoked token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthenticated(Problem),
    /// Your roles never allow this.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such resource in your scope.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// Conflict with the current state (duplicate, still referenced, state machine).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// Body too large.
    #[response(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Problem),
    /// Body is not application/json.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Well-formed but invalid: `errors` names each field.
    #[response(status = 422, content_type = "application/problem+json")]
    ValidationFailed(Problem),
    /// The database is unreachable, or its disk is full (`storage_unavailable`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The errors an endpoint without an account may answer (the public), for the OpenAPI
/// description.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum PublicErrors {
    /// Malformed JSON or query string.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Unknown, or not yours (a wrong secret answers the same).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// Body too large.
    #[response(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Problem),
    /// Body is not application/json.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Well-formed but invalid: `errors` names each field.
    #[response(status = 422, content_type = "application/problem+json")]
    ValidationFailed(Problem),
    /// Too many reports from this address or phone; `Retry-After` says when to try again.
    #[response(status = 429, content_type = "application/problem+json")]
    RateLimited(Problem),
    /// The database is unreachable, or its disk is full (`storage_unavailable`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_failure_keeps_its_cause_for_the_log_and_not_for_the_client() {
        let e = AppError::from(diesel::result::Error::QueryBuilderError(
            "the cause 原因".into(),
        ));
        assert_eq!(e.code, ErrorCode::Internal);
        assert!(!e.detail.contains("原因"), "{}", e.detail);
        assert!(chain(&e).contains("the cause 原因"), "{}", chain(&e));

        let body = actix_web::rt::System::new()
            .block_on(actix_web::body::to_bytes(e.error_response().into_body()))
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("\"code\":\"internal\""), "{body}");
        assert!(!body.contains("原因"), "{body}");

        // A command keeps the request error's cause as its own.
        let c = CommandError::from(e);
        assert!(chain(&c).ends_with("the cause 原因"), "{}", chain(&c));
    }

    #[test]
    fn a_refusal_keeps_its_detail_and_has_no_cause() {
        let e = AppError::conflict("region code 630122 is already used");
        assert!(std::error::Error::source(&e).is_none());
        assert_eq!(
            e.to_string(),
            "conflict: region code 630122 is already used"
        );
    }
}
