//! Region queries. Subtree membership uses the materialised `path` (see `auth::scope`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::scope::Scope;
use crate::db::schema::regions;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::regions::model::{PersonRef, RegionLevel, RegionRef, RegionRow};
use crate::scope_filter;

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<RegionRow> {
    regions::table
        .find(id)
        .select(RegionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

pub fn get_many(conn: &mut DbConn, ids: &[i64]) -> AppResult<Vec<RegionRow>> {
    if let [id] = ids {
        // One case's group (every single-case response): a fixed-shape statement that diesel
        // keeps prepared, where an `IN (…)` list would be parsed afresh each time.
        return Ok(regions::table
            .find(*id)
            .select(RegionRow::as_select())
            .load(conn)?);
    }
    Ok(regions::table
        .filter(regions::id.eq_any(ids))
        .select(RegionRow::as_select())
        .load(conn)?)
}

/// The breadcrumb from the root down to the region's parent.
pub fn ancestors(conn: &mut DbConn, row: &RegionRow) -> AppResult<Vec<RegionRef>> {
    let ids = row.ancestor_ids();
    let mut found = get_many(conn, &ids)?;
    found.sort_by_key(|r| ids.iter().position(|i| *i == r.id));
    Ok(found.iter().map(RegionRow::to_ref).collect())
}

pub fn code_taken(conn: &mut DbConn, code: &str) -> AppResult<bool> {
    let n: i64 = regions::table
        .filter(regions::code.eq(code))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Why a new region cannot go where it was asked to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misplaced {
    /// Only a province, prefecture or county may be a root.
    NotARoot,
    /// A child lies exactly one level below its parent: `expected` (nothing below a group).
    WrongLevel {
        parent: RegionLevel,
        expected: Option<RegionLevel>,
    },
}

/// The placement rule of every new region, created over HTTP or by an import.
pub fn placement(parent: Option<&RegionRow>, level: RegionLevel) -> Result<(), Misplaced> {
    match parent {
        None if !level.may_be_root() => Err(Misplaced::NotARoot),
        Some(p) if p.level.child() != Some(level) => Err(Misplaced::WrongLevel {
            parent: p.level,
            expected: p.level.child(),
        }),
        _ => Ok(()),
    }
}

/// Creates a region under `parent` (or as a root) for a caller already authorised there: the
/// placement rule (422 on `level`), a code used nowhere else (409), then the row. Run inside a
/// transaction.
pub fn create(
    conn: &mut DbConn,
    parent: Option<&RegionRow>,
    level: RegionLevel,
    name: &str,
    code: &str,
    now: NaiveDateTime,
) -> AppResult<RegionRow> {
    placement(parent, level).map_err(|m| match m {
        Misplaced::NotARoot => AppError::field(
            "level",
            "a root region must be a province, prefecture or county",
        ),
        Misplaced::WrongLevel { parent, expected } => AppError::field(
            "level",
            format!(
                "a child of a {parent} must be a {}",
                expected.map_or_else(
                    || "nothing (groups have no children)".to_string(),
                    |l| l.to_string()
                )
            ),
        ),
    })?;
    if code_taken(conn, code)? {
        return Err(AppError::conflict(format!(
            "region code {code} is already used"
        )));
    }
    // The path needs the new id, so it is written in a second statement.
    let placeholder = format!("pending:{}", uuid::Uuid::new_v4());
    let id: i64 = diesel::insert_into(regions::table)
        .values((
            regions::parent_id.eq(parent.map(|p| p.id)),
            regions::level.eq(level),
            regions::name.eq(name),
            regions::code.eq(code),
            regions::path.eq(&placeholder),
            regions::created_at.eq(now),
            regions::updated_at.eq(now),
        ))
        .returning(regions::id)
        .get_result(conn)?;
    let path = format!("{}{id}/", parent.map_or("/", |p| p.path.as_str()));
    diesel::update(regions::table.find(id))
        .set(regions::path.eq(&path))
        .execute(conn)?;
    get(conn, id)
}

pub struct ListFilter {
    pub parent_id: Option<i64>,
    pub level: Option<RegionLevel>,
    pub after_id: Option<i64>,
    /// Rows to fetch (page size + 1).
    pub fetch: i64,
}

pub fn list(conn: &mut DbConn, scope: &Scope, f: &ListFilter) -> AppResult<Vec<RegionRow>> {
    let mut q = regions::table
        .select(RegionRow::as_select())
        .filter(scope_filter!(regions::path, scope))
        .order(regions::id.asc())
        .limit(f.fetch)
        .into_boxed();
    if let Some(p) = f.parent_id {
        q = q.filter(regions::parent_id.eq(p));
    }
    if let Some(l) = f.level {
        q = q.filter(regions::level.eq(l));
    }
    if let Some(a) = f.after_id {
        q = q.filter(regions::id.gt(a));
    }
    Ok(q.load(conn)?)
}

/// Renames a region and/or changes its code; a code used by another region is a conflict.
pub fn update(
    conn: &mut DbConn,
    id: i64,
    name: Option<&str>,
    code: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<RegionRow> {
    if let Some(code) = code {
        let other: i64 = regions::table
            .filter(regions::code.eq(code))
            .filter(regions::id.ne(id))
            .count()
            .get_result(conn)?;
        if other > 0 {
            return Err(AppError::conflict(format!(
                "region code {code} is already used"
            )));
        }
        diesel::update(regions::table.find(id))
            .set(regions::code.eq(code))
            .execute(conn)?;
    }
    if let Some(name) = name {
        diesel::update(regions::table.find(id))
            .set(regions::name.eq(name))
            .execute(conn)?;
    }
    diesel::update(regions::table.find(id))
        .set(regions::updated_at.eq(now))
        .execute(conn)?;
    get(conn, id)
}

/// What still refers to a region, as short reasons for a 409 ("2 child regions", …); empty
/// when it may be deleted.
pub fn references(conn: &mut DbConn, id: i64) -> AppResult<Vec<String>> {
    use crate::db::schema::{
        organization_jurisdictions, organizations, premises, role_assignments, users,
    };
    let children: i64 = regions::table
        .filter(regions::parent_id.eq(id))
        .count()
        .get_result(conn)?;
    let homes: i64 = users::table
        .filter(users::region_id.eq(id))
        .count()
        .get_result(conn)?;
    let roles: i64 = role_assignments::table
        .filter(role_assignments::region_id.eq(id))
        .count()
        .get_result(conn)?;
    let points: i64 = premises::table
        .filter(premises::group_id.eq(id))
        .count()
        .get_result(conn)?;
    let orgs: i64 = organizations::table
        .filter(organizations::region_id.eq(id))
        .count()
        .get_result(conn)?;
    let juris: i64 = organization_jurisdictions::table
        .filter(organization_jurisdictions::region_id.eq(id))
        .count()
        .get_result(conn)?;
    let cases = hazard_references(conn, id)?;
    let reasons = [
        (children, "child regions"),
        (homes, "accounts living there"),
        (roles, "role assignments"),
        (points, "premises"),
        (orgs, "organisations sitting there"),
        (juris, "organisations answering for it"),
        (cases, "hazard cases"),
    ];
    Ok(reasons
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect())
}

/// Hazard cases filed in the region: as their group, or as their county. (Tables added later
/// that refer to regions should be counted here too; until they are, their foreign keys still
/// refuse the delete, and that refusal reaches the client as 409 as well.)
fn hazard_references(conn: &mut DbConn, region_id: i64) -> AppResult<i64> {
    use crate::db::schema::hazards;
    Ok(hazards::table
        .filter(
            hazards::group_id
                .eq(region_id)
                .or(hazards::county_id.eq(region_id)),
        )
        .count()
        .get_result(conn)?)
}

pub fn delete(conn: &mut DbConn, id: i64) -> AppResult<()> {
    diesel::delete(regions::table.find(id)).execute(conn)?;
    Ok(())
}

/// Whether `user_id` (an enabled account) holds one of `roles` bound to region `on`.
pub fn holds_role_on(
    conn: &mut DbConn,
    user_id: i64,
    roles: &[crate::auth::roles::Role],
    on: i64,
) -> AppResult<bool> {
    Ok(role_holders(conn, roles, on)?.contains(&user_id))
}

/// The enabled accounts holding one of `roles` bound to region `on`, by id.
pub fn role_holders(
    conn: &mut DbConn,
    roles: &[crate::auth::roles::Role],
    on: i64,
) -> AppResult<Vec<i64>> {
    use crate::db::schema::{role_assignments, users};
    Ok(role_assignments::table
        .inner_join(users::table)
        .filter(role_assignments::region_id.eq(on))
        .filter(role_assignments::role.eq_any(roles))
        .filter(users::disabled.eq(false))
        .select(role_assignments::user_id)
        .distinct()
        .order(role_assignments::user_id.asc())
        .load(conn)?)
}

/// Sets or clears the responsible supervisor. The caller has checked that they qualify.
pub fn set_supervisor(
    conn: &mut DbConn,
    id: i64,
    user_id: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<RegionRow> {
    diesel::update(regions::table.find(id))
        .set((
            regions::supervisor_user_id.eq(user_id),
            regions::updated_at.eq(now),
        ))
        .execute(conn)?;
    get(conn, id)
}

/// The people behind user ids, for showing supervisors and roster members.
pub fn people(
    conn: &mut DbConn,
    ids: &[i64],
) -> AppResult<std::collections::HashMap<i64, PersonRef>> {
    use crate::db::schema::users;
    let rows: Vec<(i64, String, Option<String>)> = users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::display_name, users::phone))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, display_name, phone)| {
            (
                id,
                PersonRef {
                    id,
                    display_name,
                    phone,
                },
            )
        })
        .collect())
}

/// Every region in the subtree under `path` (the region itself included), by path.
pub fn subtree(conn: &mut DbConn, path: &str) -> AppResult<Vec<RegionRow>> {
    Ok(regions::table
        .filter(regions::path.ge(path))
        .filter(regions::path.lt(crate::auth::scope::subtree_end(path)))
        .order(regions::path.asc())
        .select(RegionRow::as_select())
        .load(conn)?)
}

/// Regions with these codes, in chunks small enough for either backend's parameter limit.
pub fn by_codes(conn: &mut DbConn, codes: &[String]) -> AppResult<Vec<RegionRow>> {
    let mut out = Vec::new();
    for chunk in codes.chunks(1000) {
        out.extend(
            regions::table
                .filter(regions::code.eq_any(chunk))
                .select(RegionRow::as_select())
                .load::<RegionRow>(conn)?,
        );
    }
    Ok(out)
}

/// Regions with these materialised paths (a scope's handful of subtree roots).
pub fn by_paths(conn: &mut DbConn, paths: &[String]) -> AppResult<Vec<RegionRow>> {
    Ok(regions::table
        .filter(regions::path.eq_any(paths))
        .select(RegionRow::as_select())
        .load(conn)?)
}
