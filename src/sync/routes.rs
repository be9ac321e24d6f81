//! `/api/v1/sync`

use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::principal::Caller;
use crate::db;
use crate::error::{AppError, AppResult, StdErrors};
use crate::sync::store::{self, SyncPage};
use crate::sync::{cursor, prune};
use crate::AppState;

pub const DEFAULT_LIMIT: i64 = 500;
pub const MAX_LIMIT: i64 = 2000;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(sync);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncParams {
    /// The `next_cursor` of the previous answer; none (or empty) for a first sync.
    pub cursor: Option<String>,
    /// Entities per page (1–2000, default 500).
    #[param(minimum = 1, maximum = 2000)]
    pub limit: Option<i64>,
}

/// Everything the caller's phone needs that changed since `cursor`, a page at a time: cases in
/// scope (with `allowed_actions`) and their events, premises, the rosters of the groups in
/// scope, region names, the caller's notifications, and tombstones for what was deleted or left
/// the caller's scope. Without a cursor it starts with everything in scope. Keep calling while
/// `has_more`; then poll with the last `next_cursor`. A change that commits late is never
/// skipped (the cursor follows commit order). A cursor from another user, or altered, is 422.
/// A cursor older than the change log's retention (`FIREGRID_SYNC_RETENTION_DAYS`, 30 days)
/// starts over like a changed scope: the answer has `reset: true` and a fresh snapshot.
/// Send `Accept-Encoding: gzip` (or `br`): pages compress well.
#[utoipa::path(tag = "sync", security(("bearer" = [])), params(SyncParams),
    responses((status = 200, body = SyncPage), StdErrors))]
#[get("/sync")]
pub async fn sync(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<SyncParams>,
) -> AppResult<web::Json<SyncPage>> {
    let q = q.into_inner();
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(AppError::field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ))
        }
    };
    let key = cursor::key(&state.settings.jwt_secret);
    let out = caller
        .run(&state.pool, move |conn, p| {
            let fp = cursor::fingerprint(&p.scope);
            let given = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
                Some(c) => Some(cursor::decode(c, &key, p.user_id)?),
                None => None,
            };
            // Where the phone says it stands in the log, if it continues from there.
            let from = given.as_ref().filter(|c| c.s == fp).map(|c| c.l);
            let (cur, reset) = match given {
                Some(c) if c.s == fp => (c, false),
                Some(_) => (store::fresh(conn, p.user_id, fp.clone())?, true),
                None => (store::fresh(conn, p.user_id, fp.clone())?, false),
            };
            let (mut page, mut next) = store::page(conn, &p, cur, limit, db::now())?;
            page.reset = reset;
            // Checked after reading: pruning records how far it goes before deleting, so a read
            // that missed pruned rows always sees that here. The phone then starts over.
            if let Some(at) = from {
                if prune::behind(conn, at)? {
                    let cur = store::fresh(conn, p.user_id, fp)?;
                    (page, next) = store::page(conn, &p, cur, limit, db::now())?;
                    page.reset = true;
                }
            }
            page.next_cursor = cursor::encode(&next, &key);
            Ok(page)
        })
        .await?;
    Ok(web::Json(out))
}
