//! A full disk is not a bug. When the database file or a photo cannot be written because the
//! disk is full (`ENOSPC`, SQLite's "database or disk is full", PostgreSQL's "No space left on
//! device"), over quota (`EDQUOT`) or read-only (`EROFS`), the request is answered 503
//! `storage_unavailable` with `Retry-After`, the operator is told at error level (at most once a
//! minute, not once per request), and `/readyz` says why until a write succeeds again or a
//! minute passes without another failure.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{AppError, ErrorCode};

/// How long a storage failure keeps `/readyz` at 503 without a new one, and the least time
/// between two error-level log lines about it.
pub const QUIET: Duration = Duration::from_secs(60);

/// The words the storage engines use for these conditions (SQLite, PostgreSQL, the OS).
const DB_MESSAGES: &[&str] = &[
    "database or disk is full",
    "attempt to write a readonly database",
    "disk I/O error",
    "No space left on device",
    "Disk quota exceeded",
    "Read-only file system",
    "could not extend file",
];

/// Is this database error message about the storage under the database?
pub fn is_storage_message(message: &str) -> bool {
    DB_MESSAGES.iter().any(|m| message.contains(m))
}

/// Is this file-system error a full, over-quota or read-only disk?
pub fn is_storage_io(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EROFS)
    )
}

/// The answer to a request that met one.
pub fn unavailable(detail: impl Into<String>) -> AppError {
    AppError {
        retry_after_secs: Some(QUIET.as_secs()),
        ..AppError::new(ErrorCode::StorageUnavailable, detail)
    }
}

/// The last storage failure of one server (shared by its pool, so every worker sees it).
#[derive(Default)]
pub struct Health {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failure: Option<(Instant, String)>,
    logged: Option<Instant>,
}

impl Health {
    /// Notes a failure; logs it unless one was logged less than `QUIET` ago.
    pub fn failed(&self, reason: &str) {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.logged.is_none_or(|t| now.duration_since(t) >= QUIET) {
            tracing::error!(
                reason,
                "storage unavailable: writes fail until space is freed"
            );
            s.logged = Some(now);
        }
        s.failure = Some((now, reason.to_string()));
    }

    /// A write went through: the storage is back.
    pub fn succeeded(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.failure.take().is_some() {
            tracing::info!("storage available again");
        }
    }

    /// Why writes fail right now, if they do.
    pub fn problem(&self) -> Option<String> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.failure
            .as_ref()
            .filter(|(at, _)| at.elapsed() < QUIET)
            .map(|(_, reason)| reason.clone())
    }

    /// Records what `result` says about the storage.
    pub fn observe<T>(&self, result: &Result<T, AppError>) {
        if let Err(e) = result {
            if e.code == ErrorCode::StorageUnavailable {
                self.failed(&e.detail);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_read_only_and_over_quota_disks_are_recognised() {
        for errno in [libc::ENOSPC, libc::EDQUOT, libc::EROFS] {
            assert!(is_storage_io(&std::io::Error::from_raw_os_error(errno)));
        }
        assert!(!is_storage_io(&std::io::Error::from_raw_os_error(
            libc::ENOENT
        )));
        assert!(is_storage_message("database or disk is full"));
        assert!(is_storage_message(
            "could not extend file \"base/16384/2619\": No space left on device"
        ));
        assert!(!is_storage_message(
            "UNIQUE constraint failed: regions.code"
        ));
    }

    #[test]
    fn readiness_remembers_a_failure_until_a_write_succeeds() {
        let h = Health::default();
        assert_eq!(h.problem(), None);
        h.failed("database or disk is full");
        h.failed("database or disk is full");
        assert_eq!(h.problem().as_deref(), Some("database or disk is full"));
        h.succeeded();
        assert_eq!(h.problem(), None);
    }
}

/// Free and total bytes of a file system.
#[derive(Debug, Clone, Copy)]
pub struct Space {
    /// Available to an unprivileged writer (the server's own user), not counting root's reserve.
    pub free: u64,
    pub total: u64,
}

/// The space of the file system holding `dir` (`statvfs`); `None` when it cannot be examined.
pub fn space(dir: &std::path::Path) -> Option<Space> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes only into the zeroed struct we own; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let block = st.f_frsize as u64;
    Some(Space {
        free: st.f_bavail as u64 * block,
        total: st.f_blocks as u64 * block,
    })
}
