//! How often the public may report (a few an hour per client address and per contact phone),
//! shared by every server of a deployment: each report adds one hit to a fixed-window counter
//! row per address and per phone with one atomic upsert, in the report's own transaction. Two
//! servers counting the same address at once queue on the row (PostgreSQL) or on the write lock
//! (SQLite), so the limit holds exactly; a refused report rolls its hit back. The refusal is the
//! login throttle's (`auth::throttle::refused_until`): 429 with `Retry-After` until the window
//! ends. Phones are counted by their SHA-256, so the counters hold no contact.

use chrono::{DateTime, NaiveDateTime, Timelike};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::auth::throttle::refused_until;
use crate::db::schema::public_throttle;
use crate::db::DbConn;
use crate::error::AppResult;
use crate::per_backend;

/// Reports per client address per window: a village office or a school behind one NAT address
/// still gets several in.
pub const PER_ADDRESS: i32 = 5;
/// Reports per contact phone per window.
pub const PER_PHONE: i32 = 3;
pub const WINDOW_MINUTES: i64 = 60;

fn window_start(now: NaiveDateTime) -> NaiveDateTime {
    let secs = now.and_utc().timestamp();
    let start = secs - secs.rem_euclid(WINDOW_MINUTES * 60);
    DateTime::from_timestamp(start, 0)
        .map(|t| t.naive_utc())
        .unwrap_or(now)
        .with_nanosecond(0)
        .unwrap_or(now)
}

/// Adds one hit to `bucket` in the current window and returns the new count.
fn hit(conn: &mut DbConn, bucket: &str, window: NaiveDateTime) -> AppResult<i32> {
    use public_throttle::dsl as t;
    let upsert = diesel::insert_into(t::public_throttle)
        .values((
            t::bucket.eq(bucket),
            t::window_start.eq(window),
            t::hits.eq(1),
        ))
        .on_conflict((t::bucket, t::window_start))
        .do_update()
        .set(t::hits.eq(t::hits + 1))
        .returning(t::hits);
    // ON CONFLICT is per backend in diesel (not through the multi-backend connection).
    Ok(per_backend!(conn, |c| upsert.get_result::<i32>(c))?)
}

/// Counts one report from `address` (and `phone`, when given); 429 past either limit.
pub fn count(
    conn: &mut DbConn,
    address: &str,
    phone: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let window = window_start(now);
    let until = window + chrono::Duration::minutes(WINDOW_MINUTES);
    let mut buckets = vec![(format!("address:{address}"), PER_ADDRESS)];
    if let Some(phone) = phone {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        buckets.push((
            format!("phone:{}", hex::encode(Sha256::digest(digits.as_bytes()))),
            PER_PHONE,
        ));
    }
    for (bucket, max) in buckets {
        if hit(conn, &bucket, window)? > max {
            tracing::warn!(bucket = %bucket.split(':').next().unwrap_or(""), "public report refused: too many this hour");
            return Err(refused_until(until, now));
        }
    }
    Ok(())
}

/// Drops windows that have ended (the sweep calls this).
pub fn prune(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<usize> {
    Ok(diesel::delete(
        public_throttle::table.filter(public_throttle::window_start.lt(window_start(now))),
    )
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_on_the_hour() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        assert_eq!(
            window_start(t("2026-11-29 10:59:59.5")),
            t("2026-11-29 10:00:00.0")
        );
        assert_eq!(
            window_start(t("2026-11-29 11:00:00.0")),
            t("2026-11-29 11:00:00.0")
        );
    }
}
