//! `POST /api/v1/import`: a CSV file as the request body (`Content-Type: text/csv`).

use actix_web::http::{header, StatusCode};
use actix_web::{post, web, HttpRequest, HttpResponse};

use crate::auth::policy::{require, Capability};
use crate::auth::principal::Caller;
use crate::error::{AppError, AppResult, ErrorCode, StdErrors};
use crate::http::json;
use crate::idempotency::{self, Idempotent};
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
/// password. Administrators only, inside their own subtree. Send an `Idempotency-Key` so that a
/// retry after a lost response returns the first report (whose counts say what that run
/// created) rather than one saying everything was unchanged.
#[utoipa::path(tag = "import", security(("bearer" = [])),
    params(crate::idempotency::KeyHeader),
    request_body(content = String, content_type = "text/csv", description = "the CSV file"),
    responses((status = 200, description = "applied: what was created, updated and left unchanged", body = ImportReport), StdErrors))]
#[post("/import")]
pub async fn import_csv(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    mut payload: web::Payload,
) -> AppResult<HttpResponse> {
    // Refused before megabytes of body are read, and checked again in the importing transaction.
    caller
        .clone()
        .run(&state.pool, |_, p| {
            require(&p, Capability::ManageGrid)?;
            require(&p, Capability::ManageAccounts)
        })
        .await?;
    // A bad key is refused before megabytes of body are read.
    idempotency::check_key(&req)?;
    if !is_csv(&req) {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be text/csv",
        ));
    }
    let body = json::read_within(&req, json::read_limited(&mut payload, IMPORT_LIMIT)).await?;
    // The file's bytes are the request: the same file again under the same key is a retry.
    let once = Idempotent::bytes(&req, "POST /import", &body)?;
    let rows = web::block(move || parse(&body)).await?.map_err(failed)?;
    // One hash of a discarded password for every account this import creates.
    let unusable =
        crate::auth::hash_password(&state, crate::auth::password::random_password()).await?;
    let reply = caller
        .run_tx_bulk(&state.pool, move |conn, p| {
            once.run(conn, p.user_id, |conn| {
                require(&p, Capability::ManageGrid)?;
                require(&p, Capability::ManageAccounts)?;
                Ok((
                    StatusCode::OK,
                    apply(conn, Actor::User(&p), &rows, &unusable)?,
                ))
            })
        })
        .await?;
    Ok(reply.respond())
}
