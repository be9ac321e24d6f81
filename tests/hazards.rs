//! Hazard cases through HTTP: the whole journey up the tiers and back, refusals, concurrency,
//! idempotent retries, the deadline sweep across servers, and the tamper-evident timeline.

mod common;

use actix_web::test::TestRequest;
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{json, Value};

async fn act(app: &TestApp, token: &str, id: i64, body: Value) -> Resp {
    app.post(&format!("/api/v1/hazards/{id}/actions"), Some(token), body)
        .await
}

fn actions(v: &Value) -> Vec<&str> {
    v["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

fn in_an_hour() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()
}

async fn notification_kinds(app: &TestApp, token: &str) -> Vec<String> {
    let r = app
        .get("/api/v1/me/notifications?limit=200", Some(token))
        .await;
    r.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn the_whole_journey(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;

    // An inspector reports a major hazard from the phone.
    let case = s
        .case(Severity::Major)
        .titled("液化气罐靠近灶台")
        .build(&app)
        .await;
    let (id, case) = (case.id, case.json);
    assert_eq!(
        case["case_no"],
        format!("630106-{}-000001", chrono::Utc::now().format("%Y"))
    );
    assert_eq!(
        (case["status"].as_str(), case["level"].as_str()),
        (Some("open"), Some("group"))
    );
    assert_eq!(case["found_at"], "2026-11-27T08:30:00Z");
    assert_ne!(case["created_at"], case["found_at"]);
    assert_eq!(case["group"]["name"], "一组");
    assert_eq!(
        actions(&case),
        [
            "escalate",
            "set_deadline",
            "submit_rectification",
            "comment"
        ]
    );
    // A major report reaches the township, the station and the fire department at once.
    assert!(notification_kinds(&app, &s.official)
        .await
        .contains(&"major_reported".to_string()));
    assert!(notification_kinds(&app, &s.police)
        .await
        .contains(&"major_reported".to_string()));

    // …with a photo.
    let (ct, body) = multipart_file(
        "file",
        "现场.jpg",
        "image/jpeg",
        include_bytes!("fixtures/red-8x8.jpg"),
    );
    let r = app
        .send(
            TestRequest::post()
                .uri(&format!("/api/v1/hazards/{id}/attachments"))
                .insert_header(("authorization", format!("Bearer {}", s.inspector)))
                .insert_header(("content-type", ct))
                .set_payload(body),
        )
        .await;
    assert_eq!(r.assert_status(201)["content_type"], "image/jpeg");
    // The group escalates; the village classifies and escalates.
    let r = act(
        &app,
        &s.inspector,
        id,
        json!({"action": "escalate", "reason": "组内无法整改"}),
    )
    .await;
    assert_eq!(r.assert_status(200)["level"], "village");
    let r = app
        .get(&format!("/api/v1/hazards/{id}"), Some(&s.cadre))
        .await;
    assert_eq!(
        actions(r.assert_status(200)),
        [
            "reject_report",
            "escalate",
            "classify",
            "set_deadline",
            "submit_rectification",
            "comment"
        ]
    );
    let r = act(
        &app,
        &s.cadre,
        id,
        json!({"action": "classify", "difficulty": "hard"}),
    )
    .await;
    assert_eq!(r.assert_status(200)["difficulty"], "hard");
    act(&app, &s.cadre, id, json!({"action": "escalate"}))
        .await
        .assert_status(200);
    assert!(notification_kinds(&app, &s.official)
        .await
        .contains(&"arrived".to_string()));

    // The township sets a deadline; it passes; the system hands the case to the police.
    let r = act(
        &app,
        &s.official,
        id,
        json!({"action": "set_deadline", "deadline": in_an_hour()}),
    )
    .await;
    assert!(r.assert_status(200)["deadline"].is_string());
    let later = firegrid::db::now() + chrono::Duration::hours(2);
    let mut conn = app.db.conn();
    let report = firegrid::hazards::sweep::sweep_once(&mut conn, later).unwrap();
    assert_eq!(report.expired, 1);
    let r = app
        .get(&format!("/api/v1/hazards/{id}"), Some(&s.police))
        .await;
    let at_police = r.assert_status(200).clone();
    assert_eq!(at_police["level"], "police");
    assert!(at_police["deadline"].is_null());
    assert_eq!(
        actions(&at_police),
        [
            "record_enforcement",
            "list_for_supervision",
            "submit_rectification",
            "comment"
        ]
    );
    assert!(notification_kinds(&app, &s.police)
        .await
        .contains(&"overdue".to_string()));

    // The police enforce and list it for county supervision.
    let r = act(&app, &s.police, id, json!({"action": "record_enforcement", "measure": "order_to_rectify", "document_no": "湟公(李)责改字〔2026〕12号"})).await;
    r.assert_status(200);
    let r = act(
        &app,
        &s.police,
        id,
        json!({"action": "list_for_supervision", "deadline": in_an_hour()}),
    )
    .await;
    assert_eq!(r.assert_status(200)["supervision_listed"], true);
    assert!(notification_kinds(&app, &s.county)
        .await
        .contains(&"listed".to_string()));

    // The group's handler, on site, submits the rectification; the fire officer rejects it.
    let r = act(
        &app,
        &s.handler,
        id,
        json!({"action": "submit_rectification", "note": "已更换电线，插排已拆除"}),
    )
    .await;
    assert_eq!(r.assert_status(200)["status"], "awaiting_review");
    let r = act(
        &app,
        &s.fire,
        id,
        json!({"action": "reject_closure", "reason": "燃气罐仍未移出厨房"}),
    )
    .await;
    assert_eq!(r.assert_status(200)["status"], "open");
    assert!(notification_kinds(&app, &s.handler)
        .await
        .contains(&"closure_rejected".to_string()));

    // The police submit it again; the fire officer approves with the outcome.
    act(
        &app,
        &s.police,
        id,
        json!({"action": "submit_rectification", "note": "燃气罐已移至室外专用柜"}),
    )
    .await
    .assert_status(200);
    let r = act(
        &app,
        &s.fire,
        id,
        json!({"action": "approve_closure", "outcome": "rectified"}),
    )
    .await;
    let closed = r.assert_status(200).clone();
    assert_eq!(
        (closed["status"].as_str(), closed["outcome"].as_str()),
        (Some("closed"), Some("rectified"))
    );
    assert!(closed["closed_at"].is_string());

    // A spot check draws it and fails it: the case reopens.
    let r = app
        .post(
            "/api/v1/spot-checks",
            Some(&s.fire),
            json!({"region_id": w.t.county, "sample_size": 10}),
        )
        .await;
    let sample = r.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(sample.len(), 1);
    assert_eq!(sample[0]["id"], id);
    let r = act(
        &app,
        &s.fire,
        id,
        json!({"action": "spot_check", "passed": false, "note": "回访发现仍在使用串接插排"}),
    )
    .await;
    let reopened = r.assert_status(200).clone();
    assert_eq!(reopened["status"], "open");
    assert!(reopened["outcome"].is_null());
    // Checked in the last 90 days: not drawn again even when closed again.
    let r = app
        .post(
            "/api/v1/spot-checks",
            Some(&s.fire),
            json!({"region_id": w.t.county, "sample_size": 10}),
        )
        .await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 0);

    // The timeline tells the whole story, chained by hashes.
    let r = app
        .get(&format!("/api/v1/hazards/{id}/events"), Some(&s.county))
        .await;
    let events = r.assert_status(200)["items"].as_array().unwrap().clone();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "report",
            "attach",
            "escalate",
            "classify",
            "escalate",
            "set_deadline",
            "deadline_expired",
            "record_enforcement",
            "list_for_supervision",
            "submit_rectification",
            "reject_closure",
            "submit_rectification",
            "approve_closure",
            "spot_check"
        ]
    );
    let expired = &events[6];
    assert!(expired["actor"].is_null(), "the system acted");
    assert_eq!(
        (expired["from_level"].as_str(), expired["to_level"].as_str()),
        (Some("township"), Some("police"))
    );
    assert_eq!(events[0]["actor"]["display_name"], "用户xunchayuan");
    assert_eq!(events[7]["params"]["measure"], "order_to_rectify");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=14).collect::<Vec<_>>());
    let (checked, broken) = firegrid::hazards::events::verify_all(&mut conn).unwrap();
    assert_eq!((checked, broken.len()), (14, 0));
    assert_eq!(reopened["version"], 14);
}

