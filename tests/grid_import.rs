//! Bulk import (批量导入) over HTTP and as the command line runs it, and the demo county: all or
//! nothing, every bad line reported, re-runs change nothing, scope respected.

mod common;

use actix_web::test::TestRequest;
use common::{count_rows, login, root_token, spawn, tree, user_with_role, Backend, PASSWORD};
use firegrid::demo::{county_csv, CountySpec, DEMO_ACCOUNTS, DEMO_PASSWORD};
use serde_json::json;

fn small_county() -> String {
    county_csv(&CountySpec {
        townships: 2,
        villages: 2,
        groups: 2,
        premises_per_group: 2,
        demo_accounts: false,
    })
}

fn tables() -> [&'static str; 6] {
    [
        "regions",
        "organizations",
        "users",
        "role_assignments",
        "premises",
        "organization_jurisdictions",
    ]
}

fn counts(db: &common::TestDb) -> Vec<i64> {
    tables().iter().map(|t| count_rows(db, t)).collect()
}

async fn import_applies_once_and_reruns_change_nothing(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let csv = small_county();

    let r = app.import_csv(&root, csv.clone()).await;
    let first = r.assert_status(200).clone();
    // 3 above + 2 townships + 4 villages + 8 groups.
    assert_eq!(first["regions"]["created"], 17);
    // A fire department; per township a police station and 4 committee bodies; 1 micro station.
    assert_eq!(first["organizations"]["created"], 1 + 2 * 5 + 2);
    // County official, fire officer; per township 2 officials and 1 police officer; per village
    // a cadre and a village policeman; 4 per group.
    let people = 2 + 2 * 3 + 4 * 2 + 8 * 4;
    assert_eq!(first["people"]["created"], people);
    assert_eq!(first["roles"]["created"], people);
    assert_eq!(first["premises"]["created"], 16);
    assert_eq!(first["supervisors"]["created"], 2 + 4 + 8);
    let after_first = counts(&app.db);

    // Again, with a BOM and Windows line ends: nothing changes.
    let crlf = format!("\u{feff}{}", csv.replace('\n', "\r\n"));
    let r = app.import_csv(&root, crlf).await;
    let second = r.assert_status(200);
    for k in [
        "regions",
        "organizations",
        "people",
        "roles",
        "premises",
        "supervisors",
    ] {
        assert_eq!(
            (second[k]["created"].as_u64(), second[k]["updated"].as_u64()),
            (Some(0), Some(0)),
            "{k}"
        );
        assert_eq!(second[k]["unchanged"], first[k]["created"], "{k}");
    }
    assert_eq!(counts(&app.db), after_first);

    // The grid it built: complete rosters, the committee, supervisors.
    let county = region_id(&app, &root, "630106").await;
    let body = app
        .get(
            &format!("/api/v1/regions/{county}/roster-compliance"),
            Some(&root),
        )
        .await
        .body;
    assert_eq!(
        (body["groups_total"].as_i64(), body["rate"].as_f64()),
        (Some(8), Some(1.0))
    );
    let township = region_id(&app, &root, "630106101").await;
    let body = app
        .get(
            &format!("/api/v1/regions/{township}/committee"),
            Some(&root),
        )
        .await
        .body;
    assert_eq!(body["police_station"]["name"], "李家山派出所");
    assert_eq!(body["members"].as_array().unwrap().len(), 4);
    assert_eq!(body["officials"][0]["title"], "镇长（主任）");
    let body = app
        .get(&format!("/api/v1/regions/{township}"), Some(&root))
        .await
        .body;
    assert!(body["supervisor"]["id"].is_i64());

    // A changed name and a changed premises are updated, the rest left alone.
    let edited =
        csv.replacen(",李家山镇,", ",李家山镇（改）,", 1)
            .replacen(",shop,", ",restaurant,", 1);
    assert_ne!(edited, csv);
    let body = app
        .import_csv(&root, edited)
        .await
        .assert_status(200)
        .clone();
    assert_eq!(body["regions"]["updated"], 1);
    assert_eq!(body["premises"]["updated"], 1);
    assert_eq!(body["people"]["created"], 0);
    assert_eq!(
        app.get(&format!("/api/v1/regions/{township}"), Some(&root))
            .await
            .body["name"],
        "李家山镇（改）"
    );
}

