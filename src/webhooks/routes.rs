//! `/api/v1/webhooks`: subscriptions per region or organisation, for its administrators.

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::policy::{authorize, authorize_reach, Capability, Target};
use crate::auth::principal::{Caller, Principal};
use crate::db::{self, DbConn};
use crate::error::{AppResult, StdErrors};
use crate::http::pagination::PageParams;
use crate::http::{JsonBody, Page};
use crate::idempotency::Idempotent;
use crate::organizations::store as org_store;
use crate::regions::store as region_store;
use crate::validate::Checks;
use crate::vocab::{DeliveryStatus, WebhookFormat};
use crate::webhooks::model::{Delivery, NewWebhook, Webhook, WebhookRow};
use crate::webhooks::{store, target};
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(delete_webhook)
        .service(list_deliveries);
}

/// The one rule for a webhook: it is managed (created, read, removed, its deliveries read) by
/// the administrators of where it listens — the region's, or for an organisation those of
/// where it sits whose scope also covers its whole jurisdiction (as for changing it).
/// Elsewhere it does not exist (404); a role that administers nothing gets 403.
fn manage(
    conn: &mut DbConn,
    p: &Principal,
    region_id: Option<i64>,
    organization_id: Option<i64>,
) -> AppResult<()> {
    if let Some(id) = region_id {
        let region = region_store::get(conn, id)?;
        authorize(p, Capability::ManageGrid, Target::Region(&region.path))?;
    }
    if let Some(id) = organization_id {
        let org = org_store::get(conn, id)?;
        let home = region_store::get(conn, org.region_id)?;
        authorize(p, Capability::ManageGrid, Target::Region(&home.path))?;
        authorize_reach(p, Capability::ManageGrid, &org_store::reach(conn, &org)?)?;
    }
    Ok(())
}

/// A webhook the caller manages (404 otherwise).
fn managed(conn: &mut DbConn, p: &Principal, id: i64) -> AppResult<WebhookRow> {
    let row = store::get(conn, id)?;
    manage(conn, p, row.region_id, row.organization_id)?;
    Ok(row)
}

fn generate_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Subscribe a URL to the notifications of a region's subtree or an organisation's
/// jurisdiction. Every notification written there (of the chosen kinds) is POSTed once per
/// event, signed, and retried with back-off for 24 hours. The answer holds the secret: the only
/// time it is shown.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), request_body = NewWebhook,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, description = "created (or, for a repeated Idempotency-Key, the first result)", body = Webhook), StdErrors))]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    http: HttpRequest,
    body: JsonBody<NewWebhook>,
) -> AppResult<HttpResponse> {
    let req = body.into_inner();
    let mut checks = Checks::new();
    let url = req.url.clone();
    if let Err(why) = target::check(&url, &state.settings.bind) {
        checks.fail("url", why);
    }
    if let Some(s) = &req.secret {
        checks.secret("secret", s);
    }
    if req.kinds.len() > 64 {
        checks.fail("kinds", "at most 64 kinds");
    }
    match (req.region_id, req.organization_id) {
        (Some(_), Some(_)) => checks.fail(
            "organization_id",
            "give a region or an organisation, not both",
        ),
        (None, None) => checks.fail("region_id", "give a region_id or an organization_id"),
        _ => {}
    }
    checks.finish()?;
    let format = req.format.unwrap_or(WebhookFormat::Generic);
    let mut kinds = req.kinds.clone();
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    let secret = match (&req.secret, format) {
        (Some(s), _) => Some(s.clone()),
        // The generic format is always signed; the robots are signed only with their secret.
        (None, WebhookFormat::Generic) => Some(generate_secret()),
        (None, _) => None,
    };
    let once = Idempotent::json(&http, "POST /webhooks", &req)?;
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            once.run(conn, p.user_id, |conn| {
                manage(conn, &p, req.region_id, req.organization_id)?;
                let row = store::insert(
                    conn,
                    &store::NewRow {
                        url: &url,
                        secret: secret.as_deref(),
                        kinds: &kinds,
                        format,
                        region_id: req.region_id,
                        organization_id: req.organization_id,
                        created_by: p.user_id,
                    },
                    db::now(),
                )?;
                let mut out = row.to_api();
                // Shown in full this once: the URL as given and the secret.
                out.url = row.url.clone();
                out.secret = row.secret.clone();
                Ok((StatusCode::CREATED, out))
            })
        })
        .await?;
    Ok(reply.respond())
}

/// The webhooks of the regions and organisations the caller administers, newest first.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<Webhook>), StdErrors))]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Webhook>>> {
    let limit = page.limit()?;
    let mut before = page.after_id()?;
    let rows = caller
        .run(&state.pool, move |conn, p| {
            crate::auth::policy::require(&p, Capability::ManageGrid)?;
            // A deployment has a few webhooks per county: filtering them here by the one rule
            // above is simpler than repeating it in SQL.
            let mut mine = Vec::new();
            loop {
                let batch = store::list(conn, before, 200)?;
                let done = batch.len() < 200;
                before = batch.last().map(|r| r.id);
                for row in batch {
                    if manage(conn, &p, row.region_id, row.organization_id).is_ok() {
                        mine.push(row);
                    }
                }
                if done || mine.len() as i64 > limit {
                    break;
                }
            }
            mine.truncate(limit as usize + 1);
            Ok(mine)
        })
        .await?;
    let items = rows.iter().map(WebhookRow::to_api).collect();
    Ok(web::Json(Page::from_rows(items, limit, |w: &Webhook| w.id)))
}

/// One webhook (without its secret).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Webhook), StdErrors))]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<Webhook>> {
    let id = id.into_inner();
    let row = caller
        .run(&state.pool, move |conn, p| managed(conn, &p, id))
        .await?;
    Ok(web::Json(row.to_api()))
}

/// Remove a webhook; its pending deliveries are dropped with it.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), StdErrors))]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    caller
        .run_tx(&state.pool, move |conn, p| {
            managed(conn, &p, id)?;
            store::delete(conn, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this state (`failed`: given up after the retry window).
    pub status: Option<DeliveryStatus>,
}

/// A webhook's deliveries, newest first: what was sent, how often it was tried, the last
/// answer or error, and those given up (`?status=failed`).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path), DeliveryQuery, PageParams),
    responses((status = 200, body = Page<Delivery>), StdErrors))]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    q: web::Query<DeliveryQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Delivery>>> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let before = page.after_id()?;
    let status = q.status;
    let rows = caller
        .run(&state.pool, move |conn, p| {
            managed(conn, &p, id)?;
            store::deliveries(conn, id, status, before, limit + 1)
        })
        .await?;
    let items = rows
        .into_iter()
        .map(|(d, kind, hazard_id, message)| Delivery {
            id: d.id,
            delivery_id: d.delivery_id,
            event_id: d.outbox_id,
            kind,
            hazard_id,
            message,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: (d.status == DeliveryStatus::Pending)
                .then(|| d.next_attempt_at.and_utc()),
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at.and_utc(),
            finished_at: d.finished_at.map(|t| t.and_utc()),
        })
        .collect();
    Ok(web::Json(Page::from_rows(items, limit, |d: &Delivery| {
        d.id
    })))
}

#[cfg(test)]
mod tests {
    use crate::webhooks::model::mask_query;

    #[test]
    fn robot_keys_are_masked() {
        assert_eq!(
            mask_query("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
        );
        assert_eq!(
            mask_query("https://oapi.dingtalk.com/robot/send?access_token=abc&x"),
            "https://oapi.dingtalk.com/robot/send?access_token=***&x"
        );
        assert_eq!(mask_query("http://h/p"), "http://h/p");
    }
}