async fn wrong_roles_are_403_and_wrong_moments_409(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let id = s
        .case(Severity::General)
        .titled("楼道堆放杂物")
        .build(&app)
        .await
        .id;
    // Roles that may never do these.
    let forbidden = [
        (&s.inspector, json!({"action": "verify"})),
        (
            &s.inspector,
            json!({"action": "approve_closure", "outcome": "rectified"}),
        ),
        (&s.cadre, json!({"action": "transfer_to_police"})),
        (
            &s.fire,
            json!({"action": "record_enforcement", "measure": "fine", "document_no": "1"}),
        ),
        (&w.root, json!({"action": "escalate"})),
    ];
    for (token, body) in forbidden {
        let r = act(&app, token, id, body).await;
        r.assert_problem(403, "forbidden");
    }
    // Roles that may, but not now or not at this level.
    let not_now = [
        (&s.official, json!({"action": "transfer_to_police"})),
        (
            &s.cadre,
            json!({"action": "classify", "difficulty": "easy"}),
        ),
        (&s.cadre, json!({"action": "verify"})),
        (&s.fire, json!({"action": "reopen", "reason": "x"})),
        (
            &s.official,
            json!({"action": "set_deadline", "deadline": in_an_hour()}),
        ),
        (
            &s.police,
            json!({"action": "list_for_supervision", "deadline": in_an_hour()}),
        ),
    ];
    for (token, body) in not_now {
        let r = act(&app, token, id, body).await;
        r.assert_problem(409, "invalid_transition");
    }
    // Bad parameters are 422 and change nothing.
    for (body, field) in [
        (
            json!({"action": "set_deadline", "deadline": "2020-01-01T00:00:00Z"}),
            "deadline",
        ),
        (
            json!({"action": "escalate", "to_level": "township"}),
            "to_level",
        ),
        (json!({"action": "fly"}), "action"),
        (json!({"action": "escalate", "reson": "typo"}), "reson"),
        (
            json!({"action": "submit_rectification", "note": "好了", "attachment_ids": [999]}),
            "attachment_ids",
        ),
    ] {
        let r = act(&app, &s.inspector, id, body).await;
        assert_eq!(r.body["errors"][0]["field"], field);
    }
    let r = app
        .get(&format!("/api/v1/hazards/{id}"), Some(&s.inspector))
        .await;
    let unchanged = r.assert_status(200);
    assert_eq!(
        (unchanged["version"].as_i64(), unchanged["level"].as_str()),
        (Some(1), Some("group"))
    );
    // A stale expected_version.
    act(
        &app,
        &s.inspector,
        id,
        json!({"action": "comment", "text": "已通知户主", "expected_version": 1}),
    )
    .await
    .assert_status(200);
    act(
        &app,
        &s.inspector,
        id,
        json!({"action": "comment", "text": "再次通知", "expected_version": 1}),
    )
    .await
    .assert_problem(409, "version_conflict");
}

