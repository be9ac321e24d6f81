//! Exports of the case list (统计上报): CSV and XLSX for spreadsheets, GeoJSON for maps. Each
//! reads the case list's own query (`hazards::store::list`, same filters, same scope) a keyset
//! page at a time, so memory stays flat however many cases match: CSV and GeoJSON stream each
//! page into the response as it is read; an XLSX workbook is a zip that can only be finished
//! at the end, so it is built in a temporary file (rust_xlsxwriter's constant-memory mode) and
//! capped at `xlsx::MAX_ROWS` rows. No export carries reporter identities or contacts.

pub mod csv;
pub mod geojson;
pub mod routes;
pub mod xlsx;
pub mod zh;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;

use crate::auth::scope::Scope;
use crate::db::{self, DbConn, Pool};
use crate::error::AppResult;
use crate::hazards::store::{self, HazardRow, ListFilter};
use crate::regions::store as region_store;

/// Cases per page read from the database.
pub const PAGE: i64 = 1000;

/// Region names by id, filled as pages name new regions (at most the size of the tree).
#[derive(Clone, Default)]
pub struct Names(Arc<Mutex<HashMap<i64, String>>>);

impl Names {
    /// Loads the names of the regions on these paths that are not known yet.
    pub fn learn(&self, conn: &mut DbConn, paths: &[&str]) -> AppResult<()> {
        let mut missing: Vec<i64> = {
            let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
            paths
                .iter()
                .flat_map(|p| p.split('/').filter_map(|s| s.parse::<i64>().ok()))
                .filter(|id| !known.contains_key(id))
                .collect()
        };
        missing.sort_unstable();
        missing.dedup();
        for chunk in missing.chunks(1000) {
            let rows = region_store::get_many(conn, chunk)?;
            let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
            known.extend(rows.into_iter().map(|r| (r.id, r.name)));
        }
        Ok(())
    }

    pub fn get(&self, id: i64) -> String {
        let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        known.get(&id).cloned().unwrap_or_default()
    }
}

/// Reads the filtered cases of the caller's scope, newest first, a page at a time.
pub struct CasePages {
    pub pool: Pool,
    pub scope: Scope,
    pub filter: ListFilter,
    pub now: NaiveDateTime,
    pub names: Names,
    done: bool,
}

impl CasePages {
    pub fn new(pool: Pool, scope: Scope, mut filter: ListFilter, now: NaiveDateTime) -> Self {
        filter.before_id = None;
        filter.fetch = PAGE;
        CasePages {
            pool,
            scope,
            filter,
            now,
            names: Names::default(),
            done: false,
        }
    }

    /// The next page read on a blocking thread (async callers); empty when done.
    pub async fn next(&mut self) -> AppResult<Vec<HazardRow>> {
        if self.done {
            return Ok(Vec::new());
        }
        let (scope, filter, now, names) = (
            self.scope.clone(),
            self.filter.clone(),
            self.now,
            self.names.clone(),
        );
        let rows = db::run(&self.pool, move |conn| {
            page(conn, &scope, &filter, now, &names)
        })
        .await?;
        self.advance(&rows);
        Ok(rows)
    }

    /// The next page on this connection (callers already on a blocking thread).
    pub fn next_on(&mut self, conn: &mut DbConn) -> AppResult<Vec<HazardRow>> {
        if self.done {
            return Ok(Vec::new());
        }
        let rows = page(conn, &self.scope, &self.filter, self.now, &self.names)?;
        self.advance(&rows);
        Ok(rows)
    }

    fn advance(&mut self, rows: &[HazardRow]) {
        self.done = (rows.len() as i64) < PAGE;
        self.filter.before_id = rows.last().map(|r| r.id);
    }
}

fn page(
    conn: &mut DbConn,
    scope: &Scope,
    filter: &ListFilter,
    now: NaiveDateTime,
    names: &Names,
) -> AppResult<Vec<HazardRow>> {
    let rows = store::list(conn, scope, filter, now)?;
    let paths: Vec<&str> = rows.iter().map(|r| r.region_path.as_str()).collect();
    names.learn(conn, &paths)?;
    Ok(rows)
}

/// One cell of a tabular export.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

/// The columns of the tabular exports (CSV, XLSX): Chinese header and XLSX width.
pub const COLUMNS: [(&str, f64); 22] = [
    ("案件编号", 20.0),
    ("标题", 30.0),
    ("隐患类别", 22.0),
    ("隐患等级", 9.0),
    ("来源", 9.0),
    ("状态", 9.0),
    ("当前层级", 9.0),
    ("县（区）", 14.0),
    ("乡镇（街道）", 14.0),
    ("村（社区）", 14.0),
    ("组", 10.0),
    ("地址", 30.0),
    ("纬度", 11.0),
    ("经度", 11.0),
    ("整改期限", 20.0),
    ("是否逾期", 9.0),
    ("挂牌督办", 9.0),
    ("结案结果", 9.0),
    ("发现时间", 20.0),
    ("立案时间", 20.0),
    ("结案时间", 20.0),
    ("隐患描述", 50.0),
];

/// A case as one row of `COLUMNS`; times are local (`tz`), `YYYY-MM-DD HH:MM:SS`.
pub fn row_cells(r: &HazardRow, names: &Names, tz: chrono_tz::Tz, now: NaiveDateTime) -> Vec<Cell> {
    let text = |s: &str| Cell::Text(s.to_string());
    let time = |t: Option<NaiveDateTime>| match t {
        Some(t) => Cell::Text(
            t.and_utc()
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
        ),
        None => Cell::Empty,
    };
    let yes_no = |b: bool| text(if b { "是" } else { "否" });
    let num = |x: Option<f64>| x.map_or(Cell::Empty, Cell::Number);
    let ids: Vec<i64> = r
        .region_path
        .split('/')
        .filter_map(|s| s.parse().ok())
        .collect();
    // The last four ids of a group's path: county, township, village, group.
    let tier = |back: usize| {
        ids.len()
            .checked_sub(back)
            .and_then(|i| ids.get(i))
            .map_or(Cell::Empty, |id| Cell::Text(names.get(*id)))
    };
    let overdue =
        r.status == crate::hazards::model::Status::Open && r.deadline.is_some_and(|d| d < now);
    vec![
        text(&r.case_no),
        text(&r.title),
        text(zh::category(r.category)),
        text(zh::severity(r.severity)),
        text(zh::source(r.source)),
        text(zh::status(r.status)),
        text(zh::level(r.level)),
        tier(4),
        tier(3),
        tier(2),
        tier(1),
        r.address.as_deref().map_or(Cell::Empty, text),
        num(r.lat),
        num(r.lng),
        time(r.deadline),
        yes_no(overdue),
        yes_no(r.supervision_listed),
        r.outcome.map_or(Cell::Empty, |o| text(zh::outcome(o))),
        time(r.found_at),
        time(Some(r.created_at)),
        time(r.closed_at),
        text(&r.description),
    ]
}

/// A text cell made safe for spreadsheets (formula injection, OWASP): a cell that starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, so Excel shows it as
/// text instead of evaluating it.
pub fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\tx"), "'\tx");
        assert_eq!(neutralise("楼道=堆物"), "楼道=堆物");
        assert_eq!(neutralise(""), "");
    }
}
