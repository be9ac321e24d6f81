//! Open311 in the database: API keys (issued, checked, revoked) and the public reports posted
//! through them, read back as GeoReport requests.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::schema::{hazards, open311_keys, open311_requests, public_reports, regions};
use crate::db::DbConn;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::exports::zh;
use crate::open311::model::*;
use crate::per_backend;
use crate::public::codes;
use crate::public::model::{NewPublicReport, PublicStatus};
use crate::public::store as public;
use crate::regions::model::RegionLevel;
use crate::regions::store as region_store;
use crate::vocab::Channel;

/// Characters of a key kept in the clear to tell keys apart.
const PREFIX_LEN: usize = 12;

/// The stored form of a key: it is 160 random bits, so a fast hash suffices.
fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.trim().as_bytes()))
}

/// A new key, e.g. `o311_5f0c…` (45 characters).
fn generate_key() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("o311_{}", hex::encode(bytes))
}

/// Issues a key for a county; returns the row and the key (shown once).
pub fn issue(
    conn: &mut DbConn,
    name: &str,
    county_id: i64,
    created_by: i64,
    now: NaiveDateTime,
) -> AppResult<(KeyRow, String)> {
    let key = generate_key();
    let insert = diesel::insert_into(open311_keys::table).values((
        open311_keys::name.eq(name),
        open311_keys::county_id.eq(county_id),
        open311_keys::key_hash.eq(hash_key(&key)),
        open311_keys::prefix.eq(&key[..PREFIX_LEN]),
        open311_keys::created_by.eq(created_by),
        open311_keys::created_at.eq(now),
    ));
    let row = per_backend!(conn, |c| insert
        .returning(KeyRow::as_returning())
        .get_result(c))?;
    Ok((row, key))
}

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<KeyRow> {
    open311_keys::table
        .find(id)
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// Keys newest first, below `before_id`, with their county's code and path.
pub fn list(
    conn: &mut DbConn,
    before_id: Option<i64>,
    fetch: i64,
) -> AppResult<Vec<(KeyRow, String, String)>> {
    let mut q = open311_keys::table
        .inner_join(regions::table.on(regions::id.eq(open311_keys::county_id)))
        .select((KeyRow::as_select(), regions::code, regions::path))
        .order(open311_keys::id.desc())
        .limit(fetch)
        .into_boxed();
    if let Some(b) = before_id {
        q = q.filter(open311_keys::id.lt(b));
    }
    Ok(q.load(conn)?)
}

/// Revokes a key (once; revoking again changes nothing).
pub fn revoke(conn: &mut DbConn, id: i64, by: i64, now: NaiveDateTime) -> AppResult<()> {
    diesel::update(
        open311_keys::table
            .find(id)
            .filter(open311_keys::revoked_at.is_null()),
    )
    .set((
        open311_keys::revoked_at.eq(now),
        open311_keys::revoked_by.eq(by),
    ))
    .execute(conn)?;
    Ok(())
}

/// The live key behind `api_key`: 403 for an unknown or revoked one (the same answer, so that
/// a revoked key tells nothing more than a made-up one).
pub fn authenticate(conn: &mut DbConn, api_key: &str) -> AppResult<KeyRow> {
    let row: Option<KeyRow> = open311_keys::table
        .filter(open311_keys::key_hash.eq(hash_key(api_key)))
        .filter(open311_keys::revoked_at.is_null())
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?;
    row.ok_or_else(|| AppError::forbidden("api_key is unknown or revoked"))
}

/// The county with this code (404 when no county of the deployment has it).
pub fn jurisdiction(conn: &mut DbConn, code: &str) -> AppResult<i64> {
    let found = region_store::by_codes(conn, &[code.trim().to_string()])?
        .into_iter()
        .find(|r| r.level == RegionLevel::County);
    found
        .map(|r| r.id)
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "jurisdiction_id: no such county"))
}

