//! Holes found when the API was tried as an attacker (issue 10): accounts and organisations that
//! reach beyond their administrator, headers and throttling, and supervisors who lose the role
//! their supervision rests on.

mod common;

use common::*;
use serde_json::{json, Value};

/// Creates an account homed in `home` without any role; returns its id.
async fn account(app: &TestApp, admin: &str, username: &str, name: &str, home: i64) -> i64 {
    let r = app
        .post(
            "/api/v1/users",
            Some(admin),
            json!({"username": username, "display_name": name, "region_id": home, "password": PASSWORD}),
        )
        .await;
    id_of(r.assert_status(201))
}

/// The world, and 湟中区's administrator (`admin_huangzhong`).
async fn county_admin(app: &TestApp) -> (World, String) {
    let w = World::new(app).await;
    let admin = w
        .user(Role::Admin)
        .named("admin_huangzhong")
        .build(app)
        .await;
    (w, admin.token)
}

/// A township official of 李家山镇 (county A) who also sits on 桥头镇's committee (county B).
async fn straddler(app: &TestApp, w: &World, username: &str) -> i64 {
    let official = w
        .user(Role::TownshipOfficial)
        .named(username)
        .build(app)
        .await;
    app.grant(
        &w.root,
        official.id,
        json!({"role": "township_official", "region_id": w.t.other_township}),
    )
    .await
    .assert_status(201);
    official.id
}

/// Every account-management endpoint, tried by an administrator of county A (湟中区) on an
/// account homed in A that also works in county B (大通县), on a global administrator homed in
/// A, and on a fire officer whose department answers for both counties: 403 for each, nothing
/// changes, and the same calls on an account that stays inside A succeed.
async fn an_admin_manages_only_accounts_inside_their_reach(b: Backend) {
    let app = spawn(b).await;
    let (w, admin_a) = county_admin(&app).await;
    let (root, t) = (&w.root, &w.t);
    let straddler = straddler(&app, &w, "13900000001").await;
    // 周海: a global administrator whose home region is county A.
    let global = account(&app, root, "13900000002", "周海", t.county).await;
    app.grant(root, global, json!({"role": "admin"}))
        .await
        .assert_status(201);
    // 韩立: a fire officer of a department whose jurisdiction covers both counties.
    let fire = w
        .org(OrgKind::FireDepartment, "西宁市消防救援支队", t.county)
        .answers_for(&[t.county, t.other_county])
        .build(&app)
        .await
        .id;
    let officer = account(&app, root, "13900000003", "韩立", t.township).await;
    app.grant(
        root,
        officer,
        json!({"role": "fire_officer", "organization_id": fire}),
    )
    .await
    .assert_status(201);
    // 李秀兰: works only in A; the control.
    let local = w
        .user(Role::VillageCadre)
        .named("13900000004")
        .build(&app)
        .await
        .id;

    for (target, username) in [
        (straddler, "13900000001"),
        (global, "13900000002"),
        (officer, "13900000003"),
    ] {
        let before = app
            .get(&format!("/api/v1/users/{target}"), Some(root))
            .await
            .assert_status(200)
            .clone();
        // The administrator sees the account (its home is in A) …
        app.get(&format!("/api/v1/users/{target}"), Some(&admin_a))
            .await
            .assert_status(200);
        // … but manages none of it.
        app.patch(
            &format!("/api/v1/users/{target}"),
            Some(&admin_a),
            json!({"display_name": "被改的名字"}),
        )
        .await
        .assert_problem(403, "forbidden");
        app.patch(
            &format!("/api/v1/users/{target}"),
            Some(&admin_a),
            json!({"disabled": true}),
        )
        .await
        .assert_problem(403, "forbidden");
        app.post(
            &format!("/api/v1/users/{target}/reset-password"),
            Some(&admin_a),
            json!({"new_password": "接管账号的密码-2026"}),
        )
        .await
        .assert_problem(403, "forbidden");
        app.grant(
            &admin_a,
            target,
            json!({"role": "village_cadre", "region_id": t.village}),
        )
        .await
        .assert_problem(403, "forbidden");
        let first_role = before["roles"][0]["id"].as_i64().unwrap();
        app.delete(
            &format!("/api/v1/users/{target}/roles/{first_role}"),
            Some(&admin_a),
        )
        .await
        .assert_problem(403, "forbidden");
        let after = app
            .get(&format!("/api/v1/users/{target}"), Some(root))
            .await
            .assert_status(200)
            .clone();
        assert_eq!(before["display_name"], after["display_name"]);
        assert_eq!(after["disabled"], false);
        assert_eq!(before["roles"], after["roles"], "{username}");
        // The old password still works: nobody took the account over.
        login(&app, username, PASSWORD).await;
    }

    // Inside A the same calls go through.
    app.patch(
        &format!("/api/v1/users/{local}"),
        Some(&admin_a),
        json!({"display_name": "李秀兰"}),
    )
    .await
    .assert_status(200);
    let r = app
        .grant(
            &admin_a,
            local,
            json!({"role": "village_police", "region_id": t.village}),
        )
        .await;
    let added = r.assert_status(201)["roles"][1]["id"].as_i64().unwrap();
    app.delete(
        &format!("/api/v1/users/{local}/roles/{added}"),
        Some(&admin_a),
    )
    .await
    .assert_status(204);
    app.post(
        &format!("/api/v1/users/{local}/reset-password"),
        Some(&admin_a),
        json!({"new_password": "李家山村-新密码-2026"}),
    )
    .await
    .assert_status(204);
    app.patch(
        &format!("/api/v1/users/{local}"),
        Some(&admin_a),
        json!({"disabled": true}),
    )
    .await
    .assert_status(200);
    // A global administrator manages the global administrator homed in A.
    app.post(
        &format!("/api/v1/users/{global}/reset-password"),
        Some(root),
        json!({"new_password": "全局管理员-新密码-2026"}),
    )
    .await
    .assert_status(204);
    // And an account homed in B stays invisible: 404, as before.
    let in_b = w
        .user(Role::TownshipOfficial)
        .named("13900000005")
        .at(t.other_township)
        .build(&app)
        .await
        .id;
    app.patch(
        &format!("/api/v1/users/{in_b}"),
        Some(&admin_a),
        json!({"display_name": "外县"}),
    )
    .await
    .assert_problem(404, "not_found");
}

