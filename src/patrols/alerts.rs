//! Telling people about missed rounds: the village cadres (驻村干部) of a group that has not
//! patrolled for `N` days in a row (`FIREGRID_PATROL_ALERT_DAYS`, default 2), once per run of
//! missed days; the county officials of a township that ran no inspection in a month, once per
//! township and month. Only complete local days and months count.
//!
//! Every server runs this; "once" is decided by the primary keys of `patrol_alerts` (group, the
//! run's first missed day) and `inspection_alerts` (township, month), inserted in the same
//! transaction as the notifications with ON CONFLICT DO NOTHING: of two servers, the second
//! finds the row (PostgreSQL waits for the first to commit; SQLite's write lock serialises
//! them) and sends nothing — the discipline of `hazards::store::record_stalls`.

use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{inspection_alerts, patrol_alerts, regions};
use crate::db::{self, DbConn};
use crate::error::AppResult;
use crate::notifications::store::{self as notify, Place};
use crate::patrols::compliance::{last_rounds, month_bounds, parse_day};
use crate::patrols::model::PatrolKind;
use crate::patrols::store::local_date;
use crate::per_backend;
use crate::regions::model::RegionLevel;
use crate::vocab::{NotificationKind, Role};
use crate::AppState;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AlertReport {
    /// Runs of missed patrol days announced.
    pub patrol_runs: usize,
    /// Townships announced for a month without an inspection.
    pub townships: usize,
}

/// The ids on a region's path, root first.
fn path_ids(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// One pass for the local day `today`: runs that reached `days` missed days by yesterday, and
/// townships without an inspection last month.
pub fn run_once(
    conn: &mut DbConn,
    today: NaiveDate,
    days: u32,
    tz: chrono_tz::Tz,
    now: NaiveDateTime,
) -> AppResult<AlertReport> {
    let mut report = AlertReport::default();
    let Some(yesterday) = today.pred_opt() else {
        return Ok(report);
    };
    let rows: Vec<(i64, RegionLevel, String, String, NaiveDateTime)> = regions::table
        .filter(regions::level.eq_any([RegionLevel::Group, RegionLevel::Township]))
        .select((
            regions::id,
            regions::level,
            regions::name,
            regions::path,
            regions::created_at,
        ))
        .load(conn)?;
    let created_on = |t: NaiveDateTime| local_date(t.and_utc(), tz);

    // Groups: the run of missed days up to yesterday starts the day after the last patrol (or
    // the day the group was created).
    let last = last_rounds(conn, "/", PatrolKind::Patrol, yesterday)?;
    let mut due = Vec::new();
    for (id, level, name, path, created) in &rows {
        if *level != RegionLevel::Group {
            continue;
        }
        let start = match last.get(id).and_then(|d| parse_day(d)) {
            Some(d) => d.succ_opt().unwrap_or(d),
            None => created_on(*created),
        };
        let run = (yesterday - start).num_days() + 1;
        if run >= i64::from(days) {
            due.push((*id, name.clone(), path.clone(), start, run));
        }
    }
    for (group, name, path, start, run) in due {
        let Some(place) = Place::from_group_path(&path) else {
            continue;
        };
        let sent = db::write_tx(conn, |c| {
            let insert = diesel::insert_into(patrol_alerts::table)
                .values((
                    patrol_alerts::group_id.eq(group),
                    patrol_alerts::run_start.eq(start.to_string()),
                    patrol_alerts::created_at.eq(now),
                ))
                .on_conflict_do_nothing();
            if per_backend!(c, |c| insert.execute(c))? == 0 {
                return Ok(false);
            }
            let village: String = regions::table
                .find(place.village_id)
                .select(regions::name)
                .first(c)?;
            let cadres = notify::staff(c, place, &[Role::VillageCadre])?;
            let message = format!(
                "{village}{name}自{start}起已连续{run}天未开展防火巡查 (no daily patrol for {run} days in a row)"
            );
            notify::send(
                c,
                &cadres,
                None,
                None,
                NotificationKind::PatrolMissed,
                &message,
                now,
            )?;
            Ok(true)
        })?;
        report.patrol_runs += usize::from(sent);
    }

    // Townships: last month, complete, for townships that existed before it ended.
    let this_month = format!("{:04}-{:02}", today.year(), today.month());
    let (first_of_this, _) = month_bounds(&this_month).expect("a real month");
    let Some(end_of_last) = first_of_this.pred_opt() else {
        return Ok(report);
    };
    let month = format!("{:04}-{:02}", end_of_last.year(), end_of_last.month());
    let (first_of_last, _) = month_bounds(&month).expect("a real month");
    let last = last_rounds(conn, "/", PatrolKind::TownshipInspection, end_of_last)?;
    for (id, level, name, path, created) in &rows {
        if *level != RegionLevel::Township || created_on(*created) > end_of_last {
            continue;
        }
        let inspected = last
            .get(id)
            .and_then(|d| parse_day(d))
            .is_some_and(|d| d >= first_of_last);
        let ids = path_ids(path);
        if inspected || ids.len() < 2 {
            continue;
        }
        let place = Place {
            county_id: ids[ids.len() - 2],
            township_id: *id,
            // Only county officials are asked for, who answer for the county.
            village_id: 0,
            group_id: 0,
        };
        let sent = db::write_tx(conn, |c| {
            let insert = diesel::insert_into(inspection_alerts::table)
                .values((
                    inspection_alerts::township_id.eq(*id),
                    inspection_alerts::month.eq(&month),
                    inspection_alerts::created_at.eq(now),
                ))
                .on_conflict_do_nothing();
            if per_backend!(c, |c| insert.execute(c))? == 0 {
                return Ok(false);
            }
            let officials = notify::staff(c, place, &[Role::CountyOfficial])?;
            let message = format!(
                "{name}{month}未开展针对性消防巡查检查 (no township inspection in {month})"
            );
            notify::send(
                c,
                &officials,
                None,
                None,
                NotificationKind::InspectionMissed,
                &message,
                now,
            )?;
            Ok(true)
        })?;
        report.townships += usize::from(sent);
    }
    Ok(report)
}

/// Runs a pass whenever the local day has changed since the last successful one (checked every
/// `interval`), until the server stops.
pub async fn run_forever(state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut done_for: Option<NaiveDate> = None;
    let days = state.settings.patrol_alert_days;
    let tz = state.settings.tz;
    loop {
        ticker.tick().await;
        let today = local_date(chrono::Utc::now(), tz);
        if done_for == Some(today) {
            continue;
        }
        match db::run_bulk(&state.pool, move |c| {
            run_once(c, today, days, tz, db::now())
        })
        .await
        {
            Ok(r) => {
                done_for = Some(today);
                if r != AlertReport::default() {
                    tracing::info!(
                        patrol_runs = r.patrol_runs,
                        townships = r.townships,
                        "missed rounds announced"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "missed-round alerts failed; retrying"),
        }
    }
}
