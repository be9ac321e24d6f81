//! `/api/v1/hazards`, `/api/v1/spot-checks`

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::policy::{authorize, require, scope_for, Capability, Target};
use crate::auth::principal::{Caller, Principal};
use crate::auth::scope::Scope;
use crate::db;
use crate::error::{AppError, AppResult, StdErrors};
use crate::hazards::events::{self, Event};
use crate::hazards::model::*;
use crate::hazards::store::{self, Hazard};
use crate::http::pagination::PageParams;
use crate::http::{JsonBody, Page};
use crate::idempotency::Idempotent;
use crate::regions::store as region_store;
use crate::validate::Checks;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(report_hazard)
        .service(list_hazards)
        .service(get_hazard)
        .service(hazard_events)
        .service(act_on_hazard)
        .service(draw_spot_checks);
}

/// The checks of a report that need no database (also applied to the cases of a patrol).
pub(crate) fn validate_new(new: &NewHazard) -> AppResult<()> {
    let mut c = Checks::new();
    c.name("title", &new.title, 100);
    c.text("description", &new.description, 4000);
    if let Some(a) = &new.address {
        c.name("address", a, 200);
    }
    c.coordinates(new.lat, new.lng);
    if new
        .found_at
        .is_some_and(|t| t > chrono::Utc::now() + chrono::Duration::hours(1))
    {
        c.fail("found_at", "must not be in the future");
    }
    c.finish()
}

fn one(conn: &mut db::DbConn, p: &Principal, row: store::HazardRow) -> AppResult<Hazard> {
    store::to_api(conn, &[row], Some(p), db::now())?
        .pop()
        .ok_or_else(AppError::not_found)
}

/// Report a hazard (立案建档) in a group of the caller's scope. Send an `Idempotency-Key` so that
/// a retry after a lost response returns the same case instead of a second one.
#[utoipa::path(tag = "hazards", security(("bearer" = [])), request_body = NewHazard,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, body = Hazard), StdErrors))]
#[post("/hazards")]
pub async fn report_hazard(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: JsonBody<NewHazard>,
) -> AppResult<HttpResponse> {
    let new = body.into_inner();
    validate_new(&new)?;
    let once = Idempotent::json(&req, "POST /hazards", &new)?;
    let probe = new.clone();
    let reply = caller
        .run_tx_after_read(
            &state.pool,
            // Where the report goes and what the reply shows besides the new row, read before
            // the write (store::ReplyFacts).
            move |conn, p| store::reply_facts(conn, p, &probe, db::now()),
            move |conn, p, facts| {
                once.run(conn, p.user_id, |conn| {
                    let reply = match facts {
                        Some(facts) => {
                            let row = store::create_at(
                                conn,
                                &p,
                                &new,
                                &facts.destination,
                                None,
                                db::now(),
                            )?;
                            store::new_case_to_api(&p, &row, facts, db::now())?
                        }
                        None => {
                            let row = store::create(conn, &p, &new, db::now())?;
                            one(conn, &p, row)?
                        }
                    };
                    Ok((StatusCode::CREATED, reply))
                })
            },
        )
        .await?;
    Ok(reply.respond())
}

/// One case with `allowed_actions` for the caller.
#[utoipa::path(tag = "hazards", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Hazard), StdErrors))]
#[get("/hazards/{id}")]
pub async fn get_hazard(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let out = caller
        .run(&state.pool, move |conn, p| {
            let row = store::visible(conn, &p, id)?;
            one(conn, &p, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The case's timeline, oldest first, a page at a time (the cursor follows `seq`).
#[utoipa::path(tag = "hazards", security(("bearer" = [])), params(("id" = i64, Path), PageParams),
    responses((status = 200, body = Page<Event>), StdErrors))]
#[get("/hazards/{id}/events")]
pub async fn hazard_events(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Event>>> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after = page.after_id()?;
    let out = caller
        .run(&state.pool, move |conn, p| {
            store::visible(conn, &p, id)?;
            events::timeline(conn, id, after, limit + 1)
        })
        .await?;
    Ok(web::Json(Page::from_rows(out, limit, |e: &Event| {
        i64::from(e.seq)
    })))
}

/// Take an action on a case (SPEC §5). 403 when your roles never allow it, 409
/// `invalid_transition` when not now, 409 `version_conflict` on a stale `expected_version`.
#[utoipa::path(tag = "hazards", security(("bearer" = [])), params(("id" = i64, Path),
    crate::idempotency::KeyHeader),
    request_body = ActionRequest, responses((status = 200, body = Hazard), StdErrors))]