async fn four_eyes_and_police_transfer_rules(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let id = s
        .case(Severity::General)
        .titled("灭火器过期")
        .build(&app)
        .await
        .id;
    act(&app, &s.inspector, id, json!({"action": "escalate"}))
        .await
        .assert_status(200);
    // The village cadre submits at village level and may not approve their own work.
    act(
        &app,
        &s.cadre,
        id,
        json!({"action": "submit_rectification", "note": "已更换灭火器"}),
    )
    .await
    .assert_status(200);
    act(
        &app,
        &s.official,
        id,
        json!({"action": "reject_closure", "reason": "缺少照片"}),
    )
    .await
    .assert_status(200);
    act(&app, &s.cadre, id, json!({"action": "escalate"}))
        .await
        .assert_status(200);
    act(
        &app,
        &s.official,
        id,
        json!({"action": "submit_rectification", "note": "镇里已督促整改"}),
    )
    .await
    .assert_status(200);
    // Township-level closure is reviewed by fire officers: a township official may not.
    act(
        &app,
        &s.official,
        id,
        json!({"action": "approve_closure", "outcome": "rectified"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    let r = act(
        &app,
        &s.fire,
        id,
        json!({"action": "approve_closure", "outcome": "duplicate"}),
    )
    .await;
    assert_eq!(r.body["errors"][0]["field"], "duplicate_of");
    act(
        &app,
        &s.fire,
        id,
        json!({"action": "approve_closure", "outcome": "rectified"}),
    )
    .await
    .assert_status(200);

    // Four eyes on a group-level case: the cadre who submitted cannot approve.
    let id2 = s
        .case(Severity::General)
        .titled("电动车楼道充电")
        .build(&app)
        .await
        .id;
    act(
        &app,
        &s.cadre,
        id2,
        json!({"action": "submit_rectification", "note": "已劝离"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    act(
        &app,
        &s.handler,
        id2,
        json!({"action": "submit_rectification", "note": "已劝离"}),
    )
    .await
    .assert_status(200);
    act(
        &app,
        &s.cadre,
        id2,
        json!({"action": "approve_closure", "outcome": "duplicate", "duplicate_of": id}),
    )
    .await
    .assert_status(200);

    // A township without a police station cannot transfer.
    let id3 = s
        .case(Severity::General)
        .titled("柴草堆放")
        .build(&app)
        .await
        .id;
    let mut conn = app.db.conn();
    conn.batch_execute("DELETE FROM organization_jurisdictions WHERE kind = 'police_station'")
        .unwrap();
    act(&app, &s.inspector, id3, json!({"action": "escalate"}))
        .await
        .assert_status(200);
    act(&app, &s.cadre, id3, json!({"action": "escalate"}))
        .await
        .assert_status(200);
    act(
        &app,
        &s.official,
        id3,
        json!({"action": "transfer_to_police"}),
    )
    .await
    .assert_problem(409, "conflict");
}

async fn another_area_sees_nothing(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let id = s
        .case(Severity::Major)
        .titled("加油站违规")
        .build(&app)
        .await
        .id;
    let o = &s.outsider;
    app.get(&format!("/api/v1/hazards/{id}"), Some(o))
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/api/v1/hazards/{id}/events"), Some(o))
        .await
        .assert_problem(404, "not_found");
    act(&app, o, id, json!({"action": "comment", "text": "看看"}))
        .await
        .assert_problem(404, "not_found");
    app.post(
        "/api/v1/hazards",
        Some(o),
        report_body(w.t.group, Severity::General, "越界上报"),
    )
    .await
    .assert_problem(404, "not_found");
    let r = app.get("/api/v1/hazards", Some(o)).await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 0);
    app.get(
        &format!("/api/v1/hazards?region_id={}", w.t.county),
        Some(o),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        "/api/v1/spot-checks",
        Some(o),
        json!({"region_id": w.t.county, "sample_size": 5}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        "/api/v1/spot-checks",
        Some(&s.fire),
        json!({"region_id": w.t.other_county, "sample_size": 5}),
    )
    .await
    .assert_problem(404, "not_found");
    // Notifications are per user: someone else's id is 404.
    let r = app.get("/api/v1/me/notifications", Some(&s.official)).await;
    let nid = r.assert_status(200)["items"][0]["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/me/notifications/{nid}/read"),
        Some(o),
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    let r = app
        .post(
            &format!("/api/v1/me/notifications/{nid}/read"),
            Some(&s.official),
            json!({}),
        )
        .await;
    assert!(r.assert_status(200)["read_at"].is_string());
    let r = app
        .get("/api/v1/me/notifications?unread=true", Some(&s.official))
        .await;
    assert!(r.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["id"] != nid));
}

async fn reports_validate_their_input(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let post = |body: Value| app.post("/api/v1/hazards", Some(&s.inspector), body);
    for (field, value) in [
        ("category", json!("earthquake")),
        ("lat", json!(95.0)),
        ("lng", Value::Null),
        ("title", json!("隐".repeat(101))),
        ("group_id", json!("一组")),
        ("premises_id", json!(424242)),
    ] {
        let mut body = report_body(w.t.group, Severity::General, "x");
        body[field] = value;
        assert_eq!(post(body).await.body["errors"][0]["field"], field);
    }
    let r = app
        .post(
            "/api/v1/hazards",
            Some(&s.official),
            report_body(w.t.village, Severity::General, "村级"),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "group_id");
    post(report_body(999999, Severity::General, "x"))
        .await
        .assert_problem(404, "not_found");
    app.post(
        "/api/v1/hazards",
        Some(&w.root),
        report_body(w.t.group, Severity::General, "管理员"),
    )
    .await
    .assert_problem(403, "forbidden");
    let r = app
        .send(
            TestRequest::post()
                .uri("/api/v1/hazards")
                .insert_header(("authorization", format!("Bearer {}", s.inspector)))
                .insert_header(("content-type", "application/xml"))
                .set_payload("<hazard/>"),
        )
        .await;
    r.assert_problem(415, "unsupported_media_type");
    // Nothing was created by any of it.
    let r = app.get("/api/v1/hazards", Some(&s.county)).await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 0);
}

async fn idempotent_retries_create_nothing(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let send = |key: &str, body: Value| {
        TestRequest::post()
            .uri("/api/v1/hazards")
            .insert_header(("authorization", format!("Bearer {}", s.inspector)))
            .insert_header(("idempotency-key", key.to_string()))
            .set_json(body)
    };
    let body = report_body(w.t.group, Severity::General, "电线老化");
    let first = app.send(send("phone-1-report-77", body.clone())).await;
    let first = first.assert_status(201).clone();
    let retry = app.send(send("phone-1-report-77", body.clone())).await;
    assert_eq!(retry.status.as_u16(), 201);
    assert_eq!(retry.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(retry.body["case_no"], first["case_no"]);
    assert_eq!(retry.body["id"], first["id"]);
    let other = app
        .send(send(
            "phone-1-report-77",
            report_body(w.t.group, Severity::General, "另一处隐患"),
        ))
        .await;
    other.assert_problem(422, "idempotency_key_reused");
    // Keys are per user: the handler's same key is a new request.
    let r = app
        .send(
            TestRequest::post()
                .uri("/api/v1/hazards")
                .insert_header(("authorization", format!("Bearer {}", s.handler)))
                .insert_header(("idempotency-key", "phone-1-report-77"))
                .set_json(body.clone()),
        )
        .await;
    r.assert_status(201);
    let r = app.get("/api/v1/hazards", Some(&s.county)).await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 2);
    // Actions too: a retried escalation escalates once.
    let id = id_of(&first);
    let esc = || {
        TestRequest::post()
            .uri(&format!("/api/v1/hazards/{id}/actions"))
            .insert_header(("authorization", format!("Bearer {}", s.inspector)))
            .insert_header(("idempotency-key", "esc-1"))
            .set_json(json!({"action": "escalate"}))
    };
    app.send(esc()).await.assert_status(200);
    let again = app.send(esc()).await;
    assert_eq!(again.assert_status(200)["level"], "village");
    let r = app
        .get(&format!("/api/v1/hazards/{id}/events"), Some(&s.inspector))
        .await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 2);
    let bad = app
        .send(
            TestRequest::post()
                .uri("/api/v1/hazards")
                .insert_header(("authorization", format!("Bearer {}", s.inspector)))
                .insert_header(("idempotency-key", ""))
                .set_json(body),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
}

async fn concurrent_reports_get_consecutive_numbers(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let titles: Vec<String> = (0..50).map(|i| format!("隐患{i}")).collect();
    let requests = titles
        .iter()
        .map(|title| s.case(Severity::General).titled(title).build(&app));
    let cases = futures_util::future::join_all(requests).await;
    let mut numbers: Vec<String> = cases
        .iter()
        .map(|c| c.json["case_no"].as_str().unwrap().to_string())
        .collect();
    numbers.sort();
    let year = chrono::Utc::now().format("%Y");
    let expected: Vec<String> = (1..=50).map(|n| format!("630106-{year}-{n:06}")).collect();
    assert_eq!(numbers, expected);
}

/// A case number is final wherever it was written: the reply, a replayed reply, the case row,
/// its notifications and its outbox events (on PostgreSQL a report is written under a
/// provisional number and numbered by its last statement, `hazards::numbering`).
async fn a_case_number_is_final_wherever_it_is_written(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let send = |i: usize| {
        let severity = if i.is_multiple_of(3) {
            Severity::Major
        } else {
            Severity::General
        };
        TestRequest::post()
            .uri("/api/v1/hazards")
            .insert_header(("authorization", format!("Bearer {}", s.inspector)))
            .insert_header(("idempotency-key", format!("phone-{i}")))
            .set_json(report_body(w.t.group, severity, &format!("液化气罐{i}")))
    };
    let replies = futures_util::future::join_all((0..30).map(|i| app.send(send(i)))).await;
    let mut numbers = std::collections::HashMap::new();
    for r in &replies {
        let r = r.assert_status(201);
        numbers.insert(id_of(r), r["case_no"].as_str().unwrap().to_string());
    }

    // A report from the public takes its number the same way (`public::store::create`).
    let public = app
        .send(
            TestRequest::post()
                .uri("/api/v1/public/reports")
                .peer_addr("203.0.113.7:40000".parse().unwrap())
                .set_json(json!({
                    "region_id": w.t.group,
                    "category": "blocked_escape_route",
                    "description": "楼道里堆满了纸箱，安全出口被堵死",
                    "contact_phone": "13909710001",
                })),
        )
        .await;
    public.assert_status(201);
    let public_case = app.get("/api/v1/hazards?limit=1", Some(&s.county)).await;
    let public_case = &public_case.assert_status(200)["items"][0];
    assert_eq!(public_case["source"], "public");
    numbers.insert(
        id_of(public_case),
        public_case["case_no"].as_str().unwrap().to_string(),
    );
    // A retry after a lost response gets the final number too.
    let replay = app.send(send(7)).await;
    assert_eq!(replay.headers.get("idempotent-replayed").unwrap(), "true");
    let id = id_of(replay.assert_status(201));
    assert_eq!(replay.body["case_no"].as_str().unwrap(), numbers[&id]);
    let year = chrono::Utc::now().format("%Y").to_string();
    let mut sorted: Vec<&String> = numbers.values().collect();
    sorted.sort();
    let expected: Vec<String> = (1..=31).map(|n| format!("630106-{year}-{n:06}")).collect();
    assert_eq!(sorted, expected.iter().collect::<Vec<_>>());

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }
    let mut conn = app.db.conn();
    let mut rows = |sql: &str| diesel::sql_query(sql).load::<Row>(&mut conn).unwrap();
    let stored = rows("SELECT id, case_no AS text FROM hazards");
    assert_eq!(stored.len(), 31);
    for r in &stored {
        assert_eq!(r.text, numbers[&r.id]);
    }
    let notes = rows("SELECT hazard_id AS id, message AS text FROM notifications");
    let events =
        rows("SELECT hazard_id AS id, message || ' ' || subject AS text FROM notification_outbox");
    assert!(
        notes.len() >= 31 && events.len() == 31,
        "{} {}",
        notes.len(),
        events.len()
    );
    for r in notes.iter().chain(&events) {
        assert!(r.text.contains(&numbers[&r.id]), "{}", r.text);
        assert!(
            !r.text.contains('~'),
            "a provisional number was left: {}",
            r.text
        );
    }
    let kept = rows("SELECT user_id AS id, CAST(response AS TEXT) AS text FROM idempotency_keys");
    assert_eq!(kept.len(), 30);
    assert!(kept.iter().all(|r| !r.text.contains('~')));
}

async fn two_servers_sweep_each_case_once(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    for i in 0..500 {
        let title = format!("逾期{i}");
        s.case(Severity::General).titled(&title).build(&app).await;
    }
    let mut conn = app.db.conn();
    conn.batch_execute("UPDATE hazards SET deadline = created_at")
        .unwrap();
    let now = firegrid::db::now() + chrono::Duration::minutes(1);
    // Two servers: two pools over the same database, sweeping at the same moment.
    let url = app.db.url.clone();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let pool = firegrid::db::build_pool(&url, 2, std::time::Duration::from_secs(30));
                let mut c = pool.get().unwrap();
                firegrid::hazards::sweep::sweep_once(&mut c, now)
                    .unwrap()
                    .expired
            })
        })
        .collect();
    let moved: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(moved, 500);
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |sql: &str, c: &mut firegrid::db::PooledConn| {
        diesel::sql_query(sql).get_result::<N>(c).unwrap().n
    };
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM hazard_events WHERE action = 'deadline_expired'",
            &mut conn
        ),
        500
    );
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM hazards WHERE level = 'village' AND deadline IS NULL",
            &mut conn
        ),
        500
    );
    // A second pass finds nothing to do.
    assert_eq!(
        firegrid::hazards::sweep::sweep_once(&mut conn, now)
            .unwrap()
            .expired,
        0
    );
    let r = app
        .get("/api/v1/hazards?overdue=true", Some(&s.county))
        .await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 0);
}

