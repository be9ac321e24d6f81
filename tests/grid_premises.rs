//! Premises (一格多点): registered in groups, listed by subtree and category, written by the
//! staff of the grid inside their own scope only, with validated coordinates.

mod common;

use common::*;
use serde_json::json;

async fn create_read_change_delete(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let r = app
        .post(
            "/api/v1/premises",
            Some(&root),
            premises_body(t.group, " 李家山便民超市 "),
        )
        .await;
    let body = r.assert_status(201).clone();
    let id = id_of(&body);
    assert_eq!(body["name"], "李家山便民超市");
    assert_eq!(body["group"]["id"], t.group);
    assert_eq!(body["group"]["name"], "一组");
    assert_eq!(
        (body["lat"].as_f64(), body["lng"].as_f64()),
        (Some(36.5012), Some(101.5678))
    );
    assert_eq!(body["signage"], true);
    assert_eq!(body["contact_phone"], "13897000001");

    let r = app
        .get(&format!("/api/v1/premises/{id}"), Some(&root))
        .await;
    assert_eq!(r.assert_status(200)["category"], "shop");

    // Only what is given changes; null clears the location; "" clears a contact.
    let r = app
        .patch(
            &format!("/api/v1/premises/{id}"),
            Some(&root),
            json!({"category": "restaurant", "lat": null, "lng": null, "contact_name": "", "signage": false}),
        )
        .await;
    let body = r.assert_status(200);
    assert_eq!(body["category"], "restaurant");
    assert_eq!(body["name"], "李家山便民超市");
    assert!(body["lat"].is_null() && body["lng"].is_null() && body["contact_name"].is_null());
    assert_eq!(body["contact_phone"], "13897000001");
    assert_eq!(body["signage"], false);

    // Move to another group.
    let g2 = w
        .region(t.village, "二组", "630106101001002")
        .build(&app)
        .await;
    let r = app
        .patch(
            &format!("/api/v1/premises/{id}"),
            Some(&root),
            json!({"group_id": g2}),
        )
        .await;
    assert_eq!(r.assert_status(200)["group"]["id"], g2);
    let r = app
        .get(&format!("/api/v1/premises?region_id={g2}"), Some(&root))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app
        .get(
            &format!("/api/v1/premises?region_id={}", t.group),
            Some(&root),
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);

    app.delete(&format!("/api/v1/premises/{id}"), Some(&root))
        .await
        .assert_status(204);
    app.get(&format!("/api/v1/premises/{id}"), Some(&root))
        .await
        .assert_problem(404, "not_found");
    app.delete(&format!("/api/v1/premises/{id}"), Some(&root))
        .await
        .assert_problem(404, "not_found");
}