/// Officer roles and jurisdictions: an administrator of A may grant a role on, or change the
/// jurisdiction of, an organisation only while its whole jurisdiction (before and after) lies
/// inside A.
async fn organisations_reaching_beyond_the_admin_stay_out_of_reach(b: Backend) {
    let app = spawn(b).await;
    let (w, admin_a) = county_admin(&app).await;
    let (root, t) = (&w.root, &w.t);
    let fire = create_org(
        &app,
        root,
        "fire_department",
        "湟中区消防救援大队",
        t.county,
    )
    .await;
    let station = create_org(&app, root, "police_station", "李家山派出所", t.township).await;
    let juris = |id: i64| format!("/api/v1/organizations/{id}/jurisdiction");
    // While the department answers for A alone, A's administrator runs it.
    app.put(
        &juris(fire),
        Some(&admin_a),
        json!({"region_ids": [t.county]}),
    )
    .await
    .assert_status(200);
    app.put(
        &juris(station),
        Some(&admin_a),
        json!({"region_ids": [t.township]}),
    )
    .await
    .assert_status(200);
    let first = account(&app, &admin_a, "13800000001", "马强", t.county).await;
    app.grant(
        &admin_a,
        first,
        json!({"role": "fire_officer", "organization_id": fire}),
    )
    .await
    .assert_status(201);

    // The global administrator extends both over county B.
    app.put(
        &juris(fire),
        Some(root),
        json!({"region_ids": [t.county, t.other_county]}),
    )
    .await
    .assert_status(200);
    app.put(
        &juris(station),
        Some(root),
        json!({"region_ids": [t.township, t.other_township]}),
    )
    .await
    .assert_status(200);
    let second = account(&app, &admin_a, "13800000002", "杨帆", t.county).await;
    for (role, org) in [("fire_officer", fire), ("police_officer", station)] {
        app.grant(
            &admin_a,
            second,
            json!({"role": role, "organization_id": org}),
        )
        .await
        .assert_problem(403, "forbidden");
    }
    // Shrinking it back to A would take B's coverage away: not A's to decide.
    app.put(
        &juris(fire),
        Some(&admin_a),
        json!({"region_ids": [t.county]}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.put(
        &juris(station),
        Some(&admin_a),
        json!({"region_ids": [t.township]}),
    )
    .await
    .assert_problem(403, "forbidden");
    let r = app
        .get(&format!("/api/v1/organizations/{fire}"), Some(root))
        .await;
    assert_eq!(
        r.assert_status(200)["jurisdiction"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = app
        .get(&format!("/api/v1/users/{second}"), Some(root))
        .await;
    assert!(r.assert_status(200)["roles"].as_array().unwrap().is_empty());
}

fn header<'a>(r: &'a Resp, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `nosniff` on every answer, `no-store` on everything that carries a token.
async fn every_response_is_nosniff_and_tokens_are_never_stored(b: Backend) {
    let app = spawn(b).await;
    let root = &root_token(&app).await;
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "root", "password": PASSWORD}),
        )
        .await;
    login.assert_status(200);
    let refresh_token = login.body["refresh_token"].as_str().unwrap().to_string();
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh_token}),
        )
        .await;
    refreshed.assert_status(200);
    for r in [&login, &refreshed] {
        assert_eq!(header(r, "cache-control"), "no-store");
        assert_eq!(header(r, "x-content-type-options"), "nosniff");
    }
    let failed = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "root", "password": "不是这个密码-2026"}),
        )
        .await;
    failed.assert_problem(401, "unauthenticated");
    let answers = [
        failed,
        app.get("/api/v1/me", Some(root)).await,
        app.get("/api/v1/me", None).await,
        app.get("/api/v1/no-such-thing", None).await,
        app.get("/api/v1/regions/999999", Some(root)).await,
        app.post("/api/v1/regions", Some(root), json!({"level": 7}))
            .await,
        app.get("/no-such-thing-at-all", None).await,
        app.get("/healthz", None).await,
        app.get("/api-spec/openapi.json", None).await,
    ];
    for r in &answers {
        assert_eq!(
            header(r, "x-content-type-options"),
            "nosniff",
            "status {}",
            r.status
        );
    }
    // Answers under the API are personal: never kept by a cache.
    for r in &answers[..6] {
        assert_eq!(
            header(r, "cache-control"),
            "no-store",
            "status {}",
            r.status
        );
    }
}

