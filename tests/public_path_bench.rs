//! A small timing of the public report path next to the staff one, in process (no network),
//! run by hand: `cargo test --test public_path_bench -- --ignored --nocapture` (add
//! `FIREGRID_TEST_POSTGRES_URL` for PostgreSQL). BENCHMARKS.md has the figures and the machine.

mod common;

use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use common::*;
use serde_json::json;

const N: usize = 200;

fn summary(name: &str, b: Backend, mut t: Vec<Duration>) {
    t.sort();
    let total: Duration = t.iter().sum();
    let pct = |p: f64| t[((t.len() as f64 * p) as usize).min(t.len() - 1)];
    println!(
        "{b:?} {name}: n={} median={:.2} ms p95={:.2} ms mean={:.2} ms",
        t.len(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.95).as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3 / t.len() as f64
    );
}

async fn paths(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let (mut staff, mut public, mut read_staff, mut read_public) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut ids = Vec::new();
    let mut codes = Vec::new();
    for i in 0..N {
        let body = report_body(w.t.group, Severity::General, &format!("电线{i}"));
        let t = Instant::now();
        let r = app.post("/api/v1/hazards", Some(&s.inspector), body).await;
        staff.push(t.elapsed());
        ids.push(id_of(r.assert_status(201)));

        // A fresh client address each time: the throttle allows 5 an hour per address.
        let req = TestRequest::post()
            .uri("/api/v1/public/reports")
            .peer_addr(
                format!("10.{}.{}.1:4000", i / 250, i % 250)
                    .parse()
                    .unwrap(),
            )
            .set_json(json!({"region_id": w.t.group, "category": "electrical",
                "description": format!("村民家中私拉乱接电线{i}"), "lat": 36.5, "lng": 101.6}));
        let t = Instant::now();
        let r = app.send(req).await;
        public.push(t.elapsed());
        let r = r.assert_status(201);
        codes.push((
            r["tracking_code"].as_str().unwrap().to_string(),
            r["secret"].as_str().unwrap().to_string(),
        ));
    }
    for (id, (code, secret)) in ids.iter().zip(&codes) {
        let t = Instant::now();
        app.get(&format!("/api/v1/hazards/{id}"), Some(&s.inspector))
            .await
            .assert_status(200);
        read_staff.push(t.elapsed());
        let t = Instant::now();
        app.send(
            TestRequest::get()
                .uri(&format!("/api/v1/public/reports/{code}"))
                .insert_header(("x-report-secret", secret.as_str())),
        )
        .await
        .assert_status(200);
        read_public.push(t.elapsed());
    }
    summary("POST /hazards (staff)", b, staff);
    summary("POST /public/reports", b, public);
    summary("GET /hazards/{id} (staff)", b, read_staff);
    summary("GET /public/reports/{code}", b, read_public);
}

#[actix_web::test]
#[ignore = "benchmark, not a check: prints timings for BENCHMARKS.md; run with --ignored --nocapture on a quiet machine"]
async fn public_path_sqlite() {
    paths(Backend::Sqlite).await
}

#[actix_web::test]
#[ignore = "benchmark, not a check: prints timings for BENCHMARKS.md; run with --ignored --nocapture on a quiet machine"]
async fn public_path_postgres() {
    if postgres_enabled() {
        paths(Backend::Postgres).await
    }
}
