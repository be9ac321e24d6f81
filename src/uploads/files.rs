//! The bytes of uploads in progress: `<data dir>/uploads/<id>/<writer token>`, one file per
//! PATCH (see `store` for which part of each file counts). Blocking calls: run them off the
//! actix workers.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{AppError, AppResult};

pub const DIR: &str = "uploads";

pub fn upload_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join(DIR).join(id)
}

fn io_error(what: &str, e: std::io::Error) -> AppError {
    if crate::storage::is_storage_io(&e) {
        crate::storage::unavailable(format!("cannot store the upload: {e}")).caused_by(e)
    } else {
        AppError::internal(format!("upload file: {what}")).caused_by(e)
    }
}

/// Appends `bytes` to the writer's file and makes them durable before the offset that counts
/// them is committed: an offset never runs ahead of the disk.
pub fn append(data_dir: &Path, id: &str, file: &str, bytes: &[u8]) -> AppResult<()> {
    let dir = upload_dir(data_dir, id);
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(file))?;
        f.write_all(bytes)?;
        f.sync_data()
    });
    written.map_err(|e| io_error("append", e))
}

/// Reads `len` bytes from the start of a writer's file.
pub fn read_prefix(
    data_dir: &Path,
    id: &str,
    file: &str,
    len: u64,
    out: &mut Vec<u8>,
) -> AppResult<()> {
    let path = upload_dir(data_dir, id).join(file);
    let f = std::fs::File::open(&path).map_err(|e| io_error("open", e))?;
    let before = out.len();
    f.take(len)
        .read_to_end(out)
        .map_err(|e| io_error("read", e))?;
    if (out.len() - before) as u64 != len {
        return Err(AppError::internal(format!(
            "upload file {} is shorter than its committed bytes",
            path.display()
        )));
    }
    Ok(())
}

/// Removes a writer's file (superseded or refused); a missing one is fine.
pub fn remove_file(data_dir: &Path, id: &str, file: &str) {
    let _ = std::fs::remove_file(upload_dir(data_dir, id).join(file));
}

/// Removes an upload's directory (attached, refused or expired); a missing one is fine.
pub fn remove_dir(data_dir: &Path, id: &str) {
    let dir = upload_dir(data_dir, id);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %dir.display(), error = %e, "could not remove an upload's files");
        }
    }
}

/// The upload directories present, with when each last changed.
pub fn list(data_dir: &Path) -> Vec<(String, std::time::SystemTime)> {
    let Ok(entries) = std::fs::read_dir(data_dir.join(DIR)) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((e.file_name().into_string().ok()?, modified))
        })
        .collect()
}
