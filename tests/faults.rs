//! Faults: a database that stops answering, a full disk, slow clients. Each is answered within a
//! bound, with a problem+json the client can act on, and the server recovers by itself.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::proxy::StallingProxy;
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use futures_util::future::join_all;
use serde_json::json;

const POOL_TIMEOUT: Duration = Duration::from_secs(1);
const DB_TIMEOUT: Duration = Duration::from_secs(1);
/// The promised bound (pool timeout plus database deadline) with room for a loaded test machine.
const BOUND: Duration = Duration::from_millis(2000 + 1500);

/// A 503 with this code that tells the client when to retry.
#[track_caller]
fn assert_retry_later(r: &Resp, code: &str) {
    r.assert_problem(503, code);
    let retry: u64 = r
        .headers
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// The server processes of the test database other than the asking one.
fn backends(url: &str) -> Vec<i32> {
    let mut c = PgConnection::establish(url).unwrap();
    diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .load::<Pid>(&mut c)
    .unwrap()
    .into_iter()
    .map(|p| p.pid)
    .collect()
}

/// PostgreSQL behind a proxy that stops forwarding without closing (a partition): every request
/// is answered 503 within the bound, `/readyz` too; when the network heals the server recovers by
/// itself, and none of the connections that stalled is used again. On SQLite the same holds for
/// a write lock held by someone else (a backup, a second server on the same file).
async fn a_database_that_stops_answering_is_503_within_the_bound(b: Backend) {
    let db = TestDb::new(b);
    let direct = db.url.clone();
    let proxy = match b {
        Backend::Postgres => {
            let hostport = direct.split('@').nth(1).unwrap().split('/').next().unwrap();
            Some(StallingProxy::start(hostport.parse().unwrap()))
        }
        Backend::Sqlite => None,
    };
    let served_url = match &proxy {
        Some(p) => {
            let (scheme, rest) = direct.split_once('@').unwrap();
            let db_name = rest.split_once('/').unwrap().1;
            format!("{scheme}@{}/{db_name}", p.addr)
        }
        None => direct.clone(),
    };
    let app = spawn_with(db, |s| {
        s.database_url = served_url;
        s.pool_size = 3;
        s.pool_timeout = POOL_TIMEOUT;
        s.db_timeout = DB_TIMEOUT;
    })
    .await;
    let w = World::new(&app).await;
    let (root, t) = (&w.root, &w.t);
    let me = || app.get("/api/v1/me", Some(root));
    let new_village = |n: usize| {
        app.post(
            "/api/v1/regions",
            Some(root),
            json!({"parent_id": t.township, "level": "village", "name": format!("新村{n}"),
                   "code": format!("63010610190{n}")}),
        )
    };
    join_all((0..3).map(|_| me())).await;

    // The fault.
    let mut lock = None;
    let before = match &proxy {
        Some(p) => {
            let pids = backends(&direct);
            assert!(!pids.is_empty());
            p.pause();
            pids
        }
        None => {
            let mut c = SqliteConnection::establish(&direct).unwrap();
            c.batch_execute("BEGIN IMMEDIATE").unwrap();
            lock = Some(c);
            Vec::new()
        }
    };
    for wave in 0..2 {
        let started = Instant::now();
        let answers = tokio::time::timeout(Duration::from_secs(10), async {
            match b {
                // Every request needs the database (the caller's roles are loaded per request).
                Backend::Postgres => {
                    let mut rs = join_all((0..4).map(|_| me())).await;
                    rs.push(app.get("/readyz", None).await);
                    rs
                }
                // Readers are not blocked by a writer in WAL mode; writers are.
                Backend::Sqlite => join_all((0..3).map(|n| new_village(n + 3 * wave))).await,
            }
        })
        .await
        .expect("requests hang while the database does not answer");
        let took = started.elapsed();
        for r in &answers {
            assert_retry_later(r, "unavailable");
        }
        assert!(took < BOUND, "wave {wave} took {took:?}");
    }

    // The fault heals; the server recovers by itself.
    match &proxy {
        Some(p) => p.resume(),
        None => lock.take().unwrap().batch_execute("ROLLBACK").unwrap(),
    }
    let healed = Instant::now();
    loop {
        let mut r = app.get("/readyz", None).await;
        if r.status.as_u16() == 200 {
            r = me().await;
            if r.status.as_u16() == 200 {
                break;
            }
        }
        assert!(
            healed.elapsed() < Duration::from_secs(20),
            "no recovery: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    new_village(9).await.assert_status(201);
    if proxy.is_some() {
        // The connections that stalled were closed, not handed to later requests.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = backends(&direct);
            let kept: Vec<_> = before.iter().filter(|p| now.contains(p)).collect();
            if kept.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                let mut c = PgConnection::establish(&direct).unwrap();
                #[derive(QueryableByName, Debug)]
                struct Act {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    q: String,
                }
                let acts: Vec<String> = diesel::sql_query(
                    "SELECT pid::text || ' ' || coalesce(state, '') || ' ' || coalesce(query, '') \
                     AS q FROM pg_stat_activity WHERE datname = current_database()",
                )
                .load::<Act>(&mut c)
                .unwrap()
                .into_iter()
                .map(|a| a.q)
                .collect();
                panic!("stalled connections {kept:?} were reused; before {before:?}; {acts:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// PostgreSQL connections that died while idle in the pool (a restart, a failover, an idle
/// timeout in between) are tested when next handed out and replaced: no request fails for them.
/// A connection that answered within the last second is handed out untested (the warm-path
/// statement count in `caller_cache.rs`). An embedded SQLite connection cannot die this way.
async fn connections_that_died_while_idle_are_replaced(b: Backend) {
    if b == Backend::Sqlite {
        return;
    }
    let db = TestDb::new(b);
    let direct = db.url.clone();
    let app = spawn_with(db, |s| {
        s.pool_size = 3;
        s.pool_timeout = POOL_TIMEOUT;
        s.db_timeout = DB_TIMEOUT;
    })
    .await;
    let w = World::new(&app).await;
    let me = || app.get("/api/v1/me", Some(&w.root));
    for r in join_all((0..3).map(|_| me())).await {
        r.assert_status(200);
    }
    let dead = backends(&direct);
    assert!(!dead.is_empty());
    let mut c = PgConnection::establish(&direct).unwrap();
    for pid in &dead {
        c.batch_execute(&format!("SELECT pg_terminate_backend({pid})"))
            .unwrap();
    }
    // Past the time a connection is trusted without a test.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for r in join_all((0..3).map(|_| me())).await {
        r.assert_status(200);
    }
    let now = backends(&direct);
    assert!(dead.iter().all(|p| !now.contains(p)), "{dead:?} {now:?}");
}

/// The real server on a free port, with shortened client bounds.
fn serve(app_state: firegrid::AppState) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = firegrid::app::serve(app_state, listener, Some(1)).unwrap();
    actix_web::rt::spawn(server);
    addr
}

/// Reads until the server closes the connection (or `limit` passes); returns what was read and
/// when the connection closed.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => {
                return (
                    String::from_utf8_lossy(&got).into(),
                    Some(started.elapsed()),
                )
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                return (
                    String::from_utf8_lossy(&got).into(),
                    Some(started.elapsed()),
                )
            }
        }
    }
    (String::from_utf8_lossy(&got).into(), None)
}

