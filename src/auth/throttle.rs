//! Login throttling (OWASP): by account — 5 failures in 15 minutes lock the username, and a
//! correct password does not get through — and by address — about 100 failures in 15 minutes,
//! so that one township office behind one NAT address can still work while password spraying
//! is cut off. Counts live in the database, so every server of a deployment sees the same, and
//! a wrong current password at `POST /me/password` counts like a failed login.

use std::net::IpAddr;

use actix_web::HttpRequest;
use chrono::{Duration, NaiveDateTime};

use crate::auth::store::{self, FailureCounts};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};

pub const WINDOW_MINUTES: i64 = 15;
pub const MAX_FAILURES_PER_USERNAME: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 100;

pub fn window_start(now: NaiveDateTime) -> NaiveDateTime {
    now - Duration::minutes(WINDOW_MINUTES)
}

/// 429 with `Retry-After` (until the oldest counted failure leaves the window) when either
/// limit is reached.
pub fn check(counts: &FailureCounts, now: NaiveDateTime) -> AppResult<()> {
    for ((n, oldest), max) in [
        (counts.by_username, MAX_FAILURES_PER_USERNAME),
        (counts.by_ip, MAX_FAILURES_PER_IP),
    ] {
        if n >= max {
            return Err(refused_until(
                oldest.unwrap_or(now) + Duration::minutes(WINDOW_MINUTES),
                now,
            ));
        }
    }
    Ok(())
}

/// 429 `rate_limited` whose `Retry-After` says when the limit lifts: the one refusal of every
/// throttle (logins here, public reports in `public::throttle`).
pub fn refused_until(until: NaiveDateTime, now: NaiveDateTime) -> AppError {
    AppError::rate_limited((until - now).num_seconds().max(1) as u64)
}

/// 429 for an account or address that has failed too often: the one check in front of every
/// password guess, at login and at `POST /me/password` (whose current-password check would
/// otherwise let a stolen access token guess the password without limit).
pub fn guard(conn: &mut DbConn, username: &str, ip: &str) -> AppResult<()> {
    let now = crate::db::now();
    let counts = store::failures_since(conn, username, ip, window_start(now))?;
    check(&counts, now).inspect_err(|_| {
        tracing::warn!(username = %username, ip = %ip, "password refused: too many failed attempts");
    })
}

/// Counts a wrong password against the account and the address, and logs the lockout it causes.
pub fn count_failure(conn: &mut DbConn, username: &str, ip: &str) -> AppResult<()> {
    let now = crate::db::now();
    store::record_failure(conn, username, ip, now)?;
    let counts = store::failures_since(conn, username, ip, window_start(now))?;
    if counts.by_username.0 == MAX_FAILURES_PER_USERNAME {
        tracing::warn!(username = %username, ip = %ip, "account locked for 15 minutes after repeated failures");
    }
    Ok(())
}

/// The client's address: the peer, or — only when the peer is a trusted proxy — the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .map_or_else(|| peer.to_string(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn five_failures_lock_until_the_first_leaves_the_window() {
        let now = t("2026-11-27 10:10:00");
        let ok = FailureCounts {
            by_username: (4, Some(t("2026-11-27 10:00:00"))),
            by_ip: (4, None),
        };
        assert!(check(&ok, now).is_ok());
        let locked = FailureCounts {
            by_username: (5, Some(t("2026-11-27 10:00:00"))),
            by_ip: (5, None),
        };
        let err = check(&locked, now).unwrap_err();
        assert_eq!(err.retry_after_secs, Some(300));
        let ip = FailureCounts {
            by_username: (0, None),
            by_ip: (100, Some(t("2026-11-27 10:09:00"))),
        };
        assert_eq!(check(&ip, now).unwrap_err().retry_after_secs, Some(840));
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:1234".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.9, 10.0.0.1"))
            .to_http_request();
        assert_eq!(client_ip(&req, &[proxy]), "203.0.113.9");
        assert_eq!(client_ip(&req, &[]), "10.0.0.1");
        let direct = TestRequest::default()
            .peer_addr("198.51.100.7:1".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4"))
            .to_http_request();
        assert_eq!(client_ip(&direct, &[proxy]), "198.51.100.7");
    }
}
