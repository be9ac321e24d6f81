//! Expiry: uploads past their `Upload-Expires` (24 hours after creation) are removed with their
//! bytes. Part of every server's sweep (`hazards::sweep::run_once`), safe however many servers
//! run it: each batch is claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL (under the write
//! lock on SQLite) and deleted in the claiming transaction, so each upload is removed by one
//! server; its files go after the commit. Files whose upload no longer exists (a server that
//! stopped between the commit and the removal) are removed by a later pass.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{upload_segments, uploads};
use crate::db::{self, DbConn};
use crate::error::AppResult;
use crate::uploads::files;

const BATCH: i64 = 500;

/// A directory without its upload row is left alone this long: its row may be being created
/// in a transaction not yet committed.
const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Upload rows removed (incomplete ones with their bytes, and finished ones' records).
    pub expired: usize,
    /// Directories removed whose upload was already gone.
    pub orphans: usize,
}

fn claim(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<Vec<String>> {
    let base = || {
        uploads::table
            .select(uploads::id)
            .filter(uploads::expires_at.le(now))
            .order(uploads::expires_at.asc())
            .limit(BATCH)
    };
    Ok(match conn {
        // Row locks skip what another server is already removing.
        DbConn::Pg(c) => base().for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => base().load(c)?,
    })
}

/// One pass at `now`.
pub fn expire(
    conn: &mut DbConn,
    data_dir: &std::path::Path,
    now: NaiveDateTime,
) -> AppResult<ExpiryReport> {
    let mut report = ExpiryReport::default();
    loop {
        let ids = db::write_tx(conn, |c| {
            let ids = claim(c, now)?;
            diesel::delete(upload_segments::table.filter(upload_segments::upload_id.eq_any(&ids)))
                .execute(c)?;
            diesel::delete(uploads::table.filter(uploads::id.eq_any(&ids))).execute(c)?;
            Ok(ids)
        })?;
        for id in &ids {
            files::remove_dir(data_dir, id);
        }
        report.expired += ids.len();
        if ids.len() < BATCH as usize {
            break;
        }
    }
    let on_disk = files::list(data_dir);
    let grace = std::time::SystemTime::now() - ORPHAN_GRACE;
    for chunk in on_disk.chunks(1000) {
        let names: Vec<&str> = chunk.iter().map(|(n, _)| n.as_str()).collect();
        let known: Vec<String> = uploads::table
            .filter(uploads::id.eq_any(&names))
            .select(uploads::id)
            .load(conn)?;
        for (name, modified) in chunk {
            if !known.contains(name) && *modified < grace {
                files::remove_dir(data_dir, name);
                report.orphans += 1;
            }
        }
    }
    Ok(report)
}
