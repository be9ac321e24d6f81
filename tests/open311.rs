//! Open311 GeoReport v2 (issue 12): services from the hazard categories, a request posted with
//! an API key travelling verify → rectify → close while its reader sees open/closed and the
//! public reply and nothing else, GeoReport's errors for bad input, and the keys' scope.

mod common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::*;
use serde_json::{json, Value};

const PHONE: &str = "13909710002";

/// A GeoReport request from a client address, form-encoded unless a JSON body is given.
fn geo(method: Method, path: &str, addr: &str) -> TestRequest {
    TestRequest::default()
        .method(method)
        .uri(path)
        .peer_addr(format!("{addr}:40000").parse().unwrap())
}

fn form(fields: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

async fn post_form(app: &TestApp, addr: &str, fields: &[(&str, &str)]) -> Resp {
    app.send(
        geo(Method::POST, "/open311/v2/requests.json", addr)
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form(fields)),
    )
    .await
}

async fn read(app: &TestApp, path: &str) -> Resp {
    app.send(geo(Method::GET, path, "192.0.2.1")).await
}

/// Issues a key for 湟中区 as its administrator; returns (id, key).
async fn issue(app: &TestApp, admin: &str, county: i64) -> (i64, String) {
    let r = app
        .post(
            "/api/v1/open311-keys",
            Some(admin),
            json!({"name": "湟中随手拍", "county_id": county}),
        )
        .await;
    let body = r.assert_status(201).clone();
    (id_of(&body), body["api_key"].as_str().unwrap().to_string())
}

/// A GeoReport error answer: the status, and an array of one `{code, description}`.
#[track_caller]
fn assert_geo_error(r: &Resp, status: u16, mentions: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert!(
        r.content_type().starts_with("application/json"),
        "{}",
        r.content_type()
    );
    let errors = r
        .body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {}", r.body));
    assert_eq!(errors.len(), 1, "{}", r.body);
    assert_eq!(errors[0]["code"], status, "{}", r.body);
    let description = errors[0]["description"].as_str().unwrap();
    assert!(
        description.contains(mentions),
        "{description:?} lacks {mentions:?}"
    );
}

async fn act(app: &TestApp, token: &str, id: i64, body: Value) -> Resp {
    app.post(&format!("/api/v1/hazards/{id}/actions"), Some(token), body)
        .await
}

/// The only keys a request read back carries.
const FIELDS: [&str; 7] = [
    "requested_datetime",
    "service_code",
    "service_name",
    "service_request_id",
    "status",
    "status_notes",
    "updated_datetime",
];

