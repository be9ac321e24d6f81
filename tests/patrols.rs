//! Field work through HTTP (issue 13): daily patrols, village checks and township inspections
//! with their checks and the cases they find, offline retries landing once, refusals, scope,
//! and premises' last check.

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{json, Value};

fn hours_ago(h: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(h)).to_rfc3339()
}

fn hazard(group: i64, title: &str, source: &str) -> Value {
    let mut h = report_body(group, Severity::General, title);
    h["source"] = json!(source);
    h
}

/// 一组 with two premises, 二组 of the same village with one, 新庄村's 一组 with one.
struct Field {
    group2: i64,
    village2: i64,
    group3: i64,
    shop: i64,
    restaurant: i64,
    second_group_shop: i64,
    other_village_shop: i64,
}

async fn field(app: &TestApp, w: &World) -> Field {
    let t = &w.t;
    let group2 = w
        .region(t.village, "二组", "630106101001002")
        .build(app)
        .await;
    let village2 = w
        .region(t.township, "新庄村", "630106101002")
        .build(app)
        .await;
    let group3 = w
        .region(village2, "一组", "630106101002001")
        .build(app)
        .await;
    Field {
        group2,
        village2,
        group3,
        shop: w.premises(t.group, "李家山便民超市").build(app).await,
        restaurant: w
            .premises(t.group, "马家面馆")
            .category(PremisesCategory::Restaurant)
            .build(app)
            .await,
        second_group_shop: w.premises(group2, "二组小卖部").build(app).await,
        other_village_shop: w.premises(group3, "新庄村卫生室").build(app).await,
    }
}

async fn post_patrol(app: &TestApp, token: &str, body: Value, key: Option<&str>) -> Resp {
    let mut req = TestRequest::post()
        .uri("/api/v1/patrols")
        .insert_header(("authorization", format!("Bearer {token}")))
        .set_json(body);
    if let Some(k) = key {
        req = req.insert_header(("idempotency-key", k));
    }
    app.send(req).await
}

