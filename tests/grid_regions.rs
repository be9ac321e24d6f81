//! The grid tree completed: renaming and deleting regions, responsible supervisors (分片包干),
//! the roster (一长三员) with its compliance, and the township committee — each with its scope
//! (404 from another county), role (403) and bad-input rules, on both backends.

mod common;

use common::*;
use serde_json::json;

async fn patch_region_renames_and_guards_codes(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let path = format!("/api/v1/regions/{}", t.township);

    let r = app
        .patch(&path, Some(&root), json!({"name": " 李家山镇（新） "}))
        .await;
    let body = r.assert_status(200);
    assert_eq!(body["name"], "李家山镇（新）");
    assert_eq!(body["code"], "630106101");
    assert_eq!(body["ancestors"].as_array().unwrap().len(), 3);
    let r = app
        .patch(&path, Some(&root), json!({"code": "630106199"}))
        .await;
    assert_eq!(r.assert_status(200)["code"], "630106199");

    // A code another region uses; bad names and codes; unknown fields; nothing changes.
    app.patch(&path, Some(&root), json!({"code": "630121"}))
        .await
        .assert_problem(409, "conflict");
    let r = app
        .patch(
            &path,
            Some(&root),
            json!({"name": "镇".repeat(65), "code": "63 01"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "code"]);
    app.patch(&path, Some(&root), json!({"name": "   "}))
        .await
        .assert_problem(422, "validation_failed");
    app.patch(&path, Some(&root), json!({"level": "village"}))
        .await
        .assert_problem(422, "validation_failed");
    let r = app.get(&path, Some(&root)).await;
    assert_eq!(
        (r.body["name"].as_str(), r.body["code"].as_str()),
        (Some("李家山镇（新）"), Some("630106199"))
    );

    // Scope and role.
    app.patch("/api/v1/regions/999999", Some(&root), json!({"name": "无"}))
        .await
        .assert_problem(404, "not_found");
    let other_admin = w
        .user(Role::Admin)
        .named("datong.admin")
        .at(t.other_county)
        .build(&app)
        .await
        .token;
    app.patch(&path, Some(&other_admin), json!({"name": "越权"}))
        .await
        .assert_problem(404, "not_found");
    let official = w
        .user(Role::CountyOfficial)
        .named("13800000001")
        .build(&app)
        .await
        .token;
    app.patch(&path, Some(&official), json!({"name": "越权"}))
        .await
        .assert_problem(403, "forbidden");
}

async fn delete_region_only_when_nothing_refers_to_it(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);

    // A fresh group goes; afterwards it does not exist.
    let spare = w
        .region(t.village, "二组", "630106101001002")
        .build(&app)
        .await;
    let other_admin = w
        .user(Role::Admin)
        .named("datong.admin")
        .at(t.other_county)
        .build(&app)
        .await
        .token;
    app.delete(&format!("/api/v1/regions/{spare}"), Some(&other_admin))
        .await
        .assert_problem(404, "not_found");
    app.delete(&format!("/api/v1/regions/{spare}"), Some(&root))
        .await
        .assert_status(204);
    app.get(&format!("/api/v1/regions/{spare}"), Some(&root))
        .await
        .assert_problem(404, "not_found");

    // Children.
    let r = app
        .delete(&format!("/api/v1/regions/{}", t.village), Some(&root))
        .await;
    r.assert_problem(409, "conflict");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("1 child regions"),
        "{}",
        r.body
    );

    // People: a role assignment on the group, or an account living there.
    let uid = w
        .user(Role::GridInspector)
        .named("13800000002")
        .home(t.village)
        .build(&app)
        .await
        .id;
    let r = app
        .delete(&format!("/api/v1/regions/{}", t.group), Some(&root))
        .await;
    r.assert_problem(409, "conflict");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("role assignments"),
        "{}",
        r.body
    );
    let lonely = w
        .region(t.village, "三组", "630106101001003")
        .build(&app)
        .await;
    app.patch(
        &format!("/api/v1/users/{uid}"),
        Some(&root),
        json!({"region_id": lonely}),
    )
    .await
    .assert_status(200);
    let r = app
        .delete(&format!("/api/v1/regions/{lonely}"), Some(&root))
        .await;
    r.assert_problem(409, "conflict");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("accounts living there"),
        "{}",
        r.body
    );

    // Premises.
    let shop = w
        .region(t.village, "四组", "630106101001004")
        .build(&app)
        .await;
    w.premises(shop, "四组小卖部").build(&app).await;
    let r = app
        .delete(&format!("/api/v1/regions/{shop}"), Some(&root))
        .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("premises"),
        "{}",
        r.body
    );
    r.assert_problem(409, "conflict");

    // Organisations sitting there, or answering for it.
    let empty_township = w.region(t.county, "多巴镇", "630106102").build(&app).await;
    w.org(OrgKind::PoliceStation, "李家山派出所", t.township)
        .answers_for(&[t.township, empty_township])
        .build(&app)
        .await;
    let r = app
        .delete(&format!("/api/v1/regions/{empty_township}"), Some(&root))
        .await;
    r.assert_problem(409, "conflict");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("answering for it"),
        "{}",
        r.body
    );
    let quiet = w
        .region(t.county, "鲁沙尔镇", "630106103")
        .build(&app)
        .await;
    w.org(OrgKind::GovernanceOffice, "鲁沙尔镇综治办", quiet)
        .build(&app)
        .await;
    let r = app
        .delete(&format!("/api/v1/regions/{quiet}"), Some(&root))
        .await;
    r.assert_problem(409, "conflict");
    assert!(
        r.body["detail"].as_str().unwrap().contains("sitting there"),
        "{}",
        r.body
    );

    // Only administrators delete.
    let official = w
        .user(Role::CountyOfficial)
        .named("13800000003")
        .build(&app)
        .await
        .token;
    app.delete(&format!("/api/v1/regions/{quiet}"), Some(&official))
        .await
        .assert_problem(403, "forbidden");
    app.delete("/api/v1/regions/424242", Some(&root))
        .await
        .assert_problem(404, "not_found");
}

