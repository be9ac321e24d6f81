//! Who did their rounds (SPEC §6): the share of groups that patrolled on each local day, the
//! groups that did not with their run of consecutive missed days, and the townships without
//! the month's targeted inspection. Days and months are those of `FIREGRID_TZ`, as stored in
//! `patrols.local_date`; every group of the tree as it stands counts on every day asked about.

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use diesel::dsl::{count, max};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::scope::subtree_end;
use crate::db::schema::{patrols, regions};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::patrols::model::PatrolKind;
use crate::regions::model::{RegionLevel, RegionRef, RegionRow};
use crate::regions::store as region_store;
use crate::roster::model::rate;

/// The longest range one question may span.
pub const MAX_RANGE_DAYS: i64 = 366;

/// A child region's tally over the range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PatrolTally {
    pub region: RegionRef,
    pub groups: i64,
    /// Groups × days.
    pub group_days: i64,
    /// Of those, the group-days with at least one patrol.
    pub patrolled_group_days: i64,
    /// patrolled_group_days / group_days; null without groups.
    pub rate: Option<f64>,
}

/// A group that missed at least one day of the range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MissedGroup {
    pub group: RegionRef,
    /// Its village.
    pub village: Option<RegionRef>,
    /// Days of the range without a patrol.
    pub missed_days: i64,
    /// Consecutive days without a patrol ending on `to` (0 when it patrolled that day); null
    /// when the group has never patrolled up to `to`.
    pub run: Option<i64>,
    /// Its last patrol on or before `to`.
    pub last_patrol_date: Option<String>,
}

/// `GET /api/v1/regions/{id}/patrol-compliance`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PatrolCompliance {
    pub region: RegionRef,
    pub from: String,
    pub to: String,
    pub days: i64,
    /// The whole region.
    pub total: PatrolTally,
    /// Per child region, by code.
    pub children: Vec<PatrolTally>,
    /// Groups that missed a day, longest current run first.
    pub missed: Vec<MissedGroup>,
}

/// A township without the month's inspection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MissingInspection {
    pub township: RegionRef,
    /// Its latest inspection before the month ended, if any.
    pub last_inspection_date: Option<String>,
}

/// `GET /api/v1/regions/{id}/inspection-compliance`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InspectionCompliance {
    pub region: RegionRef,
    /// YYYY-MM.
    pub month: String,
    pub townships: i64,
    pub inspected: i64,
    pub rate: Option<f64>,
    /// Townships without a township inspection that month, by code.
    pub missing: Vec<MissingInspection>,
}

/// The id of the region just below `root` on a descendant's path, if the descendant lies
/// below it.
fn child_of(root: &RegionRow, path: &str) -> Option<i64> {
    path.strip_prefix(root.path.as_str())?
        .split('/')
        .find(|s| !s.is_empty())?
        .parse()
        .ok()
}

/// (region_id, local day) of every round of `kind` in the subtree within [from, to].
fn round_days(
    conn: &mut DbConn,
    root: &RegionRow,
    kind: PatrolKind,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<(i64, String)>> {
    Ok(patrols::table
        .filter(patrols::kind.eq(kind))
        .filter(patrols::region_path.ge(&root.path))
        .filter(patrols::region_path.lt(subtree_end(&root.path)))
        .filter(patrols::local_date.ge(from.to_string()))
        .filter(patrols::local_date.le(to.to_string()))
        .select((patrols::region_id, patrols::local_date))
        .distinct()
        .load(conn)?)
}

/// Each region's latest round of `kind` on or before `until`, in the subtree.
pub fn last_rounds(
    conn: &mut DbConn,
    path: &str,
    kind: PatrolKind,
    until: NaiveDate,
) -> AppResult<HashMap<i64, String>> {
    let rows: Vec<(i64, Option<String>)> = patrols::table
        .filter(patrols::kind.eq(kind))
        .filter(patrols::region_path.ge(path))
        .filter(patrols::region_path.lt(subtree_end(path)))
        .filter(patrols::local_date.le(until.to_string()))
        .group_by(patrols::region_id)
        .select((patrols::region_id, max(patrols::local_date)))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, d)| d.map(|d| (id, d)))
        .collect())
}

