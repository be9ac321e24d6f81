//! Webhook subscriptions and their deliveries in the database; the delivery worker's three
//! steps (dispatch, claim, record) that keep each delivery with one server at a time.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::scope::Scope;
use crate::db::schema::{
    notification_outbox, organization_jurisdictions, organizations, regions, webhook_deliveries,
    webhooks,
};
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult};
use crate::notifications::outbox::Subject;
use crate::per_backend;
use crate::vocab::{DeliveryStatus, NotificationKind, WebhookFormat};
use crate::webhooks::model::{DeliveryRow, WebhookRow};
use crate::webhooks::payload::Event;

pub struct NewRow<'a> {
    pub url: &'a str,
    pub secret: Option<&'a str>,
    pub kinds: &'a [NotificationKind],
    pub format: WebhookFormat,
    pub region_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub created_by: i64,
}

pub fn insert(conn: &mut DbConn, new: &NewRow<'_>, now: NaiveDateTime) -> AppResult<WebhookRow> {
    let kinds: Vec<&str> = new.kinds.iter().map(|k| k.as_str()).collect();
    let kinds = kinds.join(",");
    let insert = diesel::insert_into(webhooks::table).values((
        webhooks::url.eq(new.url),
        webhooks::secret.eq(new.secret),
        webhooks::kinds.eq(&kinds),
        webhooks::format.eq(new.format),
        webhooks::region_id.eq(new.region_id),
        webhooks::organization_id.eq(new.organization_id),
        webhooks::created_by.eq(new.created_by),
        webhooks::created_at.eq(now),
    ));
    Ok(per_backend!(conn, |c| insert
        .returning(WebhookRow::as_returning())
        .get_result(c))?)
}

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<WebhookRow> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// Webhooks newest first, below `before_id`.
pub fn list(conn: &mut DbConn, before_id: Option<i64>, fetch: i64) -> AppResult<Vec<WebhookRow>> {
    let mut q = webhooks::table
        .select(WebhookRow::as_select())
        .order(webhooks::id.desc())
        .limit(fetch)
        .into_boxed();
    if let Some(b) = before_id {
        q = q.filter(webhooks::id.lt(b));
    }
    Ok(q.load(conn)?)
}

/// Removes a webhook with its deliveries (the foreign key cascades).
pub fn delete(conn: &mut DbConn, id: i64) -> AppResult<()> {
    diesel::delete(webhooks::table.find(id)).execute(conn)?;
    Ok(())
}

/// A delivery with the event it carries, for the admin's list.
pub type DeliveryListRow = (DeliveryRow, NotificationKind, Option<i64>, String);

/// A webhook's deliveries newest first, optionally of one status.
pub fn deliveries(
    conn: &mut DbConn,
    webhook_id: i64,
    status: Option<DeliveryStatus>,
    before_id: Option<i64>,
    fetch: i64,
) -> AppResult<Vec<DeliveryListRow>> {
    let mut q = webhook_deliveries::table
        .inner_join(notification_outbox::table)
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .select((
            DeliveryRow::as_select(),
            notification_outbox::kind,
            notification_outbox::hazard_id,
            notification_outbox::message,
        ))
        .order(webhook_deliveries::id.desc())
        .limit(fetch)
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(webhook_deliveries::status.eq(s));
    }
    if let Some(b) = before_id {
        q = q.filter(webhook_deliveries::id.lt(b));
    }
    Ok(q.load(conn)?)
}

/// What `/metrics` reports about webhooks (see README "Webhooks").
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    /// Outbox events not yet fanned out to deliveries.
    pub undispatched_events: i64,
    /// Deliveries still to be made (including those waiting for a retry).
    pub pending_deliveries: i64,
    /// Deliveries given up after the retry window (kept for `RETENTION_DAYS`).
    pub failed_deliveries: i64,
    /// Age of the oldest pending delivery, in seconds (0 when none).
    pub oldest_pending_secs: f64,
}

