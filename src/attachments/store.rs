//! Stored photos: their records (diesel) and their bytes, content-addressed under the data
//! directory.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::attachments::image::Capture;
use crate::db::schema::attachments;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attachments)]
pub struct AttachmentRow {
    pub id: i64,
    pub hazard_id: i64,
    pub sha256: String,
    pub content_type: String,
    pub size: i64,
    /// `None`: the reporter of a public report, who has no account.
    pub uploaded_by: Option<i64>,
    pub taken_at: Option<NaiveDateTime>,
    pub gps_lat: Option<f64>,
    pub gps_lng: Option<f64>,
    pub created_at: NaiveDateTime,
}

/// A stored photo. `taken_at` and the GPS position come from the EXIF that was removed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment {
    pub id: i64,
    pub hazard_id: i64,
    pub content_type: String,
    /// Bytes as stored (after metadata removal).
    pub size: i64,
    /// SHA-256 of the stored bytes.
    pub sha256: String,
    pub taken_at: Option<chrono::DateTime<chrono::Utc>>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl AttachmentRow {
    pub fn to_api(&self) -> Attachment {
        Attachment {
            id: self.id,
            hazard_id: self.hazard_id,
            content_type: self.content_type.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            taken_at: self.taken_at.map(|t| t.and_utc()),
            lat: self.gps_lat,
            lng: self.gps_lng,
            created_at: self.created_at.and_utc(),
        }
    }
}

/// Where the bytes with this hash live: `<data dir>/attachments/ab/abcdef…`.
pub fn blob_path(data_dir: &Path, sha256: &str) -> PathBuf {
    data_dir.join("attachments").join(&sha256[..2]).join(sha256)
}

/// Writes the blob once (same bytes, same name); a temporary file and a rename keep a crash
/// from leaving half a photo under the final name. Returns whether this call created it (so a
/// failed upload removes only a file of its own). A full or read-only disk is 503
/// `storage_unavailable`, and no temporary file is left behind.
pub fn write_blob(data_dir: &Path, sha256: &str, bytes: &[u8]) -> AppResult<bool> {
    let path = blob_path(data_dir, sha256);
    if path.exists() {
        return Ok(false);
    }
    let dir = path
        .parent()
        .ok_or_else(|| AppError::internal("blob path"))?;
    let tmp = dir.join(format!(".{sha256}.{}", uuid::Uuid::new_v4()));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| injected_fault(data_dir))
        .and_then(|()| write_synced(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, &path));
    written.map(|()| true).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        if crate::storage::is_storage_io(&e) {
            crate::storage::unavailable(format!("cannot store the photo: {e}")).caused_by(e)
        } else {
            AppError::internal(format!("cannot store {}", path.display())).caused_by(e)
        }
    })
}

/// The file's bytes reach the disk before it is renamed into place: a full disk shows up here,
/// not later as a truncated photo.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Removes a blob this upload created when its record could not be written, so that no photo
/// file exists without its record.
pub fn remove_blob(data_dir: &Path, sha256: &str) {
    let path = blob_path(data_dir, sha256);
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove an unrecorded photo");
    }
}

/// Fault injection for tests: a full disk cannot be made without root, so tests make the
/// photo writes under one data directory fail with the operating system's own error instead.
static FAULTS: Mutex<Vec<(PathBuf, i32)>> = Mutex::new(Vec::new());

#[doc(hidden)]
pub fn inject_write_fault(data_dir: &Path, errno: Option<i32>) {
    let mut f = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
    f.retain(|(dir, _)| dir != data_dir);
    if let Some(errno) = errno {
        f.push((data_dir.to_path_buf(), errno));
    }
}

fn injected_fault(data_dir: &Path) -> std::io::Result<()> {
    let f = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
    match f.iter().find(|(dir, _)| dir == data_dir) {
        Some((_, errno)) => Err(std::io::Error::from_raw_os_error(*errno)),
        None => Ok(()),
    }
}

pub fn read_blob(data_dir: &Path, sha256: &str) -> AppResult<Vec<u8>> {
    std::fs::read(blob_path(data_dir, sha256))
        .map_err(|e| AppError::internal(format!("photo {sha256} unreadable")).caused_by(e))
}

/// A stored blob about to be recorded against a case.
pub struct NewAttachment<'a> {
    pub hazard_id: i64,
    pub sha256: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub uploaded_by: Option<i64>,
}

pub fn insert(
    conn: &mut DbConn,
    a: NewAttachment<'_>,
    capture: Capture,
    now: NaiveDateTime,
) -> AppResult<AttachmentRow> {
    let id: i64 = diesel::insert_into(attachments::table)
        .values((
            attachments::hazard_id.eq(a.hazard_id),
            attachments::sha256.eq(a.sha256),
            attachments::content_type.eq(a.content_type),
            attachments::size.eq(a.size),
            attachments::uploaded_by.eq(a.uploaded_by),
            attachments::taken_at.eq(capture.taken_at),
            attachments::gps_lat.eq(capture.lat),
            attachments::gps_lng.eq(capture.lng),
            attachments::created_at.eq(now),
        ))
        .returning(attachments::id)
        .get_result(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<AttachmentRow> {
    attachments::table
        .find(id)
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// Up to `fetch` photos of a case after id `after_id`, oldest first.
pub fn of_hazard(
    conn: &mut DbConn,
    hazard_id: i64,
    after_id: Option<i64>,
    fetch: i64,
) -> AppResult<Vec<AttachmentRow>> {
    Ok(attachments::table
        .filter(attachments::hazard_id.eq(hazard_id))
        .filter(attachments::id.gt(after_id.unwrap_or(0)))
        .order(attachments::id.asc())
        .limit(fetch)
        .select(AttachmentRow::as_select())
        .load(conn)?)
}
