//! `/api/v1/regions/{id}/roster`, `/roster-compliance` and `/committee`.

use actix_web::{get, web};

use crate::auth::policy::Capability;
use crate::auth::principal::Caller;
use crate::error::{AppError, AppResult, StdErrors};
use crate::regions::model::{RegionLevel, RegionRow};
use crate::regions::routes::region_for;
use crate::roster::model::{Committee, Roster, RosterCompliance};
use crate::roster::store;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_roster)
        .service(get_compliance)
        .service(get_committee);
}

fn ensure_level(row: &RegionRow, level: RegionLevel) -> AppResult<()> {
    if row.level != level {
        return Err(AppError::field(
            "id",
            format!("{} is a {}, not a {level}", row.name, row.level),
        ));
    }
    Ok(())
}

/// The roster of a group (一长三员): its leader and officers with their backgrounds, whether it
/// is complete and which roles are missing.
#[utoipa::path(tag = "roster", security(("bearer" = [])), params(("id" = i64, Path, description = "a group")),
    responses((status = 200, description = "the group's roster", body = Roster), StdErrors))]
#[get("/regions/{id}/roster")]
pub async fn get_roster(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<Roster>> {
    let id = id.into_inner();
    let out = caller
        .run(&state.pool, move |conn, p| {
            let group = region_for(conn, &p, Capability::ReadGrid, id)?;
            ensure_level(&group, RegionLevel::Group)?;
            store::roster(conn, &group)
        })
        .await?;
    Ok(web::Json(out))
}

/// Roster compliance (达标率) of a region's subtree: complete groups out of all, per child
/// region, and every incomplete group with what it lacks.
#[utoipa::path(tag = "roster", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "compliance of the subtree", body = RosterCompliance), StdErrors))]
#[get("/regions/{id}/roster-compliance")]
pub async fn get_compliance(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<RosterCompliance>> {
    let id = id.into_inner();
    let out = caller
        .run(&state.pool, move |conn, p| {
            let root = region_for(conn, &p, Capability::ReadGrid, id)?;
            store::compliance(conn, &root)
        })
        .await?;
    Ok(web::Json(out))
}

/// The township fire-safety committee (乡镇消防安全委员会): officials with titles, the police
/// station answering for the township, member bodies and village cadres.
#[utoipa::path(tag = "roster", security(("bearer" = [])), params(("id" = i64, Path, description = "a township")),
    responses((status = 200, description = "the township committee", body = Committee), StdErrors))]
#[get("/regions/{id}/committee")]
pub async fn get_committee(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<Committee>> {
    let id = id.into_inner();
    let out = caller
        .run(&state.pool, move |conn, p| {
            let township = region_for(conn, &p, Capability::ReadGrid, id)?;
            ensure_level(&township, RegionLevel::Township)?;
            store::committee(conn, &township, &p.scope)
        })
        .await?;
    Ok(web::Json(out))
}
