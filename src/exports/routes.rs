//! `/api/v1/exports/hazards.csv`, `.xlsx`, `.geojson`: the case list's filters and scope.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use actix_web::{get, web, HttpResponse};
use futures_util::stream::{self, Stream};

use crate::auth::principal::Caller;
use crate::auth::scope::Scope;
use crate::db;
use crate::error::{AppError, AppResult, StdErrors};
use crate::exports::{csv, geojson, xlsx, CasePages};
use crate::hazards::routes::HazardQuery;
use crate::premises::store as premises_store;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(export_csv)
        .service(export_xlsx)
        .service(export_geojson);
}

fn attachment(name: &str) -> ContentDisposition {
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(name.to_string())],
    }
}

/// The caller's scope and the case list's filter for the query (404 for a `region_id` outside
/// the scope), read in one database call; plus the subtree the premises of a map come from.
async fn pages(state: &AppState, caller: Caller, q: HazardQuery) -> AppResult<(CasePages, Scope)> {
    let now = db::now();
    let (scope, filter) = caller
        .run(&state.pool, move |conn, p| {
            let f = q.filter(conn, &p, None, crate::exports::PAGE)?;
            Ok((p.scope.clone(), f))
        })
        .await?;
    let visible = match &filter.within {
        Some(w) => scope.intersect(w),
        None => scope.clone(),
    };
    Ok((
        CasePages::new(state.pool.clone(), scope, filter, now),
        visible,
    ))
}

/// A stream of chunks, ending at the first empty one or the first error (which cuts the
/// response short: the status line has gone out already).
fn chunks<S, F, Fut>(init: S, step: F) -> impl Stream<Item = Result<Bytes, AppError>>
where
    F: FnMut(S) -> Fut + Clone,
    Fut: std::future::Future<Output = AppResult<Option<(Bytes, S)>>>,
{
    stream::unfold(Some(init), move |state| {
        let mut step = step.clone();
        async move {
            match step(state?).await {
                Ok(Some((bytes, next))) => Some((Ok(bytes), Some(next))),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "export cut short");
                    Some((Err(e), None))
                }
            }
        }
    })
}

/// The cases as CSV (UTF-8 with BOM, Chinese headers, formula cells neutralised), streamed.
/// Same filters and scope as `GET /api/v1/hazards`; no reporter identity or contact.
#[utoipa::path(tag = "exports", security(("bearer" = [])), params(HazardQuery),
    responses((status = 200, description = "the cases, newest first", content_type = "text/csv; charset=utf-8", body = String), StdErrors))]
#[get("/exports/hazards.csv")]
pub async fn export_csv(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<HazardQuery>,
) -> AppResult<HttpResponse> {
    let (pages, _) = pages(&state, caller, q.into_inner()).await?;
    let tz = state.settings.tz;
    let head = csv::head()?;
    let body = chunks(
        (pages, Some(head)),
        move |(mut pages, head): (CasePages, Option<Bytes>)| async move {
            if let Some(h) = head {
                return Ok(Some((h, (pages, None))));
            }
            let rows = pages.next().await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let bytes = csv::page(&rows, &pages.names, tz, pages.now)?;
            Ok(Some((bytes, (pages, None))))
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(attachment("hazards.csv"))
        .streaming(body))
}

/// The cases as an Excel workbook: frozen Chinese header row, column widths, autofilter. At
/// most 100,000 cases (422 beyond: export the CSV); same filters and scope as the case list.
#[utoipa::path(tag = "exports", security(("bearer" = [])), params(HazardQuery),
    responses((status = 200, description = "the workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), StdErrors))]
#[get("/exports/hazards.xlsx")]
pub async fn export_xlsx(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<HazardQuery>,
) -> AppResult<HttpResponse> {
    let (mut pages, _) = pages(&state, caller, q.into_inner()).await?;
    let tz = state.settings.tz;
    let book = db::run_bulk(&state.pool, move |conn| {
        xlsx::workbook(conn, &mut pages, tz)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header(attachment("hazards.xlsx"))
        .body(book))
}

enum MapPhase {
    Head,
    Cases,
    Premises(Option<i64>),
    Tail,
    Done,
}

/// The cases with coordinates (same filters and scope as the case list), then the premises
/// with coordinates in the same region, as a GeoJSON FeatureCollection for maps; streamed.
#[utoipa::path(tag = "exports", security(("bearer" = [])), params(HazardQuery),
    responses((status = 200, description = "a FeatureCollection", content_type = "application/geo+json", body = Object), StdErrors))]
#[get("/exports/hazards.geojson")]
pub async fn export_geojson(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<HazardQuery>,
) -> AppResult<HttpResponse> {
    let (pages, visible) = pages(&state, caller, q.into_inner()).await?;
    let pool = state.pool.clone();
    let init = (pages, MapPhase::Head, true);
    let body = chunks(
        init,
        move |(mut pages, phase, mut first): (CasePages, MapPhase, bool)| {
            let pool = pool.clone();
            let visible = visible.clone();
            async move {
                Ok(match phase {
                    MapPhase::Head => Some((
                        Bytes::from_static(geojson::HEAD.as_bytes()),
                        (pages, MapPhase::Cases, first),
                    )),
                    MapPhase::Cases => {
                        let rows = pages.next().await?;
                        if rows.is_empty() {
                            Some((Bytes::new(), (pages, MapPhase::Premises(None), first)))
                        } else {
                            let b = geojson::cases(&rows, &pages.names, pages.now, &mut first);
                            Some((b, (pages, MapPhase::Cases, first)))
                        }
                    }
                    MapPhase::Premises(after) => {
                        let rows = db::run(&pool, move |conn| {
                            premises_store::list(
                                conn,
                                &visible,
                                &premises_store::ListFilter {
                                    within: None,
                                    category: None,
                                    group_id: None,
                                    unchecked_since: None,
                                    after_id: after,
                                    fetch: crate::exports::PAGE,
                                },
                            )
                        })
                        .await?;
                        let next = if (rows.len() as i64) < crate::exports::PAGE {
                            MapPhase::Tail
                        } else {
                            MapPhase::Premises(rows.last().map(|p| p.id))
                        };
                        Some((geojson::premises(&rows, &mut first), (pages, next, first)))
                    }
                    MapPhase::Tail => Some((
                        Bytes::from_static(geojson::TAIL.as_bytes()),
                        (pages, MapPhase::Done, first),
                    )),
                    MapPhase::Done => None,
                })
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .insert_header(attachment("hazards.geojson"))
        .streaming(body))
}
