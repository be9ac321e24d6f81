//! Uploads in the database: who may touch one, its committed offset, the lease of the PATCH
//! writing it, the files its bytes are in, and the transaction that turns it into a photo.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::attachments::ingest::{self, Uploader};
use crate::auth::principal::Principal;
use crate::db::schema::{upload_segments, uploads};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::hazards::store as hazard_store;
use crate::public::store as public_store;

/// Incomplete uploads (and their bytes) are removed this long after creation.
pub const EXPIRY_HOURS: i64 = 24;

/// A writer that moved the offset within this time is alive: another PATCH waits for it
/// rather than take over.
pub fn lease_fresh_for() -> Duration {
    Duration::seconds(5)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = uploads)]
pub struct UploadRow {
    pub id: String,
    pub hazard_id: i64,
    pub created_by: Option<i64>,
    pub length: i64,
    pub upload_offset: i64,
    pub metadata: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub lease: Option<String>,
    pub lease_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub attachment_id: Option<i64>,
}

impl UploadRow {
    /// A PATCH is writing it and showed progress lately.
    pub fn busy(&self, now: NaiveDateTime) -> bool {
        self.lease.is_some() && self.lease_at.is_some_and(|t| t > now - lease_fresh_for())
    }
}

/// Who asks: staff with their principal, or a reporter with the secret they sent.
pub enum Owner {
    Staff(Principal),
    Reporter(String),
}

impl Owner {
    pub fn uploader(&self) -> Uploader<'_> {
        match self {
            Owner::Staff(p) => Uploader::Staff(p),
            Owner::Reporter(_) => Uploader::Reporter,
        }
    }
}

/// What an upload is for, as named in its Upload-Metadata.
pub enum Target {
    /// `hazard_id`: a case in the staff caller's scope.
    Case(i64),
    /// `tracking_code`: a public report whose secret the reporter sends.
    Report(String),
}