async fn region_id(app: &common::TestApp, token: &str, code: &str) -> i64 {
    let r = app.get("/api/v1/regions?limit=200", Some(token)).await;
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .and_then(|i| i["id"].as_i64())
        .unwrap()
}

const HEADER: &str = "kind,level,code,parent_code,name,supervisor,org_kind,region_code,jurisdiction,username,display_name,phone,role,organization,title,background,category,address,lat,lng,contact_name,contact_phone,signage\n";

async fn every_bad_line_is_reported_and_nothing_is_written(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let before = counts(&app.db);
    let csv = format!(
        "{HEADER}\
         region,township,630106150,630106,新镇,,,,,,,,,,,,,,,,,,\n\
         region,group,630106150009,630106150,越级组,,,,,,,,,,,,,,,,,,\n\
         region,village,630106150001,639999,孤村,,,,,,,,,,,,,,,,,,\n\
         region,village,630106101001,630106101,李家山村,,,,,,,,,,,,,,,,,,\n\
         person,,,,,,,630106101001001,,13100000001,张三,,captain,,,,,,,,,,\n\
         person,,,,,,,630106101001001,,13100000002,李四,,grid_leader,,,security_guard,,,,,,,\n\
         person,,,,,,,630106101001001,,13100000003,王五,,grid_inspector,,,,,,,,,,\n\
         premises,,,,小卖部,,,630106101001,,,,,,,,,shop,一组,36.5,200,,,\n\
         premises,,,,小卖部,,,630106101001001,,,,,,,,,bank,一组,,,,,\n\
         organization,,,,李家山派出所,,police_station,630106101,630106101001,,,,,,,,,,,,,,\n"
    );
    let r = app.import_csv(&root, csv).await;
    r.assert_problem(422, "validation_failed");
    let errors: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let fields: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
    // Parse errors come first, all of them, and stop the import before anything is looked up.
    assert_eq!(
        fields,
        ["line 6: role", "line 9: lng", "line 10: category"],
        "{errors:?}"
    );
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("nothing was changed"));

    // With those fixed, the remaining lines fail against the database.
    let csv = format!(
        "{HEADER}\
         region,township,630106150,630106,新镇,,,,,,,,,,,,,,,,,,\n\
         region,group,630106150009,630106150,越级组,,,,,,,,,,,,,,,,,,\n\
         region,village,630106150001,639999,孤村,,,,,,,,,,,,,,,,,,\n\
         region,village,630106101001,630106150,李家山村,,,,,,,,,,,,,,,,,,\n\
         person,,,,,,,630106101001001,,13100000002,李四,,grid_leader,,,security_guard,,,,,,,\n\
         person,,,,,,,630106101001001,,13100000003,王五,,grid_inspector,,镇长,,,,,,,,\n\
         premises,,,,小卖部,,,630106101001,,,,,,,,,shop,一组,36.5,101.5,,,\n\
         organization,,,,李家山派出所,,police_station,630106101,630106101001,,,,,,,,,,,,,,\n\
         person,,,,,,,630106101001001,,13100000004,赵六,,police_officer,,,,,,,,,,\n"
    );
    let r = app.import_csv(&root, csv).await;
    r.assert_problem(422, "validation_failed");
    let fields: Vec<String> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        fields,
        [
            "line 4: parent_code",   // unknown parent (villages come before groups)
            "line 5: parent_code",   // an existing village cannot move
            "line 3: level",         // a group under a township
            "line 9: jurisdiction",  // a village is not a township
            "line 6: background",    // not a leader's background
            "line 7: title",         // only township officials carry titles
            "line 10: organization", // police officers belong to a station
            "line 8: region_code",   // premises lie in groups
        ],
        "{}",
        r.body
    );
    assert_eq!(counts(&app.db), before, "nothing half-written");
    let _ = t;
}

