//! The public (issue 12): the region tree without an account, reports by tracking code and
//! secret, verification and replies on the case workflow, hotline intake, contact privacy,
//! the throttle across servers, and idempotent retries.

mod common;

use actix_web::test::{self, TestRequest};
use common::*;
use serde_json::{json, Value};

const PHONE: &str = "13909710001";

fn report(region: i64) -> Value {
    json!({
        "region_id": region,
        "category": "blocked_escape_route",
        "description": "楼道里堆满了纸箱和旧家具，安全出口被堵死",
        "address": "李家山村一组12号",
        "contact_phone": PHONE,
        "contact_name": "王秀英",
    })
}

/// A public request from a given client address.
fn from(addr: &str, method: actix_web::http::Method, path: &str) -> TestRequest {
    TestRequest::default()
        .method(method)
        .uri(path)
        .peer_addr(format!("{addr}:40000").parse().unwrap())
}

async fn submit(app: &TestApp, addr: &str, body: Value) -> Resp {
    app.send(
        from(
            addr,
            actix_web::http::Method::POST,
            "/api/v1/public/reports",
        )
        .set_json(body),
    )
    .await
}

async fn follow(app: &TestApp, code: &str, secret: &str) -> Resp {
    app.send(
        TestRequest::get()
            .uri(&format!("/api/v1/public/reports/{code}"))
            .insert_header(("x-report-secret", secret)),
    )
    .await
}

async fn act(app: &TestApp, token: &str, id: i64, body: Value) -> Resp {
    app.post(&format!("/api/v1/hazards/{id}/actions"), Some(token), body)
        .await
}

/// The case behind a tracking code, as staff see it (the newest case in the cadre's scope).
async fn newest_case(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/v1/hazards?limit=1", Some(token)).await;
    let id = id_of(&r.assert_status(200)["items"][0]);
    app.get(&format!("/api/v1/hazards/{id}"), Some(token))
        .await
        .assert_status(200)
        .clone()
}

async fn the_region_tree_is_public_and_cacheable(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let r = app.get("/api/v1/public/regions", None).await;
    let body = r.assert_status(200);
    let counties = body["counties"].as_array().unwrap();
    assert_eq!(counties.len(), 2, "{body}");
    let hz = counties.iter().find(|c| c["code"] == "630106").unwrap();
    assert_eq!(hz["name"], "湟中区");
    let group = &hz["children"][0]["children"][0]["children"][0];
    assert_eq!(
        (
            group["id"].as_i64(),
            group["level"].as_str(),
            group["name"].as_str()
        ),
        (Some(w.t.group), Some("group"), Some("一组"))
    );
    // ids, codes, names and levels only.
    let keys: Vec<&String> = group.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["children", "code", "id", "level", "name"]);
    let cache = r.headers.get("cache-control").unwrap().to_str().unwrap();
    assert!(cache.starts_with("public"), "{cache}");
    let etag = r.headers.get("etag").unwrap().to_str().unwrap().to_string();

    let again = app
        .send(
            TestRequest::get()
                .uri("/api/v1/public/regions")
                .insert_header(("if-none-match", etag.clone())),
        )
        .await;
    assert_eq!(again.status.as_u16(), 304);
    assert!(again.raw.is_empty());
    assert_eq!(again.headers.get("etag").unwrap().to_str().unwrap(), etag);

    // A new group changes the tree and its tag.
    w.region(w.t.village, "二组", "630106101001002")
        .build(&app)
        .await;
    let changed = app
        .send(
            TestRequest::get()
                .uri("/api/v1/public/regions")
                .insert_header(("if-none-match", etag.clone())),
        )
        .await;
    assert_eq!(changed.status.as_u16(), 200);
    assert_ne!(changed.headers.get("etag").unwrap().to_str().unwrap(), etag);
    let village = &changed.body["counties"][0]["children"][0]["children"][0];
    assert_eq!(
        village["children"].as_array().unwrap().len(),
        2,
        "{village}"
    );
}

