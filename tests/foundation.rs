//! The foundation: operations endpoints, problem+json for every kind of bad request, and the
//! readiness probe following the database down and back.

mod common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::{spawn, spawn_with, Backend, TestDb};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

async fn health_ready_and_request_id(b: Backend) {
    let app = spawn(b).await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.assert_status(200)["status"], "ok");
    let id = r.headers.get("x-request-id").expect("x-request-id header");
    assert_eq!(id.to_str().unwrap().len(), 36);
    let r = app.get("/readyz", None).await;
    assert_eq!(r.assert_status(200)["status"], "ok");
}

/// Log lines written to memory, for reading back.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn access_lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .filter(|l| l.contains("firegrid::access"))
            .map(String::from)
            .collect()
    }
}

/// Each request leaves one compact access line at the default level: method, the route
/// pattern (not the path, so ids stay out), status, duration, the request id it answered with and
/// the account its token names; no colour codes when not writing to a terminal; JSON when asked.
async fn one_access_line_per_request(b: Backend) {
    use firegrid::config::LogFormat;
    let app = spawn(b).await;
    let token = common::root_token(&app).await;
    let root_id = app.get("/api/v1/me", Some(&token)).await.body["user"]["id"].clone();
    let region = common::create_region(&app, &token, None, "county", "湟中区", "630106").await;

    let logs = Captured::default();
    let writer = {
        let logs = logs.clone();
        move || logs.clone()
    };
    let _default = tracing::subscriber::set_default(firegrid::telemetry::subscriber(
        "info",
        LogFormat::Text,
        false,
        writer,
    ));
    let r = app
        .get(&format!("/api/v1/regions/{region}"), Some(&token))
        .await;
    r.assert_status(200);
    let id = r
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    app.get("/no/such/route", None).await;
    let lines = logs.access_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let line = &lines[0];
    for part in [
        "method=GET".to_string(),
        "route=\"/api/v1/regions/{id}\"".to_string(),
        "status=200".to_string(),
        format!("request_id={id}"),
        format!("user_id={root_id}"),
        "ms=".to_string(),
    ] {
        assert!(line.contains(&part), "{part} missing from {line}");
    }
    assert!(!line.contains(&format!("/regions/{region}")), "{line}");
    assert!(!line.contains('\u{1b}'), "colour codes in {line}");
    assert!(line.len() < 300, "{} bytes: {line}", line.len());
    assert!(
        lines[1].contains("UNMATCHED") && lines[1].contains("status=404"),
        "{}",
        lines[1]
    );
    drop(_default);

    let json = Captured::default();
    let writer = {
        let json = json.clone();
        move || json.clone()
    };
    let _default = tracing::subscriber::set_default(firegrid::telemetry::subscriber(
        "info",
        LogFormat::Json,
        false,
        writer,
    ));
    app.get("/healthz", None).await;
    let lines = json.access_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["fields"]["status"], 200, "{v}");
    assert_eq!(v["fields"]["route"], "/healthz", "{v}");
}

async fn metrics_count_requests_per_route(b: Backend) {
    let app = spawn(b).await;
    app.get("/healthz", None).await;
    app.get("/no/such/route", None).await;
    let r = app.get("/metrics", None).await;
    let text = String::from_utf8(r.raw).unwrap();
    assert!(
        text.contains(
            "firegrid_http_requests_total{endpoint=\"/healthz\",method=\"GET\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("firegrid_http_requests_duration_seconds_bucket"),
        "{text}"
    );
    // Unknown paths share one label instead of one series each.
    assert!(text.contains("endpoint=\"UNMATCHED\""), "{text}");
}

async fn unknown_route_and_wrong_method(b: Backend) {
    let app = spawn(b).await;
    app.get("/api/v1/nothing-here", None)
        .await
        .assert_problem(404, "not_found");
    let r = app.json(Method::DELETE, "/healthz", None, None).await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.headers.get("allow").unwrap(), "GET");
}

async fn served_spec_is_the_generated_one(b: Backend) {
    let app = spawn(b).await;
    let r = app.get("/api-spec/openapi.json", None).await;
    assert_eq!(r.assert_status(200)["openapi"], "3.1.0");
    assert_eq!(
        r.raw,
        firegrid::openapi::to_json(&firegrid::openapi::document()).into_bytes()
    );
}

