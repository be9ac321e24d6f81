//! The figures of a region over a period (统计), each defined once here and in README.md
//! ("Statistics: what each figure means"). They are counted from the case rows as the case list
//! shows them (`created_at`, `closed_at`, `status`, `outcome`, `severity`, `source`, `deadline`,
//! `supervision_listed`) plus one fact from the timeline (whether a deadline ever lapsed), so
//! an auditor can recount every figure by hand from `GET /api/v1/hazards`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::hazards;
use crate::hazards::model::{Category, Outcome, Severity, Source, Status};
use crate::regions::model::RegionRef;
use crate::stats::period::Period;

/// What the figures need of one case (its row; whether a deadline lapsed comes from the
/// timeline, see `Tally::add`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = hazards)]
pub struct CaseFacts {
    pub id: i64,
    pub region_path: String,
    /// Received by the server (立案).
    pub created_at: NaiveDateTime,
    /// Closed or rejected; cleared when a case is reopened.
    pub closed_at: Option<NaiveDateTime>,
    pub status: Status,
    pub category: Category,
    pub outcome: Option<Outcome>,
    pub severity: Severity,
    pub source: Source,
    pub deadline: Option<NaiveDateTime>,
    pub supervision_listed: bool,
}

impl CaseFacts {
    fn finished_before(&self, t: NaiveDateTime) -> bool {
        matches!(self.status, Status::Closed | Status::Rejected)
            && self.closed_at.is_some_and(|c| c < t)
    }

    pub fn found_in(&self, p: &Period) -> bool {
        self.created_at >= p.start && self.created_at < p.end
    }

    pub fn open_at_end(&self, p: &Period) -> bool {
        self.created_at < p.end && !self.finished_before(p.end)
    }

    pub fn rectified_in(&self, p: &Period) -> bool {
        self.closed_in(p, Outcome::Rectified)
    }

    fn closed_in(&self, p: &Period, outcome: Outcome) -> bool {
        self.status == Status::Closed
            && self.outcome == Some(outcome)
            && self.closed_at.is_some_and(|c| c >= p.start && c < p.end)
    }
}

