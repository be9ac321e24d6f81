//! Offline sync through HTTP (issue 13): a first sync of a group inspector's phone on the demo
//! county, the changes that follow (new and changed cases, events, premises moved away or
//! deleted, a roster role revoked, notifications), a scope that changes, refusals, compression;
//! and on PostgreSQL, writers on two servers committing out of order while a phone polls.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::{json, Value};

/// How long a phone may take to see a committed change. On PostgreSQL the log is read up to the
/// oldest transaction still running on the whole cluster (`pg_snapshot_xmin`), so the suite's
/// other tests — each in its own database on the same server — can hold a change back for a
/// while; a change is delayed then, never lost, and these tests wait for it.
const CATCH_UP: Duration = Duration::from_secs(60);

const DEMO_PW: &str = firegrid::demo::DEMO_PASSWORD;

/// What a phone holds: every entity by kind and id, as last received.
#[derive(Default)]
struct Phone {
    cursor: Option<String>,
    held: BTreeMap<(String, i64), Value>,
    resets: usize,
    tombstones: Vec<Value>,
    bytes: usize,
    pages: usize,
}

const KINDS: [(&str, &str); 6] = [
    ("regions", "region"),
    ("premises", "premises"),
    ("roster", "roster"),
    ("hazards", "hazard"),
    ("events", "hazard_event"),
    ("notifications", "notification"),
];

impl Phone {
    fn ids(&self, kind: &str) -> BTreeSet<i64> {
        self.held
            .keys()
            .filter(|(k, _)| k == kind)
            .map(|(_, id)| *id)
            .collect()
    }

    fn apply(&mut self, page: &Value) {
        if page["reset"] == true {
            self.held.clear();
            self.resets += 1;
        }
        for (field, kind) in KINDS {
            for item in page[field].as_array().unwrap() {
                self.held.insert(
                    (kind.to_string(), item["id"].as_i64().unwrap()),
                    item.clone(),
                );
            }
        }
        for t in page["tombstones"].as_array().unwrap() {
            self.tombstones.push(t.clone());
            self.held.remove(&(
                t["entity"].as_str().unwrap().to_string(),
                t["id"].as_i64().unwrap(),
            ));
        }
        self.cursor = Some(page["next_cursor"].as_str().unwrap().to_string());
    }