/// The outbox backlog, from the indexes (cheap enough for every scrape).
pub fn backlog(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<Backlog> {
    let undispatched_events = notification_outbox::table
        .filter(notification_outbox::dispatched_at.is_null())
        .count()
        .get_result(conn)?;
    let pending =
        webhook_deliveries::table.filter(webhook_deliveries::status.eq(DeliveryStatus::Pending));
    let pending_deliveries = pending.count().get_result(conn)?;
    let oldest: Option<NaiveDateTime> = pending
        .select(diesel::dsl::min(webhook_deliveries::created_at))
        .first(conn)?;
    let failed_deliveries = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Failed))
        .count()
        .get_result(conn)?;
    Ok(Backlog {
        undispatched_events,
        pending_deliveries,
        failed_deliveries,
        oldest_pending_secs: oldest.map_or(0.0, |t| {
            ((now - t).num_milliseconds().max(0) as f64) / 1000.0
        }),
    })
}

// ---- the delivery worker's steps ----

/// Where a webhook listens: a region's subtree, or an organisation's jurisdiction (where it
/// sits, when it has none).
fn coverage(conn: &mut DbConn, hooks: &[WebhookRow]) -> AppResult<HashMap<i64, Scope>> {
    let region_ids: Vec<i64> = hooks.iter().filter_map(|h| h.region_id).collect();
    let org_ids: Vec<i64> = hooks.iter().filter_map(|h| h.organization_id).collect();
    let region_paths: HashMap<i64, String> = regions::table
        .filter(regions::id.eq_any(&region_ids))
        .select((regions::id, regions::path))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let mut org_paths: HashMap<i64, Vec<String>> = HashMap::new();
    let rows: Vec<(i64, String)> = organization_jurisdictions::table
        .inner_join(regions::table)
        .filter(organization_jurisdictions::organization_id.eq_any(&org_ids))
        .select((organization_jurisdictions::organization_id, regions::path))
        .load(conn)?;
    for (org, path) in rows {
        org_paths.entry(org).or_default().push(path);
    }
    let homes: Vec<(i64, String)> = organizations::table
        .inner_join(regions::table)
        .filter(organizations::id.eq_any(&org_ids))
        .select((organizations::id, regions::path))
        .load(conn)?;
    for (org, home) in homes {
        org_paths.entry(org).or_insert_with(|| vec![home]);
    }
    Ok(hooks
        .iter()
        .map(|h| {
            let paths = match (h.region_id, h.organization_id) {
                (Some(r), _) => region_paths.get(&r).cloned().into_iter().collect(),
                (None, Some(o)) => org_paths.get(&o).cloned().unwrap_or_default(),
                (None, None) => Vec::new(),
            };
            (h.id, Scope::from_paths(paths))
        })
        .collect())
}

/// Fans up to `batch` outbox events out into deliveries, one per webhook that wants each, and
/// marks them dispatched; returns how many events it took. Run inside `db::write_tx`: the events
/// are locked (`SKIP LOCKED`: another server takes the next ones) or the write lock is held.
pub fn dispatch(conn: &mut DbConn, now: NaiveDateTime, batch: i64) -> AppResult<usize> {
    let due = || {
        notification_outbox::table
            .filter(notification_outbox::dispatched_at.is_null())
            .order(notification_outbox::id.asc())
            .limit(batch)
            .select(notification_outbox::id)
    };
    let ids: Vec<i64> = match conn {
        DbConn::Pg(c) => due().for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => due().load(c)?,
    };
    if ids.is_empty() {
        return Ok(0);
    }
    let events: Vec<(i64, NotificationKind, String, NaiveDateTime)> = notification_outbox::table
        .filter(notification_outbox::id.eq_any(&ids))
        .select((
            notification_outbox::id,
            notification_outbox::kind,
            notification_outbox::region_path,
            notification_outbox::created_at,
        ))
        .load(conn)?;
    let hooks: Vec<WebhookRow> = webhooks::table.select(WebhookRow::as_select()).load(conn)?;
    let covers = coverage(conn, &hooks)?;
    let mut rows = Vec::new();
    for (event, kind, path, at) in &events {
        for h in &hooks {
            // A webhook hears of what happens from its creation on, inside what it covers.
            let inside = !path.is_empty() && covers.get(&h.id).is_some_and(|s| s.contains(path));
            if inside && h.wants(*kind) && h.created_at <= *at {
                rows.push((
                    webhook_deliveries::delivery_id.eq(uuid::Uuid::new_v4().to_string()),
                    webhook_deliveries::webhook_id.eq(h.id),
                    webhook_deliveries::outbox_id.eq(*event),
                    webhook_deliveries::status.eq(DeliveryStatus::Pending),
                    webhook_deliveries::attempts.eq(0),
                    webhook_deliveries::next_attempt_at.eq(now),
                    webhook_deliveries::created_at.eq(now),
                ));
            }
        }
    }
    for chunk in rows.chunks(500) {
        let insert = diesel::insert_into(webhook_deliveries::table).values(chunk);
        per_backend!(conn, |c| insert.execute(c))?;
    }
    diesel::update(notification_outbox::table.filter(notification_outbox::id.eq_any(&ids)))
        .set(notification_outbox::dispatched_at.eq(now))
        .execute(conn)?;
    Ok(ids.len())
}