#[post("/hazards/{id}/actions")]
pub async fn act_on_hazard(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    req: HttpRequest,
    body: JsonBody<ActionRequest>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let action = body.into_inner();
    let once = Idempotent::json(&req, &format!("POST /hazards/{id}/actions"), &action)?;
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            once.run(conn, p.user_id, |conn| {
                let row = store::act(conn, &p, id, &action, db::now())?;
                Ok((StatusCode::OK, one(conn, &p, row)?))
            })
        })
        .await?;
    Ok(reply.respond())
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HazardQuery {
    pub status: Option<Status>,
    pub level: Option<Level>,
    pub severity: Option<Severity>,
    pub category: Option<Category>,
    /// Only cases in this region's subtree.
    pub region_id: Option<i64>,
    /// Only open cases past their deadline.
    pub overdue: Option<bool>,
    /// Only cases listed for supervision.
    pub listed: Option<bool>,
    /// Only public reports without a first response within 48 hours (late or still missing).
    pub first_response_overdue: Option<bool>,
    /// Received at or after (RFC 3339).
    pub created_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Received before (RFC 3339).
    pub created_to: Option<chrono::DateTime<chrono::Utc>>,
}

impl HazardQuery {
    /// The case list's filter for this query (also the exports'): `region_id` narrows it to a
    /// region's subtree, 404 when the caller cannot see the region.
    pub fn filter(
        &self,
        conn: &mut db::DbConn,
        p: &Principal,
        before_id: Option<i64>,
        fetch: i64,
    ) -> AppResult<store::ListFilter> {
        let within = match self.region_id {
            Some(rid) => {
                let r = region_store::get(conn, rid)?;
                authorize(p, Capability::ReadGrid, Target::Region(&r.path))?;
                Some(Scope::from_paths(vec![r.path]))
            }
            None => None,
        };
        Ok(store::ListFilter {
            status: self.status,
            level: self.level,
            severity: self.severity,
            category: self.category,
            within,
            overdue: self.overdue.unwrap_or(false),
            listed: self.listed.unwrap_or(false),
            first_response_overdue: self.first_response_overdue.unwrap_or(false),
            created_from: self.created_from.map(|t| t.naive_utc()),
            created_to: self.created_to.map(|t| t.naive_utc()),
            before_id,
            fetch,
        })
    }
}

/// Cases in the caller's scope, newest first.
#[utoipa::path(tag = "hazards", security(("bearer" = [])), params(HazardQuery, PageParams),
    responses((status = 200, body = Page<Hazard>), StdErrors))]
#[get("/hazards")]
pub async fn list_hazards(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<HazardQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Hazard>>> {
    let limit = page.limit()?;
    let before_id = page.after_id()?;
    let q = q.into_inner();
    let items = caller
        .run(&state.pool, move |conn, p| {
            let f = q.filter(conn, &p, before_id, limit + 1)?;
            let now = db::now();
            let rows = store::list(conn, &p.scope, &f, now)?;
            store::to_api(conn, &rows, None, now)
        })
        .await?;
    Ok(web::Json(Page::from_rows(items, limit, |h: &Hazard| h.id)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpotCheckRequest {
    /// Draw from this region's subtree.
    pub region_id: i64,
    /// 1–100 cases.
    pub sample_size: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpotCheckSample {
    pub items: Vec<Hazard>,
}

/// Draw a uniformly random sample of closed cases not checked in the last 90 days, for a fire
/// officer to verify online (网上抽查核实); record each verdict with the `spot_check` action.
#[utoipa::path(tag = "hazards", security(("bearer" = [])), request_body = SpotCheckRequest,
    responses((status = 200, body = SpotCheckSample), StdErrors))]
#[post("/spot-checks")]
pub async fn draw_spot_checks(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<SpotCheckRequest>,
) -> AppResult<web::Json<SpotCheckSample>> {
    let req = body.into_inner();
    let items = caller
        .run(&state.pool, move |conn, p| {
            require(&p, Capability::DrawSpotChecks)?;
            if !(1..=100).contains(&req.sample_size) {
                return Err(AppError::field("sample_size", "must be between 1 and 100"));
            }
            let r = region_store::get(conn, req.region_id)?;
            authorize(&p, Capability::DrawSpotChecks, Target::Region(&r.path))?;
            let fire_scope = scope_for(&p, Capability::DrawSpotChecks);
            let now = db::now();
            let rows = store::sample_closed(
                conn,
                &fire_scope,
                &Scope::from_paths(vec![r.path]),
                req.sample_size,
                now,
            )?;
            store::to_api(conn, &rows, Some(&p), now)
        })
        .await?;
    Ok(web::Json(SpotCheckSample { items }))
}
