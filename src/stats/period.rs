//! Reporting periods (统计期间): whole local days in the deployment's time zone (`FIREGRID_TZ`),
//! turned into the UTC instants the case records are compared with.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

/// The longest period a summary covers.
pub const MAX_YEARS: i32 = 10;

/// No period starts before this year: the grid's records begin long after it, and an instant
/// before year 1 cannot even be written in RFC 3339 (a period of 0000-01 starts in -0001 UTC).
pub const FIRST_YEAR: i32 = 2000;

/// `[start, end)` in UTC; `end` is never later than the moment the figures were taken, so "at
/// the end of the period" means "now" for a period that has not finished yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Local midnight starting `from`, in UTC.
    pub start: NaiveDateTime,
    /// Local midnight after `to`, in UTC, or the moment of asking if that is earlier.
    pub end: NaiveDateTime,
}

/// The period as responses state it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodOut {
    /// First day (local date).
    pub from: NaiveDate,
    /// Last day (local date), inclusive.
    pub to: NaiveDate,
    /// The time zone the days are counted in.
    pub timezone: String,
    /// The first instant counted (UTC).
    pub start: chrono::DateTime<chrono::Utc>,
    /// The instant "the end" refers to (UTC): the end of `to`, or the moment of asking if that
    /// comes first.
    pub end: chrono::DateTime<chrono::Utc>,
    /// The local days of the period that are over by `end` (all of them for a past period; up
    /// to yesterday for one running to today): the days patrol completion counts.
    pub days_ended: i64,
}

impl Period {
    pub fn out(&self, tz: Tz) -> PeriodOut {
        PeriodOut {
            from: self.from,
            to: self.to,
            timezone: tz.to_string(),
            start: self.start.and_utc(),
            end: self.end.and_utc(),
            days_ended: self
                .days_ended(tz)
                .map_or(0, |(f, l)| (l - f).num_days() + 1),
        }
    }

    /// The first and last local day of the period that are over by its end, if any: a day
    /// still running is not judged (a group may patrol in the evening).
    pub fn days_ended(&self, tz: Tz) -> Option<(NaiveDate, NaiveDate)> {
        // `end` is local midnight after `to`, or a moment of a day not yet over.
        let last = tz.from_utc_datetime(&self.end).date_naive().pred_opt()?;
        (last >= self.from).then_some((self.from, last.min(self.to)))
    }

    /// The period `from..=to` (local days); 422 naming the field for a period that starts
    /// after it ends, starts in the future, or spans more than ten years.
    pub fn days(from: NaiveDate, to: NaiveDate, tz: Tz, now: NaiveDateTime) -> AppResult<Period> {
        let today = tz.from_utc_datetime(&now).date_naive();
        if from > to {
            return Err(AppError::field("from", "must not be after to"));
        }
        if from.year() < FIRST_YEAR {
            return Err(AppError::field(
                "from",
                format!("must not be before {FIRST_YEAR}"),
            ));
        }
        if from > today {
            return Err(AppError::field("from", "must not be in the future"));
        }
        let limit = from
            .with_year(from.year() + MAX_YEARS)
            .unwrap_or_else(|| from + chrono::Duration::days(365 * MAX_YEARS as i64));
        if to >= limit {
            return Err(AppError::field(
                "to",
                format!("the period may cover at most {MAX_YEARS} years"),
            ));
        }
        let start = local_midnight(from, tz);
        let end = local_midnight(to + chrono::Duration::days(1), tz).min(now);
        Ok(Period {
            from,
            to,
            start,
            end,
        })
    }

    /// A calendar month; 422 on `field` for a month that has not begun.
    pub fn month(
        year: i32,
        month: u32,
        field: &str,
        tz: Tz,
        now: NaiveDateTime,
    ) -> AppResult<Period> {
        let from = NaiveDate::from_ymd_opt(year, month, 1)
            .ok_or_else(|| AppError::field(field, "is not a month (YYYY-MM)"))?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        }
        .ok_or_else(|| AppError::field(field, "is not a month (YYYY-MM)"))?;
        Self::whole(from, next.pred_opt().unwrap_or(from), field, tz, now)
    }

    /// A calendar year; 422 on `field` for a year that has not begun.
    pub fn year(year: i32, field: &str, tz: Tz, now: NaiveDateTime) -> AppResult<Period> {
        let from = NaiveDate::from_ymd_opt(year, 1, 1)
            .ok_or_else(|| AppError::field(field, "is not a year"))?;
        let to = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(from);
        Self::whole(from, to, field, tz, now)
    }

    fn whole(
        from: NaiveDate,
        to: NaiveDate,
        field: &str,
        tz: Tz,
        now: NaiveDateTime,
    ) -> AppResult<Period> {
        if from.year() < FIRST_YEAR {
            return Err(AppError::field(
                field,
                format!("must not be before {FIRST_YEAR}"),
            ));
        }
        Self::days(from, to, tz, now)
            .map_err(|_| AppError::field(field, "must not be in the future"))
    }

    /// The `n` calendar months ending with this period's first month, oldest first (months
    /// that have not begun left out), for trends.
    pub fn months_up_to(&self, n: u32, tz: Tz, now: NaiveDateTime) -> Vec<Period> {
        let mut out = Vec::new();
        let (mut y, mut m) = (self.from.year(), self.from.month());
        for _ in 0..n {
            if let Ok(p) = Period::month(y, m, "month", tz, now) {
                out.push(p);
            }
            if m == 1 {
                y -= 1;
                m = 12;
            } else {
                m -= 1;
            }
        }
        out.reverse();
        out
    }
}

