//! `/api/v1/premises`

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::policy::{authorize, require, scope_for, Capability, Target};
use crate::auth::principal::{Caller, Principal};
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult, StdErrors};
use crate::http::pagination::PageParams;
use crate::http::{JsonBody, Page};
use crate::idempotency::Idempotent;
use crate::premises::model::{
    NewPremises, Premises, PremisesCategory, PremisesInput, PremisesPatch, PremisesRow,
    ValidPremises,
};
use crate::premises::store;
use crate::regions::model::RegionRow;
use crate::regions::store as region_store;
use crate::validate::Checks;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_premises)
        .service(list_premises)
        .service(get_premises)
        .service(patch_premises)
        .service(delete_premises);
}

fn one(conn: &mut DbConn, row: &PremisesRow) -> AppResult<Premises> {
    store::to_api(conn, std::slice::from_ref(row))?
        .pop()
        .ok_or_else(AppError::not_found)
}

/// Premises the caller may act on with `cap`; 404 outside their scope.
fn premises_for(
    conn: &mut DbConn,
    p: &Principal,
    cap: Capability,
    id: i64,
) -> AppResult<PremisesRow> {
    let row = store::get(conn, id)?;
    authorize(p, cap, Target::Region(&row.region_path))?;
    Ok(row)
}

/// A group the caller may register premises in: 404 outside their scope, 422 if not a group.
fn writable_group(conn: &mut DbConn, p: &Principal, group_id: i64) -> AppResult<RegionRow> {
    let group = region_store::get(conn, group_id)?;
    authorize(p, Capability::ManagePremises, Target::Region(&group.path))?;
    store::ensure_group(&group, "group_id")?;
    Ok(group)
}

/// Register premises in a group. Send an `Idempotency-Key` so that a retry after a lost
/// response returns the first result instead of a 409.
#[utoipa::path(tag = "premises", security(("bearer" = [])), request_body = NewPremises,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, description = "created (or, for a repeated Idempotency-Key, the first result)", body = Premises), StdErrors))]
#[post("/premises")]
pub async fn create_premises(
    state: web::Data<AppState>,
    caller: Caller,
    http: HttpRequest,
    body: JsonBody<NewPremises>,
) -> AppResult<HttpResponse> {
    let req = body.into_inner();
    // A malformed key is reported after the role check, as before any other 422.
    let once = Idempotent::json(&http, "POST /premises", &req);
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            require(&p, Capability::ManagePremises)?;
            let mut checks = Checks::new();
            let v = PremisesInput {
                name: &req.name,
                category: req.category,
                address: &req.address,
                lat: req.lat,
                lng: req.lng,
                contact_name: req.contact_name.as_deref(),
                contact_phone: req.contact_phone.as_deref(),
                signage: req.signage,
            }
            .validate(&mut checks);
            checks.finish()?;
            let once = once?;
            once.run(conn, p.user_id, |conn| {
                let group = writable_group(conn, &p, req.group_id)?;
                let row = store::insert(conn, &group, &v, db::now())?;
                Ok((StatusCode::CREATED, one(conn, &row)?))
            })
        })
        .await?;
    Ok(reply.respond())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PremisesQuery {
    /// Only premises in this region's subtree (any level).
    pub region_id: Option<i64>,
    pub category: Option<PremisesCategory>,
    /// Only premises no round has checked in the last this many days (1–3650), or ever: the
    /// neglected ones.
    #[param(minimum = 1, maximum = 3650)]
    pub unchecked_days: Option<i64>,
}

/// Premises in the caller's scope, by id. Each shows when a round last checked it and of which
/// kind (`last_checked_at`, `last_check_kind`).
#[utoipa::path(tag = "premises", security(("bearer" = [])), params(PremisesQuery, PageParams),
    responses((status = 200, description = "a page of premises", body = Page<Premises>), StdErrors))]
