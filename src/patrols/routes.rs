//! `/api/v1/patrols`

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::policy::{authorize, require, Capability, Target};
use crate::auth::principal::{Caller, Principal};
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult, StdErrors};
use crate::http::pagination::PageParams;
use crate::http::{JsonBody, Page};
use crate::idempotency::Idempotent;
use crate::patrols::compliance::{self, InspectionCompliance, PatrolCompliance};
use crate::patrols::model::{NewPatrol, Patrol, PatrolKind};
use crate::patrols::store::{self, PatrolRow};
use crate::regions::model::RegionRow;
use crate::regions::store as region_store;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(record_patrol)
        .service(list_patrols)
        .service(get_patrol)
        .service(patrol_compliance)
        .service(inspection_compliance);
}

fn one(conn: &mut DbConn, row: PatrolRow) -> AppResult<Patrol> {
    store::to_api(conn, &[row])?
        .pop()
        .ok_or_else(AppError::not_found)
}

/// Record a round: a group's daily patrol (每天防火巡查), a village check or a township's
/// monthly inspection, with the premises checked and the hazards found. The cases are created
/// in the same transaction (as with `POST /hazards`) and linked to the round. A phone that
/// recorded the day offline sends its rounds when signal returns, each with its own
/// `Idempotency-Key`, so a retry lands exactly once.
#[utoipa::path(tag = "patrols", security(("bearer" = [])), request_body = NewPatrol,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, body = Patrol), StdErrors))]
#[post("/patrols")]
pub async fn record_patrol(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: JsonBody<NewPatrol>,
) -> AppResult<HttpResponse> {
    let new = body.into_inner();
    new.validate(chrono::Utc::now())?;
    new.region()?;
    let once = Idempotent::json(&req, "POST /patrols", &new)?;
    let tz = state.settings.tz;
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            once.run(conn, p.user_id, |conn| {
                let row = store::create(conn, &p, &new, tz, db::now())?;
                Ok((StatusCode::CREATED, one(conn, row)?))
            })
        })
        .await?;
    Ok(reply.respond())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatrolQuery {
    /// Only rounds in this region's subtree.
    pub region_id: Option<i64>,
    pub kind: Option<PatrolKind>,
    /// Only rounds of this local day (FIREGRID_TZ), YYYY-MM-DD.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
    /// From this local day, inclusive.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// To this local day, inclusive.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// Rounds in the caller's scope, newest first.
#[utoipa::path(tag = "patrols", security(("bearer" = [])), params(PatrolQuery, PageParams),
    responses((status = 200, body = Page<Patrol>), StdErrors))]
#[get("/patrols")]
pub async fn list_patrols(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<PatrolQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Patrol>>> {
    let limit = page.limit()?;
    let q = q.into_inner();
    if q.date.is_some() && (q.from.is_some() || q.to.is_some()) {
        return Err(AppError::field("date", "give date, or from and to"));
    }
    let (from, to) = (q.date.or(q.from), q.date.or(q.to));
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(AppError::field("to", "must not be before from"));
        }
    }
    let mut f = store::ListFilter {
        within: None,
        kind: q.kind,
        from,
        to,
        before_id: page.after_id()?,
        fetch: limit + 1,
    };
    let region_id = q.region_id;
    let items = caller
        .run(&state.pool, move |conn, p| {
            require(&p, Capability::ReadGrid)?;
            if let Some(rid) = region_id {
                let r = region_store::get(conn, rid)?;
                authorize(&p, Capability::ReadGrid, Target::Region(&r.path))?;
                f.within = Some(r.path);
            }
            let rows = store::list(conn, &p.scope, &f)?;
            store::to_api(conn, &rows)
        })
        .await?;
    Ok(web::Json(Page::from_rows(items, limit, |x: &Patrol| x.id)))
}

/// One round with its checks and the cases it found.
#[utoipa::path(tag = "patrols", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Patrol), StdErrors))]
#[get("/patrols/{id}")]
pub async fn get_patrol(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<Patrol>> {
    let id = id.into_inner();
    let out = caller
        .run(&state.pool, move |conn, p| {
            let row = store::visible(conn, &p, id)?;
            one(conn, row)
        })
        .await?;
    Ok(web::Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatrolComplianceQuery {
    /// One local day (FIREGRID_TZ), YYYY-MM-DD; or give `from` and `to`.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
    /// First local day of a range (at most 366 days), inclusive.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last local day of the range, inclusive.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// A region visible to the caller; 404 otherwise.
fn readable_region(conn: &mut DbConn, p: &Principal, id: i64) -> AppResult<RegionRow> {
    require(p, Capability::ReadGrid)?;
    let r = region_store::get(conn, id)?;
    authorize(p, Capability::ReadGrid, Target::Region(&r.path))?;
    Ok(r)
}

/// Daily patrols (每天防火巡查) per child region: the share of groups that patrolled on a local
/// day (or of group-days over a range), and the groups that missed a day with their current run
/// of consecutive missed days.
#[utoipa::path(tag = "patrols", security(("bearer" = [])),
    params(("id" = i64, Path), PatrolComplianceQuery),
    responses((status = 200, body = PatrolCompliance), StdErrors))]
#[get("/regions/{id}/patrol-compliance")]
pub async fn patrol_compliance(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    q: web::Query<PatrolComplianceQuery>,
) -> AppResult<web::Json<PatrolCompliance>> {
    let id = id.into_inner();
    let (from, to) = match (q.date, q.from, q.to) {
        (Some(d), None, None) => (d, d),
        (None, Some(f), Some(t)) => (f, t),
        (Some(_), _, _) => return Err(AppError::field("date", "give date, or from and to")),
        (None, None, _) => return Err(AppError::field("date", "is required (or from and to)")),
        (None, Some(_), None) => return Err(AppError::field("to", "is required with from")),
    };
    let out = caller
        .run(&state.pool, move |conn, p| {
            let root = readable_region(conn, &p, id)?;
            compliance::patrol(conn, &root, from, to)
        })
        .await?;
    Ok(web::Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InspectionComplianceQuery {
    /// The local month, YYYY-MM.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: String,
}

/// Townships of the region without the month's targeted inspection (每月组织开展一次有针对性的
/// 巡查检查), with their latest one.
#[utoipa::path(tag = "patrols", security(("bearer" = [])),
    params(("id" = i64, Path), InspectionComplianceQuery),
    responses((status = 200, body = InspectionCompliance), StdErrors))]
#[get("/regions/{id}/inspection-compliance")]
pub async fn inspection_compliance(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    q: web::Query<InspectionComplianceQuery>,
) -> AppResult<web::Json<InspectionCompliance>> {
    let id = id.into_inner();
    let month = q.into_inner().month;
    if compliance::month_bounds(&month).is_none() {
        return Err(AppError::field("month", "must be YYYY-MM"));
    }
    let out = caller
        .run(&state.pool, move |conn, p| {
            let root = readable_region(conn, &p, id)?;
            compliance::inspection(conn, &root, &month)
        })
        .await?;
    Ok(web::Json(out))
}