pub fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Every group of the subtree (by path) with the number of distinct local days within
/// [from, to] on which it patrolled (rounds of kind `patrol`; two rounds on one day count once;
/// 0 for a group without one): one grouped query, the subtree's groups through the index on
/// (level, path), each group's rounds of the range through the index on (region_id, kind,
/// local_date), so its cost follows the subtree and the range, not the patrols ever recorded.
pub fn patrolled_days(
    conn: &mut DbConn,
    path: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<HashMap<String, i64>> {
    Ok(regions::table
        .left_join(
            patrols::table.on(patrols::region_id
                .eq(regions::id)
                .and(patrols::kind.eq(PatrolKind::Patrol))
                .and(patrols::local_date.ge(from.to_string()))
                .and(patrols::local_date.le(to.to_string()))),
        )
        .filter(regions::level.eq(RegionLevel::Group))
        .filter(regions::path.ge(path))
        .filter(regions::path.lt(subtree_end(path)))
        .group_by(regions::path)
        .select((
            regions::path,
            count(patrols::local_date.nullable()).aggregate_distinct(),
        ))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect())
}

/// Groups and patrolled group-days of a region and of each of its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupDays {
    /// The region's id.
    pub root: i64,
    /// (groups, patrolled group-days) of the whole region.
    pub total: (i64, i64),
    /// The same per child region (children without groups absent).
    pub per_child: HashMap<i64, (i64, i64)>,
}

impl GroupDays {
    /// Counts the groups of `root`'s subtree (path → patrolled days, `patrolled_days`).
    fn count(root: &RegionRow, done: &HashMap<String, i64>) -> GroupDays {
        let mut out = GroupDays {
            root: root.id,
            ..GroupDays::default()
        };
        for (path, &n) in done {
            out.total.0 += 1;
            out.total.1 += n;
            if let Some(child) = child_of(root, path) {
                let e = out.per_child.entry(child).or_default();
                e.0 += 1;
                e.1 += n;
            }
        }
        out
    }

    /// (groups, patrolled group-days) of `region`: the total for the root, else its child's.
    pub fn of(&self, region: i64) -> (i64, i64) {
        if region == self.root {
            self.total
        } else {
            self.per_child.get(&region).copied().unwrap_or_default()
        }
    }
}

