use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{notifications, organization_jurisdictions, role_assignments, users};
use crate::db::DbConn;
use crate::error::AppResult;
use crate::per_backend;
use crate::vocab::{NotificationKind, OrgKind, Role};

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
    Ok(Staff::load(conn, &[place], roles)?.at(place, roles))
}

/// Who holds which role where, for a set of places, read in (at most) two queries; the deadline
/// sweep reads it once per batch of cases instead of twice per case.
#[derive(Debug, Default)]
pub struct Staff {
    /// (role, region, user) of roles bound to one of the places' regions.
    by_region: Vec<(Role, Option<i64>, i64)>,
    /// (role, organisation kind, jurisdiction region, user) of officers over the places.
    by_org: Vec<(Role, OrgKind, i64, i64)>,
}

impl Staff {
    /// Loads what answering `at(place, roles)` needs for every one of `places`.
    pub fn load(conn: &mut DbConn, places: &[Place], roles: &[Role]) -> AppResult<Staff> {
        let mut staff = Staff::default();
        let region_roles = [
            Role::GridLeader,
            Role::GridInspector,
            Role::GridHandler,
            Role::GridCoordinator,
            Role::VillageCadre,
            Role::VillagePolice,
            Role::TownshipOfficial,
            Role::CountyOfficial,
        ];
        if roles.iter().any(|r| region_roles.contains(r)) {
            macro_rules! by_region {
                ($filter:expr) => {
                    role_assignments::table
                        .inner_join(users::table)
                        .filter($filter)
                        .filter(users::disabled.eq(false))
                        .select((
                            role_assignments::role,
                            role_assignments::region_id,
                            role_assignments::user_id,
                        ))
                        .load::<(Role, Option<i64>, i64)>(conn)?
                };
            }
            staff.by_region = match places {
                // One query of fixed shape (kept prepared) for a single place: all roles bound
                // to its four regions, narrowed to the wanted pairs by `at`.
                [p] => by_region!(role_assignments::region_id
                    .eq(p.group_id)
                    .or(role_assignments::region_id.eq(p.village_id))
                    .or(role_assignments::region_id.eq(p.township_id))
                    .or(role_assignments::region_id.eq(p.county_id))),
                _ => {
                    let ids = distinct(places, |p| {
                        [p.group_id, p.village_id, p.township_id, p.county_id]
                    });
                    let mut rows = Vec::new();
                    for chunk in ids.chunks(1000) {
                        rows.extend(by_region!(role_assignments::region_id.eq_any(chunk)));
                    }
                    rows
                }
            };
        }
        if roles.contains(&Role::PoliceOfficer) || roles.contains(&Role::FireOfficer) {
            macro_rules! by_org {
                ($filter:expr) => {
                    role_assignments::table
                        .inner_join(users::table)
                        .inner_join(
                            organization_jurisdictions::table.on(
                                organization_jurisdictions::organization_id
                                    .nullable()
                                    .eq(role_assignments::organization_id),
                            ),
                        )
                        .filter($filter)
                        .filter(users::disabled.eq(false))
                        .select((
                            role_assignments::role,
                            organization_jurisdictions::kind,
                            organization_jurisdictions::region_id,
                            role_assignments::user_id,
                        ))
                        .load::<(Role, OrgKind, i64, i64)>(conn)?
                };
            }
            // Officers of the organisations whose jurisdiction covers a place's township or
            // county, narrowed to the wanted kinds by `at`.
            staff.by_org = match places {
                [p] => by_org!(organization_jurisdictions::region_id
                    .eq(p.township_id)
                    .or(organization_jurisdictions::region_id.eq(p.county_id))),
                _ => {
                    let ids = distinct(places, |p| [p.township_id, p.county_id]);
                    let mut rows = Vec::new();
                    for chunk in ids.chunks(1000) {
                        rows.extend(by_org!(organization_jurisdictions::region_id.eq_any(chunk)));
                    }
                    rows
                }
            };
        }
        Ok(staff)
    }