async fn a_patrol_with_checks_and_cases(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let f = field(&app, &w).await;
    let track = json!({"type": "LineString", "coordinates": [[101.60, 36.50], [101.61, 36.51]]});
    let body = json!({
        "group_id": s.group,
        "started_at": hours_ago(5),
        "ended_at": hours_ago(4),
        "track": track,
        "checks": [
            {"premises_id": f.shop, "result": "hazard_found", "note": "仓库电线老化"},
            {"premises_id": f.restaurant, "result": "ok"}
        ],
        "hazards": [hazard(s.group, "超市仓库电线老化", "patrol")]
    });
    let r = post_patrol(&app, &s.inspector, body, None).await;
    let p = r.assert_status(201).clone();
    assert_eq!(p["kind"], "patrol");
    assert_eq!(p["region"]["name"], "一组");
    assert_eq!(p["checks"].as_array().unwrap().len(), 2);
    assert_eq!(p["checks"][0]["premises_name"], "李家山便民超市");
    assert_eq!(p["track"], track);
    assert_ne!(p["recorded_at"], p["started_at"]);
    let tz: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
    let start = chrono::DateTime::parse_from_rfc3339(p["started_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        p["local_date"],
        start.with_timezone(&tz).date_naive().to_string()
    );
    let cases = p["hazards"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    assert!(cases[0]["case_no"].as_str().unwrap().starts_with("630106-"));
    // The case is an ordinary case: reported by the inspector, from a patrol, linked to it.
    let case = app
        .get(
            &format!("/api/v1/hazards/{}", cases[0]["id"]),
            Some(&s.cadre),
        )
        .await;
    let case = case.assert_status(200);
    assert_eq!(case["source"], "patrol");
    assert_eq!(case["patrol_id"], p["id"]);
    assert_eq!(case["status"], "open");
    assert!(app
        .get("/api/v1/me/notifications", Some(&s.cadre))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "reported"));

    // Premises show their last check.
    let shop = app
        .get(&format!("/api/v1/premises/{}", f.shop), Some(&s.leader))
        .await;
    assert_eq!(shop.body["last_check_kind"], "patrol");
    assert_eq!(shop.body["last_checked_at"], p["started_at"]);
    let never = app
        .get(
            &format!("/api/v1/premises/{}", f.second_group_shop),
            Some(&s.cadre),
        )
        .await;
    assert_eq!(never.body["last_checked_at"], Value::Null);
    // A round sent late does not hide a later one.
    let late = json!({"group_id": s.group, "started_at": hours_ago(30), "ended_at": hours_ago(29),
        "checks": [{"premises_id": f.shop, "result": "ok"}]});
    post_patrol(&app, &s.leader, late, None)
        .await
        .assert_status(201);
    let shop = app
        .get(&format!("/api/v1/premises/{}", f.shop), Some(&s.leader))
        .await;
    assert_eq!(shop.body["last_checked_at"], p["started_at"]);

    // Neglected premises: never checked, or not for 30 days.
    let r = app
        .get("/api/v1/premises?unchecked_days=30", Some(&s.cadre))
        .await;
    let names: Vec<&str> = r.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["二组小卖部"]);
    for bad in ["0", "3651", "x"] {
        let r = app
            .get(
                &format!("/api/v1/premises?unchecked_days={bad}"),
                Some(&s.cadre),
            )
            .await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
    }

    // Read back: one, and the list by local date and region.
    let one = app
        .get(&format!("/api/v1/patrols/{}", p["id"]), Some(&s.cadre))
        .await;
    assert_eq!(one.assert_status(200)["hazards"], p["hazards"]);
    let day = p["local_date"].as_str().unwrap();
    let r = app
        .get(
            &format!("/api/v1/patrols?date={day}&region_id={}", w.t.village),
            Some(&s.official),
        )
        .await;
    let items = r.assert_status(200)["items"].as_array().unwrap().clone();
    assert!(items.iter().any(|x| x["id"] == p["id"]));
    assert!(items.iter().all(|x| x["local_date"] == day));
    let r = app
        .get("/api/v1/patrols?date=2020-01-01", Some(&s.official))
        .await;
    assert_eq!(r.assert_status(200)["items"], json!([]));
    // Pages: newest first, one at a time.
    let r = app.get("/api/v1/patrols?limit=1", Some(&s.cadre)).await;
    let first = r.assert_status(200).clone();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let r = app
        .get(
            &format!("/api/v1/patrols?limit=1&cursor={cursor}"),
            Some(&s.cadre),
        )
        .await;
    let second = r.assert_status(200);
    assert!(second["items"][0]["id"].as_i64() < first["items"][0]["id"].as_i64());
    assert_eq!(second["next_cursor"], Value::Null);
}

/// A day of rounds recorded offline and sent at once, each sent again (the retries of a phone
/// that never saw the answers): every round and every case lands exactly once.
async fn an_offline_day_lands_exactly_once(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let f = field(&app, &w).await;
    let mut sent = Vec::new();
    for (i, hours) in [(0, 10), (1, 8), (2, 6), (3, 3)] {
        let body = json!({
            "group_id": s.group,
            "started_at": hours_ago(hours),
            "ended_at": hours_ago(hours - 1),
            "checks": [{"premises_id": f.shop, "result": "ok"}],
            "hazards": if i % 2 == 0 { json!([hazard(s.group, &format!("第{i}次巡查发现的隐患"), "patrol")]) } else { json!([]) }
        });
        sent.push((format!("phone-7f3a-round-{i}"), body));
    }
    let mut first = Vec::new();
    for (key, body) in &sent {
        let r = post_patrol(&app, &s.inspector, body.clone(), Some(key)).await;
        first.push(r.assert_status(201).clone());
    }
    for (n, (key, body)) in sent.iter().enumerate() {
        let r = post_patrol(&app, &s.inspector, body.clone(), Some(key)).await;
        assert_eq!(r.assert_status(201), &first[n]);
        assert_eq!(r.headers.get("idempotent-replayed").unwrap(), "true");
    }
    assert_eq!(count_rows(&app.db, "patrols"), 4);
    assert_eq!(count_rows(&app.db, "hazards"), 2);
    assert_eq!(count_rows(&app.db, "patrol_hazards"), 2);
    assert_eq!(count_rows(&app.db, "patrol_checks"), 4);
    // The same key with another round is refused.
    let r = post_patrol(&app, &s.inspector, sent[1].1.clone(), Some(&sent[0].0)).await;
    r.assert_problem(422, "idempotency_key_reused");
}

