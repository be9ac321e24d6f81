//! Sessions, refresh tokens and failed-login records.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::auth::tokens::hash_refresh_token;
use crate::db::schema::{auth_sessions, login_failures, refresh_tokens};
use crate::db::DbConn;
use crate::error::AppResult;

pub fn create_session(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> AppResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(auth_sessions::table)
        .values((
            auth_sessions::id.eq(&id),
            auth_sessions::user_id.eq(user_id),
            auth_sessions::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

pub fn store_refresh_token(
    conn: &mut DbConn,
    session_id: &str,
    token: &str,
    now: NaiveDateTime,
    ttl: Duration,
) -> AppResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(hash_refresh_token(token)),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::created_at.eq(now),
            refresh_tokens::expires_at.eq(now + ttl),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn revoke_session(conn: &mut DbConn, session_id: &str, reason: &str) -> AppResult<()> {
    diesel::update(
        auth_sessions::table
            .find(session_id)
            .filter(auth_sessions::revoked_at.is_null()),
    )
    .set((
        auth_sessions::revoked_at.eq(crate::db::now()),
        auth_sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    Ok(())
}

pub struct RefreshRow {
    pub session_id: String,
    pub user_id: i64,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub session_revoked: bool,
}

/// session id, user id, expiry, used, session revoked.
type RefreshColumns = (
    String,
    i64,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

pub fn find_refresh(conn: &mut DbConn, token: &str) -> AppResult<Option<RefreshRow>> {
    let row: Option<RefreshColumns> = refresh_tokens::table
        .inner_join(auth_sessions::table)
        .filter(refresh_tokens::token_hash.eq(hash_refresh_token(token)))
        .select((
            refresh_tokens::session_id,
            auth_sessions::user_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            auth_sessions::revoked_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(session_id, user_id, expires_at, used_at, revoked)| RefreshRow {
            session_id,
            user_id,
            expires_at,
            used_at,
            session_revoked: revoked.is_some(),
        },
    ))
}

/// Marks the token used; false when another request used it first (a replay).
pub fn mark_used(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> AppResult<bool> {
    let n = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(hash_refresh_token(token)))
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn record_failure(
    conn: &mut DbConn,
    username: &str,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::username.eq(username),
            login_failures::ip.eq(ip),
            login_failures::at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn clear_failures(conn: &mut DbConn, username: &str) -> AppResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::username.eq(username)))
        .execute(conn)?;
    Ok(())
}

/// Failures since `since` for the username and for the address, with the oldest of each.
pub struct FailureCounts {
    pub by_username: (i64, Option<NaiveDateTime>),
    pub by_ip: (i64, Option<NaiveDateTime>),
}

pub fn failures_since(
    conn: &mut DbConn,
    username: &str,
    ip: &str,
    since: NaiveDateTime,
) -> AppResult<FailureCounts> {
    use diesel::dsl::{count_star, min};
    let by_username = login_failures::table
        .filter(login_failures::username.eq(username))
        .filter(login_failures::at.gt(since))
        .select((count_star(), min(login_failures::at)))
        .first(conn)?;
    let by_ip = login_failures::table
        .filter(login_failures::ip.eq(ip))
        .filter(login_failures::at.gt(since))
        .select((count_star(), min(login_failures::at)))
        .first(conn)?;
    Ok(FailureCounts { by_username, by_ip })
}

/// Forgets failures older than the window (run by the periodic maintenance).
pub fn prune_failures(conn: &mut DbConn, before: NaiveDateTime) -> AppResult<usize> {
    Ok(
        diesel::delete(login_failures::table.filter(login_failures::at.lt(before)))
            .execute(conn)?,
    )
}
