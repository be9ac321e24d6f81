//! The deadline sweep: a background task in every server that moves each overdue open case one
//! level up, as the system, exactly once however many servers run it. Candidates are claimed
//! with `FOR UPDATE SKIP LOCKED` on PostgreSQL (servers take disjoint batches) and under the
//! write lock on SQLite, and moved together (`hazards::store::expire_batch`): a batch costs a
//! few statements, not a few per case (100,000 overdue cases: 120 s → 24 s on PostgreSQL).

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{hazards, organization_jurisdictions, stalled_deadlines};
use crate::db::{self, DbConn};
use crate::error::AppResult;
use crate::hazards::model::Status;
use crate::hazards::store::{self, HazardRow};
use crate::jobs;
use crate::vocab::OrgKind;
use crate::AppState;
use diesel::dsl::{exists, not};

pub const BATCH: i64 = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: usize,
    /// Overdue cases that could not move on (no police station) and were announced.
    pub stalled: usize,
    pub reminded: usize,
    /// Public reports: reminders at 24 hours, overdue flags at 48, contacts erased.
    pub first_response: crate::public::sweep::FirstResponseReport,
    /// Rows of the offline-sync log past their retention, deleted.
    pub sync_log_pruned: usize,
    /// Resumable uploads past their expiry, removed with their bytes (`run_once` only: it
    /// knows the photo directory).
    pub uploads: crate::uploads::sweep::ExpiryReport,
}

/// How long the sweep keeps what it erases or prunes (`Settings`).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub contact_days: u32,
    pub sync_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            contact_days: crate::config::defaults::CONTACT_RETENTION_DAYS,
            sync_days: crate::config::defaults::SYNC_RETENTION_DAYS,
        }
    }
}

/// Claims up to `batch` due cases for this transaction.
fn claim_due(
    conn: &mut DbConn,
    now: NaiveDateTime,
    batch: i64,
    skip: &[i64],
) -> AppResult<Vec<i64>> {
    let base = || {
        hazards::table
            .select(hazards::id)
            .filter(hazards::status.eq(Status::Open))
            .filter(hazards::deadline.lt(now))
            .filter(hazards::supervision_overdue.eq(false))
            // A stall already announced for this deadline is claimed again only once a police
            // station answers for the township, so that the case moves on then.
            .filter(
                not(exists(
                    stalled_deadlines::table
                        .filter(stalled_deadlines::hazard_id.eq(hazards::id))
                        .filter(hazards::deadline.eq(stalled_deadlines::deadline.nullable())),
                ))
                .or(exists(
                    organization_jurisdictions::table
                        .filter(organization_jurisdictions::kind.eq(OrgKind::PoliceStation))
                        .filter(organization_jurisdictions::region_id.eq(hazards::township_id)),
                )),
            )
            .filter(hazards::id.ne_all(skip.to_vec()))
            .order(hazards::deadline.asc())
            .limit(batch)
    };
    Ok(match conn {
        // Row locks skip what another server is already moving.
        db::DbConn::Pg(c) => base().for_update().skip_locked().load(c)?,
        db::DbConn::Sqlite(c) => base().load(c)?,
    })
}