async fn broken_files(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    tree(&app, &root).await;
    let before = counts(&app.db);
    let field = |r: &common::Resp| {
        r.body["errors"][0]["field"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    // GBK ("湟中区") instead of UTF-8.
    let mut gbk = b"kind,level,code,parent_code,name\nregion,township,630106160,630106,".to_vec();
    gbk.extend_from_slice(b"\xe4\xd2\xd6\xd0\xc7\xf8\n");
    let r = app.import_csv(&root, gbk).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(field(&r), "line 2: file");
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("UTF-8"));

    // Missing and unknown columns; no kind column; an unknown kind; a ragged line.
    let r = app
        .import_csv(&root, "kind,code,name\nregion,630106160,新镇\n")
        .await;
    assert_eq!(field(&r), "line 1: level");
    let r = app
        .import_csv(
            &root,
            "kind,level,code,name,colour\nregion,township,1,新镇,红\n",
        )
        .await;
    assert_eq!(field(&r), "line 1: colour");
    let r = app
        .import_csv(&root, "level,code,name\ntownship,1,新镇\n")
        .await;
    assert_eq!(field(&r), "line 1: kind");
    let r = app
        .import_csv(
            &root,
            "kind,level,code,name\nvillage_group,township,1,新镇\n",
        )
        .await;
    assert_eq!(field(&r), "line 2: kind");
    let r = app
        .import_csv(
            &root,
            "kind,level,code,name\nregion,township,1,新镇,多余,多余\n",
        )
        .await;
    assert_eq!(field(&r), "line 2: file");
    let r = app.import_csv(&root, "").await;
    r.assert_problem(422, "validation_failed");
    // Oversize names and bad codes.
    let r = app
        .import_csv(
            &root,
            format!(
                "kind,level,code,parent_code,name\nregion,township,6301 06,630106,{}\n",
                "镇".repeat(65)
            ),
        )
        .await;
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["line 2: code", "line 2: name"]);
    // Duplicate keys inside one file.
    let r = app
        .import_csv(&root, "kind,level,code,parent_code,name\nregion,township,630106160,630106,新镇\nregion,township,630106160,630106,新镇\n")
        .await;
    assert_eq!(field(&r), "line 3: code");

    // Not CSV at all: 415.
    let r = app
        .send(
            TestRequest::post()
                .uri("/api/v1/import")
                .insert_header(("authorization", format!("Bearer {root}")))
                .insert_header(("content-type", "application/json"))
                .set_payload("{}"),
        )
        .await;
    r.assert_problem(415, "unsupported_media_type");
    assert_eq!(counts(&app.db), before);
}

async fn leaders_and_existing_accounts(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let (existing_leader, _) = user_with_role(
        &app,
        &root,
        "13000000001",
        t.village,
        "grid_leader",
        Some(t.group),
        None,
    )
    .await;
    let before = counts(&app.db);

    // A second leader: in the file, and against the database.
    let csv = "kind,username,display_name,region_code,role\n\
               person,13000000002,马成,630106101001001,grid_leader\n";
    let r = app.import_csv(&root, csv).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "line 2: role");
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("already has a grid leader"));
    assert_eq!(counts(&app.db), before);

    // The existing leader on the file again: unchanged; new people get roles on top.
    let csv = "kind,username,display_name,region_code,role,background\n\
               person,13000000001,用户13000000001,630106101001001,grid_leader,\n\
               person,13000000002,马成,630106101001001,grid_inspector,security_guard\n\
               person,13000000002,马成,630106101001001,grid_handler,micro_fire_station_member\n\
               person,13000000003,韩梅,630106101001001,grid_coordinator,fire_volunteer\n";
    let r = app.import_csv(&root, csv).await;
    let body = r.assert_status(200);
    assert_eq!(
        (
            body["people"]["created"].as_u64(),
            body["people"]["unchanged"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        (
            body["roles"]["created"].as_u64(),
            body["roles"]["unchanged"].as_u64()
        ),
        (Some(3), Some(1))
    );
    let roster = app
        .get(&format!("/api/v1/regions/{}/roster", t.group), Some(&root))
        .await
        .body;
    assert_eq!(roster["complete"], true);
    assert_eq!(roster["leader"]["user_id"], existing_leader);
    assert_eq!(
        roster["handlers"][0]["background"],
        "micro_fire_station_member"
    );

    // The same username with another name in one file.
    let csv = "kind,username,display_name,region_code,role\n\
               person,13000000009,甲,630106101001001,grid_inspector\n\
               person,13000000009,乙,630106101001001,grid_handler\n";
    let r = app.import_csv(&root, csv).await;
    assert_eq!(r.body["errors"][0]["field"], "line 3: display_name");

    // Imported accounts cannot log in until an administrator sets a password.
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "13000000002", "password": PASSWORD}),
        )
        .await;
    r.assert_problem(401, "unauthenticated");
    let uid = roster["inspectors"][0]["user_id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/users/{uid}/reset-password"),
        Some(&root),
        json!({"new_password": PASSWORD}),
    )
    .await
    .assert_status(204);
    let token = login(&app, "13000000002", PASSWORD).await;
    let mine = app.get("/api/v1/regions", Some(&token)).await.body;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["id"], t.group);
}

