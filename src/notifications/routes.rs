//! `/api/v1/me/notifications`

use actix_web::{get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::principal::Caller;
use crate::db;
use crate::error::{AppError, AppResult, StdErrors};
use crate::http::pagination::PageParams;
use crate::http::Page;
use crate::notifications::store::{self, Notification};
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_notifications).service(read_notification);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only unread ones.
    pub unread: Option<bool>,
}

/// The caller's notifications, newest first.
#[utoipa::path(tag = "notifications", security(("bearer" = [])), params(InboxQuery, PageParams),
    responses((status = 200, body = Page<Notification>), StdErrors))]
#[get("/me/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<InboxQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Notification>>> {
    let limit = page.limit()?;
    let before = page.after_id()?;
    let unread = q.unread.unwrap_or(false);
    let rows = caller
        .run(&state.pool, move |conn, p| {
            store::list(conn, p.user_id, unread, before, limit + 1)
        })
        .await?;
    let items = rows.iter().map(|r| r.to_api()).collect();
    Ok(web::Json(Page::from_rows(
        items,
        limit,
        |n: &Notification| n.id,
    )))
}

/// Mark one notification read.
#[utoipa::path(tag = "notifications", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Notification), StdErrors))]
#[post("/me/notifications/{id}/read")]
pub async fn read_notification(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<Notification>> {
    let id = id.into_inner();
    let row = caller
        .run(&state.pool, move |conn, p| {
            if !store::mark_read(conn, p.user_id, id, db::now())? {
                return Err(AppError::not_found());
            }
            store::get(conn, id)
        })
        .await?;
    Ok(web::Json(row.to_api()))
}
