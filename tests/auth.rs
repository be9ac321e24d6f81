//! Identity: login, throttling, tokens, refresh rotation, logout, password changes, first start.

mod common;

use actix_web::test::TestRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use serde_json::json;

async fn login_returns_tokens_and_user(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let (uid, _) = user_with_role(
        &app,
        &root,
        "13800000001",
        t.group,
        "grid_inspector",
        Some(t.group),
        None,
    )
    .await;
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "13800000001", "password": PASSWORD}),
        )
        .await;
    let body = r.assert_status(200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40);
    assert_eq!(body["user"]["id"], uid);
    assert_eq!(body["user"]["roles"][0]["role"], "grid_inspector");
    assert_eq!(body["user"]["region"]["name"], "一组");
    assert!(body["user"].get("password_hash").is_none());
    // Usernames are case- and whitespace-insensitive.
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": " ROOT ", "password": PASSWORD}),
        )
        .await;
    r.assert_status(200);
}

async fn unknown_user_and_wrong_password_look_the_same(b: Backend) {
    let app = spawn(b).await;
    root_token(&app).await;
    let a = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "root", "password": "wrong-password-1"}),
        )
        .await;
    let u = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "nobody", "password": "wrong-password-1"}),
        )
        .await;
    a.assert_problem(401, "unauthenticated");
    u.assert_problem(401, "unauthenticated");
    assert_eq!(a.body, u.body);
}

async fn five_failures_lock_the_account_even_for_the_right_password(b: Backend) {
    let app = spawn(b).await;
    root_token(&app).await;
    for _ in 0..5 {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"username": "root", "password": "wrong-password-1"}),
        )
        .await
        .assert_problem(401, "unauthenticated");
    }
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "root", "password": PASSWORD}),
        )
        .await;
    r.assert_problem(429, "rate_limited");
    let retry: u64 = r
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&retry), "retry-after {retry}");
}

async fn failures_from_one_address_are_limited_but_a_busy_office_is_not(b: Backend) {
    let app = spawn_with(TestDb::new(b), |s| {
        s.trusted_proxies = vec!["10.0.0.1".parse().unwrap()]
    })
    .await;
    root_token(&app).await;
    let attempt = |user: String, ip: &'static str, pw: &'static str| {
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", ip))
            .set_json(json!({"username": user, "password": pw}))
    };
    // A township office behind one address: successful logins never count.
    for _ in 0..3 {
        app.send(attempt("root".into(), "203.0.113.5", PASSWORD))
            .await
            .assert_status(200);
    }
    // Spraying: 100 failures over many usernames from one address.
    for i in 0..100 {
        app.send(attempt(
            format!("user{i}"),
            "203.0.113.5",
            "wrong-password-1",
        ))
        .await
        .assert_problem(401, "unauthenticated");
    }
    let r = app
        .send(attempt("root".into(), "203.0.113.5", PASSWORD))
        .await;
    r.assert_problem(429, "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
    // Another address is unaffected; the forwarded address is believed only from the proxy.
    app.send(attempt("root".into(), "198.51.100.1", PASSWORD))
        .await
        .assert_status(200);
}

async fn disabled_users_cannot_log_in_and_lose_their_sessions(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let (uid, token) = user_with_role(
        &app,
        &root,
        "13800000002",
        t.village,
        "village_cadre",
        Some(t.village),
        None,
    )
    .await;
    app.get("/api/v1/me", Some(&token)).await.assert_status(200);
    let r = app
        .json(
            actix_web::http::Method::PATCH,
            &format!("/api/v1/users/{uid}"),
            Some(&root),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.assert_status(200)["disabled"], true);
    app.get("/api/v1/me", Some(&token))
        .await
        .assert_problem(401, "unauthenticated");
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"username": "13800000002", "password": PASSWORD}),
    )
    .await
    .assert_problem(401, "unauthenticated");
}

fn forge(token: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut payload);
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    )
}

