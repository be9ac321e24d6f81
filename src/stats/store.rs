//! Reading the figures: the cases of a subtree that the period can touch, read once through
//! the path index and counted per child region in memory; the roster compliance of the same
//! subtree. Nothing is cached, so a figure can never disagree with the case list.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::policy::{authorize, Capability, Target};
use crate::auth::principal::Principal;
use crate::auth::scope::subtree_end;
use crate::db::schema::{hazard_events, hazards, public_reports, regions};
use crate::db::DbConn;
use crate::error::AppResult;
use crate::patrols::compliance::{self, GroupDays};
use crate::regions::model::{RegionRef, RegionRow};
use crate::regions::store as region_store;
use crate::roster::store as roster_store;
use crate::stats::figures::{CaseFacts, Figures, PublicFacts, Tally};
use crate::stats::period::{Period, PeriodOut};
use crate::vocab::EventAction;

/// The figures of a region and of each of its children.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Summary {
    pub period: PeriodOut,
    /// The region asked about.
    pub total: Figures,
    /// Each child region, by code (empty for a group).
    pub children: Vec<Figures>,
}

/// A region the caller may read statistics of; 404 for an unknown one or one outside scope.
pub fn region_in_scope(conn: &mut DbConn, p: &Principal, id: i64) -> AppResult<RegionRow> {
    let r = region_store::get(conn, id)?;
    authorize(p, Capability::ReadGrid, Target::Region(&r.path))?;
    Ok(r)
}

/// The region's children, by code.
pub fn children(conn: &mut DbConn, root: &RegionRow) -> AppResult<Vec<RegionRow>> {
    Ok(regions::table
        .filter(regions::parent_id.eq(root.id))
        .order(regions::code.asc())
        .select(RegionRow::as_select())
        .load(conn)?)
}

/// The cases under `path` that the period `p` touches: received before its end, and not
/// closed or rejected before its start. One expression for `hazards` alone and for joins with
/// it (a function would need a boxed expression per query source).
macro_rules! touched_by {
    ($path:expr, $p:expr) => {
        hazards::region_path
            .ge($path)
            .and(hazards::region_path.lt(subtree_end($path)))
            .and(hazards::created_at.lt($p.end))
            .and(
                hazards::closed_at
                    .is_null()
                    .or(hazards::closed_at.ge($p.start)),
            )
    };
}

/// The cases under `path` that the period touches: received before its end, and not closed or
/// rejected before its start (a case finished earlier counts in no figure of the period).
pub fn facts(conn: &mut DbConn, path: &str, p: &Period) -> AppResult<Vec<CaseFacts>> {
    Ok(hazards::table
        .filter(touched_by!(path, p))
        .select(CaseFacts::as_select())
        .load(conn)?)
}

/// The public reports under `path` received in the period.
pub fn public_facts(conn: &mut DbConn, path: &str, p: &Period) -> AppResult<Vec<PublicFacts>> {
    let rows: Vec<(String, NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>)> =
        public_reports::table
            .inner_join(hazards::table)
            .filter(hazards::region_path.ge(path))
            .filter(hazards::region_path.lt(subtree_end(path)))
            .filter(public_reports::received_at.ge(p.start))
            .filter(public_reports::received_at.lt(p.end))
            .select((
                hazards::region_path,
                public_reports::received_at,
                public_reports::first_response_due,
                public_reports::first_response_at,
            ))
            .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(region_path, received_at, first_response_due, first_response_at)| PublicFacts {
                region_path,
                received_at,
                first_response_due,
                first_response_at,
            },
        )
        .collect())
}

/// Past this many cases one join over all the lapses beats probing each case's timeline.
const PROBE_LIMIT: usize = 50_000;

/// Which of the rectified `cases` (those under `path` that the period touches) ever had a
/// deadline lapse (a `deadline_expired` event). Neither planner can choose well between the two
/// ways, so the size decides: a county's few thousand cases are probed a thousand at a time
/// through the timeline's (hazard_id, seq) index; a province's hundreds of thousands come from
/// one join over the partial index `hazard_events_lapsed` (province, PostgreSQL: 10.2 s → 4.7 s
/// for the summary; a county that way took 713 ms instead of 216, BENCHMARKS.md). Its
/// condition is a literal so that both planners can prove the partial index applies.
pub fn lapsed(
    conn: &mut DbConn,
    path: &str,
    p: &Period,
    rectified: &[i64],
) -> AppResult<HashSet<i64>> {
    if rectified.len() <= PROBE_LIMIT {
        lapsed_by_probe(conn, rectified)
    } else {
        lapsed_in_subtree(conn, path, p)
    }
}

