//! An existing Open311 client library against the real server (issue 12): `georeport` from
//! PyPI (tests/clients/georeport_client.py) lists the services, reads requests back, and — the
//! library cannot post — the request goes in as the plain GeoReport v2 form. Staff then verify,
//! answer and close it, and the library reads `closed` with the public reply.
//!
//! The library must be installed (`pip install georeport==0.3.1`; .ci/run does it): without it
//! this test fails, saying so.

mod common;

use std::process::Command;

use actix_web::HttpServer;
use common::*;
use serde_json::{json, Value};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/georeport_client.py"
);

/// Runs the script; its last line of output, or a failure with everything it said.
async fn client(args: Vec<String>) -> String {
    let out = actix_web::rt::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(SCRIPT)
            .args(&args)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "the georeport client failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout.lines().last().unwrap_or_default().trim().to_string()
}

async fn a_georeport_client_lists_posts_and_reads_back(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let key = app
        .post(
            "/api/v1/open311-keys",
            Some(&s.admin),
            json!({"name": "georeport 客户端", "county_id": w.t.county}),
        )
        .await;
    let key = key.assert_status(201)["api_key"]
        .as_str()
        .unwrap()
        .to_string();

    // The same database behind a real server on a loopback port, for the library's HTTP.
    let state = firegrid::AppState::new(app.db.settings());
    let server = HttpServer::new(move || firegrid::build_app(state.clone()))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind a free loopback port");
    let base = format!("http://{}", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let id = client(vec![
        "post".into(),
        base.clone(),
        key,
        w.t.group.to_string(),
    ])
    .await;
    assert_eq!(id.len(), 10, "{id}");

    let list = app.get("/api/v1/hazards?limit=1", Some(&s.cadre)).await;
    let case = list.assert_status(200)["items"][0].clone();
    assert_eq!(case["public_report"]["tracking_code"], id);
    assert_eq!(case["public_report"]["channel"], "open311");
    let case_id = id_of(&case);
    for (token, body) in [
        (&s.cadre, json!({"action": "verify", "to_level": "group"})),
        (
            &s.leader,
            json!({"action": "reply_public", "text": "已制止烧荒，草垛已清理"}),
        ),
        (
            &s.handler,
            json!({"action": "submit_rectification", "note": "草垛已移走"}),
        ),
        (
            &s.cadre,
            json!({"action": "approve_closure", "outcome": "rectified"}),
        ),
    ] {
        app.post(
            &format!("/api/v1/hazards/{case_id}/actions"),
            Some(token),
            body,
        )
        .await
        .assert_status(200);
    }

    let read = client(vec!["read".into(), base, id.clone()]).await;
    handle.stop(true).await;
    let read: Value = serde_json::from_str(&read).unwrap();
    assert_eq!(read["service_request_id"], id);
    assert_eq!(read["status"], "closed");
    assert_eq!(read["status_notes"], "已制止烧荒，草垛已清理");
    let text = read.to_string();
    for private in ["13909710009", "建国", "烧荒，风很大", "36.52"] {
        assert!(!text.contains(private), "{private} in {text}");
    }
}

db_tests!(a_georeport_client_lists_posts_and_reads_back);