async fn bad_input_writes_nothing(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let post = |body: serde_json::Value| {
        let app = &app;
        let root = root.clone();
        async move { app.post("/api/v1/premises", Some(&root), body).await }
    };
    let field = |r: &common::Resp| {
        r.body["errors"][0]["field"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    let r = post(premises_body(t.village, "村里的店")).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(field(&r), "group_id");
    post(premises_body(999_999, "无此组"))
        .await
        .assert_problem(404, "not_found");
    for (key, value, expect) in [
        ("lat", json!(91.0), "lat"),
        ("lat", json!(-90.5), "lat"),
        ("lng", json!(180.01), "lng"),
        ("lat", json!(null), "lat"),
        ("name", json!("店".repeat(65)), "name"),
        ("name", json!("  "), "name"),
        ("address", json!("址".repeat(129)), "address"),
        ("contact_phone", json!("打电话"), "contact_phone"),
        ("category", json!("bank"), "category"),
        ("group_id", json!("一组"), "group_id"),
        ("colour", json!("red"), "colour"),
    ] {
        let mut body = premises_body(t.group, "李家山便民超市");
        body[key] = value;
        let r = post(body).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(field(&r), expect, "{key}: {}", r.body);
    }
    assert_eq!(count_rows(&app.db, "premises"), 0);

    // Unique name within a group; the same name in another group is fine.
    let id = id_of(
        post(premises_body(t.group, "李家山便民超市"))
            .await
            .assert_status(201),
    );
    post(premises_body(t.group, "李家山便民超市"))
        .await
        .assert_problem(409, "conflict");
    let g2 = w
        .region(t.village, "二组", "630106101001002")
        .build(&app)
        .await;
    let other = id_of(
        post(premises_body(g2, "李家山便民超市"))
            .await
            .assert_status(201),
    );
    let r = app
        .patch(
            &format!("/api/v1/premises/{other}"),
            Some(&root),
            json!({"group_id": t.group}),
        )
        .await;
    r.assert_problem(409, "conflict");

    // Patches are validated as a whole.
    let r = app
        .patch(
            &format!("/api/v1/premises/{id}"),
            Some(&root),
            json!({"lat": null}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(field(&r), "lat");
    let r = app
        .patch(
            &format!("/api/v1/premises/{id}"),
            Some(&root),
            json!({"group_id": t.village}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .get(&format!("/api/v1/premises/{id}"), Some(&root))
        .await;
    assert_eq!(
        (r.body["lat"].as_f64(), r.body["group"]["id"].as_i64()),
        (Some(36.5012), Some(t.group))
    );
    assert_eq!(count_rows(&app.db, "premises"), 2);
}

async fn who_may_write_premises(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let t = &w.t;
    let g2 = w
        .region(t.village, "二组", "630106101001002")
        .build(&app)
        .await;
    let station = w.org(OrgKind::PoliceStation, "李家山派出所", t.township);
    let station = station.answers_for(&[t.township]).build(&app).await;
    let fire = w.org(OrgKind::FireDepartment, "湟中区消防救援大队", t.county);
    let fire = fire.answers_for(&[t.county]).build(&app).await;

    // Every account lives in 李家山村, wherever its role is bound.
    let writers = [
        Role::GridInspector,
        Role::GridLeader,
        Role::GridHandler,
        Role::GridCoordinator,
        Role::VillageCadre,
        Role::VillagePolice,
        Role::TownshipOfficial,
        Role::Admin,
    ];
    let writers = tokens(&app, writers.map(|r| w.user(r).home(t.village))).await;
    for (i, writer) in writers.iter().enumerate() {
        let shop = w.premises(t.group, &format!("商店{i}")).by(writer);
        let id = shop.build(&app).await;
        app.patch(
            &format!("/api/v1/premises/{id}"),
            Some(writer),
            json!({"signage": false}),
        )
        .await
        .assert_status(200);
    }
    // A grid member of 一组 does not reach 二组.
    let inspector = &writers[0];
    app.post(
        "/api/v1/premises",
        Some(inspector),
        premises_body(g2, "二组商店"),
    )
    .await
    .assert_problem(404, "not_found");
    let in_g2 = w.premises(g2, "二组商店").build(&app).await;
    app.get(&format!("/api/v1/premises/{in_g2}"), Some(inspector))
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/premises/{in_g2}"),
        Some(inspector),
        json!({"signage": true}),
    )
    .await
    .assert_problem(404, "not_found");
    app.delete(&format!("/api/v1/premises/{in_g2}"), Some(inspector))
        .await
        .assert_problem(404, "not_found");
    let mine = id_of(
        &app.get("/api/v1/premises?limit=1", Some(inspector))
            .await
            .body["items"][0],
    );
    app.patch(
        &format!("/api/v1/premises/{mine}"),
        Some(inspector),
        json!({"group_id": g2}),
    )
    .await
    .assert_problem(404, "not_found");

    // Overseers and enforcers read, never write.
    let readers = [
        w.user(Role::CountyOfficial),
        w.user(Role::PoliceOfficer).of(station),
        w.user(Role::FireOfficer).of(fire),
    ];
    let readers = tokens(&app, readers.map(|u| u.home(t.village))).await;
    for r in &readers {
        app.get(&format!("/api/v1/premises/{in_g2}"), Some(r))
            .await
            .assert_status(200);
        app.post("/api/v1/premises", Some(r), premises_body(t.group, "不许"))
            .await
            .assert_problem(403, "forbidden");
        app.patch(
            &format!("/api/v1/premises/{in_g2}"),
            Some(r),
            json!({"signage": true}),
        )
        .await
        .assert_problem(403, "forbidden");
        app.delete(&format!("/api/v1/premises/{in_g2}"), Some(r))
            .await
            .assert_problem(403, "forbidden");
    }

    // Another county's administrator: nothing exists.
    let far = w
        .user(Role::Admin)
        .named("datong.admin")
        .at(t.other_county)
        .build(&app)
        .await
        .token;
    app.get(&format!("/api/v1/premises/{in_g2}"), Some(&far))
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/premises/{in_g2}"),
        Some(&far),
        json!({"name": "越权"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.delete(&format!("/api/v1/premises/{in_g2}"), Some(&far))
        .await
        .assert_problem(404, "not_found");
    app.post(
        "/api/v1/premises",
        Some(&far),
        premises_body(t.group, "越权"),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/premises?region_id={}", t.county),
        Some(&far),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(
        app.get("/api/v1/premises", Some(&far)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(count_rows(&app.db, "premises"), 9);
}

async fn lists_by_subtree_and_category(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let g2 = w
        .region(t.village, "二组", "630106101001002")
        .build(&app)
        .await;
    let v2 = w
        .region(t.other_township, "桥头村", "630121100001")
        .build(&app)
        .await;
    let far_group = w.region(v2, "一组", "630121100001001").build(&app).await;
    let categories = [
        PremisesCategory::Shop,
        PremisesCategory::Restaurant,
        PremisesCategory::Hotel,
        PremisesCategory::Entertainment,
        PremisesCategory::InternetCafe,
        PremisesCategory::BeautyBath,
        PremisesCategory::Workshop,
        PremisesCategory::Clinic,
        PremisesCategory::School,
        PremisesCategory::Residential,
        PremisesCategory::SocialUnit,
        PremisesCategory::Other,
    ];
    for (i, c) in categories.into_iter().enumerate() {
        let group = [t.group, g2, far_group][i % 3];
        let place = w.premises(group, &format!("场所{i}")).category(c);
        place.build(&app).await;
    }
    let names = |r: &common::Resp| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };

    let r = app.get("/api/v1/premises?limit=200", Some(&root)).await;
    assert_eq!(names(&r).len(), 12);
    let r = app
        .get(
            &format!("/api/v1/premises?region_id={}", t.county),
            Some(&root),
        )
        .await;
    assert_eq!(names(&r).len(), 8);
    let r = app
        .get(
            &format!(
                "/api/v1/premises?region_id={}&category=restaurant",
                t.township
            ),
            Some(&root),
        )
        .await;
    assert_eq!(names(&r), ["场所1"]);
    let r = app.get("/api/v1/premises?category=bank", Some(&root)).await;
    r.assert_problem(400, "validation_failed");

    // A grid inspector sees exactly their group; a county official their county.
    let inspector = w
        .user(Role::GridInspector)
        .named("13200000001")
        .home(t.village)
        .build(&app)
        .await
        .token;
    let r = app.get("/api/v1/premises", Some(&inspector)).await;
    assert_eq!(names(&r), ["场所0", "场所3", "场所6", "场所9"]);
    app.get(
        &format!("/api/v1/premises?region_id={}", t.village),
        Some(&inspector),
    )
    .await
    .assert_problem(404, "not_found");
    let official = w
        .user(Role::CountyOfficial)
        .named("13200000002")
        .build(&app)
        .await
        .token;
    let r = app
        .get("/api/v1/premises?category=clinic", Some(&official))
        .await;
    assert_eq!(names(&r), ["场所7"]);
    // The school lies in the other county.
    let r = app
        .get("/api/v1/premises?category=school", Some(&official))
        .await;
    assert_eq!(names(&r), Vec::<String>::new());

    // Keyset pages.
    let first = app.get("/api/v1/premises?limit=5", Some(&official)).await;
    assert_eq!(names(&first).len(), 5);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = app
        .get(
            &format!("/api/v1/premises?limit=5&cursor={cursor}"),
            Some(&official),
        )
        .await;
    assert_eq!(names(&second).len(), 3);
    assert!(second.body["next_cursor"].is_null());
}

/// A phone retrying after a lost response gets the first result, not a duplicate.
async fn idempotent_creation(b: Backend) {
    use actix_web::test::TestRequest;
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let send = |key: &'static str, body: serde_json::Value| {
        TestRequest::post()
            .uri("/api/v1/premises")
            .insert_header(("authorization", format!("Bearer {root}")))
            .insert_header(("idempotency-key", key))
            .set_json(body)
    };
    let first = app
        .send(send("k-1", premises_body(t.group, "李家山便民超市")))
        .await;
    let id = id_of(first.assert_status(201));
    let again = app
        .send(send("k-1", premises_body(t.group, "李家山便民超市")))
        .await;
    assert_eq!(id_of(again.assert_status(201)), id);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    let other = app
        .send(send("k-1", premises_body(t.group, "另一家")))
        .await;
    other.assert_problem(422, "idempotency_key_reused");
    assert_eq!(count_rows(&app.db, "premises"), 1);
}

db_tests!(
    idempotent_creation,
    create_read_change_delete,
    bad_input_writes_nothing,
    who_may_write_premises,
    lists_by_subtree_and_category
);
