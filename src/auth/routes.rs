//! `/api/v1/auth/*` and `/api/v1/me*`.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::password::Verified;
use crate::auth::principal::{AssignmentOut, Caller};
use crate::auth::scope::Scope;
use crate::auth::{password, store, throttle, tokens};
use crate::db;
use crate::error::{AppError, AppResult, StdErrors};
use crate::http::JsonBody;
use crate::regions::model::RegionRef;
use crate::regions::store as region_store;
use crate::users::model::User;
use crate::users::store as user_store;
use crate::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(login)
        .service(refresh)
        .service(logout)
        .service(me)
        .service(change_password);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub username: String,
    #[schema(pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: each refresh returns a new one; reusing an old one ends the session.
    pub refresh_token: String,
    pub user: User,
}

/// Creates a session and its first tokens for a user who has just proved who they are.
fn start_session(
    conn: &mut db::DbConn,
    state: &AppState,
    user_id: i64,
) -> AppResult<TokenResponse> {
    let now = db::now();
    let session = store::create_session(conn, user_id, now)?;
    issue(conn, state, user_id, &session)
}

fn issue(
    conn: &mut db::DbConn,
    state: &AppState,
    user_id: i64,
    session: &str,
) -> AppResult<TokenResponse> {
    let settings = &state.settings;
    let user = user_store::get(conn, user_id)?;
    let refresh_token = tokens::new_refresh_token();
    let ttl = Duration::seconds(settings.refresh_token_ttl.as_secs() as i64);
    store::store_refresh_token(conn, session, &refresh_token, db::now(), ttl)?;
    let expires_in = settings.access_token_ttl.as_secs();
    let access_token =
        state
            .tokens
            .issue(user.id, user.token_version, session, expires_in as i64)?;
    let user = user_store::to_api(conn, &[user], None)?
        .pop()
        .ok_or_else(AppError::not_found)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in,
        refresh_token,
        user,
    })
}

fn invalid_login() -> AppError {
    AppError::unauthenticated("invalid username or password")
}

/// Log in. Unknown users and wrong passwords get the same 401 in about the same time; 5
/// failures for one username (or ~100 from one address) in 15 minutes give 429 with
/// `Retry-After`.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 429, description = "too many failed attempts", body = crate::error::Problem, content_type = "application/problem+json"),
    StdErrors))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> AppResult<web::Json<TokenResponse>> {
    let LoginRequest { username, password } = body.into_inner();
    let username = username.trim().to_lowercase();
    let ip = throttle::client_ip(&req, &state.settings.trusted_proxies);
    if username.is_empty() || username.len() > 64 || password.len() > password::MAX_LEN * 4 {
        return Err(invalid_login());
    }

    let (u, i) = (username.clone(), ip.clone());
    let user = db::run(&state.pool, move |conn| {
        throttle::guard(conn, &u, &i)?;
        user_store::find_by_username(conn, &u)
    })
    .await?;

    let verified = verify(
        &state,
        &password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let user = match (user, verified) {
        (Some(user), Verified::Correct { needs_rehash }) if !user.disabled => (user, needs_rehash),
        _ => {
            let (u, i) = (username.clone(), ip.clone());
            db::run(&state.pool, move |conn| {
                throttle::count_failure(conn, &u, &i)
            })
            .await?;
            return Err(invalid_login());
        }
    };
    let (user, needs_rehash) = user;
    // Parameters changed since this hash was made: upgrade it now that we know the password.
    let new_hash = if needs_rehash {
        Some(crate::auth::hash_password(&state, password).await?)
    } else {
        None
    };
    let st = state.clone();
    let out = db::run_tx(&state.pool, move |conn| {
        if let Some(h) = new_hash {
            diesel::update(crate::db::schema::users::table.find(user.id))
                .set(crate::db::schema::users::password_hash.eq(h))
                .execute(conn)?;
        }
        store::clear_failures(conn, &user.username)?;
        start_session(conn, &st, user.id)
    })
    .await?;
    Ok(web::Json(out))
}

use diesel::prelude::*;

async fn verify(state: &AppState, password: &str, phc: Option<String>) -> AppResult<Verified> {
    crate::auth::verify_password(state, password.to_string(), phc).await
}

/// Exchange a refresh token for new tokens. Each refresh token works once; presenting one that
/// was already used ends its whole session (it was stolen, or replayed).
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses((status = 200, body = TokenResponse), StdErrors))]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> AppResult<web::Json<TokenResponse>> {
    let token = body.into_inner().refresh_token;
    let st = state.get_ref().clone();
    // The reuse revocation must survive the 401, so it runs in its own transaction.
    let outcome = db::run_tx(&state.pool, move |conn| {
        let invalid = || AppError::unauthenticated("the refresh token is invalid or expired");
        let Some(row) = store::find_refresh(conn, &token)? else {
            return Err(invalid());
        };
        if row.session_revoked {
            return Err(invalid());
        }
        let now = db::now();
        if row.used_at.is_some() || !store::mark_used(conn, &token, now)? {
            tracing::warn!(session = %row.session_id, "refresh token reused: session revoked");
            store::revoke_session(conn, &row.session_id, "refresh token reuse")?;
            return Ok(Err(invalid()));
        }
        if row.expires_at <= now {
            return Err(invalid());
        }
        let user = user_store::get(conn, row.user_id)?;
        if user.disabled {
            return Err(invalid());
        }
        issue(conn, &st, user.id, &row.session_id).map(Ok)
    })
    .await?;
    Ok(web::Json(outcome?))
}

