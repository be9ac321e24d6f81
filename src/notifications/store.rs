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
    let by_region: Vec<(Role, i64)> = [
        (Role::GridLeader, place.group_id),
        (Role::GridInspector, place.group_id),
        (Role::GridHandler, place.group_id),
        (Role::GridCoordinator, place.group_id),
        (Role::VillageCadre, place.village_id),
        (Role::VillagePolice, place.village_id),
        (Role::TownshipOfficial, place.township_id),
        (Role::CountyOfficial, place.county_id),
    ]
    .into_iter()
    .filter(|(role, _)| roles.contains(role))
    .collect();
    if !by_region.is_empty() {
        // One query of fixed shape (kept prepared) for every (role, region) pair: all roles
        // bound to the place's four regions, narrowed to the wanted pairs here.
        let rows: Vec<(String, Option<i64>, i64)> = role_assignments::table
            .inner_join(users::table)
            .filter(
                role_assignments::region_id
                    .eq(place.group_id)
                    .or(role_assignments::region_id.eq(place.village_id))
                    .or(role_assignments::region_id.eq(place.township_id))
                    .or(role_assignments::region_id.eq(place.county_id)),
            )
            .filter(users::disabled.eq(false))
            .select((
                role_assignments::role,
                role_assignments::region_id,
                role_assignments::user_id,
            ))
            .load(conn)?;
        out.extend(rows.into_iter().filter_map(|(role, region, user)| {
            by_region
                .iter()
                .any(|(r, id)| r.as_str() == role && Some(*id) == region)
                .then_some(user)
        }));
    }
    let by_org: Vec<(Role, &str, i64)> = [
        (Role::PoliceOfficer, "police_station", place.township_id),
        (Role::FireOfficer, "fire_department", place.county_id),
    ]
    .into_iter()
    .filter(|(role, _, _)| roles.contains(role))
    .collect();
    if !by_org.is_empty() {
        // Officers of the organisations whose jurisdiction covers the place's township or
        // county, in one query of fixed shape, narrowed to the wanted kinds here.
        let rows: Vec<(String, String, i64, i64)> = role_assignments::table
            .inner_join(users::table)
            .inner_join(
                organization_jurisdictions::table.on(organization_jurisdictions::organization_id
                    .nullable()
                    .eq(role_assignments::organization_id)),
            )
            .filter(
                organization_jurisdictions::region_id
                    .eq(place.township_id)
                    .or(organization_jurisdictions::region_id.eq(place.county_id)),
            )
            .filter(users::disabled.eq(false))
            .select((
                role_assignments::role,
                organization_jurisdictions::kind,
                organization_jurisdictions::region_id,
                role_assignments::user_id,
            ))
            .load(conn)?;
        out.extend(rows.into_iter().filter_map(|(role, kind, region, user)| {
            by_org
                .iter()
                .any(|(r, k, id)| r.as_str() == role && *k == kind && *id == region)
                .then_some(user)
        }));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Writes one notification per recipient (never to the person who caused it), in one
/// multi-row INSERT (which diesel builds per backend, not through the connection enum).
pub fn send(
    conn: &mut DbConn,
    recipients: &[i64],
    except: Option<i64>,
    hazard_id: Option<i64>,
    kind: &str,
    message: &str,
    now: NaiveDateTime,
) -> AppResult<usize> {
    let rows: Vec<_> = recipients
        .iter()
        .filter(|&&user_id| Some(user_id) != except)
        .map(|&user_id| {
            (
                notifications::user_id.eq(user_id),
                notifications::hazard_id.eq(hazard_id),
                notifications::kind.eq(kind),
                notifications::message.eq(message),
                notifications::created_at.eq(now),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    let insert = diesel::insert_into(notifications::table).values(&rows);
    match conn {
        DbConn::Pg(c) => insert.execute(c)?,
        DbConn::Sqlite(c) => insert.execute(c)?,
    };
    Ok(rows.len())
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