/// A report from the web travels received → verified → in progress → resolved; the reporter
/// sees each status and the reply and nothing else, and the contact stays with the staff who
/// handle the case.
async fn a_public_report_travels_to_closure(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    // A staff token on a public request grants nothing: the report is anonymous all the same.
    let r = app
        .send(
            from(
                "198.51.100.7",
                actix_web::http::Method::POST,
                "/api/v1/public/reports",
            )
            .insert_header(("authorization", format!("Bearer {}", s.cadre)))
            .set_json(report(w.t.village)),
        )
        .await;
    let receipt = r.assert_status(201).clone();
    let code = receipt["tracking_code"].as_str().unwrap().to_string();
    let secret = receipt["secret"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 10);
    assert_eq!(receipt["status"], "received");
    let due = chrono::DateTime::parse_from_rfc3339(receipt["first_response_due"].as_str().unwrap())
        .unwrap();
    let received =
        chrono::DateTime::parse_from_rfc3339(receipt["received_at"].as_str().unwrap()).unwrap();
    assert_eq!(due - received, chrono::Duration::hours(48));

    let view = follow(&app, &code, &secret).await;
    let v = view.assert_status(200);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "first_response_at",
            "public_reply",
            "received_at",
            "status",
            "tracking_code",
            "updated_at"
        ]
    );
    assert_eq!(v["status"], "received");
    // Lower case and hyphens read back; a wrong secret and an unknown code are the same 404.
    follow(&app, &code.to_lowercase(), &secret.replace('-', ""))
        .await
        .assert_status(200);
    let wrong = follow(&app, &code, "AAAA-AAAA-AAAA-AAAA").await;
    wrong.assert_problem(404, "not_found");
    let unknown = follow(&app, "0000000000", &secret).await;
    unknown.assert_problem(404, "not_found");
    assert_eq!(wrong.body, unknown.body);
    follow(&app, &code, "")
        .await
        .assert_problem(404, "not_found");

    // The village sees it pending, at village level, with the contact; nobody reported it.
    let case = newest_case(&app, &s.cadre).await;
    let id = id_of(&case);
    assert_eq!(
        (
            case["status"].as_str(),
            case["level"].as_str(),
            case["source"].as_str()
        ),
        (
            Some("pending_verification"),
            Some("village"),
            Some("public")
        )
    );
    assert!(case["reporter_id"].is_null());
    let pr = &case["public_report"];
    assert_eq!(pr["channel"], "web");
    assert_eq!(pr["tracking_code"], code);
    assert_eq!(pr["contact"]["phone"], PHONE);
    assert_eq!(pr["first_response_overdue"], false);
    assert!(actions(&case).contains(&"verify"));
    // The group's inspector sees the case but not who called; nor does a list.
    let seen = app
        .get(&format!("/api/v1/hazards/{id}"), Some(&s.inspector))
        .await;
    assert!(seen.assert_status(200)["public_report"]["contact"].is_null());
    let list = app.get("/api/v1/hazards", Some(&s.cadre)).await;
    assert!(list.assert_status(200)["items"][0]["public_report"]["contact"].is_null());
    assert_eq!(
        list.body["items"][0]["public_report"]["tracking_code"],
        code
    );
    // Another county's official does not see it at all.
    app.get(&format!("/api/v1/hazards/{id}"), Some(&s.outsider))
        .await
        .assert_problem(404, "not_found");
    act(&app, &s.outsider, id, json!({"action": "verify"}))
        .await
        .assert_problem(404, "not_found");
    // Grid staff may not verify.
    act(&app, &s.inspector, id, json!({"action": "verify"}))
        .await
        .assert_problem(403, "forbidden");

    // The village verifies it at group level: the first response.
    let verified = act(
        &app,
        &s.cadre,
        id,
        json!({"action": "verify", "to_level": "group", "note": "已电话联系举报人"}),
    )
    .await;
    let verified = verified.assert_status(200).clone();
    assert_eq!(
        (verified["status"].as_str(), verified["level"].as_str()),
        (Some("open"), Some("group"))
    );
    assert!(verified["public_report"]["first_response_at"].is_string());
    let v = follow(&app, &code, &secret)
        .await
        .assert_status(200)
        .clone();
    assert_eq!(v["status"], "verified");
    assert!(v["first_response_at"].is_string());
    assert!(
        v["public_reply"].is_null(),
        "the internal note is not public: {v}"
    );

    let replied = act(
        &app,
        &s.leader,
        id,
        json!({"action": "reply_public", "text": "已安排网格员现场清理"}),
    )
    .await;
    replied.assert_status(200);
    let v = follow(&app, &code, &secret)
        .await
        .assert_status(200)
        .clone();
    assert_eq!(v["public_reply"], "已安排网格员现场清理");
    assert_eq!(
        v["first_response_at"],
        verified["public_report"]["first_response_at"]
    );

    act(
        &app,
        &s.handler,
        id,
        json!({"action": "submit_rectification", "note": "纸箱已清运"}),
    )
    .await
    .assert_status(200);
    let v = follow(&app, &code, &secret)
        .await
        .assert_status(200)
        .clone();
    assert_eq!(v["status"], "in_progress");
    act(
        &app,
        &s.cadre,
        id,
        json!({"action": "approve_closure", "outcome": "rectified"}),
    )
    .await
    .assert_status(200);
    let v = follow(&app, &code, &secret)
        .await
        .assert_status(200)
        .clone();
    assert_eq!(v["status"], "resolved");
    for field in [
        "title",
        "description",
        "case_no",
        "level",
        "contact",
        "actor",
    ] {
        assert!(v.get(field).is_none(), "{field} in {v}");
    }

    // The contact appears in no event and no notification.
    let events = app
        .get(&format!("/api/v1/hazards/{id}/events"), Some(&s.cadre))
        .await;
    let text = events.assert_status(200).to_string();
    assert!(!text.contains(PHONE) && !text.contains("王秀英"), "{text}");
    assert!(text.contains("\"channel\":\"web\""), "{text}");
    let inbox = app
        .get(
            "/api/v1/me/notifications?limit=200",
            Some(&s.village_police),
        )
        .await;
    let inbox = inbox.assert_status(200).to_string();
    assert!(inbox.contains("public_report"), "{inbox}");
    assert!(
        !inbox.contains(PHONE) && !inbox.contains("王秀英"),
        "{inbox}"
    );
}

