//! The authenticated caller: who they are, which roles they hold where, and the resulting scope.
//! Every handler takes a `Caller` (the verified token) and gets the `Principal` loaded fresh
//! inside its own database call, so a revoked session, a changed password, a disabled account
//! or a removed role takes effect on the next request, on every server of the deployment.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::roles::{Background, Role};
use crate::auth::scope::Scope;
use crate::auth::tokens::Claims;
use crate::db::schema::{
    auth_sessions, organization_jurisdictions, organizations, regions, role_assignments, users,
};
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult};
use crate::organizations::model::OrgKind;
use crate::regions::model::{RegionLevel, RegionRef};
use crate::AppState;

/// One role a user holds, with where it applies.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub id: i64,
    pub role: Role,
    pub region: Option<RegionRef>,
    pub region_path: Option<String>,
    pub organization: Option<OrgRef>,
    pub title: Option<String>,
    pub background: Option<Background>,
    /// What this assignment lets its holder see.
    pub scope: Scope,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgRef {
    pub id: i64,
    pub kind: OrgKind,
    pub name: String,
}

/// A role assignment as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentOut {
    pub id: i64,
    pub role: Role,
    /// The region the role is bound to (null for officers and global administrators).
    pub region_id: Option<i64>,
    /// That region, named only when it lies inside the caller's scope (null otherwise).
    pub region: Option<RegionRef>,
    pub organization: Option<OrgRef>,
    pub title: Option<String>,
    pub background: Option<Background>,
}

impl Assignment {
    /// The API view for a caller who sees `viewer`; `None` when the account looks at itself.
    pub fn to_api(&self, viewer: Option<&Scope>) -> AssignmentOut {
        // A name outside the caller's scope tells them about a region that does not exist for
        // them: only its id is shown.
        let shown = match (viewer, &self.region_path) {
            (Some(v), Some(path)) => v.contains(path),
            _ => true,
        };
        AssignmentOut {
            id: self.id,
            role: self.role,
            region_id: self.region.as_ref().map(|r| r.id),
            region: self.region.clone().filter(|_| shown),
            organization: self.organization.clone(),
            title: self.title.clone(),
            background: self.background,
        }
    }
}

/// Who is calling, as loaded by `Caller::run` for one request; handlers never build one.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub session_id: String,
    pub assignments: Vec<Assignment>,
    /// Union of every assignment's scope.
    pub scope: Scope,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.assignments.iter().any(|a| a.role == role)
    }

    /// The union of the scopes of the assignments holding one of `roles`.
    pub fn scope_of(&self, roles: &[Role]) -> Scope {
        self.assignments
            .iter()
            .filter(|a| roles.contains(&a.role))
            .fold(Scope::empty(), |acc, a| acc.union(a.scope.clone()))
    }
}

type AssignmentRow = (
    i64,
    Role,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<Background>,
    Option<(i64, RegionLevel, String, String, String)>,
);