async fn bad_tokens_are_401(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    app.get("/api/v1/me", Some(&root)).await.assert_status(200);
    let r = app.get("/api/v1/me", None).await;
    r.assert_problem(401, "unauthenticated");
    assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
    // Tampered: a changed claim breaks the signature.
    let tampered = forge(&root, |p| p["sub"] = "2".into());
    app.get("/api/v1/me", Some(&tampered))
        .await
        .assert_problem(401, "unauthenticated");
    // alg: none.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = root.split('.').nth(1).unwrap();
    app.get("/api/v1/me", Some(&format!("{header}.{payload}.")))
        .await
        .assert_problem(401, "unauthenticated");
    // Wrong key, and expired beyond the leeway, with otherwise valid claims.
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let uid: i64 = claims["sub"].as_str().unwrap().parse().unwrap();
    let sid = claims["sid"].as_str().unwrap();
    let other = firegrid::auth::tokens::TokenKeys::new(b"a-different-secret-a-different-secret");
    let wrong_key = other.issue(uid, 1, sid, 900).unwrap();
    app.get("/api/v1/me", Some(&wrong_key))
        .await
        .assert_problem(401, "unauthenticated");
    let expired = app.state.tokens.issue(uid, 1, sid, -30).unwrap();
    app.get("/api/v1/me", Some(&expired))
        .await
        .assert_problem(401, "unauthenticated");
    let fresh = app.state.tokens.issue(uid, 1, sid, 60).unwrap();
    app.get("/api/v1/me", Some(&fresh)).await.assert_status(200);
    // A token of an older version (before a password change) no longer counts.
    let stale = app.state.tokens.issue(uid, 0, sid, 60).unwrap();
    app.get("/api/v1/me", Some(&stale))
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/api/v1/me", Some("not-a-jwt"))
        .await
        .assert_problem(401, "unauthenticated");
}

async fn refresh_rotates_and_reuse_revokes_the_family(b: Backend) {
    let app = spawn(b).await;
    root_token(&app).await;
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "root", "password": PASSWORD}),
        )
        .await;
    let first = r.assert_status(200).clone();
    let r1 = first["refresh_token"].as_str().unwrap();
    let r = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await;
    let second = r.assert_status(200).clone();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    let access2 = second["access_token"].as_str().unwrap();
    app.get("/api/v1/me", Some(access2))
        .await
        .assert_status(200);
    // Replaying the rotated token: refused, and the whole session ends.
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await
        .assert_problem(401, "unauthenticated");
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": r2}))
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/api/v1/me", Some(access2))
        .await
        .assert_problem(401, "unauthenticated");
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": "garbage"}),
    )
    .await
    .assert_problem(401, "unauthenticated");
}

async fn logout_ends_the_session_only(b: Backend) {
    let app = spawn(b).await;
    let phone = root_token(&app).await;
    let laptop = login(&app, "root", PASSWORD).await;
    let r = app
        .json(
            actix_web::http::Method::POST,
            "/api/v1/auth/logout",
            Some(&phone),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    app.get("/api/v1/me", Some(&phone))
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/api/v1/me", Some(&laptop))
        .await
        .assert_status(200);
    // The case endpoints load the caller inside their own database call (`Caller`): the same
    // checks apply there, before anything is read or written.
    for path in [
        "/api/v1/hazards",
        "/api/v1/hazards/1",
        "/api/v1/hazards/1/events",
        "/api/v1/hazards/1/attachments",
        "/api/v1/me/notifications",
    ] {
        app.get(path, Some(&phone))
            .await
            .assert_problem(401, "unauthenticated");
        let r = app.get(path, None).await;
        r.assert_problem(401, "unauthenticated");
        assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
        // The other session of the same user is still let in (a 404 for a case that does not
        // exist is fine; a 401 is not).
        assert_ne!(
            app.get(path, Some(&laptop)).await.status.as_u16(),
            401,
            "{path}"
        );
    }
    let report = json!({
        "group_id": 1, "category": "electrical", "severity": "general", "title": "私拉电线",
        "description": "院内私拉电线", "source": "patrol"
    });
    app.post("/api/v1/hazards", Some(&phone), report)
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/api/v1/hazards", Some(&laptop))
        .await
        .assert_status(200);
}

async fn changing_the_password_ends_every_token(b: Backend) {
    let app = spawn(b).await;
    root_token(&app).await;
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "root", "password": PASSWORD}),
        )
        .await;
    let body = r.assert_status(200).clone();
    let (access, refresh) = (
        body["access_token"].as_str().unwrap(),
        body["refresh_token"].as_str().unwrap(),
    );
    let r = app
        .post(
            "/api/v1/me/password",
            Some(access),
            json!({"current_password": "wrong-password-1", "new_password": "新的密码-湟中-2027"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "current_password");
    let r = app
        .post(
            "/api/v1/me/password",
            Some(access),
            json!({"current_password": PASSWORD, "new_password": "1234567890"}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "new_password");
    let r = app
        .post(
            "/api/v1/me/password",
            Some(access),
            json!({"current_password": PASSWORD, "new_password": "新的密码-湟中-2027"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    app.get("/api/v1/me", Some(access))
        .await
        .assert_problem(401, "unauthenticated");
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh}),
    )
    .await
    .assert_problem(401, "unauthenticated");
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"username": "root", "password": PASSWORD}),
    )
    .await
    .assert_problem(401, "unauthenticated");
    login(&app, "root", "新的密码-湟中-2027").await;
}

