//! One way in for every photo, whichever way its bytes arrived (one multipart request, or a
//! resumable tus upload assembled from many): recognised by its bytes, held to `MAX_BYTES`,
//! EXIF read as evidence and then stripped, stored content-addressed, and recorded against its
//! case with an `attach` event.

use actix_web::web;
use sha2::{Digest, Sha256};

use crate::attachments::image::{self, Capture, Format};
use crate::attachments::store::{self, AttachmentRow};
use crate::auth::policy::{authorize, Capability, Target};
use crate::auth::principal::Principal;
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::hazards::store::{self as hazard_store, HazardRow};
use crate::vocab::EventAction;
use crate::AppState;

/// Largest photo accepted.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

pub fn too_large() -> AppError {
    AppError::new(
        ErrorCode::PayloadTooLarge,
        format!("a photo may have at most {MAX_BYTES} bytes"),
    )
}

/// May the caller add photos to this case: a role that works cases, covering it.
pub fn may_attach(p: &Principal, row: &HazardRow) -> AppResult<()> {
    authorize(p, Capability::WorkCases, Target::Region(&row.region_path))
}

/// The format the bytes really are (415 when they are no JPEG, PNG or WebP).
pub fn detect(raw: &[u8]) -> AppResult<Format> {
    if raw.len() > MAX_BYTES {
        return Err(too_large());
    }
    image::detect(raw).ok_or_else(|| {
        AppError::new(
            ErrorCode::UnsupportedMediaType,
            "the file is not a JPEG, PNG or WebP image",
        )
    })
}

/// A photo whose stripped bytes are stored, not yet recorded against a case.
pub struct Stored {
    pub capture: Capture,
    pub sha256: String,
    pub size: i64,
    pub content_type: &'static str,
    /// Whether this upload wrote the blob (so that a failure removes only a file of its own).
    created: bool,
}

/// Reads the capture, strips the metadata (415 for a malformed image) and stores the blob (503
/// on a full disk), off the actix workers.
pub async fn store(state: &AppState, format: Format, raw: Vec<u8>) -> AppResult<Stored> {
    let tz = state.settings.tz;
    let data_dir = state.settings.data_dir.clone();
    let written = web::block(move || -> AppResult<_> {
        let capture = image::read_capture(&raw, tz);
        let stripped =
            image::strip_metadata(format, img_parts::Bytes::from(raw)).ok_or_else(|| {
                AppError::new(ErrorCode::UnsupportedMediaType, "the image is malformed")
            })?;
        let sha256 = hex::encode(Sha256::digest(&stripped));
        let created = store::write_blob(&data_dir, &sha256, &stripped)?;
        Ok(Stored {
            capture,
            sha256,
            size: stripped.len() as i64,
            content_type: format.content_type(),
            created,
        })
    })
    .await?;
    state.pool.storage().observe(&written);
    written
}

/// Who adds the photo: staff (checked against the case) or the reporter of a public report
/// (who proved it with the report's secret before).
pub enum Uploader<'a> {
    Staff(&'a Principal),
    Reporter,
}

/// Records the stored photo against the case, with its `attach` event, in the caller's
/// transaction. Staff must still see the case and work cases there.
pub fn record(
    conn: &mut DbConn,
    hazard_id: i64,
    photo: &Stored,
    by: Uploader<'_>,
) -> AppResult<AttachmentRow> {
    let now = db::now();
    let uploaded_by = match by {
        Uploader::Staff(p) => {
            let row = hazard_store::visible(conn, p, hazard_id)?;
            may_attach(p, &row)?;
            Some(p.user_id)
        }
        Uploader::Reporter => None,
    };
    let new = store::NewAttachment {
        hazard_id,
        sha256: &photo.sha256,
        content_type: photo.content_type,
        size: photo.size,
        uploaded_by,
    };
    let a = store::insert(conn, new, photo.capture, now)?;
    // Evidence belongs in the timeline too.
    let mut params = serde_json::json!({"attachment_id": a.id, "sha256": a.sha256, "content_type": a.content_type});
    match by {
        Uploader::Staff(p) => {
            hazard_store::record(conn, p, hazard_id, EventAction::Attach, params, now)?;
        }
        Uploader::Reporter => {
            params["by_reporter"] = serde_json::Value::Bool(true);
            hazard_store::record_anonymous(conn, hazard_id, EventAction::Attach, params, now)?;
        }
    }
    Ok(a)
}

/// The blob of a photo whose record could not be written is removed (when this upload wrote
/// it), so that no photo file exists without its record.
pub async fn discard(state: &AppState, photo: Stored) {
    if photo.created {
        let data_dir = state.settings.data_dir.clone();
        let _ = web::block(move || store::remove_blob(&data_dir, &photo.sha256)).await;
    }
}
