//! Patrol and inspection compliance on the demo county, against a count by hand; the missed-
//! round notices, exactly once across servers.

mod common;

use std::sync::{Arc, Barrier};

use chrono::{Datelike, NaiveDate, TimeZone};
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::{json, Value};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

#[derive(QueryableByName)]
struct Group {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    leader: String,
}

fn noon(day: NaiveDate) -> (String, String) {
    let t = TZ
        .from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    (
        t.to_rfc3339(),
        (t + chrono::Duration::hours(1)).to_rfc3339(),
    )
}

/// The demo county with its 36 groups in code order (3 townships × 4 villages × 3 groups) and
/// a token for each group's leader.
struct Demo {
    groups: Vec<i64>,
    leaders: Vec<String>,
    county: i64,
    townships: Vec<(i64, String)>,
}

async fn demo(app: &TestApp) -> Demo {
    let mut conn = app.db.conn();
    firegrid::demo::load(&mut conn).expect("demo county");
    let rows: Vec<Group> = diesel::sql_query(
        "SELECT r.id AS id, u.username AS leader FROM regions r \
         JOIN role_assignments ra ON ra.region_id = r.id AND ra.role = 'grid_leader' \
         JOIN users u ON u.id = ra.user_id WHERE r.level = 'group' ORDER BY r.code",
    )
    .load(&mut *conn)
    .unwrap();
    assert_eq!(rows.len(), 36, "the demo county has 36 groups");
    #[derive(QueryableByName)]
    struct Named {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        name: String,
    }
    let townships: Vec<Named> =
        diesel::sql_query("SELECT id, name FROM regions WHERE level = 'township' ORDER BY code")
            .load(&mut *conn)
            .unwrap();
    let county: Named = diesel::sql_query("SELECT id, name FROM regions WHERE level = 'county'")
        .get_result(&mut *conn)
        .unwrap();
    let mut leaders = Vec::new();
    for g in &rows {
        firegrid::bootstrap::reset_password(&mut conn, &g.leader, PASSWORD).unwrap();
        leaders.push(g.leader.clone());
    }
    Demo {
        groups: rows.iter().map(|g| g.id).collect(),
        leaders,
        county: county.id,
        townships: townships.into_iter().map(|t| (t.id, t.name)).collect(),
    }
}

async fn patrol(app: &TestApp, token: &str, group: i64, day: NaiveDate) {
    let (start, end) = noon(day);
    let r = app
        .post(
            "/api/v1/patrols",
            Some(token),
            json!({"group_id": group, "started_at": start, "ended_at": end}),
        )
        .await;
    r.assert_status(201);
}