/// Takes in a request posted with `key`: a public report (channel `open311`) through the one
/// path every public report takes (throttle, case, notifications), remembered as the key's.
/// The report must lie in the key's county (404 otherwise, as for any region outside it).
/// Returns the tracking code. In the caller's transaction.
pub fn post(
    conn: &mut DbConn,
    key: &KeyRow,
    new: &NewPublicReport,
    address: &str,
    now: NaiveDateTime,
) -> AppResult<String> {
    let (region, _) = public::placement(conn, new.region_id)?;
    let county_path = region_store::get(conn, key.county_id)?.path;
    if !region.path.starts_with(&county_path) {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "attribute[region_id]: not in this api_key's county",
        ));
    }
    let (case, report, _secret) = public::take_public(conn, new, Channel::Open311, address, now)?;
    diesel::insert_into(open311_requests::table)
        .values((
            open311_requests::hazard_id.eq(case.id),
            open311_requests::key_id.eq(key.id),
            open311_requests::county_id.eq(case.county_id),
            open311_requests::received_at.eq(report.received_at),
        ))
        .execute(conn)?;
    Ok(report.tracking_code)
}

/// Which requests to read.
#[derive(Debug, Default)]
pub struct Filter {
    pub county_id: Option<i64>,
    /// Tracking codes (already canonical); when given, the other filters do not apply.
    pub ids: Vec<String>,
    pub services: Vec<Category>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub statuses: Vec<Open311Status>,
}

/// At most this many requests per answer (the newest).
pub const MAX_REQUESTS: i64 = 500;

/// Open311 requests as anyone may read them (see `ServiceRequest`), newest first. Only
/// reports that came through Open311: the reporters of the web form and the hotlines were
/// promised that only their tracking code and secret together show their report.
pub fn requests(conn: &mut DbConn, f: &Filter) -> AppResult<Vec<ServiceRequest>> {
    let mut q = open311_requests::table
        .inner_join(public_reports::table)
        .inner_join(hazards::table.on(hazards::id.eq(open311_requests::hazard_id)))
        .select((public::ReportRow::as_select(), hazards::category))
        .order(open311_requests::received_at.desc())
        .limit(MAX_REQUESTS)
        .into_boxed();
    if let Some(c) = f.county_id {
        q = q.filter(open311_requests::county_id.eq(c));
    }
    if !f.ids.is_empty() {
        q = q.filter(public_reports::tracking_code.eq_any(&f.ids));
    } else {
        if !f.services.is_empty() {
            q = q.filter(hazards::category.eq_any(&f.services));
        }
        if let Some(from) = f.from {
            q = q.filter(open311_requests::received_at.ge(from));
        }
        if let Some(to) = f.to {
            q = q.filter(open311_requests::received_at.le(to));
        }
    }
    let rows: Vec<(public::ReportRow, Category)> = q.load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (report, category) in rows {
        // The reporter's own view decides the status and the reply (a report closed as a
        // duplicate follows its original), so both readings always agree.
        let view = public::public_view(conn, &report)?;
        let status = match view.status {
            PublicStatus::Received | PublicStatus::Verified | PublicStatus::InProgress => {
                Open311Status::Open
            }
            PublicStatus::Rejected | PublicStatus::Resolved => Open311Status::Closed,
        };
        if f.ids.is_empty() && !f.statuses.is_empty() && !f.statuses.contains(&status) {
            continue;
        }
        out.push(ServiceRequest {
            service_request_id: view.tracking_code,
            status,
            status_notes: view.public_reply,
            service_code: category,
            service_name: zh::category(category).to_string(),
            requested_datetime: view.received_at,
            updated_datetime: view.updated_at,
        });
    }
    Ok(out)
}

/// One request by its id (a tracking code as typed), in `county` when given; 404 when there
/// is no such Open311 request (there).
pub fn request(conn: &mut DbConn, id: &str, county_id: Option<i64>) -> AppResult<ServiceRequest> {
    let code = codes::normalize(id, codes::CODE_LEN).ok_or_else(not_found)?;
    requests(
        conn,
        &Filter {
            county_id,
            ids: vec![code],
            ..Filter::default()
        },
    )?
    .pop()
    .ok_or_else(not_found)
}

fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "service_request_id: no such request")
}
