//! Every figure of `GET /api/v1/stats/summary` recomputed from the raw timeline (issue 14): the
//! `tiny` dataset (cases received over two years, each story told by the case state machine)
//! is generated, then each case is replayed from its events alone — receipt, closure, outcome,
//! deadline, listing, lapsed deadlines — and the README's definitions are applied to the replay
//! here, independently of the server's code. Patrol completion is counted by hand from the
//! generated patrol rows and the region rows. The server's figures must agree for the county
//! and for each township, over several periods, on both backends.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use common::{Backend, TestDb};
use diesel::prelude::*;
use firegrid::db::schema::{hazard_events, hazards, patrols, regions};
use firegrid_bench::{self as bench, Layout, ScaleName, BENCH_PASSWORD};
use serde_json::{json, Value};

/// A case as its timeline tells it.
#[derive(Debug, Default)]
struct Replayed {
    path: String,
    created: NaiveDateTime,
    status: String,
    closed: Option<NaiveDateTime>,
    outcome: Option<String>,
    severity: String,
    source: String,
    deadline: Option<NaiveDateTime>,
    listed: bool,
    lapsed: bool,
}

fn ts(v: &Value) -> Option<NaiveDateTime> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.naive_utc())
}

fn replay(db: &TestDb) -> Vec<Replayed> {
    let mut conn = db.conn();
    let paths: HashMap<i64, String> = hazards::table
        .select((hazards::id, hazards::region_path))
        .load::<(i64, String)>(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    let events: Vec<(i64, i32, String, String, String, String, NaiveDateTime)> =
        hazard_events::table
            .order((hazard_events::hazard_id.asc(), hazard_events::seq.asc()))
            .select((
                hazard_events::hazard_id,
                hazard_events::seq,
                diesel::dsl::sql::<diesel::sql_types::Text>("action"),
                diesel::dsl::sql::<diesel::sql_types::Text>("to_status"),
                diesel::dsl::sql::<diesel::sql_types::Text>(
                    "COALESCE(from_level, '') || '>' || to_level",
                ),
                hazard_events::params,
                hazard_events::created_at,
            ))
            .load(&mut conn)
            .unwrap();
    let mut cases: HashMap<i64, Replayed> = HashMap::new();
    for (id, seq, action, to_status, levels, params, at) in events {
        let params: Value = serde_json::from_str(&params).unwrap();
        let c = cases.entry(id).or_default();
        if seq == 1 {
            assert_eq!(action, "report");
            c.path = paths[&id].clone();
            c.created = at;
            c.severity = params["severity"].as_str().unwrap().into();
            c.source = params["source"].as_str().unwrap().into();
        }
        c.status = to_status;
        match action.as_str() {
            "approve_closure" => {
                c.closed = Some(at);
                c.outcome = params["outcome"].as_str().map(Into::into);
                c.deadline = None;
            }
            "reject_report" => {
                // Unfounded, or with `duplicate_of` a duplicate (closed, not rejected).
                c.closed = Some(at);
                c.outcome = Some(
                    if params["duplicate_of"].is_null() {
                        "unfounded"
                    } else {
                        "duplicate"
                    }
                    .into(),
                );
                c.deadline = None;
            }
            "reopen" => {
                c.closed = None;
                c.outcome = None;
            }
            "spot_check" if params["passed"] == json!(false) => {
                c.closed = None;
                c.outcome = None;
            }
            "set_deadline" => c.deadline = ts(&params["deadline"]),
            "list_for_supervision" => {
                c.deadline = ts(&params["deadline"]);
                c.listed = true;
            }
            "escalate" | "transfer_to_police" => c.deadline = None,
            "deadline_expired" => {
                c.lapsed = true;
                let (from, to) = levels.split_once('>').unwrap();
                if from != to {
                    c.deadline = None;
                }
            }
            _ => {}
        }
    }
    cases.into_values().collect()
}

/// The README's definitions, applied to replayed cases.
fn figures(cases: &[&Replayed], start: NaiveDateTime, end: NaiveDateTime) -> Value {
    let finished_before = |c: &Replayed, t: NaiveDateTime| {
        matches!(c.status.as_str(), "closed" | "rejected") && c.closed.is_some_and(|x| x < t)
    };
    let in_period = |t: Option<NaiveDateTime>| t.is_some_and(|t| t >= start && t < end);
    let closed_as = |c: &Replayed, o: &str| {
        c.status == "closed" && c.outcome.as_deref() == Some(o) && in_period(c.closed)
    };
    let found: Vec<&&Replayed> = cases
        .iter()
        .filter(|c| in_period(Some(c.created)))
        .collect();
    let open: Vec<&&Replayed> = cases
        .iter()
        .filter(|c| c.created < end && !finished_before(c, end))
        .collect();
    let rectified: Vec<&&Replayed> = cases.iter().filter(|c| closed_as(c, "rectified")).collect();
    let count =
        |v: &[&&Replayed], f: &dyn Fn(&Replayed) -> bool| v.iter().filter(|c| f(c)).count() as i64;
    let found_rectified = count(&found, &|c| {
        finished_before(c, end) && c.status == "closed" && c.outcome.as_deref() == Some("rectified")
    });
    let found_dismissed = count(&found, &|c| finished_before(c, end)) - found_rectified;
    let mut days: Vec<f64> = rectified
        .iter()
        .map(|c| (c.closed.unwrap() - c.created).num_milliseconds() as f64 / 86_400_000.0)
        .collect();
    days.sort_by(f64::total_cmp);
    let pct = |p: f64| -> Value {
        if days.is_empty() {
            return Value::Null;
        }
        let rank = ((p * days.len() as f64).ceil() as usize).max(1);
        json!((days[rank - 1] * 100.0).round() / 100.0)
    };
    let rate = |a: i64, b: i64| -> Value {
        if b == 0 {
            Value::Null
        } else {
            json!((a as f64 / b as f64 * 10_000.0).round() / 10_000.0)
        }
    };
    let on_time = count(&rectified, &|c| !c.lapsed);
    json!({
        "found": found.len(),
        "found_by_source": {
            "patrol": count(&found, &|c| c.source == "patrol"),
            "inspection": count(&found, &|c| c.source == "inspection"),
            "public": count(&found, &|c| c.source == "public"),
            "other": count(&found, &|c| c.source == "other"),
        },
        "found_by_severity": {
            "general": count(&found, &|c| c.severity == "general"),
            "major": count(&found, &|c| c.severity == "major"),
        },
        "open_at_end": open.len(),
        "overdue_at_end": count(&open, &|c| c.status == "open" && c.deadline.is_some_and(|d| d < end)),
        "major_open_at_end": count(&open, &|c| c.severity == "major"),
        "listed_open_at_end": count(&open, &|c| c.listed),
        "rectified": rectified.len(),
        "closed_unfounded": cases.iter().filter(|c| closed_as(c, "unfounded")).count(),
        "closed_duplicate": cases.iter().filter(|c| closed_as(c, "duplicate")).count(),
        "rejected": cases.iter().filter(|c| c.status == "rejected" && in_period(c.closed)).count(),
        "found_rectified": found_rectified,
        "found_dismissed": found_dismissed,
        "rectification_rate": rate(found_rectified, found.len() as i64 - found_dismissed),
        "days_to_close_median": pct(0.5),
        "days_to_close_p90": pct(0.9),
        "closed_on_time": on_time,
        "closed_on_time_share": rate(on_time, rectified.len() as i64),
    })
}

/// The groups (paths) and the patrols (kind, group path, local day) as stored.
struct Field {
    groups: Vec<String>,
    rounds: Vec<(String, String, String)>,
}

fn field(db: &TestDb) -> Field {
    let mut conn = db.conn();
    let groups = regions::table
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "level = 'group'",
        ))
        .select(regions::path)
        .load(&mut conn)
        .unwrap();
    let rounds = patrols::table
        .select((
            diesel::dsl::sql::<diesel::sql_types::Text>("kind"),
            patrols::region_path,
            patrols::local_date,
        ))
        .load(&mut conn)
        .unwrap();
    Field { groups, rounds }
}

