use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::scope::Scope;
use crate::db::schema::{organization_jurisdictions, organizations, regions};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::organizations::model::{OrgKind, OrgRow, Organization};
use crate::regions::model::{RegionRef, RegionRow};
use crate::regions::store as region_store;
use crate::scope_filter;

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<OrgRow> {
    organizations::table
        .find(id)
        .select(OrgRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// Paths of the regions an organisation sits in and answers for: it is visible to whoever
/// sees any of them (a township official sees the station that polices the township).
pub fn visibility_paths(conn: &mut DbConn, org: &OrgRow) -> AppResult<Vec<String>> {
    let mut paths: Vec<String> = organization_jurisdictions::table
        .inner_join(regions::table)
        .filter(organization_jurisdictions::organization_id.eq(org.id))
        .select(regions::path)
        .load(conn)?;
    paths.push(region_store::get(conn, org.region_id)?.path);
    Ok(paths)
}

/// Everything an organisation reaches: where it sits and its whole jurisdiction. A role on it,
/// or a change to its jurisdiction, is only for administrators whose scope covers all of it.
pub fn reach(conn: &mut DbConn, org: &OrgRow) -> AppResult<Scope> {
    Ok(Scope::from_paths(visibility_paths(conn, org)?))
}

pub fn insert(
    conn: &mut DbConn,
    kind: OrgKind,
    name: &str,
    region_id: i64,
    now: NaiveDateTime,
) -> AppResult<OrgRow> {
    let id: i64 = diesel::insert_into(organizations::table)
        .values((
            organizations::kind.eq(kind),
            organizations::name.eq(name),
            organizations::region_id.eq(region_id),
            organizations::created_at.eq(now),
            organizations::updated_at.eq(now),
        ))
        .returning(organizations::id)
        .get_result(conn)?;
    get(conn, id)
}

/// Replaces the jurisdiction. The caller has checked levels and scope; a region already held by
/// another organisation of the same kind is a conflict.
pub fn set_jurisdiction(
    conn: &mut DbConn,
    org: &OrgRow,
    kind: OrgKind,
    regions_: &[RegionRow],
) -> AppResult<()> {
    let ids: Vec<i64> = regions_.iter().map(|r| r.id).collect();
    let taken: Vec<(i64, String)> = organization_jurisdictions::table
        .inner_join(regions::table)
        .filter(organization_jurisdictions::kind.eq(kind))
        .filter(organization_jurisdictions::region_id.eq_any(&ids))
        .filter(organization_jurisdictions::organization_id.ne(org.id))
        .select((regions::id, regions::name))
        .load(conn)?;
    if let Some((_, name)) = taken.first() {
        return Err(AppError::conflict(format!(
            "{name} already belongs to another {kind}"
        )));
    }
    diesel::delete(
        organization_jurisdictions::table
            .filter(organization_jurisdictions::organization_id.eq(org.id)),
    )
    .execute(conn)?;
    for id in ids {
        diesel::insert_into(organization_jurisdictions::table)
            .values((
                organization_jurisdictions::organization_id.eq(org.id),
                organization_jurisdictions::kind.eq(kind),
                organization_jurisdictions::region_id.eq(id),
            ))
            .execute(conn)?;
    }
    diesel::update(organizations::table.find(org.id))
        .set(organizations::updated_at.eq(crate::db::now()))
        .execute(conn)?;
    Ok(())
}

/// The API view of organisations for a caller who sees `viewer`: their region and jurisdiction
/// resolved, the jurisdiction named only inside the viewer's scope.
pub fn to_api(conn: &mut DbConn, rows: &[OrgRow], viewer: &Scope) -> AppResult<Vec<Organization>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let juris: Vec<(i64, RegionRow)> = organization_jurisdictions::table
        .inner_join(regions::table)
        .filter(organization_jurisdictions::organization_id.eq_any(&ids))
        .order(regions::id.asc())
        .select((
            organization_jurisdictions::organization_id,
            RegionRow::as_select(),
        ))
        .load(conn)?;
    let mut by_org: HashMap<i64, Vec<RegionRef>> = HashMap::new();
    let mut withheld: HashMap<i64, Vec<i64>> = HashMap::new();
    for (org, r) in juris {
        if viewer.contains(&r.path) {
            by_org.entry(org).or_default().push(r.to_ref());
        } else {
            withheld.entry(org).or_default().push(r.id);
        }
    }
    let home_ids: Vec<i64> = rows.iter().map(|r| r.region_id).collect();
    let homes: HashMap<i64, RegionRef> = region_store::get_many(conn, &home_ids)?
        .into_iter()
        .map(|r| (r.id, r.to_ref()))
        .collect();
    rows.iter()
        .map(|r| {
            Ok(Organization {
                id: r.id,
                kind: r.kind,
                name: r.name.clone(),
                region: homes
                    .get(&r.region_id)
                    .cloned()
                    .ok_or_else(|| AppError::internal("org region missing"))?,
                jurisdiction: by_org.remove(&r.id).unwrap_or_default(),
                jurisdiction_outside_scope: withheld.remove(&r.id).unwrap_or_default(),
                created_at: r.created_at.and_utc(),
                updated_at: r.updated_at.and_utc(),
            })
        })
        .collect()
}

pub struct ListFilter {
    pub kind: Option<OrgKind>,
    pub region_id: Option<i64>,
    pub after_id: Option<i64>,
    pub fetch: i64,
}

/// Organisations sitting in the scope or answering for a region in it.
pub fn list(conn: &mut DbConn, scope: &Scope, f: &ListFilter) -> AppResult<Vec<OrgRow>> {
    let via_jurisdiction: Vec<i64> = organization_jurisdictions::table
        .inner_join(regions::table)
        .filter(scope_filter!(regions::path, scope))
        .select(organization_jurisdictions::organization_id)
        .distinct()
        .load(conn)?;
    let mut q = organizations::table
        .inner_join(regions::table)
        .filter(scope_filter!(regions::path, scope).or(organizations::id.eq_any(via_jurisdiction)))
        .select(OrgRow::as_select())
        .order(organizations::id.asc())
        .limit(f.fetch)
        .into_boxed();
    if let Some(k) = f.kind {
        q = q.filter(organizations::kind.eq(k));
    }
    if let Some(r) = f.region_id {
        q = q.filter(organizations::region_id.eq(r));
    }
    if let Some(a) = f.after_id {
        q = q.filter(organizations::id.gt(a));
    }
    Ok(q.load(conn)?)
}
