//! Operations endpoints: liveness, readiness, the OpenAPI document. `/metrics` is served by the
//! Prometheus middleware and only documented here.

use actix_web::{get, web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppResult;
use crate::{db, jobs, storage, AppState};

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

/// What `/readyz` reports when the server is ready.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok`: the database answers and its storage takes writes.
    pub status: String,
    /// `ok` (otherwise the answer is 503).
    pub database: String,
    pub photos: PhotoSpace,
    pub sweep: SweepHealth,
}

/// The file system holding the photos (`<data dir>/attachments`).
#[derive(Serialize, ToSchema)]
pub struct PhotoSpace {
    /// Bytes an unprivileged writer can still use; `null` when the directory cannot be examined.
    pub free_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
}

/// The deadline sweep as recorded in the database by whichever server ran it.
#[derive(Serialize, ToSchema)]
pub struct SweepHealth {
    /// `ok`: succeeded within three intervals; `late`: not since then; `never`: no success yet.
    #[schema(pattern = "^(ok|late|never)$")]
    pub status: String,
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How long that run took.
    pub last_duration_ms: Option<i64>,
    pub last_failure_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    /// The configured interval between runs (`FIREGRID_SWEEP_INTERVAL_SECS`).
    pub interval_secs: u64,
}

/// Readiness: the database answers and its storage takes writes; the body reports the photo
/// directory's free space and the deadline sweep's last run (a late sweep is reported, not
/// failed: it is not this server's fault and taking every server out of rotation would not
/// help). 503 (problem+json) while not ready: `unavailable` for the database,
/// `storage_unavailable` (with the reason) for a disk that was found full or read-only within
/// the last minute.
#[utoipa::path(tag = "operations", responses(
    (status = 200, body = Readiness),
    (status = 503, description = "the database is unreachable or its disk is full", body = crate::error::Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> AppResult<web::Json<Readiness>> {
    let run = db::run(&state.pool, |conn| {
        conn.batch_execute("SELECT 1")?;
        jobs::last(conn, jobs::DEADLINE_SWEEP)
    })
    .await?;
    if let Some(reason) = state.pool.storage().problem() {
        return Err(storage::unavailable(format!("writes fail: {reason}")));
    }
    let dir = state.settings.data_dir.clone();
    let space = web::block(move || storage::space(&dir))
        .await
        .ok()
        .flatten();
    let interval = state.settings.sweep_interval;
    Ok(web::Json(Readiness {
        status: "ok".into(),
        database: "ok".into(),
        photos: PhotoSpace {
            free_bytes: space.map(|s| s.free),
            total_bytes: space.map(|s| s.total),
        },
        sweep: sweep_health(run, interval, db::now()),
    }))
}

fn sweep_health(
    run: Option<jobs::JobRun>,
    interval: std::time::Duration,
    now: chrono::NaiveDateTime,
) -> SweepHealth {
    let run = run.unwrap_or(jobs::JobRun {
        last_success_at: None,
        last_duration_ms: None,
        last_failure_at: None,
        last_error: None,
    });
    let late_after = chrono::Duration::from_std(interval * 3).unwrap_or(chrono::Duration::MAX);
    let status = match run.last_success_at {
        None => "never",
        Some(at) if now - at > late_after => "late",
        Some(_) => "ok",
    };
    SweepHealth {
        status: status.into(),
        last_success_at: run.last_success_at.map(|t| t.and_utc()),
        last_duration_ms: run.last_duration_ms,
        last_failure_at: run.last_failure_at.map(|t| t.and_utc()),
        last_error: run.last_error,
        interval_secs: interval.as_secs(),
    }
}

/// Prometheus metrics in the text exposition format: request counts and latency histograms
/// per route pattern, method and status; the deadline sweep (`firegrid_sweep_duration_seconds`,
/// `firegrid_sweep_runs_total`), the connection pool (`firegrid_db_pool_waiters`,
/// `firegrid_db_pool_connections`, `firegrid_db_pool_idle_connections`) and the notification
/// outbox's backlog, `firegrid_outbox_backlog` (events and deliveries still to be made).
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
