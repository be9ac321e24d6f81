//! `/api/v1/users`: accounts and role assignments, for administrators inside their subtree.

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::auth::policy::{
    authorize, authorize_reach, manage_account, require, scope_for, Capability, Target,
};
use crate::auth::principal::{load_assignments, Caller, Principal};
use crate::auth::roles::Role;
use crate::auth::scope::Scope;
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult, StdErrors};
use crate::http::pagination::PageParams;
use crate::http::{JsonBody, Page};
use crate::idempotency::Idempotent;
use crate::organizations::store as org_store;
use crate::regions::store as region_store;
use crate::regions::supervision;
use crate::users::grants::{self, Bound};
use crate::users::model::{NewAssignment, NewUser, PasswordReset, User, UserPatch, UserRow};
use crate::users::store;
use crate::validate::Checks;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_user)
        .service(list_users)
        .service(get_user)
        .service(patch_user)
        .service(grant_role)
        .service(revoke_role)
        .service(reset_password);
}

/// Where an account lives, for the policy: its home region, or the top for a global account.
fn authorize_region(conn: &mut DbConn, p: &Principal, region_id: Option<i64>) -> AppResult<()> {
    match region_id {
        Some(id) => {
            let r = region_store::get(conn, id)?;
            authorize(p, Capability::ManageAccounts, Target::Region(&r.path))
        }
        None => authorize(p, Capability::ManageAccounts, Target::Top),
    }
}

/// Loads an account whose home lies in the caller's scope, to read it; 404 for anyone else's.
fn visible(conn: &mut DbConn, p: &Principal, id: i64) -> AppResult<UserRow> {
    require(p, Capability::ManageAccounts)?;
    let user = store::get(conn, id)?;
    authorize_region(conn, p, user.region_id)?;
    Ok(user)
}

/// Loads an account the caller may change (`policy::manage_account`): 404 when its home is
/// outside the caller's scope, 403 when its roles reach beyond it.
fn managed(conn: &mut DbConn, p: &Principal, id: i64) -> AppResult<UserRow> {
    require(p, Capability::ManageAccounts)?;
    let user = store::get(conn, id)?;
    let home = match user.region_id {
        Some(r) => Some(region_store::get(conn, r)?.path),
        None => None,
    };
    let home = home.as_deref().map_or(Target::Top, Target::Region);
    manage_account(p, home, &store::reach(conn, id)?)?;
    Ok(user)
}

fn one(conn: &mut DbConn, p: &Principal, row: UserRow) -> AppResult<User> {
    store::to_api(conn, &[row], Some(&p.scope))?
        .pop()
        .ok_or_else(AppError::not_found)
}

/// What makes two `POST /users` "the same request" for `Idempotency-Key`: the body **without
/// the password**. The fingerprint is kept for two days next to the key, and a plain digest
/// of a password is something an attacker who copies the database could test a dictionary
/// against at billions of guesses a second, where the stored argon2 hash allows a handful. A
/// keyed hash (HMAC) would only move the problem: the key would be the JWT secret, which by
/// default lives in the same data directory as the SQLite file. The price is small: a retry
/// that differs only in its password is a replay (the account keeps the first password, and an
/// administrator can reset it), not 422 `idempotency_key_reused`.
#[derive(Serialize)]
struct AccountRequest<'a> {
    username: &'a str,
    display_name: &'a str,
    phone: Option<&'a str>,
    region_id: Option<i64>,
}

