//! Every acknowledged write survives kill -9 (issue 16: writes that arrive together commit
//! together on SQLite, and none of that may cost an acknowledged report). A real `firegrid serve`
//! process on the demo county takes a steady stream of reports from eight clients, each with its
//! own Idempotency-Key, and is killed with SIGKILL in the middle of it. Afterwards every report it
//! answered 201 is stored with the number it was given, case numbers have no gap, the hash chains
//! verify, and a restarted server answers each key's retry with its one case: the reports that
//! were in flight are recorded exactly once after their retry.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use diesel::prelude::*;
use firegrid::db::schema::{hazards, role_assignments, users};
use serde_json::Value;

const SECRET: &str = "durability-test-secret-durability-test-secret";

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(db: &TestDb) -> Server {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_firegrid"))
            .arg("serve")
            .env("FIREGRID_DATABASE_URL", &db.url)
            .env("FIREGRID_DATA_DIR", db.data_dir())
            .env("FIREGRID_BIND", addr.to_string())
            .env("FIREGRID_JWT_SECRET", SECRET)
            .env("FIREGRID_LOG", "warn")
            .env("FIREGRID_WORKERS", "2")
            .stdout(Stdio::null())
            .spawn()
            .expect("start firegrid serve");
        let server = Server { child, addr };
        let started = Instant::now();
        while request(addr, "GET", "/healthz", None, None, None).map(|r| r.0) != Some(200) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// SIGKILL: no drain, no shutdown hook, nothing flushed by the server.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on its own connection; `None` when the connection failed or was cut
/// before a whole answer arrived (what a phone sees when the server dies).
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(k) = key {
        head.push_str(&format!("Idempotency-Key: {k}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(body.len());
    if body.len() < length {
        return None;
    }
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// The demo inspector's group (李家山村 一组), read from the database.
fn inspector_group(db: &TestDb) -> i64 {
    let mut conn = db.conn();
    role_assignments::table
        .inner_join(users::table)
        .filter(users::username.eq("demo.inspector"))
        .select(role_assignments::region_id.assume_not_null())
        .first(&mut conn)
        .unwrap()
}

fn stored_cases(db: &TestDb) -> BTreeMap<i64, String> {
    let mut conn = db.conn();
    hazards::table
        .select((hazards::id, hazards::case_no))
        .load::<(i64, String)>(&mut conn)
        .unwrap()
        .into_iter()
        .collect()
}

async fn acknowledged_reports_survive_kill_9(b: Backend) {
    let db = TestDb::new(b);
    std::fs::create_dir_all(db.data_dir()).unwrap();
    firegrid::demo::load(&mut db.conn()).unwrap();
    let group = inspector_group(&db);

    let server = Server::start(&db);
    let addr = server.addr;
    let login = serde_json::json!({"username": "demo.inspector", "password": firegrid::demo::DEMO_PASSWORD});
    let (status, tokens) =
        request(addr, "POST", "/api/v1/auth/login", None, None, Some(&login)).unwrap();
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap().to_string();

    // Eight clients report until the server dies: each key sent, and each 201 with its case.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let acked = Arc::new(Mutex::new(BTreeMap::<String, (i64, String)>::new()));
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (stop, sent, acked, token) =
                (stop.clone(), sent.clone(), acked.clone(), token.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("kill9-{client}-{n}");
                    let body = report_body(group, Severity::General, &format!("线路老化 {key}"));
                    sent.lock().unwrap().insert(key.clone());
                    match request(
                        addr,
                        "POST",
                        "/api/v1/hazards",
                        Some(&token),
                        Some(&key),
                        Some(&body),
                    ) {
                        Some((201, case)) => {
                            let id = case["id"].as_i64().unwrap();
                            let no = case["case_no"].as_str().unwrap().to_string();
                            acked.lock().unwrap().insert(key, (id, no));
                        }
                        Some((status, problem)) => panic!("report answered {status}: {problem}"),
                        None => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acked.lock().unwrap().len() < 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "reports were too slow to reach 200"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();

    // Every acknowledged report is stored under the number it was given.
    let stored = stored_cases(&db);
    for (key, (id, no)) in &acked {
        assert_eq!(
            stored.get(id),
            Some(no),
            "acknowledged report {key} was lost"
        );
    }
    // Numbers have no gap: in-flight reports that did not commit gave theirs back.
    let mut seqs: Vec<u32> = stored
        .values()
        .map(|no| no.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=stored.len() as u32).collect::<Vec<_>>());
    let (_, broken) = firegrid::hazards::events::verify_all(&mut db.conn()).unwrap();
    assert!(
        broken.is_empty(),
        "broken chains after kill -9: {}",
        broken.len()
    );

    // After a restart each key's retry finds its one case: acknowledged ones replay, in-flight
    // ones either replay (they committed unanswered) or are recorded now, once.
    let server = Server::start(&db);
    for key in &sent {
        let body = report_body(group, Severity::General, &format!("线路老化 {key}"));
        let (status, case) = request(
            server.addr,
            "POST",
            "/api/v1/hazards",
            Some(&token),
            Some(key),
            Some(&body),
        )
        .expect("the restarted server answers");
        assert_eq!(status, 201, "{case}");
        if let Some((id, no)) = acked.get(key) {
            assert_eq!(
                (
                    case["id"].as_i64().unwrap(),
                    case["case_no"].as_str().unwrap()
                ),
                (*id, no.as_str())
            );
        }
    }
    assert_eq!(stored_cases(&db).len(), sent.len());
    drop(server);
}

db_tests!(acknowledged_reports_survive_kill_9);
