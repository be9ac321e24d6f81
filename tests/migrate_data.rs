//! `firegrid migrate-data` (issue 15): the demo county, with cases at every status, a timeline
//! of every kind of step and a photo, moves from its SQLite file onto PostgreSQL. Afterwards
//! every account logs in, every case, timeline and photo reads the same through the API, and a
//! new case continues the numbering. A copy that fails midway leaves the target empty and is
//! simply run again; a non-empty target is refused and left as it was.
//!
//! Both backends at once: this needs `FIREGRID_TEST_POSTGRES_URL` (under CI it must be set).

mod common;

use actix_web::test::TestRequest;
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use firegrid::db::schema::regions;
use firegrid::demo::{DEMO_ACCOUNTS, DEMO_PASSWORD};
use serde_json::{json, Value};

const JPEG: &[u8] = include_bytes!("fixtures/red-8x8.jpg");

/// `firegrid migrate-data` from the SQLite deployment `source` into `target`.
fn migrate_data(source: &TestDb, target: &TestDb) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firegrid"))
        .args(["migrate-data", "--from", &source.url, "--to", &target.url])
        .arg("--photos-to")
        .arg(target.data_dir())
        .env("FIREGRID_DATA_DIR", source.data_dir())
        .env_remove("FIREGRID_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every table's row count, by name.
fn row_counts(db: &TestDb) -> Vec<(String, i64)> {
    let tables = [
        "regions",
        "users",
        "role_assignments",
        "organizations",
        "premises",
        "hazards",
        "hazard_events",
        "attachments",
        "notifications",
        "case_counters",
        "auth_sessions",
    ];
    tables
        .iter()
        .map(|t| (t.to_string(), count_rows(db, t)))
        .collect()
}

async fn act(app: &TestApp, token: &str, id: i64, body: Value) -> Value {
    app.post(&format!("/api/v1/hazards/{id}/actions"), Some(token), body)
        .await
        .assert_status(200)
        .clone()
}

async fn report(app: &TestApp, token: &str, group: i64, title: &str) -> Value {
    app.post(
        "/api/v1/hazards",
        Some(token),
        report_body(group, Severity::General, title),
    )
    .await
    .assert_status(201)
    .clone()
}

/// What a reader sees of one case: the case, its whole timeline, its photos' bytes.
async fn read_case(app: &TestApp, token: &str, id: i64) -> (Value, Vec<Value>, Vec<Vec<u8>>) {
    let case = app
        .get(&format!("/api/v1/hazards/{id}"), Some(token))
        .await
        .assert_status(200)
        .clone();
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/hazards/{id}/events?cursor={c}"),
            None => format!("/api/v1/hazards/{id}/events"),
        };
        let page = app.get(&path, Some(token)).await.assert_status(200).clone();
        events.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let listed = app
        .get(&format!("/api/v1/hazards/{id}/attachments"), Some(token))
        .await
        .assert_status(200)
        .clone();
    let items = listed
        .get("items")
        .and_then(Value::as_array)
        .or(listed.as_array())
        .cloned()
        .unwrap_or_default();
    let mut photos = Vec::new();
    for a in items {
        let r = app
            .get(&format!("/api/v1/attachments/{}", id_of(&a)), Some(token))
            .await;
        r.assert_status(200);
        photos.push(r.raw.clone());
    }
    (case, events, photos)
}

/// What the member of the public sees of their report, with the receipt they kept.
async fn follow(app: &TestApp, receipt: &Value) -> Value {
    let code = receipt["tracking_code"].as_str().unwrap();
    let secret = receipt["secret"].as_str().unwrap();
    app.send(
        TestRequest::get()
            .uri(&format!("/api/v1/public/reports/{code}"))
            .insert_header(("x-report-secret", secret)),
    )
    .await
    .assert_status(200)
    .clone()
}

