//! Account queries: accounts, their role assignments and sessions, as HTTP and the importer use
//! them.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::principal::load_assignments;
use crate::auth::roles::Role;
use crate::auth::scope::Scope;
use crate::db::schema::{auth_sessions, regions, role_assignments, users};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::organizations::store as org_store;
use crate::regions::model::{RegionRef, RegionRow};
use crate::regions::store as region_store;
use crate::scope_filter;
use crate::users::model::{User, UserRow};
use crate::vocab::Background;

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<UserRow> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> AppResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// The path of the account's home region; `None` for a global account.
pub fn home_path(conn: &mut DbConn, user: &UserRow) -> AppResult<Option<String>> {
    user.region_id
        .map(|r| region_store::get(conn, r).map(|r| r.path))
        .transpose()
}

/// Everything an account reaches through its roles: each role's scope, and for a role on an
/// organisation also where the organisation sits. A global administrator reaches everything.
pub fn reach(conn: &mut DbConn, user_id: i64) -> AppResult<Scope> {
    let held = load_assignments(conn, &[user_id])?
        .remove(&user_id)
        .unwrap_or_default();
    let mut reach = Scope::empty();
    for a in held {
        if let Some(org) = &a.organization {
            let org = org_store::get(conn, org.id)?;
            reach = reach.union(org_store::reach(conn, &org)?);
        }
        reach = reach.union(a.scope);
    }
    Ok(reach)
}

pub struct NewUserRow<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub phone: Option<&'a str>,
    pub region_id: Option<i64>,
    pub password_hash: &'a str,
}