fn rates(v: &Value) -> Vec<(i64, i64)> {
    v["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["patrolled_group_days"].as_i64().unwrap(),
                c["group_days"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn compliance_matches_a_hand_count(b: Backend) {
    let app = spawn(b).await;
    let d = demo(&app).await;
    let county_token = login(&app, "demo.county", firegrid::demo::DEMO_PASSWORD).await;
    let township_token = login(&app, "demo.township", firegrid::demo::DEMO_PASSWORD).await;
    let today = chrono::Utc::now().with_timezone(&TZ).date_naive();
    let day = today.pred_opt().unwrap();
    let day1 = day.pred_opt().unwrap();
    let day2 = day1.pred_opt().unwrap();
    // Who patrolled when (group indexes in code order).
    let plan: [(NaiveDate, &[usize]); 3] = [
        (day, &[0, 1, 2, 3, 12]),
        (day1, &[0, 5, 12, 13]),
        (day2, &[0, 1]),
    ];
    let mut tokens = std::collections::HashMap::new();
    for (when, groups) in plan {
        for &g in groups {
            if let std::collections::hash_map::Entry::Vacant(slot) = tokens.entry(g) {
                slot.insert(login(&app, &d.leaders[g], PASSWORD).await);
            }
            patrol(&app, &tokens[&g], d.groups[g], when).await;
        }
    }
    // A second patrol the same day counts once; a village check is not a group's patrol.
    patrol(&app, &tokens[&0], d.groups[0], day).await;
    let cadre = login(&app, "demo.cadre", firegrid::demo::DEMO_PASSWORD).await;
    let (start, end) = noon(day);
    let village: i64 = app
        .get(&format!("/api/v1/regions/{}", d.groups[0]), Some(&cadre))
        .await
        .body["parent_id"]
        .as_i64()
        .unwrap();
    app.post(
        "/api/v1/patrols",
        Some(&cadre),
        json!({"kind": "village_check", "region_id": village, "started_at": start, "ended_at": end}),
    )
    .await
    .assert_status(201);
    // 李家山镇's inspection that month.
    app.post(
        "/api/v1/patrols",
        Some(&township_token),
        json!({"kind": "township_inspection", "region_id": d.townships[0].0, "theme": "冬春火灾防控",
               "started_at": start, "ended_at": end}),
    )
    .await
    .assert_status(201);

    // The day, counted by hand: 5 of 36 groups; 4, 1 and 0 of 12 per township.
    let url = format!("/api/v1/regions/{}/patrol-compliance", d.county);
    let r = app
        .get(&format!("{url}?date={day}"), Some(&county_token))
        .await;
    let v = r.assert_status(200).clone();
    assert_eq!(v["days"], 1);
    assert_eq!(v["total"]["groups"], 36);
    assert_eq!(v["total"]["patrolled_group_days"], 5);
    assert_eq!(v["total"]["rate"], json!(0.1389));
    assert_eq!(rates(&v), [(4, 12), (1, 12), (0, 12)]);
    let missed = v["missed"].as_array().unwrap();
    assert_eq!(missed.len(), 31);
    // Never patrolled first (29 groups), then 二组 of the second village and 多巴镇's second
    // group, each one day since their patrol the day before.
    assert!(missed[..29].iter().all(|m| m["run"].is_null()));
    let last_two: Vec<(i64, i64)> = missed[29..]
        .iter()
        .map(|m| {
            (
                m["group"]["id"].as_i64().unwrap(),
                m["run"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(last_two, [(d.groups[5], 1), (d.groups[13], 1)]);
    assert_eq!(missed[29]["last_patrol_date"], day1.to_string());

    // The range of three days: 11 of 108 group-days; 8, 3 and 0 of 36.
    let r = app
        .get(&format!("{url}?from={day2}&to={day}"), Some(&county_token))
        .await;
    let v = r.assert_status(200).clone();
    assert_eq!(v["days"], 3);
    assert_eq!(v["total"]["group_days"], 108);
    assert_eq!(v["total"]["patrolled_group_days"], 11);
    assert_eq!(rates(&v), [(8, 36), (3, 36), (0, 36)]);
    let missed = v["missed"].as_array().unwrap();
    assert_eq!(
        missed.len(),
        35,
        "only 一组 of 李家山村 patrolled every day"
    );
    let of = |g: usize| {
        missed
            .iter()
            .find(|m| m["group"]["id"] == d.groups[g])
            .map(|m| (m["missed_days"].as_i64().unwrap(), m["run"].as_i64()))
    };
    assert_eq!(of(0), None);
    assert_eq!(of(1), Some((1, Some(0))));
    assert_eq!(of(2), Some((2, Some(0))));
    assert_eq!(of(5), Some((2, Some(1))));
    assert_eq!(of(13), Some((2, Some(1))));
    assert_eq!(of(30), Some((3, None)));

    // A township's own view: its villages.
    let r = app
        .get(
            &format!(
                "/api/v1/regions/{}/patrol-compliance?date={day}",
                d.townships[0].0
            ),
            Some(&township_token),
        )
        .await;
    let v = r.assert_status(200).clone();
    assert_eq!(rates(&v), [(3, 3), (1, 3), (0, 3), (0, 3)]);

    // The month: one township of three ran its inspection.
    let month = format!("{:04}-{:02}", day.year(), day.month());
    let r = app
        .get(
            &format!(
                "/api/v1/regions/{}/inspection-compliance?month={month}",
                d.county
            ),
            Some(&county_token),
        )
        .await;
    let v = r.assert_status(200).clone();
    assert_eq!(
        (v["townships"].as_i64(), v["inspected"].as_i64()),
        (Some(3), Some(1))
    );
    let missing: Vec<&str> = v["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["township"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        missing,
        [d.townships[1].1.as_str(), d.townships[2].1.as_str()]
    );
    let r = app
        .get(
            &format!(
                "/api/v1/regions/{}/inspection-compliance?month=2020-01",
                d.county
            ),
            Some(&county_token),
        )
        .await;
    assert_eq!(r.assert_status(200)["inspected"], 0);

    // Bad input and scope.
    for q in [
        "",
        "date=2026-02-30",
        "date=x",
        "from=2026-01-02&to=2026-01-01",
        "from=2024-01-01&to=2026-01-01",
        "from=2026-01-01",
        "date=2026-01-01&from=2026-01-01&to=2026-01-02",
    ] {
        let r = app.get(&format!("{url}?{q}"), Some(&county_token)).await;
        assert!(r.status.is_client_error(), "{q}: {}", r.status);
    }
    for q in ["", "month=2026-13", "month=2026-1", "month=x"] {
        let r = app
            .get(
                &format!("/api/v1/regions/{}/inspection-compliance?{q}", d.county),
                Some(&county_token),
            )
            .await;
        assert!(r.status.is_client_error(), "{q}: {}", r.status);
    }
    // A village has no township inspections to count.
    let r = app
        .get(
            &format!("/api/v1/regions/{village}/inspection-compliance?month={month}"),
            Some(&cadre),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    // 李家山镇's official does not see 多巴镇; nobody sees a region that does not exist.
    for path in [
        "patrol-compliance?date=2026-01-01",
        "inspection-compliance?month=2026-01",
    ] {
        app.get(
            &format!("/api/v1/regions/{}/{path}", d.townships[1].0),
            Some(&township_token),
        )
        .await
        .assert_problem(404, "not_found");
        app.get(
            &format!("/api/v1/regions/999999/{path}"),
            Some(&county_token),
        )
        .await
        .assert_problem(404, "not_found");
        app.get(&format!("/api/v1/regions/{}/{path}", d.county), None)
            .await
            .assert_problem(401, "unauthenticated");
    }
}

/// Missed-round notices: the village cadre hears of each run of 2 missed days once, the county
/// officials of each township without last month's inspection once, even with two servers
/// running the pass at the same moment.
async fn missed_rounds_are_announced_once(b: Backend) {
    let app = spawn(b).await;
    let d = demo(&app).await;
    // The county was set up long ago (a group cannot miss days before it existed).
    app.db
        .conn()
        .batch_execute(&format!(
            "UPDATE regions SET created_at = '{}'",
            (chrono::Utc::now() - chrono::Duration::days(70)).naive_utc()
        ))
        .unwrap();
    let today = chrono::Utc::now().with_timezone(&TZ).date_naive();
    let yesterday = today.pred_opt().unwrap();
    let leader0 = login(&app, &d.leaders[0], PASSWORD).await;
    let leader1 = login(&app, &d.leaders[1], PASSWORD).await;
    patrol(&app, &leader0, d.groups[0], yesterday).await;
    patrol(&app, &leader1, d.groups[1], yesterday.pred_opt().unwrap()).await;
    // Two servers, one moment.
    let barrier = Arc::new(Barrier::new(2));
    let runs: Vec<firegrid::patrols::alerts::AlertReport> = (0..2)
        .map(|_| {
            let url = app.db.url.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let pool = firegrid::db::build_pool(&url, 1, std::time::Duration::from_secs(10));
                let mut conn = pool.get().unwrap();
                barrier.wait();
                firegrid::patrols::alerts::run_once(&mut conn, today, 2, TZ, firegrid::db::now())
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    // 一组 patrolled yesterday, 二组 the day before (one day missed): 34 groups are due.
    let patrol_runs: usize = runs.iter().map(|r| r.patrol_runs).sum();
    assert_eq!(patrol_runs, 34);
    assert_eq!(count_rows(&app.db, "patrol_alerts"), 34);
    // No township inspected last month (this test records none).
    assert_eq!(runs.iter().map(|r| r.townships).sum::<usize>(), 3);
    assert_eq!(count_rows(&app.db, "inspection_alerts"), 3);
    // Again: nothing new.
    let mut conn = app.db.conn();
    let again =
        firegrid::patrols::alerts::run_once(&mut conn, today, 2, TZ, firegrid::db::now()).unwrap();
    assert_eq!((again.patrol_runs, again.townships), (0, 0));
    // demo.cadre (李家山村) hears of its 三组 only; demo.county of the three townships.
    let cadre = login(&app, "demo.cadre", firegrid::demo::DEMO_PASSWORD).await;
    let kinds = |v: &Value, kind: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == kind)
            .count()
    };
    let inbox = app
        .get("/api/v1/me/notifications?limit=200", Some(&cadre))
        .await;
    assert_eq!(kinds(&inbox.body, "patrol_missed"), 1, "{}", inbox.body);
    let county = login(&app, "demo.county", firegrid::demo::DEMO_PASSWORD).await;
    let inbox = app.get("/api/v1/me/notifications?limit=200", Some(&county));
    assert_eq!(kinds(&inbox.await.body, "inspection_missed"), 3);
    // A patrol today ends a run; the next missed pair is a new run, announced anew.
    let later = today + chrono::Duration::days(3);
    let r =
        firegrid::patrols::alerts::run_once(&mut conn, later, 2, TZ, firegrid::db::now()).unwrap();
    assert_eq!(r.patrol_runs, 2, "一组 and 二组 start new runs");
}

db_tests!(
    compliance_matches_a_hand_count,
    missed_rounds_are_announced_once
);
