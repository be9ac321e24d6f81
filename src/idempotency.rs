//! `Idempotency-Key` (SPEC §9, IETF httpapi draft): a phone on weak signal that never saw the
//! response retries with the same key; it gets the first response back and nothing is created
//! twice. The record is written in the same transaction as the change it guards, so either
//! both exist or neither does; two concurrent first attempts cannot both commit (primary key).
//!
//! `Idempotent` is the one entry point: a creating handler builds it from the request (the key
//! and what makes a retry "the same request"), runs its change through `Idempotent::run` inside
//! its write transaction, and answers with `Reply::respond`:
//!
//! ```ignore
//! let once = Idempotent::json(&req, "POST /premises", &body);
//! let reply = caller
//!     .run_tx(&state.pool, move |conn, p| {
//!         once?.run(conn, p.user_id, |conn| Ok((StatusCode::CREATED, create(conn, …)?)))
//!     })
//!     .await?;
//! Ok(reply.respond())
//! ```

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::{idempotency_keys, public_idempotency_keys};
use crate::db::DbConn;
use crate::error::{AppError, AppResult, ErrorCode};

pub const HEADER: &str = "idempotency-key";
/// Keys are kept at least this long (the sweep prunes older ones).
pub const KEEP_HOURS: i64 = 48;

/// Marks a response that repeats the stored one of an earlier request with the same key.
pub const REPLAYED: &str = "idempotent-replayed";

/// The `Idempotency-Key` header as the OpenAPI document states it, with the format `key_of`
/// enforces, so that a generated client (or a fuzzer) sends only keys the server takes: every
/// operation that honours a key lists `params(crate::idempotency::KeyHeader)`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct KeyHeader {
    /// Retry-safe creation: a retry with the same key and the same request gets the first
    /// response (marked `Idempotent-Replayed: true`) and changes nothing; the same key with
    /// another request is 422 `idempotency_key_reused`. Kept for 48 hours.
    #[param(rename = "Idempotency-Key", pattern = "^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// One request that may be retried: its key (when the client sent one) and its fingerprint.
#[derive(Debug, Clone)]
pub struct Idempotent {
    key: Option<String>,
    fingerprint: String,
}

impl Idempotent {
    /// For a JSON body: `route` names the operation (`"POST /premises"`); the parsed body is
    /// the request's content. A malformed key is a 422; handlers that check the caller's
    /// rights first keep the `Result` and use it with `?` after those checks.
    pub fn json(req: &HttpRequest, route: &str, body: &impl Serialize) -> AppResult<Self> {
        Self::bytes(req, route, &serde_json::to_vec(body)?)
    }

    /// For any other body, identified by `content` (for an upload, the digest of its bytes).
    pub fn bytes(req: &HttpRequest, route: &str, content: &[u8]) -> AppResult<Self> {
        Ok(Idempotent {
            key: key_of(req.headers())?,
            fingerprint: fingerprint(route, content),
        })
    }

    /// Runs `f` unless this user already sent this key; then returns the stored response (same
    /// request) or 422 `idempotency_key_reused` (another request). Call inside the write
    /// transaction of the change.
    pub fn run<T: Serialize>(
        self,
        conn: &mut DbConn,
        user_id: i64,
        f: impl FnOnce(&mut DbConn) -> AppResult<(StatusCode, T)>,
    ) -> AppResult<Reply> {
        once(
            conn,
            Owner::User(user_id),
            self.key.as_deref(),
            &self.fingerprint,
            |conn| {
                let (status, body) = f(conn)?;
                Ok((status.as_u16(), serde_json::to_value(body)?))
            },
        )
    }
}

impl Idempotent {
    /// `run` for a request without an account (a public report): keys are one namespace of
    /// their own. What `f` returns is what a retry gets back, so it must hold nothing a
    /// stranger who guessed the key and the body should not learn (a report's secret is
    /// added after, see `public::routes`).
    pub fn run_public<T: Serialize>(
        self,
        conn: &mut DbConn,
        f: impl FnOnce(&mut DbConn) -> AppResult<(StatusCode, T)>,
    ) -> AppResult<Reply> {
        once(
            conn,
            Owner::Public,
            self.key.as_deref(),
            &self.fingerprint,
            |conn| {
                let (status, body) = f(conn)?;
                Ok((status.as_u16(), serde_json::to_value(body)?))
            },
        )
    }
}