pub fn insert(conn: &mut DbConn, u: NewUserRow<'_>, now: NaiveDateTime) -> AppResult<UserRow> {
    if find_by_username(conn, u.username)?.is_some() {
        return Err(AppError::conflict(format!(
            "username {} is already taken",
            u.username
        )));
    }
    let id: i64 = diesel::insert_into(users::table)
        .values((
            users::username.eq(u.username),
            users::display_name.eq(u.display_name),
            users::phone.eq(u.phone),
            users::region_id.eq(u.region_id),
            users::password_hash.eq(u.password_hash),
            users::disabled.eq(false),
            users::token_version.eq(1),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .returning(users::id)
        .get_result(conn)?;
    get(conn, id)
}

/// What a change of an account sets, in one UPDATE: a `None` leaves the column as it is.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub display_name: Option<String>,
    /// `Some(None)` clears the phone.
    pub phone: Option<Option<String>>,
    pub region_id: Option<i64>,
    pub disabled: Option<bool>,
    pub updated_at: NaiveDateTime,
}

impl UserChanges {
    /// Nothing but the time of the change.
    pub fn at(now: NaiveDateTime) -> Self {
        UserChanges {
            display_name: None,
            phone: None,
            region_id: None,
            disabled: None,
            updated_at: now,
        }
    }
}

/// Changes an account. Disabling an enabled account ends all its sessions at once and releases
/// the regions it supervised (`regions::supervision::release_lapsed`).
pub fn update(conn: &mut DbConn, row: &UserRow, changes: &UserChanges) -> AppResult<()> {
    diesel::update(users::table.find(row.id))
        .set(changes)
        .execute(conn)?;
    if changes.disabled == Some(true) && !row.disabled {
        revoke_all_tokens(conn, row.id, "account disabled")?;
        crate::regions::supervision::release_lapsed(conn, row.id, changes.updated_at)?;
    }
    Ok(())
}

/// 一长: a group has exactly one grid leader. 409 when another account leads `group`; only a
/// read, so a refusal leaves the transaction usable (the importer goes on with the next line).
pub fn ensure_sole_leader(conn: &mut DbConn, group: &RegionRow, user_id: i64) -> AppResult<()> {
    let other: Option<i64> = role_assignments::table
        .filter(role_assignments::role.eq(Role::GridLeader))
        .filter(role_assignments::region_id.eq(group.id))
        .filter(role_assignments::user_id.ne(user_id))
        .select(role_assignments::user_id)
        .first(conn)
        .optional()?;
    match other {
        Some(_) => Err(AppError::conflict(format!(
            "{} already has a grid leader (一长)",
            group.name
        ))),
        None => Ok(()),
    }
}

/// Ends every session and makes every access token of the user invalid at once.
pub fn revoke_all_tokens(conn: &mut DbConn, user_id: i64, reason: &str) -> AppResult<()> {
    let now = crate::db::now();
    diesel::update(users::table.find(user_id))
        .set((
            users::token_version.eq(users::token_version + 1),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(
        auth_sessions::table
            .filter(auth_sessions::user_id.eq(user_id))
            .filter(auth_sessions::revoked_at.is_null()),
    )
    .set((
        auth_sessions::revoked_at.eq(now),
        auth_sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    Ok(())
}

pub fn set_password(conn: &mut DbConn, user_id: i64, hash: &str) -> AppResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    revoke_all_tokens(conn, user_id, "password changed")
}

pub fn add_role(
    conn: &mut DbConn,
    user_id: i64,
    role: Role,
    region_id: Option<i64>,
    organization_id: Option<i64>,
    title: Option<&str>,
    background: Option<Background>,
) -> AppResult<i64> {
    let mut q = role_assignments::table
        .filter(role_assignments::user_id.eq(user_id))
        .filter(role_assignments::role.eq(role))
        .into_boxed();
    q = match region_id {
        Some(r) => q.filter(role_assignments::region_id.eq(r)),
        None => q.filter(role_assignments::region_id.is_null()),
    };
    q = match organization_id {
        Some(o) => q.filter(role_assignments::organization_id.eq(o)),
        None => q.filter(role_assignments::organization_id.is_null()),
    };
    let dup: i64 = q.count().get_result(conn)?;
    if dup > 0 {
        return Err(AppError::conflict("the user already holds this role there"));
    }
    Ok(diesel::insert_into(role_assignments::table)
        .values((
            role_assignments::user_id.eq(user_id),
            role_assignments::role.eq(role),
            role_assignments::region_id.eq(region_id),
            role_assignments::organization_id.eq(organization_id),
            role_assignments::title.eq(title),
            role_assignments::background.eq(background),
            role_assignments::created_at.eq(crate::db::now()),
        ))
        .returning(role_assignments::id)
        .get_result(conn)?)
}

pub fn remove_role(conn: &mut DbConn, assignment_id: i64) -> AppResult<()> {
    diesel::delete(role_assignments::table.find(assignment_id)).execute(conn)?;
    Ok(())
}

pub fn count_global_admins(conn: &mut DbConn) -> AppResult<i64> {
    Ok(role_assignments::table
        .inner_join(users::table)
        .filter(role_assignments::role.eq(Role::Admin))
        .filter(role_assignments::region_id.is_null())
        .filter(users::disabled.eq(false))
        .count()
        .get_result(conn)?)
}

/// The API view of users, roles and home regions resolved in three queries for any number, for
/// a caller who sees `viewer` (`None`: the account itself).
pub fn to_api(conn: &mut DbConn, rows: &[UserRow], viewer: Option<&Scope>) -> AppResult<Vec<User>> {
    let ids: Vec<i64> = rows.iter().map(|u| u.id).collect();
    let mut roles = load_assignments(conn, &ids)?;
    let region_ids: Vec<i64> = rows.iter().filter_map(|u| u.region_id).collect();
    let homes: HashMap<i64, RegionRef> = region_store::get_many(conn, &region_ids)?
        .into_iter()
        .map(|r| (r.id, r.to_ref()))
        .collect();
    Ok(rows
        .iter()
        .map(|u| User {
            id: u.id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            phone: u.phone.clone(),
            region: u.region_id.and_then(|r| homes.get(&r).cloned()),
            disabled: u.disabled,
            roles: roles
                .remove(&u.id)
                .unwrap_or_default()
                .iter()
                .map(|a| a.to_api(viewer))
                .collect(),
            created_at: u.created_at.and_utc(),
            updated_at: u.updated_at.and_utc(),
        })
        .collect())
}

pub struct ListFilter {
    pub region_id: Option<i64>,
    pub role: Option<Role>,
    pub after_id: Option<i64>,
    pub fetch: i64,
}

/// Accounts whose home region lies in `scope` (global accounts only for a global scope),
/// optionally within a region's subtree and holding a role.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    within: Option<&Scope>,
    f: &ListFilter,
) -> AppResult<Vec<UserRow>> {
    let mut q = users::table
        .left_join(regions::table)
        .select(UserRow::as_select())
        .order(users::id.asc())
        .limit(f.fetch)
        .into_boxed();
    if !scope.is_global() {
        q = q.filter(scope_filter!(regions::path.assume_not_null(), scope));
    }
    if let Some(w) = within {
        q = q.filter(scope_filter!(regions::path.assume_not_null(), w));
    }
    if let Some(role) = &f.role {
        let holders = role_assignments::table
            .filter(role_assignments::role.eq(*role))
            .select(role_assignments::user_id);
        q = q.filter(users::id.eq_any(holders));
    }
    if let Some(a) = f.after_id {
        q = q.filter(users::id.gt(a));
    }
    Ok(q.load(conn)?)
}
