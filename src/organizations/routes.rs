//! `/api/v1/organizations`

use actix_web::http::StatusCode;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::policy::{authorize, authorize_reach, require, scope_for, Capability, Target};
use crate::auth::principal::{Caller, Principal};
use crate::db;
use crate::error::{AppError, AppResult, StdErrors};
use crate::http::pagination::PageParams;
use crate::http::{JsonBody, Page};
use crate::idempotency::Idempotent;
use crate::organizations::model::{
    JurisdictionUpdate, NewOrganization, OrgKind, OrgRow, Organization,
};
use crate::organizations::store;
use crate::regions::store as region_store;
use crate::validate::Checks;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_organization)
        .service(list_organizations)
        .service(get_organization)
        .service(set_jurisdiction);
}

fn one(conn: &mut db::DbConn, p: &Principal, row: &OrgRow) -> AppResult<Organization> {
    store::to_api(conn, std::slice::from_ref(row), &p.scope)?
        .pop()
        .ok_or_else(AppError::not_found)
}

/// Loads an organisation the caller may read (404 otherwise).
fn visible(conn: &mut db::DbConn, p: &Principal, id: i64) -> AppResult<OrgRow> {
    let row = store::get(conn, id)?;
    let paths = store::visibility_paths(conn, &row)?;
    if !paths
        .iter()
        .any(|path| authorize(p, Capability::ReadGrid, Target::Region(path)).is_ok())
    {
        // Say 403 rather than 404 only when no role could ever read organisations.
        require(p, Capability::ReadGrid)?;
        return Err(AppError::not_found());
    }
    Ok(row)
}

/// Register an organisation in a region of the caller's scope. Send an `Idempotency-Key` so
/// that a retry after a lost response returns the first organisation instead of a second one.
#[utoipa::path(tag = "organizations", security(("bearer" = [])), request_body = NewOrganization,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, description = "created (or, for a repeated Idempotency-Key, the first result)", body = Organization), StdErrors))]
#[post("/organizations")]
pub async fn create_organization(
    state: web::Data<AppState>,
    caller: Caller,
    http: HttpRequest,
    body: JsonBody<NewOrganization>,
) -> AppResult<HttpResponse> {
    let req = body.into_inner();
    let mut checks = Checks::new();
    let name = checks.name("name", &req.name, 64);
    checks.finish()?;
    let once = Idempotent::json(&http, "POST /organizations", &req)?;
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            once.run(conn, p.user_id, |conn| {
                let region = region_store::get(conn, req.region_id)?;
                authorize(&p, Capability::ManageGrid, Target::Region(&region.path))?;
                let allowed = req.kind.home_levels();
                if !allowed.contains(&region.level) {
                    let names: Vec<&str> = allowed.iter().map(|l| l.as_str()).collect();
                    return Err(AppError::field(
                        "region_id",
                        format!("a {} sits in a {}", req.kind, names.join(" or ")),
                    ));
                }
                let row = store::insert(conn, req.kind, &name, region.id, db::now())?;
                Ok((StatusCode::CREATED, one(conn, &p, &row)?))
            })
        })
        .await?;
    Ok(reply.respond())
}

/// One organisation with its jurisdiction.
#[utoipa::path(tag = "organizations", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Organization), StdErrors))]
#[get("/organizations/{id}")]
pub async fn get_organization(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<Organization>> {
    let id = id.into_inner();
    let out = caller
        .run(&state.pool, move |conn, p| {
            let row = visible(conn, &p, id)?;
            one(conn, &p, &row)
        })
        .await?;
    Ok(web::Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgQuery {
    pub kind: Option<OrgKind>,
    /// Only organisations sitting in this region.
    pub region_id: Option<i64>,
}

/// Organisations in the caller's scope (sitting in it or answering for part of it).
#[utoipa::path(tag = "organizations", security(("bearer" = [])), params(OrgQuery, PageParams),
    responses((status = 200, body = Page<Organization>), StdErrors))]
#[get("/organizations")]
pub async fn list_organizations(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<OrgQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Organization>>> {
    let filter = filter.into_inner();
    let page = page.into_inner();
    let (items, limit) = caller
        .run(&state.pool, move |conn, p| {
            require(&p, Capability::ReadGrid)?;
            let limit = page.limit()?;
            let f = store::ListFilter {
                kind: filter.kind,
                region_id: filter.region_id,
                after_id: page.after_id()?,
                fetch: limit + 1,
            };
            let scope = scope_for(&p, Capability::ReadGrid);
            let rows = store::list(conn, &scope, &f)?;
            Ok((store::to_api(conn, &rows, &scope)?, limit))
        })
        .await?;
    Ok(web::Json(Page::from_rows(
        items,
        limit,
        |o: &Organization| o.id,
    )))
}

/// Set the jurisdiction: townships for a police station, counties for a fire department.
#[utoipa::path(tag = "organizations", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = JurisdictionUpdate, responses((status = 200, body = Organization), StdErrors))]
#[put("/organizations/{id}/jurisdiction")]
pub async fn set_jurisdiction(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<JurisdictionUpdate>,
) -> AppResult<web::Json<Organization>> {
    let id = id.into_inner();
    let mut ids = body.into_inner().region_ids;
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > 500 {
        return Err(AppError::field("region_ids", "at most 500 regions"));
    }
    let out = caller
        .run_tx(&state.pool, move |conn, p| {
            let org = visible(conn, &p, id)?;
            let home = region_store::get(conn, org.region_id)?;
            authorize(&p, Capability::ManageGrid, Target::Region(&home.path))?;
            // Before the change: shrinking a jurisdiction that covers another administrator's
            // regions is not this caller's decision (after: each new region is checked below).
            authorize_reach(&p, Capability::ManageGrid, &store::reach(conn, &org)?)?;
            let kind = org.kind;
            let level = kind.jurisdiction_level().ok_or_else(|| {
                AppError::field("region_ids", format!("a {kind} has no jurisdiction"))
            })?;
            let regions = region_store::get_many(conn, &ids)?;
            if regions.len() != ids.len() {
                return Err(AppError::not_found());
            }
            for r in &regions {
                authorize(&p, Capability::ManageGrid, Target::Region(&r.path))?;
                if r.level != level {
                    return Err(AppError::field(
                        "region_ids",
                        format!("{} is not a {level}", r.name),
                    ));
                }
            }
            store::set_jurisdiction(conn, &org, kind, &regions)?;
            let row = store::get(conn, id)?;
            one(conn, &p, &row)
        })
        .await?;
    Ok(web::Json(out))
}