async fn admin_reset_ends_every_token(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let (uid, token) = user_with_role(
        &app,
        &root,
        "13800000003",
        t.township,
        "township_official",
        Some(t.township),
        None,
    )
    .await;
    let r = app
        .post(
            &format!("/api/v1/users/{uid}/reset-password"),
            Some(&root),
            json!({"new_password": "password123"}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "new_password");
    let r = app
        .post(
            &format!("/api/v1/users/{uid}/reset-password"),
            Some(&root),
            json!({"new_password": "重置后的密码-李家山"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    app.get("/api/v1/me", Some(&token))
        .await
        .assert_problem(401, "unauthenticated");
    login(&app, "13800000003", "重置后的密码-李家山").await;
}

async fn first_start_creates_one_admin(b: Backend) {
    let db = TestDb::new(b);
    let mut conn = db.conn();
    assert!(firegrid::bootstrap::ensure_admin(&mut conn, Some("short")).is_err());
    let generated = firegrid::bootstrap::ensure_admin(&mut conn, None).unwrap();
    let pw = generated.expect("a random password is returned to be logged once");
    assert_eq!(pw.len(), 20);
    // Second start: nothing new.
    assert_eq!(
        firegrid::bootstrap::ensure_admin(&mut conn, Some("something-long-enough")).unwrap(),
        None
    );
    drop(conn);
    let app = spawn_with(db, |_| {}).await;
    let token = login(&app, "admin", &pw).await;
    let me = app.get("/api/v1/me", Some(&token)).await;
    let me = me.assert_status(200);
    assert_eq!(me["roles"][0]["role"], "admin");
    assert!(me["roles"][0]["region"].is_null());
    assert_eq!(me["scope"]["global"], true);
}

async fn me_shows_roles_and_scope(b: Backend) {
    let app = spawn(b).await;
    let root = root_token(&app).await;
    let t = tree(&app, &root).await;
    let station = create_org(&app, &root, "police_station", "李家山派出所", t.county).await;
    app.json(
        actix_web::http::Method::PUT,
        &format!("/api/v1/organizations/{station}/jurisdiction"),
        Some(&root),
        Some(json!({"region_ids": [t.township]})),
    )
    .await
    .assert_status(200);
    let (_, token) = user_with_role(
        &app,
        &root,
        "police01",
        t.county,
        "police_officer",
        None,
        Some(station),
    )
    .await;
    let me = app.get("/api/v1/me", Some(&token)).await;
    let me = me.assert_status(200);
    assert_eq!(me["roles"][0]["organization"]["name"], "李家山派出所");
    assert_eq!(me["scope"]["global"], false);
    assert_eq!(me["scope"]["regions"][0]["name"], "李家山镇");
    // The officer sees the township, not the rest of the county.
    app.get(&format!("/api/v1/regions/{}", t.village), Some(&token))
        .await
        .assert_status(200);
    app.get(&format!("/api/v1/regions/{}", t.county), Some(&token))
        .await
        .assert_problem(404, "not_found");
}

db_tests!(
    login_returns_tokens_and_user,
    unknown_user_and_wrong_password_look_the_same,
    five_failures_lock_the_account_even_for_the_right_password,
    failures_from_one_address_are_limited_but_a_busy_office_is_not,
    disabled_users_cannot_log_in_and_lose_their_sessions,
    bad_tokens_are_401,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_ends_the_session_only,
    changing_the_password_ends_every_token,
    admin_reset_ends_every_token,
    first_start_creates_one_admin,
    me_shows_roles_and_scope,
);
