//! Oversight through HTTP (issue 14): the supervision board, the summary agreeing with the case
//! list, the ranking and its weights, bad periods (422 naming the field), and scope (404 for a
//! region outside the caller's, on every endpoint taking a region id), patrol completion against
//! a count by hand. The figures themselves are recomputed from the raw timeline in
//! `bench/tests/stats_recompute.rs`.

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
        assert_eq!(comps.len(), 6);
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
    assert_eq!(k["weights"][4], json!({"component": "roster", "weight": 1}));
    assert_eq!(k["weights"][3], json!({"component": "patrol", "weight": 0}));
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

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A round from local noon to 13:00 of `day`.
async fn patrol_on(app: &TestApp, token: &str, body: Value, day: chrono::NaiveDate) {
    use chrono::TimeZone;
    let start = TZ
        .from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut body = body;
    body["started_at"] = json!(start.to_rfc3339());
    body["ended_at"] = json!((start + chrono::Duration::hours(1)).to_rfc3339());
    app.post("/api/v1/patrols", Some(token), body)
        .await
        .assert_status(201);
}

/// (patrol_group_days, patrolled_group_days, patrol_completion) of a figures object.
fn patrol_figures(f: &Value) -> (i64, i64, Value) {
    (
        f["patrol_group_days"].as_i64().unwrap(),
        f["patrolled_group_days"].as_i64().unwrap(),
        f["patrol_completion"].clone(),
    )
}

/// Daily patrols counted by hand: 湟中区 with 李家山镇 (李家山村 一组 and 二组) and 多巴镇 (多巴村
/// 一组); a second round on a day, a village check, and a round today (not over) change nothing.
async fn patrol_completion_against_a_hand_count(backend: Backend) {
    use chrono::TimeZone;
    let app = spawn(backend).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let er_zu = w
        .region(w.t.village, "二组", "630106101001002")
        .build(&app)
        .await;
    let duoba = w
        .region(w.t.county, "多巴镇", "630106102")
        .build(&app)
        .await;
    let duoba_cun = w.region(duoba, "多巴村", "630106102001").build(&app).await;
    w.region(duoba_cun, "一组", "630106102001001")
        .build(&app)
        .await;
    let er_zu_leader = w.user(Role::GridLeader).at(er_zu).build(&app).await.token;

    let today = chrono::Utc::now().with_timezone(&TZ).date_naive();
    let d = |n: i64| today - chrono::Duration::days(n);
    // 李家山村一组: the three days before today, twice on the day before; 二组: two days ago.
    for n in [1, 2, 3, 1] {
        patrol_on(&app, &s.inspector, json!({"group_id": s.group}), d(n)).await;
    }
    patrol_on(&app, &er_zu_leader, json!({"group_id": er_zu}), d(2)).await;
    // A village check is no group's patrol.
    patrol_on(
        &app,
        &s.cadre,
        json!({"kind": "village_check", "region_id": w.t.village}),
        d(3),
    )
    .await;
    // A round today: the day is not over, so it is not judged.
    let midnight = TZ
        .from_local_datetime(&today.and_hms_opt(0, 0, 1).unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let now = chrono::Utc::now();
    let start = midnight.max(now - chrono::Duration::hours(1));
    app.post(
        "/api/v1/patrols",
        Some(&er_zu_leader),
        json!({"group_id": er_zu, "started_at": start.to_rfc3339(), "ended_at": now.to_rfc3339()}),
    )
    .await
    .assert_status(201);

    let summary = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
        let url = format!(
            "/api/v1/stats/summary?region_id={}&from={from}&to={to}",
            w.t.county
        );
        let app = &app;
        let token = s.county.clone();
        async move { app.get(&url, Some(&token)).await.assert_status(200).clone() }
    };
    // Three days over (today is not): 3 groups × 3 days; 一组 3, 二组 1, 多巴镇 0.
    let v = summary(d(3), today).await;
    assert_eq!(v["period"]["days_ended"], 3);
    assert_eq!(patrol_figures(&v["total"]), (9, 4, json!(0.4444)));
    let kids = v["children"].as_array().unwrap();
    assert_eq!(kids[0]["region"]["name"], "李家山镇");
    assert_eq!(patrol_figures(&kids[0]), (6, 4, json!(0.6667)));
    assert_eq!(kids[1]["region"]["name"], "多巴镇");
    assert_eq!(patrol_figures(&kids[1]), (3, 0, json!(0.0)));
    // The patrol-compliance endpoint counts the same days the same way.
    let c = app
        .get(
            &format!(
                "/api/v1/regions/{}/patrol-compliance?from={}&to={}",
                w.t.county,
                d(3),
                d(1)
            ),
            Some(&s.county),
        )
        .await;
    let c = c.assert_status(200);
    assert_eq!(c["total"]["rate"], v["total"]["patrol_completion"]);
    assert_eq!(c["children"][0]["rate"], kids[0]["patrol_completion"]);

    // Two past days: 一组 2 (twice on one), 二组 1 of 李家山镇's 4.
    let v = summary(d(2), d(1)).await;
    assert_eq!(v["period"]["days_ended"], 2);
    assert_eq!(patrol_figures(&v["children"][0]), (4, 3, json!(0.75)));
    assert_eq!(patrol_figures(&v["total"]), (6, 3, json!(0.5)));
    // A village's own figures: its two groups.
    let r = app
        .get(
            &format!(
                "/api/v1/stats/summary?region_id={}&from={}&to={}",
                w.t.village,
                d(3),
                d(1)
            ),
            Some(&s.cadre),
        )
        .await;
    let r = r.assert_status(200);
    assert_eq!(patrol_figures(&r["total"]), (6, 4, json!(0.6667)));
    let groups: Vec<(i64, i64, Value)> = r["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(patrol_figures)
        .collect();
    assert_eq!(groups, [(3, 3, json!(1.0)), (3, 1, json!(0.3333))]);
    // Today alone: nothing over, nothing to judge.
    let v = summary(today, today).await;
    assert_eq!(v["period"]["days_ended"], 0);
    assert_eq!(patrol_figures(&v["total"]), (0, 0, Value::Null));

    // The ranking's patrol component is the figure, weighted 15 by default.
    let r = app
        .get(
            &format!("/api/v1/stats/ranking?region_id={}", w.t.county),
            Some(&s.county),
        )
        .await;
    let k = r.assert_status(200).clone();
    assert!(k["formula"]
        .as_str()
        .unwrap()
        .contains("patrol = patrol_completion"));
    assert_eq!(
        k["weights"][3],
        json!({"component": "patrol", "weight": 15})
    );
    let days = k["period"]["days_ended"].as_i64().unwrap();
    for it in k["items"].as_array().unwrap() {
        let c = it["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == "patrol")
            .unwrap();
        let value = it["figures"]["patrol_completion"].as_f64().unwrap_or(1.0);
        assert_eq!(c["value"].as_f64().unwrap(), value);
        assert_eq!(c["weight"], 15);
        assert!((c["points"].as_f64().unwrap() - 15.0 * value).abs() < 0.006);
        if it["region"]["name"] == "多巴镇" && days > 0 {
            assert_eq!(value, 0.0);
            assert_eq!(it["figures"]["patrol_group_days"], json!(days));
        }
    }
}

db_tests!(
    patrol_completion_against_a_hand_count,
    public_reports_answered_within_48_hours,
    board_and_summary_agree_with_the_case_list,
    ranking_shows_components_weights_and_breaks_ties,
    ranking_weights_are_configurable,
    bad_periods_are_422_naming_the_field,
    regions_outside_scope_do_not_exist,
);