async fn readyz_follows_the_database(b: Backend) {
    match b {
        Backend::Sqlite => {
            // A database file in a directory that does not exist cannot be opened.
            let db = TestDb::new(b);
            let missing = db
                .dir
                .path()
                .join("gone/firegrid.sqlite3")
                .to_string_lossy()
                .into_owned();
            let app = spawn_with(db, |s| {
                s.database_url = missing;
                s.pool_timeout = std::time::Duration::from_secs(1);
            })
            .await;
            app.get("/readyz", None)
                .await
                .assert_problem(503, "unavailable");
            app.get("/healthz", None).await.assert_status(200);
        }
        Backend::Postgres => {
            let db = TestDb::new(b);
            let name = db.url.rsplit('/').next().unwrap().to_string();
            let admin = std::env::var(common::PG_ENV).unwrap();
            let app = spawn_with(db, |s| s.pool_timeout = std::time::Duration::from_secs(1)).await;
            app.get("/readyz", None).await.assert_status(200);
            let mut admin_conn = PgConnection::establish(&admin).unwrap();
            admin_conn
                .batch_execute(&format!(
                    "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                     SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
                ))
                .unwrap();
            let started = std::time::Instant::now();
            app.get("/readyz", None)
                .await
                .assert_problem(503, "unavailable");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(4),
                "503 within the pool timeout"
            );
            admin_conn
                .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
                .unwrap();
            app.get("/readyz", None).await.assert_status(200);
        }
    }
}

async fn oversize_and_wrong_content_type_are_problems(b: Backend) {
    let app = spawn_with(TestDb::new(b), |s| s.json_limit = 64).await;
    // The login endpoint is the simplest JSON endpoint; its body rules are the shared extractor's.
    let big = serde_json::json!({"username": "x".repeat(100), "password": "y"});
    app.post("/api/v1/auth/login", None, big)
        .await
        .assert_problem(413, "payload_too_large");
    let r = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/login")
                .insert_header(("content-type", "text/plain"))
                .set_payload("username=a"),
        )
        .await;
    r.assert_problem(415, "unsupported_media_type");
    let r = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/login")
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"username\": "),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            serde_json::json!({"username": 5, "password": "p"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "username");
}

/// Vocabulary columns are read as their enums (SPEC §10); stored text outside the vocabulary is
/// an error naming the column and the value, never a default.
async fn stored_vocabulary_is_typed_and_unknown_text_is_an_error(b: Backend) {
    use firegrid::db::schema::{notifications, users};
    use firegrid::vocab::NotificationKind;
    let app = spawn(b).await;
    common::root_token(&app).await;
    let mut conn = app.db.conn();
    let user: i64 = users::table.select(users::id).first(&mut conn).unwrap();
    diesel::insert_into(notifications::table)
        .values((
            notifications::user_id.eq(user),
            notifications::kind.eq(NotificationKind::MajorReported),
            notifications::message.eq("新隐患 湟中区-2026-000001（重大）"),
            notifications::created_at.eq(firegrid::db::now()),
        ))
        .execute(&mut conn)
        .unwrap();
    let kinds: Vec<NotificationKind> = notifications::table
        .select(notifications::kind)
        .load(&mut conn)
        .unwrap();
    assert_eq!(kinds, [NotificationKind::MajorReported]);
    let stored: String = notifications::table
        .select(diesel::dsl::sql::<diesel::sql_types::Text>("kind"))
        .first(&mut conn)
        .unwrap();
    assert_eq!(stored, "major_reported");

    conn.batch_execute(&format!(
        "INSERT INTO notifications (user_id, kind, message, created_at) \
         VALUES ({user}, 'carrier_pigeon', '飞鸽传书', CURRENT_TIMESTAMP)"
    ))
    .unwrap();
    let err = firegrid::notifications::store::list(&mut conn, user, false, None, 10)
        .expect_err("an unknown kind is not read as some other kind");
    // The message is in the error's chain of causes (what the log shows).
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    assert!(
        text.contains("notifications.kind") && text.contains("carrier_pigeon"),
        "{text}"
    );
}

db_tests!(
    stored_vocabulary_is_typed_and_unknown_text_is_an_error,
    health_ready_and_request_id,
    one_access_line_per_request,
    metrics_count_requests_per_route,
    unknown_route_and_wrong_method,
    served_spec_is_the_generated_one,
    readyz_follows_the_database,
    oversize_and_wrong_content_type_are_problems,
);
