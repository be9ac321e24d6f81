//! `/api/v1/stats/summary`, `/api/v1/stats/ranking`, `/api/v1/supervision`

use actix_web::{get, web};
use chrono::Datelike;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::principal::Caller;
use crate::db;
use crate::error::{AppError, AppResult, StdErrors};
use crate::stats::board::{self, Board};
use crate::stats::period::{parse_day, parse_month, Period, FIRST_YEAR};
use crate::stats::ranking::{rank, Ranking};
use crate::stats::store::{self, Summary};
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(stats_summary)
        .service(stats_ranking)
        .service(supervision);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// The region (its whole subtree, and each child).
    pub region_id: i64,
    /// First day, a local date in `FIREGRID_TZ` (default: 1 January of this year).
    #[param(value_type = Option<String>, format = Date, example = "2026-01-01")]
    pub from: Option<String>,
    /// Last day, inclusive (default: today). At most ten years after `from`.
    #[param(value_type = Option<String>, format = Date, example = "2026-12-31")]
    pub to: Option<String>,
}

/// The figures of a region and each of its children over a period of local days (统计). Every
/// figure is defined in the README ("Statistics"). 404 for a region outside your scope; 422
/// naming the field for `from` after `to`, `from` in the future, or more than ten years.
#[utoipa::path(tag = "statistics", security(("bearer" = [])), params(SummaryQuery),
    responses((status = 200, body = Summary), StdErrors))]
#[get("/stats/summary")]
pub async fn stats_summary(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<SummaryQuery>,
) -> AppResult<web::Json<Summary>> {
    let q = q.into_inner();
    let tz = state.settings.tz;
    let now = db::now();
    let today = now.and_utc().with_timezone(&tz).date_naive();
    let from = match &q.from {
        Some(s) => parse_day(s, "from")?,
        None => chrono::NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
    };
    let to = match &q.to {
        Some(s) => parse_day(s, "to")?,
        None => today,
    };
    let period = Period::days(from, to, tz, now)?;
    let out = caller
        .run(&state.pool, move |conn, p| {
            let root = store::region_in_scope(conn, &p, q.region_id)?;
            store::summary(conn, &root, &period, tz)
        })
        .await?;
    Ok(web::Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// The region whose children are ranked.
    pub region_id: i64,
    /// A calendar year (default: this year). Not with `month`.
    pub year: Option<i32>,
    /// A calendar month instead, `YYYY-MM`.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-11")]
    pub month: Option<String>,
}

/// The ranking of a region's children (年度综合考评排名) over a year or a month: a composite score
/// with each component, its value and weight (weights per deployment:
/// `FIREGRID_RANKING_WEIGHTS`), ties broken deterministically (README, "The ranking").
#[utoipa::path(tag = "statistics", security(("bearer" = [])), params(RankingQuery),
    responses((status = 200, body = Ranking), StdErrors))]
#[get("/stats/ranking")]
pub async fn stats_ranking(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<RankingQuery>,
) -> AppResult<web::Json<Ranking>> {
    let q = q.into_inner();
    let tz = state.settings.tz;
    let now = db::now();
    let period = ranking_period(q.year, q.month.as_deref(), tz, now)?;
    let weights = state.settings.ranking_weights;
    let out = caller
        .run(&state.pool, move |conn, p| {
            let root = store::region_in_scope(conn, &p, q.region_id)?;
            let s = store::summary(conn, &root, &period, tz)?;
            Ok(rank(root.to_ref(), s.period, &weights, s.children))
        })
        .await?;
    Ok(web::Json(out))
}

/// A year or a month (422 naming the field when both are given or it has not begun).
pub fn ranking_period(
    year: Option<i32>,
    month: Option<&str>,
    tz: chrono_tz::Tz,
    now: chrono::NaiveDateTime,
) -> AppResult<Period> {
    match (year, month) {
        (Some(_), Some(_)) => Err(AppError::field("month", "give either year or month")),
        (_, Some(m)) => {
            let (y, m) = parse_month(m, "month")?;
            Period::month(y, m, "month", tz, now)
        }
        (Some(y), None) => {
            if !(FIRST_YEAR..=9999).contains(&y) {
                return Err(AppError::field(
                    "year",
                    format!("must be between {FIRST_YEAR} and 9999"),
                ));
            }
            Period::year(y, "year", tz, now)
        }
        (None, None) => Period::year(now.and_utc().with_timezone(&tz).year(), "year", tz, now),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// The region (its whole subtree).
    pub region_id: i64,
}

/// The supervision board (督办): listed cases not yet closed and open cases past their deadline
/// in the region's subtree, grouped by county and township, with days overdue, the police
/// station, the responsible supervisor and the last action.
#[utoipa::path(tag = "statistics", security(("bearer" = [])), params(BoardQuery),
    responses((status = 200, body = Board), StdErrors))]
#[get("/supervision")]
pub async fn supervision(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<BoardQuery>,
) -> AppResult<web::Json<Board>> {
    let region_id = q.region_id;
    let out = caller
        .run(&state.pool, move |conn, p| {
            let root = store::region_in_scope(conn, &p, region_id)?;
            board::board(conn, &root, db::now())
        })
        .await?;
    Ok(web::Json(out))
}
