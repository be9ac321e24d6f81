//! Rounds in the database: a round, its checks, the premises' last check and the cases it
//! found, written in the caller's one transaction; scoped reads.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::auth::principal::Principal;
use crate::auth::scope::{subtree_end, Scope};
use crate::db::schema::{hazards, patrol_checks, patrol_hazards, patrols, premises};
use crate::db::DbConn;
use crate::error::{AppError, AppResult, FieldError};
use crate::hazards::model::{Severity, Status};
use crate::hazards::store as hazard_store;
use crate::patrols::model::*;
use crate::regions::model::RegionRef;
use crate::regions::store as region_store;
use crate::{per_backend, scope_filter};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = patrols)]
pub struct PatrolRow {
    pub id: i64,
    pub kind: PatrolKind,
    pub region_id: i64,
    pub region_path: String,
    pub theme: Option<String>,
    pub local_date: String,
    pub started_at: NaiveDateTime,
    pub ended_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub recorded_by: i64,
    pub track: Option<String>,
}

/// The day a moment falls on in the deployment's time zone, as stored (`YYYY-MM-DD`).
pub fn local_date(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// Records a round (already `validate`d) in the caller's transaction: 404 for a region outside
/// the caller's scope, 403 without a role that records this kind there, 422 naming the check
/// or hazard that lies outside the round's region.
pub fn create(
    conn: &mut DbConn,
    p: &Principal,
    new: &NewPatrol,
    tz: chrono_tz::Tz,
    now: NaiveDateTime,
) -> AppResult<PatrolRow> {
    let kind = new.kind();
    let region_field = if new.group_id.is_some() {
        "group_id"
    } else {
        "region_id"
    };
    let region = region_store::get(conn, new.region()?)?;
    if !p.scope.contains(&region.path) {
        return Err(AppError::not_found());
    }
    let may = p
        .assignments
        .iter()
        .any(|a| kind.recorders().contains(&a.role) && a.scope.contains(&region.path));
    if !may {
        return Err(AppError::forbidden(format!(
            "a {kind} is recorded by {} of the region",
            kind.recorders()
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if region.level != kind.level() {
        return Err(AppError::field(
            region_field,
            format!(
                "a {kind} covers a {}; {} is a {}",
                kind.level(),
                region.name,
                region.level
            ),
        ));
    }

    // Everything the round names must lie in its region: all offenders reported at once.
    let inside = |path: &str| path.starts_with(region.path.as_str());
    let ids: Vec<i64> = new.checks.iter().map(|c| c.premises_id).collect();
    let mut found: HashMap<i64, String> = HashMap::new();
    for chunk in ids.chunks(1000) {
        found.extend(
            premises::table
                .filter(premises::id.eq_any(chunk))
                .select((premises::id, premises::region_path))
                .load::<(i64, String)>(conn)?,
        );
    }
    let mut errors = Vec::new();
    for (i, c) in new.checks.iter().enumerate() {
        if !found.get(&c.premises_id).is_some_and(|path| inside(path)) {
            errors.push(FieldError {
                field: format!("checks[{i}].premises_id"),
                message: format!("is not a premises of {}", region.name),
            });
        }
    }
    let group_ids: Vec<i64> = new.hazards.iter().map(|h| h.group_id).collect();
    let groups: HashMap<i64, String> = region_store::get_many(conn, &group_ids)?
        .into_iter()
        .map(|g| (g.id, g.path))
        .collect();
    for (i, h) in new.hazards.iter().enumerate() {
        if !groups.get(&h.group_id).is_some_and(|path| inside(path)) {
            errors.push(FieldError {
                field: format!("hazards[{i}].group_id"),
                message: format!("is not a group of {}", region.name),
            });
        }
    }
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }

    let started = new.started_at.naive_utc();
    let track = new.track.as_ref().map(|t| t.to_string());
    let id: i64 = diesel::insert_into(patrols::table)
        .values((
            patrols::kind.eq(kind),
            patrols::region_id.eq(region.id),
            patrols::region_path.eq(&region.path),
            patrols::theme.eq(new.theme.as_deref().map(str::trim)),
            patrols::local_date.eq(local_date(new.started_at, tz).to_string()),
            patrols::started_at.eq(started),
            patrols::ended_at.eq(new.ended_at.naive_utc()),
            patrols::recorded_at.eq(now),
            patrols::recorded_by.eq(p.user_id),
            patrols::track.eq(track),
        ))
        .returning(patrols::id)
        .get_result(conn)?;

    let rows: Vec<_> = new
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                patrol_checks::patrol_id.eq(id),
                patrol_checks::seq.eq(i as i32),
                patrol_checks::premises_id.eq(c.premises_id),
                patrol_checks::result.eq(c.result),
                patrol_checks::note.eq(c.note.as_deref().map(str::trim)),
            )
        })
        .collect();
    for chunk in rows.chunks(500) {
        let insert = diesel::insert_into(patrol_checks::table).values(chunk);
        per_backend!(conn, |c| insert.execute(c))?;
    }
    // A round sent late (offline) does not hide a later one already recorded.
    for chunk in ids.chunks(1000) {
        diesel::update(
            premises::table.filter(premises::id.eq_any(chunk)).filter(
                premises::last_checked_at
                    .is_null()
                    .or(premises::last_checked_at.le(started)),
            ),
        )
        .set((
            premises::last_checked_at.eq(started),
            premises::last_check_kind.eq(kind),
        ))
        .execute(conn)?;
    }
    // The cases: exactly what `POST /hazards` does, linked to the round.
    for (i, h) in new.hazards.iter().enumerate() {
        hazard_store::create_found_on(conn, p, h, Some(id), now)
            .map_err(|e| item_errors(e, "hazards", i))?;
    }
    get(conn, id)
}

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<PatrolRow> {
    patrols::table
        .find(id)
        .select(PatrolRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// A round the caller can see (its region in their scope); 404 for any other.
pub fn visible(conn: &mut DbConn, p: &Principal, id: i64) -> AppResult<PatrolRow> {
    let row = get(conn, id)?;
    if !p.scope.contains(&row.region_path) {
        return Err(AppError::not_found());
    }
    Ok(row)
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Only rounds in this region's subtree (its path, already checked to be visible).
    pub within: Option<String>,
    pub kind: Option<PatrolKind>,
    /// Local days, inclusive (`YYYY-MM-DD` compares as text).
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub before_id: Option<i64>,
    pub fetch: i64,
}

/// Rounds in scope, newest first.
pub fn list(conn: &mut DbConn, scope: &Scope, f: &ListFilter) -> AppResult<Vec<PatrolRow>> {
    let mut q = patrols::table
        .select(PatrolRow::as_select())
        .filter(scope_filter!(patrols::region_path, scope))
        .order(patrols::id.desc())
        .limit(f.fetch)
        .into_boxed();
    if let Some(w) = &f.within {
        q = q
            .filter(patrols::region_path.ge(w.clone()))
            .filter(patrols::region_path.lt(subtree_end(w)));
    }
    if let Some(k) = f.kind {
        q = q.filter(patrols::kind.eq(k));
    }
    if let Some(d) = f.from {
        q = q.filter(patrols::local_date.ge(d.to_string()));
    }
    if let Some(d) = f.to {
        q = q.filter(patrols::local_date.le(d.to_string()));
    }
    if let Some(b) = f.before_id {
        q = q.filter(patrols::id.lt(b));
    }
    Ok(q.load(conn)?)
}

type CheckLine = (i64, i32, i64, String, CheckResult, Option<String>);
type CaseLine = (i64, i64, String, String, Severity, Status);

/// The API view of rounds: regions, checks and cases read in one query each.
pub fn to_api(conn: &mut DbConn, rows: &[PatrolRow]) -> AppResult<Vec<Patrol>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let region_ids: Vec<i64> = rows.iter().map(|r| r.region_id).collect();
    let regions: HashMap<i64, RegionRef> = region_store::get_many(conn, &region_ids)?
        .into_iter()
        .map(|r| (r.id, r.to_ref()))
        .collect();
    let checks: Vec<CheckLine> = patrol_checks::table
        .inner_join(premises::table)
        .filter(patrol_checks::patrol_id.eq_any(&ids))
        .order((patrol_checks::patrol_id, patrol_checks::seq))
        .select((
            patrol_checks::patrol_id,
            patrol_checks::seq,
            patrol_checks::premises_id,
            premises::name,
            patrol_checks::result,
            patrol_checks::note,
        ))
        .load(conn)?;
    let cases: Vec<CaseLine> = patrol_hazards::table
        .inner_join(hazards::table)
        .filter(patrol_hazards::patrol_id.eq_any(&ids))
        .order(hazards::id)
        .select((
            patrol_hazards::patrol_id,
            hazards::id,
            hazards::case_no,
            hazards::title,
            hazards::severity,
            hazards::status,
        ))
        .load(conn)?;
    let mut by_patrol: HashMap<i64, (Vec<Check>, Vec<PatrolCase>)> = HashMap::new();
    for (pid, _, premises_id, premises_name, result, note) in checks {
        by_patrol.entry(pid).or_default().0.push(Check {
            premises_id,
            premises_name,
            result,
            note,
        });
    }
    for (pid, id, case_no, title, severity, status) in cases {
        by_patrol.entry(pid).or_default().1.push(PatrolCase {
            id,
            case_no,
            title,
            severity,
            status,
        });
    }
    rows.iter()
        .map(|r| {
            let (checks, hazards) = by_patrol.remove(&r.id).unwrap_or_default();
            Ok(Patrol {
                id: r.id,
                kind: r.kind,
                region: regions
                    .get(&r.region_id)
                    .cloned()
                    .ok_or_else(|| AppError::internal("patrol region missing"))?,
                theme: r.theme.clone(),
                local_date: r.local_date.clone(),
                started_at: r.started_at.and_utc(),
                ended_at: r.ended_at.and_utc(),
                recorded_at: r.recorded_at.and_utc(),
                recorded_by: r.recorded_by,
                track: r
                    .track
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok()),
                checks,
                hazards,
            })
        })
        .collect()
}
