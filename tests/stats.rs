//! Oversight through HTTP (issue 14): the supervision board, the summary agreeing with the case
//! list, the ranking and its weights, bad periods (422 naming the field), and scope (404 for a
//! region outside the caller's, on every endpoint taking a region id). The figures themselves
//! are recomputed from the raw timeline in `bench/tests/stats_recompute.rs`.

mod common;

use common::*;
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

fn in_a_week() -> String {
    (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339()
}

async fn act(app: &TestApp, token: &str, id: i64, body: Value) -> Value {
    app.post(&format!("/api/v1/hazards/{id}/actions"), Some(token), body)
        .await
        .assert_status(200)
        .clone()
}

async fn count(app: &TestApp, token: &str, query: &str) -> usize {
    let r = app
        .get(&format!("/api/v1/hazards?limit=200{query}"), Some(token))
        .await;
    r.assert_status(200)["items"].as_array().unwrap().len()
}

/// A listed major case at the police, an overdue one at the group, a rectified one, an open one.
async fn cases(app: &TestApp, s: &Staff) -> (i64, i64) {
    let listed = s
        .case(Severity::Major)
        .titled("加油站旁违规储存汽油")
        .at(Level::Police)
        .build(app)
        .await;
    act(
        app,
        &s.police,
        listed.id,
        json!({"action": "list_for_supervision", "deadline": in_a_week()}),
    )
    .await;
    let overdue = s
        .case(Severity::General)
        .titled("楼道堆放杂物")
        .deadline(in_a_week())
        .build(app)
        .await;
    let mut conn = app.db.conn();
    conn.batch_execute(&format!(
        "UPDATE hazards SET deadline = created_at WHERE id = {}",
        overdue.id
    ))
    .unwrap();
    let fixed = s
        .case(Severity::General)
        .titled("电动车楼道充电")
        .build(app)
        .await;
    act(
        app,
        &s.handler,
        fixed.id,
        json!({"action": "submit_rectification", "note": "已清理"}),
    )
    .await;
    act(
        app,
        &s.cadre,
        fixed.id,
        json!({"action": "approve_closure", "outcome": "rectified"}),
    )
    .await;
    s.case(Severity::General)
        .titled("灭火器过期")
        .build(app)
        .await;
    (listed.id, overdue.id)
}

async fn board_and_summary_agree_with_the_case_list(backend: Backend) {
    let app = spawn(backend).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let (listed, overdue) = cases(&app, &s).await;

    let r = app
        .get(
            &format!("/api/v1/supervision?region_id={}", w.t.county),
            Some(&s.county),
        )
        .await;
    let b = r.assert_status(200);
    assert_eq!(
        (b["listed"].as_i64(), b["overdue"].as_i64()),
        (Some(1), Some(1))
    );
    let county = &b["counties"][0];
    assert_eq!(county["county"]["name"], "湟中区");
    let town = &county["townships"][0];
    assert_eq!(town["township"]["name"], "李家山镇");
    assert_eq!(town["police_station"]["name"], "李家山派出所");
    let cases = town["cases"].as_array().unwrap();
    let ids: Vec<i64> = cases.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    // The overdue one first (days overdue), then the listed one.
    assert_eq!(ids, [overdue, listed]);
    assert_eq!(cases[0]["days_overdue"], 0);
    assert_eq!(cases[0]["last_action"]["action"], "set_deadline");
    assert_eq!(cases[1]["last_action"]["action"], "list_for_supervision");
    assert_eq!(cases[1]["days_overdue"], Value::Null);
    assert!(cases[1]["last_action"]["actor"].is_string());

    let r = app
        .get(
            &format!("/api/v1/stats/summary?region_id={}", w.t.county),
            Some(&s.county),
        )
        .await;
    let sum = r.assert_status(200).clone();
    let t = &sum["total"];
    assert_eq!(t["found"], 4);
    assert_eq!(t["found_by_severity"], json!({"general": 3, "major": 1}));
    assert_eq!(t["found_by_source"]["patrol"], 4);
    assert_eq!(t["open_at_end"], 3);
    assert_eq!(t["major_open_at_end"], 1);
    assert_eq!(t["rectified"], 1);
    assert_eq!(t["closed_on_time"], 1);
    assert_eq!(t["rectification_rate"], 0.25);
    assert_eq!(t["roster_groups_total"], 1);
    // The same counts as the case list's filters.
    assert_eq!(
        t["overdue_at_end"],
        count(&app, &s.county, "&overdue=true").await
    );
    assert_eq!(
        t["listed_open_at_end"],
        count(&app, &s.county, "&listed=true").await
    );
    assert_eq!(
        t["rectified"],
        count(&app, &s.county, "&status=closed").await
    );
    assert_eq!(sum["children"][0]["region"]["name"], "李家山镇");
    assert_eq!(sum["children"][0]["found"], 4);
    assert_eq!(sum["period"]["timezone"], "Asia/Shanghai");

    // A village cadre's board is their village's.
    let r = app
        .get(
            &format!("/api/v1/supervision?region_id={}", w.t.village),
            Some(&s.cadre),
        )
        .await;
    assert_eq!(r.assert_status(200)["overdue"], 1);
}

async fn ranking_shows_components_weights_and_breaks_ties(backend: Backend) {
    let db = TestDb::new(backend);
    let app = spawn_with(db, |_| {}).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    // A second township with nothing reported: it ties with nobody (李家山镇 has a major open).
    w.region(w.t.county, "多巴镇", "630106102")
        .build(&app)
        .await;
    cases(&app, &s).await;
    let r = app
        .get(
            &format!("/api/v1/stats/ranking?region_id={}", w.t.county),
            Some(&s.county),
        )
        .await;
    let k = r.assert_status(200).clone();
    let items = k["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["region"]["name"], "多巴镇");
    assert_eq!(items[0]["rank"], 1);
    assert_eq!(items[1]["rank"], 2);
    let weights: i64 = k["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["weight"].as_i64().unwrap())
        .sum();
    assert_eq!(weights, 100);
    // Score = sum of the components' points; points = 100 · weight · value / Σ weight.
    for it in items {
        let comps = it["components"].as_array().unwrap();
        assert_eq!(comps.len(), 5);
        let pts: f64 = comps.iter().map(|c| c["points"].as_f64().unwrap()).sum();
        assert!((pts - it["score"].as_f64().unwrap()).abs() < 0.05, "{it}");
    }
    // 李家山镇: rectification 1/4, one major open (value 1/2), no lapse, roster 1 group.
    let li = &items[1];
    let value = |c: &str| {
        li["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["component"] == c)
            .unwrap()["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(value("rectification"), 0.25);
    assert_eq!(value("major_open"), 0.5);
    assert_eq!(value("timeliness"), 1.0);
    assert!(k["formula"].as_str().unwrap().contains("Σ"));

    // A month of this year works; a month to come does not.
    let month = chrono::Utc::now().format("%Y-%m");
    let r = app
        .get(
            &format!(
                "/api/v1/stats/ranking?region_id={}&month={month}",
                w.t.county
            ),
            Some(&s.county),
        )
        .await;
    r.assert_status(200);
}

async fn ranking_weights_are_configurable(backend: Backend) {
    let db = TestDb::new(backend);
    let app = spawn_with(db, |s| s.ranking_weights = "roster=1".parse().unwrap()).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    // Two townships with no groups at all, one with a complete group roster: ties on score
    // are broken by code.
    w.region(w.t.county, "鲁沙尔镇", "630106103")
        .build(&app)
        .await;
    w.region(w.t.county, "多巴镇", "630106102")
        .build(&app)
        .await;
    let r = app
        .get(
            &format!(
                "/api/v1/stats/ranking?region_id={}&year={}",
                w.t.county,
                chrono::Utc::now().format("%Y")
            ),
            Some(&s.county),
        )
        .await;
    let k = r.assert_status(200).clone();
    let names: Vec<&str> = k["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["region"]["name"].as_str().unwrap())
        .collect();
    let scores: Vec<f64> = k["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores, [100.0, 100.0, 100.0]);
    // Equal scores and components: by code.
    assert_eq!(names, ["李家山镇", "多巴镇", "鲁沙尔镇"]);
    assert_eq!(k["weights"][3], json!({"component": "roster", "weight": 1}));
    assert_eq!(
        k["weights"][0],
        json!({"component": "rectification", "weight": 0})
    );
}

async fn bad_periods_are_422_naming_the_field(backend: Backend) {
    let app = spawn(backend).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let c = w.t.county;
    let next_year = chrono::Utc::now()
        .format("%Y")
        .to_string()
        .parse::<i32>()
        .unwrap()
        + 1;
    let cases = [
        (
            format!("/api/v1/stats/summary?region_id={c}&from=2026-03-01&to=2026-02-01"),
            "from",
        ),
        (
            format!("/api/v1/stats/summary?region_id={c}&from=2014-01-01&to=2025-01-01"),
            "to",
        ),
        (
            format!(
                "/api/v1/stats/summary?region_id={c}&from={next_year}-01-01&to={next_year}-02-01"
            ),
            "from",
        ),
        (
            format!("/api/v1/stats/summary?region_id={c}&from=2026-02-30"),
            "from",
        ),
        (
            format!("/api/v1/stats/summary?region_id={c}&to=yesterday"),
            "to",
        ),
        (
            format!("/api/v1/stats/ranking?region_id={c}&month={next_year}-01"),
            "month",
        ),
        (
            format!("/api/v1/stats/ranking?region_id={c}&month=2026-13"),
            "month",
        ),
        (
            format!("/api/v1/stats/ranking?region_id={c}&year={next_year}"),
            "year",
        ),
        (
            format!("/api/v1/stats/ranking?region_id={c}&year=2026&month=2026-01"),
            "month",
        ),
    ];
    for (url, field) in cases {
        let r = app.get(&url, Some(&s.county)).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{url}");
    }
    // Ten years less a day is fine.
    let r = app
        .get(
            &format!("/api/v1/stats/summary?region_id={c}&from=2016-01-02&to=2026-01-01"),
            Some(&s.county),
        )
        .await;
    r.assert_status(200);
}

async fn regions_outside_scope_do_not_exist(backend: Backend) {
    let app = spawn(backend).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    cases(&app, &s).await;
    let month = chrono::Utc::now().format("%Y-%m");
    for path in [
        "/api/v1/stats/summary",
        "/api/v1/stats/ranking",
        "/api/v1/supervision",
    ] {
        // 大通县's official asks about 湟中区; 湟中区's county official about 大通县; nobody
        // about a region that does not exist.
        for (token, region) in [
            (&s.outsider, w.t.county),
            (&s.outsider, w.t.township),
            (&s.county, w.t.other_county),
            (&s.inspector, w.t.village),
            (&s.county, 987_654),
        ] {
            let r = app
                .get(&format!("{path}?region_id={region}"), Some(token))
                .await;
            r.assert_problem(404, "not_found");
        }
        let r = app
            .get(&format!("{path}?region_id={}", w.t.county), None)
            .await;
        r.assert_status(401);
        // The outsider sees their own township, with none of 湟中区's cases.
        let r = app
            .get(
                &format!("{path}?region_id={}", w.t.other_township),
                Some(&s.outsider),
            )
            .await;
        let body = r.assert_status(200);
        assert!(!body.to_string().contains("加油站"), "{path}");
    }
    let r = app
        .get(
            &format!(
                "/api/v1/stats/ranking?region_id={}&month={month}",
                w.t.other_county
            ),
            Some(&s.county),
        )
        .await;
    r.assert_problem(404, "not_found");
}

/// Public reports (issue 12): answered within 48 hours or not, or not due yet.
async fn public_reports_answered_within_48_hours(backend: Backend) {
    let app = spawn(backend).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let mut ids = Vec::new();
    for (i, addr) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .enumerate()
    {
        let r = app
            .send(
                actix_web::test::TestRequest::post()
                    .uri("/api/v1/public/reports")
                    .peer_addr(format!("{addr}:40000").parse().unwrap())
                    .set_json(json!({
                        "region_id": w.t.village,
                        "category": "blocked_escape_route",
                        "description": format!("楼道堆放杂物，安全出口被堵 {i}"),
                        "contact_phone": format!("1390971000{i}"),
                    })),
            )
            .await;
        r.assert_status(201);
        let list = app.get("/api/v1/hazards?limit=1", Some(&s.cadre)).await;
        ids.push(list.assert_status(200)["items"][0]["id"].as_i64().unwrap());
    }
    // The first is answered at once; the second's 48 hours are over unanswered; the third is
    // still inside them.
    act(&app, &s.cadre, ids[0], json!({"action": "verify"})).await;
    app.db
        .conn()
        .batch_execute(&format!(
            "UPDATE public_reports SET first_response_due = received_at WHERE hazard_id = {}",
            ids[1]
        ))
        .unwrap();
    let r = app
        .get(
            &format!("/api/v1/stats/summary?region_id={}", w.t.county),
            Some(&s.county),
        )
        .await;
    let t = &r.assert_status(200)["total"];
    assert_eq!(t["public_reports"], 3);
    assert_eq!(t["public_due"], 2);
    assert_eq!(t["public_answered_in_48h"], 1);
    assert_eq!(t["public_first_response_share"], 0.5);
    assert_eq!(t["found_by_source"]["public"], 3);
    let r = app
        .get(
            &format!("/api/v1/stats/ranking?region_id={}", w.t.county),
            Some(&s.county),
        )
        .await;
    let k = r.assert_status(200);
    let public = k["items"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "public_response")
        .unwrap()
        .clone();
    assert_eq!(public["value"], 0.5);
    assert_eq!(public["weight"], 10);
}

db_tests!(
    public_reports_answered_within_48_hours,
    board_and_summary_agree_with_the_case_list,
    ranking_shows_components_weights_and_breaks_ties,
    ranking_weights_are_configurable,
    bad_periods_are_422_naming_the_field,
    regions_outside_scope_do_not_exist,
);