/// The README's patrol figures for the groups under `under` (a path fragment) over the local
/// days `from..=last` (none when `last` is before `from`).
fn patrol_figures(f: &Field, under: &str, from: NaiveDate, last: NaiveDate) -> Value {
    let days = ((last - from).num_days() + 1).max(0);
    let groups = f.groups.iter().filter(|g| g.contains(under)).count() as i64;
    let (from, last) = (from.to_string(), last.to_string());
    let done: BTreeSet<(&String, &String)> = f
        .rounds
        .iter()
        .filter(|(kind, path, day)| {
            kind == "patrol" && path.contains(under) && *day >= from && *day <= last
        })
        .map(|(_, path, day)| (path, day))
        .collect();
    let done = done.len() as i64;
    let group_days = groups * days;
    json!({
        "patrol_group_days": group_days,
        "patrolled_group_days": done,
        "patrol_completion": if group_days == 0 {
            Value::Null
        } else {
            json!((done as f64 / group_days as f64 * 10_000.0).round() / 10_000.0)
        },
    })
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .naive_utc()
}

fn assert_agrees(got: &Value, want: &Value, what: &str) {
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&got[k], v, "{what}: {k}");
    }
}

async fn figures_agree_with_the_timeline(backend: Backend) {
    let db = TestDb::new(backend);
    let layout = Layout::of(ScaleName::Tiny);
    bench::gen::generate(&mut db.conn(), &layout, 7, false).expect("generate");
    let cases = replay(&db);
    assert_eq!(cases.len(), 100);
    let f = field(&db);
    assert_eq!(f.groups.len(), 8);
    assert!(!f.rounds.is_empty(), "the generator wrote no patrols");
    let app = common::spawn_with(db, |_| {}).await;
    let token = common::login(&app, &Layout::county_official(0, 0), BENCH_PASSWORD).await;
    let county = layout.county_id(0);

    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let periods = [
        (today - Duration::days(365), today),
        (today - Duration::days(230), today - Duration::days(170)),
        (today - Duration::days(800), today),
        (today - Duration::days(40), today - Duration::days(10)),
        (today - Duration::days(20), today - Duration::days(3)),
        (today, today),
    ];
    let mut nonzero = 0;
    let (mut patrolled, mut missed) = (0, 0);
    for (from, to) in periods {
        let r = app
            .get(
                &format!("/api/v1/stats/summary?region_id={county}&from={from}&to={to}"),
                Some(&token),
            )
            .await;
        let body = r.assert_status(200).clone();
        // The end is "now" for a period running to today.
        let end = ts(&body["period"]["end"]).unwrap();
        assert!(end <= midnight(to + Duration::days(1)));
        let start = midnight(from);
        assert_eq!(ts(&body["period"]["start"]), Some(start));
        let all: Vec<&Replayed> = cases.iter().collect();
        let want = figures(&all, start, end);
        nonzero += want["found"].as_i64().unwrap() + want["rectified"].as_i64().unwrap();
        assert_agrees(&body["total"], &want, &format!("county {from}..{to}"));
        // Patrols count the days over by the end: up to yesterday for a period running today.
        let shanghai = chrono_tz::Asia::Shanghai;
        let last = (shanghai.from_utc_datetime(&end).date_naive() - Duration::days(1)).min(to);
        assert_eq!(
            body["period"]["days_ended"],
            json!(((last - from).num_days() + 1).max(0))
        );
        let want = patrol_figures(&f, &format!("/{county}/"), from, last);
        assert_agrees(
            &body["total"],
            &want,
            &format!("county patrols {from}..{to}"),
        );
        let (done, all_days) = (
            want["patrolled_group_days"].as_i64().unwrap(),
            want["patrol_group_days"].as_i64().unwrap(),
        );
        patrolled += done;
        missed += all_days - done;
        let kids = body["children"].as_array().unwrap();
        assert_eq!(kids.len(), layout.townships);
        for (t, kid) in kids.iter().enumerate() {
            let tid = layout.township_id(0, t);
            assert_eq!(kid["region"]["id"], json!(tid));
            let mine: Vec<&Replayed> = cases
                .iter()
                .filter(|c| c.path.contains(&format!("/{tid}/")))
                .collect();
            assert_agrees(
                kid,
                &figures(&mine, start, end),
                &format!("township {tid} {from}..{to}"),
            );
            assert_agrees(
                kid,
                &patrol_figures(&f, &format!("/{tid}/"), from, last),
                &format!("township {tid} patrols {from}..{to}"),
            );
        }
        // Children add up to the total.
        for k in [
            "found",
            "open_at_end",
            "rectified",
            "overdue_at_end",
            "patrol_group_days",
            "patrolled_group_days",
        ] {
            let sum: i64 = kids.iter().map(|c| c[k].as_i64().unwrap()).sum();
            assert_eq!(json!(sum), body["total"][k], "{k}");
        }
    }
    assert!(nonzero > 0, "the generated data exercised nothing");
    // Some group-days patrolled, some missed: the completion is neither trivially 0 nor 1.
    assert!(
        patrolled > 0 && missed > 0,
        "{patrolled} patrolled, {missed} missed"
    );

    // The two ways of reading deadline lapses agree (a province takes the join, a county the
    // probes): on every period, for the rectified cases the figures ask about.
    use firegrid::stats::{period::Period, store};
    let mut conn = app.db.conn();
    let path = firegrid::regions::store::get(&mut conn, county)
        .unwrap()
        .path;
    let mut lapses = 0;
    for (from, to) in periods {
        let p = Period::days(from, to, chrono_tz::Asia::Shanghai, firegrid::db::now()).unwrap();
        let rectified: Vec<i64> = store::facts(&mut conn, &path, &p)
            .unwrap()
            .iter()
            .filter(|c| c.rectified_in(&p))
            .map(|c| c.id)
            .collect();
        let probed = store::lapsed_by_probe(&mut conn, &rectified).unwrap();
        let joined: std::collections::HashSet<i64> = store::lapsed_in_subtree(&mut conn, &path, &p)
            .unwrap()
            .into_iter()
            .filter(|id| rectified.contains(id))
            .collect();
        assert_eq!(probed, joined, "{from}..{to}");
        lapses += probed.len();
    }
    assert!(lapses > 0, "no rectified case had a lapsed deadline");
}

db_tests!(figures_agree_with_the_timeline);