async fn import_respects_scope_and_role(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let (_, far) = user_with_role(
        &app,
        &root,
        "datong.admin",
        t.other_county,
        "admin",
        Some(t.other_county),
        None,
    )
    .await;
    let (_, official) = user_with_role(
        &app,
        &root,
        "12900000001",
        t.county,
        "county_official",
        Some(t.county),
        None,
    )
    .await;
    let before = counts(&app.db);

    // 大通县's administrator cannot touch 湟中区: its codes are unknown to them, and its codes are taken.
    let csv = "kind,level,code,parent_code,name,username,display_name,region_code,role\n\
               region,village,630106101009,630106101,越权村,,,,\n\
               region,township,630106101,630121,李家山镇,,,,\n\
               region,province,640000,,宁夏,,,,\n\
               person,,,,,12900000002,某人,630106101001001,grid_inspector\n\
               region,village,630121100001,630121100,桥头村,,,,\n";
    let r = app.import_csv(&far, csv).await;
    r.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "line 4: parent_code",
            "line 3: code",
            "line 2: parent_code",
            "line 5: region_code"
        ],
        "{}",
        r.body
    );
    assert!(
        r.body["errors"][2]["message"]
            .as_str()
            .unwrap()
            .contains("630106101"),
        "{}",
        r.body
    );
    assert_eq!(counts(&app.db), before);

    // Inside their own county it works.
    let r = app
        .import_csv(
            &far,
            "kind,level,code,parent_code,name\nregion,village,630121100001,630121100,桥头村\n",
        )
        .await;
    assert_eq!(r.assert_status(200)["regions"]["created"], 1);

    // Only administrators import.
    app.import_csv(&official, "kind,level,code,parent_code,name\n")
        .await
        .assert_problem(403, "forbidden");
    let r = app
        .send(
            TestRequest::post()
                .uri("/api/v1/import")
                .insert_header(("content-type", "text/csv")),
        )
        .await;
    r.assert_problem(401, "unauthenticated");
}

/// `firegrid import` runs the same code as the endpoint, as the system.
async fn command_line_import_is_all_or_nothing(b: Backend) {
    let app = spawn(b).await;
    let mut conn = app.db.conn();
    let csv = small_county();
    let first = firegrid::import::run_as_system(&mut conn, csv.as_bytes()).unwrap();
    assert_eq!(first.regions.created, 17);
    let again = firegrid::import::run_as_system(&mut conn, csv.as_bytes()).unwrap();
    assert!(again.changed_nothing(), "{again:?}");
    let before = counts(&app.db);
    let broken = format!("{csv}premises,,,,坏行,,,630106101001001,,,,,,,,,shop,地址,95,0,,,\n");
    let err = firegrid::import::run_as_system(&mut conn, broken.as_bytes()).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert!(err.errors[0].field.ends_with(": lat"), "{:?}", err.errors);
    // A bigger county whose last line fails after everything new was written: all rolled back.
    let bigger = county_csv(&CountySpec {
        townships: 3,
        villages: 2,
        groups: 2,
        premises_per_group: 2,
        demo_accounts: false,
    });
    let late = format!("{bigger}person,,,,,,,999999,,12800000001,某人,,grid_inspector\n");
    let err = firegrid::import::run_as_system(&mut conn, late.as_bytes()).unwrap_err();
    assert_eq!(err.errors.len(), 1, "{:?}", err.errors);
    assert!(
        err.errors[0].field.ends_with(": region_code"),
        "{:?}",
        err.errors
    );
    assert_eq!(counts(&app.db), before);
    let applied = firegrid::import::run_as_system(&mut conn, bigger.as_bytes()).unwrap();
    assert_eq!(applied.regions.created, 1 + 2 + 4);
}

