//! The notification outbox (发件箱): every batch of notifications written by `store::send_all`
//! also writes its events here, in the same transaction, so what leaves the building for webhooks
//! (`crate::webhooks`) is exactly what was told inside it — nothing lost if the server stops,
//! nothing sent for a change that rolled back.
//!
//! One event per distinct (case, kind, message) in a batch, not one per recipient: a county's
//! WeCom group should hear "case 630106-2026-000123 is overdue" once, not once per official.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{hazards, notification_outbox, regions, users};
use crate::db::DbConn;
use crate::error::AppResult;
use crate::notifications::store::Outgoing;
use crate::per_backend;
use crate::vocab::{Level, NotificationKind, Severity, Status};

/// The case an event is about, as it stood when the event was written (kept with the event, so
/// a delivery retried hours later still says what was true then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Queryable, utoipa::ToSchema)]
pub struct Subject {
    pub id: i64,
    pub case_no: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub level: Level,
}

/// One event to write: the first notification that raised it, where it happened, its case.
struct EventRow<'a> {
    outgoing: &'a Outgoing,
    path: String,
    subject: Option<String>,
}

/// Writes one outbox event per distinct (case, kind, message) of `out`; their ids.
pub fn record(conn: &mut DbConn, out: &[Outgoing], now: NaiveDateTime) -> AppResult<Vec<i64>> {
    // Group the recipients of each event, keeping the order in which events were raised.
    let mut index: HashMap<(Option<i64>, NotificationKind, &str), usize> = HashMap::new();
    let mut events: Vec<(&Outgoing, Vec<i64>)> = Vec::new();
    for o in out {
        let key = (o.hazard_id, o.kind, o.message.as_str());
        let i = *index.entry(key).or_insert_with(|| {
            events.push((o, Vec::new()));
            events.len() - 1
        });
        events[i].1.push(o.user_id);
    }
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let cases = subjects(conn, &events)?;
    let homes = homes(conn, &events)?;
    let rows: Vec<EventRow> = events
        .iter()
        .map(|(o, recipients)| {
            let case = o.hazard_id.and_then(|id| cases.get(&id));
            EventRow {
                outgoing: o,
                path: match case {
                    Some((_, path)) => path.clone(),
                    None => common_ancestor(recipients.iter().filter_map(|u| homes.get(u))),
                },
                subject: case.map(|(s, _)| serde_json::to_string(s).unwrap_or_default()),
            }
        })
        .collect();
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(500) {
        let values: Vec<_> = chunk
            .iter()
            .map(|e| {
                (
                    notification_outbox::kind.eq(e.outgoing.kind),
                    notification_outbox::hazard_id.eq(e.outgoing.hazard_id),
                    notification_outbox::region_path.eq(&e.path),
                    notification_outbox::message.eq(&e.outgoing.message),
                    notification_outbox::subject.eq(e.subject.as_deref()),
                    notification_outbox::created_at.eq(now),
                )
            })
            .collect();
        let insert = diesel::insert_into(notification_outbox::table).values(&values);
        ids.extend(per_backend!(conn, |c| insert
            .returning(notification_outbox::id)
            .get_results::<i64>(c))?);
    }
    Ok(ids)
}

/// The events' cases with their group paths, in one query per thousand cases.
fn subjects(
    conn: &mut DbConn,
    events: &[(&Outgoing, Vec<i64>)],
) -> AppResult<HashMap<i64, (Subject, String)>> {
    let mut ids: Vec<i64> = events.iter().filter_map(|(o, _)| o.hazard_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::new();
    let columns = (
        (
            hazards::id,
            hazards::case_no,
            hazards::title,
            hazards::severity,
            hazards::status,
            hazards::level,
        ),
        hazards::region_path,
    );
    for chunk in ids.chunks(1000) {
        // One case (a report, an action) by `=`: SQLite never keeps an `IN (…)` statement
        // prepared, and this runs on its writer thread for every change.
        let rows: Vec<(Subject, String)> = match chunk {
            [id] => hazards::table
                .filter(hazards::id.eq(*id))
                .select(columns)
                .load(conn)?,
            _ => hazards::table
                .filter(hazards::id.eq_any(chunk))
                .select(columns)
                .load(conn)?,
        };
        out.extend(rows.into_iter().map(|(s, p)| (s.id, (s, p))));
    }
    Ok(out)
}

/// The home region paths of the recipients of events that are not about a case (only those
/// need them to be placed).
fn homes(conn: &mut DbConn, events: &[(&Outgoing, Vec<i64>)]) -> AppResult<HashMap<i64, String>> {
    let mut ids: Vec<i64> = events
        .iter()
        .filter(|(o, _)| o.hazard_id.is_none())
        .flat_map(|(_, r)| r.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::new();
    for chunk in ids.chunks(1000) {
        let rows: Vec<(i64, String)> = users::table
            .inner_join(regions::table)
            .filter(users::id.eq_any(chunk))
            .select((users::id, regions::path))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// The deepest region whose subtree holds every path ("/1/2/3/" and "/1/2/4/" → "/1/2/"); empty
/// when there is none (such an event reaches no webhook: no region or organisation covers it).
pub fn common_ancestor<'a>(paths: impl IntoIterator<Item = &'a String>) -> String {
    let mut common: Option<Vec<&str>> = None;
    for p in paths {
        let segs: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        common = Some(match common {
            None => segs,
            Some(c) => c
                .iter()
                .zip(&segs)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| *a)
                .collect(),
        });
    }
    match common {
        Some(c) if !c.is_empty() => format!("/{}/", c.join("/")),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ancestor_is_cut_at_whole_ids() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(common_ancestor(&p(&["/1/2/3/", "/1/2/4/"])), "/1/2/");
        assert_eq!(common_ancestor(&p(&["/1/2/3/"])), "/1/2/3/");
        // Region 23 is not inside region 2.
        assert_eq!(common_ancestor(&p(&["/1/2/", "/1/23/"])), "/1/");
        assert_eq!(common_ancestor(&p(&["/1/", "/5/"])), "");
        assert_eq!(common_ancestor(&p(&[])), "");
    }
}
