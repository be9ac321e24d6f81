//! Hazard storage: case numbers, the case row, applying the state machine's effects together
//! with their event and notifications in one transaction, and scoped lists.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::policy::{authorize, require, Capability, Target};
use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::auth::scope::{subtree_end, Scope};
use crate::db::schema::{
    attachments, hazards, organization_jurisdictions, patrol_hazards, premises, regions,
    stalled_deadlines,
};
use crate::db::{DbConn, MultiBackend};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::hazards::events::{self, NewEvent};
use crate::hazards::model::*;
use crate::hazards::numbering::{self, Unnumbered};
use crate::hazards::workflow::{self, Actor, CaseState, Effects, Notify, Refusal};
use crate::notifications::store::{self as notify, Place};
use crate::regions::model::{RegionRef, RegionRow};
use crate::regions::store as region_store;
use crate::vocab::{EventAction, NotificationKind, OrgKind, RegionLevel};
use crate::{per_backend, scope_filter};
use diesel::sql_types::{Bool, Text};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = hazards)]
pub struct HazardRow {
    pub id: i64,
    pub case_no: String,
    pub county_id: i64,
    pub group_id: i64,
    pub region_path: String,
    pub premises_id: Option<i64>,
    pub category: Category,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub source: Source,
    pub reporter_user_id: Option<i64>,
    pub status: Status,
    pub level: Level,
    pub deadline: Option<NaiveDateTime>,
    pub deadline_reminded: bool,
    pub difficulty: Option<Difficulty>,
    pub supervision_listed: bool,
    pub supervision_overdue: bool,
    pub outcome: Option<Outcome>,
    pub duplicate_of: Option<i64>,
    pub rectification_submitted_by: Option<i64>,
    pub found_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub last_spot_checked_at: Option<NaiveDateTime>,
    pub version: i32,
}

impl HazardRow {
    pub fn place(&self) -> AppResult<Place> {
        Place::from_group_path(&self.region_path)
            .ok_or_else(|| AppError::internal("case outside a full tree"))
    }

    /// The case as the state machine sees it; `public` when it is a report from the public with
    /// a reporter to answer (a `public_reports` row).
    pub fn state(&self, has_police_station: bool, public: bool) -> AppResult<CaseState> {
        Ok(CaseState {
            status: self.status,
            level: self.level,
            severity: self.severity,
            supervision_listed: self.supervision_listed,
            supervision_overdue: self.supervision_overdue,
            deadline: self.deadline.map(|d| d.and_utc()),
            rectification_submitted_by: self.rectification_submitted_by,
            has_police_station,
            public,
        })
    }
}

/// A case as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hazard {
    pub id: i64,
    pub case_no: String,
    pub group: RegionRef,
    pub premises_id: Option<i64>,
    pub category: Category,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub source: Source,
    pub reporter_id: Option<i64>,
    pub status: Status,
    pub level: Level,
    pub deadline: Option<DateTime<Utc>>,
    /// Open with its deadline passed.
    pub overdue: bool,
    pub difficulty: Option<Difficulty>,
    pub supervision_listed: bool,
    /// A listed case past its county deadline (flagged on the county's board).
    pub supervision_overdue: bool,
    pub outcome: Option<Outcome>,
    pub duplicate_of: Option<i64>,
    /// When the phone saw it.
    pub found_at: Option<DateTime<Utc>>,
    /// When the server received it.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i32,
    /// The patrol, village check or township inspection that found it, if any.
    pub patrol_id: Option<i64>,
    /// What the caller may do now (on single-case responses; null in lists).
    pub allowed_actions: Option<Vec<ActionKind>>,
    /// A report from the public (群众举报): its channel, tracking code and first response; the
    /// reporter's contact only for staff who verify or handle the case (single-case responses).
    pub public_report: Option<crate::public::model::PublicReportInfo>,
    /// While a case waits for verification or is open: other open cases from the last 30 days
    /// that may be the same hazard (same group and premises, or within 100 m with the same
    /// category), for staff to close it as a `duplicate` of one. Single-case answers only.
    pub possible_duplicates: Option<Vec<crate::hazards::duplicates::PossibleDuplicate>>,
}

