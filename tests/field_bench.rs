//! Timings for BENCHMARKS.md (ignored by default; run with `cargo test --test field_bench --
//! --ignored --nocapture`): recording patrols and a first sync on the demo county, through the
//! real app in process.

mod common;

use std::time::Instant;

use common::*;
use serde_json::json;

async fn patrols_and_sync(b: Backend) {
    let app = spawn(b).await;
    firegrid::demo::load(&mut app.db.conn()).expect("demo county");
    let pw = firegrid::demo::DEMO_PASSWORD;
    let inspector = login(&app, "demo.inspector", pw).await;
    let me = app.get("/api/v1/me", Some(&inspector)).await;
    let group = me.body["scope"]["regions"][0]["id"].as_i64().unwrap();
    let premises: Vec<i64> = app
        .get(
            &format!("/api/v1/premises?region_id={group}"),
            Some(&inspector),
        )
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    let n = 200;
    let started = Instant::now();
    for i in 0..n {
        let t0 = chrono::Utc::now() - chrono::Duration::minutes(600 - i);
        let body = json!({
            "group_id": group,
            "started_at": t0.to_rfc3339(),
            "ended_at": (t0 + chrono::Duration::minutes(1)).to_rfc3339(),
            "checks": premises.iter().map(|p| json!({"premises_id": p, "result": "ok"})).collect::<Vec<_>>(),
            "hazards": if i % 10 == 0 { json!([report_body(group, Severity::General, "巡查发现电线老化")]) } else { json!([]) }
        });
        let r = app.post("/api/v1/patrols", Some(&inspector), body).await;
        r.assert_status(201);
    }
    let per = started.elapsed() / n as u32;
    eprintln!(
        "{b:?}: {n} patrols ({} checks each, a case every 10th) recorded one after another: {:.1} ms each",
        premises.len(),
        per.as_secs_f64() * 1000.0
    );
    for who in ["demo.inspector", "demo.township", "demo.county"] {
        let token = login(&app, who, pw).await;
        let started = Instant::now();
        let (mut cursor, mut bytes, mut pages) = (String::new(), 0, 0);
        loop {
            let r = app
                .get(
                    &format!("/api/v1/sync?limit=500&cursor={cursor}"),
                    Some(&token),
                )
                .await;
            let page = r.assert_status(200);
            bytes += r.raw.len();
            pages += 1;
            cursor = page["next_cursor"].as_str().unwrap().to_string();
            if page["has_more"] == false {
                break;
            }
        }
        eprintln!(
            "{b:?}: first sync of {who}: {pages} pages, {bytes} bytes of JSON, {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
}

#[actix_web::test]
#[ignore = "benchmark, not a check: prints timings for BENCHMARKS.md; run with --ignored --nocapture on a quiet machine"]
async fn sqlite() {
    patrols_and_sync(Backend::Sqlite).await
}

#[actix_web::test]
#[ignore = "benchmark, not a check: prints timings for BENCHMARKS.md; run with --ignored --nocapture on a quiet machine"]
async fn postgres() {
    if postgres_enabled() {
        patrols_and_sync(Backend::Postgres).await
    }
}