/// What the figures need of one public report (群众举报, issue 12): when it arrived, when its
/// first response was due (48 hours later, 青政办〔2016〕189号) and when it came.
#[derive(Debug, Clone)]
pub struct PublicFacts {
    pub region_path: String,
    pub received_at: NaiveDateTime,
    pub first_response_due: NaiveDateTime,
    pub first_response_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct BySource {
    pub patrol: i64,
    pub inspection: i64,
    pub public: i64,
    pub other: i64,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct BySeverity {
    pub general: i64,
    pub major: i64,
}

/// The figures of one region over one period. README.md defines each field; `[start, end)` is
/// the period as `period` states it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Figures {
    pub region: RegionRef,
    /// Cases received in the period (发现隐患).
    pub found: i64,
    pub found_by_source: BySource,
    pub found_by_severity: BySeverity,
    /// Received before the end and not closed or rejected before it.
    pub open_at_end: i64,
    /// Open at the end, still `open`, with a deadline before the end.
    pub overdue_at_end: i64,
    /// Open at the end and major (重大火灾隐患).
    pub major_open_at_end: i64,
    /// Open at the end and listed for supervision (挂牌督办).
    pub listed_open_at_end: i64,
    /// Closed in the period with outcome `rectified` (已整改).
    pub rectified: i64,
    /// Closed in the period with outcome `unfounded`.
    pub closed_unfounded: i64,
    /// Closed in the period with outcome `duplicate`.
    pub closed_duplicate: i64,
    /// Public reports rejected in the period (status `rejected`).
    pub rejected: i64,
    /// Of the cases found in the period: closed `rectified` before the end.
    pub found_rectified: i64,
    /// Of the cases found in the period: rejected, or closed `unfounded` or `duplicate`, before
    /// the end.
    pub found_dismissed: i64,
    /// found_rectified / (found − found_dismissed), 4 places; null when nothing is left.
    pub rectification_rate: Option<f64>,
    /// Median days from receipt to closure of the cases rectified in the period (nearest rank),
    /// 2 places.
    pub days_to_close_median: Option<f64>,
    /// 90th percentile of the same (nearest rank), 2 places.
    pub days_to_close_p90: Option<f64>,
    /// Of the cases rectified in the period: those that never let a deadline lapse.
    pub closed_on_time: i64,
    /// closed_on_time / rectified, 4 places; null when nothing was rectified.
    pub closed_on_time_share: Option<f64>,
    /// Groups in the region (roster compliance is as of now: rosters keep no history).
    pub roster_groups_total: i64,
    /// Groups whose roster is complete (一长三员 达标).
    pub roster_groups_complete: i64,
    /// roster_groups_complete / roster_groups_total, 4 places; null without groups.
    pub roster_compliance: Option<f64>,
    /// Daily patrols (每天防火巡查): the region's groups (as the tree stands now) × the period's
    /// days that are over (`period.days_ended`).
    pub patrol_group_days: i64,
    /// Of those, the group-days with at least one round of kind `patrol` recorded for the group
    /// on that local day.
    pub patrolled_group_days: i64,
    /// patrolled_group_days / patrol_group_days, 4 places; null when there is no group-day.
    pub patrol_completion: Option<f64>,
    /// Public reports received in the period.
    pub public_reports: i64,
    /// Of those: the ones whose 48 hours ended before the end, or that were answered before it.
    pub public_due: i64,
    /// Of `public_due`: first answered before the end and by the 48-hour deadline.
    pub public_answered_in_48h: i64,
    /// public_answered_in_48h / public_due, 4 places; null when nothing was due.
    pub public_first_response_share: Option<f64>,
}

/// Counts cases into the figures of one region.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    found: i64,
    by_source: BySource,
    by_severity: BySeverity,
    open_at_end: i64,
    overdue_at_end: i64,
    major_open_at_end: i64,
    listed_open_at_end: i64,
    rectified: i64,
    closed_unfounded: i64,
    closed_duplicate: i64,
    rejected: i64,
    found_rectified: i64,
    found_dismissed: i64,
    closed_on_time: i64,
    /// Days from receipt to closure of each case rectified in the period.
    days: Vec<f64>,
    public_reports: i64,
    public_due: i64,
    public_answered_in_48h: i64,
}

impl Tally {
    /// Counts one case. `lapsed`: some deadline of the case passed while it was open (a
    /// `deadline_expired` event in its timeline); only read for cases rectified in the period.
    pub fn add(&mut self, c: &CaseFacts, lapsed: bool, p: &Period) {
        if c.found_in(p) {
            self.found += 1;
            *match c.source {
                Source::Patrol => &mut self.by_source.patrol,
                Source::Inspection => &mut self.by_source.inspection,
                Source::Public => &mut self.by_source.public,
                Source::Other => &mut self.by_source.other,
            } += 1;
            *match c.severity {
                Severity::General => &mut self.by_severity.general,
                Severity::Major => &mut self.by_severity.major,
            } += 1;
            if c.finished_before(p.end) {
                match (c.status, c.outcome) {
                    (Status::Closed, Some(Outcome::Rectified)) => self.found_rectified += 1,
                    _ => self.found_dismissed += 1,
                }
            }
        }
        if c.open_at_end(p) {
            self.open_at_end += 1;
            if c.status == Status::Open && c.deadline.is_some_and(|d| d < p.end) {
                self.overdue_at_end += 1;
            }
            if c.severity == Severity::Major {
                self.major_open_at_end += 1;
            }
            if c.supervision_listed {
                self.listed_open_at_end += 1;
            }
        }
        if c.rectified_in(p) {
            self.rectified += 1;
            if !lapsed {
                self.closed_on_time += 1;
            }
            if let Some(closed) = c.closed_at {
                self.days
                    .push((closed - c.created_at).num_milliseconds() as f64 / 86_400_000.0);
            }
        }
        if c.closed_in(p, Outcome::Unfounded) {
            self.closed_unfounded += 1;
        }
        if c.closed_in(p, Outcome::Duplicate) {
            self.closed_duplicate += 1;
        }
        if c.status == Status::Rejected && c.closed_at.is_some_and(|t| t >= p.start && t < p.end) {
            self.rejected += 1;
        }
    }

