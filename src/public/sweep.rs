//! The 48-hour rule (青政办〔2016〕189号): a public report's first response — the first staff
//! action its reporter can see (verify, reject with a public reason, a public reply) — is due 48
//! hours after receipt. Unanswered reports are reminded to the village staff at 24 hours and,
//! once overdue, flagged `first_response_overdue` and announced to the township officials; and
//! a closed case's reporter contact is erased after the retention period. Part of every
//! server's sweep (`hazards::sweep`), with the same discipline: each batch is claimed with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL (under the write lock on SQLite), and the flag is set
//! by an UPDATE that only a row still unflagged passes, so each reminder and each overdue
//! notice goes out exactly once however many servers sweep.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{hazards, public_reports};
use crate::db::{self, DbConn};
use crate::error::AppResult;
use crate::hazards::model::{Level, Status};
use crate::hazards::store::{self as case_store, HazardRow};
use crate::hazards::workflow;
use crate::notifications::store as notify;
use crate::per_backend;
use crate::vocab::{NotificationKind, Role};

const BATCH: i64 = 500;

/// A reminder goes out this long before the first response is due (24 h after receipt).
pub const REMIND_BEFORE_HOURS: i64 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// 24 hours without an answer: the village staff.
    Reminder,
    /// 48 hours: flagged, the township officials.
    Overdue,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FirstResponseReport {
    pub reminded: usize,
    pub overdue: usize,
    pub erased: usize,
}

/// Claims up to `BATCH` unanswered reports that reached `stage`, not yet handled for it.
fn claim(conn: &mut DbConn, stage: Stage, now: NaiveDateTime) -> AppResult<Vec<i64>> {
    // Locking clauses do not take boxed queries: one query per stage.
    macro_rules! claim_where {
        ($due:expr, $unflagged:expr) => {{
            let base = || {
                public_reports::table
                    .select(public_reports::hazard_id)
                    .filter(public_reports::first_response_at.is_null())
                    .filter($due)
                    .filter($unflagged)
                    .order(public_reports::first_response_due.asc())
                    .limit(BATCH)
            };
            match conn {
                // Row locks skip what another server is already handling.
                DbConn::Pg(c) => base().for_update().skip_locked().load(c)?,
                DbConn::Sqlite(c) => base().load(c)?,
            }
        }};
    }
    Ok(match stage {
        Stage::Reminder => claim_where!(
            public_reports::first_response_due.le(now + Duration::hours(REMIND_BEFORE_HOURS)),
            public_reports::first_response_reminded.eq(false)
        ),
        Stage::Overdue => claim_where!(
            public_reports::first_response_due.le(now),
            public_reports::first_response_overdue.eq(false)
        ),
    })
}

/// Sets the stage's flag on the claimed reports that still lack it; returns those.
fn flag(conn: &mut DbConn, stage: Stage, ids: &[i64]) -> AppResult<Vec<i64>> {
    let target = public_reports::table.filter(public_reports::hazard_id.eq_any(ids));
    Ok(match stage {
        Stage::Reminder => {
            let q =
                diesel::update(target.filter(public_reports::first_response_reminded.eq(false)))
                    .set(public_reports::first_response_reminded.eq(true))
                    .returning(public_reports::hazard_id);
            per_backend!(conn, |c| q.get_results(c))?
        }
        Stage::Overdue => {
            let q = diesel::update(target.filter(public_reports::first_response_overdue.eq(false)))
                .set(public_reports::first_response_overdue.eq(true))
                .returning(public_reports::hazard_id);
            per_backend!(conn, |c| q.get_results(c))?
        }
    })
}

/// Tells whom the stage concerns about each flagged case.
fn announce(
    conn: &mut DbConn,
    stage: Stage,
    cases: &[HazardRow],
    now: NaiveDateTime,
) -> AppResult<()> {
    let (kind, roles): (NotificationKind, &[Role]) = match stage {
        Stage::Reminder => (
            NotificationKind::FirstResponseSoon,
            workflow::staff_at(Level::Village),
        ),
        Stage::Overdue => (
            NotificationKind::FirstResponseOverdue,
            &[Role::TownshipOfficial],
        ),
    };
    let mut places = Vec::with_capacity(cases.len());
    for case in cases {
        places.push(case.place()?);
    }
    let staff = notify::Staff::load(conn, &places, roles)?;
    let mut out = Vec::new();
    for (case, place) in cases.iter().zip(places) {
        let message = case_store::staff_message(kind, case, case.level);
        out.extend(
            staff
                .at(place, roles)
                .into_iter()
                .map(|user_id| notify::Outgoing {
                    user_id,
                    hazard_id: Some(case.id),
                    kind,
                    message: message.clone(),
                }),
        );
    }
    notify::send_all(conn, &out, now)?;
    Ok(())
}

fn stage_once(conn: &mut DbConn, stage: Stage, now: NaiveDateTime) -> AppResult<usize> {
    let mut done = 0;
    loop {
        let (claimed, flagged) = db::write_tx(conn, |c| {
            let ids = claim(c, stage, now)?;
            let flagged = flag(c, stage, &ids)?;
            let cases = case_store::get_many(c, &flagged)?;
            announce(c, stage, &cases, now)?;
            Ok((ids.len(), flagged.len()))
        })?;
        done += flagged;
        if claimed < BATCH as usize {
            return Ok(done);
        }
    }
}

/// Erases the reporter's contact of cases closed (or rejected) more than `retention` ago; the
/// case and its report stay.
fn erase_contacts(conn: &mut DbConn, retention: Duration, now: NaiveDateTime) -> AppResult<usize> {
    let cutoff = now - retention;
    let closed_long_ago = hazards::table
        .select(hazards::id)
        .filter(hazards::status.eq_any([Status::Closed, Status::Rejected]))
        .filter(hazards::closed_at.lt(cutoff));
    db::write_tx(conn, |c| {
        Ok(diesel::update(
            public_reports::table
                .filter(public_reports::contact_erased_at.is_null())
                .filter(public_reports::hazard_id.eq_any(closed_long_ago)),
        )
        .set((
            public_reports::contact_name.eq(None::<String>),
            public_reports::contact_phone.eq(None::<String>),
            public_reports::contact_erased_at.eq(now),
        ))
        .execute(c)?)
    })
}

/// One pass: reminders, overdue flags, erasure.
pub fn sweep(
    conn: &mut DbConn,
    retention: Duration,
    now: NaiveDateTime,
) -> AppResult<FirstResponseReport> {
    Ok(FirstResponseReport {
        reminded: stage_once(conn, Stage::Reminder, now)?,
        overdue: stage_once(conn, Stage::Overdue, now)?,
        erased: erase_contacts(conn, retention, now)?,
    })
}