async fn an_open311_report_travels_to_closure(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let (_, key) = issue(&app, &s.admin, w.t.county).await;

    // The services are the hazard categories, with their Chinese names, also as `.json`.
    let services = read(&app, "/open311/v2/services.json").await;
    let list = services.assert_status(200).as_array().unwrap().clone();
    assert_eq!(list.len(), 8, "{list:?}");
    let escape = list
        .iter()
        .find(|s| s["service_code"] == "blocked_escape_route")
        .unwrap();
    assert_eq!(escape["service_name"], "堵塞疏散通道/消防车通道");
    assert_eq!(escape["metadata"], true);
    assert_eq!(read(&app, "/open311/v2/services").await.body, services.body);
    let def = read(
        &app,
        "/open311/v2/services/electrical.json?jurisdiction_id=630106",
    )
    .await;
    let def = def.assert_status(200);
    assert_eq!(def["attributes"][0]["code"], "region_id");
    assert_eq!(def["attributes"][0]["required"], true);
    let discovery = read(&app, "/open311/v2/discovery.json").await;
    assert!(discovery.assert_status(200)["endpoints"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with("/open311/v2"));

    // A web report exists too; Open311 never shows it (its reporter holds a secret for that).
    let web = app
        .send(
            geo(Method::POST, "/api/v1/public/reports", "198.51.100.20").set_json(json!({
                "region_id": w.t.group, "category": "electrical",
                "description": "电线私拉乱接", "contact_phone": "13909710003"})),
        )
        .await;
    let web_code = web.assert_status(201)["tracking_code"]
        .as_str()
        .unwrap()
        .to_string();

    let posted = post_form(
        &app,
        "198.51.100.21",
        &[
            ("api_key", &key),
            ("jurisdiction_id", "630106"),
            ("service_code", "blocked_escape_route"),
            ("attribute[region_id]", &w.t.village.to_string()),
            ("description", "楼道里堆满了纸箱和旧家具，安全出口被堵死"),
            ("address_string", "李家山村一组12号"),
            ("lat", "36.51"),
            ("long", "101.61"),
            ("first_name", "秀英"),
            ("last_name", "王"),
            ("phone", PHONE),
            ("email", "wang@example.cn"),
            ("device_id", "phone-1"),
        ],
    )
    .await;
    let created = posted.assert_status(201).clone();
    let id = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 10);

    let seen = |r: &Resp| -> Value {
        let arr = r.assert_status(200).as_array().unwrap().clone();
        assert_eq!(arr.len(), 1, "{arr:?}");
        let keys: Vec<&String> = arr[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, FIELDS, "{}", arr[0]);
        let text = arr[0].to_string();
        for private in [PHONE, "王", "秀英", "纸箱", "12号", "36.51", "wang@"] {
            assert!(!text.contains(private), "{private} in {text}");
        }
        arr[0].clone()
    };
    let r = seen(&read(&app, &format!("/open311/v2/requests/{id}.json")).await);
    assert_eq!(
        (r["status"].as_str(), r["service_code"].as_str()),
        (Some("open"), Some("blocked_escape_route"))
    );
    assert!(r["status_notes"].is_null());
    // By token, and lower case with hyphens as a person may type it.
    let t = read(&app, &format!("/open311/v2/tokens/{id}.json")).await;
    assert_eq!(t.assert_status(200)[0]["service_request_id"], id);
    let typed = format!("{}-{}", &id[..5], &id[5..]).to_lowercase();
    seen(&read(&app, &format!("/open311/v2/requests/{typed}")).await);
    // The list holds it (filtered by jurisdiction, service, status) and not the web report.
    let all = read(&app, "/open311/v2/requests.json").await;
    let all = all.assert_status(200).to_string();
    assert!(all.contains(&id) && !all.contains(&web_code), "{all}");
    let none = read(
        &app,
        &format!("/open311/v2/requests?service_request_id={web_code}"),
    )
    .await;
    assert_eq!(none.assert_status(200), &json!([]));
    read(&app, &format!("/open311/v2/requests/{web_code}"))
        .await
        .status
        .as_u16()
        .eq(&404)
        .then_some(())
        .expect("a web report is not an Open311 request");

    // Staff see an ordinary public report from Open311, with the contact, at the village.
    let list = app.get("/api/v1/hazards?limit=1", Some(&s.cadre)).await;
    let case_id = id_of(&list.assert_status(200)["items"][0]);
    let case = app
        .get(&format!("/api/v1/hazards/{case_id}"), Some(&s.cadre))
        .await;
    let case = case.assert_status(200).clone();
    assert_eq!(
        (
            case["status"].as_str(),
            case["source"].as_str(),
            case["public_report"]["channel"].as_str(),
            case["public_report"]["tracking_code"].as_str(),
        ),
        (
            Some("pending_verification"),
            Some("public"),
            Some("open311"),
            Some(id.as_str())
        )
    );
    assert_eq!(case["public_report"]["contact"]["phone"], PHONE);
    assert_eq!(case["public_report"]["contact"]["name"], "王秀英");
    assert_eq!(case["lat"], 36.51);

    act(
        &app,
        &s.cadre,
        case_id,
        json!({"action": "verify", "to_level": "group", "note": "已电话联系举报人"}),
    )
    .await
    .assert_status(200);
    let r = seen(&read(&app, &format!("/open311/v2/requests/{id}")).await);
    assert_eq!(r["status"], "open");
    assert!(
        r["status_notes"].is_null(),
        "the internal note stays inside: {r}"
    );
    act(
        &app,
        &s.leader,
        case_id,
        json!({"action": "reply_public", "text": "已安排网格员现场清理"}),
    )
    .await
    .assert_status(200);
    act(
        &app,
        &s.handler,
        case_id,
        json!({"action": "submit_rectification", "note": "纸箱已清运"}),
    )
    .await
    .assert_status(200);
    let r = seen(&read(&app, &format!("/open311/v2/requests/{id}")).await);
    assert_eq!(
        (r["status"].as_str(), r["status_notes"].as_str()),
        (Some("open"), Some("已安排网格员现场清理"))
    );
    let open = read(
        &app,
        "/open311/v2/requests?status=open&service_code=blocked_escape_route,electrical",
    )
    .await;
    assert_eq!(open.assert_status(200).as_array().unwrap().len(), 1);
    act(
        &app,
        &s.cadre,
        case_id,
        json!({"action": "approve_closure", "outcome": "rectified"}),
    )
    .await
    .assert_status(200);
    let r = seen(&read(&app, &format!("/open311/v2/requests/{id}")).await);
    assert_eq!(
        (r["status"].as_str(), r["status_notes"].as_str()),
        (Some("closed"), Some("已安排网格员现场清理"))
    );
    assert!(r["updated_datetime"].as_str() > r["requested_datetime"].as_str());
    let closed = read(
        &app,
        "/open311/v2/requests?status=closed&jurisdiction_id=630106",
    )
    .await;
    assert_eq!(closed.assert_status(200)[0]["service_request_id"], id);
    let open = read(&app, "/open311/v2/requests?status=open").await;
    assert_eq!(open.assert_status(200), &json!([]));
    let other = read(&app, "/open311/v2/requests?service_code=electrical").await;
    assert_eq!(other.assert_status(200), &json!([]));
    let later = read(&app, "/open311/v2/requests?start_date=2099-01-01T00:00:00Z").await;
    assert_eq!(later.assert_status(200), &json!([]));
    // Another county's list is empty, and the request is not found there.
    let there = read(&app, "/open311/v2/requests?jurisdiction_id=630121").await;
    assert_eq!(there.assert_status(200), &json!([]));
    let path = format!("/open311/v2/requests/{id}.json?jurisdiction_id=630121");
    assert_geo_error(&read(&app, &path).await, 404, "service_request_id");
    let path = format!("/open311/v2/requests/{id}.json?jurisdiction_id=630106");
    seen(&read(&app, &path).await);

    // JSON works too, with the attribute as an object.
    let r = app
        .send(
            geo(Method::POST, "/open311/v2/requests", "198.51.100.22").set_json(json!({
                "api_key": key, "service_code": "electrical",
                "attribute": {"region_id": w.t.group},
                "description": "配电箱门损坏，电线裸露"})),
        )
        .await;
    let id2 = r.assert_status(201)[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let both = read(
        &app,
        &format!("/open311/v2/requests?service_request_id={id},{id2}"),
    )
    .await;
    assert_eq!(both.assert_status(200).as_array().unwrap().len(), 2);
}

async fn bad_input_is_refused_in_georeport_format(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let (key_id, key) = issue(&app, &s.admin, w.t.county).await;
    let other_village = w
        .region(w.t.other_township, "桥头村", "630121100001")
        .build(&app)
        .await;
    w.region(other_village, "一组", "630121100001001")
        .build(&app)
        .await;
    let group = w.t.group.to_string();
    let addr = "198.51.100.30";
    let good = |key: &str| -> Vec<(String, String)> {
        vec![
            ("api_key".into(), key.to_string()),
            ("service_code".into(), "open_flame".into()),
            ("attribute[region_id]".into(), group.clone()),
            ("description".into(), "院内焚烧秸秆".into()),
            ("lat".into(), "36.5".into()),
            ("long".into(), "101.6".into()),
        ]
    };
    let with = |key: &str, name: &str, value: Option<&str>| -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> =
            good(key).into_iter().filter(|(k, _)| k != name).collect();
        if let Some(v) = value {
            f.push((name.to_string(), v.to_string()));
        }
        f
    };
    let post = |fields: Vec<(String, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            post_form(app, addr, &pairs).await
        }
    };

    assert_geo_error(&post(with(&key, "api_key", None)).await, 403, "api_key");
    assert_geo_error(
        &post(with(
            &key,
            "api_key",
            Some("o311_0000000000000000000000000000000000000000"),
        ))
        .await,
        403,
        "api_key",
    );
    assert_geo_error(
        &post(with(&key, "service_code", Some("arson"))).await,
        422,
        "service_code",
    );
    assert_geo_error(
        &post(with(&key, "service_code", None)).await,
        422,
        "service_code",
    );
    assert_geo_error(&post(with(&key, "lat", Some("91"))).await, 422, "lat");
    assert_geo_error(
        &post(with(&key, "long", Some("东经101度"))).await,
        422,
        "long",
    );
    assert_geo_error(&post(with(&key, "long", None)).await, 422, "long");
    assert_geo_error(&post(with(&key, "lat", Some("NaN"))).await, 422, "lat");
    assert_geo_error(
        &post(with(&key, "description", Some("   "))).await,
        422,
        "description",
    );
    let long = "火".repeat(2001);
    assert_geo_error(
        &post(with(&key, "description", Some(&long))).await,
        422,
        "description",
    );
    assert_geo_error(
        &post(with(&key, "phone", Some("打电话"))).await,
        422,
        "phone",
    );
    // The region: unknown or not a village or group → 422; outside the key's county → 404.
    for region in ["999999".to_string(), w.t.township.to_string()] {
        let r = post(with(&key, "attribute[region_id]", Some(&region))).await;
        assert_geo_error(&r, 422, "attribute[region_id]");
    }
    let r = post(with(
        &key,
        "attribute[region_id]",
        Some(&other_village.to_string()),
    ))
    .await;
    assert_geo_error(&r, 404, "county");
    assert_geo_error(
        &post(with(&key, "jurisdiction_id", Some("630121"))).await,
        404,
        "jurisdiction_id",
    );
    assert_geo_error(
        &post(with(&key, "jurisdiction_id", Some("000000"))).await,
        404,
        "jurisdiction_id",
    );
    // Not form or JSON; JSON that is not an object; a field twice.
    let r = app
        .send(
            geo(Method::POST, "/open311/v2/requests", addr)
                .insert_header(("content-type", "text/plain"))
                .set_payload("api_key=x"),
        )
        .await;
    assert_geo_error(&r, 415, "form");
    let r = app
        .send(geo(Method::POST, "/open311/v2/requests", addr).set_json(json!([1, 2])))
        .await;
    assert_geo_error(&r, 400, "object");
    let mut twice = good(&key);
    twice.push(("service_code".into(), "electrical".into()));
    assert_geo_error(&post(twice).await, 400, "twice");
    // Reads: unknown service, request, token, county; bad dates and filters; XML; a wrong
    // method; an unknown path under /open311.
    assert_geo_error(
        &read(&app, "/open311/v2/services/arson.json").await,
        404,
        "service_code",
    );
    assert_geo_error(
        &read(&app, "/open311/v2/requests/0000000000.json").await,
        404,
        "service_request_id",
    );
    assert_geo_error(
        &read(&app, "/open311/v2/requests/not-a-code").await,
        404,
        "service_request_id",
    );
    assert_geo_error(
        &read(&app, "/open311/v2/tokens/0000000000").await,
        404,
        "service_request_id",
    );
    assert_geo_error(
        &read(&app, "/open311/v2/services?jurisdiction_id=630000").await,
        404,
        "jurisdiction_id",
    );
    assert_geo_error(
        &read(&app, "/open311/v2/requests?start_date=yesterday").await,
        400,
        "start_date",
    );
    assert_geo_error(
        &read(
            &app,
            "/open311/v2/requests?start_date=2026-11-02T00:00:00Z&end_date=2026-11-01T00:00:00Z",
        )
        .await,
        400,
        "end_date",
    );
    assert_geo_error(
        &read(&app, "/open311/v2/requests?status=pending").await,
        400,
        "status",
    );
    assert_geo_error(
        &read(&app, "/open311/v2/requests?service_code=arson").await,
        400,
        "service_code",
    );
    assert_geo_error(&read(&app, "/open311/v2/services.xml").await, 400, "JSON");
    let r = app
        .send(geo(Method::PUT, "/open311/v2/requests", addr))
        .await;
    assert_geo_error(&r, 405, "allowed");
    assert_eq!(r.headers.get("allow").unwrap(), "GET, POST");
    assert_geo_error(&read(&app, "/open311/v2/nothing").await, 404, "no route");
    // Nothing was taken in, and nothing counted against the address: a good request passes.
    assert_eq!(count_rows(&app.db, "hazards"), 0);
    assert_eq!(count_rows(&app.db, "public_reports"), 0);
    post(good(&key)).await.assert_status(201);

    // A revoked key is refused like an unknown one; what it posted stays readable.
    let listed = read(&app, "/open311/v2/requests").await;
    let id = listed.assert_status(200)[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .json(
            Method::DELETE,
            &format!("/api/v1/open311-keys/{key_id}"),
            Some(&s.admin),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    assert_geo_error(&post(good(&key)).await, 403, "api_key");
    read(&app, &format!("/open311/v2/requests/{id}"))
        .await
        .assert_status(200);
    assert_eq!(count_rows(&app.db, "hazards"), 1);
}

/// Open311 requests count against the same throttle as the web form: five an hour per client
/// address (both channels together), answered 429 with `Retry-After` in GeoReport's format.
async fn the_public_throttle_holds_for_open311(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let (_, key) = issue(&app, &s.admin, w.t.county).await;
    let addr = "198.51.100.40";
    let group = w.t.group.to_string();
    for i in 0..3 {
        app.send(
            geo(Method::POST, "/api/v1/public/reports", addr).set_json(json!({
                "region_id": w.t.group, "category": "other", "description": format!("第{i}条")})),
        )
        .await
        .assert_status(201);
    }
    let fields = [
        ("api_key", key.as_str()),
        ("service_code", "other"),
        ("attribute[region_id]", group.as_str()),
        ("description", "柴草堆在房后"),
    ];
    post_form(&app, addr, &fields).await.assert_status(201);
    post_form(&app, addr, &fields).await.assert_status(201);
    let r = post_form(&app, addr, &fields).await;
    assert_geo_error(&r, 429, "");
    assert!(r.headers.get("retry-after").is_some());
    // Another address is not affected; the phone limit (three) applies across addresses.
    let with_phone = |phone: &'static str| {
        let mut f = fields.to_vec();
        f.push(("phone", phone));
        f
    };
    for n in 0..3 {
        post_form(&app, &format!("198.51.100.{}", 50 + n), &with_phone(PHONE))
            .await
            .assert_status(201);
    }
    assert_geo_error(
        &post_form(&app, "198.51.100.60", &with_phone(PHONE)).await,
        429,
        "",
    );
    assert_eq!(count_rows(&app.db, "open311_requests"), 5);
}