async fn demo_county_loads_into_an_empty_database_only(b: Backend) {
    let app = spawn(b).await;
    let report = {
        let mut conn = app.db.conn();
        firegrid::demo::load(&mut conn).expect("the demo loads")
    };
    assert_eq!(report.import.regions.created, 3 + 3 + 12 + 36);
    assert_eq!(report.import.premises.created, 72);
    {
        let mut conn = app.db.conn();
        let again = firegrid::demo::load(&mut conn)
            .err()
            .expect("refuses a second time");
        assert!(again.to_string().contains("already holds data"), "{again}");
    }

    // One account per role, each logging in with the demo password.
    for (username, role, _) in DEMO_ACCOUNTS {
        let token = login(&app, username, DEMO_PASSWORD).await;
        let me = app.get("/api/v1/me", Some(&token)).await;
        let roles: Vec<&str> = me.body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["role"].as_str().unwrap())
            .collect();
        assert!(roles.contains(&role.as_str()), "{username}: {roles:?}");
    }
    // The grid inspector sees exactly their own group.
    let inspector = login(&app, "demo.inspector", DEMO_PASSWORD).await;
    let regions = app.get("/api/v1/regions", Some(&inspector)).await.body;
    let items = regions["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "一组");
    let group = items[0]["id"].as_i64().unwrap();
    let detail = app
        .get(&format!("/api/v1/regions/{group}"), Some(&inspector))
        .await
        .body;
    let crumbs: Vec<&str> = detail["ancestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        crumbs,
        ["青海省", "西宁市", "湟中区", "李家山镇", "李家山村"]
    );
    let roster = app
        .get(&format!("/api/v1/regions/{group}/roster"), Some(&inspector))
        .await
        .body;
    assert_eq!(roster["complete"], true);
    let premises = app.get("/api/v1/premises", Some(&inspector)).await.body;
    assert_eq!(premises["items"].as_array().unwrap().len(), 2);

    // Everything complete; every category present; a station per township and a fire department.
    let county = login(&app, "demo.county", DEMO_PASSWORD).await;
    let all = app
        .get("/api/v1/premises?limit=200", Some(&county))
        .await
        .body;
    let mut cats: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["category"].as_str().unwrap())
        .collect();
    cats.sort();
    cats.dedup();
    assert_eq!(cats.len(), 12);
    let stations = app
        .get("/api/v1/organizations?kind=police_station", Some(&county))
        .await
        .body;
    assert_eq!(stations["items"].as_array().unwrap().len(), 3);
    assert!(stations["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["jurisdiction"].as_array().unwrap().len() == 1));
    let fire = app
        .get("/api/v1/organizations?kind=fire_department", Some(&county))
        .await
        .body;
    assert_eq!(fire["items"][0]["jurisdiction"][0]["name"], "湟中区");
    let county_id = fire["items"][0]["region"]["id"].as_i64().unwrap();
    let compliance = app
        .get(
            &format!("/api/v1/regions/{county_id}/roster-compliance"),
            Some(&county),
        )
        .await
        .body;
    assert_eq!(
        (
            compliance["groups_total"].as_i64(),
            compliance["rate"].as_f64()
        ),
        (Some(36), Some(1.0))
    );
    let townships: Vec<&str> = compliance["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["region"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(townships, ["李家山镇", "多巴镇", "鲁沙尔镇"]);
}

/// A database that holds anything at all is refused by the demo.
async fn demo_refuses_a_used_database(b: Backend) {
    let app = spawn(b).await;
    root_token(&app).await;
    let mut conn = app.db.conn();
    assert!(firegrid::demo::load(&mut conn).is_err());
    assert_eq!(count_rows(&app.db, "regions"), 0);
}

db_tests!(
    import_applies_once_and_reruns_change_nothing,
    every_bad_line_is_reported_and_nothing_is_written,
    broken_files,
    leaders_and_existing_accounts,
    import_respects_scope_and_role,
    command_line_import_is_all_or_nothing,
    demo_county_loads_into_an_empty_database_only,
    demo_refuses_a_used_database,
);
