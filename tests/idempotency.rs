//! `Idempotency-Key` on every create a client may retry (issue 10, item 12): accounts, regions,
//! organisations, role grants and the import. The same key with the same body answers the first
//! response and writes nothing; the same key with another body is 422 `idempotency_key_reused`.

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{json, Value};

const CSV_HEADER: &str = "kind,level,code,parent_code,name,supervisor,org_kind,region_code,jurisdiction,username,display_name,phone,role,organization,title,background,category,address,lat,lng,contact_name,contact_phone,signage\n";

/// A request with a key: a JSON body, or (for the import) a CSV one given as a JSON string.
fn keyed(token: &str, path: &str, key: &str, body: &Value) -> TestRequest {
    let req = TestRequest::post()
        .uri(path)
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("idempotency-key", key));
    match body.as_str() {
        Some(csv) => req
            .insert_header(("content-type", "text/csv; charset=utf-8"))
            .set_payload(csv.to_string()),
        None => req.set_json(body),
    }
}

/// Sends `first` twice and `other` once under one key: the retry repeats the first response
/// and `table` keeps only what the first request wrote; `other` is refused with 422 under that
/// key but is itself a good request (it succeeds under a key of its own).
async fn retried_once(
    app: &TestApp,
    token: &str,
    path: &str,
    table: &str,
    first: Value,
    other: Value,
) {
    let key = format!("retry-{path}");
    let before = count_rows(&app.db, table);
    let r = app.send(keyed(token, path, &key, &first)).await;
    let status = r.status.as_u16();
    assert!(
        status == 200 || status == 201,
        "{path}: {status} {}",
        r.body
    );
    assert!(r.headers.get("idempotent-replayed").is_none(), "{path}");
    let written = count_rows(&app.db, table);
    assert!(written > before, "{path} wrote nothing to {table}");

    let again = app.send(keyed(token, path, &key, &first)).await;
    assert_eq!(again.status.as_u16(), status, "{path}: {}", again.body);
    assert_eq!(again.body, r.body, "{path}");
    assert_eq!(
        again.headers.get("idempotent-replayed").unwrap(),
        "true",
        "{path}"
    );
    assert_eq!(count_rows(&app.db, table), written, "{path}");

    app.send(keyed(token, path, &key, &other))
        .await
        .assert_problem(422, "idempotency_key_reused");
    assert_eq!(count_rows(&app.db, table), written, "{path}");

    let fresh = app
        .send(keyed(token, path, &format!("{key}-b"), &other))
        .await;
    assert_eq!(fresh.status.as_u16(), status, "{path}: {}", fresh.body);
    assert!(count_rows(&app.db, table) > written, "{path}");
}

async fn every_create_honours_the_key(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let t = &w.t;
    retried_once(
        &app,
        &w.root,
        "/api/v1/regions",
        "regions",
        json!({"parent_id": t.township, "level": "village", "name": "上庄村", "code": "630106101002"}),
        json!({"parent_id": t.township, "level": "village", "name": "下庄村", "code": "630106101003"}),
    )
    .await;
    retried_once(
        &app,
        &w.root,
        "/api/v1/organizations",
        "organizations",
        json!({"kind": "police_station", "name": "李家山派出所", "region_id": t.township}),
        json!({"kind": "police_station", "name": "多巴派出所", "region_id": t.township}),
    )
    .await;
    retried_once(
        &app,
        &w.root,
        "/api/v1/users",
        "users",
        json!({"username": "13800000001", "display_name": "马建国", "region_id": t.village,
               "password": "李家山-消防-2026"}),
        json!({"username": "13800000002", "display_name": "马建军", "region_id": t.village,
               "password": "李家山-消防-2026"}),
    )
    .await;
    let cadre = w.user(Role::VillageCadre).build(&app).await;
    retried_once(
        &app,
        &w.root,
        &format!("/api/v1/users/{}/roles", cadre.id),
        "role_assignments",
        json!({"role": "village_police", "region_id": t.village}),
        json!({"role": "grid_inspector", "region_id": t.group}),
    )
    .await;
    retried_once(
        &app,
        &w.root,
        "/api/v1/import",
        "regions",
        json!(format!(
            "{CSV_HEADER}region,village,630106101005,630106101,新庄村,,,,,,,,,,,,,,,,,,\n"
        )),
        json!(format!(
            "{CSV_HEADER}region,village,630106101006,630106101,旧庄村,,,,,,,,,,,,,,,,,,\n"
        )),
    )
    .await;
}

/// The password is not part of what makes two account creations "the same request" (see
/// `users::routes::AccountRequest`): a retry that differs only in it replays the first answer,
/// and the account keeps the first password.
async fn a_retried_account_keeps_its_first_password(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let body = |password: &str| {
        json!({"username": "13900000001", "display_name": "韩永福", "region_id": w.t.village,
               "password": password})
    };
    let path = "/api/v1/users";
    let first = app
        .send(keyed(&w.root, path, "acct-1", &body("李家山-消防-2026")))
        .await;
    first.assert_status(201);
    let users = count_rows(&app.db, "users");
    let again = app
        .send(keyed(&w.root, path, "acct-1", &body("另一个密码-湟中-99")))
        .await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(count_rows(&app.db, "users"), users);
    login(&app, "13900000001", "李家山-消防-2026").await;
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"username": "13900000001", "password": "另一个密码-湟中-99"}),
    )
    .await
    .assert_problem(401, "unauthenticated");
}

/// A malformed key is refused before anything is written, on every one of these creates.
async fn a_malformed_key_writes_nothing(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let before = count_rows(&app.db, "regions");
    let body = json!({"parent_id": w.t.township, "level": "village", "name": "上庄村",
                      "code": "630106101002"});
    app.send(keyed(&w.root, "/api/v1/regions", "has space", &body))
        .await
        .assert_problem(422, "validation_failed");
    let csv = json!(format!(
        "{CSV_HEADER}region,village,630106101005,630106101,新庄村,,,,,,,,,,,,,,,,,,\n"
    ));
    app.send(keyed(&w.root, "/api/v1/import", "", &csv))
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(count_rows(&app.db, "regions"), before);
}

db_tests!(
    every_create_honours_the_key,
    a_retried_account_keeps_its_first_password,
    a_malformed_key_writes_nothing
);