/// Runs `firegrid audit verify` against the test's database.
fn audit_verify(db: &TestDb) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_firegrid"))
        .args(["audit", "verify"])
        .env("FIREGRID_DATABASE_URL", &db.url)
        .env("FIREGRID_DATA_DIR", db.data_dir())
        .env("FIREGRID_LOG", "error")
        .output()
        .expect("run firegrid")
}

async fn tampering_is_detected(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    for title in ["电线乱拉", "通道堵塞"] {
        let id = s.case(Severity::General).titled(title).build(&app).await.id;
        act(
            &app,
            &s.inspector,
            id,
            json!({"action": "comment", "text": "已拍照"}),
        )
        .await
        .assert_status(200);
    }
    let mut conn = app.db.conn();
    assert_eq!(
        firegrid::hazards::events::verify_all(&mut conn)
            .unwrap()
            .1
            .len(),
        0
    );
    let ok = audit_verify(&app.db);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // The database itself refuses to change history…
    assert!(conn
        .batch_execute("UPDATE hazard_events SET params = '{}' WHERE seq = 2")
        .is_err());
    assert!(conn.batch_execute("DELETE FROM hazard_events").is_err());
    // …so an attacker with the database's keys disables that first, and is still caught.
    let (off, on) = match b {
        Backend::Sqlite => (
            "DROP TRIGGER hazard_events_no_update",
            "CREATE TRIGGER hazard_events_no_update BEFORE UPDATE ON hazard_events BEGIN SELECT RAISE(ABORT, 'append-only'); END",
        ),
        Backend::Postgres => (
            "ALTER TABLE hazard_events DISABLE TRIGGER hazard_events_append_only",
            "ALTER TABLE hazard_events ENABLE TRIGGER hazard_events_append_only",
        ),
    };
    conn.batch_execute(off).unwrap();
    conn.batch_execute("UPDATE hazard_events SET params = '{\"text\":\"无隐患\"}' WHERE seq = 2 AND hazard_id = (SELECT min(id) FROM hazards)").unwrap();
    conn.batch_execute(on).unwrap();
    let (checked, broken) = firegrid::hazards::events::verify_all(&mut conn).unwrap();
    assert_eq!(checked, 4);
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].seq, 2);
    // `firegrid audit verify` says so and fails.
    let out = audit_verify(&app.db);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN case {} at event 2", broken[0].hazard_id)),
        "{stdout}"
    );
    assert!(
        stdout.contains("checked 4 events: 1 broken chain(s)"),
        "{stdout}"
    );
}

