//! The delivery worker: a background task in every server, like the deadline sweep. Each pass
//! (1) fans new outbox events out into deliveries, (2) leases a batch of due deliveries in a
//! short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on SQLite) and
//! commits, (3) POSTs them with no database connection held, (4) records each answer — only if
//! the lease is still this server's. So each delivery is attempted by one server at a time; a
//! server that dies mid-delivery delays it by one lease, and the receiver de-duplicates the rare
//! repeat by `X-Firegrid-Delivery`.

use std::time::{Duration, Instant};

use crate::config::WebhookSettings;
use crate::db;
use crate::error::AppResult;
use crate::vocab::WebhookFormat;
use crate::webhooks::payload::{self, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER};
use crate::webhooks::store::{self, Attempt, Backoff, Claim};
use crate::AppState;

/// Deliveries leased per transaction (and sent concurrently on the blocking pool).
pub const BATCH: i64 = 32;
/// Outbox events fanned out per transaction.
pub const DISPATCH_BATCH: i64 = 500;
/// The most of a receiver's answer that is read (for the robots' `errcode`).
const ANSWER_LIMIT: u64 = 64 * 1024;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    pub dispatched: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// The HTTP client: ureq on the blocking pool (see Cargo.toml). Every call is bounded by the
/// timeout, connecting included; redirects are not followed (a 3xx is a failed attempt, so a
/// receiver cannot bounce deliveries somewhere the URL check never saw).
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("firegrid-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// How long a lease lasts: longer than any one call can take, with room for a busy pool.
pub fn lease(settings: &WebhookSettings) -> Duration {
    settings.timeout * 2 + Duration::from_secs(30)
}

fn backoff(settings: &WebhookSettings) -> Backoff {
    Backoff {
        base: settings.retry_base,
        max: settings.retry_max,
        window: settings.retry_window,
    }
}

/// One pass: dispatch everything new, then deliver everything due.
pub async fn pass(state: &AppState, agent: &ureq::Agent) -> AppResult<PassReport> {
    let settings = state.settings.webhooks.clone();
    let mut report = PassReport::default();
    loop {
        let n = db::run(&state.pool, |c| {
            db::write_tx(c, |c| store::dispatch(c, db::now(), DISPATCH_BATCH))
        })
        .await?;
        report.dispatched += n;
        if n < DISPATCH_BATCH as usize {
            break;
        }
    }
    let lease = chrono::Duration::from_std(lease(&settings)).unwrap_or(chrono::Duration::MAX);
    let backoff = backoff(&settings);
    loop {
        let claims = db::run(&state.pool, move |c| {
            let now = db::now();
            db::write_tx(c, |c| store::claim(c, now, now + lease, BATCH))
        })
        .await?;
        if claims.is_empty() {
            break;
        }
        let full = claims.len() as i64 == BATCH;
        let sends = claims.into_iter().map(|claim| {
            let agent = agent.clone();
            actix_web::web::block(move || {
                let attempt = send(&agent, &claim);
                (claim, attempt)
            })
        });
        let results: Vec<(Claim, Attempt)> = futures_util::future::join_all(sends)
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        for (claim, attempt) in &results {
            match attempt {
                Attempt::Delivered { .. } => report.delivered += 1,
                Attempt::Failed { .. } => {
                    if backoff
                        .next(claim.created_at, claim.attempts, db::now())
                        .is_some()
                    {
                        report.retrying += 1;
                    } else {
                        report.failed += 1;
                    }
                }
            }
            if let Attempt::Failed { error, .. } = attempt {
                tracing::debug!(delivery = %claim.event.delivery_id, attempt = claim.attempts, %error, "webhook delivery failed");
            }
        }
        db::run(&state.pool, move |c| {
            db::write_tx(c, |c| {
                for (claim, attempt) in &results {
                    store::record(c, claim, attempt, &backoff, db::now())?;
                }
                Ok(())
            })
        })
        .await?;
        if !full {
            break;
        }
    }
    Ok(report)
}

/// POSTs one delivery and says how it went. Blocking: runs on the blocking pool.
pub fn send(agent: &ureq::Agent, claim: &Claim) -> Attempt {
    let body = payload::body(claim.format, &claim.event);
    let now = chrono::Utc::now();
    let url = match (claim.format, &claim.secret) {
        (WebhookFormat::Dingtalk, Some(secret)) => {
            payload::dingtalk_url(&claim.url, secret, now.timestamp_millis())
        }
        _ => claim.url.clone(),
    };
    let mut req = agent
        .post(&url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header(DELIVERY_HEADER, &claim.event.delivery_id)
        .header(EVENT_HEADER, claim.event.kind.as_str());
    if let Some(secret) = &claim.secret {
        req = req.header(
            SIGNATURE_HEADER,
            payload::signature(secret, now.timestamp(), &body),
        );
    }
    match req.send(&body[..]) {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let answer = resp
                .body_mut()
                .with_config()
                .limit(ANSWER_LIMIT)
                .read_to_string()
                .unwrap_or_default();
            if !(200..300).contains(&status) {
                return Attempt::Failed {
                    status: Some(status),
                    error: format!("HTTP {status}: {}", answer.trim()),
                };
            }
            match (claim.format, robot_refusal(&answer)) {
                (WebhookFormat::Wecom | WebhookFormat::Dingtalk, Some(why)) => Attempt::Failed {
                    status: Some(status),
                    error: why,
                },
                _ => Attempt::Delivered { status },
            }
        }
        Err(e) => Attempt::Failed {
            status: None,
            error: e.to_string(),
        },
    }
}

/// WeCom and DingTalk answer 200 even when they refuse a message (a bad key, a failed
/// signature, rate limiting); the refusal is a non-zero `errcode` in the body.
fn robot_refusal(answer: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(answer).ok()?;
    let code = v.get("errcode")?.as_i64()?;
    (code != 0).then(|| {
        format!(
            "robot refused: errcode {code}: {}",
            v.get("errmsg").and_then(|m| m.as_str()).unwrap_or("")
        )
    })
}

/// Runs a pass every `interval` until the server stops; prunes old deliveries hourly.
pub async fn run_forever(state: AppState) {
    let settings = state.settings.webhooks.clone();
    let agent = agent(settings.timeout);
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pruned: Option<Instant> = None;
    loop {
        ticker.tick().await;
        match pass(&state, &agent).await {
            Ok(r) if r != PassReport::default() => tracing::info!(
                dispatched = r.dispatched,
                delivered = r.delivered,
                retrying = r.retrying,
                failed = r.failed,
                "webhook deliveries"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery pass failed; retrying next interval")
            }
        }
        if pruned.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            pruned = Some(Instant::now());
            if let Err(e) = db::run_bulk(&state.pool, |c| store::prune(c, db::now())).await {
                tracing::warn!(error = %e, "pruning old webhook deliveries failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_refuse_with_errcode() {
        assert_eq!(robot_refusal(r#"{"errcode":0,"errmsg":"ok"}"#), None);
        assert_eq!(
            robot_refusal(r#"{"errcode":310000,"errmsg":"sign not match"}"#).as_deref(),
            Some("robot refused: errcode 310000: sign not match")
        );
        assert_eq!(robot_refusal("ok"), None);
    }
}