fn case_seq(case: &Value) -> i64 {
    let no = case["case_no"].as_str().unwrap();
    no.rsplit('-').next().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn the_demo_county_moves_to_postgres_and_reads_the_same() {
    if !postgres_enabled() {
        assert!(
            std::env::var("CI").is_err(),
            "{PG_ENV} must be set under CI: migrate-data needs PostgreSQL"
        );
        eprintln!("skipped: {PG_ENV} is not set");
        return;
    }
    // The SQLite deployment: the demo county, then a working life through the API.
    let source = TestDb::new(Backend::Sqlite);
    firegrid::demo::load(&mut source.conn()).expect("demo county");
    let group: i64 = {
        let mut conn = source.conn();
        let (village, group) = diesel::alias!(regions as village, regions as grp);
        group
            .inner_join(
                village.on(village
                    .field(regions::id)
                    .nullable()
                    .eq(group.field(regions::parent_id))),
            )
            .filter(village.field(regions::name).eq("李家山村"))
            .filter(group.field(regions::name).eq("一组"))
            .select(group.field(regions::id))
            .first(&mut *conn)
            .unwrap()
    };
    let app = spawn_with(source, |_| {}).await;
    let mut tokens = std::collections::BTreeMap::new();
    for (username, _, _) in DEMO_ACCOUNTS {
        tokens.insert(*username, login(&app, username, DEMO_PASSWORD).await);
    }
    let tok = |u: &str| tokens[u].clone();
    let (inspector, cadre, handler) = (
        tok("demo.inspector"),
        tok("demo.cadre"),
        tok("demo.handler"),
    );

    // open, at the group, with a photo and a comment.
    let open = id_of(&report(&app, &inspector, group, "李家山村一组电线私拉乱接").await);
    let (ct, body) = multipart_file("file", "现场.jpg", "image/jpeg", JPEG);
    app.send(
        TestRequest::post()
            .uri(&format!("/api/v1/hazards/{open}/attachments"))
            .insert_header(("authorization", format!("Bearer {inspector}")))
            .insert_header(("content-type", ct))
            .set_payload(body),
    )
    .await
    .assert_status(201);
    act(
        &app,
        &cadre,
        open,
        json!({"action": "comment", "text": "请尽快处理"}),
    )
    .await;
    let mut ids = vec![open];
    let submit = |note: &str| json!({"action": "submit_rectification", "note": note});
    let township = tok("demo.township");
    // Each case: its title and the steps (who, what) that bring it to its status.
    let lives: Vec<(&str, Vec<(&String, Value)>)> = vec![
        // open, escalated through the village and township to the police.
        (
            "加油站旁违规堆放柴草",
            vec![
                (&inspector, json!({"action": "escalate"})),
                (&cadre, json!({"action": "escalate"})),
                (&township, json!({"action": "transfer_to_police"})),
            ],
        ),
        // awaiting_review.
        ("楼道堆放杂物", vec![(&handler, submit("已清理"))]),
        // closed (rectified).
        (
            "灭火器过期",
            vec![
                (&handler, submit("已更换灭火器")),
                (
                    &cadre,
                    json!({"action": "approve_closure", "outcome": "rectified"}),
                ),
            ],
        ),
        // rejected (unfounded).
        (
            "疑似烟雾",
            vec![(
                &cadre,
                json!({"action": "reject_report", "reason": "系炊烟"}),
            )],
        ),
    ];
    for (title, steps) in lives {
        let id = id_of(&report(&app, &inspector, group, title).await);
        for (token, body) in steps {
            act(&app, token, id, body).await;
        }
        ids.push(id);
    }
    // closed as a duplicate of the rectified one.
    let closed = ids[3];
    let dup = id_of(&report(&app, &inspector, group, "灭火器过期（重复）").await);
    act(&app, &handler, dup, submit("同上")).await;
    let body = json!({"action": "approve_closure", "outcome": "duplicate", "duplicate_of": closed});
    act(&app, &cadre, dup, body).await;
    ids.push(dup);
    // pending_verification: a report from the public, with its tracking code and secret.
    let public = app
        .post(
            "/api/v1/public/reports",
            None,
            json!({
                "region_id": group,
                "category": "blocked_escape_route",
                "description": "楼道里堆满了纸箱和旧家具，安全出口被堵死",
                "address": "李家山村一组12号",
                "contact_phone": "13909710001",
                "contact_name": "王秀英",
            }),
        )
        .await
        .assert_status(201)
        .clone();
    let pending = app
        .get("/api/v1/hazards?limit=1", Some(&cadre))
        .await
        .assert_status(200)["items"][0]["id"]
        .as_i64()
        .unwrap();
    ids.push(pending);

    let public_view = follow(&app, &public).await;
    let county = tok("demo.county");
    let mut before = Vec::new();
    for id in &ids {
        before.push(read_case(&app, &county, *id).await);
    }
    let statuses: std::collections::BTreeSet<&str> = before
        .iter()
        .map(|c| c.0["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [
            "awaiting_review",
            "closed",
            "open",
            "pending_verification",
            "rejected"
        ],
        "a case at every status"
    );
    let last_seq = before.iter().map(|c| case_seq(&c.0)).max().unwrap();
    let source_counts = row_counts(&app.db);
    let TestApp { db: source, .. } = app;

    // A copy that fails midway (the target refuses the events) leaves the target empty.
    let target = TestDb::new(Backend::Postgres);
    target
        .conn()
        .batch_execute(
            "CREATE FUNCTION refuse_copy() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_copy BEFORE INSERT ON hazard_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_copy();",
        )
        .unwrap();
    let (ok, _, stderr) = migrate_data(&source, &target);
    assert!(!ok && stderr.contains("disk full (simulated)"), "{stderr}");
    assert!(
        row_counts(&target).iter().all(|(_, n)| *n == 0),
        "a failed copy leaves nothing: {:?}",
        row_counts(&target)
    );
    target
        .conn()
        .batch_execute("DROP TRIGGER refuse_copy ON hazard_events; DROP FUNCTION refuse_copy();")
        .unwrap();

    // Run again: it goes through and checks itself.
    let (ok, stdout, stderr) = migrate_data(&source, &target);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("audit verify"), "{stdout}");
    assert_eq!(row_counts(&target), source_counts);

    // A second run onto the now non-empty target is refused and changes nothing.
    let (ok, _, stderr) = migrate_data(&source, &target);
    assert!(!ok && stderr.contains("not empty"), "{stderr}");
    assert_eq!(row_counts(&target), source_counts);

    // The PostgreSQL deployment serves the county as it was.
    let app = spawn_with(target, |_| {}).await;
    let mut tokens = std::collections::BTreeMap::new();
    for (username, _, _) in DEMO_ACCOUNTS {
        tokens.insert(*username, login(&app, username, DEMO_PASSWORD).await);
    }
    let county = tokens["demo.county"].clone();
    for (id, was) in ids.iter().zip(&before) {
        let now = read_case(&app, &county, *id).await;
        assert_eq!(&now, was, "case {id} reads the same on PostgreSQL");
    }
    assert_eq!(
        before[0].2.len(),
        1,
        "the photo travelled and reads the same"
    );
    // The member of the public still follows the report with the code and secret they kept.
    assert_eq!(follow(&app, &public).await, public_view);
    // New cases continue the numbering; new rows take fresh ids.
    let next = report(
        &app,
        &tokens["demo.inspector"],
        group,
        "新报隐患：电动车楼道充电",
    )
    .await;
    assert_eq!(case_seq(&next), last_seq + 1, "{next}");
    assert!(id_of(&next) > *ids.iter().max().unwrap());
    let mut conn = app.db.conn();
    let (checked, broken) = firegrid::hazards::events::verify_all(&mut conn).unwrap();
    assert!(broken.is_empty() && checked > ids.len() as u64);
    drop(source);
}