async fn village_checks_and_township_inspections(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let f = field(&app, &w).await;
    // A village check: premises anywhere in the village, by a village role.
    let body = json!({
        "kind": "village_check", "region_id": w.t.village,
        "started_at": hours_ago(3), "ended_at": hours_ago(2),
        "checks": [{"premises_id": f.shop, "result": "ok"},
                   {"premises_id": f.second_group_shop, "result": "closed"}],
        "hazards": [hazard(f.group2, "二组小卖部门口堆放柴草", "patrol")]
    });
    let r = post_patrol(&app, &s.village_police, body.clone(), None).await;
    let v = r.assert_status(201).clone();
    assert_eq!(v["kind"], "village_check");
    assert_eq!(v["hazards"].as_array().unwrap().len(), 1);
    let r = app
        .get(
            &format!("/api/v1/premises/{}", f.second_group_shop),
            Some(&s.cadre),
        )
        .await;
    assert_eq!(r.body["last_check_kind"], "village_check");
    // …but not by a county official (403), not by a group's inspector, to whom the village
    // does not exist (404), nor with premises of another village (422).
    post_patrol(&app, &s.county, body.clone(), None)
        .await
        .assert_problem(403, "forbidden");
    post_patrol(&app, &s.inspector, body.clone(), None)
        .await
        .assert_problem(404, "not_found");
    let mut outside = body.clone();
    outside["checks"][1]["premises_id"] = json!(f.other_village_shop);
    let r = post_patrol(&app, &s.cadre, outside, None).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "checks[1].premises_id");

    // A township inspection has a theme and reaches every village of the township.
    let body = json!({
        "kind": "township_inspection", "region_id": w.t.township, "theme": "冬春火灾防控",
        "started_at": hours_ago(6), "ended_at": hours_ago(2),
        "checks": [{"premises_id": f.other_village_shop, "result": "hazard_found"}],
        "hazards": [hazard(f.group3, "卫生室氧气瓶无固定", "inspection")]
    });
    let r = post_patrol(&app, &s.official, body.clone(), None).await;
    let t = r.assert_status(201).clone();
    assert_eq!(t["theme"], "冬春火灾防控");
    let case = app
        .get(
            &format!("/api/v1/hazards/{}", t["hazards"][0]["id"]),
            Some(&s.official),
        )
        .await;
    assert_eq!(case.body["source"], "inspection");
    let mut no_theme = body.clone();
    no_theme.as_object_mut().unwrap().remove("theme");
    let r = post_patrol(&app, &s.official, no_theme, None).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "theme");
    let mut wrong_source = body.clone();
    wrong_source["hazards"][0]["source"] = json!("patrol");
    let r = post_patrol(&app, &s.official, wrong_source, None).await;
    assert_eq!(r.body["errors"][0]["field"], "hazards[0].source");
    // A township inspection on a village is the wrong tier.
    let mut village = body.clone();
    village["region_id"] = json!(f.village2);
    let r = post_patrol(&app, &s.official, village, None).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "region_id");
    // A grid inspector sees neither (they lie above the group).
    app.get(&format!("/api/v1/patrols/{}", t["id"]), Some(&s.inspector))
        .await
        .assert_problem(404, "not_found");
}