/// Create an account in a region of the caller's subtree. Send an `Idempotency-Key` so that a
/// retry after a lost response returns the first account instead of a 409 for the taken
/// username.
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = NewUser,
    params(crate::idempotency::KeyHeader),
    responses((status = 201, description = "created (or, for a repeated Idempotency-Key, the first result)", body = User), StdErrors))]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    http: HttpRequest,
    body: JsonBody<NewUser>,
) -> AppResult<HttpResponse> {
    let req = body.into_inner();
    let once = Idempotent::json(
        &http,
        "POST /users",
        &AccountRequest {
            username: &req.username,
            display_name: &req.display_name,
            phone: req.phone.as_deref(),
            region_id: req.region_id,
        },
    );
    // Checked before the (slow) hash, and again in the transaction that writes.
    let (username, display_name, phone, region_id, password) = caller
        .clone()
        .run(&state.pool, move |conn, p| {
            require(&p, Capability::ManageAccounts)?;
            let mut checks = Checks::new();
            let username = checks.username("username", &req.username);
            let display_name = checks.name("display_name", &req.display_name, 64);
            let phone = req.phone.as_deref().map(|ph| checks.phone("phone", ph));
            if let Err(m) = crate::auth::password::check_policy(&req.password) {
                checks.fail("password", m);
            }
            checks.finish()?;
            authorize_region(conn, &p, req.region_id)?;
            Ok((username, display_name, phone, req.region_id, req.password))
        })
        .await?;
    // A malformed key is reported after the role and field checks, as for premises.
    let once = once?;
    let hash = crate::auth::hash_password(&state, password).await?;
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            once.run(conn, p.user_id, |conn| {
                authorize_region(conn, &p, region_id)?;
                let row = store::insert(
                    conn,
                    store::NewUserRow {
                        username: &username,
                        display_name: &display_name,
                        phone: phone.as_deref(),
                        region_id,
                        password_hash: &hash,
                    },
                    db::now(),
                )?;
                Ok((StatusCode::CREATED, one(conn, &p, row)?))
            })
        })
        .await?;
    Ok(reply.respond())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only accounts whose home lies in this region's subtree.
    pub region_id: Option<i64>,
    /// Only accounts holding this role.
    pub role: Option<Role>,
}

/// Accounts the caller administers.
#[utoipa::path(tag = "users", security(("bearer" = [])), params(UserQuery, PageParams),
    responses((status = 200, body = Page<User>), StdErrors))]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<UserQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<User>>> {
    let filter = filter.into_inner();
    let page = page.into_inner();
    let (items, limit) = caller
        .run(&state.pool, move |conn, p| {
            require(&p, Capability::ManageAccounts)?;
            let limit = page.limit()?;
            let f = store::ListFilter {
                region_id: filter.region_id,
                role: filter.role,
                after_id: page.after_id()?,
                fetch: limit + 1,
            };
            let within = match f.region_id {
                Some(id) => {
                    let r = region_store::get(conn, id)?;
                    authorize(&p, Capability::ManageAccounts, Target::Region(&r.path))?;
                    Some(Scope::from_paths(vec![r.path]))
                }
                None => None,
            };
            let rows = store::list(
                conn,
                &scope_for(&p, Capability::ManageAccounts),
                within.as_ref(),
                &f,
            )?;
            Ok((store::to_api(conn, &rows, Some(&p.scope))?, limit))
        })
        .await?;
    Ok(web::Json(Page::from_rows(items, limit, |u: &User| u.id)))
}

/// One account.
#[utoipa::path(tag = "users", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = User), StdErrors))]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> AppResult<web::Json<User>> {
    let id = id.into_inner();
    let out = caller
        .run(&state.pool, move |conn, p| {
            let row = visible(conn, &p, id)?;
            one(conn, &p, row)
        })
        .await?;
    Ok(web::Json(out))
}

/// Change an account's name, phone, home region or disabled flag. Disabling ends all its
/// sessions at once.
#[utoipa::path(tag = "users", security(("bearer" = [])), params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = User), StdErrors))]
#[patch("/users/{id}")]
pub async fn patch_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<UserPatch>,
) -> AppResult<web::Json<User>> {
    let id = id.into_inner();
    let req = body.into_inner();
    let mut checks = Checks::new();
    let display_name = req
        .display_name
        .as_deref()
        .map(|n| checks.name("display_name", n, 64));
    let phone = req.phone.as_deref().map(|ph| {
        if ph.trim().is_empty() {
            None
        } else {
            Some(checks.phone("phone", ph))
        }
    });
    checks.finish()?;
    let out = caller
        .run_tx(&state.pool, move |conn, p| {
            let row = managed(conn, &p, id)?;
            if let Some(region_id) = req.region_id {
                authorize_region(conn, &p, Some(region_id))?;
            }
            if req.disabled == Some(true) && !row.disabled && id == p.user_id {
                return Err(AppError::conflict("you cannot disable your own account"));
            }
            let changes = store::UserChanges {
                display_name,
                phone,
                region_id: req.region_id,
                disabled: req.disabled.filter(|d| *d != row.disabled),
                ..store::UserChanges::at(db::now())
            };
            store::update(conn, &row, &changes)?;
            let row = store::get(conn, id)?;
            one(conn, &p, row)
        })
        .await?;
    Ok(web::Json(out))
}

/// Grant a role bound to a region or organisation inside the caller's subtree. Send an
/// `Idempotency-Key` so that a retry after a lost response returns the first result instead of
/// a 409 for the role the first attempt granted.
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = NewAssignment,
    params(("id" = i64, Path),
        crate::idempotency::KeyHeader),
    responses((status = 201, description = "granted (or, for a repeated Idempotency-Key, the first result)", body = User), StdErrors))]
