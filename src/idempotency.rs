//! `Idempotency-Key` (SPEC §9, IETF httpapi draft): a phone on weak signal that never saw the
//! response retries with the same key; it gets the first response back and nothing is created
//! twice. The record is written in the same transaction as the change it guards, so either
//! both exist or neither does; two concurrent first attempts cannot both commit (primary key).

use actix_web::http::header::HeaderMap;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::idempotency_keys;
use crate::db::DbConn;
use crate::error::{AppError, AppResult, ErrorCode};

pub const HEADER: &str = "idempotency-key";
/// Keys are kept at least this long (the sweep prunes older ones).
pub const KEEP_HOURS: i64 = 48;

/// The key of a request, if it carries one: 1–255 visible ASCII characters.
pub fn key_of(headers: &HeaderMap) -> AppResult<Option<String>> {
    let Some(v) = headers.get(HEADER) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s.is_empty() || s.len() > 255 || !s.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AppError::field(
            "Idempotency-Key",
            "must be 1–255 visible ASCII characters",
        ));
    }
    Ok(Some(s.to_string()))
}

/// What identifies "the same request": the route and the (normalised) body.
pub fn fingerprint(route: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

/// A stored or fresh response: status and JSON body.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: u16,
    pub body: serde_json::Value,
    pub replayed: bool,
}

/// Runs `f` unless this user already sent this key; then returns the stored response (same
/// request) or 422 `idempotency_key_reused` (another request). Call inside a write transaction.
pub fn once(
    conn: &mut DbConn,
    user_id: i64,
    key: Option<&str>,
    fingerprint: &str,
    f: impl FnOnce(&mut DbConn) -> AppResult<(u16, serde_json::Value)>,
) -> AppResult<Stored> {
    let Some(key) = key else {
        let (status, body) = f(conn)?;
        return Ok(Stored {
            status,
            body,
            replayed: false,
        });
    };
    let found: Option<(String, i32, String)> = idempotency_keys::table
        .find((user_id, key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status_code,
            idempotency_keys::response,
        ))
        .first(conn)
        .optional()?;
    if let Some((hash, status, response)) = found {
        if hash != fingerprint {
            return Err(AppError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request",
            ));
        }
        let body = serde_json::from_str(&response)?;
        return Ok(Stored {
            status: status as u16,
            body,
            replayed: true,
        });
    }
    let (status, body) = f(conn)?;
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::user_id.eq(user_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(fingerprint),
            idempotency_keys::status_code.eq(status as i32),
            idempotency_keys::response.eq(body.to_string()),
            idempotency_keys::created_at.eq(crate::db::now()),
        ))
        .execute(conn)
        .map_err(|e| match e {
            // The same key committed by a concurrent first attempt: this one rolls back.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => AppError::conflict(
                "a request with this Idempotency-Key is already being processed; retry",
            ),
            other => other.into(),
        })?;
    Ok(Stored {
        status,
        body,
        replayed: false,
    })
}

pub fn prune(conn: &mut DbConn, now: chrono::NaiveDateTime) -> AppResult<usize> {
    let cutoff = now - chrono::Duration::hours(KEEP_HOURS);
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
            .execute(conn)?,
    )
}