/// Every role assignment of the given users, with regions and organisation jurisdictions
/// resolved, grouped by user id.
pub fn load_assignments(
    conn: &mut DbConn,
    user_ids: &[i64],
) -> AppResult<HashMap<i64, Vec<Assignment>>> {
    // A fixed-shape `= ?` for the usual single user (every request loads its caller): diesel
    // keeps that statement prepared, while an `IN (…)` list is parsed afresh each time.
    macro_rules! assignments {
        ($filter:expr) => {
            role_assignments::table
                .left_join(
                    regions::table.on(role_assignments::region_id.eq(regions::id.nullable())),
                )
                .filter($filter)
                .order(role_assignments::id.asc())
                .select((
                    role_assignments::user_id,
                    (
                        role_assignments::id,
                        role_assignments::role,
                        role_assignments::region_id,
                        role_assignments::organization_id,
                        role_assignments::title,
                        role_assignments::background,
                        (
                            regions::id,
                            regions::level,
                            regions::name,
                            regions::code,
                            regions::path,
                        )
                            .nullable(),
                    ),
                ))
                .load(conn)?
        };
    }
    let rows: Vec<(i64, AssignmentRow)> = match user_ids {
        [one] => assignments!(role_assignments::user_id.eq(*one)),
        _ => assignments!(role_assignments::user_id.eq_any(user_ids)),
    };

    let mut org_ids: Vec<i64> = rows.iter().filter_map(|(_, r)| r.3).collect();
    org_ids.sort_unstable();
    org_ids.dedup();
    let mut orgs: HashMap<i64, OrgRef> = HashMap::new();
    let mut jurisdiction: HashMap<i64, Vec<String>> = HashMap::new();
    if !org_ids.is_empty() {
        // Each organisation with its jurisdiction's paths, in one query (an organisation
        // without any jurisdiction comes back once, with no path).
        macro_rules! orgs {
            ($filter:expr) => {
                organizations::table
                    .left_join(organization_jurisdictions::table.inner_join(regions::table))
                    .filter($filter)
                    .select((
                        organizations::id,
                        organizations::kind,
                        organizations::name,
                        regions::path.nullable(),
                    ))
                    .load(conn)?
            };
        }
        let found: Vec<(i64, OrgKind, String, Option<String>)> = match org_ids.as_slice() {
            [one] => orgs!(organizations::id.eq(*one)),
            _ => orgs!(organizations::id.eq_any(&org_ids)),
        };
        for (id, kind, name, path) in found {
            if let std::collections::hash_map::Entry::Vacant(slot) = orgs.entry(id) {
                slot.insert(OrgRef { id, kind, name });
            }
            if let Some(path) = path {
                jurisdiction.entry(id).or_default().push(path);
            }
        }
    }

    let mut out: HashMap<i64, Vec<Assignment>> = HashMap::new();
    for (user_id, (id, role, _region_id, org_id, title, background, region)) in rows {
        let (region_ref, region_path) = match region {
            Some((rid, level, name, code, path)) => (
                Some(RegionRef {
                    id: rid,
                    level,
                    name,
                    code,
                }),
                Some(path),
            ),
            None => (None, None),
        };
        let scope = match (&region_path, org_id) {
            (Some(p), _) => Scope::from_paths(vec![p.clone()]),
            (None, Some(o)) => Scope::from_paths(jurisdiction.get(&o).cloned().unwrap_or_default()),
            // Only an administrator may be unbound: a global administrator.
            (None, None) if role == Role::Admin => Scope::Global,
            (None, None) => Scope::empty(),
        };
        out.entry(user_id).or_default().push(Assignment {
            id,
            role,
            region: region_ref,
            region_path,
            organization: org_id.and_then(|o| orgs.get(&o).cloned()),
            title,
            background,
            scope,
        });
    }
    Ok(out)
}

/// Each caller's roles and scope as last loaded by this server, keyed by user and the user's
/// `roles_version` (bumped by triggers in the same transaction as every grant, revocation,
/// jurisdiction change or rename that reaches them). A request then reads one indexed row (user
/// and session, with the version) instead of the roles, regions and jurisdictions: every server
/// still sees a revocation on the next request, because the version is read every time.
#[derive(Default)]
pub struct PrincipalCache {
    entries: std::sync::RwLock<HashMap<i64, (i64, Arc<Roles>)>>,
}

/// A user's role assignments and their union scope, as cached.
#[derive(Debug)]
struct Roles {
    assignments: Vec<Assignment>,
    scope: Scope,
}

impl PrincipalCache {
    /// Beyond this many users the cache starts again empty (a province has tens of thousands of
    /// accounts; an entry is a few hundred bytes).
    const MAX_USERS: usize = 200_000;

    fn get(&self, user_id: i64, version: i64) -> Option<Arc<Roles>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match entries.get(&user_id) {
            Some((v, roles)) if *v == version => Some(roles.clone()),
            _ => None,
        }
    }

    fn put(&self, user_id: i64, version: i64, roles: Arc<Roles>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::MAX_USERS {
            entries.clear();
        }
        entries.insert(user_id, (version, roles));
    }
}

/// Checks that the token's user, version and session are still good, and takes the roles from
/// `cache` or, when they changed since it saw them, from the database.
fn load_principal(
    conn: &mut DbConn,
    claims: &Claims,
    cache: &PrincipalCache,
) -> AppResult<Principal> {
    let invalid = || AppError::unauthenticated("the access token is no longer valid");
    let user_id: i64 = claims.sub.parse().map_err(|_| invalid())?;
    let row: Option<(String, bool, i32, i64, Option<NaiveDateTime>)> = users::table
        .inner_join(auth_sessions::table)
        .filter(users::id.eq(user_id))
        .filter(auth_sessions::id.eq(&claims.sid))
        .select((
            users::username,
            users::disabled,
            users::token_version,
            users::roles_version,
            auth_sessions::revoked_at,
        ))
        .first(conn)
        .optional()?;
    let Some((username, disabled, version, roles_version, revoked_at)) = row else {
        return Err(invalid());
    };
    if disabled || version != claims.ver || revoked_at.is_some() {
        return Err(invalid());
    }
    let roles = match cache.get(user_id, roles_version) {
        Some(roles) => roles,
        None => {
            // The version and the roles are read in separate statements: a change committed
            // between them bumps the version past the one stored here, so the next request
            // loads again rather than keeping the newer roles under the older number (at worst
            // one extra load, never a stale hit).
            let assignments = load_assignments(conn, &[user_id])?
                .remove(&user_id)
                .unwrap_or_default();
            let scope = assignments
                .iter()
                .fold(Scope::empty(), |acc, a| acc.union(a.scope.clone()));
            let roles = Arc::new(Roles { assignments, scope });
            cache.put(user_id, roles_version, roles.clone());
            roles
        }
    };
    Ok(Principal {
        user_id,
        username,
        session_id: claims.sid.clone(),
        assignments: roles.assignments.clone(),
        scope: roles.scope.clone(),
    })
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// The verified bearer token of a request, before the database has been asked about it.
fn claims_of(req: &HttpRequest) -> Result<(web::Data<AppState>, Claims), AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("application state missing"))?;
    let token =
        bearer(req).ok_or_else(|| AppError::unauthenticated("a bearer token is required"))?;
    let claims = state.tokens.verify(&token)?;
    if let Ok(user) = claims.sub.parse() {
        actix_web::HttpMessage::extensions_mut(req).insert(crate::telemetry::TokenUser(user));
    }
    Ok((state, claims))
}