/// The UTC instant of local midnight starting `day` (the earliest, should a zone skip it).
pub fn local_midnight(day: NaiveDate, tz: Tz) -> NaiveDateTime {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.naive_utc())
        // A zone that skips midnight: an hour later exists.
        .unwrap_or_else(|| midnight - chrono::Duration::hours(8))
}

/// `YYYY-MM` → (year, month); 422 on `field` otherwise.
pub fn parse_month(s: &str, field: &str) -> AppResult<(i32, u32)> {
    let bad = || AppError::field(field, "must be a month YYYY-MM");
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) {
        return Err(bad());
    }
    Ok((y, m))
}

/// `YYYY-MM-DD` → date; 422 on `field` otherwise.
pub fn parse_day(s: &str, field: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| AppError::field(field, "must be a date YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn local_days_in_shanghai() {
        let tz = chrono_tz::Asia::Shanghai;
        let now = at("2026-11-29 12:00:00");
        let p = Period::days(
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            tz,
            now,
        )
        .unwrap();
        assert_eq!(p.start, at("2025-12-31 16:00:00"));
        assert_eq!(p.end, at("2026-01-31 16:00:00"));
        // A period running into the future ends now.
        let p = Period::month(2026, 11, "month", tz, now).unwrap();
        assert_eq!(p.end, now);
        assert!(Period::month(2026, 12, "month", tz, now).is_err());
        assert!(Period::year(2027, "year", tz, now).is_err());
    }

    #[test]
    fn days_ended_stop_before_today() {
        let tz = chrono_tz::Asia::Shanghai;
        let now = at("2026-11-29 12:00:00");
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let p = Period::days(d(1, 1), d(1, 31), tz, now).unwrap();
        assert_eq!(p.days_ended(tz), Some((d(1, 1), d(1, 31))));
        assert_eq!(p.out(tz).days_ended, 31);
        // Running into today (2026-11-29 20:00 in Shanghai): up to yesterday.
        let p = Period::month(2026, 11, "month", tz, now).unwrap();
        assert_eq!(p.days_ended(tz), Some((d(11, 1), d(11, 28))));
        let p = Period::days(d(11, 29), d(11, 29), tz, now).unwrap();
        assert_eq!(p.days_ended(tz), None);
        assert_eq!(p.out(tz).days_ended, 0);
        // Just after local midnight, yesterday is over.
        let p = Period::days(d(11, 28), d(11, 29), tz, at("2026-11-28 16:00:00")).unwrap();
        assert_eq!(p.days_ended(tz), Some((d(11, 28), d(11, 28))));
    }

    #[test]
    fn bad_periods_name_the_field() {
        let tz = chrono_tz::Asia::Shanghai;
        let now = at("2026-11-29 12:00:00");
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let field = |r: AppResult<Period>| r.unwrap_err().errors[0].field.clone();
        assert_eq!(
            field(Period::days(d(2026, 2, 1), d(2026, 1, 1), tz, now)),
            "from"
        );
        assert_eq!(
            field(Period::days(d(2010, 1, 1), d(2020, 1, 1), tz, now)),
            "to"
        );
        assert!(Period::days(d(2010, 1, 2), d(2020, 1, 1), tz, now).is_ok());
        assert_eq!(
            field(Period::days(d(2026, 12, 1), d(2026, 12, 2), tz, now)),
            "from"
        );
        assert_eq!(
            parse_month("2026-13", "month").unwrap_err().errors[0].field,
            "month"
        );
        assert_eq!(parse_month("2026-07", "month").unwrap(), (2026, 7));
    }

    #[test]
    fn no_period_starts_before_the_first_year() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let now = at("2026-11-29 12:00:00");
        let e = Period::month(0, 1, "month", tz, now).unwrap_err();
        assert_eq!(e.errors[0].field, "month");
        assert!(Period::year(1999, "year", tz, now).is_err());
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let e = Period::days(d("1999-12-31"), d("2000-01-02"), tz, now).unwrap_err();
        assert_eq!(e.errors[0].field, "from");
        assert!(Period::month(2000, 1, "month", tz, now).is_ok());
    }
}
