//! Hostile text: NUL and the other C0 controls are a 422 `validation_failed` naming the field,
//! on both backends, whether they come in a JSON body (escaped), a query string or an import
//! file, and nothing is stored; tab and newline in free text stay welcome.

mod common;

use common::*;
use serde_json::json;

async fn controls_are_refused_everywhere_text_enters(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (&w.root, &w.t);

    // No token needed: PostgreSQL used to answer 500 to a NUL in the login username.
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "root\u{0}", "password": PASSWORD}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "username");

    let inspector = w.user(Role::GridInspector).build(&app).await.token;
    let hazard = |description: &str| {
        json!({"group_id": t.group, "category": "open_flame", "severity": "general",
               "title": "院内焚烧秸秆", "description": description, "source": "patrol"})
    };
    for bad in ["柴堆\u{0}靠近烟囱", "escape \u{1b}[31m red", "bell \u{7}"] {
        let r = app
            .post("/api/v1/hazards", Some(&inspector), hazard(bad))
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "description", "{bad:?}");
    }
    assert_eq!(count_rows(&app.db, "hazards"), 0, "nothing was stored");
    let r = app
        .post(
            "/api/v1/hazards",
            Some(&inspector),
            hazard("李家山村一组：\n\t柴堆靠近烟囱，已口头提醒"),
        )
        .await;
    r.assert_status(201);

    // Nested fields and names are refused alike.
    let r = app
        .post(
            "/api/v1/regions",
            Some(root),
            json!({"parent_id": t.township, "level": "village", "name": "新\u{0}村", "code": "630106101009"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "name");

    // Query strings: a percent-encoded NUL in any parameter.
    let r = app
        .get("/api/v1/hazards?cursor=%00", Some(&inspector))
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "cursor");

    // Import files: the line is named and nothing is imported.
    let regions_before = count_rows(&app.db, "regions");
    let csv = "kind,level,code,parent_code,name\nregion,village,630106101009,630106101,新\u{0}村\n";
    let r = app.import_csv(root, csv).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(count_rows(&app.db, "regions"), regions_before);

    // Header values never get this far: the HTTP layer refuses controls in them.
    assert!(actix_web::http::header::HeaderValue::from_bytes(b"key\0").is_err());
}

db_tests!(controls_are_refused_everywhere_text_enters);

/// A name is one line: tab and newline, welcome in free text, are refused in a name wherever
/// they stand (`validate::NAME`), as the document says. An id is a JSON integer: `1.0` is a
/// client bug and a 422 naming the field (the fuzzer's hook sends such floats as integers, so
/// this is where the rule is held).
async fn names_are_one_line_and_ids_are_integers(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (&w.root, &w.t);
    let before = count_rows(&app.db, "regions");
    for name in ["新村\t", "\n新村", "新\r\n村", "新\u{85}村"] {
        let r = app
            .post(
                "/api/v1/regions",
                Some(root),
                json!({"parent_id": t.township, "level": "village", "name": name, "code": "630106101009"}),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "name", "{name:?}");
    }
    let r = app
        .post(
            "/api/v1/regions",
            Some(root),
            json!({"parent_id": t.township as f64, "level": "village", "name": "新村", "code": "630106101009"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "parent_id");
    assert_eq!(count_rows(&app.db, "regions"), before, "nothing was stored");
    // Spaces around a name are trimmed, as before.
    let r = app
        .post(
            "/api/v1/regions",
            Some(root),
            json!({"parent_id": t.township, "level": "village", "name": " 新村\u{3000}", "code": "630106101009"}),
        )
        .await;
    assert_eq!(r.assert_status(201)["name"], "新村");
}

db_tests!(names_are_one_line_and_ids_are_integers);
