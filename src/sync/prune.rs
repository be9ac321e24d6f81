//! Keeping the offline-sync log from growing without end. Log rows carry no time, so each sweep
//! leaves a mark at most once an hour (when, and the position up to which the log was final
//! then); rows up to the newest mark older than the retention period
//! (`FIREGRID_SYNC_RETENTION_DAYS`) are deleted. How far the log was pruned is recorded before
//! any row goes, and a request checks it after reading the log: a phone whose cursor lies
//! before it cannot have seen everything, and starts over with a fresh snapshot (`reset`), as
//! when its scope changes. Every server may run this at once: marks are only more frequent,
//! deletes and the recorded position only ever move forward.

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::max;
use diesel::prelude::*;

use crate::db::schema::{sync_log, sync_marks, sync_pruned};
use crate::db::{self, DbConn};
use crate::error::AppResult;
use crate::per_backend;
use crate::sync::cursor::Position;
use crate::sync::store;

/// Rows deleted per transaction, so that one never holds SQLite's write lock for long.
const DELETE_BATCH: i64 = 5_000;
/// At most this many batches per sweep; the rest waits for the next one.
const MAX_BATCHES: usize = 100;

/// How far the log has been pruned: rows at or before this position may be gone.
pub fn pruned(conn: &mut DbConn) -> AppResult<Option<Position>> {
    Ok(sync_pruned::table
        .find(1)
        .select((sync_pruned::txid, sync_pruned::pos))
        .first::<(i64, i64)>(conn)
        .optional()?
        .map(|(txid, pos)| Position { txid, pos }))
}

/// Whether a phone that has read the log up to `at` may have missed rows that were pruned.
pub fn behind(conn: &mut DbConn, at: Position) -> AppResult<bool> {
    Ok(pruned(conn)?.is_some_and(|p| at < p))
}

/// One pass: leave a mark if the last is an hour old, then prune up to the newest mark older
/// than `retention`. Returns the rows deleted.
pub fn prune(conn: &mut DbConn, now: NaiveDateTime, retention: Duration) -> AppResult<usize> {
    let last: Option<NaiveDateTime> = sync_marks::table
        .select(max(sync_marks::marked_at))
        .first(conn)?;
    if last.is_none_or(|t| t <= now - Duration::hours(1)) {
        let at = store::final_position(conn)?;
        diesel::insert_into(sync_marks::table)
            .values((
                sync_marks::marked_at.eq(now),
                sync_marks::txid.eq(at.txid),
                sync_marks::pos.eq(at.pos),
            ))
            .execute(conn)?;
    }
    let Some((marked_at, mark_txid, mark_pos)) = sync_marks::table
        .filter(sync_marks::marked_at.le(now - retention))
        .order((sync_marks::marked_at.desc(), sync_marks::id.desc()))
        .select((sync_marks::marked_at, sync_marks::txid, sync_marks::pos))
        .first::<(NaiveDateTime, i64, i64)>(conn)
        .optional()?
    else {
        return Ok(0);
    };
    // What is recorded is the last row that goes, not the mark: a phone that read that row has
    // missed nothing, even if its cursor lies before the mark.
    let last: Option<(i64, i64)> = sync_log::table
        .filter(
            sync_log::txid
                .lt(mark_txid)
                .or(sync_log::txid.eq(mark_txid).and(sync_log::pos.le(mark_pos))),
        )
        .order((sync_log::txid.desc(), sync_log::pos.desc()))
        .select((sync_log::txid, sync_log::pos))
        .first(conn)
        .optional()?;
    // Recorded first: a reader that finds rows gone will find this too, since it looks after
    // reading.
    db::write_tx(conn, |c| {
        if let Some((txid, pos)) = last {
            // Another server may record at the same moment: the insert waits for its commit
            // and then does nothing, and the update only ever moves the position forward.
            let set = (sync_pruned::txid.eq(txid), sync_pruned::pos.eq(pos));
            let insert = diesel::insert_into(sync_pruned::table)
                .values((sync_pruned::id.eq(1), set.0, set.1))
                .on_conflict_do_nothing();
            if per_backend!(c, |c| insert.execute(c))? == 0 {
                let behind = sync_pruned::txid
                    .lt(txid)
                    .or(sync_pruned::txid.eq(txid).and(sync_pruned::pos.lt(pos)));
                diesel::update(sync_pruned::table.find(1).filter(behind))
                    .set(set)
                    .execute(c)?;
            }
        }
        diesel::delete(sync_marks::table.filter(sync_marks::marked_at.lt(marked_at))).execute(c)?;
        Ok(())
    })?;
    let Some((txid, pos)) = last else {
        return Ok(0);
    };
    let mut deleted = 0;
    for _ in 0..MAX_BATCHES {
        let n = db::write_tx(conn, |c| {
            let batch = sync_log::table
                .filter(
                    sync_log::txid
                        .lt(txid)
                        .or(sync_log::txid.eq(txid).and(sync_log::pos.le(pos))),
                )
                .select(sync_log::pos)
                .limit(DELETE_BATCH)
                .load::<i64>(c)?;
            Ok(diesel::delete(sync_log::table.filter(sync_log::pos.eq_any(&batch))).execute(c)?)
        })?;
        deleted += n;
        if (n as i64) < DELETE_BATCH {
            break;
        }
    }
    Ok(deleted)
}
