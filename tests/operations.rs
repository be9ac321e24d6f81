//! Health for operators (issue 15): `/readyz` reports the database, the photo directory's free
//! space and the deadline sweep's last successful run — stored in the database, so a second
//! server over the same database reports the same run — and `/metrics` the sweep's duration and
//! runs and the connection pool's waiters.

mod common;

use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::dev::Service;
use actix_web::test;
use common::*;
use diesel::connection::SimpleConnection;
use firegrid::hazards::sweep;
use serde_json::Value;

async fn readyz(app: &TestApp) -> Value {
    app.get("/readyz", None).await.assert_status(200).clone()
}

async fn readyz_reports_photo_space_and_the_sweep_across_servers(b: Backend) {
    let app = spawn(b).await;
    let r = readyz(&app).await;
    assert_eq!(
        (r["status"].as_str(), r["database"].as_str()),
        (Some("ok"), Some("ok"))
    );
    let (free, total) = (
        r["photos"]["free_bytes"].as_u64().unwrap(),
        r["photos"]["total_bytes"].as_u64().unwrap(),
    );
    assert!(free > 0 && total >= free, "{r}");
    assert_eq!(r["sweep"]["status"], "never", "{r}");
    assert!(r["sweep"]["last_success_at"].is_null());

    sweep::run_once(&app.state).await.unwrap();
    let r = readyz(&app).await;
    let sweep = &r["sweep"];
    assert_eq!(sweep["status"], "ok", "{r}");
    let at = sweep["last_success_at"].as_str().unwrap().to_string();
    assert!(sweep["last_duration_ms"].as_i64().unwrap() >= 0);
    assert_eq!(
        sweep["interval_secs"].as_u64(),
        Some(app.state.settings.sweep_interval.as_secs())
    );

    // A second server over the same database, which never swept, reports the same run.
    let second = firegrid::AppState::new(app.db.settings());
    let svc = test::init_service(firegrid::build_app(second)).await;
    let resp = svc
        .call(test::TestRequest::get().uri("/readyz").to_request())
        .await
        .unwrap();
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["sweep"]["last_success_at"], at.as_str(), "{body}");

    // Three intervals without a success: late (reported, still ready).
    app.db
        .conn()
        .batch_execute(&format!(
            "UPDATE job_runs SET last_success_at = '{}'",
            (chrono::Utc::now() - app.state.settings.sweep_interval * 4)
                .naive_utc()
                .format("%Y-%m-%d %H:%M:%S%.6f")
        ))
        .unwrap();
    assert_eq!(readyz(&app).await["sweep"]["status"], "late");
    sweep::run_once(&app.state).await.unwrap();
    assert_eq!(readyz(&app).await["sweep"]["status"], "ok");
}

async fn metrics(app: &TestApp) -> String {
    String::from_utf8(app.get("/metrics", None).await.raw).unwrap()
}

/// The value of an unlabelled sample, or None when the metric is absent.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(|v| v.trim().parse().unwrap())
}

async fn metrics_report_sweep_duration_and_pool_waiters(b: Backend) {
    let app = Rc::new(spawn(b).await);
    sweep::run_once(&app.state).await.unwrap();
    sweep::run_once(&app.state).await.unwrap();
    let text = metrics(&app).await;
    assert_eq!(
        sample(&text, "firegrid_sweep_duration_seconds_count"),
        Some(2.0),
        "{text}"
    );
    assert!(sample(&text, "firegrid_sweep_duration_seconds_sum").unwrap() > 0.0);
    assert!(
        text.contains("firegrid_sweep_runs_total{result=\"ok\"} 2"),
        "{text}"
    );
    assert_eq!(
        sample(&text, "firegrid_db_pool_waiters"),
        Some(0.0),
        "{text}"
    );
    assert!(sample(&text, "firegrid_db_pool_connections").unwrap() >= 1.0);
    // Nothing notified yet: an empty outbox (tests/webhooks.rs counts a full one).
    assert_eq!(
        sample(&text, "firegrid_outbox_backlog"),
        Some(0.0),
        "{text}"
    );
    // The SQLite writer's queue and batches (tests/group_commit.rs checks the batching).
    if b == Backend::Sqlite {
        firegrid::db::run_tx(&app.state.pool, |_| Ok(()))
            .await
            .unwrap();
        let text = metrics(&app).await;
        for (series, at_least) in [
            ("firegrid_sqlite_write_queue", 0.0),
            ("firegrid_sqlite_commits_total", 1.0),
            ("firegrid_sqlite_committed_writes_total", 1.0),
        ] {
            assert!(sample(&text, series).unwrap() >= at_least, "{text}");
        }
    }

    // Every connection taken: the next database call waits, and /metrics shows it waiting.
    let held: Vec<_> = (0..app.state.settings.pool_size)
        .map(|_| app.state.pool.get().unwrap())
        .collect();
    let waiting = actix_web::rt::spawn({
        let app = app.clone();
        async move { app.get("/readyz", None).await.status }
    });
    let started = Instant::now();
    loop {
        let text = metrics(&app).await;
        if sample(&text, "firegrid_db_pool_waiters") == Some(1.0) {
            assert_eq!(
                sample(&text, "firegrid_db_pool_idle_connections"),
                Some(0.0)
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "no waiter seen: {text}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    drop(held);
    assert_eq!(waiting.await.unwrap().as_u16(), 200);
    assert_eq!(
        sample(&metrics(&app).await, "firegrid_db_pool_waiters"),
        Some(0.0)
    );
}

db_tests!(
    readyz_reports_photo_space_and_the_sweep_across_servers,
    metrics_report_sweep_duration_and_pool_waiters,
);
