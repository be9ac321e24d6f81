//! The monthly bulletin (综治信息简报) of a region: the month's figures, a twelve-month trend of
//! cases found and rectified, the month's cases by category, each child region, the ranking,
//! and the overdue and listed cases with their responsible supervisors. One set of numbers
//! (`Bulletin`), rendered as printable HTML with inline SVG charts (`html`) or as Markdown
//! (`markdown`).

pub mod chart;
pub mod html;
pub mod markdown;
pub mod routes;

use chrono::{Datelike, NaiveDateTime};

use crate::db::DbConn;
use crate::error::AppResult;
use crate::hazards::model::Category;
use crate::regions::model::RegionRow;
use crate::stats::board::{self, Board};
use crate::stats::period::Period;
use crate::stats::ranking::{rank, Ranking, Weights};
use crate::stats::store::{self, Summary};

/// Months in the trend chart, ending with the bulletin's month.
pub const TREND_MONTHS: u32 = 12;

pub struct Bulletin {
    pub region: RegionRow,
    pub year: i32,
    pub month: u32,
    pub tz: chrono_tz::Tz,
    pub period: Period,
    pub summary: Summary,
    /// (`YYYY-MM`, found, rectified), oldest first.
    pub trend: Vec<(String, i64, i64)>,
    /// Cases found in the month by category, most first (categories with none left out).
    pub by_category: Vec<(Category, i64)>,
    pub ranking: Ranking,
    /// As of the moment of asking, whatever the month.
    pub board: Board,
    pub generated_at: NaiveDateTime,
}

impl Bulletin {
    pub fn build(
        conn: &mut DbConn,
        region: RegionRow,
        period: Period,
        tz: chrono_tz::Tz,
        weights: &Weights,
        now: NaiveDateTime,
    ) -> AppResult<Bulletin> {
        let summary = store::summary(conn, &region, &period, tz)?;
        let ranking = rank(
            region.to_ref(),
            summary.period.clone(),
            weights,
            summary.children.clone(),
        );
        let months = period.months_up_to(TREND_MONTHS, tz, now);
        let window = Period {
            from: months.first().map_or(period.from, |m| m.from),
            to: period.to,
            start: months.first().map_or(period.start, |m| m.start),
            end: period.end,
        };
        let cases = store::facts(conn, &region.path, &window)?;
        let trend = months
            .iter()
            .map(|m| {
                let found = cases.iter().filter(|c| c.found_in(m)).count() as i64;
                let fixed = cases.iter().filter(|c| c.rectified_in(m)).count() as i64;
                (
                    format!("{}-{:02}", m.from.year(), m.from.month()),
                    found,
                    fixed,
                )
            })
            .collect();
        let mut by_category: Vec<(Category, i64)> = Category::ALL
            .iter()
            .map(|cat| {
                let n = cases
                    .iter()
                    .filter(|c| c.category == *cat && c.found_in(&period))
                    .count() as i64;
                (*cat, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        by_category.sort_by_key(|c| std::cmp::Reverse(c.1));
        let board = board::board(conn, &region, now)?;
        Ok(Bulletin {
            year: period.from.year(),
            month: period.from.month(),
            region,
            tz,
            period,
            summary,
            trend,
            by_category,
            ranking,
            board,
            generated_at: now,
        })
    }

    pub fn title(&self) -> String {
        format!(
            "{}消防网格化管理综治信息简报（{}年{}月）",
            self.region.name, self.year, self.month
        )
    }

    /// A UTC instant as a local time.
    pub fn local(&self, t: NaiveDateTime) -> String {
        t.and_utc()
            .with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

/// A percentage for people ("84.4%"), or "—".
pub fn pct(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{:.1}%", v * 100.0))
}

/// A number of days, or "—".
pub fn days(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{v:.1}"))
}

/// Text made safe for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
