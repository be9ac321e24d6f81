//! Headers every answer carries, whatever produced it (a handler, an error, the 404 of an
//! unknown path, the metrics endpoint): `X-Content-Type-Options: nosniff`, so no browser reads a
//! JSON body or a photo as script, and under `/api/` a default `Cache-Control: no-store`, so that
//! tokens (login, refresh) and personal data never land in a shared or on-disk cache. A handler
//! that knows better (a photo, `private`) sets its own `Cache-Control`, which is kept.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let api = req.path().starts_with("/api/");
    // Handlers' errors arrive here as responses already (`ErrorHandlers` turns each into
    // problem+json further in); the request must not be cloned before routing, which needs it
    // unshared.
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}
