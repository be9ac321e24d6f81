//! `/api/v1/regions`

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::policy::{authorize, require, scope_for, Capability, Target};
use crate::auth::principal::{Caller, Principal};
use crate::db;
use crate::error::{AppError, AppResult, StdErrors};
use crate::http::pagination::PageParams;
use crate::http::{JsonBody, Page};
use crate::idempotency::Idempotent;
use crate::regions::model::{
    NewRegion, Region, RegionDetail, RegionLevel, RegionPatch, RegionRow, SupervisorUpdate,
};
use crate::regions::store;
use crate::validate::Checks;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_region)
        .service(list_regions)
        .service(get_region)
        .service(patch_region)
        .service(delete_region)
        .service(set_supervisor);
}

pub(crate) fn detail(conn: &mut db::DbConn, row: &RegionRow) -> AppResult<RegionDetail> {
    let supervisor = match row.supervisor_user_id {
        Some(uid) => store::people(conn, &[uid])?.remove(&uid),
        None => None,
    };
    Ok(RegionDetail {
        region: row.to_api(),
        ancestors: store::ancestors(conn, row)?,
        supervisor,
    })
}

/// Loads a region the caller may act on with `cap` (404 outside their scope).
pub(crate) fn region_for(
    conn: &mut db::DbConn,
    p: &Principal,
    cap: Capability,
    id: i64,
) -> AppResult<RegionRow> {
    let row = store::get(conn, id)?;
    authorize(p, cap, Target::Region(&row.path))?;
    Ok(row)
}

/// Create a region: a root (global administrators only) or a child exactly one level below
/// its parent. Send an `Idempotency-Key` so that a retry after a lost response returns the
/// first result instead of a 409 for the taken code.
#[utoipa::path(tag = "regions", security(("bearer" = [])), request_body = NewRegion,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, description = "created (or, for a repeated Idempotency-Key, the first result)", body = RegionDetail), StdErrors))]
#[post("/regions")]
pub async fn create_region(
    state: web::Data<AppState>,
    caller: Caller,
    http: HttpRequest,
    body: JsonBody<NewRegion>,
) -> AppResult<HttpResponse> {
    let req = body.into_inner();
    let mut checks = Checks::new();
    let name = checks.name("name", &req.name, 64);
    let code = checks.code("code", &req.code);
    checks.finish()?;
    let once = Idempotent::json(&http, "POST /regions", &req)?;
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            once.run(conn, p.user_id, |conn| {
                let parent = match req.parent_id {
                    Some(id) => {
                        let parent = store::get(conn, id)?;
                        authorize(&p, Capability::ManageGrid, Target::Region(&parent.path))?;
                        Some(parent)
                    }
                    None => {
                        authorize(&p, Capability::ManageGrid, Target::Top)?;
                        None
                    }
                };
                let row = store::create(conn, parent.as_ref(), req.level, &name, &code, db::now())?;
                Ok((StatusCode::CREATED, detail(conn, &row)?))
            })
        })
        .await?;
    Ok(reply.respond())
}

/// One region with its breadcrumb.
#[utoipa::path(tag = "regions", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "the region with its breadcrumb and supervisor", body = RegionDetail), StdErrors))]
#[get("/regions/{id}")]
pub async fn get_region(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<RegionDetail>> {
    let id = id.into_inner();
    let out = caller
        .run(&state.pool, move |conn, p| {
            let row = store::get(conn, id)?;
            authorize(&p, Capability::ReadGrid, Target::Region(&row.path))?;
            detail(conn, &row)
        })
        .await?;
    Ok(web::Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionQuery {
    /// Only the children of this region.
    pub parent_id: Option<i64>,
    /// Only regions of this level.
    pub level: Option<RegionLevel>,
}

/// Regions in the caller's scope, by id.
#[utoipa::path(tag = "regions", security(("bearer" = [])), params(RegionQuery, PageParams),
    responses((status = 200, description = "a page of regions", body = Page<Region>), StdErrors))]
#[get("/regions")]
pub async fn list_regions(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<RegionQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Region>>> {
    let limit = page.limit()?;
    let f = store::ListFilter {
        parent_id: filter.parent_id,
        level: filter.level,
        after_id: page.after_id()?,
        fetch: limit + 1,
    };
    let rows = caller
        .run(&state.pool, move |conn, p| {
            require(&p, Capability::ReadGrid)?;
            store::list(conn, &scope_for(&p, Capability::ReadGrid), &f)
        })
        .await?;
    let items = rows.iter().map(RegionRow::to_api).collect();
    Ok(web::Json(Page::from_rows(items, limit, |r: &Region| r.id)))
}

/// Rename a region or change its code (level and parent never change).
#[utoipa::path(tag = "regions", security(("bearer" = [])), params(("id" = i64, Path)), request_body = RegionPatch,
    responses((status = 200, description = "the changed region", body = RegionDetail), StdErrors))]