async fn lists_filter_within_scope(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let ids = [
        s.case(Severity::General)
            .titled("一")
            .at(Level::Village)
            .build(&app)
            .await
            .id,
        s.case(Severity::Major).titled("二").build(&app).await.id,
        s.case(Severity::General)
            .titled("三")
            .deadline(in_an_hour())
            .build(&app)
            .await
            .id,
    ];
    let count = |q: &'static str| {
        let token = s.county.clone();
        let app = &app;
        async move {
            let r = app.get(&format!("/api/v1/hazards{q}"), Some(&token)).await;
            r.assert_status(200)["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("").await, 3);
    assert_eq!(count("?severity=major").await, 1);
    assert_eq!(count("?level=village").await, 1);
    assert_eq!(count("?status=open&level=group").await, 2);
    assert_eq!(count("?category=electrical").await, 3);
    assert_eq!(count("?listed=true").await, 0);
    assert_eq!(
        count("?created_from=2000-01-01T00:00:00Z&created_to=2100-01-01T00:00:00Z").await,
        3
    );
    assert_eq!(count("?created_to=2000-01-01T00:00:00Z").await, 0);
    // Newest first, and the cursor walks on.
    let r = app.get("/api/v1/hazards?limit=2", Some(&s.county)).await;
    let page = r.assert_status(200).clone();
    assert_eq!(page["items"][0]["id"], ids[2]);
    let r = app
        .get(
            &format!(
                "/api/v1/hazards?limit=2&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            Some(&s.county),
        )
        .await;
    let page2 = r.assert_status(200);
    assert_eq!(page2["items"][0]["id"], ids[0]);
    assert!(page2["next_cursor"].is_null());
    // Overdue: the deadline passes (seen from the database's clock).
    let mut conn = app.db.conn();
    conn.batch_execute("UPDATE hazards SET deadline = created_at WHERE deadline IS NOT NULL")
        .unwrap();
    assert_eq!(count("?overdue=true").await, 1);
    app.get("/api/v1/hazards?status=lost", Some(&s.county))
        .await
        .assert_problem(400, "validation_failed");
    app.get("/api/v1/hazards?overdue=maybe", Some(&s.county))
        .await
        .assert_problem(400, "validation_failed");
}

/// A police station over two townships in two counties: its officers' list merges both
/// townships newest first, and the cursor walks across them; narrower and wider readers see
/// their part of the same cases.
async fn lists_merge_every_subtree_newest_first(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let other_village = w.region(w.t.other_township, "桥头村", "630121100001");
    let other_village = other_village.build(&app).await;
    let other_group = w.region(other_village, "桥头村二组", "630121100001002");
    let other_group = other_group.build(&app).await;
    let other_inspector = w
        .user(Role::GridInspector)
        .named("qiaotou-xuncha")
        .at(other_group)
        .build(&app)
        .await
        .token;
    // 李家山派出所 also answers for 桥头镇 in the next county.
    app.put(
        &format!("/api/v1/organizations/{}/jurisdiction", s.station.id),
        Some(&w.root),
        json!({"region_ids": [w.t.township, w.t.other_township]}),
    )
    .await
    .assert_status(200);
    let police = s.police.clone();
    // Alternate between the two groups, so that each page mixes both townships.
    let mut ids = Vec::new();
    for k in 0..5 {
        let case = s.case(Severity::General).titled("线路老化");
        let case = if k % 2 == 0 {
            case
        } else {
            case.reported_in(other_group, &other_inspector)
        };
        ids.push(case.build(&app).await.id);
    }
    let pages = |token: String, query: String| {
        let app = &app;
        async move {
            let mut seen = Vec::new();
            let mut url = format!("/api/v1/hazards?limit=2{query}");
            loop {
                let page = app.get(&url, Some(&token)).await.assert_status(200).clone();
                seen.extend(
                    page["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| h["id"].as_i64().unwrap()),
                );
                match page["next_cursor"].as_str() {
                    Some(c) => url = format!("/api/v1/hazards?limit=2{query}&cursor={c}"),
                    None => return seen,
                }
            }
        }
    };
    let newest_first = |keep: &dyn Fn(usize) -> bool| -> Vec<i64> {
        (0..5).rev().filter(|k| keep(*k)).map(|k| ids[k]).collect()
    };
    assert_eq!(
        pages(police.clone(), String::new()).await,
        newest_first(&|_| true)
    );
    assert_eq!(
        pages(police.clone(), format!("&region_id={other_village}")).await,
        newest_first(&|k| k % 2 == 1)
    );
    assert_eq!(
        pages(police.clone(), format!("&region_id={}", w.t.township)).await,
        newest_first(&|k| k % 2 == 0)
    );
    // Group, village, township and county readers; a province-wide reader and the global
    // administrator read by path instead.
    for token in [&s.inspector, &s.cadre, &s.official, &s.county, &s.fire] {
        assert_eq!(
            pages(token.clone(), String::new()).await,
            newest_first(&|k| k % 2 == 0)
        );
    }
    assert_eq!(
        pages(w.root.clone(), String::new()).await,
        newest_first(&|_| true)
    );
    assert_eq!(
        pages(w.root.clone(), format!("&region_id={}", w.t.province)).await,
        newest_first(&|_| true)
    );
    assert_eq!(
        pages(w.root.clone(), format!("&region_id={other_group}")).await,
        newest_first(&|k| k % 2 == 1)
    );
    // Filters still apply inside each walk.
    assert_eq!(
        pages(police.clone(), "&status=open&severity=general".into()).await,
        newest_first(&|_| true)
    );
    assert!(pages(police.clone(), "&severity=major".into())
        .await
        .is_empty());
    // A region wider than the station's jurisdiction is not the police's to name, and the
    // township next door is outside 李家山镇's scope.
    app.get(
        &format!("/api/v1/hazards?region_id={}", w.t.county),
        Some(&police),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/hazards?region_id={other_village}"),
        Some(&s.official),
    )
    .await
    .assert_problem(404, "not_found");
}

/// One sweep pass over due cases at different levels moves each one tier up with its event
/// chained; the staff of the new level and the supervisor of the tier that let the deadline
/// pass hear of it; a case not yet due stays where it is.
async fn the_sweep_moves_a_mixed_batch(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    // 湟中区's county official answers for 李家山镇 (分片包干).
    app.put(
        &format!("/api/v1/regions/{}/supervisor", w.t.township),
        Some(&w.root),
        json!({"user_id": s.county_official}),
    )
    .await
    .assert_status(200);
    let case = |title| s.case(Severity::General).titled(title);
    let at_group = case("灶台旁堆放柴草").deadline(in_an_hour());
    let at_group = at_group.build(&app).await.id;
    let at_township = case("楼道堆放杂物")
        .at(Level::Township)
        .deadline(in_an_hour());
    let at_township = at_township.build(&app).await.id;
    let in_three_days = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let not_due = case("电动车室内充电").deadline(in_three_days);
    let not_due = not_due.build(&app).await.id;

    let later = firegrid::db::now() + chrono::Duration::hours(2);
    let mut conn = app.db.conn();
    let report = firegrid::hazards::sweep::sweep_once(&mut conn, later).unwrap();
    assert_eq!(report.expired, 2);
    let level_of = |id: i64| {
        let app = &app;
        let token = w.root.clone();
        async move {
            let r = app
                .get(&format!("/api/v1/hazards/{id}"), Some(&token))
                .await;
            let h = r.assert_status(200).clone();
            (
                h["level"].as_str().unwrap().to_string(),
                h["version"].as_i64().unwrap(),
            )
        }
    };
    assert_eq!(level_of(at_group).await.0, "village");
    assert_eq!(level_of(at_township).await.0, "police");
    assert_eq!(level_of(not_due).await.0, "group");
    let overdue_cases = |token: String| {
        let app = &app;
        async move {
            let r = app
                .get("/api/v1/me/notifications?limit=200", Some(&token))
                .await;
            let mut ids: Vec<i64> = r.assert_status(200)["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["kind"] == "overdue")
                .map(|n| n["hazard_id"].as_i64().unwrap())
                .collect();
            ids.sort_unstable();
            ids
        }
    };
    assert_eq!(overdue_cases(s.cadre.clone()).await, [at_group]);
    assert_eq!(overdue_cases(s.police.clone()).await, [at_township]);
    // The supervisor is told although a county official is not police-level staff.
    assert_eq!(overdue_cases(s.county.clone()).await, [at_township]);
    assert!(overdue_cases(s.inspector.clone()).await.is_empty());
    // A second pass finds nothing more, and every timeline still verifies.
    let again = firegrid::hazards::sweep::sweep_once(&mut conn, later).unwrap();
    assert_eq!(again.expired, 0);
    let (checked, broken) = firegrid::hazards::events::verify_all(&mut conn).unwrap();
    assert!(checked >= 10, "{checked}");
    assert!(broken.is_empty(), "{broken:?}");
    let r = app
        .get(
            &format!("/api/v1/hazards/{at_township}/events"),
            Some(&w.root),
        )
        .await;
    let timeline = r.assert_status(200).clone();
    let last = timeline["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "deadline_expired");
    assert_eq!(last["from_level"], "township");
    assert_eq!(last["to_level"], "police");
}

/// The timeline is a list like every other (SPEC §9): `{items, next_cursor}`, `limit` 1–200,
/// and an empty `cursor=` is the first page of every list.
async fn the_timeline_is_a_page_and_an_empty_cursor_starts_every_list(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let id = s
        .case(Severity::General)
        .titled("配电箱周边堆放纸箱")
        .build(&app)
        .await
        .id;
    for text in ["已通知店主", "店主答应清理", "明日复查"] {
        act(
            &app,
            &s.inspector,
            id,
            json!({"action": "comment", "text": text}),
        )
        .await
        .assert_status(200);
    }
    // Four events (the report and three comments), two a page, oldest first.
    let mut seqs = Vec::new();
    let mut cursor = String::new();
    for _ in 0..3 {
        let r = app
            .get(
                &format!("/api/v1/hazards/{id}/events?limit=2&cursor={cursor}"),
                Some(&s.inspector),
            )
            .await;
        let page = r.assert_status(200).clone();
        seqs.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seqs, [1, 2, 3, 4]);
    let all = app
        .get(&format!("/api/v1/hazards/{id}/events"), Some(&s.inspector))
        .await;
    assert_eq!(all.assert_status(200)["items"].as_array().unwrap().len(), 4);
    assert!(all.assert_status(200)["next_cursor"].is_null());
    for bad in ["limit=0", "limit=201", "cursor=nonsense"] {
        app.get(
            &format!("/api/v1/hazards/{id}/events?{bad}"),
            Some(&s.inspector),
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    for path in [
        format!("/api/v1/hazards/{id}/events"),
        format!("/api/v1/hazards/{id}/attachments"),
        "/api/v1/hazards".to_string(),
        "/api/v1/users".to_string(),
        "/api/v1/regions".to_string(),
        "/api/v1/organizations".to_string(),
        "/api/v1/premises".to_string(),
        "/api/v1/me/notifications".to_string(),
    ] {
        let first = app.get(&path, Some(&w.root)).await;
        let empty = app.get(&format!("{path}?cursor="), Some(&w.root)).await;
        assert_eq!(
            empty.assert_status(200)["items"],
            first.assert_status(200)["items"],
            "{path}"
        );
    }
}

/// A township without a police station (桥头镇): an overdue case there cannot move up. It stays
/// at the township and visibly overdue, and the county's officials, the township's officials
/// and its supervisor are told once per deadline, however many servers sweep how often. Once a
/// station answers for the township, the next pass hands the case over.
async fn a_township_without_a_police_station_keeps_the_case_overdue(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let village = w
        .region(w.t.other_township, "桥头村", "630121100001")
        .build(&app)
        .await;
    let group = w
        .region(village, "二组", "630121100001002")
        .build(&app)
        .await;
    let inspector = w
        .user(Role::GridInspector)
        .at(group)
        .build(&app)
        .await
        .token;
    let cadre = w
        .user(Role::VillageCadre)
        .at(village)
        .build(&app)
        .await
        .token;
    let datong_county = w
        .user(Role::CountyOfficial)
        .at(w.t.other_county)
        .build(&app)
        .await
        .token;
    let official = s.outsider.clone(); // 桥头镇's township official
    let r = app
        .post(
            "/api/v1/hazards",
            Some(&inspector),
            report_body(group, Severity::General, "楼道堆放杂物"),
        )
        .await;
    let id = id_of(r.assert_status(201));
    act(&app, &inspector, id, json!({"action": "escalate"}))
        .await
        .assert_status(200);
    act(&app, &cadre, id, json!({"action": "escalate"}))
        .await
        .assert_status(200);
    let r = act(
        &app,
        &official,
        id,
        json!({"action": "set_deadline", "deadline": in_an_hour()}),
    )
    .await;
    let deadline = r.assert_status(200)["deadline"].clone();

    // Two servers sweep at the same moment, then one sweeps again.
    let later = firegrid::db::now() + chrono::Duration::hours(2);
    let url = app.db.url.clone();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let pool = firegrid::db::build_pool(&url, 2, std::time::Duration::from_secs(30));
                let mut c = pool.get().unwrap();
                firegrid::hazards::sweep::sweep_once(&mut c, later).unwrap()
            })
        })
        .collect();
    let reports: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(reports.iter().map(|r| r.stalled).sum::<usize>(), 1);
    assert_eq!(reports.iter().map(|r| r.expired).sum::<usize>(), 0);
    let mut conn = app.db.conn();
    let again = firegrid::hazards::sweep::sweep_once(&mut conn, later).unwrap();
    assert_eq!((again.expired, again.stalled), (0, 0));

    let r = app
        .get(&format!("/api/v1/hazards/{id}"), Some(&official))
        .await;
    let case = r.assert_status(200).clone();
    assert_eq!(case["level"], "township");
    assert_eq!(case["deadline"], deadline);
    // `overdue` is computed against the real clock; the sweep ran two hours ahead of it.
    let overdue_ids = |token: String| {
        let app = &app;
        async move {
            let r = app.get("/api/v1/hazards?overdue=true", Some(&token)).await;
            r.assert_status(200)["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert!(overdue_ids(datong_county.clone()).await.is_empty());
    conn.batch_execute(&format!(
        "UPDATE hazards SET deadline = created_at WHERE id = {id}"
    ))
    .unwrap();
    let r = app
        .get(&format!("/api/v1/hazards/{id}"), Some(&official))
        .await;
    assert_eq!(r.assert_status(200)["overdue"], true);
    assert_eq!(overdue_ids(datong_county.clone()).await, [id]);
    let told = |token: String| {
        let app = &app;
        async move {
            notification_kinds(app, &token)
                .await
                .iter()
                .filter(|k| *k == "no_police_station")
                .count()
        }
    };
    assert_eq!(told(datong_county.clone()).await, 1);
    assert_eq!(told(official.clone()).await, 1);
    assert_eq!(told(s.county.clone()).await, 0, "another county");
    assert_eq!(told(inspector.clone()).await, 0);
    let r = app
        .get(&format!("/api/v1/hazards/{id}/events"), Some(&official))
        .await;
    let stalls: Vec<Value> = r.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "deadline_expired")
        .cloned()
        .collect();
    assert_eq!(stalls.len(), 1);
    assert_eq!(stalls[0]["to_level"], "township");

    // The deadline moved above is a new expiry: told once more, on the next pass only.
    let now = firegrid::db::now();
    let stalled = |c: &mut firegrid::db::PooledConn| {
        firegrid::hazards::sweep::sweep_once(c, now)
            .unwrap()
            .stalled
    };
    assert_eq!(stalled(&mut conn), 1);
    assert_eq!(stalled(&mut conn), 0);
    assert_eq!(told(datong_county.clone()).await, 2);

    // 桥头派出所 now answers for 桥头镇: the next pass hands the case to the police.
    w.org(OrgKind::PoliceStation, "桥头派出所", w.t.other_township)
        .answers_for(&[w.t.other_township])
        .build(&app)
        .await;
    let moved = firegrid::hazards::sweep::sweep_once(&mut conn, now).unwrap();
    assert_eq!((moved.expired, moved.stalled), (1, 0));
    let r = app
        .get(&format!("/api/v1/hazards/{id}"), Some(&w.root))
        .await;
    assert_eq!(r.assert_status(200)["level"], "police");
}

db_tests!(
    the_whole_journey,
    wrong_roles_are_403_and_wrong_moments_409,
    four_eyes_and_police_transfer_rules,
    another_area_sees_nothing,
    reports_validate_their_input,
    idempotent_retries_create_nothing,
    concurrent_reports_get_consecutive_numbers,
    a_case_number_is_final_wherever_it_is_written,
    two_servers_sweep_each_case_once,
    tampering_is_detected,
    lists_filter_within_scope,
    lists_merge_every_subtree_newest_first,
    the_sweep_moves_a_mixed_batch,
    the_timeline_is_a_page_and_an_empty_cursor_starts_every_list,
    a_township_without_a_police_station_keeps_the_case_overdue,
);