/// One delivery taken by this server until `locked_until`, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: i64,
    /// The attempt this claim makes (also its fencing token: recording checks it).
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub url: String,
    pub secret: Option<String>,
    pub format: WebhookFormat,
    pub event: Event,
}

type ClaimRow = (
    (i64, String, i32, NaiveDateTime),
    (String, Option<String>, WebhookFormat),
    (
        i64,
        NotificationKind,
        String,
        String,
        Option<String>,
        NaiveDateTime,
    ),
);

/// Leases up to `batch` due deliveries to this server until `lease_until`, counting the attempt.
/// Run inside `db::write_tx`, and let it commit before any HTTP call: no connection or
/// transaction stays open while a receiver answers. A server that dies holding a lease only
/// delays its deliveries until the lease ends; another server then takes them.
pub fn claim(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    batch: i64,
) -> AppResult<Vec<Claim>> {
    let due = || {
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
            .filter(webhook_deliveries::next_attempt_at.le(now))
            .filter(
                webhook_deliveries::locked_until
                    .is_null()
                    .or(webhook_deliveries::locked_until.le(now)),
            )
            .order(webhook_deliveries::next_attempt_at.asc())
            .limit(batch)
            .select(webhook_deliveries::id)
    };
    let ids: Vec<i64> = match conn {
        DbConn::Pg(c) => due().for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => due().load(c)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
        .set((
            webhook_deliveries::locked_until.eq(lease_until),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        ))
        .execute(conn)?;
    let rows: Vec<ClaimRow> = webhook_deliveries::table
        .inner_join(webhooks::table)
        .inner_join(notification_outbox::table)
        .filter(webhook_deliveries::id.eq_any(&ids))
        .select((
            (
                webhook_deliveries::id,
                webhook_deliveries::delivery_id,
                webhook_deliveries::attempts,
                webhook_deliveries::created_at,
            ),
            (webhooks::url, webhooks::secret, webhooks::format),
            (
                notification_outbox::id,
                notification_outbox::kind,
                notification_outbox::message,
                notification_outbox::region_path,
                notification_outbox::subject,
                notification_outbox::created_at,
            ),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |((id, delivery_id, attempts, created_at), (url, secret, format), e)| {
                let (event_id, kind, message, path, subject, occurred_at) = e;
                Claim {
                    id,
                    attempts,
                    created_at,
                    url,
                    secret,
                    format,
                    event: Event {
                        delivery_id,
                        event_id,
                        kind,
                        message,
                        occurred_at,
                        region_id: path.rsplit('/').find_map(|s| s.parse().ok()),
                        subject: subject.and_then(|s| serde_json::from_str::<Subject>(&s).ok()),
                    },
                }
            },
        )
        .collect())
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Answered 2xx (and, for the robots, with `errcode` 0).
    Delivered { status: u16 },
    /// Anything else: a status, a refusal by the robot, a timeout, no connection.
    Failed { status: Option<u16>, error: String },
}

/// The retry schedule: `base · 2^(attempt-1)`, at most `max`; past `window` after the delivery
/// was created it is given up.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: std::time::Duration,
    pub max: std::time::Duration,
    pub window: std::time::Duration,
}