async fn supervisors_come_from_the_tier_above(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let put = |id: i64| format!("/api/v1/regions/{id}/supervisor");

    let county_official = w
        .user(Role::CountyOfficial)
        .named("13900000001")
        .build(&app)
        .await
        .id;
    let county_admin = w
        .user(Role::Admin)
        .named("13900000002")
        .build(&app)
        .await
        .id;
    let township_official = w
        .user(Role::TownshipOfficial)
        .named("13900000003")
        .build(&app)
        .await
        .id;
    let cadre = w
        .user(Role::VillageCadre)
        .named("13900000004")
        .build(&app)
        .await
        .id;
    let vpolice = w
        .user(Role::VillagePolice)
        .named("13900000005")
        .build(&app)
        .await
        .id;
    let leader = w
        .user(Role::GridLeader)
        .named("13900000006")
        .home(t.village)
        .build(&app)
        .await
        .id;
    let far_official = w
        .user(Role::TownshipOfficial)
        .named("13900000007")
        .at(t.other_township)
        .build(&app)
        .await
        .id;

    // Township: a county official or admin of its county.
    let r = app
        .put(
            &put(t.township),
            Some(&root),
            json!({"user_id": county_official}),
        )
        .await;
    let body = r.assert_status(200);
    assert_eq!(body["supervisor"]["id"], county_official);
    assert_eq!(body["supervisor"]["display_name"], "用户13900000001");
    let r = app
        .get(&format!("/api/v1/regions/{}", t.township), Some(&root))
        .await;
    assert_eq!(r.assert_status(200)["supervisor"]["id"], county_official);
    app.put(
        &put(t.township),
        Some(&root),
        json!({"user_id": county_admin}),
    )
    .await
    .assert_status(200);
    let r = app
        .put(
            &put(t.township),
            Some(&root),
            json!({"user_id": township_official}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "user_id");

    // Village: a township official of its own township, not another's.
    app.put(
        &put(t.village),
        Some(&root),
        json!({"user_id": township_official}),
    )
    .await
    .assert_status(200);
    app.put(
        &put(t.village),
        Some(&root),
        json!({"user_id": far_official}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.put(
        &put(t.village),
        Some(&root),
        json!({"user_id": county_official}),
    )
    .await
    .assert_problem(422, "validation_failed");

    // Group: village cadre or village police of its village; not a grid member.
    app.put(&put(t.group), Some(&root), json!({"user_id": cadre}))
        .await
        .assert_status(200);
    app.put(&put(t.group), Some(&root), json!({"user_id": vpolice}))
        .await
        .assert_status(200);
    app.put(&put(t.group), Some(&root), json!({"user_id": leader}))
        .await
        .assert_problem(422, "validation_failed");
    // An unknown account is refused the same way.
    app.put(&put(t.group), Some(&root), json!({"user_id": 987654}))
        .await
        .assert_problem(422, "validation_failed");
    let r = app
        .get(&format!("/api/v1/regions/{}", t.group), Some(&root))
        .await;
    assert_eq!(r.body["supervisor"]["id"], vpolice);

    // A disabled supervisor no longer qualifies.
    app.patch(
        &format!("/api/v1/users/{cadre}"),
        Some(&root),
        json!({"disabled": true}),
    )
    .await
    .assert_status(200);
    app.put(&put(t.group), Some(&root), json!({"user_id": cadre}))
        .await
        .assert_problem(422, "validation_failed");

    // Clearing; counties have none; scope and role.
    let r = app
        .put(&put(t.group), Some(&root), json!({"user_id": null}))
        .await;
    assert!(r.assert_status(200)["supervisor"].is_null());
    let r = app
        .put(
            &put(t.county),
            Some(&root),
            json!({"user_id": county_official}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let other_admin = w
        .user(Role::Admin)
        .named("datong.admin")
        .at(t.other_county)
        .build(&app)
        .await
        .token;
    app.put(
        &put(t.village),
        Some(&other_admin),
        json!({"user_id": township_official}),
    )
    .await
    .assert_problem(404, "not_found");
    let token = w
        .user(Role::TownshipOfficial)
        .named("13900000008")
        .build(&app)
        .await
        .token;
    app.put(
        &put(t.village),
        Some(&token),
        json!({"user_id": township_official}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.put(&put(t.village), Some(&root), json!({"user": 1}))
        .await
        .assert_problem(422, "validation_failed");
}

async fn roster_shows_one_leader_three_officers(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let path = format!("/api/v1/regions/{}/roster", t.group);

    let r = app.get(&path, Some(&root)).await;
    let body = r.assert_status(200);
    assert_eq!(body["group"]["name"], "一组");
    assert!(body["leader"].is_null());
    assert_eq!(body["complete"], false);
    assert_eq!(
        body["missing"],
        json!([
            "grid_leader",
            "grid_inspector",
            "grid_handler",
            "grid_coordinator"
        ])
    );

    let leader = w
        .user(Role::Admin)
        .named("13700000001")
        .at(t.village)
        .build(&app)
        .await
        .id;
    app.grant(
        &root,
        leader,
        json!({"role": "grid_leader", "region_id": t.group, "background": "forest_ranger"}),
    )
    .await
    .assert_status(201);
    let Account {
        id: inspector,
        token: inspector_token,
    } = w
        .user(Role::GridInspector)
        .named("13700000002")
        .home(t.village)
        .build(&app)
        .await;
    // One person may hold several roles.
    app.grant(
        &root,
        inspector,
        json!({"role": "grid_handler", "region_id": t.group, "background": "security_guard"}),
    )
    .await
    .assert_status(201);
    let r = app.get(&path, Some(&inspector_token)).await;
    let body = r.assert_status(200);
    assert_eq!(body["leader"]["user_id"], leader);
    assert_eq!(body["leader"]["background"], "forest_ranger");
    assert_eq!(body["inspectors"][0]["user_id"], inspector);
    assert!(body["inspectors"][0]["background"].is_null());
    assert_eq!(body["handlers"][0]["background"], "security_guard");
    assert_eq!(body["missing"], json!(["grid_coordinator"]));

    // A second leader is a conflict, through the API and in the database itself.
    let second = w
        .user(Role::GridCoordinator)
        .named("13700000003")
        .home(t.village)
        .build(&app)
        .await
        .id;
    app.grant(
        &root,
        second,
        json!({"role": "grid_leader", "region_id": t.group}),
    )
    .await
    .assert_problem(409, "conflict");
    {
        use diesel::prelude::*;
        let mut conn = app.db.conn();
        let raw = diesel::sql_query(format!(
            "INSERT INTO role_assignments (user_id, role, region_id, created_at) \
             VALUES ({second}, 'grid_leader', {}, CURRENT_TIMESTAMP)",
            t.group
        ))
        .execute(&mut *conn);
        assert!(
            matches!(
                raw,
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _
                ))
            ),
            "{raw:?}"
        );
    }
    let body = app.get(&path, Some(&root)).await.body;
    assert_eq!(body["complete"], true);
    assert_eq!(body["coordinators"][0]["user_id"], second);
    assert_eq!(body["missing"], json!([]));

    // A disabled account does not count.
    app.patch(
        &format!("/api/v1/users/{second}"),
        Some(&root),
        json!({"disabled": true}),
    )
    .await
    .assert_status(200);
    let body = app.get(&path, Some(&root)).await.body;
    assert_eq!(
        (body["complete"].as_bool(), body["missing"].clone()),
        (Some(false), json!(["grid_coordinator"]))
    );

    // Only groups have a roster; scope.
    let r = app
        .get(
            &format!("/api/v1/regions/{}/roster", t.village),
            Some(&root),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let far = w
        .user(Role::TownshipOfficial)
        .named("13700000004")
        .at(t.other_township)
        .build(&app)
        .await
        .token;
    app.get(&path, Some(&far))
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/regions/77777/roster", Some(&root))
        .await
        .assert_problem(404, "not_found");
}

async fn compliance_rolls_up_per_child(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let g2 = w
        .region(t.village, "二组", "630106101001002")
        .build(&app)
        .await;
    let v2 = w
        .region(t.township, "河拉台村", "630106101002")
        .build(&app)
        .await;
    let v2g1 = w.region(v2, "一组", "630106101002001").build(&app).await;
    let _empty_village = w
        .region(t.township, "新添堡村", "630106101003")
        .build(&app)
        .await;

    // 李家山村一组: complete; 二组: a leader only; 河拉台村一组: nobody.
    let roster = [
        Role::GridLeader,
        Role::GridInspector,
        Role::GridHandler,
        Role::GridCoordinator,
    ];
    for (n, role) in (1..).zip(roster) {
        let username = format!("1360000000{n}");
        w.user(role)
            .named(&username)
            .home(t.village)
            .build(&app)
            .await;
    }
    w.user(Role::GridLeader)
        .named("13600000009")
        .at(g2)
        .home(t.village)
        .build(&app)
        .await;

    let r = app
        .get(
            &format!("/api/v1/regions/{}/roster-compliance", t.township),
            Some(&root),
        )
        .await;
    let body = r.assert_status(200).clone();
    assert_eq!(body["region"]["name"], "李家山镇");
    assert_eq!(
        (
            body["groups_total"].as_i64(),
            body["groups_complete"].as_i64()
        ),
        (Some(3), Some(1))
    );
    assert_eq!(body["rate"], 0.3333);
    let children = body["children"].as_array().unwrap();
    let tallies: Vec<(&str, i64, i64, serde_json::Value)> = children
        .iter()
        .map(|c| {
            (
                c["region"]["name"].as_str().unwrap(),
                c["groups_total"].as_i64().unwrap(),
                c["groups_complete"].as_i64().unwrap(),
                c["rate"].clone(),
            )
        })
        .collect();
    assert_eq!(
        tallies,
        [
            ("李家山村", 2, 1, json!(0.5)),
            ("河拉台村", 1, 0, json!(0.0)),
            ("新添堡村", 0, 0, serde_json::Value::Null),
        ]
    );
    let incomplete = body["incomplete"].as_array().unwrap();
    assert_eq!(incomplete.len(), 2);
    assert_eq!(incomplete[0]["group"]["id"], g2);
    assert_eq!(incomplete[0]["village"]["name"], "李家山村");
    assert_eq!(
        incomplete[0]["missing"],
        json!(["grid_inspector", "grid_handler", "grid_coordinator"])
    );
    assert_eq!(incomplete[1]["group"]["id"], v2g1);
    assert_eq!(incomplete[1]["missing"].as_array().unwrap().len(), 4);

    // The county sees the township as its one child; a group, itself.
    let body = app
        .get(
            &format!("/api/v1/regions/{}/roster-compliance", t.county),
            Some(&root),
        )
        .await
        .body;
    assert_eq!(body["children"].as_array().unwrap().len(), 1);
    assert_eq!(body["children"][0]["groups_total"], 3);
    let body = app
        .get(
            &format!("/api/v1/regions/{}/roster-compliance", t.group),
            Some(&root),
        )
        .await
        .body;
    assert_eq!(
        (body["groups_total"].as_i64(), body["rate"].as_f64()),
        (Some(1), Some(1.0))
    );

    // Read by anyone whose scope covers it, nobody else.
    let cadre = w
        .user(Role::VillageCadre)
        .named("13600000010")
        .build(&app)
        .await
        .token;
    let body = app
        .get(
            &format!("/api/v1/regions/{}/roster-compliance", t.village),
            Some(&cadre),
        )
        .await
        .body;
    assert_eq!(body["groups_complete"], 1);
    app.get(
        &format!("/api/v1/regions/{}/roster-compliance", t.township),
        Some(&cadre),
    )
    .await
    .assert_problem(404, "not_found");
    let far = w
        .user(Role::CountyOfficial)
        .named("13600000011")
        .at(t.other_county)
        .build(&app)
        .await
        .token;
    app.get(
        &format!("/api/v1/regions/{}/roster-compliance", t.county),
        Some(&far),
    )
    .await
    .assert_problem(404, "not_found");
}

async fn township_committee(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let head = w
        .user(Role::Admin)
        .named("13500000001")
        .at(t.township)
        .build(&app)
        .await
        .id;
    app.grant(
        &root,
        head,
        json!({"role": "township_official", "region_id": t.township, "title": "镇长（主任）"}),
    )
    .await
    .assert_status(201);
    let official = w
        .user(Role::TownshipOfficial)
        .named("13500000002")
        .build(&app)
        .await
        .token;
    let cadre = w
        .user(Role::VillageCadre)
        .named("13500000003")
        .build(&app)
        .await
        .id;
    let station = w.org(OrgKind::PoliceStation, "李家山派出所", t.county);
    let station = station.answers_for(&[t.township]).build(&app).await.id;
    let org = |kind, name, region| w.org(kind, name, region).build(&app);
    let office = org(OrgKind::GovernanceOffice, "李家山镇综治办", t.township)
        .await
        .id;
    let team = org(
        OrgKind::TownshipFireTeam,
        "李家山镇政府专职消防队",
        t.township,
    )
    .await
    .id;
    org(OrgKind::MicroFireStation, "李家山村微型消防站", t.village).await;
    org(OrgKind::GovernanceOffice, "桥头镇综治办", t.other_township).await;

    let path = format!("/api/v1/regions/{}/committee", t.township);
    let r = app.get(&path, Some(&official)).await;
    let body = r.assert_status(200);
    assert_eq!(body["township"]["name"], "李家山镇");
    assert_eq!(body["officials"].as_array().unwrap().len(), 2);
    assert_eq!(body["officials"][0]["user_id"], head);
    assert_eq!(body["officials"][0]["title"], "镇长（主任）");
    assert_eq!(body["police_station"]["id"], station);
    assert_eq!(body["police_station"]["jurisdiction"][0]["id"], t.township);
    let members: Vec<i64> = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(members, [office, team]);
    assert_eq!(body["village_members"][0]["user_id"], cadre);
    assert_eq!(body["village_members"][0]["village"]["name"], "李家山村");

    // Without a station; wrong level; scope.
    let body = app
        .get(
            &format!("/api/v1/regions/{}/committee", t.other_township),
            Some(&root),
        )
        .await
        .body;
    assert!(body["police_station"].is_null());
    assert_eq!(body["members"].as_array().unwrap().len(), 1);
    app.get(
        &format!("/api/v1/regions/{}/committee", t.village),
        Some(&root),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get(
        &format!("/api/v1/regions/{}/committee", t.other_township),
        Some(&official),
    )
    .await
    .assert_problem(404, "not_found");
}

/// Every id-taking grid endpoint answers 404 to a user of another county, and writes nothing.
async fn other_county_sees_nothing(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let far_admin = w
        .user(Role::Admin)
        .named("datong.admin")
        .at(t.other_county)
        .build(&app)
        .await
        .token;
    let far_official = w
        .user(Role::CountyOfficial)
        .named("13400000001")
        .at(t.other_county)
        .build(&app)
        .await
        .token;
    let cadre = w
        .user(Role::VillageCadre)
        .named("13400000002")
        .build(&app)
        .await
        .id;
    for token in [&far_admin, &far_official] {
        for id in [t.county, t.township, t.village, t.group] {
            app.get(&format!("/api/v1/regions/{id}"), Some(token))
                .await
                .assert_problem(404, "not_found");
            app.get(
                &format!("/api/v1/regions/{id}/roster-compliance"),
                Some(token),
            )
            .await
            .assert_problem(404, "not_found");
        }
        app.get(&format!("/api/v1/regions/{}/roster", t.group), Some(token))
            .await
            .assert_problem(404, "not_found");
        app.get(
            &format!("/api/v1/regions/{}/committee", t.township),
            Some(token),
        )
        .await
        .assert_problem(404, "not_found");
    }
    app.patch(
        &format!("/api/v1/regions/{}", t.group),
        Some(&far_admin),
        json!({"name": "越权"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.delete(&format!("/api/v1/regions/{}", t.group), Some(&far_admin))
        .await
        .assert_problem(404, "not_found");
    app.put(
        &format!("/api/v1/regions/{}/supervisor", t.group),
        Some(&far_admin),
        json!({"user_id": cadre}),
    )
    .await
    .assert_problem(404, "not_found");
    let r = app
        .get(&format!("/api/v1/regions/{}", t.group), Some(&root))
        .await;
    assert_eq!(r.body["name"], "一组");
    assert!(r.body["supervisor"].is_null());
    assert_eq!(count_rows(&app.db, "regions"), 8);
    let _ = id_of(&r.body);
}

/// A group or premises named by a hazard case stays.
async fn hazard_cases_keep_regions_and_premises(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (w.root.clone(), &w.t);
    let inspector = w
        .user(Role::GridInspector)
        .named("13300000001")
        .home(t.village)
        .build(&app)
        .await
        .token;
    let premises = w.premises(t.group, "一组小卖部").by(&inspector);
    let premises = premises.build(&app).await;
    let mut report = report_body(t.group, Severity::General, "私拉乱接电线");
    report["premises_id"] = json!(premises);
    let r = app.post("/api/v1/hazards", Some(&inspector), report).await;
    r.assert_status(201);
    // Everything else that held the group goes; the case keeps it.
    let r = app
        .delete(&format!("/api/v1/premises/{premises}"), Some(&root))
        .await;
    r.assert_problem(409, "conflict");
    assert!(
        r.body["detail"].as_str().unwrap().contains("hazard cases"),
        "{}",
        r.body
    );
    let r = app
        .delete(&format!("/api/v1/regions/{}", t.group), Some(&root))
        .await;
    r.assert_problem(409, "conflict");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("1 hazard cases"),
        "{}",
        r.body
    );
    let r = app
        .delete(&format!("/api/v1/regions/{}", t.county), Some(&root))
        .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("hazard cases"),
        "{}",
        r.body
    );
}

db_tests!(
    hazard_cases_keep_regions_and_premises,
    patch_region_renames_and_guards_codes,
    delete_region_only_when_nothing_refers_to_it,
    supervisors_come_from_the_tier_above,
    roster_shows_one_leader_three_officers,
    compliance_rolls_up_per_child,
    township_committee,
    other_county_sees_nothing,
);