#[patch("/regions/{id}")]
pub async fn patch_region(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<RegionPatch>,
) -> AppResult<web::Json<RegionDetail>> {
    let id = id.into_inner();
    let req = body.into_inner();
    let mut checks = Checks::new();
    let name = req.name.as_deref().map(|n| checks.name("name", n, 64));
    let code = req.code.as_deref().map(|c| checks.code("code", c));
    checks.finish()?;
    let out = caller
        .run_tx(&state.pool, move |conn, p| {
            region_for(conn, &p, Capability::ManageGrid, id)?;
            let row = store::update(conn, id, name.as_deref(), code.as_deref(), db::now())?;
            detail(conn, &row)
        })
        .await?;
    Ok(web::Json(out))
}

/// Delete a region that nothing refers to any more: no child regions, accounts, role
/// assignments, premises, organisations or hazard cases (409 naming what is left).
#[utoipa::path(tag = "regions", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), StdErrors))]
#[delete("/regions/{id}")]
pub async fn delete_region(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    caller
        .run_tx(&state.pool, move |conn, p| {
            region_for(conn, &p, Capability::ManageGrid, id)?;
            let left = store::references(conn, id)?;
            if !left.is_empty() {
                return Err(AppError::conflict(format!(
                    "the region is still in use: {}",
                    left.join(", ")
                )));
            }
            store::delete(conn, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Set or clear the responsible supervisor (分片包干) of a township, village or group: someone
/// holding a role on the parent region at the tier above (422 otherwise).
#[utoipa::path(tag = "regions", security(("bearer" = [])), params(("id" = i64, Path)), request_body = SupervisorUpdate,
    responses((status = 200, description = "the region with its supervisor", body = RegionDetail), StdErrors))]
#[put("/regions/{id}/supervisor")]
pub async fn set_supervisor(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<SupervisorUpdate>,
) -> AppResult<web::Json<RegionDetail>> {
    let id = id.into_inner();
    let user_id = body.into_inner().user_id;
    let out = caller
        .run_tx(&state.pool, move |conn, p| {
            let row = region_for(conn, &p, Capability::ManageGrid, id)?;
            let roles = row.level.supervisor_roles();
            let parent = match row.parent_id {
                Some(parent) if !roles.is_empty() => parent,
                _ => {
                    return Err(AppError::field(
                        "id",
                        format!(
                            "a {} has no responsible supervisor; townships, villages and groups do",
                            row.level
                        ),
                    ))
                }
            };
            if let Some(uid) = user_id {
                // One answer for an unknown account and an unqualified one: no hint about accounts
                // outside the caller's reach.
                if !store::holds_role_on(conn, uid, roles, parent)? {
                    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                    return Err(AppError::field(
                        "user_id",
                        format!(
                            "the supervisor of a {} must hold {} on its parent region",
                            row.level,
                            names.join(" or ")
                        ),
                    ));
                }
            }
            let row = store::set_supervisor(conn, id, user_id, db::now())?;
            detail(conn, &row)
        })
        .await?;
    Ok(web::Json(out))
}
