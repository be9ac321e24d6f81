//! `firegrid backup` and `firegrid restore` for a SQLite deployment (issue 15).
//!
//! A backup is a directory holding `firegrid.sqlite3`, a consistent copy of the database taken
//! with `VACUUM INTO` while the server keeps serving (one read transaction: WAL lets writers go
//! on), and `attachments/`, the photos. The database is copied first and the photos after:
//! a photo's file is written before its row commits and is never deleted (content-addressed),
//! so every photo the copied rows name is already on disk when the files are copied; photos of
//! later reports may come along too, unreferenced and harmless.
//!
//! `restore` puts such a directory back as the configured database and data directory, and
//! refuses (changing nothing) unless both are empty: it never merges into or overwrites a
//! deployment. On PostgreSQL both commands refuse and point at `pg_dump`/`pg_restore`.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::SqliteConnection;

use crate::db::{self, Backend};
use crate::error::CommandError;

/// The database file inside a backup directory.
pub const DATABASE_FILE: &str = "firegrid.sqlite3";
/// Where photos live, in the data directory and in a backup alike.
pub(crate) const PHOTOS_DIR: &str = "attachments";

/// What a backup holds, as counted in the copy itself.
#[derive(Debug)]
pub struct Summary {
    pub cases: i64,
    pub events: i64,
    pub photos: u64,
    /// Events whose hash chain was checked in the copy (`audit verify`); none was broken.
    pub events_verified: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cases, {} events (every hash chain verified), {} photos",
            self.cases, self.events, self.photos
        )
    }
}

fn refuse_postgres(url: &str, what: &str) -> Result<(), CommandError> {
    if Backend::of_url(url) == Backend::Postgres {
        return Err(CommandError::new(format!(
            "`firegrid {what}` is for SQLite deployments; on PostgreSQL use pg_dump and \
             pg_restore (see the README, \"Backup and restore\"), and copy the data \
             directory's attachments/ with the photos"
        )));
    }
    Ok(())
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> CommandError {
    move |e| CommandError::caused_by(what, e)
}

/// True when `dir` does not exist or has no entries.
fn is_empty_dir(dir: &Path) -> Result<bool, CommandError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(CommandError::caused_by(
            format!("cannot read {}", dir.display()),
            e,
        )),
    }
}

/// Copies the photo files (`ab/<sha256>`) from `from` to `to`, skipping the temporary files of
/// uploads in flight (`.<sha256>.<uuid>`); returns how many were copied.
pub(crate) fn copy_photos(from: &Path, to: &Path) -> Result<u64, CommandError> {
    let mut copied = 0;
    let shards = match std::fs::read_dir(from) {
        Ok(shards) => shards,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err(format!("cannot read {}", from.display()))(e)),
    };
    for shard in shards {
        let shard = shard.map_err(io_err(format!("cannot read {}", from.display())))?;
        if !shard.path().is_dir() {
            continue;
        }
        let target = to.join(shard.file_name());
        std::fs::create_dir_all(&target)
            .map_err(io_err(format!("cannot create {}", target.display())))?;
        let files = std::fs::read_dir(shard.path())
            .map_err(io_err(format!("cannot read {}", shard.path().display())))?;
        for file in files {
            let file = file.map_err(io_err(format!("cannot read {}", from.display())))?;
            if file.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let dest = target.join(file.file_name());
            match std::fs::copy(file.path(), &dest) {
                Ok(_) => copied += 1,
                // An upload whose record failed removes its file (no photo without its record):
                // it was never in the database, so it is not needed.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(format!("cannot copy {}", file.path().display()))(e)),
            }
        }
    }
    Ok(copied)
}

