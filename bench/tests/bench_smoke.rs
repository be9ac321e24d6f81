//! CI smoke test of the benchmark tooling (issue 6), so that it cannot rot: generate the `tiny`
//! dataset, start the real server on a free loopback port, run every `bench run` scenario for a
//! moment with two clients, and require that requests went through without a single error.
//! Speed is not asserted here: that is what BENCHMARKS.md is for.

// The server's own test harness (a fresh database per test, on both backends).
#[path = "../../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use actix_web::HttpServer;
use common::{Backend, TestDb};
use firegrid::AppState;
use firegrid_bench::{self as bench, run::Scenario, Layout, ScaleName};

async fn bench_tooling_runs_against_a_real_server(backend: Backend) {
    let db = TestDb::new(backend);
    let layout = Layout::of(ScaleName::Tiny);
    let report = {
        let mut conn = db.conn();
        bench::gen::generate(&mut conn, &layout, 1, false).expect("generate")
    };
    assert_eq!(report.cases, 100);
    assert!(report.events >= 100);
    {
        // Hash chains valid, case numbers consecutive, counters consistent.
        let mut conn = db.conn();
        let (checked, broken) = firegrid::hazards::events::verify_all(&mut conn).unwrap();
        assert_eq!(checked as i64, report.events);
        assert!(broken.is_empty(), "{broken:?}");
    }
    {
        use diesel::prelude::*;
        use firegrid::db::schema::{case_counters, hazards};
        let mut conn = db.conn();
        let counters: Vec<i64> = case_counters::table
            .select(case_counters::last_seq)
            .load(&mut conn)
            .unwrap();
        let numbers: Vec<String> = hazards::table
            .select(hazards::case_no)
            .order(hazards::id.asc())
            .load(&mut conn)
            .unwrap();
        assert_eq!(counters.iter().sum::<i64>(), numbers.len() as i64);
        // Consecutive per year in order of receipt.
        let mut last: std::collections::HashMap<String, i64> = Default::default();
        for n in &numbers {
            let (prefix, seq) = n.rsplit_once('-').unwrap();
            let seq: i64 = seq.parse().unwrap();
            let prev = last.insert(prefix.to_string(), seq).unwrap_or(0);
            assert_eq!(seq, prev + 1, "{n}");
        }
    }
    // A second run refuses: the generator only fills an empty database.
    assert!(bench::gen::generate(&mut db.conn(), &layout, 1, false).is_err());

    let state = AppState::new(db.settings());
    let server_state = state.clone();
    let server = HttpServer::new(move || firegrid::build_app(server_state.clone()))
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind a free loopback port");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let started = Instant::now();
    let opts = bench::run::RunOptions {
        target: format!("http://{addr}"),
        clients: 2,
        seconds: 0.2,
        scenarios: Scenario::ALL.to_vec(),
        scale: ScaleName::Tiny,
        ceiling: None,
        login_clients: 2,
        seed: 3,
        server_pid: Some(std::process::id()),
    };
    let out = bench::run::run(&opts).await.expect("bench run");
    handle.stop(false).await;
    let names: Vec<&str> = out.results.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(
        names,
        [
            "login",
            "report",
            "list_first_township",
            "list_deep_township",
            "list_first_fire",
            "list_deep_fire",
            "get",
            "act",
            "notifications",
            "get_during_logins",
            "login_during_gets",
        ]
    );
    for r in &out.results {
        assert!(r.requests > 0, "{} made no requests", r.scenario);
        assert_eq!(r.errors, 0, "{}: {:?}", r.scenario, r.error_samples);
    }
    assert!(started.elapsed().as_secs() < 30);

    // `gen` marked the database, so the sweep may rewrite it; it moves exactly the cases it made
    // overdue: no generated open case holds a deadline that has passed.
    let sweep = bench::gen::sweep_bench(&mut db.conn(), 20).expect("sweep a generated database");
    assert_eq!(sweep.overdue, 20);
    assert_eq!(sweep.expired as i64, sweep.overdue, "{sweep:?}");
}

db_tests!(bench_tooling_runs_against_a_real_server);