#[post("/users/{id}/roles")]
pub async fn grant_role(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    http: HttpRequest,
    body: JsonBody<NewAssignment>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let req = body.into_inner();
    let mut checks = Checks::new();
    let title = req.title.as_deref().map(|t| checks.name("title", t, 32));
    if req.region_id.is_some() && req.organization_id.is_some() {
        checks.fail(
            "organization_id",
            "give a region or an organisation, not both",
        );
    }
    checks.finish()?;
    let once = Idempotent::json(&http, &format!("POST /users/{id}/roles"), &req)?;
    let reply = caller
        .run_tx(&state.pool, move |conn, p| {
            once.run(conn, p.user_id, |conn| {
                managed(conn, &p, id)?;
                let mut region = None;
                let bound = match (req.region_id, req.organization_id) {
                    (Some(rid), _) => {
                        let r = region_store::get(conn, rid)?;
                        authorize(&p, Capability::ManageAccounts, Target::Region(&r.path))?;
                        let bound = Bound::Region(r.level);
                        region = Some(r);
                        bound
                    }
                    (None, Some(oid)) => {
                        let org = org_store::get(conn, oid)?;
                        let home = region_store::get(conn, org.region_id)?;
                        authorize(&p, Capability::ManageAccounts, Target::Region(&home.path))?;
                        // An officer sees the whole jurisdiction: all of it must be the granter's.
                        authorize_reach(
                            &p,
                            Capability::ManageAccounts,
                            &org_store::reach(conn, &org)?,
                        )?;
                        Bound::Organization(org.kind)
                    }
                    (None, None) => {
                        if req.role == Role::Admin {
                            // An unbound admin is a global administrator: only one may make another.
                            authorize(&p, Capability::ManageAccounts, Target::Top)?;
                        }
                        Bound::Nothing
                    }
                };
                grants::check(req.role, bound, title.as_deref(), req.background)?;
                if let (Role::GridLeader, Some(group)) = (req.role, &region) {
                    store::ensure_sole_leader(conn, group, id)?;
                }
                store::add_role(
                    conn,
                    id,
                    req.role,
                    req.region_id,
                    req.organization_id,
                    title.as_deref(),
                    req.background,
                )?;
                let row = store::get(conn, id)?;
                Ok((StatusCode::CREATED, one(conn, &p, row)?))
            })
        })
        .await?;
    Ok(reply.respond())
}

/// Remove a role assignment.
#[utoipa::path(tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path), ("assignment_id" = i64, Path)),
    responses((status = 204, description = "removed"), StdErrors))]
#[delete("/users/{id}/roles/{assignment_id}")]
pub async fn revoke_role(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let (id, assignment_id) = path.into_inner();
    caller
        .run_tx(&state.pool, move |conn, p| {
            managed(conn, &p, id)?;
            let mut held = load_assignments(conn, &[id])?
                .remove(&id)
                .unwrap_or_default();
            let pos = held
                .iter()
                .position(|a| a.id == assignment_id)
                .ok_or_else(AppError::not_found)?;
            // `managed` has checked the account's whole reach, this assignment's included.
            let a = held.swap_remove(pos);
            if a.role == Role::Admin
                && a.scope.is_global()
                && store::count_global_admins(conn)? <= 1
            {
                return Err(AppError::conflict(
                    "the last global administrator cannot be removed",
                ));
            }
            store::remove_role(conn, assignment_id)?;
            supervision::release_lapsed(conn, id, db::now())?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Set a new password for an account; all its sessions end at once.
#[utoipa::path(tag = "users", security(("bearer" = [])), params(("id" = i64, Path)), request_body = PasswordReset,
    responses((status = 204, description = "reset"), StdErrors))]
#[post("/users/{id}/reset-password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<PasswordReset>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let new_password = body.into_inner().new_password;
    crate::auth::password::check_policy(&new_password)
        .map_err(|m| AppError::field("new_password", m))?;
    // Checked before the (slow) hash, and again in the transaction that writes.
    caller
        .clone()
        .run(&state.pool, move |conn, p| {
            managed(conn, &p, id).map(|_| ())
        })
        .await?;
    let hash = crate::auth::hash_password(&state, new_password).await?;
    caller
        .run_tx(&state.pool, move |conn, p| {
            managed(conn, &p, id)?;
            store::set_password(conn, id, &hash)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