    /// Counts one public report.
    pub fn add_public(&mut self, r: &PublicFacts, p: &Period) {
        if r.received_at < p.start || r.received_at >= p.end {
            return;
        }
        self.public_reports += 1;
        let answered = r.first_response_at.filter(|t| *t < p.end);
        if r.first_response_due < p.end || answered.is_some() {
            self.public_due += 1;
            if answered.is_some_and(|t| t <= r.first_response_due) {
                self.public_answered_in_48h += 1;
            }
        }
    }

    /// Adds another region's counts (a parent is the sum of its children).
    pub fn merge(&mut self, o: &Tally) {
        self.found += o.found;
        self.by_source.patrol += o.by_source.patrol;
        self.by_source.inspection += o.by_source.inspection;
        self.by_source.public += o.by_source.public;
        self.by_source.other += o.by_source.other;
        self.by_severity.general += o.by_severity.general;
        self.by_severity.major += o.by_severity.major;
        self.open_at_end += o.open_at_end;
        self.overdue_at_end += o.overdue_at_end;
        self.major_open_at_end += o.major_open_at_end;
        self.listed_open_at_end += o.listed_open_at_end;
        self.rectified += o.rectified;
        self.closed_unfounded += o.closed_unfounded;
        self.closed_duplicate += o.closed_duplicate;
        self.rejected += o.rejected;
        self.found_rectified += o.found_rectified;
        self.found_dismissed += o.found_dismissed;
        self.closed_on_time += o.closed_on_time;
        self.days.extend_from_slice(&o.days);
        self.public_reports += o.public_reports;
        self.public_due += o.public_due;
        self.public_answered_in_48h += o.public_answered_in_48h;
    }

    /// The figures, given the roster's (groups, complete groups) and the patrols' (group-days,
    /// patrolled group-days), which are not counted from cases.
    pub fn figures(mut self, region: RegionRef, roster: (i64, i64), patrol: (i64, i64)) -> Figures {
        self.days.sort_by(f64::total_cmp);
        let (groups_total, groups_complete) = roster;
        let (group_days, patrolled) = patrol;
        Figures {
            region,
            found: self.found,
            found_by_source: self.by_source,
            found_by_severity: self.by_severity,
            open_at_end: self.open_at_end,
            overdue_at_end: self.overdue_at_end,
            major_open_at_end: self.major_open_at_end,
            listed_open_at_end: self.listed_open_at_end,
            rectified: self.rectified,
            closed_unfounded: self.closed_unfounded,
            closed_duplicate: self.closed_duplicate,
            rejected: self.rejected,
            found_rectified: self.found_rectified,
            found_dismissed: self.found_dismissed,
            rectification_rate: ratio(self.found_rectified, self.found - self.found_dismissed),
            days_to_close_median: nearest_rank(&self.days, 0.5).map(round2),
            days_to_close_p90: nearest_rank(&self.days, 0.9).map(round2),
            closed_on_time: self.closed_on_time,
            closed_on_time_share: ratio(self.closed_on_time, self.rectified),
            roster_groups_total: groups_total,
            roster_groups_complete: groups_complete,
            roster_compliance: ratio(groups_complete, groups_total),
            patrol_group_days: group_days,
            patrolled_group_days: patrolled,
            patrol_completion: ratio(patrolled, group_days),
            public_reports: self.public_reports,
            public_due: self.public_due,
            public_answered_in_48h: self.public_answered_in_48h,
            public_first_response_share: ratio(self.public_answered_in_48h, self.public_due),
        }
    }
}

/// `part / whole` to 4 places; `None` when `whole` is 0.
pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The nearest-rank percentile of sorted values: the value at rank ⌈p·n⌉ (1-based).
pub fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(nearest_rank(&v, 0.5), Some(2.0));
        assert_eq!(nearest_rank(&v, 0.9), Some(4.0));
        assert_eq!(nearest_rank(&[7.0], 0.9), Some(7.0));
        assert_eq!(nearest_rank(&[], 0.5), None);
        assert_eq!(ratio(1, 3), Some(0.3333));
        assert_eq!(ratio(1, 0), None);
    }
}
