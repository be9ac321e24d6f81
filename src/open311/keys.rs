//! `/api/v1/open311-keys`: the administrators of a county issue, list and revoke the API keys
//! Open311 clients post requests with.

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};

use crate::auth::policy::{authorize, require, Capability, Target};
use crate::auth::principal::{Caller, Principal};
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult, StdErrors};
use crate::http::pagination::PageParams;
use crate::http::{JsonBody, Page};
use crate::idempotency::Idempotent;
use crate::open311::model::{Key, KeyRow, NewKey, NAME_MAX};
use crate::open311::store;
use crate::regions::model::{RegionLevel, RegionRow};
use crate::regions::store as region_store;
use crate::validate::Checks;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_key)
        .service(list_keys)
        .service(revoke_key);
}

/// The one rule for a key: the administrators of its county manage it; elsewhere it does not
/// exist (404), and a role that administers nothing gets 403.
fn manage(p: &Principal, county: &RegionRow) -> AppResult<()> {
    authorize(p, Capability::ManageGrid, Target::Region(&county.path))
}

/// Issue an API key for Open311 clients of a county (its `jurisdiction_id`). The answer holds
/// the key: the only time it is shown (only its hash is kept).
#[utoipa::path(tag = "open311", security(("bearer" = [])), request_body = NewKey,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, description = "issued (or, for a repeated Idempotency-Key, the first result without the key)", body = Key), StdErrors))]
#[post("/open311-keys")]
pub async fn create_key(
    state: web::Data<AppState>,
    caller: Caller,
    http: HttpRequest,
    body: JsonBody<NewKey>,
) -> AppResult<HttpResponse> {
    let new = body.into_inner();
    let mut checks = Checks::new();
    let name = checks.name("name", &new.name, NAME_MAX);
    checks.finish()?;
    let once = Idempotent::json(&http, "POST /open311-keys", &new)?;
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            let mut issued = None;
            let reply = once.run(conn, p.user_id, |conn| {
                let county = county(conn, &p, new.county_id)?;
                let (row, key) = store::issue(conn, &name, county.id, p.user_id, db::now())?;
                issued = Some(key);
                Ok((StatusCode::CREATED, row.to_api(&county.code)))
            })?;
            Ok((reply, issued))
        })
        .await;
    let (mut reply, key) = reply?;
    // The key goes into the answer after the idempotency record is written, so that record
    // never holds it.
    if let Some(key) = key {
        reply.body_mut()["api_key"] = serde_json::Value::String(key);
    }
    Ok(reply.respond())
}

/// The county a key is issued for: a county the caller administers (404 elsewhere, 422 for a
/// region that is not a county).
fn county(conn: &mut DbConn, p: &Principal, id: i64) -> AppResult<RegionRow> {
    let region = region_store::get(conn, id)?;
    manage(p, &region)?;
    if region.level != RegionLevel::County {
        return Err(AppError::field(
            "county_id",
            "must be a county (the jurisdiction of Open311)",
        ));
    }
    Ok(region)
}

/// The keys of the counties the caller administers, newest first (revoked ones too).
#[utoipa::path(tag = "open311", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<Key>), StdErrors))]
#[get("/open311-keys")]
pub async fn list_keys(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Key>>> {
    let limit = page.limit()?;
    let mut before = page.after_id()?;
    let rows = caller
        .run(&state.pool, move |conn, p| {
            require(&p, Capability::ManageGrid)?;
            // A county has a few keys: filtering them by the one rule above is simpler than
            // repeating it in SQL.
            let mut mine = Vec::new();
            loop {
                let batch = store::list(conn, before, 200)?;
                let done = batch.len() < 200;
                before = batch.last().map(|(r, _, _)| r.id);
                for (row, code, path) in batch {
                    if authorize(&p, Capability::ManageGrid, Target::Region(&path)).is_ok() {
                        mine.push(row.to_api(&code));
                    }
                }
                if done || mine.len() as i64 > limit {
                    break;
                }
            }
            mine.truncate(limit as usize + 1);
            Ok(mine)
        })
        .await?;
    Ok(web::Json(Page::from_rows(rows, limit, |k: &Key| k.id)))
}

/// Revoke a key: requests posted with it are refused from now on (403); those it posted stay.
#[utoipa::path(tag = "open311", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204, description = "revoked (also when it already was)"), StdErrors))]
#[delete("/open311-keys/{id}")]
pub async fn revoke_key(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    caller
        .run_tx(&state.pool, move |conn, p| {
            let row: KeyRow = store::get(conn, id)?;
            let county = region_store::get(conn, row.county_id)?;
            manage(&p, &county)?;
            store::revoke(conn, id, p.user_id, db::now())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
