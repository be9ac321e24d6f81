//! `firegrid-bench ceiling`: what the database alone does on the same schema and data, so that
//! every API figure can be read as a fraction of it: single-row insert transactions per second
//! (a notification row, autocommit) and indexed 20-row range queries per second (the newest 20
//! cases below a random id, by primary key, loaded into the same row type the API uses), each
//! with one connection and with `clients` connections in parallel.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use firegrid::db::schema::{hazards, notifications, users};
use firegrid::db::{self, DbConn};
use firegrid::hazards::store::HazardRow;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ceiling {
    pub backend: String,
    pub clients: usize,
    pub seconds: f64,
    pub cases: i64,
    pub insert_tps_1: f64,
    pub insert_tps_n: f64,
    pub range_qps_1: f64,
    pub range_qps_n: f64,
}

impl Ceiling {
    pub fn insert_tps_best(&self) -> f64 {
        self.insert_tps_1.max(self.insert_tps_n)
    }
    pub fn range_qps_best(&self) -> f64 {
        self.range_qps_1.max(self.range_qps_n)
    }
}

const KIND: &str = "bench_ceiling";

/// Runs `op` on `threads` connections for `secs`; operations per second.
fn measure<F>(url: &str, threads: usize, secs: f64, op: F) -> Result<f64, String>
where
    F: Fn(&mut DbConn, &mut rand::rngs::StdRng) -> QueryResult<()> + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut conns = Vec::new();
    for _ in 0..threads {
        conns.push(crate::marker::connect_generated(url, "ceiling")?);
    }
    let started = Instant::now();
    let handles: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let (op, count, stop) = (op.clone(), count.clone(), stop.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64 + 1);
                while !stop.load(Ordering::Relaxed) {
                    op(&mut conn, &mut rng).map_err(|e| e.to_string())?;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().map_err(|_| "worker panicked".to_string())??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Measures the database at `url`; it must be one `gen` made (the inserts are rows of its own).
pub fn measure_all(url: &str, clients: usize, secs: f64) -> Result<Ceiling, String> {
    let mut conn = crate::marker::connect_generated(url, "ceiling")?;
    let user: i64 = users::table
        .select(diesel::dsl::min(users::id))
        .first::<Option<i64>>(&mut conn)
        .map_err(|e| e.to_string())?
        .ok_or("no users: run bench gen first")?;
    let (lo, hi): (Option<i64>, Option<i64>) = hazards::table
        .select((diesel::dsl::min(hazards::id), diesel::dsl::max(hazards::id)))
        .first(&mut conn)
        .map_err(|e| e.to_string())?;
    let (lo, hi) = (lo.unwrap_or(0), hi.unwrap_or(0));
    if hi - lo < 100 {
        return Err("too few cases: run bench gen first".into());
    }
    let backend = match *conn {
        DbConn::Pg(_) => "postgresql",
        DbConn::Sqlite(_) => "sqlite",
    };
    let insert = move |c: &mut DbConn, _: &mut rand::rngs::StdRng| {
        diesel::insert_into(notifications::table)
            .values((
                notifications::user_id.eq(user),
                notifications::kind.eq(KIND),
                notifications::message.eq("ceiling measurement"),
                notifications::created_at.eq(db::now()),
            ))
            .execute(c)
            .map(|_| ())
    };
    let range = move |c: &mut DbConn, rng: &mut rand::rngs::StdRng| {
        let below = rng.gen_range(lo + 20..=hi + 1);
        let rows: Vec<HazardRow> = hazards::table
            .filter(hazards::id.lt(below))
            .order(hazards::id.desc())
            .limit(20)
            .select(HazardRow::as_select())
            .load(c)?;
        debug_assert_eq!(rows.len(), 20);
        Ok(())
    };
    let insert_tps_1 = measure(url, 1, secs, insert)?;
    eprintln!("insert, 1 connection: {insert_tps_1:.0}/s");
    let insert_tps_n = measure(url, clients, secs, insert)?;
    eprintln!("insert, {clients} connections: {insert_tps_n:.0}/s");
    let range_qps_1 = measure(url, 1, secs, range)?;
    eprintln!("range, 1 connection: {range_qps_1:.0}/s");
    let range_qps_n = measure(url, clients, secs, range)?;
    eprintln!("range, {clients} connections: {range_qps_n:.0}/s");
    diesel::delete(notifications::table.filter(notifications::kind.eq(KIND)))
        .execute(&mut conn)
        .map_err(|e| e.to_string())?;
    Ok(Ceiling {
        backend: backend.into(),
        clients,
        seconds: secs,
        cases: hi - lo + 1,
        insert_tps_1,
        insert_tps_n,
        range_qps_1,
        range_qps_n,
    })
}

/// Password verifications per second at the server's argon2 parameters, on `threads` threads
/// for `secs` seconds: the most logins per second this machine could answer, to set the login
/// scenario's rate against (issue 16 asks for ≥ 90 % of it).
pub fn argon2(threads: usize, secs: f64) -> Result<f64, String> {
    const PASSWORD: &str = "firegrid-bench-2026";
    let phc = firegrid::auth::password::hash(PASSWORD).map_err(|e| e.to_string())?;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let (phc, done, stop) = (phc.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let ok = firegrid::auth::password::verify(PASSWORD, &phc);
                    assert!(matches!(
                        ok,
                        firegrid::auth::password::Verified::Correct { .. }
                    ));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join()
            .map_err(|_| "a hashing thread panicked".to_string())?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}
