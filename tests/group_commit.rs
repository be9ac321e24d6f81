//! Writes that arrive together commit together (issue 16, item 3). On SQLite the server's write
//! transactions queue in the process, and the writer thread commits what queued up in one
//! transaction, each write in its own savepoint: one that fails, or panics, is rolled back alone
//! and the others of its transaction still commit. On PostgreSQL the same requests run
//! concurrently, each in its own transaction, with the same outcome.

mod common;

use std::time::Duration;

use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use firegrid::db;
use firegrid::error::AppError;
use futures_util::future::join_all;

/// A row written by a change that then fails: it must not be found afterwards.
fn mark(conn: &mut db::DbConn, job: &str) {
    diesel::sql_query("INSERT INTO job_runs (job) VALUES ($1)")
        .bind::<Text, _>(job)
        .execute(conn)
        .unwrap();
}

fn marks(app: &TestApp) -> i64 {
    count_rows(&app.db, "job_runs WHERE job LIKE 'group-commit-%'")
}

async fn writes_arriving_together_commit_together_and_fail_alone(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let pool = app.state.pool.clone();
    let stats = pool.commit_stats();
    let before = (
        stats.commits.load(std::sync::atomic::Ordering::Relaxed),
        stats.writes.load(std::sync::atomic::Ordering::Relaxed),
    );

    // Another connection holds SQLite's write lock for a moment, so that the queue fills up
    // behind the writer's first transaction, as it does under a burst of reports.
    let mut blocker = app.db.conn();
    if b == Backend::Sqlite {
        blocker.batch_execute("BEGIN IMMEDIATE").unwrap();
    }
    let reports = join_all((0..30).map(|n| {
        app.post(
            "/api/v1/hazards",
            Some(&s.inspector),
            report_body(
                w.t.group,
                Severity::General,
                &format!("李家山村一组液化气瓶 {n}"),
            ),
        )
    }));
    let failing = join_all((0..5).map(|n| {
        db::run_tx(&pool, move |conn| -> Result<(), AppError> {
            mark(conn, &format!("group-commit-fails-{n}"));
            Err(AppError::conflict("this write is rolled back alone"))
        })
    }));
    let panicking = db::run_tx(&pool, |conn| -> Result<(), AppError> {
        mark(conn, "group-commit-panics");
        panic!("a bug in one write must not take the others with it")
    });
    let kept = db::run_tx(&pool, |conn| {
        mark(conn, "group-commit-kept");
        Ok(())
    });
    let release = async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        if b == Backend::Sqlite {
            blocker.batch_execute("COMMIT").unwrap();
        }
    };
    let (reports, failing, panicking, kept, ()) =
        futures_util::join!(reports, failing, panicking, kept, release);

    // Each request got its own answer.
    let mut numbers: Vec<String> = reports
        .iter()
        .map(|r| {
            r.assert_status(201)["case_no"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for f in &failing {
        assert_eq!(f.as_ref().unwrap_err().code.as_str(), "conflict");
    }
    assert_eq!(panicking.unwrap_err().code.as_str(), "internal");
    kept.unwrap();

    // Only the failed writes are gone; case numbers are consecutive, none lost to a failure.
    assert_eq!(marks(&app), 1);
    numbers.sort();
    let seqs: Vec<u32> = numbers
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
    assert_eq!(count_rows(&app.db, "hazards"), 30);

    if b == Backend::Sqlite {
        // 37 writes queued behind the lock: the 31 that succeeded went in a few transactions,
        // not 31.
        let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed) - before.0;
        let writes = stats.writes.load(std::sync::atomic::Ordering::Relaxed) - before.1;
        assert_eq!(writes, 31);
        assert!(
            (1..=5).contains(&commits),
            "31 queued writes took {commits} commits"
        );
        assert_eq!(stats.queued.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    // The writer carries on after the panic.
    app.post(
        "/api/v1/hazards",
        Some(&s.inspector),
        report_body(w.t.group, Severity::General, "李家山村一组柴草堆放"),
    )
    .await
    .assert_status(201);
}

/// A write whose caller was answered 503 while it waited in the queue is never committed.
/// (SQLite only: PostgreSQL writers do not queue in the process; tests/faults.rs covers their
/// deadline.)
#[actix_web::test]
async fn a_write_past_its_deadline_is_not_committed() {
    let app = spawn(Backend::Sqlite).await;
    let pool = app.state.pool.clone();
    let mut blocker = app.db.conn();
    blocker.batch_execute("BEGIN IMMEDIATE").unwrap();
    let late = db::run_tx_within(&pool, Duration::from_millis(200), |conn| {
        mark(conn, "group-commit-late");
        Ok(())
    })
    .await;
    assert_eq!(late.unwrap_err().code.as_str(), "unavailable");
    blocker.batch_execute("COMMIT").unwrap();
    // The next write goes through, and the abandoned one was skipped.
    db::run_tx(&pool, |conn| {
        mark(conn, "group-commit-after");
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(marks(&app), 1);
}

db_tests!(writes_arriving_together_commit_together_and_fail_alone);