impl Reply {
    /// Whether this repeats the stored response of an earlier request.
    pub fn replayed(&self) -> bool {
        self.replayed
    }

    /// The JSON body, for a handler that adds what was not stored.
    pub fn body_mut(&mut self) -> &mut serde_json::Value {
        &mut self.body
    }

    /// The one way an idempotent response leaves: its status and JSON body, marked when it is
    /// a replay.
    pub fn respond(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut resp = HttpResponse::build(status);
        if self.replayed {
            resp.insert_header((REPLAYED, "true"));
        }
        resp.json(self.body)
    }
}

/// 422 unless the request's key, if any, is well-formed: for a handler that must refuse a bad
/// key before it reads a large body (the `Idempotent` itself needs the body).
pub fn check_key(req: &HttpRequest) -> AppResult<()> {
    key_of(req.headers()).map(|_| ())
}

/// The key of a request, if it carries one: 1–255 visible ASCII characters.
fn key_of(headers: &HeaderMap) -> AppResult<Option<String>> {
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
fn fingerprint(route: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

/// The response of an idempotent request, fresh or stored: status and JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    body: serde_json::Value,
    replayed: bool,
}

/// Whose namespace a key lives in.
#[derive(Debug, Clone, Copy)]
enum Owner {
    User(i64),
    /// Requests without an account.
    Public,
}

fn once(
    conn: &mut DbConn,
    owner: Owner,
    key: Option<&str>,
    fingerprint: &str,
    f: impl FnOnce(&mut DbConn) -> AppResult<(u16, serde_json::Value)>,
) -> AppResult<Reply> {
    let Some(key) = key else {
        let (status, body) = f(conn)?;
        return Ok(Reply {
            status,
            body,
            replayed: false,
        });
    };
    let found: Option<(String, i32, String)> = match owner {
        Owner::User(user_id) => idempotency_keys::table
            .find((user_id, key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::status_code,
                idempotency_keys::response,
            ))
            .first(conn)
            .optional()?,
        Owner::Public => public_idempotency_keys::table
            .find(key)
            .select((
                public_idempotency_keys::request_hash,
                public_idempotency_keys::status_code,
                public_idempotency_keys::response,
            ))
            .first(conn)
            .optional()?,
    };
    if let Some((hash, status, response)) = found {
        if hash != fingerprint {
            return Err(AppError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request",
            ));
        }
        let body = serde_json::from_str(&response)?;
        return Ok(Reply {
            status: status as u16,
            body,
            replayed: true,
        });
    }
    let (status, body) = f(conn)?;
    let (response, now) = (body.to_string(), crate::db::now());
    let inserted = match owner {
        Owner::User(user_id) => diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::user_id.eq(user_id),
                idempotency_keys::key.eq(key),
                idempotency_keys::request_hash.eq(fingerprint),
                idempotency_keys::status_code.eq(status as i32),
                idempotency_keys::response.eq(&response),
                idempotency_keys::created_at.eq(now),
            ))
            .execute(conn),
        Owner::Public => diesel::insert_into(public_idempotency_keys::table)
            .values((
                public_idempotency_keys::key.eq(key),
                public_idempotency_keys::request_hash.eq(fingerprint),
                public_idempotency_keys::status_code.eq(status as i32),
                public_idempotency_keys::response.eq(&response),
                public_idempotency_keys::created_at.eq(now),
            ))
            .execute(conn),
    };
    inserted.map_err(|e| match e {
        // The same key committed by a concurrent first attempt: this one rolls back.
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => AppError::conflict(
            "a request with this Idempotency-Key is already being processed; retry",
        ),
        other => other.into(),
    })?;
    Ok(Reply {
        status,
        body,
        replayed: false,
    })
}

pub fn prune(conn: &mut DbConn, now: chrono::NaiveDateTime) -> AppResult<usize> {
    let cutoff = now - chrono::Duration::hours(KEEP_HOURS);
    let users =
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
            .execute(conn)?;
    let public = diesel::delete(
        public_idempotency_keys::table.filter(public_idempotency_keys::created_at.lt(cutoff)),
    )
    .execute(conn)?;
    Ok(users + public)
}
