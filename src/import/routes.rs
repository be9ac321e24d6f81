//! `POST /api/v1/import`: a CSV file as the request body (`Content-Type: text/csv`).

use actix_web::http::header;
use actix_web::{post, web, HttpRequest};

use crate::auth::policy::{require, Capability};
use crate::auth::principal::Caller;
use crate::error::{AppError, AppResult, ErrorCode, StdErrors};
use crate::http::json;
use crate::import::{apply, failed, parse, Actor, ImportReport};
use crate::AppState;

/// Largest accepted file: a county of 1,500 groups and 6,000 people is under 1 MiB.
pub const IMPORT_LIMIT: usize = 32 * 1024 * 1024;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(import_csv);
}

fn is_csv(req: &HttpRequest) -> bool {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(essence.as_str(), "text/csv" | "application/csv")
}

/// Import regions, organisations, people with roles and premises from one CSV file (the body,
/// `Content-Type: text/csv`, UTF-8 with or without BOM; column layout in the README), in one
/// transaction: all or nothing. Every bad line comes back in `errors[]` as
/// `{field: "line 12: role", message}` with a 422, and nothing is written. Re-running the same
/// file changes nothing. Imported accounts cannot log in until an administrator sets their
/// password. Administrators only, inside their own subtree.
#[utoipa::path(tag = "import", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "the CSV file"),
    responses((status = 200, description = "applied: what was created, updated and left unchanged", body = ImportReport), StdErrors))]
#[post("/import")]
pub async fn import_csv(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    mut payload: web::Payload,
) -> AppResult<web::Json<ImportReport>> {
    // Refused before megabytes of body are read, and checked again in the importing transaction.
    caller
        .clone()
        .run(&state.pool, |_, p| {
            require(&p, Capability::ManageGrid)?;
            require(&p, Capability::ManageAccounts)
        })
        .await?;
    if !is_csv(&req) {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be text/csv",
        ));
    }
    let body = json::read_within(&req, json::read_limited(&mut payload, IMPORT_LIMIT)).await?;
    let rows = web::block(move || parse(&body)).await?.map_err(failed)?;
    // One hash of a discarded password for every account this import creates.
    let unusable =
        crate::auth::hash_password(&state, crate::auth::password::random_password()).await?;
    let report = caller
        .run_tx_bulk(&state.pool, move |conn, p| {
            require(&p, Capability::ManageGrid)?;
            require(&p, Capability::ManageAccounts)?;
            apply(conn, Actor::User(&p), &rows, &unusable)
        })
        .await?;
    Ok(web::Json(report))
}