/// The cases with these ids, in id order.
pub fn get_many(conn: &mut DbConn, ids: &[i64]) -> AppResult<Vec<HazardRow>> {
    Ok(hazards::table
        .filter(hazards::id.eq_any(ids))
        .order(hazards::id.asc())
        .select(HazardRow::as_select())
        .load(conn)?)
}

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<HazardRow> {
    hazards::table
        .find(id)
        .select(HazardRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// A case the caller can see; 404 for any other.
pub fn visible(conn: &mut DbConn, p: &Principal, id: i64) -> AppResult<HazardRow> {
    let row = get(conn, id)?;
    if !p.scope.contains(&row.region_path) {
        return Err(AppError::not_found());
    }
    Ok(row)
}

pub fn has_police_station(conn: &mut DbConn, township_id: i64) -> AppResult<bool> {
    let n: i64 = organization_jurisdictions::table
        .filter(organization_jurisdictions::kind.eq(OrgKind::PoliceStation))
        .filter(organization_jurisdictions::region_id.eq(township_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The caller as the state machine sees them for this case.
pub fn actor_for(p: &Principal, row: &HazardRow) -> Actor {
    Actor {
        user_id: p.user_id,
        roles: p.assignments.iter().map(|a| a.role).collect(),
        covering: p
            .assignments
            .iter()
            .filter(|a| a.scope.contains(&row.region_path))
            .map(|a| a.role)
            .collect(),
    }
}

pub fn refusal(r: Refusal) -> AppError {
    match r {
        Refusal::Forbidden(m) => AppError::forbidden(m),
        Refusal::InvalidTransition(m) => AppError::new(ErrorCode::InvalidTransition, m),
        Refusal::Conflict(m) => AppError::conflict(m),
        Refusal::Invalid { field, message } => AppError::field(field, message),
    }
}

pub(crate) fn staff_message(kind: NotificationKind, row: &HazardRow, level: Level) -> String {
    use NotificationKind as K;
    let what = match kind {
        K::Reported => format!("新隐患 {}（一般）", row.case_no),
        K::MajorReported => format!("新隐患 {}（重大）", row.case_no),
        K::Arrived => format!(
            "隐患 {} 已到{}级处理 (arrived at {level} level)",
            row.case_no,
            level_zh(level)
        ),
        K::ClosureRejected => format!("隐患 {} 的整改未通过复核 (closure rejected)", row.case_no),
        K::Listed => format!(
            "重大火灾隐患 {} 已挂牌督办 (listed for supervision)",
            row.case_no
        ),
        K::Reopened => format!("隐患 {} 已重新打开 (reopened)", row.case_no),
        K::Overdue => format!(
            "隐患 {} 已逾期，已移交{}级 (overdue; now at {level} level)",
            row.case_no,
            level_zh(level)
        ),
        K::NoPoliceStation => format!(
            "隐患 {} 已逾期，但所在乡镇没有派出所，无法移交 (overdue; no police station answers for its township)",
            row.case_no
        ),
        K::DeadlineSoon => format!(
            "隐患 {} 的整改期限将在24小时内到期 (deadline within a day)",
            row.case_no
        ),
        K::PublicReport => format!("群众举报 {} 待核实 (a public report to verify)", row.case_no),
        K::FirstResponseSoon => format!(
            "群众举报 {} 已24小时未答复，请在48小时内首次答复 (no first response for 24 hours)",
            row.case_no
        ),
        K::FirstResponseOverdue => format!(
            "群众举报 {} 超过48小时未首次答复 (first response overdue)",
            row.case_no
        ),
        // About a region, not a case (`regions::supervision`); named here only to be complete.
        K::SupervisorVacant | K::PatrolMissed | K::InspectionMissed => {
            format!("隐患 {}", row.case_no)
        }
    };
    format!("{what}：{}", row.title)
}

fn level_zh(level: Level) -> &'static str {
    match level {
        Level::Group => "组",
        Level::Village => "村",
        Level::Township => "乡镇",
        Level::Police => "派出所",
    }
}

/// Sends the notifications an accepted change calls for.
fn notify_change(
    conn: &mut DbConn,
    before: &HazardRow,
    after: &HazardRow,
    what: Notify,
    actor: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<()> {
    notify_changes(conn, &[(before, after)], what, actor, now)
}

/// The notifications of changes of one kind to several cases, with the staff (and, for
/// overdue cases, the supervisors) of all their places read once.
fn notify_changes(
    conn: &mut DbConn,
    changed: &[(&HazardRow, &HazardRow)],
    what: Notify,
    actor: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let kind = match what {
        Notify::ArrivedAtLevel => NotificationKind::Arrived,
        Notify::Reopened => NotificationKind::Reopened,
        Notify::ClosureRejected => NotificationKind::ClosureRejected,
        Notify::Listed => NotificationKind::Listed,
        Notify::Overdue => NotificationKind::Overdue,
        Notify::NoPoliceStation => NotificationKind::NoPoliceStation,
    };
    // Whom each case's change concerns: roles at its place, plus (below) named users.
    let roles_of = |after: &HazardRow| -> AppResult<&'static [Role]> {
        Ok(match what {
            Notify::ArrivedAtLevel | Notify::Reopened | Notify::Overdue => {
                workflow::staff_at(after.level)
            }
            Notify::ClosureRejected => &[],
            Notify::Listed => &[Role::CountyOfficial, Role::FireOfficer, Role::PoliceOfficer],
            Notify::NoPoliceStation => &[Role::CountyOfficial, Role::TownshipOfficial],
        })
    };
    let mut places = Vec::with_capacity(changed.len());
    let mut all_roles: Vec<Role> = Vec::new();
    for (_, after) in changed {
        places.push(after.place()?);
        all_roles.extend(roles_of(after)?);
    }
    all_roles.sort_unstable_by_key(|r| r.as_str());
    all_roles.dedup();
    let staff = if all_roles.is_empty() {
        notify::Staff::default()
    } else {
        notify::Staff::load(conn, &places, &all_roles)?
    };
    // The responsible supervisor (分片包干) of the tier that let an overdue case's deadline pass.
    let lapsed_tier = |before: &HazardRow, place: Place| -> AppResult<Option<i64>> {
        Ok(match before.level {
            Level::Group => Some(place.group_id),
            Level::Village => Some(place.village_id),
            Level::Township => Some(place.township_id),
            Level::Police => None,
        })
    };
    let mut supervisors: HashMap<i64, Option<i64>> = HashMap::new();
    if matches!(what, Notify::Overdue | Notify::NoPoliceStation) {
        let mut tiers = Vec::new();
        for ((before, _), place) in changed.iter().zip(&places) {
            tiers.extend(lapsed_tier(before, *place)?);
        }
        for chunk in tiers.chunks(1000) {
            supervisors.extend(
                regions::table
                    .filter(regions::id.eq_any(chunk))
                    .select((regions::id, regions::supervisor_user_id))
                    .load::<(i64, Option<i64>)>(conn)?,
            );
        }
    }
    let mut out = Vec::new();
    for ((before, after), place) in changed.iter().zip(&places) {
        let mut to = staff.at(*place, roles_of(after)?);
        match what {
            Notify::ClosureRejected => to.extend(before.rectification_submitted_by),
            Notify::Overdue | Notify::NoPoliceStation => {
                if let Some(tier) = lapsed_tier(before, *place)? {
                    to.extend(supervisors.get(&tier).copied().flatten());
                }
            }
            _ => {}
        }
        to.sort_unstable();
        to.dedup();
        let message = staff_message(kind, after, after.level);
        out.extend(
            to.into_iter()
                .filter(|&user_id| Some(user_id) != actor)
                .map(|user_id| notify::Outgoing {
                    user_id,
                    hazard_id: Some(after.id),
                    kind,
                    message: message.clone(),
                }),
        );
    }
    notify::send_all(conn, &out, now)?;
    Ok(())
}

/// Reports a case (立案建档): number, row, first event and notifications, in the caller's
/// transaction.
pub fn create(
    conn: &mut DbConn,
    p: &Principal,
    new: &NewHazard,
    now: NaiveDateTime,
) -> AppResult<HazardRow> {
    create_found_on(conn, p, new, None, now)
}

/// `create` for a case found on a round (`patrols`): the same report, linked to the round,
/// in the round's transaction.
pub fn create_found_on(
    conn: &mut DbConn,
    p: &Principal,
    new: &NewHazard,
    patrol_id: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<HazardRow> {
    let to = destination(conn, p, new)?;
    create_at(conn, p, new, &to, patrol_id, now)
}

/// Where a new staff report goes and whom it tells: what its write needs that does not change
/// under it (regions are never moved, only renamed), so it may be read before the write
/// transaction (`reply_facts`), off the SQLite writer and outside the county counter's lock.
#[derive(Debug, Clone)]
pub struct Destination {
    group: RegionRow,
    place: Place,
    county: RegionRow,
    recipients: Vec<i64>,
}

/// The report's `Destination`, or why it is refused: the caller's rights, a group (small grid)
/// of a county in scope.
pub fn destination(conn: &mut DbConn, p: &Principal, new: &NewHazard) -> AppResult<Destination> {
    require(p, Capability::WorkCases)?;
    let group = region_store::get(conn, new.group_id)?;
    authorize(p, Capability::WorkCases, Target::Region(&group.path))?;
    if group.level != RegionLevel::Group {
        return Err(AppError::field(
            "group_id",
            "hazards are reported in a group (small grid)",
        ));
    }
    let (place, county) = county_of(conn, &group)
        .ok_or_else(|| AppError::field("group_id", "is not under a county"))??;
    // The group's roster and the village staff hear of every case; a major one also reaches
    // the township, the police station and the fire department.
    let mut roles: Vec<Role> = workflow::staff_at(Level::Group).to_vec();
    roles.extend(workflow::staff_at(Level::Village));
    if new.severity == Severity::Major {
        roles.extend([
            Role::TownshipOfficial,
            Role::PoliceOfficer,
            Role::FireOfficer,
        ]);
    }
    Ok(Destination {
        recipients: notify::staff(conn, place, &roles)?,
        group,
        place,
        county,
    })
}

/// Writes a report to its `Destination`: the premises check, the case, its link to the round,
/// the notifications and, last, its number.
pub fn create_at(
    conn: &mut DbConn,
    p: &Principal,
    new: &NewHazard,
    to: &Destination,
    patrol_id: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<HazardRow> {
    let group = &to.group;
    if let Some(pid) = new.premises_id {
        let owner: Option<i64> = premises::table
            .find(pid)
            .select(premises::group_id)
            .first(conn)
            .optional()?;
        if owner != Some(group.id) {
            return Err(AppError::field(
                "premises_id",
                "is not a premises of this group",
            ));
        }
    }
    let case = insert_case(
        conn,
        &CaseInsert {
            group,
            place: to.place,
            county: &to.county,
            premises_id: new.premises_id,
            category: new.category,
            severity: new.severity,
            title: new.title.trim(),
            description: new.description.trim(),
            address: new.address.as_deref().map(str::trim),
            lat: new.lat,
            lng: new.lng,
            source: new.source,
            reporter: Some(p.user_id),
            status: Status::Open,
            level: Level::Group,
            found_at: new.found_at.map(|t| t.naive_utc()),
        },
        serde_json::json!({"found_at": new.found_at}),
        now,
    )?;
    let row = case.row();
    if let Some(patrol_id) = patrol_id {
        diesel::insert_into(patrol_hazards::table)
            .values((
                patrol_hazards::hazard_id.eq(row.id),
                patrol_hazards::patrol_id.eq(patrol_id),
            ))
            .execute(conn)?;
    }
    let kind = if new.severity == Severity::Major {
        NotificationKind::MajorReported
    } else {
        NotificationKind::Reported
    };
    let msg = staff_message(kind, row, row.level);
    let told = notify::send(
        conn,
        &to.recipients,
        Some(p.user_id),
        Some(row.id),
        kind,
        &msg,
        now,
    )?;
    case.number(conn, &told)
}

/// The place of a group and its county; `None` when the group is not under a county (the
/// tree is then not one the deployment serves).
pub fn county_of(
    conn: &mut DbConn,
    group: &crate::regions::model::RegionRow,
) -> Option<AppResult<(Place, crate::regions::model::RegionRow)>> {
    let place = Place::from_group_path(&group.path)?;
    match region_store::get(conn, place.county_id) {
        Ok(county) if county.level == RegionLevel::County => Some(Ok((place, county))),
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    }
}

/// What a new case row holds (staff report, public report, hotline, Open311).
pub struct CaseInsert<'a> {
    pub group: &'a crate::regions::model::RegionRow,
    pub place: Place,
    pub county: &'a crate::regions::model::RegionRow,
    pub premises_id: Option<i64>,
    pub category: Category,
    pub severity: Severity,
    pub title: &'a str,
    pub description: &'a str,
    pub address: Option<&'a str>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub source: Source,
    pub reporter: Option<i64>,
    pub status: Status,
    pub level: Level,
    pub found_at: Option<NaiveDateTime>,
}

/// The row and the first event of a new case, in the caller's transaction; `extra` adds to the
/// event's parameters. Whom to notify is the caller's to decide; the caller's last write gives
/// the case its number (`Unnumbered::number`).
pub fn insert_case(
    conn: &mut DbConn,
    c: &CaseInsert,
    extra: serde_json::Value,
    now: NaiveDateTime,
) -> AppResult<Unnumbered> {
    let number = numbering::reserve(conn, c.county.id, &c.county.code, now.year())?;
    let insert = diesel::insert_into(hazards::table).values((
        hazards::case_no.eq(number.case_no()),
        hazards::county_id.eq(c.county.id),
        hazards::group_id.eq(c.group.id),
        hazards::township_id.eq(c.place.township_id),
        hazards::region_path.eq(&c.group.path),
        hazards::premises_id.eq(c.premises_id),
        hazards::category.eq(c.category),
        hazards::severity.eq(c.severity),
        hazards::title.eq(c.title),
        hazards::description.eq(c.description),
        hazards::address.eq(c.address),
        hazards::lat.eq(c.lat),
        hazards::lng.eq(c.lng),
        hazards::source.eq(c.source),
        hazards::reporter_user_id.eq(c.reporter),
        hazards::status.eq(c.status),
        hazards::level.eq(c.level),
        hazards::found_at.eq(c.found_at),
        hazards::created_at.eq(now),
        hazards::updated_at.eq(now),
        hazards::version.eq(1),
    ));
    // The new row comes back with the insert (RETURNING, built per backend): no second read.
    let row: HazardRow = per_backend!(conn, |c| insert
        .returning(HazardRow::as_returning())
        .get_result(c))?;
    let mut params = serde_json::json!({
        "category": c.category, "severity": c.severity, "source": c.source,
        "title": row.title,
    });
    if let (Some(p), serde_json::Value::Object(extra)) = (params.as_object_mut(), extra) {
        p.extend(extra);
    }
    events::append_first(
        conn,
        NewEvent {
            hazard_id: row.id,
            action: EventAction::Report,
            actor_user_id: c.reporter,
            from_status: None,
            to_status: c.status,
            from_level: None,
            to_level: c.level,
            params: &params,
        },
        now,
    )?;
    Ok(number.inserted(row))
}

#[derive(AsChangeset, Default, PartialEq)]
#[diesel(table_name = hazards)]
struct Changes {
    status: Option<Status>,
    level: Option<Level>,
    deadline: Option<Option<NaiveDateTime>>,
    deadline_reminded: Option<bool>,
    difficulty: Option<Option<Difficulty>>,
    supervision_listed: Option<bool>,
    supervision_overdue: Option<bool>,
    outcome: Option<Option<Outcome>>,
    duplicate_of: Option<Option<i64>>,
    rectification_submitted_by: Option<Option<i64>>,
    closed_at: Option<Option<NaiveDateTime>>,
    last_spot_checked_at: Option<Option<NaiveDateTime>>,
    updated_at: Option<NaiveDateTime>,
    version: Option<i32>,
    group_id: Option<i64>,
    region_path: Option<String>,
}

impl Changes {
    /// The columns the state machine's effects change; the version is the caller's to set.
    fn of(fx: &Effects, now: NaiveDateTime) -> Changes {
        Changes {
            status: fx.status,
            level: fx.level,
            deadline: fx.deadline.map(|d| d.map(|t| t.naive_utc())),
            // A new deadline earns a new reminder.
            deadline_reminded: fx.deadline.map(|_| false),
            difficulty: fx.difficulty.map(Some),
            supervision_listed: fx.supervision_listed,
            supervision_overdue: fx.supervision_overdue,
            outcome: fx.outcome,
            duplicate_of: fx.duplicate_of,
            rectification_submitted_by: fx.rectification_submitted_by,
            closed_at: fx.closed.map(|c| c.then_some(now)),
            last_spot_checked_at: fx.spot_checked.then_some(Some(now)),
            updated_at: Some(now),
            version: None,
            // The group is a row the store resolves (`write_effects`), not a pure effect.
            group_id: None,
            region_path: None,
        }
    }
}

/// Writes the effects if the case still has `row.version`; false when someone changed it
/// meanwhile. Then appends the event and sends the notifications.
fn write_effects(
    conn: &mut DbConn,
    row: &HazardRow,
    fx: &Effects,
    action: EventAction,
    actor: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<Option<HazardRow>> {
    let regroup = match fx.regroup {
        Some(g) => Some(group_of_village(conn, row, g)?),
        None => None,
    };
    let changes = Changes {
        version: Some(row.version + 1),
        group_id: regroup.as_ref().map(|g| g.id),
        region_path: regroup.map(|g| g.path),
        ..Changes::of(fx, now)
    };
    // The changed row comes back with the update (RETURNING, built per backend): no second
    // read of the case.
    let target = hazards::table
        .find(row.id)
        .filter(hazards::version.eq(row.version));
    let after: Option<HazardRow> = per_backend!(conn, |c| diesel::update(target)
        .set(&changes)
        .returning(HazardRow::as_returning())
        .get_result(c)
        .optional())?;
    let Some(after) = after else {
        return Ok(None);
    };
    if fx.first_response || fx.public_reply.is_some() {
        crate::public::store::responded(conn, row.id, fx.public_reply.as_deref(), now)?;
    }
    events::append(
        conn,
        NewEvent {
            hazard_id: row.id,
            action,
            actor_user_id: actor,
            from_status: Some(row.status),
            to_status: after.status,
            from_level: Some(row.level),
            to_level: after.level,
            params: &fx.params,
        },
        now,
    )?;
    if let Some(what) = fx.notify {
        notify_change(conn, row, &after, what, actor, now)?;
    }
    Ok(Some(after))
}

/// Takes an action on a case (SPEC §5) in the caller's transaction.
pub fn act(
    conn: &mut DbConn,
    p: &Principal,
    id: i64,
    req: &ActionRequest,
    now: NaiveDateTime,
) -> AppResult<HazardRow> {
    // Without expected_version, a concurrent change is simply waited out and retried.
    for _ in 0..3 {
        let row = visible(conn, p, id)?;
        if req.expected_version.is_some_and(|v| v != row.version) {
            return Err(AppError::new(
                ErrorCode::VersionConflict,
                format!("the case is at version {}", row.version),
            ));
        }
        let place = row.place()?;
        let public = crate::public::store::is_public(conn, row.id)?;
        let state = row.state(has_police_station(conn, place.township_id)?, public)?;
        let fx =
            workflow::apply(&state, &actor_for(p, &row), req, now.and_utc()).map_err(refusal)?;
        check_references(conn, p, &row, req)?;
        if let Some(after) =
            write_effects(conn, &row, &fx, req.action.into(), Some(p.user_id), now)?
        {
            return Ok(after);
        }
        if req.expected_version.is_some() {
            return Err(AppError::new(
                ErrorCode::VersionConflict,
                "the case was changed meanwhile",
            ));
        }
    }
    Err(AppError::new(
        ErrorCode::VersionConflict,
        "the case keeps changing; retry",
    ))
}

/// The group a verified report moves to: a group of the case's own village (422 otherwise).
fn group_of_village(conn: &mut DbConn, row: &HazardRow, group_id: i64) -> AppResult<RegionRow> {
    let place = row.place()?;
    match region_store::get(conn, group_id) {
        Ok(g) if g.level == RegionLevel::Group && g.parent_id == Some(place.village_id) => Ok(g),
        Ok(_) | Err(_) => Err(AppError::field(
            "group_id",
            "must be a group of the case's village",
        )),
    }
}

/// Ids an action names must be this case's photos, or (for a duplicate) another visible case.
fn check_references(
    conn: &mut DbConn,
    p: &Principal,
    row: &HazardRow,
    req: &ActionRequest,
) -> AppResult<()> {
    if let Some(ids) = &req.attachment_ids {
        let mut ids = ids.clone();
        ids.sort_unstable();
        ids.dedup();
        let n: i64 = attachments::table
            .filter(attachments::hazard_id.eq(row.id))
            .filter(attachments::id.eq_any(&ids))
            .count()
            .get_result(conn)?;
        if n != ids.len() as i64 {
            return Err(AppError::field(
                "attachment_ids",
                "must be photos uploaded to this case",
            ));
        }
    }
    if let Some(dup) = req.duplicate_of {
        if dup == row.id || visible(conn, p, dup).is_err() {
            return Err(AppError::field(
                "duplicate_of",
                "must be another case you can see",
            ));
        }
    }
    Ok(())
}

/// Records a change that is not a state transition (a photo added) as an event of the case,
/// bumping its version like any other change.
pub fn record(
    conn: &mut DbConn,
    p: &Principal,
    id: i64,
    action: EventAction,
    params: serde_json::Value,
    now: NaiveDateTime,
) -> AppResult<HazardRow> {
    record_as(conn, action, params, Some(p.user_id), now, |c| {
        visible(c, p, id)
    })
}

/// `record` for someone without an account: the reporter of a public report, who proved it
/// with the report's secret (the event's actor stays empty).
pub fn record_anonymous(
    conn: &mut DbConn,
    id: i64,
    action: EventAction,
    params: serde_json::Value,
    now: NaiveDateTime,
) -> AppResult<HazardRow> {
    record_as(conn, action, params, None, now, |c| get(c, id))
}

fn record_as(
    conn: &mut DbConn,
    action: EventAction,
    params: serde_json::Value,
    actor: Option<i64>,
    now: NaiveDateTime,
    load: impl Fn(&mut DbConn) -> AppResult<HazardRow>,
) -> AppResult<HazardRow> {
    let fx = Effects {
        params,
        ..Effects::default()
    };
    for _ in 0..3 {
        let row = load(conn)?;
        if let Some(after) = write_effects(conn, &row, &fx, action, actor, now)? {
            return Ok(after);
        }
    }
    Err(AppError::new(
        ErrorCode::VersionConflict,
        "the case keeps changing; retry",
    ))
}

/// Moves a batch of overdue cases one level up (or flags them), as the system: the deadline
/// sweep. Each case's effects are the state machine's `expire`, exactly as for one case, but
/// cases with the same effects are updated by one statement, and their events and
/// notifications are written in multi-row INSERTs, so the cost is statements per batch rather
/// than per case. The caller holds the rows in this transaction (claimed `FOR UPDATE` on
/// PostgreSQL, under the write lock on SQLite) and read them after claiming, so they cannot
/// have changed since. Returns how many moved, how many stalled (`record_stalls`) and the ids
/// of those that needed nothing.
pub fn expire_batch(
    conn: &mut DbConn,
    rows: &[HazardRow],
    stations: &mut HashMap<i64, bool>,
    now: NaiveDateTime,
) -> AppResult<(usize, usize, Vec<i64>)> {
    let mut idle = Vec::new();
    let mut stalls = Vec::new();
    // (the same column changes, the cases they apply to, with each case's effects)
    let mut same: Vec<(Changes, Vec<(&HazardRow, Effects)>)> = Vec::new();
    for row in rows {
        let township = row.place()?.township_id;
        let has_station = match stations.get(&township) {
            Some(known) => *known,
            None => {
                let found = has_police_station(conn, township)?;
                stations.insert(township, found);
                found
            }
        };
        // Whether the case is a public report does not matter to its deadline.
        let Some(fx) = workflow::expire(&row.state(has_station, false)?, now.and_utc()) else {
            idle.push(row.id);
            continue;
        };
        if fx.stalled {
            stalls.push((row, fx));
            continue;
        }
        let changes = Changes::of(&fx, now);
        match same.iter_mut().find(|(c, _)| *c == changes) {
            Some((_, cases)) => cases.push((row, fx)),
            None => same.push((changes, vec![(row, fx)])),
        }
    }
    let mut moved = 0;
    for (changes, cases) in &same {
        let ids: Vec<i64> = cases.iter().map(|(row, _)| row.id).collect();
        let target = hazards::table.filter(hazards::id.eq_any(&ids));
        let set = (changes, hazards::version.eq(hazards::version + 1));
        let after: Vec<HazardRow> = per_backend!(conn, |c| diesel::update(target)
            .set(set)
            .returning(HazardRow::as_returning())
            .get_results(c))?;
        let after: HashMap<i64, HazardRow> = after.into_iter().map(|r| (r.id, r)).collect();
        let changed: Vec<(&HazardRow, &HazardRow, &Effects)> = cases
            .iter()
            .filter_map(|(before, fx)| after.get(&before.id).map(|a| (*before, a, fx)))
            .collect();
        let new_events: Vec<NewEvent> = changed
            .iter()
            .map(|(before, after, fx)| NewEvent {
                hazard_id: before.id,
                action: EventAction::DeadlineExpired,
                actor_user_id: None,
                from_status: Some(before.status),
                to_status: after.status,
                from_level: Some(before.level),
                to_level: after.level,
                params: &fx.params,
            })
            .collect();
        events::append_many(conn, &new_events, now)?;
        // `expire` always notifies the same way; group by it all the same, should that change.
        let mut by_notice: Vec<(Notify, Vec<(&HazardRow, &HazardRow)>)> = Vec::new();
        for (before, after, fx) in &changed {
            let Some(what) = fx.notify else { continue };
            match by_notice.iter_mut().find(|(w, _)| *w == what) {
                Some((_, pairs)) => pairs.push((before, after)),
                None => by_notice.push((what, vec![(before, after)])),
            }
        }
        for (what, pairs) in &by_notice {
            notify_changes(conn, pairs, *what, None, now)?;
        }
        moved += changed.len();
    }
    let stalled = record_stalls(conn, &stalls, now)?;
    Ok((moved, stalled, idle))
}

/// Overdue cases that cannot move on (a township without a police station) keep their
/// deadline; each (case, deadline) is recorded, put in the timeline and announced once. The
/// row's primary key decides "once": of two servers that claimed the case in turn, the second
/// INSERT finds the row and that server does nothing.
fn record_stalls(
    conn: &mut DbConn,
    stalls: &[(&HazardRow, Effects)],
    now: NaiveDateTime,
) -> AppResult<usize> {
    let mut fresh = Vec::new();
    for (row, fx) in stalls {
        let Some(deadline) = row.deadline else {
            continue;
        };
        let insert = diesel::insert_into(stalled_deadlines::table)
            .values((
                stalled_deadlines::hazard_id.eq(row.id),
                stalled_deadlines::deadline.eq(deadline),
                stalled_deadlines::created_at.eq(now),
            ))
            .on_conflict_do_nothing();
        // ON CONFLICT is per backend in diesel (not through the multi-backend connection).
        let inserted = per_backend!(conn, |c| insert.execute(c))?;
        if inserted == 1 {
            fresh.push((*row, fx));
        }
    }
    let new_events: Vec<NewEvent> = fresh
        .iter()
        .map(|(row, fx)| NewEvent {
            hazard_id: row.id,
            action: EventAction::DeadlineExpired,
            actor_user_id: None,
            from_status: Some(row.status),
            to_status: row.status,
            from_level: Some(row.level),
            to_level: row.level,
            params: &fx.params,
        })
        .collect();
    events::append_many(conn, &new_events, now)?;
    let pairs: Vec<(&HazardRow, &HazardRow)> = fresh.iter().map(|(row, _)| (*row, *row)).collect();
    notify_changes(conn, &pairs, Notify::NoPoliceStation, None, now)?;
    Ok(fresh.len())
}

/// Reminds the staff a day before a deadline, once per deadline.
pub fn remind(conn: &mut DbConn, row: &HazardRow, now: NaiveDateTime) -> AppResult<bool> {
    let n = diesel::update(
        hazards::table
            .find(row.id)
            .filter(hazards::deadline_reminded.eq(false)),
    )
    .set(hazards::deadline_reminded.eq(true))
    .execute(conn)?;
    if n == 0 {
        return Ok(false);
    }
    let place = row.place()?;
    let recipients = notify::staff(conn, place, workflow::staff_at(row.level))?;
    notify::send(
        conn,
        &recipients,
        None,
        Some(row.id),
        NotificationKind::DeadlineSoon,
        &staff_message(NotificationKind::DeadlineSoon, row, row.level),
        now,
    )?;
    Ok(true)
}

/// The API view of cases; `with_actions` adds what `p` may do to each.
pub fn to_api(
    conn: &mut DbConn,
    rows: &[HazardRow],
    p: Option<&Principal>,
    now: NaiveDateTime,
) -> AppResult<Vec<Hazard>> {
    // A page of one group's cases names it once: one `= ?` read that stays prepared.
    let mut group_ids: Vec<i64> = rows.iter().map(|r| r.group_id).collect();
    group_ids.sort_unstable();
    group_ids.dedup();
    let groups: HashMap<i64, RegionRef> = region_store::get_many(conn, &group_ids)?
        .into_iter()
        .map(|r| (r.id, r.to_ref()))
        .collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut companions = crate::public::store::for_cases(conn, &ids)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (report, patrol_id) = companions.remove(&r.id).unwrap_or_default();
        let group = groups
            .get(&r.group_id)
            .cloned()
            .ok_or_else(|| AppError::internal("group missing"))?;
        let (allowed_actions, possible_duplicates) = match p {
            Some(p) => {
                let police = has_police_station(conn, r.place()?.township_id)?;
                let duplicates = match r.status {
                    Status::PendingVerification | Status::Open => {
                        Some(crate::hazards::duplicates::of(conn, p, &r.into())?)
                    }
                    _ => None,
                };
                (
                    Some(allowed_for(p, r, police, report.is_some())?),
                    duplicates,
                )
            }
            None => (None, None),
        };
        let public_report = report.map(|rep| rep.staff_view(r, p, now));
        out.push(view(
            r,
            group,
            now,
            patrol_id,
            allowed_actions,
            public_report,
            possible_duplicates,
        ));
    }
    Ok(out)
}

/// What the reply to a new staff report reads besides the new row: its group, whether its
/// township has a police station, and the possible duplicates. None of it needs the row, so the
/// handler reads it before the write (`Caller::run_tx_after_read`): on SQLite off the writer
/// thread every write waits for, on PostgreSQL before the county's case counter is locked. Cases
/// committed in between are not among the duplicates, which are a hint to staff, not a rule.
pub struct ReplyFacts {
    pub destination: Destination,
    police_station: bool,
    duplicates: Vec<crate::hazards::duplicates::PossibleDuplicate>,
}

/// `ReplyFacts` for `new`, or `None` when the report will be refused anyway (no such group, not
/// a group, outside the caller's scope): the write then answers with the reason.
pub fn reply_facts(
    conn: &mut DbConn,
    p: &Principal,
    new: &NewHazard,
    now: NaiveDateTime,
) -> AppResult<Option<ReplyFacts>> {
    let destination = match destination(conn, p, new) {
        Ok(d) => d,
        Err(e) if e.code.status().is_client_error() => return Ok(None),
        Err(e) => return Err(e),
    };
    let (group, place) = (&destination.group, destination.place);
    let probe = crate::hazards::duplicates::Probe {
        id: None,
        county_id: place.county_id,
        group_id: group.id,
        premises_id: new.premises_id,
        category: new.category,
        lat: new.lat,
        lng: new.lng,
        created_at: now,
    };
    Ok(Some(ReplyFacts {
        police_station: has_police_station(conn, place.township_id)?,
        duplicates: crate::hazards::duplicates::of(conn, p, &probe)?,
        destination,
    }))
}

/// The reply to a new staff report from its row and the facts read before it was written (a new
/// report has no public report and no round: the patrol path goes through `to_api`).
pub fn new_case_to_api(
    p: &Principal,
    r: &HazardRow,
    facts: ReplyFacts,
    now: NaiveDateTime,
) -> AppResult<Hazard> {
    if facts.destination.group.id != r.group_id {
        return Err(AppError::internal("reply facts of another group"));
    }
    let allowed = allowed_for(p, r, facts.police_station, false)?;
    Ok(view(
        r,
        facts.destination.group.to_ref(),
        now,
        None,
        Some(allowed),
        None,
        Some(facts.duplicates),
    ))
}

/// What the caller may do with the case now.
fn allowed_for(
    p: &Principal,
    r: &HazardRow,
    police_station: bool,
    public_report: bool,
) -> AppResult<Vec<ActionKind>> {
    let state = r.state(police_station, public_report)?;
    Ok(workflow::allowed_actions(&state, &actor_for(p, r)))
}

/// The API view of one case, its companions already read.
fn view(
    r: &HazardRow,
    group: RegionRef,
    now: NaiveDateTime,
    patrol_id: Option<i64>,
    allowed_actions: Option<Vec<ActionKind>>,
    public_report: Option<crate::public::model::PublicReportInfo>,
    possible_duplicates: Option<Vec<crate::hazards::duplicates::PossibleDuplicate>>,
) -> Hazard {
    let status = r.status;
    Hazard {
        id: r.id,
        case_no: r.case_no.clone(),
        group,
        premises_id: r.premises_id,
        category: r.category,
        severity: r.severity,
        title: r.title.clone(),
        description: r.description.clone(),
        address: r.address.clone(),
        lat: r.lat,
        lng: r.lng,
        source: r.source,
        reporter_id: r.reporter_user_id,
        status,
        level: r.level,
        deadline: r.deadline.map(|d| d.and_utc()),
        overdue: status == Status::Open && r.deadline.is_some_and(|d| d < now),
        difficulty: r.difficulty,
        supervision_listed: r.supervision_listed,
        supervision_overdue: r.supervision_overdue,
        outcome: r.outcome,
        duplicate_of: r.duplicate_of,
        found_at: r.found_at.map(|t| t.and_utc()),
        created_at: r.created_at.and_utc(),
        updated_at: r.updated_at.and_utc(),
        closed_at: r.closed_at.map(|t| t.and_utc()),
        version: r.version,
        patrol_id,
        allowed_actions,
        public_report,
        possible_duplicates,
    }
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub level: Option<Level>,
    pub severity: Option<Severity>,
    pub category: Option<Category>,
    /// The subtree of this region (already checked to be visible).
    pub within: Option<Scope>,
    pub overdue: bool,
    pub listed: bool,
    /// Public reports whose first response came late or is late (48 hours).
    pub first_response_overdue: bool,
    pub created_from: Option<NaiveDateTime>,
    pub created_to: Option<NaiveDateTime>,
    pub before_id: Option<i64>,
    pub fetch: i64,
}

/// Cases in scope, newest first.
///
/// Each subtree of the scope (narrowed to `within`) is read by its own index walk that already
/// yields the newest cases first, and the walks are merged: a region at a grid tier or a county
/// is an equality on that tier's column of `hazards` with its `(tier, id)` index. Filtering the
/// path instead would walk the primary key past every newer case outside the scope, which costs
/// a small scope in a big province seconds (BENCHMARKS.md). Wider regions (a province or
/// prefecture, or everything) hold most cases anyway, so there the primary-key walk is cheap.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    f: &ListFilter,
    now: NaiveDateTime,
) -> AppResult<Vec<HazardRow>> {
    let visible = match &f.within {
        Some(w) => scope.intersect(w),
        None => scope.clone(),
    };
    let slices = slices(conn, &visible)?;
    let mut rows = Vec::new();
    for slice in &slices {
        rows.extend(list_slice(conn, slice, f, now)?);
    }
    if slices.len() > 1 {
        rows.sort_unstable_by_key(|r| std::cmp::Reverse(r.id));
        rows.truncate(usize::try_from(f.fetch).unwrap_or(0));
    }
    Ok(rows)
}

/// One part of a scope, as the list reads it.
#[derive(Debug, Clone, PartialEq)]
enum Slice {
    /// A county, township or group: an equality on that tier's column of `hazards`, whose
    /// `(tier, id)` index yields the newest cases first.
    County(i64),
    Township(i64),
    Group(i64),
    /// A village: its few hundred cases come from the path index and are sorted.
    Village(String),
    /// A province or prefecture (or everything): most cases match, so the primary key is
    /// walked newest first and each path tested, without the path index (SQLite would
    /// otherwise take it and sort the whole subtree).
    Wide(Scope),
}

/// Beyond this many subtrees (a user with many assignments) the list is one primary-key walk
/// testing all their paths instead of one index walk each.
const MAX_WALKS: usize = 8;

fn slices(conn: &mut DbConn, visible: &Scope) -> AppResult<Vec<Slice>> {
    let paths = match visible {
        Scope::Global => return Ok(vec![Slice::Wide(Scope::Global)]),
        Scope::Paths(paths) if paths.is_empty() => return Ok(Vec::new()),
        Scope::Paths(paths) if paths.len() > MAX_WALKS => {
            return Ok(vec![Slice::Wide(visible.clone())])
        }
        Scope::Paths(paths) => paths,
    };
    let roots = region_store::by_paths(conn, paths)?;
    Ok(paths
        .iter()
        .map(|path| {
            let root = roots.iter().find(|r| &r.path == path);
            match root.map(|r| (r.level, r.id)) {
                Some((RegionLevel::County, id)) => Slice::County(id),
                Some((RegionLevel::Township, id)) => Slice::Township(id),
                Some((RegionLevel::Village, _)) => Slice::Village(path.clone()),
                Some((RegionLevel::Group, id)) => Slice::Group(id),
                // Above the county, or a region deleted meanwhile (the path stays right).
                _ => Slice::Wide(Scope::Paths(vec![path.clone()])),
            }
        })
        .collect())
}

/// "The case's path starts with one of these", in a form no index can serve.
fn path_prefix_test(
    paths: &[String],
) -> Box<dyn BoxableExpression<hazards::table, MultiBackend, SqlType = Bool>> {
    use diesel::sql_types::Integer;
    let test = |p: &String| {
        diesel::dsl::sql::<Bool>("substr(region_path, 1, ")
            .bind::<Integer, _>(p.len() as i32)
            .sql(") = ")
            .bind::<Text, _>(p.clone())
    };
    let mut filter: Box<dyn BoxableExpression<hazards::table, MultiBackend, SqlType = Bool>> =
        Box::new(diesel::dsl::sql::<Bool>("1=0"));
    for p in paths {
        filter = Box::new(filter.or(test(p)));
    }
    filter
}

fn list_slice(
    conn: &mut DbConn,
    slice: &Slice,
    f: &ListFilter,
    now: NaiveDateTime,
) -> AppResult<Vec<HazardRow>> {
    let mut q = hazards::table
        .select(HazardRow::as_select())
        .order(hazards::id.desc())
        .limit(f.fetch)
        .into_boxed();
    q = match slice {
        Slice::County(id) => q.filter(hazards::county_id.eq(*id)),
        Slice::Township(id) => q.filter(hazards::township_id.eq(*id)),
        Slice::Group(id) => q.filter(hazards::group_id.eq(*id)),
        Slice::Village(path) => q
            .filter(hazards::region_path.ge(path.clone()))
            .filter(hazards::region_path.lt(subtree_end(path))),
        Slice::Wide(Scope::Global) => q,
        Slice::Wide(Scope::Paths(paths)) => q.filter(path_prefix_test(paths)),
    };
    if let Some(s) = f.status {
        q = q.filter(hazards::status.eq(s));
    }
    if let Some(l) = f.level {
        q = q.filter(hazards::level.eq(l));
    }
    if let Some(s) = f.severity {
        q = q.filter(hazards::severity.eq(s));
    }
    if let Some(c) = f.category {
        q = q.filter(hazards::category.eq(c));
    }
    if f.overdue {
        q = q
            .filter(hazards::status.eq(Status::Open))
            .filter(hazards::deadline.lt(now));
    }
    if f.listed {
        q = q.filter(hazards::supervision_listed.eq(true));
    }
    if f.first_response_overdue {
        use crate::db::schema::public_reports as pr;
        q = q.filter(
            hazards::id.eq_any(
                pr::table.select(pr::hazard_id).filter(
                    pr::first_response_overdue.eq(true).or(pr::first_response_at
                        .is_null()
                        .and(pr::first_response_due.lt(now))),
                ),
            ),
        );
    }
    if let Some(t) = f.created_from {
        q = q.filter(hazards::created_at.ge(t));
    }
    if let Some(t) = f.created_to {
        q = q.filter(hazards::created_at.lt(t));
    }
    if let Some(b) = f.before_id {
        q = q.filter(hazards::id.lt(b));
    }
    Ok(q.load(conn)?)
}

/// A uniform random sample of closed cases in `scope` ∩ `within` not spot-checked in the last
/// 90 days (网上抽查核实).
pub fn sample_closed(
    conn: &mut DbConn,
    scope: &Scope,
    within: &Scope,
    n: i64,
    now: NaiveDateTime,
) -> AppResult<Vec<HazardRow>> {
    let cutoff = now - chrono::Duration::days(90);
    Ok(hazards::table
        .select(HazardRow::as_select())
        .filter(scope_filter!(hazards::region_path, scope))
        .filter(scope_filter!(hazards::region_path, within))
        .filter(hazards::status.eq(Status::Closed))
        .filter(
            hazards::last_spot_checked_at
                .is_null()
                .or(hazards::last_spot_checked_at.lt(cutoff)),
        )
        .order(diesel::dsl::sql::<diesel::sql_types::Double>("random()"))
        .limit(n)
        .load(conn)?)
}