/// Guessing the current password through `POST /me/password` counts toward the same account
/// lock as login: five failures between the two, and both answer 429 with `Retry-After`.
async fn password_change_guesses_share_the_login_throttle(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let token = w
        .user(Role::VillageCadre)
        .named("13700000009")
        .build(&app)
        .await
        .token;
    let change = |current: &str| {
        app.post(
            "/api/v1/me/password",
            Some(&token),
            json!({"current_password": current, "new_password": "换一个新密码-2026"}),
        )
    };
    for _ in 0..3 {
        change("猜的密码-一")
            .await
            .assert_problem(422, "validation_failed");
    }
    for _ in 0..2 {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"username": "13700000009", "password": "猜的密码-二"}),
        )
        .await
        .assert_problem(401, "unauthenticated");
    }
    // Locked now, even with the right password, on both doors.
    let r = change(PASSWORD).await;
    r.assert_problem(429, "rate_limited");
    assert!(header(&r, "retry-after").parse::<u64>().unwrap() > 0);
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "13700000009", "password": PASSWORD}),
        )
        .await;
    r.assert_problem(429, "rate_limited");
    // Counted in the database (shared by every server), like login's own failures.
    assert_eq!(count_rows(&app.db, "login_failures"), 5);
}

/// Role listings and jurisdictions name only regions inside the caller's scope.
async fn names_outside_the_scope_are_withheld(b: Backend) {
    let app = spawn(b).await;
    let (w, admin_a) = county_admin(&app).await;
    let (root, t) = (&w.root, &w.t);
    let straddler = straddler(&app, &w, "13900000011").await;
    let fire = w
        .org(OrgKind::FireDepartment, "西宁市消防救援支队", t.county)
        .answers_for(&[t.county, t.other_county])
        .build(&app)
        .await
        .id;
    let secret = ["桥头镇", "大通回族土族自治县", "630121"];
    let hides = |r: &Resp| {
        let text = String::from_utf8_lossy(&r.raw).into_owned();
        for s in secret {
            assert!(!text.contains(s), "{s} shown in {text}");
        }
    };
    // The account: the role in B is there, with its region's id only.
    let r = app
        .get(&format!("/api/v1/users/{straddler}"), Some(&admin_a))
        .await;
    let roles = r.assert_status(200)["roles"].as_array().unwrap().clone();
    hides(&r);
    assert_eq!(roles.len(), 2);
    let in_b: &Value = roles
        .iter()
        .find(|a| a["region_id"].as_i64() == Some(t.other_township))
        .expect("the role in B, by id");
    assert!(in_b["region"].is_null());
    let in_a = roles
        .iter()
        .find(|a| a["region_id"].as_i64() == Some(t.township))
        .unwrap();
    assert_eq!(in_a["region"]["name"], "李家山镇");
    hides(&app.get("/api/v1/users", Some(&admin_a)).await);
    // The department: A by name, B by id.
    let r = app
        .get(&format!("/api/v1/organizations/{fire}"), Some(&admin_a))
        .await;
    let org = r.assert_status(200).clone();
    hides(&r);
    assert_eq!(org["jurisdiction"][0]["name"], "湟中区");
    assert_eq!(org["jurisdiction"].as_array().unwrap().len(), 1);
    assert_eq!(org["jurisdiction_outside_scope"], json!([t.other_county]));
    hides(&app.get("/api/v1/organizations", Some(&admin_a)).await);
    // The global administrator sees every name; the account itself sees its own roles.
    let r = app
        .get(&format!("/api/v1/organizations/{fire}"), Some(root))
        .await;
    assert_eq!(
        r.assert_status(200)["jurisdiction"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let own = login(&app, "13900000011", PASSWORD).await;
    let r = app.get("/api/v1/me", Some(&own)).await;
    let text = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(text.contains("桥头镇"), "{text}");
}

fn supervisor_of(detail: &Value) -> Option<i64> {
    detail["supervisor"]["id"].as_i64()
}

async fn notifications_of(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/api/v1/me/notifications", Some(token))
        .await
        .assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// A supervisor (分片包干) who loses the role their supervision rests on — a revoked role, a
/// disabled account — leaves the post vacant at once; the tier above hears of it and roster
/// compliance shows it.
async fn a_supervisor_without_a_qualifying_role_leaves_a_vacancy(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (root, t) = (&w.root, &w.t);
    // 王明: village cadre and village police of 李家山村; supervises 一组.
    let wang = w
        .user(Role::VillageCadre)
        .named("13600000001")
        .build(&app)
        .await
        .id;
    let r = app
        .grant(
            root,
            wang,
            json!({"role": "village_police", "region_id": t.village}),
        )
        .await;
    let roles = r.assert_status(201)["roles"].as_array().unwrap().clone();
    let (cadre_role, police_role) = (
        roles[0]["id"].as_i64().unwrap(),
        roles[1]["id"].as_i64().unwrap(),
    );
    // 赵丽: another village cadre, who hears about the group's vacancy.
    let zhao = w
        .user(Role::VillageCadre)
        .named("13600000002")
        .build(&app)
        .await
        .token;
    // 陈刚: township official, supervises 李家山村; 刘芳, another official, hears about it.
    let chen = w
        .user(Role::TownshipOfficial)
        .named("13600000003")
        .build(&app)
        .await
        .id;
    let liu = w
        .user(Role::TownshipOfficial)
        .named("13600000004")
        .build(&app)
        .await
        .token;
    let supervise = async |region: i64, user: i64| {
        app.put(
            &format!("/api/v1/regions/{region}/supervisor"),
            Some(root),
            json!({"user_id": user}),
        )
        .await
    };
    supervise(t.group, wang).await.assert_status(200);
    supervise(t.village, chen).await.assert_status(200);
    let detail = async |id: i64| app.get(&format!("/api/v1/regions/{id}"), Some(root)).await;
    let vacant = |c: &Value| -> Vec<i64> {
        c["supervisor_vacant"]
            .as_array()
            .unwrap_or_else(|| panic!("no supervisor_vacant in {c}"))
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let compliance = app
        .get(
            &format!("/api/v1/regions/{}/roster-compliance", t.township),
            Some(root),
        )
        .await
        .assert_status(200)
        .clone();
    assert!(!vacant(&compliance).contains(&t.group));
    assert!(!vacant(&compliance).contains(&t.village));

    // Losing one of two qualifying roles changes nothing.
    app.delete(
        &format!("/api/v1/users/{wang}/roles/{police_role}"),
        Some(root),
    )
    .await
    .assert_status(204);
    let d = detail(t.group).await.assert_status(200).clone();
    assert_eq!(supervisor_of(&d), Some(wang));
    assert!(notifications_of(&app, &zhao).await.is_empty());
    // Losing the last one vacates the group.
    app.delete(
        &format!("/api/v1/users/{wang}/roles/{cadre_role}"),
        Some(root),
    )
    .await
    .assert_status(204);
    let d = detail(t.group).await.assert_status(200).clone();
    assert_eq!(supervisor_of(&d), None);
    let inbox = notifications_of(&app, &zhao).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["kind"], "supervisor_vacant");
    assert!(inbox[0]["message"].as_str().unwrap().contains("一组"));

    // Disabling the village's supervisor vacates the village; the other official is told.
    app.patch(
        &format!("/api/v1/users/{chen}"),
        Some(root),
        json!({"disabled": true}),
    )
    .await
    .assert_status(200);
    let d = detail(t.village).await.assert_status(200).clone();
    assert_eq!(supervisor_of(&d), None);
    let inbox = notifications_of(&app, &liu).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["kind"], "supervisor_vacant");
    assert!(inbox[0]["message"].as_str().unwrap().contains("李家山村"));

    let compliance = app
        .get(
            &format!("/api/v1/regions/{}/roster-compliance", t.township),
            Some(root),
        )
        .await
        .assert_status(200)
        .clone();
    let v = vacant(&compliance);
    assert!(v.contains(&t.group) && v.contains(&t.village), "{v:?}");
}

db_tests!(
    an_admin_manages_only_accounts_inside_their_reach,
    organisations_reaching_beyond_the_admin_stay_out_of_reach,
    every_response_is_nosniff_and_tokens_are_never_stored,
    password_change_guesses_share_the_login_throttle,
    names_outside_the_scope_are_withheld,
    a_supervisor_without_a_qualifying_role_leaves_a_vacancy,
);
