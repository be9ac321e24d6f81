//! `/api/v1/bulletins/{region_id}/{month}`: HTML by default, Markdown for `Accept: text/markdown`
//! or a `.md` suffix on the month.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};

use crate::auth::principal::Caller;
use crate::bulletins::{html, markdown, Bulletin};
use crate::db;
use crate::error::{AppResult, StdErrors};
use crate::stats::period::{parse_month, Period};
use crate::stats::store;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(monthly_bulletin);
}

/// Whether the client asked for Markdown: a `.md` month, or `text/markdown` in `Accept`
/// (before any `text/html`).
fn wants_markdown(month: &str, req: &HttpRequest) -> bool {
    if month.ends_with(".md") {
        return true;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match (accept.find("text/markdown"), accept.find("text/html")) {
        (Some(md), Some(html)) => md < html,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The monthly bulletin (综治信息简报) of a region: the month's figures, a twelve-month trend,
/// cases by category, each child region, the ranking, and the overdue and listed cases with
/// their responsible supervisors. HTML (printable on A4, charts as inline SVG, no external
/// file) unless `Accept: text/markdown` or the month ends in `.md` (`2026-11.md`). 404 for a
/// region outside your scope; 422 (field `month`) for a malformed month or one not begun.
#[utoipa::path(tag = "statistics", security(("bearer" = [])),
    params(("region_id" = i64, Path), ("month" = String, Path, description = "YYYY-MM, or YYYY-MM.md for Markdown", example = "2026-11")),
    responses((status = 200, description = "the bulletin", content((String = "text/html"), (String = "text/markdown"))), StdErrors))]
#[get("/bulletins/{region_id}/{month}")]
pub async fn monthly_bulletin(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, String)>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let (region_id, month) = path.into_inner();
    let md = wants_markdown(&month, &req);
    let tz = state.settings.tz;
    let weights = state.settings.ranking_weights;
    let now = db::now();
    let (y, m) = parse_month(month.trim_end_matches(".md"), "month")?;
    let period = Period::month(y, m, "month", tz, now)?;
    let b = caller
        .run(&state.pool, move |conn, p| {
            let region = store::region_in_scope(conn, &p, region_id)?;
            Bulletin::build(conn, region, period, tz, &weights, now)
        })
        .await?;
    Ok(if md {
        HttpResponse::Ok()
            .content_type("text/markdown; charset=utf-8")
            .insert_header((header::VARY, "Accept"))
            .body(markdown::render(&b))
    } else {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::VARY, "Accept"))
            // The page needs nothing from anywhere: its styles and charts are inline.
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ))
            .body(html::render(&b))
    })
}
