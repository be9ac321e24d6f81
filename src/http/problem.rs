//! Turns every error response that did not come from `AppError` (actix's own 404, 405, 413,
//! extractor failures of other crates…) into problem+json, and answers unknown routes with 404
//! and known paths with the wrong method with 405.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::error::{AppError, ErrorCode, PROBLEM_JSON};

fn code_for(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        429 => ErrorCode::RateLimited,
        503 => ErrorCode::Unavailable,
        s if s >= 500 => ErrorCode::Internal,
        _ => ErrorCode::ValidationFailed,
    }
}

/// `ErrorHandlers` default handler: leaves problem+json alone, rewrites anything else.
pub fn problemize<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if crate::open311::http::is_open311(res.request()) {
        // GeoReport's clients read its own error format; its handlers already write it, and
        // what reaches here (an unknown route, a wrong method) is rewritten into it.
        let geo = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if geo {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let (req, old) = res.into_parts();
        let mut new = crate::open311::http::respond(
            status,
            status.canonical_reason().unwrap_or("error"),
            None,
        );
        for name in [header::ALLOW, header::RETRY_AFTER] {
            if let Some(v) = old.headers().get(&name) {
                new.headers_mut().insert(name.clone(), v.clone());
            }
        }
        let res: ServiceResponse<EitherBody<B>> =
            ServiceResponse::new(req, new).map_into_right_body();
        return Ok(ErrorHandlerResponse::Response(res));
    }
    let already = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if already {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let mut err = AppError::new(
        code_for(status),
        status.canonical_reason().unwrap_or("error"),
    );
    err.status = status;
    let (req, old) = res.into_parts();
    let mut new = err.error_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = old.headers().get(&name) {
            new.headers_mut().insert(name.clone(), v.clone());
        }
    }
    let res: ServiceResponse<EitherBody<B>> = ServiceResponse::new(req, new).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// The documented paths and their methods, read from the OpenAPI description, so that a request
/// to a known path with another method gets 405 with `Allow` rather than 404.
pub struct RouteTable {
    routes: Vec<(ResourceDef, Vec<Method>)>,
}

impl RouteTable {
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut methods = Vec::new();
                let ops = [
                    (Method::GET, item.get.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                ];
                for (m, present) in ops {
                    if present {
                        methods.push(m);
                    }
                }
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        RouteTable { routes }
    }

    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let path = req.path();
        let allowed: Vec<&Method> = self
            .routes
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, methods)| methods.iter())
            .collect();
        if allowed.is_empty() || allowed.contains(&req.method()) {
            return render(
                req,
                AppError::new(ErrorCode::NotFound, format!("no route for {path}")),
            );
        }
        let allow = allowed
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut resp = render(
            req,
            AppError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed here; allowed: {allow}", req.method()),
            ),
        );
        if let Ok(v) = header::HeaderValue::from_str(&allow) {
            resp.headers_mut().insert(header::ALLOW, v);
        }
        resp
    }
}

/// An error in the format of where it happened: GeoReport's under `/open311`, else problem+json.
fn render(req: &HttpRequest, err: AppError) -> HttpResponse {
    if crate::open311::http::is_open311(req) {
        crate::open311::http::GeoError(err).error_response()
    } else {
        err.error_response()
    }
}
