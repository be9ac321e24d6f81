//! `/api/v1/public/…` (no account: a bearer token sent along is ignored and grants nothing) and
//! `/api/v1/intake` (staff taking a report down from the telephone or at the counter).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use crate::auth::policy::{authorize, Capability, Target};
use crate::auth::principal::Caller;
use crate::auth::throttle::client_ip;
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult, PublicErrors, StdErrors};
use crate::hazards::store as hazards;
use crate::http::JsonBody;
use crate::idempotency::{Idempotent, Reply};
use crate::public::model::*;
use crate::public::{regions, store};
use crate::AppState;

/// The header that carries a report's secret.
pub const SECRET_HEADER: &str = "x-report-secret";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(public_regions)
        .service(report_publicly)
        .service(follow_report)
        .service(take_intake);
}

/// Where to report: every county the deployment serves with its townships, villages and
/// groups (ids, codes, names). No account needed. Cacheable: send the `ETag` back as
/// `If-None-Match` and get 304 while the tree is unchanged.
#[utoipa::path(tag = "public", responses(
    (status = 200, body = PublicRegions, headers(("ETag" = String), ("Cache-Control" = String))),
    (status = 304, description = "Unchanged since the ETag sent"),
    (status = 503, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/public/regions")]
pub async fn public_regions(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let database = state.settings.database_url.clone();
    let known = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (tag, body) = db::run(&state.pool, move |conn| {
        let tag = regions::etag(conn)?;
        let fresh = known.as_deref().is_some_and(|k| {
            k.split(',')
                .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == tag)
        });
        let body = if fresh {
            None
        } else {
            Some(regions::body(conn, &database, &tag)?)
        };
        Ok((tag, body))
    })
    .await?;
    let mut resp = match body {
        None => HttpResponse::NotModified(),
        Some(_) => HttpResponse::Ok(),
    };
    resp.insert_header((header::ETAG, tag)).insert_header((
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    ));
    Ok(match body {
        None => resp.finish(),
        Some(b) => resp
            .content_type("application/json")
            .body(b.as_ref().clone()),
    })
}

/// The secret goes into the answer after the idempotency record is written, so that record
/// never holds it; a replay (the first answer was lost) gets a fresh secret instead.
fn with_secret(conn: &mut DbConn, mut reply: Reply, fresh: Option<String>) -> AppResult<Reply> {
    let secret = match fresh {
        Some(s) => s,
        None => {
            let code = reply.body_mut()["tracking_code"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| AppError::internal("stored receipt without tracking code"))?;
            store::rotate_secret(conn, &code)?
        }
    };
    reply.body_mut()["secret"] = serde_json::Value::String(secret);
    Ok(reply)
}

/// Without the secret (what the idempotency record keeps).
fn stored<T: serde::Serialize>(v: &T) -> AppResult<serde_json::Value> {
    let mut v = serde_json::to_value(v)?;
    if let Some(o) = v.as_object_mut() {
        o.remove("secret");
    }
    Ok(v)
}

/// Report a fire hazard without an account (群众举报). The case waits for the village to verify
/// it. Keep the `tracking_code` and `secret` of the answer: together they let you follow the
/// report (`GET /public/reports/{tracking_code}` with `X-Report-Secret`). A few reports an hour
/// per address and per contact phone (429 with `Retry-After` beyond). A retry with the same
/// `Idempotency-Key` and body returns the same tracking code with a new secret.
#[utoipa::path(tag = "public", request_body = NewPublicReport,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, body = Receipt), PublicErrors))]
#[post("/public/reports")]
pub async fn report_publicly(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<NewPublicReport>,
) -> AppResult<HttpResponse> {
    let new = body.into_inner();
    store::validate(&new)?;
    let once = Idempotent::json(&req, "POST /public/reports", &new)?;
    let address = client_ip(&req, &state.settings.trusted_proxies);
    let reply = db::run_tx(&state.pool, move |conn| {
        let now = db::now();
        let mut fresh = None;
        let reply = once.run_public(conn, |conn| {
            let (_, report, secret) = store::take_public(conn, &new, Channel::Web, &address, now)?;
            fresh = Some(secret);
            Ok((StatusCode::CREATED, stored(&receipt(&report))?))
        })?;
        with_secret(conn, reply, fresh)
    })
    .await?;
    Ok(reply.respond())
}

fn receipt(report: &store::ReportRow) -> Receipt {
    Receipt {
        tracking_code: report.tracking_code.clone(),
        secret: String::new(),
        status: PublicStatus::Received,
        received_at: report.received_at.and_utc(),
        first_response_due: report.first_response_due.and_utc(),
    }
}

/// Follow a report: its status, the latest reply from staff and the times, nothing else. Send
/// the secret in `X-Report-Secret`. An unknown code and a wrong secret are the same 404.
#[utoipa::path(tag = "public",
    params(("tracking_code" = String, Path, description = "10 characters of Crockford base32"),
        ("X-Report-Secret" = String, Header, description = "the secret from the receipt")),
    responses((status = 200, body = PublicView), PublicErrors))]
#[get("/public/reports/{tracking_code}")]
pub async fn follow_report(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
) -> AppResult<web::Json<PublicView>> {
    let secret = req
        .headers()
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let code = code.into_inner();
    let view = db::run(&state.pool, move |conn| {
        let report = store::by_code(conn, &code, &secret)?;
        store::public_view(conn, &report)
    })
    .await?;
    Ok(web::Json(view))
}

/// Take down a report received by telephone (96119, 12345) or in person, for a village or
/// group in your scope (village and township staff). Read the `tracking_code` and `secret`
/// back to the caller; the caller's phone is kept as private contact.
#[utoipa::path(tag = "public", security(("bearer" = [])), request_body = IntakeReport,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, body = IntakeReceipt), StdErrors))]
#[post("/intake")]
pub async fn take_intake(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: JsonBody<IntakeReport>,
) -> AppResult<HttpResponse> {
    let intake = body.into_inner();
    let once = Idempotent::json(&req, "POST /intake", &intake)?;
    let (channel, new) = intake.split();
    if !matches!(
        channel,
        Channel::Hotline96119 | Channel::Hotline12345 | Channel::WalkIn
    ) {
        return Err(AppError::field(
            "channel",
            "must be hotline_96119, hotline_12345 or walk_in",
        ));
    }
    store::validate(&new)?;
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            let (region, _) = store::placement(conn, new.region_id)?;
            authorize(&p, Capability::TakeIntake, Target::Region(&region.path))?;
            let now = db::now();
            let mut fresh = None;
            let reply = once.run(conn, p.user_id, |conn| {
                let (case, report, secret) =
                    store::create(conn, &new, channel, Some(p.user_id), now)?;
                fresh = Some(secret);
                let hazard = hazards::to_api(conn, &[case], Some(&p), now)?
                    .pop()
                    .ok_or_else(|| AppError::internal("the new case vanished"))?;
                let out = IntakeReceipt {
                    tracking_code: report.tracking_code,
                    secret: String::new(),
                    hazard,
                };
                Ok((StatusCode::CREATED, stored(&out)?))
            })?;
            with_secret(conn, reply, fresh)
        })
        .await?;
    Ok(reply.respond())
}