/// One pass with the default retention periods (tests, tools).
pub fn sweep_once(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<SweepReport> {
    sweep_with(conn, now, Retention::default())
}

/// One pass: every case due now is moved (or flagged), every deadline within a day that was
/// not yet announced is announced, and public reports are held to the 48-hour rule
/// (`public::sweep`); expired idempotency keys, throttle windows and sync log rows are pruned.
pub fn sweep_with(
    conn: &mut DbConn,
    now: NaiveDateTime,
    retention: Retention,
) -> AppResult<SweepReport> {
    let mut report = SweepReport::default();
    // Cases that were due but needed nothing (defensive: they are not claimed again this pass).
    let mut inert: Vec<i64> = Vec::new();
    let mut stations = std::collections::HashMap::new();
    loop {
        let (moved, idle) = db::write_tx(conn, |c| {
            let ids = claim_due(c, now, BATCH, &inert)?;
            // The claimed rows are locked (PostgreSQL) or the write lock is held (SQLite), so
            // what is read now is what the batch moves.
            let rows = store::get_many(c, &ids)?;
            let (moved, stalled, idle) = store::expire_batch(c, &rows, &mut stations, now)?;
            Ok(((moved, stalled), (ids.len(), idle)))
        })?;
        report.expired += moved.0;
        report.stalled += moved.1;
        let (claimed, idle) = idle;
        inert.extend(idle);
        if claimed < BATCH as usize {
            break;
        }
    }
    let soon = now + chrono::Duration::hours(24);
    let rows: Vec<HazardRow> = hazards::table
        .select(HazardRow::as_select())
        .filter(hazards::status.eq(Status::Open))
        .filter(hazards::deadline.ge(now))
        .filter(hazards::deadline.lt(soon))
        .filter(hazards::deadline_reminded.eq(false))
        .limit(1000)
        .load(conn)?;
    for row in rows {
        if db::write_tx(conn, |c| store::remind(c, &row, now))? {
            report.reminded += 1;
        }
    }
    report.first_response = crate::public::sweep::sweep(
        conn,
        chrono::Duration::days(i64::from(retention.contact_days)),
        now,
    )?;
    db::write_tx(conn, |c| {
        crate::idempotency::prune(c, now)?;
        crate::auth::store::prune_failures(c, crate::auth::throttle::window_start(now))?;
        crate::public::throttle::prune(c, now)?;
        Ok(())
    })?;
    report.sync_log_pruned = crate::sync::prune::prune(
        conn,
        now,
        chrono::Duration::days(i64::from(retention.sync_days)),
    )?;
    Ok(report)
}

/// Runs the sweep every `interval` until `stop` turns true (or its sender is dropped). A run in
/// progress is never cut short: the server stopping waits for it, so its transactions commit or
/// roll back before the process exits.
pub async fn run_forever(
    state: AppState,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        match run_once(&state).await {
            Ok(r)
                if r.expired > 0
                    || r.stalled > 0
                    || r.reminded > 0
                    || r.first_response != Default::default()
                    || r.sync_log_pruned > 0
                    || r.uploads != Default::default() =>
            {
                tracing::info!(
                    expired = r.expired,
                    stalled = r.stalled,
                    reminded = r.reminded,
                    first_response_reminded = r.first_response.reminded,
                    first_response_overdue = r.first_response.overdue,
                    contacts_erased = r.first_response.erased,
                    sync_log_pruned = r.sync_log_pruned,
                    uploads_expired = r.uploads.expired,
                    upload_orphans_removed = r.uploads.orphans,
                    "deadline sweep"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "deadline sweep failed; retrying next interval"),
        }
    }
    tracing::info!("deadline sweep stopped");
}

/// One sweep, recorded: its duration in `/metrics`, its success or failure in `job_runs` (for
/// every server's `/readyz`), and the outbox backlog read alongside.
pub async fn run_once(state: &AppState) -> AppResult<SweepReport> {
    let started = std::time::Instant::now();
    let retention = Retention {
        contact_days: state.settings.contact_retention_days,
        sync_days: state.settings.sync_retention_days,
    };
    let data_dir = state.settings.data_dir.clone();
    let result = db::run_bulk(&state.pool, move |conn| {
        let mut report = sweep_with(conn, db::now(), retention)?;
        report.uploads = crate::uploads::sweep::expire(conn, &data_dir, db::now())?;
        let ms = started.elapsed().as_millis() as i64;
        jobs::record_success(conn, jobs::DEADLINE_SWEEP, db::now(), ms)?;
        Ok((report, jobs::outbox_backlog(conn)?))
    })
    .await;
    let ops = &state.ops;
    ops.sweep_duration.observe(started.elapsed().as_secs_f64());
    match result {
        Ok((report, backlog)) => {
            ops.sweep_runs.with_label_values(&["ok"]).inc();
            if let Some(n) = backlog {
                ops.set_outbox_backlog(n);
            }
            Ok(report)
        }
        Err(e) => {
            ops.sweep_runs.with_label_values(&["failed"]).inc();
            let detail = e.detail.clone();
            // Best effort: the database may be the reason the sweep failed.
            let _ = db::run(&state.pool, move |conn| {
                jobs::record_failure(conn, jobs::DEADLINE_SWEEP, db::now(), &detail)
            })
            .await;
            Err(e)
        }
    }
}
