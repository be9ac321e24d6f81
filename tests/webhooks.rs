//! Webhooks: subscriptions and their scope, the outbox written with each notification, and
//! deliveries to a real receiver on loopback that fails the first attempts — across two servers
//! on one database, signed, each event arriving exactly once after de-duplication — and the
//! back-off that ends in a failure the administrators can see.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use firegrid::config::Settings;
use firegrid::webhooks::payload;
use firegrid::AppState;
use serde_json::{json, Value};

// ---- a webhook receiver on loopback ----

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Hit {
    /// The request target, with its query.
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    answered: u16,
    at: Instant,
}

impl Hit {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    fn delivery(&self) -> &str {
        self.header("x-firegrid-delivery").expect("delivery id")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A plain HTTP/1.1 server on a thread of its own (independent of the servers under test):
/// `answer(delivery id, how many times it was seen before)` picks the status.
struct Receiver {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    fn start(answer: impl Fn(&str, usize) -> u16 + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let log = hits.clone();
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                let answer = answer.clone();
                std::thread::spawn(move || {
                    let _ = serve_one(stream, &log, &*answer);
                });
            }
        });
        Receiver { addr, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

fn serve_one(
    stream: std::net::TcpStream,
    log: &Mutex<Vec<Hit>>,
    answer: &dyn Fn(&str, usize) -> u16,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let status = {
        let mut hits = log.lock().unwrap();
        let delivery = headers
            .get("x-firegrid-delivery")
            .cloned()
            .unwrap_or_default();
        let seen = hits.iter().filter(|h| h.delivery() == delivery).count();
        let status = answer(&delivery, seen);
        hits.push(Hit {
            target,
            headers,
            body,
            answered: status,
            at: Instant::now(),
        });
        status
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{{\"errcode\":0,\"errmsg\":\"ok\"}}"
    )?;
    stream.flush()
}

// ---- helpers ----

fn fast(s: &mut Settings) {
    s.webhooks.interval = Duration::from_millis(50);
    s.webhooks.timeout = Duration::from_secs(3);
    s.webhooks.retry_base = Duration::from_millis(100);
    s.webhooks.retry_max = Duration::from_millis(400);
    s.webhooks.retry_window = Duration::from_secs(120);
}

/// A second server over the same database (the same SQLite file, the same PostgreSQL database).
fn second_server(app: &TestApp, tweak: impl FnOnce(&mut Settings)) -> AppState {
    let mut s = app.db.settings();
    tweak(&mut s);
    AppState::new(s)
}

fn backlog(app: &TestApp) -> firegrid::webhooks::Backlog {
    let mut conn = app.db.conn();
    firegrid::webhooks::backlog(&mut conn, firegrid::db::now()).unwrap()
}

async fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create(app: &TestApp, token: &str, body: Value) -> Resp {
    app.post("/api/v1/webhooks", Some(token), body).await
}

const SECRET: &str = "whsec_湟中区-test-secret-2026";

// ---- the API ----

async fn subscriptions_belong_to_their_administrators(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let other = w.user(Role::Admin).at(w.t.other_county).build(&app).await;

    // Created by 湟中区's administrator: the secret is shown this once.
    let r = create(
        &app,
        &s.admin,
        json!({"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6",
               "format": "wecom", "kinds": ["overdue", "major_reported", "overdue"],
               "region_id": w.t.county, "secret": SECRET}),
    )
    .await;
    let hook = r.assert_status(201).clone();
    let id = id_of(&hook);
    assert_eq!(hook["secret"], SECRET);
    assert_eq!(hook["kinds"], json!(["major_reported", "overdue"]));
    assert!(hook["url"].as_str().unwrap().ends_with("key=693a91f6"));
    // Generic webhooks are always signed: the server makes a secret when none is given.
    let r = create(
        &app,
        &s.admin,
        json!({"url": "http://127.0.0.1:9/hook", "organization_id": s.station.id}),
    )
    .await;
    let generic = r.assert_status(201).clone();
    assert!(generic["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(generic["format"], "generic");
    assert_eq!(generic["kinds"], json!([]));

    // Read back: no secret, the robot's key masked.
    let got = app
        .get(&format!("/api/v1/webhooks/{id}"), Some(&s.admin))
        .await;
    let got = got.assert_status(200);
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["signed"], true);
    assert!(got["url"].as_str().unwrap().ends_with("key=***"), "{got}");
    let list = app.get("/api/v1/webhooks", Some(&s.admin)).await;
    let items = list.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|h| h.get("secret").is_none()));
    assert!(!list
        .raw
        .windows(SECRET.len())
        .any(|w| w == SECRET.as_bytes()));

    // Another county's administrator: neither exists for them.
    for hook_id in [id, id_of(&generic)] {
        app.get(&format!("/api/v1/webhooks/{hook_id}"), Some(&other.token))
            .await
            .assert_problem(404, "not_found");
        app.get(
            &format!("/api/v1/webhooks/{hook_id}/deliveries"),
            Some(&other.token),
        )
        .await
        .assert_problem(404, "not_found");
        app.delete(&format!("/api/v1/webhooks/{hook_id}"), Some(&other.token))
            .await
            .assert_problem(404, "not_found");
    }
    let theirs = app.get("/api/v1/webhooks", Some(&other.token)).await;
    assert_eq!(theirs.assert_status(200)["items"], json!([]));
    for target in [
        json!({"region_id": w.t.county}),
        json!({"region_id": w.t.group}),
        json!({"organization_id": s.station.id}),
    ] {
        let mut body = json!({"url": "https://example.org/hook"});
        body.as_object_mut()
            .unwrap()
            .extend(target.as_object().unwrap().clone());
        create(&app, &other.token, body)
            .await
            .assert_problem(404, "not_found");
    }
    // Not an administrator at all.
    create(
        &app,
        &s.official,
        json!({"url": "https://example.org/hook", "region_id": w.t.township}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.get(&format!("/api/v1/webhooks/{id}"), Some(&s.official))
        .await
        .assert_problem(403, "forbidden");

    // Removed by its administrator.
    app.delete(&format!("/api/v1/webhooks/{id}"), Some(&s.admin))
        .await
        .assert_status(204);
    app.get(&format!("/api/v1/webhooks/{id}"), Some(&s.admin))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(count_rows(&app.db, "webhooks"), 1);
}

async fn bad_urls_and_targets_are_422(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let county = w.t.county;
    // The test servers are configured as listening on 127.0.0.1:8080.
    for (body, field) in [
        (
            json!({"url": "ftp://example.org/hook", "region_id": county}),
            "url",
        ),
        (
            json!({"url": "file:///etc/passwd", "region_id": county}),
            "url",
        ),
        (
            json!({"url": "example.org/hook", "region_id": county}),
            "url",
        ),
        (
            json!({"url": "http://127.0.0.1:8080/hook", "region_id": county}),
            "url",
        ),
        (
            json!({"url": "http://localhost:8080/", "region_id": county}),
            "url",
        ),
        (
            json!({"url": "http://[::1]:8080/", "region_id": county}),
            "url",
        ),
        (
            json!({"url": "https://grid.example.gov.cn/api/v1/webhooks", "region_id": county}),
            "url",
        ),
        (json!({"url": "https://example.org/hook"}), "region_id"),
        (
            json!({"url": "https://example.org/hook", "region_id": county, "organization_id": s.station.id}),
            "organization_id",
        ),
        (
            json!({"url": "https://example.org/hook", "region_id": county, "secret": "short"}),
            "secret",
        ),
    ] {
        let r = create(&app, &s.admin, body.clone()).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
    }
    // Words outside the vocabularies.
    for body in [
        json!({"url": "https://example.org/hook", "region_id": county, "format": "slack"}),
        json!({"url": "https://example.org/hook", "region_id": county, "kinds": ["everything"]}),
    ] {
        let r = create(&app, &s.admin, body).await;
        assert!(r.status.is_client_error(), "{}", r.body);
    }
    // A region that does not exist.
    create(
        &app,
        &s.admin,
        json!({"url": "https://example.org/hook", "region_id": 999_999}),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(count_rows(&app.db, "webhooks"), 0);
}

// ---- the outbox ----

async fn each_notification_batch_writes_its_events(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    assert_eq!(count_rows(&app.db, "notification_outbox"), 0);
    s.case(Severity::Major)
        .at(Level::Township)
        .build(&app)
        .await;
    // One event per case, kind and message however many people were told.
    let notified = count_rows(&app.db, "notifications");
    let distinct = {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel::RunQueryDsl;
        let mut conn = app.db.conn();
        diesel::sql_query(
            "SELECT count(*) AS n FROM (SELECT DISTINCT hazard_id, kind, message FROM notifications) d",
        )
        .get_result::<N>(&mut *conn)
        .unwrap()
        .n
    };
    let events = count_rows(&app.db, "notification_outbox");
    assert!(
        notified > events && events > 1,
        "{notified} notifications, {events} events"
    );
    assert_eq!(events, distinct);
    // Every event is placed in the case's group and carries the case as it was.
    let mut conn = app.db.conn();
    use diesel::prelude::*;
    use firegrid::db::schema::notification_outbox as o;
    let rows: Vec<(String, Option<String>)> = o::table
        .select((o::region_path, o::subject))
        .load(&mut *conn)
        .unwrap();
    for (path, subject) in rows {
        assert!(path.ends_with(&format!("/{}/", s.group)), "{path}");
        let subject: Value = serde_json::from_str(&subject.unwrap()).unwrap();
        assert_eq!(subject["severity"], "major");
    }
    let backlog = backlog(&app);
    assert_eq!(backlog.undispatched_events, events);
    assert_eq!(backlog.pending_deliveries, 0);
    // The same backlog in /metrics, from the next sweep on.
    firegrid::hazards::sweep::run_once(&app.state)
        .await
        .unwrap();
    let text = String::from_utf8(app.get("/metrics", None).await.raw).unwrap();
    let gauge = text
        .lines()
        .find_map(|l| l.strip_prefix("firegrid_outbox_backlog "))
        .unwrap_or_else(|| panic!("no backlog in {text}"));
    assert_eq!(gauge.trim().parse::<i64>().unwrap(), events);
}

// ---- delivery ----

async fn every_event_arrives_once_across_two_servers(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_with(db, fast).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    // Every delivery fails twice (a 503, then a 500) before it is taken.
    let receiver = Receiver::start(|_, seen| match seen {
        0 => 503,
        1 => 500,
        _ => 200,
    });
    let generic = create(
        &app,
        &s.admin,
        json!({"url": receiver.url("/firegrid"), "region_id": w.t.county, "secret": SECRET}),
    )
    .await;
    let generic_id = id_of(generic.assert_status(201));
    // A DingTalk robot on the township, with its 加签 secret.
    let ding = create(
        &app,
        &s.admin,
        json!({"url": receiver.url("/robot/send?access_token=t0"), "format": "dingtalk",
               "region_id": w.t.township, "secret": "SECdingtalk-test-secret"}),
    )
    .await;
    ding.assert_status(201);
    // The police station's WeCom (企业微信) group robot, over its jurisdiction (李家山镇).
    create(
        &app,
        &s.admin,
        json!({"url": receiver.url("/station"), "organization_id": s.station.id,
               "format": "wecom"}),
    )
    .await
    .assert_status(201);
    // And one on the other county, which hears nothing of 湟中区.
    let other = w.user(Role::Admin).at(w.t.other_county).build(&app).await;
    create(
        &app,
        &other.token,
        json!({"url": receiver.url("/datong"), "region_id": w.t.other_county}),
    )
    .await
    .assert_status(201);

    for i in 0..3 {
        s.case(Severity::General)
            .titled(&format!("楼道堆放杂物{i}"))
            .at(Level::Village)
            .build(&app)
            .await;
    }
    s.case(Severity::Major).build(&app).await;
    let events = count_rows(&app.db, "notification_outbox");
    // Three cases reported and moved up to the village, one major one reported.
    assert_eq!(events, 7);
    assert_eq!(backlog(&app).undispatched_events, events);

    // Two servers deliver at once.
    let second = second_server(&app, fast);
    let workers = [
        actix_web::rt::spawn(firegrid::webhooks::worker::run_forever(app.state.clone())),
        actix_web::rt::spawn(firegrid::webhooks::worker::run_forever(second)),
    ];
    wait_until("every delivery to succeed", 60, || {
        let b = backlog(&app);
        b.undispatched_events == 0
            && b.pending_deliveries == 0
            && count_rows(&app.db, "webhook_deliveries") == 3 * events
    })
    .await;
    for w in &workers {
        w.abort();
    }

    let hits = receiver.hits();
    assert!(hits.iter().all(|h| !h.target.starts_with("/datong")));
    let ok: Vec<&Hit> = hits.iter().filter(|h| h.answered == 200).collect();
    // De-duplicated by delivery id, each delivery was taken once; in fact no delivery was even
    // sent again after it succeeded (the lease kept each one with one server at a time).
    let ids: HashSet<&str> = ok.iter().map(|h| h.delivery()).collect();
    assert_eq!(ids.len() as i64, 3 * events);
    assert_eq!(
        ok.iter().filter(|h| h.target == "/station").count() as i64,
        events
    );
    assert_eq!(ok.len(), ids.len(), "a delivery succeeded twice");
    // Every delivery was tried exactly three times.
    let mut tries: HashMap<&str, usize> = HashMap::new();
    for h in &hits {
        *tries.entry(h.delivery()).or_default() += 1;
    }
    assert!(tries.values().all(|&n| n == 3), "{tries:?}");

    // Generic deliveries: valid signatures, each event once.
    let now = chrono::Utc::now().timestamp();
    let mut generic_events = HashSet::new();
    for h in ok.iter().filter(|h| h.target == "/firegrid") {
        let sig = h.header("x-firegrid-signature").expect("signed");
        assert!(payload::verify(SECRET, sig, &h.body, now, 300), "{sig}");
        assert!(!payload::verify("another secret..", sig, &h.body, now, 300));
        let v = h.json();
        assert_eq!(v["id"], h.delivery());
        assert_eq!(h.header("x-firegrid-event"), v["kind"].as_str());
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(v["hazard"]["case_no"]
            .as_str()
            .unwrap()
            .starts_with("630106-"));
        assert!(generic_events.insert(v["event_id"].as_i64().unwrap()));
    }
    assert_eq!(generic_events.len() as i64, events);

    // DingTalk deliveries: markdown, and the URL signed as DingTalk checks it.
    for h in ok.iter().filter(|h| h.target.starts_with("/robot/send")) {
        let v = h.json();
        assert_eq!(v["msgtype"], "markdown");
        assert!(v["markdown"]["title"]
            .as_str()
            .unwrap()
            .starts_with("消防网格通知"));
        let query: HashMap<&str, &str> = h
            .target
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .filter_map(|p| p.split_once('='))
            .collect();
        assert_eq!(query["access_token"], "t0");
        let ts: i64 = query["timestamp"].parse().unwrap();
        let expected = payload::dingtalk_url("x", "SECdingtalk-test-secret", ts);
        assert_eq!(expected.rsplit("sign=").next().unwrap(), query["sign"]);
    }

    // WeCom deliveries: markdown content naming the case, within the robot's 4096 bytes.
    for h in ok.iter().filter(|h| h.target == "/station") {
        let v = h.json();
        assert_eq!(v["msgtype"], "markdown");
        let content = v["markdown"]["content"].as_str().unwrap();
        assert!(
            content.contains("630106-") && content.len() <= 4096,
            "{content}"
        );
    }

    // The administrator sees each delivery, taken on the third attempt.
    let r = app
        .get(
            &format!("/api/v1/webhooks/{generic_id}/deliveries?limit=200"),
            Some(&s.admin),
        )
        .await;
    let items = r.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len() as i64, events);
    for d in &items {
        assert_eq!(d["status"], "delivered");
        assert_eq!(d["attempts"], 3);
        assert_eq!(d["last_status"], 200);
    }
}

async fn retries_back_off_then_fail_visibly(b: Backend) {
    let db = TestDb::new(b);
    let window = |s: &mut Settings| {
        fast(s);
        s.webhooks.retry_base = Duration::from_millis(200);
        s.webhooks.retry_max = Duration::from_secs(10);
        s.webhooks.retry_window = Duration::from_millis(2500);
    };
    let app = spawn_with(db, window).await;
    let w = World::new(&app).await;
    let s = w.staff(&app).await;
    let receiver = Receiver::start(|_, _| 500);
    let r = create(
        &app,
        &s.admin,
        json!({"url": receiver.url("/down"), "region_id": w.t.group, "kinds": ["reported"]}),
    )
    .await;
    let id = id_of(r.assert_status(201));
    s.case(Severity::General).build(&app).await;
    let worker = actix_web::rt::spawn(firegrid::webhooks::worker::run_forever(app.state.clone()));
    wait_until("the delivery to be given up", 30, || {
        backlog(&app).failed_deliveries == 1
    })
    .await;
    worker.abort();

    let hits = receiver.hits();
    // Tried at about 0, 0.2, 0.6, 1.4 s; the next (3.0 s) would fall outside the window.
    assert_eq!(
        hits.len(),
        4,
        "{:?}",
        hits.iter().map(|h| h.at).collect::<Vec<_>>()
    );
    let gaps: Vec<Duration> = hits.windows(2).map(|p| p[1].at - p[0].at).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let at_least = Duration::from_millis(200 << i);
        assert!(*gap >= at_least, "gap {i}: {gap:?} < {at_least:?}");
    }
    assert!(gaps[2] > gaps[0], "{gaps:?}");

    // Visible to the administrators, and to no one else.
    let r = app
        .get(
            &format!("/api/v1/webhooks/{id}/deliveries?status=failed"),
            Some(&s.admin),
        )
        .await;
    let items = r.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    let d = &items[0];
    assert_eq!(d["status"], "failed");
    assert_eq!(d["attempts"], 4);
    assert_eq!(d["last_status"], 500);
    assert!(
        d["last_error"].as_str().unwrap().starts_with("HTTP 500"),
        "{d}"
    );
    assert_eq!(d["kind"], "reported");
    assert!(d["finished_at"].is_string() && d["next_attempt_at"].is_null());
    let pending = app
        .get(
            &format!("/api/v1/webhooks/{id}/deliveries?status=pending"),
            Some(&s.admin),
        )
        .await;
    assert_eq!(pending.assert_status(200)["items"], json!([]));
    app.get(
        &format!("/api/v1/webhooks/{id}/deliveries?status=failed"),
        Some(&s.outsider),
    )
    .await
    .assert_problem(403, "forbidden");
    let b = backlog(&app);
    assert_eq!((b.pending_deliveries, b.failed_deliveries), (0, 1));
}

db_tests!(
    subscriptions_belong_to_their_administrators,
    bad_urls_and_targets_are_422,
    each_notification_batch_writes_its_events,
    every_event_arrives_once_across_two_servers,
    retries_back_off_then_fail_visibly,
);