async fn bad_rounds_change_nothing(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let f = field(&app, &w).await;
    let good = json!({
        "group_id": s.group, "started_at": hours_ago(2), "ended_at": hours_ago(1),
        "checks": [{"premises_id": f.shop, "result": "ok"}],
        "hazards": [hazard(s.group, "灶台旁堆放液化气罐", "patrol")]
    });
    let field_of = |r: &Resp| {
        r.body["errors"][0]["field"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "future start",
            json!({"started_at": (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339()}),
            "started_at",
        ),
        (
            "end before start",
            json!({"ended_at": hours_ago(3)}),
            "ended_at",
        ),
        (
            "a month ago",
            json!({"started_at": hours_ago(24 * 30), "ended_at": hours_ago(24 * 30 - 1)}),
            "started_at",
        ),
        (
            "premises of another group",
            json!({"checks": [{"premises_id": f.shop, "result": "ok"}, {"premises_id": f.second_group_shop, "result": "ok"}]}),
            "checks[1].premises_id",
        ),
        (
            "no such premises",
            json!({"checks": [{"premises_id": 987654, "result": "ok"}]}),
            "checks[0].premises_id",
        ),
        (
            "twice the same premises",
            json!({"checks": [{"premises_id": f.shop, "result": "ok"}, {"premises_id": f.shop, "result": "closed"}]}),
            "checks[1].premises_id",
        ),
        (
            "a hazard in another group",
            json!({"hazards": [hazard(f.group2, "别组隐患", "patrol")]}),
            "hazards[0].group_id",
        ),
        (
            "a hazard without title",
            json!({"hazards": [hazard(s.group, "ok", "patrol"), hazard(s.group, " ", "patrol")]}),
            "hazards[1].title",
        ),
        (
            "a bad track",
            json!({"track": {"type": "LineString", "coordinates": [[999, 1], [1, 1]]}}),
            "track",
        ),
        ("no group", json!({"group_id": null}), "group_id"),
        (
            "a village as group",
            json!({"group_id": w.t.village}),
            "group_id",
        ),
    ];
    for (what, patch, field) in cases {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = post_patrol(&app, &s.inspector, body, None).await;
        assert!(
            r.status == 422 || r.status == 404,
            "{what}: {} {}",
            r.status,
            r.body
        );
        if what == "a village as group" {
            // 一组's inspector cannot see the village's own record: it does not exist for them.
            r.assert_problem(404, "not_found");
            continue;
        }
        r.assert_problem(422, "validation_failed");
        assert_eq!(field_of(&r), field, "{what}: {}", r.body);
    }
    // Outside the caller's area: 404; a role that never patrols: 403.
    let mut elsewhere = good.clone();
    elsewhere["group_id"] = json!(f.group3);
    elsewhere["checks"] = json!([]);
    elsewhere["hazards"] = json!([]);
    post_patrol(&app, &s.inspector, elsewhere.clone(), None)
        .await
        .assert_problem(404, "not_found");
    post_patrol(&app, &s.outsider, good.clone(), None)
        .await
        .assert_problem(404, "not_found");
    post_patrol(&app, &s.county, good.clone(), None)
        .await
        .assert_problem(403, "forbidden");
    // Unparseable bodies.
    let r = post_patrol(&app, &s.inspector, json!({"group_id": s.group}), None).await;
    assert_eq!(r.status.as_u16() / 100, 4);
    let r = post_patrol(&app, &s.inspector, json!({"group_id": s.group, "started_at": hours_ago(2), "ended_at": hours_ago(1), "surprise": 1}), None).await;
    assert_eq!(r.status.as_u16() / 100, 4);
    assert_eq!(count_rows(&app.db, "patrols"), 0);
    assert_eq!(count_rows(&app.db, "hazards"), 0);
    assert_eq!(count_rows(&app.db, "patrol_checks"), 0);

    // Reading: another county's official finds nothing; bad filters are 4xx.
    let r = post_patrol(&app, &s.handler, good.clone(), None).await;
    let id = id_of(r.assert_status(201));
    app.get(&format!("/api/v1/patrols/{id}"), Some(&s.outsider))
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/patrols/99999", Some(&s.county))
        .await
        .assert_problem(404, "not_found");
    let r = app.get("/api/v1/patrols", Some(&s.outsider)).await;
    assert_eq!(r.assert_status(200)["items"], json!([]));
    app.get(
        &format!("/api/v1/patrols?region_id={}", w.t.county),
        Some(&s.outsider),
    )
    .await
    .assert_problem(404, "not_found");
    for q in [
        "date=2026-13-01",
        "date=x",
        "from=2026-11-02&to=2026-11-01",
        "date=2026-11-01&from=2026-11-01",
        "limit=0",
        "cursor=zz",
        "kind=walk",
    ] {
        let r = app
            .get(&format!("/api/v1/patrols?{q}"), Some(&s.county))
            .await;
        assert!(r.status.is_client_error(), "{q}: {}", r.status);
    }
    app.get("/api/v1/patrols", None)
        .await
        .assert_problem(401, "unauthenticated");
}

db_tests!(
    a_patrol_with_checks_and_cases,
    an_offline_day_lands_exactly_once,
    village_checks_and_township_inspections,
    bad_rounds_change_nothing,
);