fn actions(v: &Value) -> Vec<&str> {
    v["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

async fn a_rejected_report_tells_the_reporter_why(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let receipt = submit(&app, "198.51.100.8", report(w.t.group)).await;
    let receipt = receipt.assert_status(201).clone();
    let (code, secret) = (
        receipt["tracking_code"].as_str().unwrap(),
        receipt["secret"].as_str().unwrap(),
    );
    let id = id_of(&newest_case(&app, &s.cadre).await);
    act(
        &app,
        &s.cadre,
        id,
        json!({"action": "reject_report", "reason": "无"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let r = act(
        &app,
        &s.village_police,
        id,
        json!({"action": "reject_report", "public_reason": "经现场核实，楼道已清理，未发现隐患", "reason": "举报人误报"}),
    )
    .await;
    assert_eq!(r.assert_status(200)["status"], "rejected");
    let v = follow(&app, code, secret).await.assert_status(200).clone();
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["public_reply"], "经现场核实，楼道已清理，未发现隐患");
    assert!(
        !v.to_string().contains("误报"),
        "the internal reason stays inside: {v}"
    );
    // reply_public is for public reports only.
    let staff_case = s.case(Severity::General).build(&app).await;
    act(
        &app,
        &s.leader,
        staff_case.id,
        json!({"action": "reply_public", "text": "收到"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
}

async fn bad_input_changes_nothing(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let addr = "198.51.100.9";
    let field = |r: &Resp| {
        r.body["errors"][0]["field"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    // Not a village or group; unknown.
    for region in [w.t.township, w.t.county, 999_999] {
        let r = submit(&app, addr, report(region)).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(field(&r), "region_id");
    }
    let mut long = report(w.t.group);
    long["description"] = json!("火".repeat(2001));
    let r = submit(&app, addr, long).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(field(&r), "description");
    let mut huge = report(w.t.group);
    huge["description"] = json!("火".repeat(400_000));
    submit(&app, addr, huge)
        .await
        .assert_problem(413, "payload_too_large");
    for (name, value) in [
        ("contact_phone", json!("打电话")),
        ("lat", json!(120.0)),
        ("category", json!("arson")),
        ("description", json!("   ")),
    ] {
        let mut bad = report(w.t.group);
        bad[name] = value;
        let r = submit(&app, addr, bad).await;
        assert!(matches!(r.status.as_u16(), 400 | 422), "{name}: {}", r.body);
    }
    let mut extra = report(w.t.group);
    extra["channel"] = json!("hotline_96119");
    extra["source"] = json!("patrol");
    assert_eq!(submit(&app, addr, extra).await.status.as_u16(), 422);
    assert_eq!(count_rows(&app.db, "hazards"), 0);
    assert_eq!(count_rows(&app.db, "public_reports"), 0);
    // And nothing was counted against the address (or the phone): three good reports with
    // the phone and two without still go through.
    for i in 0..5 {
        let mut good = report(w.t.group);
        if i >= 3 {
            good.as_object_mut().unwrap().remove("contact_phone");
        }
        submit(&app, addr, good).await.assert_status(201);
    }
}

/// Five reports an hour per address and three per phone, counted in the database: a second
/// server over the same database sees the same counts.
async fn the_throttle_holds_across_servers(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let other = test::init_service(firegrid::build_app(firegrid::AppState::new(
        app.db.settings(),
    )))
    .await;
    let via_other = |addr: &str, body: Value| {
        let req = from(
            addr,
            actix_web::http::Method::POST,
            "/api/v1/public/reports",
        )
        .set_json(body)
        .to_request();
        let other = &other;
        async move { test::call_service(other, req).await.status().as_u16() }
    };
    let anonymous = |i: usize| {
        let mut r = report(w.t.group);
        r.as_object_mut().unwrap().remove("contact_phone");
        r["description"] = json!(format!("第{i}次举报：楼道堆放杂物"));
        r
    };
    for i in 0..3 {
        submit(&app, "203.0.113.5", anonymous(i))
            .await
            .assert_status(201);
    }
    assert_eq!(via_other("203.0.113.5", anonymous(3)).await, 201);
    assert_eq!(via_other("203.0.113.5", anonymous(4)).await, 201);
    let refused = submit(&app, "203.0.113.5", anonymous(5)).await;
    refused.assert_problem(429, "rate_limited");
    let wait: u64 = refused
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_eq!(via_other("203.0.113.5", anonymous(6)).await, 429);
    // Another address still may; one phone from many addresses may not.
    for (i, addr) in ["203.0.113.10", "203.0.113.11", "203.0.113.12"]
        .iter()
        .enumerate()
    {
        let status = if i % 2 == 0 {
            submit(&app, addr, report(w.t.group)).await.status.as_u16()
        } else {
            via_other(addr, report(w.t.group)).await
        };
        assert_eq!(status, 201, "{addr}");
    }
    submit(&app, "203.0.113.13", report(w.t.group))
        .await
        .assert_problem(429, "rate_limited");
    assert_eq!(count_rows(&app.db, "public_reports"), 8);
}

async fn a_retry_returns_the_same_report_with_a_new_secret(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let post = |key: &str, body: Value| {
        from(
            "198.51.100.20",
            actix_web::http::Method::POST,
            "/api/v1/public/reports",
        )
        .insert_header(("idempotency-key", key.to_string()))
        .set_json(body)
    };
    let first = app.send(post("phone-retry-1", report(w.t.group))).await;
    let first = first.assert_status(201).clone();
    let again = app.send(post("phone-retry-1", report(w.t.group))).await;
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    let again = again.assert_status(201).clone();
    assert_eq!(again["tracking_code"], first["tracking_code"]);
    assert_ne!(again["secret"], first["secret"]);
    let code = first["tracking_code"].as_str().unwrap();
    follow(&app, code, first["secret"].as_str().unwrap())
        .await
        .assert_problem(404, "not_found");
    follow(&app, code, again["secret"].as_str().unwrap())
        .await
        .assert_status(200);
    assert_eq!(count_rows(&app.db, "public_reports"), 1);
    // The stored answer holds no secret.
    let stored: Vec<String> = {
        use diesel::prelude::*;
        let mut conn = app.db.conn();
        firegrid::db::schema::public_idempotency_keys::table
            .select(firegrid::db::schema::public_idempotency_keys::response)
            .load(&mut *conn)
            .unwrap()
    };
    assert!(!stored[0].contains("secret"), "{}", stored[0]);
    let mut other = report(w.t.group);
    other["description"] = json!("另一件事");
    app.send(post("phone-retry-1", other))
        .await
        .assert_problem(422, "idempotency_key_reused");
}

/// A caller on 96119 is taken down by the village; the case travels like any other.
async fn hotline_intake_by_village_staff(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let call = |channel: &str, region: i64| {
        let mut body = report(region);
        body["channel"] = json!(channel);
        body
    };
    let r = app
        .post(
            "/api/v1/intake",
            Some(&s.cadre),
            call("hotline_96119", w.t.group),
        )
        .await;
    let receipt = r.assert_status(201).clone();
    let code = receipt["tracking_code"].as_str().unwrap();
    let secret = receipt["secret"].as_str().unwrap();
    let hazard = &receipt["hazard"];
    assert_eq!(hazard["public_report"]["channel"], "hotline_96119");
    assert_eq!(hazard["public_report"]["contact"]["phone"], PHONE);
    assert_eq!(hazard["status"], "pending_verification");
    assert_eq!(
        follow(&app, code, secret).await.assert_status(200)["status"],
        "received"
    );
    let id = id_of(hazard);
    act(&app, &s.official, id, json!({"action": "verify"}))
        .await
        .assert_status(200);
    act(
        &app,
        &s.cadre,
        id,
        json!({"action": "submit_rectification", "note": "已整改"}),
    )
    .await
    .assert_status(200);
    act(
        &app,
        &s.official,
        id,
        json!({"action": "approve_closure", "outcome": "rectified"}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        follow(&app, code, secret).await.assert_status(200)["status"],
        "resolved"
    );

    // Who may take calls, and where.
    app.post(
        "/api/v1/intake",
        Some(&s.official),
        call("walk_in", w.t.village),
    )
    .await
    .assert_status(201);
    app.post(
        "/api/v1/intake",
        Some(&s.inspector),
        call("hotline_12345", w.t.group),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        "/api/v1/intake",
        Some(&s.outsider),
        call("hotline_12345", w.t.group),
    )
    .await
    .assert_problem(404, "not_found");
    app.post("/api/v1/intake", Some(&s.cadre), call("web", w.t.group))
        .await
        .assert_problem(422, "validation_failed");
    app.post(
        "/api/v1/intake",
        Some(&s.cadre),
        call("hotline_12345", w.t.township),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.post("/api/v1/intake", None, call("hotline_12345", w.t.group))
        .await
        .assert_problem(401, "unauthenticated");
}

/// Two servers sweeping at the same moment.
fn sweep_on_two_servers(
    app: &TestApp,
    at: chrono::NaiveDateTime,
) -> firegrid::public::sweep::FirstResponseReport {
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let url = app.db.url.clone();
            std::thread::spawn(move || {
                let pool = firegrid::db::build_pool(&url, 2, std::time::Duration::from_secs(30));
                let mut c = pool.get().unwrap();
                firegrid::hazards::sweep::sweep_once(&mut c, at)
                    .unwrap()
                    .first_response
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(Default::default(), |a, b| {
            firegrid::public::sweep::FirstResponseReport {
                reminded: a.reminded + b.reminded,
                overdue: a.overdue + b.overdue,
                erased: a.erased + b.erased,
            }
        })
}

async fn kinds(app: &TestApp, token: &str, kind: &str) -> usize {
    let r = app
        .get("/api/v1/me/notifications?limit=200", Some(token))
        .await;
    r.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == kind)
        .count()
}

/// A first response is due within 48 hours: the village is reminded at 24, the township told
/// at 48, each exactly once however many servers sweep; the list filters by it; the contact of a
/// case closed long enough ago is erased and the case stays.
async fn the_first_response_rule_fires_once_across_servers(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    submit(&app, "198.51.100.30", report(w.t.group))
        .await
        .assert_status(201);
    let answered = id_of(&newest_case(&app, &s.cadre).await);
    submit(&app, "198.51.100.31", report(w.t.village))
        .await
        .assert_status(201);
    let silent = id_of(&newest_case(&app, &s.cadre).await);
    act(
        &app,
        &s.cadre,
        answered,
        json!({"action": "reply_public", "text": "收到，正在核实"}),
    )
    .await
    .assert_status(200);
    let t0 = firegrid::db::now();
    let hours = |h: i64| t0 + chrono::Duration::hours(h);

    assert_eq!(sweep_on_two_servers(&app, hours(23)).reminded, 0);
    assert_eq!(sweep_on_two_servers(&app, hours(25)).reminded, 1);
    assert_eq!(sweep_on_two_servers(&app, hours(26)).reminded, 0);
    assert_eq!(kinds(&app, &s.cadre, "first_response_soon").await, 1);
    assert_eq!(
        kinds(&app, &s.village_police, "first_response_soon").await,
        1
    );
    assert_eq!(kinds(&app, &s.official, "first_response_soon").await, 0);

    assert_eq!(sweep_on_two_servers(&app, hours(47)).overdue, 0);
    assert_eq!(sweep_on_two_servers(&app, hours(49)).overdue, 1);
    assert_eq!(sweep_on_two_servers(&app, hours(50)).overdue, 0);
    assert_eq!(kinds(&app, &s.official, "first_response_overdue").await, 1);
    assert_eq!(kinds(&app, &s.cadre, "first_response_overdue").await, 0);

    let late = app
        .get(
            "/api/v1/hazards?first_response_overdue=true",
            Some(&s.official),
        )
        .await;
    let items = late.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(id_of(&items[0]), silent);
    assert_eq!(items[0]["public_report"]["first_response_overdue"], true);
    // Answering late does not take it off the record.
    act(&app, &s.cadre, silent, json!({"action": "verify"}))
        .await
        .assert_status(200);
    let late = app
        .get(
            "/api/v1/hazards?first_response_overdue=true",
            Some(&s.official),
        )
        .await;
    assert_eq!(
        late.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );

    // 180 days after the answered report is rejected, its contact goes; the open one keeps it.
    act(
        &app,
        &s.cadre,
        answered,
        json!({"action": "reject_report", "public_reason": "已清理"}),
    )
    .await
    .assert_status(200);
    let later = firegrid::db::now() + chrono::Duration::days(180);
    assert_eq!(
        sweep_on_two_servers(&app, later - chrono::Duration::hours(1)).erased,
        0
    );
    assert_eq!(
        sweep_on_two_servers(&app, later + chrono::Duration::hours(1)).erased,
        1
    );
    let case = app
        .get(&format!("/api/v1/hazards/{answered}"), Some(&s.cadre))
        .await;
    let case = case.assert_status(200);
    assert!(case["public_report"]["contact"].is_null(), "{case}");
    assert_eq!(case["public_report"]["contact_erased"], true);
    assert_eq!(case["status"], "rejected");
    assert!(case["description"].as_str().unwrap().contains("纸箱"));
    let open = app
        .get(&format!("/api/v1/hazards/{silent}"), Some(&s.cadre))
        .await;
    assert_eq!(
        open.assert_status(200)["public_report"]["contact"]["phone"],
        PHONE
    );
}

/// A report near an open case of the same category (or at the same premises) names it as a
/// possible duplicate; closed as its duplicate, the report's tracking code follows the original.
async fn duplicates_are_suggested_and_followed(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let staff_report = |category: &str, lat: f64, lng: f64, premises: Option<i64>| {
        let mut body = report_body(w.t.group, Severity::General, "楼道堵塞");
        body["category"] = json!(category);
        body["lat"] = json!(lat);
        body["lng"] = json!(lng);
        if let Some(p) = premises {
            body["premises_id"] = json!(p);
        }
        body
    };
    let post = |body: Value| {
        let token = s.inspector.clone();
        let app = &app;
        async move {
            let r = app.post("/api/v1/hazards", Some(&token), body).await;
            r.assert_status(201).clone()
        }
    };
    // The original, 50 m north of the report to come; one 300 m away; one of another category.
    let original = post(staff_report("blocked_escape_route", 36.50045, 101.6, None)).await;
    let far = post(staff_report("blocked_escape_route", 36.5027, 101.6, None)).await;
    let other = post(staff_report("electrical", 36.5, 101.6, None)).await;

    let mut body = report(w.t.group);
    body["lat"] = json!(36.5);
    body["lng"] = json!(101.6);
    let receipt = submit(&app, "198.51.100.40", body).await;
    let receipt = receipt.assert_status(201).clone();
    let (code, secret) = (
        receipt["tracking_code"].as_str().unwrap(),
        receipt["secret"].as_str().unwrap(),
    );
    let case = newest_case(&app, &s.cadre).await;
    let dups = case["possible_duplicates"].as_array().unwrap();
    assert_eq!(dups.len(), 1, "{dups:?}");
    assert_eq!(id_of(&dups[0]), id_of(&original));
    assert_eq!(dups[0]["case_no"], original["case_no"]);
    let d = dups[0]["distance_m"].as_f64().unwrap();
    assert!((45.0..55.0).contains(&d), "{d}");
    for not in [&far, &other] {
        assert!(!dups.iter().any(|x| id_of(x) == id_of(not)));
    }
    // Not in the public view, nor in lists.
    assert!(follow(&app, code, secret)
        .await
        .body
        .get("possible_duplicates")
        .is_none());
    let list = app.get("/api/v1/hazards", Some(&s.cadre)).await;
    assert!(list.assert_status(200)["items"][0]["possible_duplicates"].is_null());

    // Closed as the original's duplicate, the report follows the original.
    let id = id_of(&case);
    act(&app, &s.cadre, id, json!({"action": "reject_report", "public_reason": "已有同一隐患在处理", "duplicate_of": 999_999}))
        .await
        .assert_problem(422, "validation_failed");
    let closed = act(
        &app,
        &s.cadre,
        id,
        json!({"action": "reject_report", "public_reason": "已有同一隐患在处理", "duplicate_of": id_of(&original)}),
    )
    .await;
    let closed = closed.assert_status(200).clone();
    assert_eq!(
        (closed["status"].as_str(), closed["outcome"].as_str()),
        (Some("closed"), Some("duplicate"))
    );
    assert_eq!(closed["duplicate_of"], original["id"]);
    let v = follow(&app, code, secret).await.assert_status(200).clone();
    assert_eq!(v["status"], "verified");
    assert_eq!(v["public_reply"], "已有同一隐患在处理");
    let oid = id_of(&original);
    act(&app, &s.inspector, oid, json!({"action": "set_deadline", "deadline": (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339()}))
        .await
        .assert_status(200);
    assert_eq!(
        follow(&app, code, secret).await.body["status"],
        "in_progress"
    );
    act(
        &app,
        &s.handler,
        oid,
        json!({"action": "submit_rectification", "note": "已清理"}),
    )
    .await
    .assert_status(200);
    act(
        &app,
        &s.cadre,
        oid,
        json!({"action": "approve_closure", "outcome": "rectified"}),
    )
    .await
    .assert_status(200);
    assert_eq!(follow(&app, code, secret).await.body["status"], "resolved");

    // Two staff reports at one premises of the group: the second names the first.
    let shop = w.premises(w.t.group, "李家山小卖部").build(&app).await;
    let first = post(staff_report("flammable_storage", 36.51, 101.61, Some(shop))).await;
    let second = post(staff_report("equipment_missing", 36.52, 101.62, Some(shop))).await;
    let dups = second["possible_duplicates"].as_array().unwrap();
    assert_eq!(dups.len(), 1, "{dups:?}");
    assert_eq!(id_of(&dups[0]), id_of(&first));
    assert!(dups[0]["distance_m"].is_null());
    // The report's reply (whose duplicates, group and police station are read before its write
    // is queued) says what a read of the new case says.
    let read = app
        .get(
            &format!("/api/v1/hazards/{}", id_of(&second)),
            Some(&s.inspector),
        )
        .await;
    let read = read.assert_status(200);
    for field in [
        "possible_duplicates",
        "allowed_actions",
        "group",
        "case_no",
        "status",
    ] {
        assert_eq!(second[field], read[field], "{field}");
    }
    // The outsider's view: the case is not theirs at all.
    app.get(
        &format!("/api/v1/hazards/{}", id_of(&second)),
        Some(&s.outsider),
    )
    .await
    .assert_problem(404, "not_found");
}

/// A report made for a whole village lands in its first group; the village verifies it into
/// the group that will handle it, and the case moves there (one event records where).
async fn a_village_report_is_verified_into_its_group(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let second = w
        .region(w.t.village, "二组", "630106101001002")
        .build(&app)
        .await;
    let other_village = w
        .region(w.t.township, "上庄村", "630106101002")
        .build(&app)
        .await;
    let far = w
        .region(other_village, "一组", "630106101002001")
        .build(&app)
        .await;
    submit(&app, "198.51.100.21", report(w.t.village))
        .await
        .assert_status(201);
    let case = newest_case(&app, &s.cadre).await;
    let id = id_of(&case);
    assert_eq!(case["group"]["id"], w.t.group, "the village's first group");

    // Refusals change nothing: a group of another village, a group without group level.
    for (body, field) in [
        (
            json!({"action": "verify", "to_level": "group", "group_id": far}),
            "group_id",
        ),
        (
            json!({"action": "verify", "to_level": "group", "group_id": w.t.village}),
            "group_id",
        ),
        (json!({"action": "verify", "group_id": second}), "group_id"),
    ] {
        let r = act(&app, &s.cadre, id, body).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field);
    }
    let unchanged = app
        .get(&format!("/api/v1/hazards/{id}"), Some(&s.cadre))
        .await;
    assert_eq!(unchanged.assert_status(200)["version"], case["version"]);

    let verified = act(
        &app,
        &s.cadre,
        id,
        json!({"action": "verify", "to_level": "group", "group_id": second, "note": "二组的院子"}),
    )
    .await;
    let verified = verified.assert_status(200).clone();
    assert_eq!(verified["group"]["id"], second);
    assert_eq!(verified["group"]["name"], "二组");
    assert_eq!(
        (verified["status"].as_str(), verified["level"].as_str()),
        (Some("open"), Some("group"))
    );
    let events = app
        .get(&format!("/api/v1/hazards/{id}/events"), Some(&s.cadre))
        .await;
    let items = events.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone();
    let verify = items.iter().find(|e| e["action"] == "verify").unwrap();
    assert_eq!(verify["params"]["group_id"], second);
    // The first group's list no longer holds it; the second group's does.
    let listed = |v: &Value| v["items"].as_array().unwrap().iter().any(|c| c["id"] == id);
    let first = app
        .get(
            &format!("/api/v1/hazards?region_id={}", w.t.group),
            Some(&s.cadre),
        )
        .await;
    assert!(!listed(first.assert_status(200)));
    let moved = app
        .get(
            &format!("/api/v1/hazards?region_id={second}"),
            Some(&s.cadre),
        )
        .await;
    assert!(listed(moved.assert_status(200)));
}

db_tests!(
    the_region_tree_is_public_and_cacheable,
    a_village_report_is_verified_into_its_group,
    a_public_report_travels_to_closure,
    a_rejected_report_tells_the_reporter_why,
    bad_input_changes_nothing,
    the_throttle_holds_across_servers,
    a_retry_returns_the_same_report_with_a_new_secret,
    hotline_intake_by_village_staff,
    the_first_response_rule_fires_once_across_servers,
    duplicates_are_suggested_and_followed,
);