/// A new upload of `length` bytes for `target`: staff must see the case (else 404) and work
/// cases there (else 403); a reporter must hold the report's secret (else 404).
pub fn create(
    conn: &mut DbConn,
    owner: &Owner,
    target: &Target,
    length: i64,
    metadata: &str,
    now: NaiveDateTime,
) -> AppResult<UploadRow> {
    let (hazard_id, created_by) = match (owner, target) {
        (Owner::Staff(p), Target::Case(id)) => {
            let row = hazard_store::visible(conn, p, *id)?;
            ingest::may_attach(p, &row)?;
            (row.id, Some(p.user_id))
        }
        (Owner::Reporter(secret), Target::Report(code)) => {
            (public_store::by_code(conn, code, secret)?.hazard_id, None)
        }
        (Owner::Staff(_), Target::Report(_)) => {
            return Err(AppError::field(
                "hazard_id",
                "staff name the case in the Upload-Metadata key hazard_id",
            ))
        }
        (Owner::Reporter(_), Target::Case(_)) => {
            return Err(AppError::unauthenticated(
                "a case's photos need a bearer token; a reporter names tracking_code",
            ))
        }
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    diesel::insert_into(uploads::table)
        .values((
            uploads::id.eq(&id),
            uploads::hazard_id.eq(hazard_id),
            uploads::created_by.eq(created_by),
            uploads::length.eq(length),
            uploads::upload_offset.eq(0),
            uploads::metadata.eq(metadata),
            uploads::created_at.eq(now),
            uploads::expires_at.eq(now + Duration::hours(EXPIRY_HOURS)),
        ))
        .execute(conn)?;
    get(conn, &id)
}

fn get(conn: &mut DbConn, id: &str) -> AppResult<UploadRow> {
    uploads::table
        .find(id)
        .select(UploadRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// The upload if `owner` created it and may still reach its case; the same 404 for an unknown
/// id, an expired upload, someone else's upload, and a case that left the caller's scope.
pub fn owned(
    conn: &mut DbConn,
    owner: &Owner,
    id: &str,
    now: NaiveDateTime,
) -> AppResult<UploadRow> {
    // Ids are 32 hex digits; anything else is not worth a query.
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::not_found());
    }
    let row = get(conn, id)?;
    if row.completed_at.is_none() && row.expires_at <= now {
        return Err(AppError::not_found());
    }
    match owner {
        Owner::Staff(p) if row.created_by == Some(p.user_id) => {
            hazard_store::visible(conn, p, row.hazard_id)?;
        }
        Owner::Reporter(secret) if row.created_by.is_none() => {
            public_store::by_case(conn, row.hazard_id, secret)?;
        }
        _ => return Err(AppError::not_found()),
    }
    Ok(row)
}

pub enum Claim {
    /// Another PATCH is writing it and alive.
    Busy,
    /// Nothing left to write: the upload is attached.
    Complete(UploadRow),
    /// This PATCH now writes from `row.upload_offset` into file `token`; `stale` are files of
    /// earlier writers that no longer count.
    Claimed {
        row: UploadRow,
        token: String,
        stale: Vec<String>,
    },
}

/// Takes the lease for a PATCH at `offset` carrying `body_len` bytes (when declared): 409 when
/// the offset is not the upload's, 413 when the body would run past its length. A live writer
/// makes it `Busy` unless `take_over` (the caller waited long enough for it). In a write
/// transaction.
pub fn claim(
    conn: &mut DbConn,
    owner: &Owner,
    id: &str,
    offset: i64,
    body_len: Option<i64>,
    take_over: bool,
    now: NaiveDateTime,
) -> AppResult<Claim> {
    let row = owned(conn, owner, id, now)?;
    if row.upload_offset != offset {
        return Err(AppError::conflict(format!(
            "Upload-Offset {offset} does not match the upload's offset {}",
            row.upload_offset
        )));
    }
    if row.completed_at.is_some() {
        return Ok(Claim::Complete(row));
    }
    if body_len.is_some_and(|n| offset + n > row.length) {
        return Err(AppError::new(
            crate::error::ErrorCode::PayloadTooLarge,
            format!("the body runs past Upload-Length {}", row.length),
        ));
    }
    if row.busy(now) && !take_over {
        return Ok(Claim::Busy);
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    // Only if nobody claimed it since it was read (PostgreSQL runs two of these at once).
    let target = uploads::table
        .find(id)
        .filter(uploads::upload_offset.eq(offset))
        .filter(uploads::completed_at.is_null());
    let set = (
        uploads::lease.eq(Some(&token)),
        uploads::lease_at.eq(Some(now)),
    );
    let taken = match &row.lease {
        None => diesel::update(target.filter(uploads::lease.is_null()))
            .set(set)
            .execute(conn)?,
        Some(l) => diesel::update(target.filter(uploads::lease.eq(l)))
            .set(set)
            .execute(conn)?,
    };
    if taken == 0 {
        return Ok(Claim::Busy);
    }
    // Files that start at or after the offset hold nothing that counts.
    let later = upload_segments::table
        .filter(upload_segments::upload_id.eq(id))
        .filter(upload_segments::start_offset.ge(offset));
    let stale: Vec<String> = later.select(upload_segments::file).load(conn)?;
    diesel::delete(later).execute(conn)?;
    diesel::insert_into(upload_segments::table)
        .values((
            upload_segments::upload_id.eq(id),
            upload_segments::start_offset.eq(offset),
            upload_segments::file.eq(&token),
        ))
        .execute(conn)?;
    Ok(Claim::Claimed { row, token, stale })
}

/// Moves the offset from `from` to `to` for the writer holding `token` (releasing the lease
/// when `release`); false when another PATCH took over or the upload is gone.
pub fn progress(
    conn: &mut DbConn,
    id: &str,
    token: &str,
    from: i64,
    to: i64,
    release: bool,
    now: NaiveDateTime,
) -> AppResult<bool> {
    let lease = (!release).then_some(token);
    let n = diesel::update(
        uploads::table
            .find(id)
            .filter(uploads::lease.eq(token))
            .filter(uploads::upload_offset.eq(from)),
    )
    .set((
        uploads::upload_offset.eq(to),
        uploads::lease.eq(lease),
        uploads::lease_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Gives the lease back without progress (a refused body): the writer's file no longer counts.
pub fn release(conn: &mut DbConn, id: &str, token: &str) -> AppResult<()> {
    diesel::update(uploads::table.find(id).filter(uploads::lease.eq(token)))
        .set((
            uploads::lease.eq(None::<String>),
            uploads::lease_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    // Its segment starts at the committed offset, so nothing of it counts.
    let offset: Option<i64> = uploads::table
        .find(id)
        .select(uploads::upload_offset)
        .first(conn)
        .optional()?;
    if let Some(offset) = offset {
        diesel::delete(
            upload_segments::table
                .filter(upload_segments::upload_id.eq(id))
                .filter(upload_segments::file.eq(token))
                .filter(upload_segments::start_offset.eq(offset)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// The writers' files in order, each with the bytes of it that count: from its start to the
/// next file's start, the last to `end`.
pub fn segments(conn: &mut DbConn, id: &str, end: i64) -> AppResult<Vec<(String, i64)>> {
    let rows: Vec<(i64, String)> = upload_segments::table
        .filter(upload_segments::upload_id.eq(id))
        .filter(upload_segments::start_offset.lt(end))
        .order(upload_segments::start_offset.asc())
        .select((upload_segments::start_offset, upload_segments::file))
        .load(conn)?;
    if rows.first().is_some_and(|(start, _)| *start != 0) {
        return Err(AppError::internal(
            "an upload's first file does not start at 0",
        ));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, (start, file)) in rows.iter().enumerate() {
        let next = rows.get(i + 1).map_or(end, |(s, _)| *s);
        out.push((file.clone(), next - start));
    }
    Ok(out)
}

/// The last bytes arrived and the photo is stored: records it against the case and marks the
/// upload complete, in one transaction; false (nothing recorded) when another PATCH took over.
pub fn complete(
    conn: &mut DbConn,
    owner: &Owner,
    id: &str,
    token: &str,
    from: i64,
    photo: &ingest::Stored,
    now: NaiveDateTime,
) -> AppResult<Option<crate::attachments::store::AttachmentRow>> {
    let row = owned(conn, owner, id, now)?;
    // Conditional, so that it also holds against a PATCH claiming it at this moment.
    let won = diesel::update(
        uploads::table
            .find(id)
            .filter(uploads::lease.eq(token))
            .filter(uploads::upload_offset.eq(from)),
    )
    .set((
        uploads::upload_offset.eq(row.length),
        uploads::completed_at.eq(Some(now)),
        uploads::lease.eq(None::<String>),
        uploads::lease_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    if won == 0 {
        return Ok(None);
    }
    let a = ingest::record(conn, row.hazard_id, photo, owner.uploader())?;
    diesel::update(uploads::table.find(id))
        .set(uploads::attachment_id.eq(Some(a.id)))
        .execute(conn)?;
    diesel::delete(upload_segments::table.filter(upload_segments::upload_id.eq(id)))
        .execute(conn)?;
    Ok(Some(a))
}

/// Forgets an upload whose bytes can never become a photo (not an image), while the writer
/// holding `token` still holds it.
pub fn remove(conn: &mut DbConn, id: &str, token: &str) -> AppResult<bool> {
    let held: i64 = uploads::table
        .filter(uploads::id.eq(id))
        .filter(uploads::lease.eq(token))
        .count()
        .get_result(conn)?;
    if held == 1 {
        diesel::delete(upload_segments::table.filter(upload_segments::upload_id.eq(id)))
            .execute(conn)?;
        diesel::delete(uploads::table.find(id)).execute(conn)?;
    }
    Ok(held == 1)
}