/// Counts and checks what a SQLite file holds: cases, events, and every case's hash chain.
pub fn inspect(database: &Path) -> Result<(i64, i64, u64), CommandError> {
    use crate::db::schema::{hazard_events, hazards};
    let url = database.to_string_lossy().into_owned();
    let pool = db::build_pool(&url, 1, std::time::Duration::from_secs(5));
    let mut conn = pool
        .get()
        .map_err(|e| CommandError::caused_by(format!("cannot open {url}"), e))?;
    let cases: i64 = hazards::table
        .count()
        .get_result(&mut *conn)
        .map_err(|e| CommandError::caused_by("cannot count the cases", e))?;
    let events: i64 = hazard_events::table
        .count()
        .get_result(&mut *conn)
        .map_err(|e| CommandError::caused_by("cannot count the events", e))?;
    let (checked, broken) = crate::hazards::events::verify_all(&mut conn)?;
    if !broken.is_empty() {
        return Err(CommandError::new(format!(
            "{url}: {} case timeline(s) fail verification",
            broken.len()
        )));
    }
    Ok((cases, events, checked))
}

/// `firegrid backup --to DIR`: copies the database at `url` and the photos under `data_dir`
/// into the new (or empty) directory `to`, then verifies the copy.
pub fn backup(url: &str, data_dir: &Path, to: &Path) -> Result<Summary, CommandError> {
    refuse_postgres(url, "backup")?;
    if !is_empty_dir(to)? {
        return Err(CommandError::new(format!(
            "{} is not empty: a backup goes into a new or empty directory",
            to.display()
        )));
    }
    std::fs::create_dir_all(to).map_err(io_err(format!("cannot create {}", to.display())))?;
    let copy = to.join(DATABASE_FILE);
    let mut conn = SqliteConnection::establish(url)
        .map_err(|e| CommandError::caused_by(format!("cannot open {url}"), e))?;
    // Wait for a writer's lock rather than fail: the server keeps writing during the copy.
    diesel::sql_query("PRAGMA busy_timeout = 30000")
        .execute(&mut conn)
        .map_err(|e| CommandError::caused_by("cannot set busy_timeout", e))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(copy.to_string_lossy())
        .execute(&mut conn)
        .map_err(|e| CommandError::caused_by(format!("cannot copy {url}"), e))?;
    let photos = copy_photos(&data_dir.join(PHOTOS_DIR), &to.join(PHOTOS_DIR))?;
    let (cases, events, events_verified) = inspect(&copy)?;
    Ok(Summary {
        cases,
        events,
        photos,
        events_verified,
    })
}

/// `firegrid restore --from DIR`: makes the backup `from` the database at `url` and the photos
/// under `data_dir`. Refuses, changing nothing, when the database or the photo directory exists
/// with content (including a database the server created on its first start).
pub fn restore(url: &str, data_dir: &Path, from: &Path) -> Result<Summary, CommandError> {
    refuse_postgres(url, "restore")?;
    let source = from.join(DATABASE_FILE);
    if !source.is_file() {
        return Err(CommandError::new(format!(
            "{} is not a firegrid backup (no {DATABASE_FILE} in it)",
            from.display()
        )));
    }
    // Refuse before touching anything: the copy must be sound and the target empty.
    let (cases, events, events_verified) = inspect(&source)?;
    let target = PathBuf::from(url);
    let mut occupied: Vec<PathBuf> = ["", "-wal", "-journal"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{url}{suffix}")))
        .filter(|p| p.metadata().is_ok_and(|m| m.len() > 0))
        .collect();
    let photos_dir = data_dir.join(PHOTOS_DIR);
    if !is_empty_dir(&photos_dir)? {
        occupied.push(photos_dir.clone());
    }
    if !occupied.is_empty() {
        let what: Vec<String> = occupied.iter().map(|p| p.display().to_string()).collect();
        return Err(CommandError::new(format!(
            "refusing to restore over existing data ({}): restore only into an empty \
             deployment (a new data directory, or move the old one aside first)",
            what.join(", ")
        )));
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
    }
    let photos = copy_photos(&from.join(PHOTOS_DIR), &photos_dir)?;
    // The database last, under a temporary name then renamed: a crash midway leaves no
    // half-written database for the server to start on.
    let tmp = PathBuf::from(format!("{url}.restoring"));
    std::fs::copy(&source, &tmp).map_err(io_err(format!("cannot write {}", tmp.display())))?;
    std::fs::rename(&tmp, &target)
        .map_err(io_err(format!("cannot move {} into place", tmp.display())))?;
    Ok(Summary {
        cases,
        events,
        photos,
        events_verified,
    })
}
