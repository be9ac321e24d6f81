use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::roles::Role;
use crate::db::schema::{notifications, organization_jurisdictions, role_assignments, users};
use crate::db::DbConn;
use crate::error::AppResult;

/// Where a case sits, read off its group's path: the last four ids are county, township,
/// village and group (the tree may start above the county).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub county_id: i64,
    pub township_id: i64,
    pub village_id: i64,
    pub group_id: i64,
}

impl Place {
    pub fn from_group_path(path: &str) -> Option<Place> {
        let ids: Vec<i64> = path.split('/').filter_map(|s| s.parse().ok()).collect();
        let n = ids.len();
        (n >= 4).then(|| Place {
            county_id: ids[n - 4],
            township_id: ids[n - 3],
            village_id: ids[n - 2],
            group_id: ids[n - 1],
        })
    }
}

/// Active users holding any of `roles` where they answer for `place`: grid roles on its
/// group, village roles on its village, township officials on its township, county officials on
/// its county, police officers of the station over the township, fire officers of the
/// department over the county.
pub fn staff(conn: &mut DbConn, place: Place, roles: &[Role]) -> AppResult<Vec<i64>> {
    let mut out: Vec<i64> = Vec::new();
    let by_region = [
        (Role::GridLeader, place.group_id),
        (Role::GridInspector, place.group_id),
        (Role::GridHandler, place.group_id),
        (Role::GridCoordinator, place.group_id),
        (Role::VillageCadre, place.village_id),
        (Role::VillagePolice, place.village_id),
        (Role::TownshipOfficial, place.township_id),
        (Role::CountyOfficial, place.county_id),
    ];
    for (role, region) in by_region {
        if roles.contains(&role) {
            let ids: Vec<i64> = role_assignments::table
                .inner_join(users::table)
                .filter(role_assignments::role.eq(role.as_str()))
                .filter(role_assignments::region_id.eq(region))
                .filter(users::disabled.eq(false))
                .select(role_assignments::user_id)
                .load(conn)?;
            out.extend(ids);
        }
    }
    let by_org = [
        (Role::PoliceOfficer, "police_station", place.township_id),
        (Role::FireOfficer, "fire_department", place.county_id),
    ];
    for (role, kind, region) in by_org {
        if roles.contains(&role) {
            let orgs = organization_jurisdictions::table
                .filter(organization_jurisdictions::kind.eq(kind))
                .filter(organization_jurisdictions::region_id.eq(region))
                .select(organization_jurisdictions::organization_id.nullable());
            let ids: Vec<i64> = role_assignments::table
                .inner_join(users::table)
                .filter(role_assignments::role.eq(role.as_str()))
                .filter(role_assignments::organization_id.eq_any(orgs))
                .filter(users::disabled.eq(false))
                .select(role_assignments::user_id)
                .load(conn)?;
            out.extend(ids);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Writes one notification per recipient (never to the person who caused it).
pub fn send(
    conn: &mut DbConn,
    recipients: &[i64],
    except: Option<i64>,
    hazard_id: Option<i64>,
    kind: &str,
    message: &str,
    now: NaiveDateTime,
) -> AppResult<usize> {
    let mut n = 0;
    for &user_id in recipients {
        if Some(user_id) == except {
            continue;
        }
        diesel::insert_into(notifications::table)
            .values((
                notifications::user_id.eq(user_id),
                notifications::hazard_id.eq(hazard_id),
                notifications::kind.eq(kind),
                notifications::message.eq(message),
                notifications::created_at.eq(now),
            ))
            .execute(conn)?;
        n += 1;
    }
    Ok(n)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    pub id: i64,
    pub user_id: i64,
    pub hazard_id: Option<i64>,
    pub kind: String,
    pub message: String,
    pub created_at: NaiveDateTime,
    pub read_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    pub hazard_id: Option<i64>,
    /// `arrived`, `closure_rejected`, `listed`, `reopened`, `overdue`, `deadline_soon`.
    pub kind: String,
    pub message: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl NotificationRow {
    pub fn to_api(&self) -> Notification {
        Notification {
            id: self.id,
            hazard_id: self.hazard_id,
            kind: self.kind.clone(),
            message: self.message.clone(),
            created_at: self.created_at.and_utc(),
            read_at: self.read_at.map(|t| t.and_utc()),
        }
    }
}

/// The inbox, newest first.
pub fn list(
    conn: &mut DbConn,
    user_id: i64,
    unread_only: bool,
    before_id: Option<i64>,
    fetch: i64,
) -> AppResult<Vec<NotificationRow>> {
    let mut q = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .select(NotificationRow::as_select())
        .order(notifications::id.desc())
        .limit(fetch)
        .into_boxed();
    if unread_only {
        q = q.filter(notifications::read_at.is_null());
    }
    if let Some(b) = before_id {
        q = q.filter(notifications::id.lt(b));
    }
    Ok(q.load(conn)?)
}

/// Marks one of the user's notifications read; false when it is not theirs.
pub fn mark_read(conn: &mut DbConn, user_id: i64, id: i64, now: NaiveDateTime) -> AppResult<bool> {
    let mine: i64 = notifications::table
        .filter(notifications::id.eq(id))
        .filter(notifications::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    if mine == 0 {
        return Ok(false);
    }
    diesel::update(
        notifications::table
            .find(id)
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(now))
    .execute(conn)?;
    Ok(true)
}

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<NotificationRow> {
    Ok(notifications::table
        .find(id)
        .select(NotificationRow::as_select())
        .first(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_is_read_from_the_end_of_the_path() {
        let p = Place::from_group_path("/1/2/3/4/5/6/").unwrap();
        assert_eq!(
            (p.county_id, p.township_id, p.village_id, p.group_id),
            (3, 4, 5, 6)
        );
        let p = Place::from_group_path("/3/4/5/6/").unwrap();
        assert_eq!(p.county_id, 3);
        assert!(Place::from_group_path("/5/6/").is_none());
    }
}