    /// Syncs until `done` holds (on PostgreSQL a change shows once every transaction older than
    /// it has ended, and other tests on the same cluster may hold that back for a moment).
    async fn sync_until(&mut self, app: &TestApp, token: &str, done: impl Fn(&Phone) -> bool) {
        let until = Instant::now() + CATCH_UP;
        while Instant::now() < until {
            self.sync(app, token, 50).await;
            if done(self) {
                return;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the phone never caught up");
    }

    fn has_tombstone(&self, entity: &str, id: i64) -> bool {
        self.tombstones
            .contains(&json!({"entity": entity, "id": id}))
    }

    /// Pages until there is no more; returns the pages.
    async fn sync(&mut self, app: &TestApp, token: &str, limit: i64) -> Vec<Value> {
        let mut pages = Vec::new();
        loop {
            let cursor = self.cursor.clone().unwrap_or_default();
            let r = app
                .get(
                    &format!("/api/v1/sync?limit={limit}&cursor={cursor}"),
                    Some(token),
                )
                .await;
            let page = r.assert_status(200).clone();
            self.bytes += r.raw.len();
            self.pages += 1;
            self.apply(&page);
            let more = page["has_more"] == true;
            pages.push(page);
            if !more {
                return pages;
            }
        }
    }
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn scalar(app: &TestApp, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<N>(&mut *app.db.conn())
        .unwrap()
        .n
}

async fn a_phone_catches_up_without_losing_or_doubling(b: Backend) {
    let app = spawn(b).await;
    firegrid::demo::load(&mut app.db.conn()).expect("demo county");
    let inspector = login(&app, "demo.inspector", DEMO_PW).await;
    let leader = login(&app, "demo.leader", DEMO_PW).await;
    let cadre = login(&app, "demo.cadre", DEMO_PW).await;
    let admin = login(&app, "admin", DEMO_PW).await;
    let me = app.get("/api/v1/me", Some(&inspector)).await;
    let group = me.body["scope"]["regions"][0]["id"].as_i64().unwrap();

    // The first sync, in small pages, and its size as the phone receives it.
    let mut phone = Phone::default();
    phone.sync(&app, &inspector, 50).await;
    assert_eq!(phone.ids("region"), BTreeSet::from([group]));
    let premises_in_group = scalar(
        &app,
        &format!("SELECT count(*) AS n FROM premises WHERE group_id = {group}"),
    );
    assert_eq!(phone.ids("premises").len() as i64, premises_in_group);
    let roster = scalar(
        &app,
        &format!("SELECT count(*) AS n FROM role_assignments WHERE region_id = {group}"),
    );
    assert!(roster >= 4, "一长三员");
    assert_eq!(phone.ids("roster").len() as i64, roster);
    assert!(phone.ids("hazard").is_empty());
    let one_page = app.get("/api/v1/sync?limit=2000", Some(&inspector)).await;
    let plain = one_page.assert_status(200).clone();
    assert_eq!(plain["has_more"], false);
    let req = TestRequest::get()
        .uri("/api/v1/sync?limit=2000")
        .insert_header(("authorization", format!("Bearer {inspector}")))
        .insert_header(("accept-encoding", "gzip"));
    let gz = app.send(req).await;
    assert_eq!(gz.headers.get("content-encoding").unwrap(), "gzip");
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz.raw[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    let unzipped: Value = serde_json::from_str(&unzipped).unwrap();
    assert_eq!(unzipped["premises"], plain["premises"]);
    eprintln!(
        "first sync of demo.inspector on the demo county: {} bytes as JSON, {} bytes gzipped \
         ({} premises, {} roster entries)",
        one_page.raw.len(),
        gz.raw.len(),
        premises_in_group,
        roster
    );

    // Nothing changed: an empty page, the same position.
    let pages = phone.sync(&app, &inspector, 50).await;
    assert_eq!(pages.len(), 1);
    assert!(KINDS.iter().all(|(f, _)| pages[0][f] == json!([])));

    // A case reported by the group's leader: the case, its first event, the inspector's notice.
    let r = app
        .post(
            "/api/v1/hazards",
            Some(&leader),
            report_body(group, Severity::General, "柴草堆放在电表箱下"),
        )
        .await;
    let case = id_of(r.assert_status(201));
    // A case elsewhere in the county is none of the phone's business.
    let other_group = scalar(
        &app,
        &format!("SELECT min(id) AS n FROM regions WHERE level = 'group' AND id <> {group}"),
    );
    let county = login(&app, "demo.county", DEMO_PW).await;
    app.post(
        "/api/v1/hazards",
        Some(&county),
        report_body(other_group, Severity::General, "别的组的隐患"),
    )
    .await
    .assert_status(201);
    phone
        .sync_until(&app, &inspector, |ph| {
            !ph.ids("hazard").is_empty()
                && !ph.ids("hazard_event").is_empty()
                && !ph.ids("notification").is_empty()
        })
        .await;
    assert_eq!(phone.ids("hazard"), BTreeSet::from([case]));
    let held = &phone.held[&("hazard".to_string(), case)];
    assert!(held["allowed_actions"]
        .as_array()
        .unwrap()
        .contains(&json!("escalate")));
    assert_eq!(phone.ids("hazard_event").len(), 1);
    assert!(phone
        .held
        .iter()
        .any(|((k, _), v)| k == "notification" && v["hazard_id"] == case));

    // Escalated to the village: still the phone's (its group's case), with the new event.
    let r = app
        .post(
            &format!("/api/v1/hazards/{case}/actions"),
            Some(&inspector),
            json!({"action": "escalate", "reason": "组内无法整改"}),
        )
        .await;
    r.assert_status(200);
    phone
        .sync_until(&app, &inspector, |ph| ph.ids("hazard_event").len() == 2)
        .await;
    assert_eq!(
        phone.held[&("hazard".to_string(), case)]["level"],
        "village"
    );
    assert_eq!(phone.ids("hazard_event").len(), 2);

    // Premises registered, then moved to another group (out of scope), and one deleted.
    let p1 = id_of(
        app.post(
            "/api/v1/premises",
            Some(&cadre),
            premises_body(group, "李家山村文化广场"),
        )
        .await
        .assert_status(201),
    );
    let p2 = id_of(
        app.post(
            "/api/v1/premises",
            Some(&cadre),
            premises_body(group, "李家山村卫生室"),
        )
        .await
        .assert_status(201),
    );
    phone
        .sync_until(&app, &inspector, |ph| {
            ph.ids("premises").is_superset(&BTreeSet::from([p1, p2]))
        })
        .await;
    let sibling = scalar(
        &app,
        &format!(
            "SELECT min(id) AS n FROM regions WHERE parent_id = \
             (SELECT parent_id FROM regions WHERE id = {group}) AND id <> {group}"
        ),
    );
    app.patch(
        &format!("/api/v1/premises/{p1}"),
        Some(&cadre),
        json!({"group_id": sibling}),
    )
    .await
    .assert_status(200);
    app.delete(&format!("/api/v1/premises/{p2}"), Some(&cadre))
        .await
        .assert_status(204);
    phone
        .sync_until(&app, &inspector, |ph| {
            ph.has_tombstone("premises", p1) && ph.has_tombstone("premises", p2)
        })
        .await;
    assert!(!phone.ids("premises").contains(&p1) && !phone.ids("premises").contains(&p2));

    // A role on the roster revoked: a roster tombstone.
    let handler = app
        .get(
            "/api/v1/me",
            Some(&login(&app, "demo.handler", DEMO_PW).await),
        )
        .await;
    let handler_id = handler.body["user"]["id"].as_i64().unwrap();
    let assignment = handler.body["roles"][0]["id"].as_i64().unwrap();
    app.delete(
        &format!("/api/v1/users/{handler_id}/roles/{assignment}"),
        Some(&admin),
    )
    .await
    .assert_status(204);
    phone
        .sync_until(&app, &inspector, |ph| {
            ph.has_tombstone("roster", assignment)
        })
        .await;
    assert!(!phone.ids("roster").contains(&assignment));
    assert_eq!(phone.ids("roster").len() as i64, roster - 1);

    // The phone equals a fresh first sync.
    let mut fresh = Phone::default();
    fresh.sync(&app, &inspector, 7).await;
    assert_eq!(
        phone.held.keys().collect::<Vec<_>>(),
        fresh.held.keys().collect::<Vec<_>>()
    );

    // The inspector's own scope grows: the phone is told to start over, and gets the new group.
    let inspector_id = me.body["user"]["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/users/{inspector_id}/roles"),
        Some(&admin),
        json!({"role": "grid_inspector", "region_id": sibling}),
    )
    .await
    .assert_status(201);
    phone
        .sync_until(&app, &inspector, |ph| ph.ids("premises").contains(&p1))
        .await;
    assert_eq!(phone.resets, 1);
    assert!(phone.ids("region").contains(&sibling));
    assert!(
        phone.ids("premises").contains(&p1),
        "the moved premises is in scope again"
    );

    // Refusals: another user's cursor, an altered one, garbage, bad limits.
    let cadre_cursor = app.get("/api/v1/sync", Some(&cadre)).await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .get(
            &format!("/api/v1/sync?cursor={cadre_cursor}"),
            Some(&inspector),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "cursor");
    let mine = phone.cursor.clone().unwrap();
    let mut altered = mine.clone().into_bytes();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for bad in [altered.as_str(), "abc", "abc.def", "%00"] {
        let r = app
            .get(&format!("/api/v1/sync?cursor={bad}"), Some(&inspector))
            .await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
        assert_ne!(r.status, 500);
    }
    for limit in ["0", "2001", "x"] {
        let r = app
            .get(&format!("/api/v1/sync?limit={limit}"), Some(&inspector))
            .await;
        assert!(r.status.is_client_error(), "{limit}");
    }
    app.get("/api/v1/sync", None)
        .await
        .assert_problem(401, "unauthenticated");
}

/// Two servers' writers commit in the other order than they took their log positions, many
/// times over, while a phone polls: on PostgreSQL the phone must still receive every change.
async fn late_commits_are_never_skipped(b: Backend) {
    let app = spawn(b).await;
    let w = World::new(&app).await;
    let (_, county) = (0, w.user(Role::CountyOfficial).build(&app).await.token);
    let group_path: String = {
        #[derive(QueryableByName)]
        struct P {
            #[diesel(sql_type = diesel::sql_types::Text)]
            path: String,
        }
        diesel::sql_query(format!("SELECT path FROM regions WHERE id = {}", w.t.group))
            .get_result::<P>(&mut *app.db.conn())
            .unwrap()
            .path
    };
    let group = w.t.group;
    let insert = move |n: &str| {
        format!(
            "INSERT INTO premises (group_id, region_path, name, category, address, signage, \
             created_at, updated_at) VALUES ({group}, '{group_path}', '{n}', 'shop', '一组', \
             false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
    };

    // Deterministic first (PostgreSQL only: on SQLite the first writer holds the write lock
    // until it commits, so the second cannot even begin).
    let mut phone = Phone::default();
    phone.sync(&app, &county, 100).await;
    if b == Backend::Postgres {
        let mut early = app.db.conn();
        let mut late = app.db.conn();
        late.batch_execute(&format!("BEGIN; {}", insert("迟提交的商店")))
            .unwrap();
        early
            .batch_execute(&format!("BEGIN; {}; COMMIT", insert("先提交的商店")))
            .unwrap();
        phone.sync(&app, &county, 100).await;
        let names = |p: &Phone| -> BTreeSet<String> {
            p.held
                .iter()
                .filter(|((k, _), _)| k == "premises")
                .map(|(_, v)| v["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(!names(&phone).contains("迟提交的商店"), "not committed yet");
        late.batch_execute("COMMIT").unwrap();
        // Other tests' transactions on the same cluster may hold the horizon back a moment.
        let until = Instant::now() + CATCH_UP;
        while Instant::now() < until {
            phone.sync(&app, &county, 100).await;
            if names(&phone).contains("迟提交的商店") && names(&phone).contains("先提交的商店")
            {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(names(&phone).contains("迟提交的商店"));
        assert!(names(&phone).contains("先提交的商店"));
    }

    // Randomised: two writers (two servers' connections) insert with random pauses inside
    // their transactions, while the phone polls.
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|server| {
            let url = app.db.url.clone();
            let insert = insert.clone();
            std::thread::spawn(move || {
                let pool = firegrid::db::build_pool(&url, 1, Duration::from_secs(30));
                let mut conn = pool.get().unwrap();
                let mut seed: u64 = 0x9E37_79B9_7F4A_7C15 ^ (server as u64 + 1);
                let mut rnd = move || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed
                };
                for i in 0..40 {
                    let name = format!("服务器{server}-商店{i}");
                    firegrid::db::write_tx(&mut conn, |c| {
                        c.batch_execute(&insert(&name))?;
                        std::thread::sleep(Duration::from_millis(rnd() % 25));
                        Ok(())
                    })
                    .unwrap();
                    std::thread::sleep(Duration::from_millis(rnd() % 5));
                }
            })
        })
        .collect();
    let finished = done.clone();
    let watcher = std::thread::spawn(move || {
        for w in writers {
            w.join().unwrap();
        }
        finished.store(true, Ordering::Release);
    });
    let mut polls = 0;
    while !done.load(Ordering::Acquire) {
        phone.sync(&app, &county, 7).await;
        polls += 1;
        actix_web::rt::time::sleep(Duration::from_millis(3)).await;
    }
    watcher.join().unwrap();
    let expected: BTreeSet<i64> = {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        diesel::sql_query("SELECT id FROM premises")
            .load::<Id>(&mut *app.db.conn())
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    let until = Instant::now() + CATCH_UP;
    while Instant::now() < until {
        phone.sync(&app, &county, 50).await;
        if phone.ids("premises") == expected {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        polls > 3,
        "the phone polled while the writers wrote ({polls})"
    );
    assert_eq!(phone.ids("premises"), expected);
    assert_eq!(expected.len(), if b == Backend::Postgres { 82 } else { 80 });
}

/// The log keeps its retention period: a phone away longer starts over with a fresh snapshot
/// that holds what was pruned; a phone that kept up continues from its cursor.
async fn a_phone_away_past_the_retention_starts_over(b: Backend) {
    use firegrid::hazards::sweep::{sweep_with, Retention};
    let app = spawn(b).await;
    firegrid::demo::load(&mut app.db.conn()).expect("demo county");
    let inspector = login(&app, "demo.inspector", DEMO_PW).await;
    let leader = login(&app, "demo.leader", DEMO_PW).await;
    let me = app.get("/api/v1/me", Some(&inspector)).await;
    let group = me.body["scope"]["regions"][0]["id"].as_i64().unwrap();
    let retention = Retention {
        contact_days: 180,
        sync_days: 30,
    };

    let mut away = Phone::default();
    away.sync(&app, &inspector, 50).await;
    // A change the away phone never fetches, then a sweep leaves a mark after it.
    let case = id_of(
        app.post(
            "/api/v1/hazards",
            Some(&leader),
            report_body(group, Severity::General, "草垛紧靠院墙"),
        )
        .await
        .assert_status(201),
    );
    let mut kept_up = Phone::default();
    kept_up
        .sync_until(&app, &inspector, |ph| ph.ids("hazard").contains(&case))
        .await;
    // On PostgreSQL the mark covers only what is final (other tests' transactions on the
    // server may hold the horizon back): wait until every row logged so far is.
    let (last_txid, last_pos) = (
        scalar(&app, "SELECT max(txid) AS n FROM sync_log"),
        scalar(&app, "SELECT max(pos) AS n FROM sync_log"),
    );
    let until = Instant::now() + CATCH_UP;
    while firegrid::sync::store::final_position(&mut app.db.conn()).unwrap()
        < (firegrid::sync::cursor::Position {
            txid: last_txid,
            pos: last_pos,
        })
    {
        assert!(
            Instant::now() < until,
            "the log's horizon never passed the case"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // The phone that keeps up reads the log past the case before anything is pruned.
    kept_up.sync(&app, &inspector, 50).await;
    let t0 = firegrid::db::now();
    let log_rows = || scalar(&app, "SELECT count(*) AS n FROM sync_log");
    let before = log_rows();
    let r = sweep_with(&mut app.db.conn(), t0, retention).unwrap();
    assert_eq!(r.sync_log_pruned, 0, "nothing is old enough yet");
    assert_eq!(log_rows(), before);

    // 31 days later the mark is past the retention: the rows up to it go.
    let later = t0 + chrono::Duration::days(31);
    let r = sweep_with(&mut app.db.conn(), later, retention).unwrap();
    assert!(r.sync_log_pruned > 0);
    assert!(log_rows() < before);
    // A second server's pass at the same moment finds nothing more to do.
    let r = sweep_with(&mut app.db.conn(), later, retention).unwrap();
    assert_eq!(r.sync_log_pruned, 0);

    // The phone that was away starts over and gets the case from the snapshot.
    away.sync(&app, &inspector, 50).await;
    assert_eq!(away.resets, 1);
    assert!(away.ids("hazard").contains(&case));
    let mut fresh = Phone::default();
    fresh.sync(&app, &inspector, 50).await;
    assert_eq!(
        away.held.keys().collect::<Vec<_>>(),
        fresh.held.keys().collect::<Vec<_>>()
    );
    // The phone that kept up continues without a reset, and still sees new changes.
    kept_up.sync(&app, &inspector, 50).await;
    assert_eq!(kept_up.resets, 0);
    app.post(
        &format!("/api/v1/hazards/{case}/actions"),
        Some(&inspector),
        json!({"action": "escalate", "reason": "组内无法整改"}),
    )
    .await
    .assert_status(200);
    kept_up
        .sync_until(&app, &inspector, |ph| ph.ids("hazard_event").len() == 2)
        .await;
    assert_eq!(kept_up.resets, 0);
}

db_tests!(
    a_phone_catches_up_without_losing_or_doubling,
    late_commits_are_never_skipped,
    a_phone_away_past_the_retention_starts_over
);
