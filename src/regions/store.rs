//! Region queries. Subtree membership uses the materialised `path` (see `auth::scope`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::scope::Scope;
use crate::db::schema::regions;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::regions::model::{RegionLevel, RegionRef, RegionRow};
use crate::scope_filter;

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<RegionRow> {
    regions::table.find(id).select(RegionRow::as_select()).first(conn).optional()?.ok_or_else(AppError::not_found)
}

pub fn get_many(conn: &mut DbConn, ids: &[i64]) -> AppResult<Vec<RegionRow>> {
    Ok(regions::table.filter(regions::id.eq_any(ids)).select(RegionRow::as_select()).load(conn)?)
}

/// The breadcrumb from the root down to the region's parent.
pub fn ancestors(conn: &mut DbConn, row: &RegionRow) -> AppResult<Vec<RegionRef>> {
    let ids = row.ancestor_ids();
    let mut found = get_many(conn, &ids)?;
    found.sort_by_key(|r| ids.iter().position(|i| *i == r.id));
    Ok(found.iter().map(RegionRow::to_ref).collect())
}

pub fn code_taken(conn: &mut DbConn, code: &str) -> AppResult<bool> {
    let n: i64 = regions::table.filter(regions::code.eq(code)).count().get_result(conn)?;
    Ok(n > 0)
}

/// Inserts a region under `parent` (or as a root). Run inside a transaction: the path needs the
/// new id, so it is written in a second statement.
pub fn insert(
    conn: &mut DbConn,
    parent: Option<&RegionRow>,
    level: RegionLevel,
    name: &str,
    code: &str,
    now: NaiveDateTime,
) -> AppResult<RegionRow> {
    let placeholder = format!("pending:{}", uuid::Uuid::new_v4());
    let id: i64 = diesel::insert_into(regions::table)
        .values((
            regions::parent_id.eq(parent.map(|p| p.id)),
            regions::level.eq(level.as_str()),
            regions::name.eq(name),
            regions::code.eq(code),
            regions::path.eq(&placeholder),
            regions::created_at.eq(now),
            regions::updated_at.eq(now),
        ))
        .returning(regions::id)
        .get_result(conn)?;
    let path = format!("{}{id}/", parent.map_or("/", |p| p.path.as_str()));
    diesel::update(regions::table.find(id)).set(regions::path.eq(&path)).execute(conn)?;
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
        q = q.filter(regions::level.eq(l.as_str()));
    }
    if let Some(a) = f.after_id {
        q = q.filter(regions::id.gt(a));
    }
    Ok(q.load(conn)?)
}