    /// The users holding one of `roles` where they answer for `place` (loaded before).
    pub fn at(&self, place: Place, roles: &[Role]) -> Vec<i64> {
        let wanted_regions: Vec<(Role, i64)> = [
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
        let wanted_orgs: Vec<(Role, OrgKind, i64)> = [
            (
                Role::PoliceOfficer,
                OrgKind::PoliceStation,
                place.township_id,
            ),
            (Role::FireOfficer, OrgKind::FireDepartment, place.county_id),
        ]
        .into_iter()
        .filter(|(role, _, _)| roles.contains(role))
        .collect();
        let mut out: Vec<i64> = self
            .by_region
            .iter()
            .filter(|(role, region, _)| {
                wanted_regions
                    .iter()
                    .any(|(r, id)| r == role && Some(*id) == *region)
            })
            .map(|(_, _, user)| *user)
            .chain(
                self.by_org
                    .iter()
                    .filter(|(role, kind, region, _)| {
                        wanted_orgs
                            .iter()
                            .any(|(r, k, id)| r == role && k == kind && id == region)
                    })
                    .map(|(_, _, _, user)| *user),
            )
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The distinct region ids `of` the places, sorted.
fn distinct<const N: usize>(places: &[Place], of: impl Fn(&Place) -> [i64; N]) -> Vec<i64> {
    let mut ids: Vec<i64> = places.iter().flat_map(of).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// One notification to write.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub user_id: i64,
    pub hazard_id: Option<i64>,
    pub kind: NotificationKind,
    pub message: String,
}

/// Writes one notification per recipient (never to the person who caused it).
pub fn send(
    conn: &mut DbConn,
    recipients: &[i64],
    except: Option<i64>,
    hazard_id: Option<i64>,
    kind: NotificationKind,
    message: &str,
    now: NaiveDateTime,
) -> AppResult<Sent> {
    let out: Vec<Outgoing> = recipients
        .iter()
        .filter(|&&user_id| Some(user_id) != except)
        .map(|&user_id| Outgoing {
            user_id,
            hazard_id,
            kind,
            message: message.to_string(),
        })
        .collect();
    send_all(conn, &out, now)
}

/// The rows a `send` wrote: for a new case, whose provisional number they hold until it is
/// numbered (`hazards::numbering`).
#[derive(Debug, Default)]
pub struct Sent {
    pub notifications: Vec<i64>,
    pub outbox: Vec<i64>,
}

/// Writes notifications (and their outbox events, `outbox::record`) in multi-row INSERTs (which
/// diesel builds per backend, not through the connection enum), in chunks well inside either
/// backend's bind-parameter limit.
pub fn send_all(conn: &mut DbConn, out: &[Outgoing], now: NaiveDateTime) -> AppResult<Sent> {
    let mut sent = Sent {
        notifications: Vec::with_capacity(out.len()),
        outbox: Vec::new(),
    };
    for chunk in out.chunks(1000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|o| {
                (
                    notifications::user_id.eq(o.user_id),
                    notifications::hazard_id.eq(o.hazard_id),
                    notifications::kind.eq(o.kind),
                    notifications::message.eq(&o.message),
                    notifications::created_at.eq(now),
                )
            })
            .collect();
        let insert = diesel::insert_into(notifications::table).values(&rows);
        sent.notifications.extend(per_backend!(conn, |c| insert
            .returning(notifications::id)
            .get_results::<i64>(c))?);
    }
    // The same events, once each, for the webhooks: in this transaction, so they leave the
    // building exactly when the notifications exist.
    sent.outbox = crate::notifications::outbox::record(conn, out, now)?;
    Ok(sent)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    pub id: i64,
    pub user_id: i64,
    pub hazard_id: Option<i64>,
    pub kind: NotificationKind,
    pub message: String,
    pub created_at: NaiveDateTime,
    pub read_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    pub hazard_id: Option<i64>,
    /// Why it was sent (see `NotificationKind`).
    pub kind: NotificationKind,
    pub message: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl NotificationRow {
    pub fn to_api(&self) -> Notification {
        Notification {
            id: self.id,
            hazard_id: self.hazard_id,
            kind: self.kind,
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
