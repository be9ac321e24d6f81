//! Scope and policy through HTTP: regions, organisations and accounts, and what an
//! administrator of one county can and cannot do to another.

mod common;

use actix_web::http::Method;
use common::*;
use serde_json::json;

async fn regions_follow_the_tree(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    // A child must be exactly one level below its parent.
    let r = app
        .post(
            "/api/v1/regions",
            Some(&root),
            json!({"parent_id": t.township, "level": "group", "name": "二组", "code": "X1"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "level");
    let r = app
        .post(
            "/api/v1/regions",
            Some(&root),
            json!({"parent_id": t.group, "level": "group", "name": "二组", "code": "X1"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    // A root is a province, prefecture or county.
    let r = app
        .post(
            "/api/v1/regions",
            Some(&root),
            json!({"level": "township", "name": "孤镇", "code": "X2"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    // Codes are unique; unknown parents are 404; unknown levels and bad names are 422.
    app.post("/api/v1/regions", Some(&root), json!({"parent_id": t.village, "level": "group", "name": "二组", "code": "630106101001001"}))
        .await
        .assert_problem(409, "conflict");
    app.post(
        "/api/v1/regions",
        Some(&root),
        json!({"parent_id": 999999, "level": "group", "name": "二组", "code": "X3"}),
    )
    .await
    .assert_problem(404, "not_found");
    let r = app
        .post(
            "/api/v1/regions",
            Some(&root),
            json!({"parent_id": t.village, "level": "hamlet", "name": "二组", "code": "X4"}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "level");
    let r = app.post("/api/v1/regions", Some(&root), json!({"parent_id": t.village, "level": "group", "name": "组".repeat(65), "code": "X5"})).await;
    assert_eq!(r.body["errors"][0]["field"], "name");
    let r = app
        .post(
            "/api/v1/regions",
            Some(&root),
            json!({"parent_id": t.village, "level": "group", "name": "  ", "code": "X5"}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "name");
    // The breadcrumb reads from the root down.
    let r = app
        .get(&format!("/api/v1/regions/{}", t.group), Some(&root))
        .await;
    let names: Vec<&str> = r.assert_status(200)["ancestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["青海省", "西宁市", "湟中区", "李家山镇", "李家山村"]
    );
    let r = app.get("/api/v1/regions/not-a-number", Some(&root)).await;
    r.assert_problem(404, "not_found");
}

async fn lists_are_scoped_and_paginated(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    for i in 2..=5 {
        create_region(
            &app,
            &root,
            Some(t.village),
            "group",
            &format!("{i}组"),
            &format!("6301061010010{i:02}"),
        )
        .await;
    }
    let (_, cadre) = user_with_role(
        &app,
        &root,
        "cadre01",
        t.village,
        "village_cadre",
        Some(t.village),
        None,
    )
    .await;
    let r = app.get("/api/v1/regions?limit=2", Some(&cadre)).await;
    let page1 = r.assert_status(200).clone();
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    assert_eq!(page1["items"][0]["name"], "李家山村");
    let cursor = page1["next_cursor"].as_str().unwrap();
    let mut seen = 2;
    let mut next = Some(cursor.to_string());
    while let Some(c) = next {
        let r = app
            .get(&format!("/api/v1/regions?limit=2&cursor={c}"), Some(&cadre))
            .await;
        let page = r.assert_status(200);
        seen += page["items"].as_array().unwrap().len();
        next = page["next_cursor"].as_str().map(String::from);
    }
    // The village and its five groups; nothing above or beside it.
    assert_eq!(seen, 6);
    let r = app
        .get(
            &format!("/api/v1/regions?parent_id={}&level=group", t.village),
            Some(&cadre),
        )
        .await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 5);
    let r = app
        .get(
            &format!("/api/v1/regions?parent_id={}", t.other_county),
            Some(&cadre),
        )
        .await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 0);
    app.get("/api/v1/regions?limit=0", Some(&cadre))
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/regions?limit=abc", Some(&cadre))
        .await
        .assert_problem(400, "validation_failed");
    app.get("/api/v1/regions?cursor=zzz", Some(&cadre))
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/regions?level=city", Some(&cadre))
        .await
        .assert_problem(400, "validation_failed");
}

async fn roles_must_fit_the_region_level(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let r = app.post("/api/v1/users", Some(&root), json!({"username": "13900000001", "display_name": "王建国", "region_id": t.village, "password": PASSWORD})).await;
    let uid = id_of(r.assert_status(201));
    let roles_path = format!("/api/v1/users/{uid}/roles");
    let grant = |body: serde_json::Value| app.post(&roles_path, Some(&root), body);
    let r = grant(json!({"role": "grid_leader", "region_id": t.village})).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "region_id");
    grant(json!({"role": "police_officer", "region_id": t.township}))
        .await
        .assert_problem(422, "validation_failed");
    grant(json!({"role": "village_cadre", "region_id": t.village, "title": "书记"}))
        .await
        .assert_problem(422, "validation_failed");
    grant(json!({"role": "grid_leader", "region_id": t.group, "background": "security_guard"}))
        .await
        .assert_problem(422, "validation_failed");
    grant(json!({"role": "mayor", "region_id": t.group}))
        .await
        .assert_problem(422, "validation_failed");
    let r =
        grant(json!({"role": "grid_leader", "region_id": t.group, "background": "forest_ranger"}))
            .await;
    assert_eq!(
        r.assert_status(201)["roles"][0]["background"],
        "forest_ranger"
    );
    // One leader per group (一长); the same role twice is a conflict too.
    grant(json!({"role": "grid_leader", "region_id": t.group}))
        .await
        .assert_problem(409, "conflict");
    let (_, _) = user_with_role(
        &app,
        &root,
        "13900000002",
        t.village,
        "grid_handler",
        Some(t.group),
        None,
    )
    .await;
    let r = app.post("/api/v1/users", Some(&root), json!({"username": "13900000003", "display_name": "马", "region_id": t.group, "password": PASSWORD})).await;
    let other = id_of(r.assert_status(201));
    app.post(
        &format!("/api/v1/users/{other}/roles"),
        Some(&root),
        json!({"role": "grid_leader", "region_id": t.group}),
    )
    .await
    .assert_problem(409, "conflict");
    let r = grant(json!({"role": "township_official", "region_id": t.township, "title": "副镇长"}))
        .await;
    assert_eq!(r.assert_status(201)["roles"][1]["title"], "副镇长");
}

async fn accounts_validate_their_fields(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let r = app.post("/api/v1/users", Some(&root), json!({"username": "a b", "display_name": "", "region_id": t.village, "password": "short", "phone": "call me"})).await;
    r.assert_problem(422, "validation_failed");
    let mut fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["display_name", "password", "phone", "username"]);
    app.post("/api/v1/users", Some(&root), json!({"username": "root", "display_name": "重复", "region_id": t.village, "password": PASSWORD}))
        .await
        .assert_problem(409, "conflict");
    app.post("/api/v1/users", Some(&root), json!({"username": "x1234", "display_name": "多余", "region_id": t.village, "password": PASSWORD, "is_admin": true}))
        .await
        .assert_problem(422, "validation_failed");
}

/// An administrator of 湟中区 against accounts, regions and organisations of 大通县.
async fn a_county_admin_cannot_reach_another_county(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let (admin_a_id, admin_a) = user_with_role(
        &app,
        &root,
        "admin_huangzhong",
        t.county,
        "admin",
        Some(t.county),
        None,
    )
    .await;
    let (user_b, _) = user_with_role(
        &app,
        &root,
        "13700000001",
        t.other_township,
        "township_official",
        Some(t.other_township),
        None,
    )
    .await;
    let station_b = create_org(&app, &root, "police_station", "桥头派出所", t.other_county).await;
    let (user_a, _) = user_with_role(
        &app,
        &root,
        "13700000002",
        t.group,
        "grid_inspector",
        Some(t.group),
        None,
    )
    .await;

    // Listing shows only county A's accounts (and never the global root).
    let r = app.get("/api/v1/users", Some(&admin_a)).await;
    let ids: Vec<i64> = r.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&user_a) && ids.contains(&admin_a_id));
    assert!(!ids.contains(&user_b));
    assert_eq!(ids.len(), 2);
    let r = app
        .get("/api/v1/users?role=grid_inspector", Some(&admin_a))
        .await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 1);
    app.get(
        &format!("/api/v1/users?region_id={}", t.other_county),
        Some(&admin_a),
    )
    .await
    .assert_problem(404, "not_found");

    // Reading, editing, granting, resetting, revoking: 404, and nothing changes.
    app.get(&format!("/api/v1/users/{user_b}"), Some(&admin_a))
        .await
        .assert_problem(404, "not_found");
    app.json(
        Method::PATCH,
        &format!("/api/v1/users/{user_b}"),
        Some(&admin_a),
        Some(json!({"display_name": "改名", "disabled": true})),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/users/{user_b}/roles"),
        Some(&admin_a),
        json!({"role": "admin", "region_id": t.county}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/users/{user_b}/reset-password"),
        Some(&admin_a),
        json!({"new_password": "被盗的密码-大通-2026"}),
    )
    .await
    .assert_problem(404, "not_found");
    let r = app
        .get(&format!("/api/v1/users/{user_b}"), Some(&root))
        .await;
    let b_now = r.assert_status(200);
    assert_eq!(b_now["display_name"], "用户13700000001");
    assert_eq!(b_now["disabled"], false);
    assert_eq!(b_now["roles"].as_array().unwrap().len(), 1);
    let assignment_b = b_now["roles"][0]["id"].as_i64().unwrap();
    app.json(
        Method::DELETE,
        &format!("/api/v1/users/{user_b}/roles/{assignment_b}"),
        Some(&admin_a),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    login(&app, "13700000001", PASSWORD).await;

    // Granting a role in county B to one of A's own users, or moving them there: 404.
    app.post(
        &format!("/api/v1/users/{user_a}/roles"),
        Some(&admin_a),
        json!({"role": "township_official", "region_id": t.other_township}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/users/{user_a}/roles"),
        Some(&admin_a),
        json!({"role": "police_officer", "organization_id": station_b}),
    )
    .await
    .assert_problem(404, "not_found");
    app.json(
        Method::PATCH,
        &format!("/api/v1/users/{user_a}"),
        Some(&admin_a),
        Some(json!({"region_id": t.other_county})),
    )
    .await
    .assert_problem(404, "not_found");
    // Nor can the admin make themselves admin of the province, or a global admin.
    app.post(
        &format!("/api/v1/users/{admin_a_id}/roles"),
        Some(&admin_a),
        json!({"role": "admin", "region_id": t.province}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/users/{admin_a_id}/roles"),
        Some(&admin_a),
        json!({"role": "admin"}),
    )
    .await
    .assert_problem(404, "not_found");
    // Creating accounts outside the county, or global ones.
    app.post("/api/v1/users", Some(&admin_a), json!({"username": "x12345", "display_name": "外", "region_id": t.other_county, "password": PASSWORD}))
        .await
        .assert_problem(404, "not_found");
    app.post(
        "/api/v1/users",
        Some(&admin_a),
        json!({"username": "x12346", "display_name": "外", "password": PASSWORD}),
    )
    .await
    .assert_problem(404, "not_found");
    // Regions and organisations of county B do not exist for A.
    app.get(
        &format!("/api/v1/regions/{}", t.other_township),
        Some(&admin_a),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        "/api/v1/regions",
        Some(&admin_a),
        json!({"parent_id": t.other_county, "level": "township", "name": "新镇", "code": "X9"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/organizations/{station_b}"),
        Some(&admin_a),
    )
    .await
    .assert_problem(404, "not_found");
    app.json(
        Method::PUT,
        &format!("/api/v1/organizations/{station_b}/jurisdiction"),
        Some(&admin_a),
        Some(json!({"region_ids": [t.township]})),
    )
    .await
    .assert_problem(404, "not_found");
    let r = app.get("/api/v1/organizations", Some(&admin_a)).await;
    assert_eq!(r.assert_status(200)["items"].as_array().unwrap().len(), 0);
    // Inside its county the admin works normally.
    let r = app
        .get(&format!("/api/v1/users/{user_a}"), Some(&admin_a))
        .await;
    r.assert_status(200);
    create_region(
        &app,
        &admin_a,
        Some(t.county),
        "township",
        "多巴镇",
        "630106102",
    )
    .await;
}

async fn non_admins_cannot_manage(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let (_, official) = user_with_role(
        &app,
        &root,
        "13600000001",
        t.county,
        "county_official",
        Some(t.county),
        None,
    )
    .await;
    app.get("/api/v1/users", Some(&official))
        .await
        .assert_problem(403, "forbidden");
    app.post("/api/v1/users", Some(&official), json!({"username": "x12347", "display_name": "外", "region_id": t.county, "password": PASSWORD}))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        "/api/v1/regions",
        Some(&official),
        json!({"parent_id": t.county, "level": "township", "name": "新镇", "code": "X8"}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        "/api/v1/organizations",
        Some(&official),
        json!({"kind": "fire_department", "name": "湟中区消防救援大队", "region_id": t.county}),
    )
    .await
    .assert_problem(403, "forbidden");
    // Reading inside the scope works.
    app.get(&format!("/api/v1/regions/{}", t.group), Some(&official))
        .await
        .assert_status(200);
    app.get(
        &format!("/api/v1/regions/{}", t.other_county),
        Some(&official),
    )
    .await
    .assert_problem(404, "not_found");
}

async fn organisations_and_jurisdictions(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let second_township = create_region(
        &app,
        &root,
        Some(t.county),
        "township",
        "多巴镇",
        "630106102",
    )
    .await;
    // Where each kind may sit.
    let r = app
        .post(
            "/api/v1/organizations",
            Some(&root),
            json!({"kind": "fire_department", "name": "错", "region_id": t.village}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "region_id");
    app.post(
        "/api/v1/organizations",
        Some(&root),
        json!({"kind": "brigade", "name": "错", "region_id": t.county}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let s1 = create_org(&app, &root, "police_station", "李家山派出所", t.township).await;
    let s2 = create_org(&app, &root, "police_station", "多巴派出所", second_township).await;
    let fire = create_org(
        &app,
        &root,
        "fire_department",
        "湟中区消防救援大队",
        t.county,
    )
    .await;
    let micro = create_org(
        &app,
        &root,
        "micro_fire_station",
        "李家山村微型消防站",
        t.village,
    )
    .await;
    let paths: std::collections::HashMap<i64, String> = [s1, s2, fire, micro]
        .iter()
        .map(|id| (*id, format!("/api/v1/organizations/{id}/jurisdiction")))
        .collect();
    let put = |id: i64, ids: serde_json::Value| {
        app.json(
            Method::PUT,
            &paths[&id],
            Some(&root),
            Some(json!({"region_ids": ids})),
        )
    };
    let r = put(s1, json!([t.township])).await;
    assert_eq!(r.assert_status(200)["jurisdiction"][0]["name"], "李家山镇");
    // A township belongs to one police station only.
    put(s2, json!([t.township, second_township]))
        .await
        .assert_problem(409, "conflict");
    put(s2, json!([second_township])).await.assert_status(200);
    // Levels: townships for stations, counties for fire departments, nothing for the rest.
    put(s1, json!([t.village]))
        .await
        .assert_problem(422, "validation_failed");
    put(fire, json!([t.county])).await.assert_status(200);
    put(micro, json!([t.village]))
        .await
        .assert_problem(422, "validation_failed");
    put(s1, json!([999999]))
        .await
        .assert_problem(404, "not_found");
    // Nothing half-written: the failed updates left the first jurisdictions intact.
    let r = app
        .get(&format!("/api/v1/organizations/{s1}"), Some(&root))
        .await;
    assert_eq!(
        r.assert_status(200)["jurisdiction"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A township official sees the station that polices the township, though it sits elsewhere.
    let (_, official) = user_with_role(
        &app,
        &root,
        "13500000001",
        t.township,
        "township_official",
        Some(t.township),
        None,
    )
    .await;
    let r = app
        .get("/api/v1/organizations?kind=police_station", Some(&official))
        .await;
    let names: Vec<&str> = r.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["李家山派出所"]);
    app.get(&format!("/api/v1/organizations/{s2}"), Some(&official))
        .await
        .assert_problem(404, "not_found");
}

async fn the_last_global_admin_stays(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let me = app.get("/api/v1/me", Some(&root)).await;
    let me = me.assert_status(200).clone();
    let uid = me["user"]["id"].as_i64().unwrap();
    let assignment = me["roles"][0]["id"].as_i64().unwrap();
    app.json(
        Method::DELETE,
        &format!("/api/v1/users/{uid}/roles/{assignment}"),
        Some(&root),
        None,
    )
    .await
    .assert_problem(409, "conflict");
    app.json(
        Method::PATCH,
        &format!("/api/v1/users/{uid}"),
        Some(&root),
        Some(json!({"disabled": true})),
    )
    .await
    .assert_problem(409, "conflict");
}

db_tests!(
    regions_follow_the_tree,
    lists_are_scoped_and_paginated,
    roles_must_fit_the_region_level,
    accounts_validate_their_fields,
    a_county_admin_cannot_reach_another_county,
    non_admins_cannot_manage,
    organisations_and_jurisdictions,
    the_last_global_admin_stays,
);
