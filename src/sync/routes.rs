//! `/api/v1/sync`

use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::principal::Caller;
use crate::db;
use crate::error::{AppError, AppResult, StdErrors};
use crate::sync::cursor;
use crate::sync::store::{self, SyncPage};
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
            let (cur, reset) = match given {
                Some(c) if c.s == fp => (c, false),
                Some(_) => (store::fresh(conn, p.user_id, fp)?, true),
                None => (store::fresh(conn, p.user_id, fp)?, false),
            };
            let (mut page, next) = store::page(conn, &p, cur, limit, db::now())?;
            page.reset = reset;
            page.next_cursor = cursor::encode(&next, &key);
            Ok(page)
        })
        .await?;
    Ok(web::Json(out))
}
