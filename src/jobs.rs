//! The record of background jobs (后台任务): when each last succeeded and failed, kept in the
//! database (`job_runs`) rather than in a server's memory, so that with several servers over
//! one PostgreSQL every `/readyz` tells the same story, whichever server ran the job.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::schema::job_runs;
use crate::db::DbConn;
use crate::error::AppResult;

/// The deadline sweep (`hazards::sweep`).
pub const DEADLINE_SWEEP: &str = "deadline_sweep";

/// What is known of one job's runs.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_runs)]
pub struct JobRun {
    pub last_success_at: Option<NaiveDateTime>,
    pub last_duration_ms: Option<i64>,
    pub last_failure_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

/// The job's record, if it ever ran.
pub fn last(conn: &mut DbConn, job: &str) -> AppResult<Option<JobRun>> {
    Ok(job_runs::table
        .find(job)
        .select(JobRun::as_select())
        .first(conn)
        .optional()?)
}

/// A run that finished at `at` after `duration_ms`.
pub fn record_success(
    conn: &mut DbConn,
    job: &str,
    at: NaiveDateTime,
    duration_ms: i64,
) -> AppResult<()> {
    update_row(conn, job, |c| {
        diesel::update(job_runs::table.find(job))
            .set((
                job_runs::last_success_at.eq(Some(at)),
                job_runs::last_duration_ms.eq(Some(duration_ms)),
            ))
            .execute(c)
    })
}

/// A run that failed at `at`; the last success stays as it was.
pub fn record_failure(
    conn: &mut DbConn,
    job: &str,
    at: NaiveDateTime,
    error: &str,
) -> AppResult<()> {
    // An error sentence, not a dump: the log has the whole chain.
    let error: String = error.chars().take(500).collect();
    update_row(conn, job, |c| {
        diesel::update(job_runs::table.find(job))
            .set((
                job_runs::last_failure_at.eq(Some(at)),
                job_runs::last_error.eq(Some(error.as_str())),
            ))
            .execute(c)
    })
}

/// Runs `update` on the job's row, creating the row on the job's first run. Two servers
/// recording a first run at once race harmlessly: the loser's insert meets the winner's row.
fn update_row(
    conn: &mut DbConn,
    job: &str,
    update: impl Fn(&mut DbConn) -> QueryResult<usize>,
) -> AppResult<()> {
    if update(conn)? > 0 {
        return Ok(());
    }
    match diesel::insert_into(job_runs::table)
        .values(job_runs::job.eq(job))
        .execute(conn)
    {
        Ok(_) | Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
        Err(e) => return Err(e.into()),
    }
    update(conn)?;
    Ok(())
}

/// The notification outbox's backlog (issue 15, webhooks): outbox events not yet fanned out
/// plus deliveries not yet made (waiting for a retry included); `/metrics` exports it as
/// `firegrid_outbox_backlog` from the next sweep on. The parts, and failed deliveries, are in
/// `webhooks::backlog`.
pub fn outbox_backlog(conn: &mut DbConn) -> AppResult<Option<i64>> {
    let b = crate::webhooks::backlog(conn, crate::db::now())?;
    Ok(Some(b.undispatched_events + b.pending_deliveries))
}
