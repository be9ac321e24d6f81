//! The JSON body extractor every endpoint uses. Unlike `web::Json` it reports which field is
//! wrong (`errors: [{field, message}]`), separates unparseable JSON (400) from JSON of the
//! wrong shape (422), and answers wrong content types (415) and oversize bodies (413) with the
//! same problem+json as every other error.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult, ErrorCode};
use crate::AppState;

const DEFAULT_LIMIT: usize = 1024 * 1024;
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Awaits `read` (the reading of a request body) for at most the configured body timeout: a
/// client trickling its body (one byte a second) would otherwise hold a connection and a buffer
/// for as long as it likes. Past the deadline the answer is 408 and the connection is closed.
pub async fn read_within<T>(
    req: &HttpRequest,
    read: impl std::future::Future<Output = AppResult<T>>,
) -> AppResult<T> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.body_timeout)
        .unwrap_or(DEFAULT_BODY_TIMEOUT);
    tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
        Err(AppError::new(
            ErrorCode::RequestTimeout,
            format!("the body did not arrive within {} s", limit.as_secs()),
        ))
    })
}

pub fn too_large(limit: usize) -> AppError {
    AppError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body exceeds the limit of {limit} bytes"),
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.json_limit)
            .unwrap_or(DEFAULT_LIMIT);
        let json = is_json(req);
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        let req = req.clone();
        Box::pin(async move {
            if !json {
                return Err(AppError::new(
                    ErrorCode::UnsupportedMediaType,
                    "the body must be application/json",
                ));
            }
            if declared_len.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let body = read_within(&req, read_limited(&mut payload, limit)).await?;
            parse(&body).map(JsonBody)
        })
    }
}

/// Deserialises `bytes`, naming the offending field when the JSON is well-formed but wrong.
/// Reads a whole body of at most `limit` bytes (else 413, keeping none of it).
pub async fn read_limited(
    payload: &mut (impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>>
              + Unpin),
    limit: usize,
) -> AppResult<web::BytesMut> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::bad_request(format!("cannot read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Text holding NUL or another C0 control is refused first, whatever the type (see `controls`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    super::controls::check_json(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data => data_error(&path, &inner),
                _ => AppError::bad_request(format!("malformed JSON: {inner}")),
            });
        }
    };
    de.end()
        .map_err(|e| AppError::bad_request(format!("malformed JSON: {e}")))?;
    Ok(value)
}

fn data_error(path: &str, err: &serde_json::Error) -> AppError {
    let full = err.to_string();
    // serde_json appends " at line L column C", which means nothing to a phone user.
    let message = full.split(" at line ").next().unwrap_or(&full).to_string();
    let mut field = if path == "." {
        String::new()
    } else {
        path.to_string()
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        field = if field.is_empty() {
            name.to_string()
        } else {
            format!("{field}.{name}")
        };
    } else if let Some(rest) = message.strip_prefix("unknown field `") {
        // The path already ends at the unknown field, except at the top level.
        if field.is_empty() {
            field = rest.split('`').next().unwrap_or_default().to_string();
        }
    }
    if field.is_empty() {
        field = "body".to_string();
    }
    AppError::field(field, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: i64,
        level: Level,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Level {
        Township,
    }

    #[test]
    fn malformed_json_is_400() {
        let err = parse::<Sample>(b"{\"name\": ").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        let err =
            parse::<Sample>(b"{\"name\":\"a\",\"count\":1,\"level\":\"township\"} x").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err =
            parse::<Sample>(br#"{"name":"a","count":"many","level":"township"}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.errors[0].field, "count");
    }

    #[test]
    fn unknown_enum_and_missing_and_unknown_fields() {
        let err = parse::<Sample>(br#"{"name":"a","count":1,"level":"city"}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "level");
        let err = parse::<Sample>(br#"{"name":"a","level":"township"}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "count");
        let err =
            parse::<Sample>(br#"{"name":"a","count":1,"level":"township","x":1}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "x");
    }
}