/// The caller of every authenticated handler: a verified token whose `Principal` is loaded by
/// `run` and `run_tx` (session row, token version, account enabled, roles) on the same pooled
/// connection and blocking thread as the handler's own queries, so a request takes one
/// checkout and one hop off the actix worker, not two: the hand-offs between threads were
/// about a quarter of the CPU of a `GET /hazards/{id}` (BENCHMARKS.md). A bad, expired or
/// missing token is refused before the body is read; a revoked session or changed password
/// only once the database is asked, so such a request with a malformed body gets the 4xx for
/// the body (nothing is written either way). A handler that must wait between two database
/// calls (an argon2 hash, reading an upload) calls `run` twice, and each call checks anew.
#[derive(Clone)]
pub struct Caller {
    claims: Claims,
    cache: Arc<PrincipalCache>,
}

impl Caller {
    /// `f` with the caller's principal, off the actix workers.
    pub async fn run<T, F>(self, pool: &db::Pool, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, Principal) -> AppResult<T> + Send + 'static,
    {
        db::run(pool, move |conn| {
            let p = load_principal(conn, &self.claims, &self.cache)?;
            f(conn, p)
        })
        .await
    }

    /// `run` with `f` in one write transaction (the principal is read before it begins, so the
    /// write lock is not held for it).
    ///
    /// On SQLite the principal is read on a pool connection and `f` then queued for the writer
    /// thread (`db::group_commit`): the writer, which every write of the server waits for, spends
    /// its time on writes only. The two calls share the request's deadline.
    pub async fn run_tx<T, F>(self, pool: &db::Pool, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, Principal) -> AppResult<T> + Send + 'static,
    {
        self.run_tx_after_read(pool, |_, _| Ok(()), move |conn, p, ()| f(conn, p))
            .await
    }

    /// `run_tx` whose write needs something read first that the write's own transaction need
    /// not hold (what a reply shows besides the changed rows): `read` runs with the principal,
    /// before the transaction; on SQLite on a pool connection, not on the writer thread.
    pub async fn run_tx_after_read<R, T, G, F>(self, pool: &db::Pool, read: G, f: F) -> AppResult<T>
    where
        R: Send + 'static,
        T: Send + 'static,
        G: FnOnce(&mut DbConn, &Principal) -> AppResult<R> + Send + 'static,
        F: FnOnce(&mut DbConn, Principal, R) -> AppResult<T> + Send + 'static,
    {
        if pool.groups_commits() {
            let started = std::time::Instant::now();
            let (p, r) = self
                .run(pool, move |conn, p| {
                    let r = read(conn, &p)?;
                    Ok((p, r))
                })
                .await?;
            let left = pool.deadline().saturating_sub(started.elapsed());
            return db::run_tx_within(pool, left, move |conn| f(conn, p, r)).await;
        }
        self.run(pool, move |conn, p| {
            let r = read(conn, &p)?;
            db::write_tx(conn, |conn| f(conn, p, r))
        })
        .await
    }

    /// `run_tx` for bulk work (an import of a county) that may take many database deadlines.
    pub async fn run_tx_bulk<T, F>(self, pool: &db::Pool, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, Principal) -> AppResult<T> + Send + 'static,
    {
        db::run_bulk(pool, move |conn| {
            let p = load_principal(conn, &self.claims, &self.cache)?;
            db::write_tx(conn, |conn| f(conn, p))
        })
        .await
    }
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(claims_of(req).map(|(state, claims)| Caller {
            claims,
            cache: state.principals.clone(),
        }))
    }
}