#[get("/premises")]
pub async fn list_premises(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<PremisesQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Premises>>> {
    let filter = filter.into_inner();
    let page = page.into_inner();
    let (items, limit) = caller
        .run(&state.pool, move |conn, p| {
            require(&p, Capability::ReadGrid)?;
            let limit = page.limit()?;
            let after_id = page.after_id()?;
            let unchecked_since = match filter.unchecked_days {
                None => None,
                Some(d) if (1..=3650).contains(&d) => Some(db::now() - chrono::Duration::days(d)),
                Some(_) => {
                    return Err(AppError::field(
                        "unchecked_days",
                        "must be between 1 and 3650",
                    ))
                }
            };
            let scope = scope_for(&p, Capability::ReadGrid);
            let within = match filter.region_id {
                Some(id) => {
                    let r = region_store::get(conn, id)?;
                    authorize(&p, Capability::ReadGrid, Target::Region(&r.path))?;
                    Some(r.path)
                }
                None => None,
            };
            let f = store::ListFilter {
                within,
                category: filter.category,
                group_id: None,
                unchecked_since,
                after_id,
                fetch: limit + 1,
            };
            let rows = store::list(conn, &scope, &f)?;
            Ok((store::to_api(conn, &rows)?, limit))
        })
        .await?;
    Ok(web::Json(Page::from_rows(items, limit, |x: &Premises| {
        x.id
    })))
}

/// One premises.
#[utoipa::path(tag = "premises", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "the premises", body = Premises), StdErrors))]
#[get("/premises/{id}")]
pub async fn get_premises(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<Premises>> {
    let id = id.into_inner();
    let out = caller
        .run(&state.pool, move |conn, p| {
            let row = premises_for(conn, &p, Capability::ReadGrid, id)?;
            one(conn, &row)
        })
        .await?;
    Ok(web::Json(out))
}

/// Change premises; only the fields given change. Moving to another group needs write access
/// to both groups.
#[utoipa::path(tag = "premises", security(("bearer" = [])), params(("id" = i64, Path)), request_body = PremisesPatch,
    responses((status = 200, description = "the changed premises", body = Premises), StdErrors))]
#[patch("/premises/{id}")]
pub async fn patch_premises(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<PremisesPatch>,
) -> AppResult<web::Json<Premises>> {
    let id = id.into_inner();
    let patch = body.into_inner();
    let out = caller
        .run_tx(&state.pool, move |conn, p| {
            require(&p, Capability::ManagePremises)?;
            let row = premises_for(conn, &p, Capability::ManagePremises, id)?;
            let group = match patch.group_id {
                Some(g) if g != row.group_id => writable_group(conn, &p, g)?,
                _ => region_store::get(conn, row.group_id)?,
            };
            let v = merge(&row, &patch)?;
            let row = store::replace(conn, id, &group, &v, db::now())?;
            one(conn, &row)
        })
        .await?;
    Ok(web::Json(out))
}

/// The stored premises with the patch applied, validated as a whole.
fn merge(row: &PremisesRow, patch: &PremisesPatch) -> AppResult<ValidPremises> {
    let current = row.valid();
    let lat = patch.lat.unwrap_or(current.location.map(|l| l.0));
    let lng = patch.lng.unwrap_or(current.location.map(|l| l.1));
    let mut checks = Checks::new();
    let v = PremisesInput {
        name: patch.name.as_deref().unwrap_or(&current.name),
        category: patch.category.unwrap_or(current.category),
        address: patch.address.as_deref().unwrap_or(&current.address),
        lat,
        lng,
        contact_name: patch
            .contact_name
            .as_deref()
            .or(current.contact_name.as_deref()),
        contact_phone: patch
            .contact_phone
            .as_deref()
            .or(current.contact_phone.as_deref()),
        signage: patch.signage.unwrap_or(current.signage),
    }
    .validate(&mut checks);
    checks.finish()?;
    Ok(v)
}

/// Remove premises (409 while hazard cases name them).
#[utoipa::path(tag = "premises", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), StdErrors))]
#[delete("/premises/{id}")]
pub async fn delete_premises(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    caller
        .run_tx(&state.pool, move |conn, p| {
            require(&p, Capability::ManagePremises)?;
            premises_for(conn, &p, Capability::ManagePremises, id)?;
            store::delete(conn, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