/// Daily patrols over the local days [from, to] of `root` and each child (the figures of
/// `patrol` without the missed groups): every group of the subtree as it stands counts on every
/// day. One query (`patrolled_days`).
pub fn group_days(
    conn: &mut DbConn,
    root: &RegionRow,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<GroupDays> {
    let done = patrolled_days(conn, &root.path, from, to)?;
    Ok(GroupDays::count(root, &done))
}

pub fn patrol(
    conn: &mut DbConn,
    root: &RegionRow,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<PatrolCompliance> {
    let days = (to - from).num_days() + 1;
    if days < 1 {
        return Err(AppError::field("to", "must not be before from"));
    }
    if days > MAX_RANGE_DAYS {
        return Err(AppError::field(
            "to",
            format!("a range spans at most {MAX_RANGE_DAYS} days"),
        ));
    }
    let tree = region_store::subtree(conn, &root.path)?;
    let by_id: HashMap<i64, &RegionRow> = tree.iter().map(|r| (r.id, r)).collect();
    let patrolled = patrolled_days(conn, &root.path, from, to)?;
    let last = last_rounds(conn, &root.path, PatrolKind::Patrol, to)?;

    let groups: Vec<&RegionRow> = tree
        .iter()
        .filter(|r| r.level == RegionLevel::Group)
        .collect();
    let counts = GroupDays::count(root, &patrolled);
    let mut children: Vec<&RegionRow> = tree
        .iter()
        .filter(|r| r.parent_id == Some(root.id))
        .collect();
    children.sort_by(|a, b| a.code.cmp(&b.code));
    let mut missed = Vec::new();
    for g in groups {
        let n = patrolled.get(&g.path).copied().unwrap_or(0);
        if n < days {
            let last_day = last.get(&g.id).and_then(|d| parse_day(d));
            missed.push(MissedGroup {
                group: g.to_ref(),
                village: g.parent_id.and_then(|v| by_id.get(&v)).map(|v| v.to_ref()),
                missed_days: days - n,
                run: last_day.map(|d| (to - d).num_days()),
                last_patrol_date: last_day.map(|d| d.to_string()),
            });
        }
    }
    // Never patrolled first, then the longest runs; ties by code.
    missed.sort_by(|a, b| {
        let key = |m: &MissedGroup| m.run.map_or(i64::MAX, |r| r);
        key(b)
            .cmp(&key(a))
            .then_with(|| a.group.code.cmp(&b.group.code))
    });
    let tally = |region: &RegionRow| {
        let (groups, done) = counts.of(region.id);
        PatrolTally {
            region: region.to_ref(),
            groups,
            group_days: groups * days,
            patrolled_group_days: done,
            rate: rate(done, groups * days),
        }
    };
    Ok(PatrolCompliance {
        region: root.to_ref(),
        from: from.to_string(),
        to: to.to_string(),
        days,
        total: tally(root),
        children: children.iter().map(|c| tally(c)).collect(),
        missed,
    })
}

/// The first and last day of a month.
pub fn month_bounds(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    if month.len() != 7 {
        return None;
    }
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
    };
    Some((first, next.pred_opt()?))
}

pub fn inspection(
    conn: &mut DbConn,
    root: &RegionRow,
    month: &str,
) -> AppResult<InspectionCompliance> {
    let (first, last_day) =
        month_bounds(month).ok_or_else(|| AppError::field("month", "must be YYYY-MM"))?;
    if matches!(root.level, RegionLevel::Village | RegionLevel::Group) {
        return Err(AppError::field(
            "id",
            "township inspections are counted for a township or a region above it",
        ));
    }
    let tree = region_store::subtree(conn, &root.path)?;
    let inspected: BTreeSet<i64> =
        round_days(conn, root, PatrolKind::TownshipInspection, first, last_day)?
            .into_iter()
            .map(|(t, _)| t)
            .collect();
    let last = last_rounds(conn, &root.path, PatrolKind::TownshipInspection, last_day)?;
    let mut townships: Vec<&RegionRow> = tree
        .iter()
        .filter(|r| r.level == RegionLevel::Township)
        .collect();
    townships.sort_by(|a, b| a.code.cmp(&b.code));
    let total = townships.len() as i64;
    let done = townships
        .iter()
        .filter(|t| inspected.contains(&t.id))
        .count() as i64;
    Ok(InspectionCompliance {
        region: root.to_ref(),
        month: month.to_string(),
        townships: total,
        inspected: done,
        rate: rate(done, total),
        missing: townships
            .iter()
            .filter(|t| !inspected.contains(&t.id))
            .map(|t| MissingInspection {
                township: t.to_ref(),
                last_inspection_date: last.get(&t.id).cloned(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_have_their_days() {
        let d = |s| parse_day(s).unwrap();
        assert_eq!(
            month_bounds("2026-02"),
            Some((d("2026-02-01"), d("2026-02-28")))
        );
        assert_eq!(month_bounds("2024-02").unwrap().1, d("2024-02-29"));
        assert_eq!(month_bounds("2026-12").unwrap().1, d("2026-12-31"));
        for bad in ["2026-13", "2026-1", "26-01", "2026-01-01", "x"] {
            assert!(month_bounds(bad).is_none(), "{bad}");
        }
    }
}
