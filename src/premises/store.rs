//! Premises queries. Each row carries its group's path, so a subtree is a range scan on
//! `premises_path` without touching `regions`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::scope::Scope;
use crate::db::schema::premises;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::premises::model::{Premises, PremisesCategory, PremisesRow, ValidPremises};
use crate::regions::model::{RegionLevel, RegionRef, RegionRow};
use crate::regions::store as region_store;
use crate::scope_filter;

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<PremisesRow> {
    premises::table
        .find(id)
        .select(PremisesRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// Premises must lie in a group (small grid): 422 on `field` otherwise.
pub fn ensure_group(region: &RegionRow, field: &str) -> AppResult<()> {
    if region.level != RegionLevel::Group {
        return Err(AppError::field(
            field,
            format!(
                "premises lie in a group; {} is a {}",
                region.name, region.level
            ),
        ));
    }
    Ok(())
}

/// The premises of this name in the group, if any (the import's premises key).
pub fn find_by_name(
    conn: &mut DbConn,
    group_id: i64,
    name: &str,
) -> AppResult<Option<PremisesRow>> {
    Ok(premises::table
        .filter(premises::group_id.eq(group_id))
        .filter(premises::name.eq(name))
        .select(PremisesRow::as_select())
        .first(conn)
        .optional()?)
}

fn name_taken(
    conn: &mut DbConn,
    group: &RegionRow,
    name: &str,
    except: Option<i64>,
) -> AppResult<()> {
    if let Some(found) = find_by_name(conn, group.id, name)? {
        if Some(found.id) != except {
            return Err(AppError::conflict(format!(
                "{} already has premises named {name}",
                group.name
            )));
        }
    }
    Ok(())
}

/// Every column validated premises in a group set: the values of an insert and the one UPDATE
/// of a change (a `None` writes NULL: a cleared contact or position).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = premises, treat_none_as_null = true)]
struct PremisesValues<'a> {
    group_id: i64,
    region_path: &'a str,
    name: &'a str,
    category: PremisesCategory,
    address: &'a str,
    lat: Option<f64>,
    lng: Option<f64>,
    contact_name: Option<&'a str>,
    contact_phone: Option<&'a str>,
    signage: bool,
    updated_at: NaiveDateTime,
}

impl<'a> PremisesValues<'a> {
    fn of(group: &'a RegionRow, v: &'a ValidPremises, now: NaiveDateTime) -> Self {
        PremisesValues {
            group_id: group.id,
            region_path: &group.path,
            name: &v.name,
            category: v.category,
            address: &v.address,
            lat: v.location.map(|l| l.0),
            lng: v.location.map(|l| l.1),
            contact_name: v.contact_name.as_deref(),
            contact_phone: v.contact_phone.as_deref(),
            signage: v.signage,
            updated_at: now,
        }
    }
}

pub fn insert(
    conn: &mut DbConn,
    group: &RegionRow,
    v: &ValidPremises,
    now: NaiveDateTime,
) -> AppResult<PremisesRow> {
    name_taken(conn, group, &v.name, None)?;
    let id: i64 = diesel::insert_into(premises::table)
        .values((
            PremisesValues::of(group, v, now),
            premises::created_at.eq(now),
        ))
        .returning(premises::id)
        .get_result(conn)?;
    get(conn, id)
}

/// Writes every field (and the group) of existing premises, in one UPDATE.
pub fn replace(
    conn: &mut DbConn,
    id: i64,
    group: &RegionRow,
    v: &ValidPremises,
    now: NaiveDateTime,
) -> AppResult<PremisesRow> {
    name_taken(conn, group, &v.name, Some(id))?;
    diesel::update(premises::table.find(id))
        .set(PremisesValues::of(group, v, now))
        .execute(conn)?;
    get(conn, id)
}

/// Removes premises that no hazard case and no round's check names (409 otherwise).
pub fn delete(conn: &mut DbConn, id: i64) -> AppResult<()> {
    use crate::db::schema::{hazards, patrol_checks};
    let cases: i64 = hazards::table
        .filter(hazards::premises_id.eq(id))
        .count()
        .get_result(conn)?;
    if cases > 0 {
        return Err(AppError::conflict(format!(
            "the premises are named by {cases} hazard cases"
        )));
    }
    let checks: i64 = patrol_checks::table
        .filter(patrol_checks::premises_id.eq(id))
        .count()
        .get_result(conn)?;
    if checks > 0 {
        return Err(AppError::conflict(format!(
            "the premises were checked on {checks} patrols or inspections"
        )));
    }
    diesel::delete(premises::table.find(id)).execute(conn)?;
    Ok(())
}

pub struct ListFilter {
    /// Only inside this region's subtree (its path).
    pub within: Option<String>,
    pub category: Option<PremisesCategory>,
    pub group_id: Option<i64>,
    /// Only premises not checked since this time (or never).
    pub unchecked_since: Option<NaiveDateTime>,
    pub after_id: Option<i64>,
    pub fetch: i64,
}

pub fn list(conn: &mut DbConn, scope: &Scope, f: &ListFilter) -> AppResult<Vec<PremisesRow>> {
    let mut q = premises::table
        .select(PremisesRow::as_select())
        .order(premises::id.asc())
        .limit(f.fetch)
        .into_boxed();
    // One subtree (the usual case) as a bare range: SQLite's planner uses `premises_path` for
    // `a <= path < b` but not behind the `1=0 OR …` that `scope_filter!` starts from.
    match scope.ranges().as_slice() {
        [(start, end)] => {
            q = q.filter(
                premises::region_path
                    .ge(start.clone())
                    .and(premises::region_path.lt(end.clone())),
            )
        }
        _ => q = q.filter(scope_filter!(premises::region_path, scope)),
    }
    if let Some(w) = &f.within {
        q = q.filter(
            premises::region_path
                .ge(w.clone())
                .and(premises::region_path.lt(crate::auth::scope::subtree_end(w))),
        );
    }
    if let Some(c) = f.category {
        q = q.filter(premises::category.eq(c));
    }
    if let Some(g) = f.group_id {
        q = q.filter(premises::group_id.eq(g));
    }
    if let Some(t) = f.unchecked_since {
        q = q.filter(
            premises::last_checked_at
                .is_null()
                .or(premises::last_checked_at.lt(t)),
        );
    }
    if let Some(a) = f.after_id {
        q = q.filter(premises::id.gt(a));
    }
    Ok(q.load(conn)?)
}

/// The API view, groups resolved in one query for any number of rows.
pub fn to_api(conn: &mut DbConn, rows: &[PremisesRow]) -> AppResult<Vec<Premises>> {
    let group_ids: Vec<i64> = rows.iter().map(|r| r.group_id).collect();
    let groups: HashMap<i64, RegionRef> = region_store::get_many(conn, &group_ids)?
        .into_iter()
        .map(|r| (r.id, r.to_ref()))
        .collect();
    rows.iter()
        .map(|r| {
            Ok(Premises {
                id: r.id,
                group: groups
                    .get(&r.group_id)
                    .cloned()
                    .ok_or_else(|| AppError::internal("premises group missing"))?,
                name: r.name.clone(),
                category: r.category,
                address: r.address.clone(),
                lat: r.lat,
                lng: r.lng,
                contact_name: r.contact_name.clone(),
                contact_phone: r.contact_phone.clone(),
                signage: r.signage,
                created_at: r.created_at.and_utc(),
                updated_at: r.updated_at.and_utc(),
                last_checked_at: r.last_checked_at.map(|t| t.and_utc()),
                last_check_kind: r.last_check_kind,
            })
        })
        .collect()
}