impl Backoff {
    pub fn delay(&self, attempt: i32) -> chrono::Duration {
        let exp = attempt.clamp(1, 30) as u32 - 1;
        let d = self
            .base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max);
        chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
    }

    /// When to try again after the failed `attempt`, or `None` when the window has closed.
    pub fn next(
        &self,
        created_at: NaiveDateTime,
        attempt: i32,
        now: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        let next = now + self.delay(attempt);
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        (next <= created_at + window).then_some(next)
    }
}

/// Records an attempt; false when the claim was no longer this server's (its lease ran out and
/// another server took the delivery: that server's result counts).
pub fn record(
    conn: &mut DbConn,
    claim: &Claim,
    attempt: &Attempt,
    backoff: &Backoff,
    now: NaiveDateTime,
) -> AppResult<bool> {
    let mine = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(claim.id))
        .filter(webhook_deliveries::attempts.eq(claim.attempts))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending));
    let n = match attempt {
        Attempt::Delivered { status } => diesel::update(mine)
            .set((
                webhook_deliveries::status.eq(DeliveryStatus::Delivered),
                webhook_deliveries::last_status.eq(Some(i32::from(*status))),
                webhook_deliveries::last_error.eq(None::<String>),
                webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::finished_at.eq(Some(now)),
            ))
            .execute(conn)?,
        Attempt::Failed { status, error } => {
            let status = status.map(i32::from);
            let error: String = error.chars().take(500).collect();
            match backoff.next(claim.created_at, claim.attempts, now) {
                Some(next) => diesel::update(mine)
                    .set((
                        webhook_deliveries::next_attempt_at.eq(next),
                        webhook_deliveries::last_status.eq(status),
                        webhook_deliveries::last_error.eq(Some(error)),
                        webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)?,
                None => diesel::update(mine)
                    .set((
                        webhook_deliveries::status.eq(DeliveryStatus::Failed),
                        webhook_deliveries::last_status.eq(status),
                        webhook_deliveries::last_error.eq(Some(error)),
                        webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
                        webhook_deliveries::finished_at.eq(Some(now)),
                    ))
                    .execute(conn)?,
            }
        }
    };
    Ok(n == 1)
}

/// Finished deliveries (delivered or failed) are kept this long, for the admins' list.
pub const RETENTION_DAYS: i64 = 30;

/// Forgets finished deliveries past the retention, and dispatched events no delivery needs.
pub fn prune(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<()> {
    let cutoff = now - chrono::Duration::days(RETENTION_DAYS);
    db::write_tx(conn, |c| {
        diesel::delete(
            webhook_deliveries::table
                .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending))
                .filter(webhook_deliveries::finished_at.lt(cutoff)),
        )
        .execute(c)?;
        let still_needed = webhook_deliveries::table
            .filter(webhook_deliveries::outbox_id.eq(notification_outbox::id))
            .select(webhook_deliveries::id);
        diesel::delete(
            notification_outbox::table
                .filter(notification_outbox::dispatched_at.lt(now - chrono::Duration::days(1)))
                .filter(diesel::dsl::not(diesel::dsl::exists(still_needed))),
        )
        .execute(c)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_764_400_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stops_at_the_window() {
        let b = Backoff {
            base: Duration::from_secs(30),
            max: Duration::from_secs(3600),
            window: Duration::from_secs(24 * 3600),
        };
        let secs: Vec<i64> = (1..=9).map(|a| b.delay(a).num_seconds()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(b.delay(1000).num_seconds(), 3600);
        assert_eq!(b.next(t(0), 1, t(10)), Some(t(40)));
        // The last retry that still fits in 24 h, and then none.
        assert_eq!(b.next(t(0), 20, t(24 * 3600 - 3600)), Some(t(24 * 3600)));
        assert_eq!(b.next(t(0), 20, t(24 * 3600 - 3599)), None);
    }
}