/// End this session: its access and refresh tokens stop working.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 204, description = "logged out"), StdErrors))]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller
        .run(&state.pool, move |conn, p| {
            store::revoke_session(conn, &p.session_id, "logout")
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What the caller can see.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeOut {
    /// True for a global administrator: everything.
    pub global: bool,
    /// The roots of the visible subtrees.
    pub regions: Vec<RegionRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    pub roles: Vec<AssignmentOut>,
    pub scope: ScopeOut,
}

/// The caller's account, role assignments and scope.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 200, body = Me), StdErrors))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> AppResult<web::Json<Me>> {
    let out = caller
        .run(&state.pool, move |conn, p| {
            let user = user_store::get(conn, p.user_id)?;
            let user = user_store::to_api(conn, &[user], None)?
                .pop()
                .ok_or_else(AppError::not_found)?;
            let scope = match &p.scope {
                Scope::Global => ScopeOut {
                    global: true,
                    regions: Vec::new(),
                },
                Scope::Paths(paths) => {
                    let ids: Vec<i64> = paths
                        .iter()
                        .filter_map(|path| {
                            path.trim_end_matches('/').rsplit('/').next()?.parse().ok()
                        })
                        .collect();
                    let regions = region_store::get_many(conn, &ids)?
                        .iter()
                        .map(|r| r.to_ref())
                        .collect();
                    ScopeOut {
                        global: false,
                        regions,
                    }
                }
            };
            Ok(Me {
                roles: user.roles.clone(),
                user,
                scope,
            })
        })
        .await?;
    Ok(web::Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub current_password: String,
    /// At least 10 characters, not one of the most common passwords.
    #[schema(
        min_length = 10,
        max_length = 256,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
    )]
    pub new_password: String,
}

/// Change your password. Every access and refresh token of the account stops working; log in
/// again with the new password. A wrong current password counts toward the same lock as a
/// failed login (5 for the account in 15 minutes give 429 with `Retry-After`, here and at login).
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 204, description = "changed"),
    (status = 429, description = "too many failed attempts", body = crate::error::Problem, content_type = "application/problem+json"),
    StdErrors))]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: JsonBody<PasswordChange>,
) -> AppResult<HttpResponse> {
    let PasswordChange {
        current_password,
        new_password,
    } = body.into_inner();
    password::check_policy(&new_password).map_err(|m| AppError::field("new_password", m))?;
    let ip = throttle::client_ip(&req, &state.settings.trusted_proxies);
    let i = ip.clone();
    let user = caller
        .clone()
        .run(&state.pool, move |conn, p| {
            throttle::guard(conn, &p.username, &i)?;
            user_store::get(conn, p.user_id)
        })
        .await?;
    match verify(&state, &current_password, Some(user.password_hash)).await? {
        Verified::Correct { .. } => {}
        Verified::Wrong => {
            let username = user.username;
            db::run(&state.pool, move |conn| {
                throttle::count_failure(conn, &username, &ip)
            })
            .await?;
            return Err(AppError::field(
                "current_password",
                "is not your current password",
            ));
        }
    }
    let hash = crate::auth::hash_password(&state, new_password).await?;
    // The same account, checked again: the session may have ended during the hash.
    caller
        .run_tx(&state.pool, move |conn, p| {
            user_store::set_password(conn, p.user_id, &hash)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