/// A client that sends its headers, then its body at one byte per 200 ms, is answered 408
/// `request_timeout` and disconnected once the body deadline (here 1 s) passes; a client that
/// stops half-way through its headers, and an idle keep-alive connection, are disconnected too.
async fn slow_and_idle_clients_are_cut_off(b: Backend) {
    let app = spawn_with(TestDb::new(b), |s| {
        s.body_timeout = Duration::from_secs(1);
        s.header_timeout = Duration::from_secs(1);
        s.keep_alive = Duration::from_secs(1);
    })
    .await;
    let addr = serve(app.state.clone());
    let client = tokio::task::spawn_blocking(move || {
        // A body trickling in: 100 bytes announced, one sent every 200 ms.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: firegrid\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        )
        .unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            for _ in 0..50 {
                if w.write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let slow_body = read_until_closed(&mut s, Duration::from_secs(6));
        drop(writer);

        // Half the headers, then nothing.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: fire").unwrap();
        let slow_head = read_until_closed(&mut s, Duration::from_secs(6));

        // One request, then an idle keep-alive connection.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: firegrid\r\n\r\n")
            .unwrap();
        let idle = read_until_closed(&mut s, Duration::from_secs(6));
        (slow_body, slow_head, idle)
    })
    .await
    .unwrap();
    let ((body_resp, body_closed), (_, head_closed), (idle_resp, idle_closed)) = client;
    assert!(body_resp.starts_with("HTTP/1.1 408"), "{body_resp}");
    assert!(body_resp.contains("request_timeout"), "{body_resp}");
    let body_closed = body_closed.expect("a slow body keeps its connection");
    assert!(body_closed < Duration::from_secs(3), "{body_closed:?}");
    let head_closed = head_closed.expect("slow headers keep their connection");
    assert!(head_closed < Duration::from_secs(3), "{head_closed:?}");
    assert!(idle_resp.starts_with("HTTP/1.1 200"), "{idle_resp}");
    let idle_closed = idle_closed.expect("an idle connection stays open");
    assert!(idle_closed < Duration::from_secs(3), "{idle_closed:?}");
}

/// Makes every insert into `table` fail as the database engine fails on a full disk, with its
/// own words (a real full disk needs root to make).
fn fill_disk(db: &TestDb, table: &str, full: bool) {
    let mut c = db.conn();
    let sql = match (db.backend, full) {
        (Backend::Sqlite, true) => format!(
            "CREATE TRIGGER disk_full BEFORE INSERT ON {table} \
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;"
        ),
        (Backend::Sqlite, false) => "DROP TRIGGER disk_full;".to_string(),
        (Backend::Postgres, true) => format!(
            "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               RAISE EXCEPTION 'could not extend file \"base/16384/2619\": No space left on device' \
                 USING ERRCODE = 'disk_full', HINT = 'Check free disk space.'; \
             END $$; \
             CREATE TRIGGER disk_full BEFORE INSERT ON {table} \
               FOR EACH ROW EXECUTE FUNCTION disk_full();"
        ),
        (Backend::Postgres, false) => {
            format!("DROP TRIGGER disk_full ON {table}; DROP FUNCTION disk_full();")
        }
    };
    c.batch_execute(&sql).unwrap();
}

/// A full disk under the database or the photos: 503 `storage_unavailable` with `Retry-After`,
/// `/readyz` 503 saying why, nothing half-written (no case, no photo file without its record),
/// and everything works again once space is freed.
async fn a_full_disk_is_503_and_leaves_nothing_half_written(b: Backend) {
    const JPEG: &[u8] = include_bytes!("fixtures/red-8x8.jpg");
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let inspector = w.user(Role::GridInspector).build(&app).await.token;
    let report = |title: &str| report_body(w.t.group, Severity::General, title);
    let hazard = id_of(
        app.post("/api/v1/hazards", Some(&inspector), report("焚烧秸秆"))
            .await
            .assert_status(201),
    );
    let upload = || {
        let (ct, body) = multipart_file("file", "photo.jpg", "image/jpeg", JPEG);
        actix_web::test::TestRequest::post()
            .uri(&format!("/api/v1/hazards/{hazard}/attachments"))
            .insert_header(("authorization", format!("Bearer {inspector}")))
            .insert_header(("content-type", ct))
            .set_payload(body)
    };
    app.get("/readyz", None).await.assert_status(200);

    // The database's disk fills up.
    fill_disk(&app.db, "hazards", true);
    let cases = count_rows(&app.db, "hazards");
    let r = app
        .post("/api/v1/hazards", Some(&inspector), report("柴堆靠近烟囱"))
        .await;
    assert_retry_later(&r, "storage_unavailable");
    assert_eq!(count_rows(&app.db, "hazards"), cases);
    let r = app.get("/readyz", None).await;
    assert_retry_later(&r, "storage_unavailable");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("No space left on device")
            || r.body["detail"]
                .as_str()
                .unwrap()
                .contains("database or disk is full"),
        "{}",
        r.body
    );
    fill_disk(&app.db, "hazards", false);
    app.post("/api/v1/hazards", Some(&inspector), report("柴堆靠近烟囱"))
        .await
        .assert_status(201);
    app.get("/readyz", None).await.assert_status(200);

    // The photo directory's disk: no record without its file.
    let photos = app.db.data_dir().join("attachments");
    for errno in [libc::ENOSPC, libc::EDQUOT, libc::EROFS] {
        firegrid::attachments::store::inject_write_fault(&app.db.data_dir(), Some(errno));
        assert_retry_later(&app.send(upload()).await, "storage_unavailable");
        assert_eq!(count_rows(&app.db, "attachments"), 0);
        assert_eq!(files_under(&photos), 0, "a temporary file was left behind");
        assert_retry_later(&app.get("/readyz", None).await, "storage_unavailable");
    }
    firegrid::attachments::store::inject_write_fault(&app.db.data_dir(), None);

    // The database fills while the photo is stored: no file without its record.
    fill_disk(&app.db, "attachments", true);
    assert_retry_later(&app.send(upload()).await, "storage_unavailable");
    assert_eq!(count_rows(&app.db, "attachments"), 0);
    assert_eq!(
        files_under(&photos),
        0,
        "a photo file was left without its record"
    );
    fill_disk(&app.db, "attachments", false);
    app.send(upload()).await.assert_status(201);
    assert_eq!(files_under(&photos), 1);
    app.get("/readyz", None).await.assert_status(200);
}

db_tests!(
    a_full_disk_is_503_and_leaves_nothing_half_written,
    connections_that_died_while_idle_are_replaced,
    a_database_that_stops_answering_is_503_within_the_bound,
    slow_and_idle_clients_are_cut_off
);
