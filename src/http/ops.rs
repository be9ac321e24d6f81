//! Operations endpoints: liveness, readiness, the OpenAPI document. `/metrics` is served by the
//! Prometheus middleware and only documented here.

use actix_web::{get, web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppResult;
use crate::{db, storage, AppState};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the check passed.
    pub status: String,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers and its storage takes writes. 503 (problem+json) while it
/// does not: `unavailable` for the database, `storage_unavailable` (with the reason) for a disk
/// that was found full or read-only within the last minute.
#[utoipa::path(tag = "operations", responses(
    (status = 200, body = Health),
    (status = 503, description = "the database is unreachable or its disk is full", body = crate::error::Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> AppResult<web::Json<Health>> {
    db::run(&state.pool, |conn| Ok(conn.batch_execute("SELECT 1")?)).await?;
    if let Some(reason) = state.pool.storage().problem() {
        return Err(storage::unavailable(format!("writes fail: {reason}")));
    }
    Ok(web::Json(Health {
        status: "ok".into(),
    }))
}

/// Prometheus metrics in the text exposition format: request counts and latency histograms
/// per route pattern, method and status.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
))]
#[allow(dead_code)]
pub fn metrics_doc() {}

/// This OpenAPI 3.1 description, as JSON.
#[utoipa::path(get, path = "/api-spec/openapi.json", tag = "operations", responses(
    (status = 200, description = "the OpenAPI document", content_type = "application/json", body = Object),
))]
#[allow(dead_code)]
pub fn openapi_doc() {}

pub fn serve_spec(spec: std::sync::Arc<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(spec.as_str().to_owned())
}