/// `lapsed` for a few cases: their timelines, a thousand cases per statement.
pub fn lapsed_by_probe(conn: &mut DbConn, ids: &[i64]) -> AppResult<HashSet<i64>> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(1000) {
        out.extend(
            hazard_events::table
                .filter(hazard_events::hazard_id.eq_any(chunk))
                .filter(hazard_events::action.eq(EventAction::DeadlineExpired))
                .select(hazard_events::hazard_id)
                .distinct()
                .load::<i64>(conn)?,
        );
    }
    Ok(out)
}

/// `lapsed` for many cases: every case under `path` that the period touches and that ever had
/// a deadline lapse, in one join.
pub fn lapsed_in_subtree(conn: &mut DbConn, path: &str, p: &Period) -> AppResult<HashSet<i64>> {
    Ok(hazard_events::table
        .inner_join(hazards::table)
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "hazard_events.action = '{}'",
            EventAction::DeadlineExpired.as_str()
        )))
        .filter(touched_by!(path, p))
        .select(hazard_events::hazard_id)
        .distinct()
        .load::<i64>(conn)?
        .into_iter()
        .collect())
}

/// The id of the child of the region at `depth` (its number of ancestors + 1) that a case
/// path lies under.
fn child_of(path: &str, depth: usize) -> Option<i64> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .nth(depth)
        .and_then(|s| s.parse().ok())
}

/// Tallies per child of `root` (and the total) over `p`.
pub fn tallies(
    conn: &mut DbConn,
    root: &RegionRow,
    kids: &[RegionRow],
    p: &Period,
) -> AppResult<(Tally, HashMap<i64, Tally>)> {
    let depth = root.ancestor_ids().len() + 1;
    let mut total = Tally::default();
    let mut per_child: HashMap<i64, Tally> =
        kids.iter().map(|k| (k.id, Tally::default())).collect();
    let cases = facts(conn, &root.path, p)?;
    // Timeliness is read from the timeline only for the cases it is about.
    let rectified: Vec<i64> = cases
        .iter()
        .filter(|c| c.rectified_in(p))
        .map(|c| c.id)
        .collect();
    let lapsed = lapsed(conn, &root.path, p, &rectified)?;
    for c in &cases {
        let late = lapsed.contains(&c.id);
        total.add(c, late, p);
        if let Some(t) = child_of(&c.region_path, depth).and_then(|id| per_child.get_mut(&id)) {
            t.add(c, late, p);
        }
    }
    for r in public_facts(conn, &root.path, p)? {
        total.add_public(&r, p);
        if let Some(t) = child_of(&r.region_path, depth).and_then(|id| per_child.get_mut(&id)) {
            t.add_public(&r, p);
        }
    }
    Ok((total, per_child))
}

pub fn summary(
    conn: &mut DbConn,
    root: &RegionRow,
    p: &Period,
    tz: chrono_tz::Tz,
) -> AppResult<Summary> {
    let kids = children(conn, root)?;
    let (total, mut per_child) = tallies(conn, root, &kids, p)?;
    let roster = roster_store::compliance(conn, root)?;
    let patrol = patrol_group_days(conn, root, p, tz)?;
    let groups_of = |r: &RegionRef| -> (i64, i64) {
        if r.id == roster.total.region.id {
            return (roster.total.groups_total, roster.total.groups_complete);
        }
        roster
            .children
            .iter()
            .find(|c| c.region.id == r.id)
            .map_or((0, 0), |c| (c.groups_total, c.groups_complete))
    };
    let children = kids
        .iter()
        .map(|k| {
            let r = k.to_ref();
            let g = groups_of(&r);
            let d = patrol(k.id);
            per_child.remove(&k.id).unwrap_or_default().figures(r, g, d)
        })
        .collect();
    let r = root.to_ref();
    let g = groups_of(&r);
    Ok(Summary {
        period: p.out(tz),
        total: total.figures(r, g, patrol(root.id)),
        children,
    })
}

/// (group-days, patrolled group-days) of `root` or one of its children over the period's
/// days that are over, as `patrols::compliance` counts them.
fn patrol_group_days(
    conn: &mut DbConn,
    root: &RegionRow,
    p: &Period,
    tz: chrono_tz::Tz,
) -> AppResult<impl Fn(i64) -> (i64, i64)> {
    let (counts, days) = match p.days_ended(tz) {
        Some((from, last)) => (
            compliance::group_days(conn, root, from, last)?,
            (last - from).num_days() + 1,
        ),
        // Nothing is over yet: no group-day to judge.
        None => (GroupDays::default(), 0),
    };
    Ok(move |region: i64| {
        let (groups, done) = counts.of(region);
        (groups * days, done)
    })
}