async fn keys_belong_to_the_county_administrators(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let other_admin = w
        .user(Role::Admin)
        .at(w.t.other_county)
        .build(&app)
        .await
        .token;
    let (id, key) = issue(&app, &s.admin, w.t.county).await;
    assert!(key.starts_with("o311_") && key.len() >= 40, "{key}");

    // Shown once: the list has the prefix, never the key; the database keeps only a hash.
    let list = app.get("/api/v1/open311-keys", Some(&s.admin)).await;
    let item = list.assert_status(200)["items"][0].clone();
    assert_eq!(id_of(&item), id);
    assert_eq!(item["jurisdiction_id"], "630106");
    assert!(item.get("api_key").is_none(), "{item}");
    assert!(key.starts_with(item["prefix"].as_str().unwrap()));
    assert!(!list.body.to_string().contains(&key));
    {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct H {
            #[diesel(sql_type = diesel::sql_types::Text)]
            key_hash: String,
        }
        let mut conn = app.db.conn();
        let h: H = diesel::sql_query("SELECT key_hash FROM open311_keys")
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(h.key_hash.len(), 64);
        assert!(!h.key_hash.contains(&key[5..]));
    }

    // The other county's administrator: neither sees, nor issues for, nor revokes 湟中区's keys.
    let theirs = app.get("/api/v1/open311-keys", Some(&other_admin)).await;
    assert_eq!(theirs.assert_status(200)["items"], json!([]));
    app.post(
        "/api/v1/open311-keys",
        Some(&other_admin),
        json!({"name": "越权", "county_id": w.t.county}),
    )
    .await
    .assert_problem(404, "not_found");
    app.json(
        Method::DELETE,
        &format!("/api/v1/open311-keys/{id}"),
        Some(&other_admin),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    app.json(
        Method::DELETE,
        "/api/v1/open311-keys/999999",
        Some(&s.admin),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    // Staff who administer nothing may not; a region that is not a county is refused.
    app.post(
        "/api/v1/open311-keys",
        Some(&s.county),
        json!({"name": "县领导", "county_id": w.t.county}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.get("/api/v1/open311-keys", Some(&s.county))
        .await
        .assert_problem(403, "forbidden");
    let r = app
        .post(
            "/api/v1/open311-keys",
            Some(&s.admin),
            json!({"name": "镇", "county_id": w.t.township}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "county_id");
    app.post(
        "/api/v1/open311-keys",
        Some(&s.admin),
        json!({"name": " ", "county_id": w.t.county}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get("/api/v1/open311-keys", None)
        .await
        .assert_problem(401, "unauthenticated");
    // Their own county's key, they manage; the revocation shows in the list.
    let (their_id, _) = issue(&app, &other_admin, w.t.other_county).await;
    let theirs = app.get("/api/v1/open311-keys", Some(&other_admin)).await;
    assert_eq!(id_of(&theirs.assert_status(200)["items"][0]), their_id);
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 1);
    let r = app
        .json(
            Method::DELETE,
            &format!("/api/v1/open311-keys/{id}"),
            Some(&s.admin),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    let list = app.get("/api/v1/open311-keys", Some(&s.admin)).await;
    assert!(list.assert_status(200)["items"][0]["revoked_at"].is_string());
    // The global administrator sees both.
    let all = app.get("/api/v1/open311-keys", Some(&w.root)).await;
    assert_eq!(all.assert_status(200)["items"].as_array().unwrap().len(), 2);
}

db_tests!(
    an_open311_report_travels_to_closure,
    bad_input_is_refused_in_georeport_format,
    the_public_throttle_holds_for_open311,
    keys_belong_to_the_county_administrators,
);
