//! Each server caches its callers' roles and scope, keyed by `users.roles_version`, which
//! triggers bump in the same transaction as every change that reaches them (issue 16, item 4).
//! What must not change: a revoked role, a shrunk jurisdiction or a renamed region is seen on
//! the next request, on every server; and a hot request costs a fixed, small number of statements.

mod common;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use common::*;
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

/// `GET path` with `token` on a service (a second server over the test's database).
async fn get_on<S, B>(svc: &S, path: &str, token: &str) -> (u16, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let req = TestRequest::get()
        .uri(path)
        .insert_header(("authorization", format!("Bearer {token}")))
        .to_request();
    let res = test::call_service(svc, req).await;
    let status = res.status().as_u16();
    let body = test::read_body(res).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn changes_reach_every_server_on_the_next_request(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let staff = w.staff(&app).await;
    let case = staff.case(Severity::General).build(&app).await;
    let path = format!("/api/v1/hazards/{}", case.id);
    // A second server over the same database, with its own cache.
    let other = test::init_service(firegrid::build_app(firegrid::AppState::new(
        app.db.settings(),
    )))
    .await;

    // The fire officer reads the case on both servers: both now hold the officer's roles.
    assert_eq!(app.get(&path, Some(&staff.fire)).await.status, 200);
    assert_eq!(get_on(&other, &path, &staff.fire).await.0, 200);

    // Server one shrinks the department's jurisdiction to 大通县: server two sees it at once.
    app.put(
        &format!("/api/v1/organizations/{}/jurisdiction", staff.fire_dept.id),
        Some(&w.root),
        json!({"region_ids": [w.t.other_county]}),
    )
    .await
    .assert_status(200);
    assert_eq!(get_on(&other, &path, &staff.fire).await.0, 404);
    assert_eq!(app.get(&path, Some(&staff.fire)).await.status, 404);

    // A renamed township shows in the official's own view on the other server.
    let (_, me) = get_on(&other, "/api/v1/me", &staff.official).await;
    assert_eq!(me["roles"][0]["region"]["name"], "李家山镇", "{me}");
    app.patch(
        &format!("/api/v1/regions/{}", w.t.township),
        Some(&w.root),
        json!({"name": "李家山乡"}),
    )
    .await
    .assert_status(200);
    let (_, me) = get_on(&other, "/api/v1/me", &staff.official).await;
    assert_eq!(me["roles"][0]["region"]["name"], "李家山乡", "{me}");

    // A revoked role: the inspector loses the case on both servers with the next request.
    let inspector = w.user(Role::GridInspector).build(&app).await;
    assert_eq!(get_on(&other, &path, &inspector.token).await.0, 200);
    let (_, me) = get_on(&other, "/api/v1/me", &inspector.token).await;
    let assignment = me["roles"][0]["id"].as_i64().unwrap();
    app.delete(
        &format!("/api/v1/users/{}/roles/{assignment}", inspector.id),
        Some(&w.root),
    )
    .await
    .assert_status(204);
    assert_eq!(get_on(&other, &path, &inspector.token).await.0, 404);
    assert_eq!(app.get(&path, Some(&inspector.token)).await.status, 404);
}

/// Reading one case, once the server knows the caller: one statement for the session and the
/// caller's roles version, and the case's own reads; the roles are read again only after their
/// version moves. More statements means a regression on the hottest path.
async fn a_warm_read_costs_a_fixed_number_of_statements(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let staff = w.staff(&app).await;
    let case = staff.case(Severity::General).build(&app).await;
    let path = format!("/api/v1/hazards/{}", case.id);
    app.get(&path, Some(&staff.inspector))
        .await
        .assert_status(200);

    let before = app.state.pool.statements();
    app.get(&path, Some(&staff.inspector))
        .await
        .assert_status(200);
    let warm = app.state.pool.statements() - before;

    // A grant elsewhere to the same account bumps its version: the next read loads the roles.
    app.db
        .conn()
        .batch_execute("UPDATE users SET roles_version = roles_version + 1")
        .unwrap();
    let before = app.state.pool.statements();
    app.get(&path, Some(&staff.inspector))
        .await
        .assert_status(200);
    let cold = app.state.pool.statements() - before;

    assert!(warm < cold, "warm {warm}, cold {cold}");
    // The caller's session and versions, the case, what the case view adds (its place, the
    // actions open to the caller, its public report if any, possible duplicates). A PostgreSQL
    // connection that answered within the last second is not tested again at checkout
    // (`db::checkout`; `faults.rs` kills idle ones).
    let expected = 6;
    assert_eq!(
        warm, expected,
        "statements of a warm GET /hazards/{{id}} (cold: {cold})"
    );
}

db_tests!(
    changes_reach_every_server_on_the_next_request,
    a_warm_read_costs_a_fixed_number_of_statements,
);
