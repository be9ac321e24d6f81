//! `firegrid bench gen`: fills an empty (migrated) database with a generated county or province
//! through the real schema: the region tree, police stations and a fire department with their
//! jurisdictions, complete 一长三员 rosters and the cadres, officials and officers above them,
//! and cases over two years with hash-chained timelines (`firegrid audit verify` passes),
//! consecutive case numbers and consistent `case_counters`.
//!
//! Rows go in as multi-row `INSERT … VALUES (…),(…)` statements of literal values, the same
//! text on both backends apart from booleans, in transactions of a few thousand cases. Ids are
//! assigned here (the PostgreSQL sequences are moved past them at the end), so no statement
//! needs `RETURNING`. Foreign keys are not re-checked row by row during the load (SQLite
//! `foreign_keys = OFF`, PostgreSQL `session_replication_role = replica` for this session): the
//! generator only writes ids it created.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use chrono::{Datelike, Duration, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{Layout, GRID_ROLES};
use crate::db::schema::{hazards, regions, users};
use crate::db::DbConn;
use crate::hazards::events::{compute_hash, GENESIS};

#[derive(Debug, Default, Clone, Serialize)]
pub struct GenReport {
    pub scale: String,
    pub counties: usize,
    pub regions: i64,
    pub organizations: i64,
    pub users: i64,
    pub role_assignments: i64,
    pub cases: i64,
    pub events: i64,
    pub notifications: i64,
    pub open_cases: i64,
    pub seconds: f64,
    pub seconds_per_phase: BTreeMap<String, f64>,
}

/// Accumulates rows of one table and sends them as one multi-row INSERT.
struct Batch {
    head: String,
    buf: String,
    rows: usize,
    max: usize,
}

impl Batch {
    fn new(table: &str, cols: &str, max: usize) -> Batch {
        Batch {
            head: format!("INSERT INTO {table} ({cols}) VALUES "),
            buf: String::with_capacity(1 << 20),
            rows: 0,
            max,
        }
    }
    /// Starts a row; write values with `Row`, then it is closed by `end`.
    fn row(&mut self) -> Row<'_> {
        if self.rows == 0 {
            self.buf.clear();
            self.buf.push_str(&self.head);
        } else {
            self.buf.push(',');
        }
        self.buf.push('(');
        self.rows += 1;
        Row {
            buf: &mut self.buf,
            first: true,
        }
    }
    fn maybe_flush(&mut self, conn: &mut DbConn) -> QueryResult<()> {
        if self.rows >= self.max {
            self.flush(conn)?;
        }
        Ok(())
    }
    fn flush(&mut self, conn: &mut DbConn) -> QueryResult<()> {
        if self.rows > 0 {
            conn.batch_execute(&self.buf)?;
            self.rows = 0;
            self.buf.clear();
        }
        Ok(())
    }
}

struct Row<'a> {
    buf: &'a mut String,
    first: bool,
}

/// The literal of a boolean on each backend.
#[derive(Clone, Copy)]
struct Lit {
    pg: bool,
}

impl<'a> Row<'a> {
    fn sep(&mut self) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
    }
    fn i(mut self, v: i64) -> Self {
        self.sep();
        let _ = write!(self.buf, "{v}");
        self
    }
    fn oi(self, v: Option<i64>) -> Self {
        match v {
            Some(v) => self.i(v),
            None => self.null(),
        }
    }
    fn f(mut self, v: f64) -> Self {
        self.sep();
        let _ = write!(self.buf, "{v:.6}");
        self
    }
    fn of(self, v: Option<f64>) -> Self {
        match v {
            Some(v) => self.f(v),
            None => self.null(),
        }
    }
    fn s(mut self, v: &str) -> Self {
        self.sep();
        self.buf.push('\'');
        for ch in v.chars() {
            if ch == '\'' {
                self.buf.push('\'');
            }
            self.buf.push(ch);
        }
        self.buf.push('\'');
        self
    }
    fn os(self, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.s(v),
            None => self.null(),
        }
    }
    /// Timestamps as diesel writes them (`%F %T%.f`, UTC): SQLite compares them as text.
    fn t(mut self, v: NaiveDateTime) -> Self {
        self.sep();
        let _ = write!(self.buf, "'{}'", v.format("%F %T%.f"));
        self
    }
    fn ot(self, v: Option<NaiveDateTime>) -> Self {
        match v {
            Some(v) => self.t(v),
            None => self.null(),
        }
    }
    fn b(mut self, lit: Lit, v: bool) -> Self {
        self.sep();
        self.buf.push_str(match (lit.pg, v) {
            (true, true) => "TRUE",
            (true, false) => "FALSE",
            (false, true) => "1",
            (false, false) => "0",
        });
        self
    }
    fn null(mut self) -> Self {
        self.sep();
        self.buf.push_str("NULL");
        self
    }
    fn end(self) {
        self.buf.push(')');
    }
}

/// The staff of one county, by the ids the generator gave them.
struct CountyStaff {
    fire_officers: Vec<i64>,
    /// Per township.
    township_officials: Vec<[i64; 2]>,
    /// Per police station.
    police: Vec<[i64; 2]>,
    /// Per village: cadre, village police.
    village: Vec<[i64; 2]>,
    /// Per group: leader, inspector, handler, coordinator.
    grid: Vec<[i64; 4]>,
}

const CATEGORIES: [(&str, &str); 8] = [
    ("electrical", "私拉乱接电线"),
    ("blocked_escape_route", "疏散通道堵塞"),
    ("flammable_storage", "违规存放易燃物品"),
    ("equipment_missing", "灭火器过期"),
    ("open_flame", "违规用火"),
    ("mixed_use", "三合一场所住人"),
    ("illegal_fuel", "违规储存燃油"),
    ("other", "其他火灾隐患"),
];
const TOWNSHIP_TITLES: [&str; 2] = ["副镇长", "综治办主任"];
const BACKGROUNDS: [&str; 4] = [
    "patrol_member",
    "property_manager",
    "security_guard",
    "building_head",
];

fn ts_now() -> NaiveDateTime {
    crate::db::now()
}

fn map_err(e: diesel::result::Error) -> String {
    format!("database: {e}")
}

/// Fills the database. It must already be migrated and hold no regions or cases.
pub fn generate(
    conn: &mut DbConn,
    layout: &Layout,
    seed: u64,
    progress: bool,
) -> Result<GenReport, String> {
    let started = Instant::now();
    let existing: i64 = regions::table.count().get_result(conn).map_err(map_err)?;
    let existing_cases: i64 = hazards::table.count().get_result(conn).map_err(map_err)?;
    if existing > 0 || existing_cases > 0 {
        return Err(format!(
            "bench gen fills an empty database: this one already holds {existing} regions and \
             {existing_cases} cases"
        ));
    }
    let first_user: i64 = users::table
        .select(diesel::dsl::max(users::id))
        .first::<Option<i64>>(conn)
        .map_err(map_err)?
        .unwrap_or(0)
        + 1;
    let lit = Lit {
        pg: matches!(conn, DbConn::Pg(_)),
    };
    match conn {
        DbConn::Pg(_) => conn
            .batch_execute("SET session_replication_role = replica; SET synchronous_commit = off;"),
        DbConn::Sqlite(_) => conn.batch_execute(
            "PRAGMA foreign_keys = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;",
        ),
    }
    .map_err(map_err)?;

    let mut report = GenReport {
        scale: format!("{:?}", layout.scale).to_lowercase(),
        counties: layout.counties,
        ..GenReport::default()
    };
    let now = ts_now();
    let mut phase = Instant::now();
    let mut lap = |report: &mut GenReport, name: &str| {
        let s = phase.elapsed().as_secs_f64();
        report.seconds_per_phase.insert(name.to_string(), s);
        if progress {
            eprintln!("bench gen: {name} in {s:.1} s");
        }
        phase = Instant::now();
    };

    let hash = crate::auth::password::hash(super::BENCH_PASSWORD).map_err(|e| e.detail)?;
    let staff = conn
        .transaction(|c| grid_and_staff(c, layout, lit, first_user, &hash, now, &mut report))
        .map_err(map_err)?;
    lap(&mut report, "regions, organisations and staff");

    let mut rng = StdRng::seed_from_u64(seed);
    let mut counters: Vec<(i64, i32, i64)> = Vec::new();
    let mut next_event_id = 1i64;
    let mut next_notification_id = 1i64;
    for (c, county_staff) in staff.iter().enumerate() {
        let county_counters = cases_of_county(
            conn,
            layout,
            c,
            county_staff,
            lit,
            now,
            &mut rng,
            &mut next_event_id,
            &mut next_notification_id,
            &mut report,
        )
        .map_err(map_err)?;
        counters.extend(county_counters);
        if progress && ((c + 1) % 5 == 0 || c + 1 == layout.counties) {
            eprintln!(
                "bench gen: {} of {} counties, {} cases, {} events, {:.0} s",
                c + 1,
                layout.counties,
                report.cases,
                report.events,
                started.elapsed().as_secs_f64()
            );
        }
    }
    conn.transaction(|c| {
        let mut b = Batch::new("case_counters", "county_id, year, last_seq", 1000);
        for (county, year, last) in &counters {
            b.row().i(*county).i(*year as i64).i(*last).end();
            b.maybe_flush(c)?;
        }
        b.flush(c)
    })
    .map_err(map_err)?;
    lap(&mut report, "cases, events and notifications");

    match conn {
        DbConn::Pg(_) => {
            let mut sql = String::new();
            for t in [
                "regions",
                "organizations",
                "users",
                "role_assignments",
                "hazards",
                "hazard_events",
                "notifications",
            ] {
                let _ = write!(
                    sql,
                    "SELECT setval(pg_get_serial_sequence('{t}', 'id'), \
                     (SELECT COALESCE(MAX(id), 0) + 1 FROM {t}), false);"
                );
            }
            sql.push_str("SET session_replication_role = origin; ANALYZE;");
            conn.batch_execute(&sql)
        }
        DbConn::Sqlite(_) => conn.batch_execute(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; ANALYZE; \
             PRAGMA wal_checkpoint(TRUNCATE);",
        ),
    }
    .map_err(map_err)?;
    lap(&mut report, "sequences and ANALYZE");
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Regions, organisations, users and roles of the whole deployment.
fn grid_and_staff(
    conn: &mut DbConn,
    l: &Layout,
    lit: Lit,
    first_user: i64,
    hash: &str,
    now: NaiveDateTime,
    report: &mut GenReport,
) -> QueryResult<Vec<CountyStaff>> {
    let created = now - Duration::days(800);
    let mut regions_b = Batch::new(
        "regions",
        "id, parent_id, level, name, code, path, created_at, updated_at, supervisor_user_id",
        2000,
    );
    let mut region = |conn: &mut DbConn,
                      id: i64,
                      parent: Option<(i64, &str)>,
                      level: &str,
                      name: &str,
                      code: &str,
                      supervisor: Option<i64>|
     -> QueryResult<String> {
        let path = match parent {
            Some((_, pp)) => format!("{pp}{id}/"),
            None => format!("/{id}/"),
        };
        regions_b
            .row()
            .i(id)
            .oi(parent.map(|p| p.0))
            .s(level)
            .s(name)
            .s(code)
            .s(&path)
            .t(created)
            .t(created)
            .oi(supervisor)
            .end();
        regions_b.maybe_flush(conn)?;
        Ok(path)
    };
    let mut users_b = Batch::new(
        "users",
        "id, username, display_name, phone, region_id, password_hash, disabled, token_version, \
         created_at, updated_at",
        2000,
    );
    let mut roles_b = Batch::new(
        "role_assignments",
        "id, user_id, role, region_id, organization_id, title, background, created_at",
        2000,
    );
    let mut orgs_b = Batch::new(
        "organizations",
        "id, kind, name, region_id, created_at, updated_at",
        1000,
    );
    let mut juris_b = Batch::new(
        "organization_jurisdictions",
        "organization_id, kind, region_id",
        1000,
    );
    let mut next_user = first_user;
    let mut next_role = 1i64;
    let mut next_org = 1i64;
    // One account with one role; returns the user id.
    let mut person = |conn: &mut DbConn,
                      username: String,
                      home: i64,
                      role: &str,
                      region: Option<i64>,
                      org: Option<i64>,
                      title: Option<&str>,
                      background: Option<&str>,
                      report: &mut GenReport|
     -> QueryResult<i64> {
        let id = next_user;
        next_user += 1;
        let display = format!("员工{id}");
        users_b
            .row()
            .i(id)
            .s(&username)
            .s(&display)
            .s(&format!("139{id:08}"))
            .i(home)
            .s(hash)
            .b(lit, false)
            .i(1)
            .t(created)
            .t(created)
            .end();
        users_b.maybe_flush(conn)?;
        roles_b
            .row()
            .i(next_role)
            .i(id)
            .s(role)
            .oi(region)
            .oi(org)
            .os(title)
            .os(background)
            .t(created)
            .end();
        roles_b.maybe_flush(conn)?;
        next_role += 1;
        report.users += 1;
        report.role_assignments += 1;
        Ok(id)
    };

    let mut prefecture_paths: Vec<String> = Vec::new();
    if l.prefectures > 0 {
        let p = region(conn, 1, None, "province", "青海省", "63", None)?;
        for k in 0..l.prefectures {
            let id = l.prefecture_id(k);
            prefecture_paths.push(region(
                conn,
                id,
                Some((1, &p)),
                "prefecture",
                &format!("第{}州", k + 1),
                &format!("63{:02}", k + 1),
                None,
            )?);
        }
    }

    let mut all = Vec::with_capacity(l.counties);
    for c in 0..l.counties {
        let county_id = l.county_id(c);
        let code = l.county_code(c);
        // Staff first (their ids are needed as supervisors); FKs are checked at the end only.
        let county_officials: Vec<i64> = (0..2)
            .map(|k| {
                person(
                    conn,
                    Layout::county_official(c, k),
                    county_id,
                    "county_official",
                    Some(county_id),
                    None,
                    None,
                    None,
                    report,
                )
            })
            .collect::<QueryResult<_>>()?;
        let fire_org = next_org;
        next_org += 1;
        orgs_b
            .row()
            .i(fire_org)
            .s("fire_department")
            .s(&format!("{code}消防救援大队"))
            .i(county_id)
            .t(created)
            .t(created)
            .end();
        juris_b
            .row()
            .i(fire_org)
            .s("fire_department")
            .i(county_id)
            .end();
        let fire_officers: Vec<i64> = (0..3)
            .map(|k| {
                person(
                    conn,
                    Layout::fire_officer(c, k),
                    county_id,
                    "fire_officer",
                    None,
                    Some(fire_org),
                    None,
                    None,
                    report,
                )
            })
            .collect::<QueryResult<_>>()?;
        let mut police = Vec::new();
        for s in 0..l.stations() {
            let org = next_org;
            next_org += 1;
            let seat = l.township_id(c, 2 * s);
            orgs_b
                .row()
                .i(org)
                .s("police_station")
                .s(&format!("{code}第{}派出所", s + 1))
                .i(seat)
                .t(created)
                .t(created)
                .end();
            for t in [2 * s, 2 * s + 1] {
                if t < l.townships {
                    juris_b
                        .row()
                        .i(org)
                        .s("police_station")
                        .i(l.township_id(c, t))
                        .end();
                }
            }
            let a = person(
                conn,
                Layout::police_officer(c, s, 0),
                seat,
                "police_officer",
                None,
                Some(org),
                None,
                None,
                report,
            )?;
            let b = person(
                conn,
                Layout::police_officer(c, s, 1),
                seat,
                "police_officer",
                None,
                Some(org),
                None,
                None,
                report,
            )?;
            police.push([a, b]);
        }
        orgs_b.flush(conn)?;
        juris_b.flush(conn)?;
        report.organizations = next_org - 1;

        let mut township_officials = Vec::new();
        for t in 0..l.townships {
            let tid = l.township_id(c, t);
            let mut pair = [0i64; 2];
            for (k, slot) in pair.iter_mut().enumerate() {
                *slot = person(
                    conn,
                    Layout::township_official(c, t, k),
                    tid,
                    "township_official",
                    Some(tid),
                    None,
                    Some(TOWNSHIP_TITLES[k]),
                    None,
                    report,
                )?;
            }
            township_officials.push(pair);
        }
        let mut village = Vec::new();
        for v in 0..l.villages_per_county() {
            let vid = l.village_id(c, v);
            let a = person(
                conn,
                Layout::village_cadre(c, v),
                vid,
                "village_cadre",
                Some(vid),
                None,
                None,
                None,
                report,
            )?;
            let b = person(
                conn,
                Layout::village_police(c, v),
                vid,
                "village_police",
                Some(vid),
                None,
                None,
                None,
                report,
            )?;
            village.push([a, b]);
        }
        let mut grid = Vec::new();
        for g in 0..l.groups_per_county() {
            let gid = l.group_id(c, g);
            let mut four = [0i64; 4];
            for (k, slot) in four.iter_mut().enumerate() {
                let role = GRID_ROLES[k];
                *slot = person(
                    conn,
                    Layout::grid(c, g, role),
                    gid,
                    &format!("grid_{role}"),
                    Some(gid),
                    None,
                    None,
                    Some(BACKGROUNDS[k]),
                    report,
                )?;
            }
            grid.push(four);
        }

        // The county's part of the tree, with a responsible supervisor for every grid.
        let parent = if l.prefectures > 0 {
            let p = l.prefecture_of(c);
            Some((l.prefecture_id(p), prefecture_paths[p].as_str()))
        } else {
            None
        };
        let cpath = region(
            conn,
            county_id,
            parent,
            "county",
            &format!("第{}县", c + 1),
            &code,
            None,
        )?;
        let mut tpaths = Vec::new();
        for t in 0..l.townships {
            let tcode = format!("{code}{:03}", t + 1);
            tpaths.push((
                tcode.clone(),
                region(
                    conn,
                    l.township_id(c, t),
                    Some((county_id, &cpath)),
                    "township",
                    &format!("第{}镇", t + 1),
                    &tcode,
                    Some(county_officials[t % 2]),
                )?,
            ));
        }
        let mut vpaths = Vec::new();
        for v in 0..l.villages_per_county() {
            let t = v / l.villages;
            let vcode = format!("{}{:03}", tpaths[t].0, v % l.villages + 1);
            vpaths.push((
                vcode.clone(),
                region(
                    conn,
                    l.village_id(c, v),
                    Some((l.township_id(c, t), &tpaths[t].1)),
                    "village",
                    &format!("第{}村", v + 1),
                    &vcode,
                    Some(township_officials[t][0]),
                )?,
            ));
        }
        for g in 0..l.groups_per_county() {
            let v = g / l.groups;
            let gcode = format!("{}{:03}", vpaths[v].0, g % l.groups + 1);
            region(
                conn,
                l.group_id(c, g),
                Some((l.village_id(c, v), &vpaths[v].1)),
                "group",
                &format!("第{}组", g % l.groups + 1),
                &gcode,
                Some(village[v][0]),
            )?;
        }
        all.push(CountyStaff {
            fire_officers,
            township_officials,
            police,
            village,
            grid,
        });
    }
    regions_b.flush(conn)?;
    report.regions = l.total_regions();
    users_b.flush(conn)?;
    roles_b.flush(conn)?;
    Ok(all)
}

struct Ev {
    action: &'static str,
    actor: Option<i64>,
    from_status: Option<&'static str>,
    to_status: &'static str,
    from_level: Option<&'static str>,
    to_level: &'static str,
    params: String,
}

const LEVELS: [&str; 4] = ["group", "village", "township", "police"];

fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut r = rng.gen_range(0..total);
    for (v, w) in items {
        if r < *w {
            return *v;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// One county's cases: numbers in order of receipt, a story per case ending in a realistic
/// state for its age, the events of that story with their hash chain, and the notifications of
/// the last month's reports. Returns the county's case counters.
#[allow(clippy::too_many_arguments)]
fn cases_of_county(
    conn: &mut DbConn,
    l: &Layout,
    c: usize,
    staff: &CountyStaff,
    lit: Lit,
    now: NaiveDateTime,
    rng: &mut StdRng,
    next_event_id: &mut i64,
    next_notification_id: &mut i64,
    report: &mut GenReport,
) -> QueryResult<Vec<(i64, i32, i64)>> {
    let county_id = l.county_id(c);
    let code = l.county_code(c);
    let two_years = 730 * 86_400i64;
    // Receipt times over two years, more of them recent (the grid got busier).
    let mut times: Vec<NaiveDateTime> = (0..l.cases)
        .map(|_| {
            let u: f64 = rng.gen();
            let back = (two_years as f64 * (1.0 - u.sqrt())) as i64 + 600;
            let micros = rng.gen_range(0..1_000_000i64);
            now - Duration::seconds(back) + Duration::microseconds(micros)
        })
        .collect();
    times.sort();
    let (first_id, _) = l.case_ids(c);
    let mut counters: BTreeMap<i32, i64> = BTreeMap::new();

    let mut hz = Batch::new(
        "hazards",
        "id, case_no, county_id, group_id, township_id, region_path, premises_id, category, severity, title, \
         description, address, lat, lng, source, reporter_user_id, status, level, deadline, \
         deadline_reminded, difficulty, supervision_listed, supervision_overdue, outcome, \
         duplicate_of, rectification_submitted_by, found_at, created_at, updated_at, closed_at, \
         last_spot_checked_at, version",
        500,
    );
    let mut ev = Batch::new(
        "hazard_events",
        "id, hazard_id, seq, action, actor_user_id, from_status, to_status, from_level, \
         to_level, params, created_at, prev_hash, hash",
        1000,
    );
    let mut nb = Batch::new(
        "notifications",
        "id, user_id, hazard_id, kind, message, created_at, read_at",
        1000,
    );
    let chunk = 5000;
    let mut i = 0usize;
    while i < l.cases {
        let end = (i + chunk).min(l.cases);
        conn.transaction(|conn| -> QueryResult<()> {
            for (k, &created) in times.iter().enumerate().take(end).skip(i) {
                let id = first_id + k as i64;
                let year = created.year();
                let seq = counters.entry(year).or_insert(0);
                *seq += 1;
                let case_no = format!("{code}-{year}-{:06}", *seq);
                let g = rng.gen_range(0..l.groups_per_county());
                let v = g / l.groups;
                let t = v / l.villages;
                let s = t / 2;
                let grid = staff.grid[g];
                let village = staff.village[v];
                let township = staff.township_officials[t];
                let police = staff.police[s];
                let fire = &staff.fire_officers;
                let group_id = l.group_id(c, g);
                let path = {
                    let mut p = String::new();
                    if l.prefectures > 0 {
                        let _ = write!(p, "/1/{}", l.prefecture_id(l.prefecture_of(c)));
                    }
                    let _ = write!(
                        p,
                        "/{county_id}/{}/{}/{group_id}/",
                        l.township_id(c, t),
                        l.village_id(c, v)
                    );
                    p
                };
                let (category, title) = CATEGORIES[pick(
                    rng,
                    &[(0, 30), (1, 15), (2, 15), (3, 15), (4, 8), (5, 7), (6, 5), (7, 5)],
                )];
                let major = rng.gen_bool(0.03);
                let severity = if major { "major" } else { "general" };
                let source = pick(
                    rng,
                    &[("patrol", 70), ("inspection", 20), ("public", 6), ("other", 4)],
                );
                let age_days = (now - created).num_days();
                let reporter = if source == "public" {
                    None
                } else {
                    Some(grid[pick(rng, &[(1, 60), (0, 20), (2, 10), (3, 10)])])
                };

                // Where the story ends.
                #[derive(Clone, Copy, PartialEq)]
                enum End {
                    Pending,
                    Open,
                    Awaiting,
                    Closed,
                    Rejected,
                }
                let end_state = if age_days > 60 {
                    pick(
                        rng,
                        &[(End::Closed, 900), (End::Rejected, 40), (End::Open, 60)],
                    )
                } else if age_days > 14 {
                    pick(
                        rng,
                        &[
                            (End::Closed, 60),
                            (End::Awaiting, 10),
                            (End::Rejected, 3),
                            (End::Open, 27),
                        ],
                    )
                } else {
                    pick(
                        rng,
                        &[
                            (End::Closed, 25),
                            (End::Awaiting, 15),
                            (End::Rejected, 2),
                            (End::Open, 58),
                        ],
                    )
                };
                let end_state = if source == "public" && age_days < 3 && rng.gen_bool(0.5) {
                    End::Pending
                } else {
                    end_state
                };
                let target_level = match end_state {
                    End::Open if age_days > 60 => pick(rng, &[(1, 20), (2, 40), (3, 40)]),
                    End::Open => pick(rng, &[(0, 40), (1, 30), (2, 20), (3, 10)]),
                    End::Awaiting | End::Closed => pick(rng, &[(0, 55), (1, 25), (2, 12), (3, 8)]),
                    _ => pick(rng, &[(0, 70), (1, 30)]),
                };

                let mut evs: Vec<Ev> = Vec::with_capacity(8);
                let mut status = "open";
                let mut level = 0usize;
                let mut deadline_set = false;
                let mut difficulty: Option<&str> = None;
                let mut listed = false;
                let mut sup_overdue = false;
                let mut submitted_by: Option<i64> = None;
                let mut outcome: Option<&str> = None;
                let mut duplicate_of: Option<i64> = None;
                let mut spot_checked = false;
                let report_params = format!(
                    "{{\"category\":\"{category}\",\"found_at\":null,\"severity\":\"{severity}\",\
                     \"source\":\"{source}\",\"title\":\"{title}\"}}"
                );
                if source == "public" {
                    status = "pending_verification";
                    evs.push(Ev {
                        action: "report",
                        actor: None,
                        from_status: None,
                        to_status: status,
                        from_level: None,
                        to_level: "group",
                        params: report_params,
                    });
                } else {
                    evs.push(Ev {
                        action: "report",
                        actor: reporter,
                        from_status: None,
                        to_status: status,
                        from_level: None,
                        to_level: "group",
                        params: report_params,
                    });
                }
                let step = |evs: &mut Vec<Ev>,
                            action: &'static str,
                            actor: Option<i64>,
                            from: (&'static str, usize),
                            to: (&'static str, usize),
                            params: String| {
                    evs.push(Ev {
                        action,
                        actor,
                        from_status: Some(from.0),
                        to_status: to.0,
                        from_level: Some(LEVELS[from.1]),
                        to_level: LEVELS[to.1],
                        params,
                    });
                };
                if end_state != End::Pending {
                    if source == "public" {
                        if end_state == End::Rejected {
                            step(
                                &mut evs,
                                "reject_report",
                                Some(village[0]),
                                (status, 0),
                                ("rejected", 0),
                                "{\"reason\":\"核实不属实\"}".into(),
                            );
                            status = "rejected";
                            outcome = Some("unfounded");
                        } else {
                            step(
                                &mut evs,
                                "verify",
                                Some(village[0]),
                                (status, 0),
                                ("open", 0),
                                "{\"note\":\"已现场核实\"}".into(),
                            );
                            status = "open";
                        }
                    }
                    if status == "open" {
                        // Climb to the target level.
                        while level < target_level {
                            if level == 0 && rng.gen_bool(0.7) {
                                step(
                                    &mut evs,
                                    "set_deadline",
                                    Some(grid[0]),
                                    ("open", 0),
                                    ("open", 0),
                                    "{\"deadline\":null}".into(),
                                );
                                deadline_set = true;
                            }
                            if level == 1 && difficulty.is_none() {
                                let d = pick(rng, &[("easy", 40), ("moderate", 40), ("hard", 20)]);
                                difficulty = Some(d);
                                step(
                                    &mut evs,
                                    "classify",
                                    Some(village[0]),
                                    ("open", 1),
                                    ("open", 1),
                                    format!("{{\"difficulty\":\"{d}\"}}"),
                                );
                            }
                            if level >= 1 && rng.gen_bool(0.5) {
                                let who = if level == 1 { village[0] } else { township[0] };
                                step(
                                    &mut evs,
                                    "set_deadline",
                                    Some(who),
                                    ("open", level),
                                    ("open", level),
                                    "{\"deadline\":null}".into(),
                                );
                                deadline_set = true;
                            }
                            let by_system = deadline_set && rng.gen_bool(0.3);
                            let (action, actor, params) = if by_system {
                                (
                                    "deadline_expired",
                                    None,
                                    format!(
                                        "{{\"deadline\":null,\"to_level\":\"{}\"}}",
                                        LEVELS[level + 1]
                                    ),
                                )
                            } else if level == 2 {
                                (
                                    "transfer_to_police",
                                    Some(township[0]),
                                    "{\"reason\":\"逾期未整改，移交派出所依法查处\"}".to_string(),
                                )
                            } else {
                                (
                                    "escalate",
                                    Some(if level == 0 { grid[0] } else { village[0] }),
                                    format!(
                                        "{{\"reason\":\"本级无法处置\",\"to_level\":\"{}\"}}",
                                        LEVELS[level + 1]
                                    ),
                                )
                            };
                            step(
                                &mut evs,
                                action,
                                actor,
                                ("open", level),
                                ("open", level + 1),
                                params,
                            );
                            level += 1;
                            deadline_set = false;
                        }
                        if level == 3 {
                            step(
                                &mut evs,
                                "record_enforcement",
                                Some(police[0]),
                                ("open", 3),
                                ("open", 3),
                                format!(
                                    "{{\"document_no\":\"{code}公(消)行罚决字〔{year}〕{:04}号\",\
                                     \"measure\":\"order_to_rectify\",\"note\":\"\"}}",
                                    *seq
                                ),
                            );
                            if major && rng.gen_bool(0.6) {
                                listed = true;
                                deadline_set = true;
                                step(
                                    &mut evs,
                                    "list_for_supervision",
                                    Some(police[0]),
                                    ("open", 3),
                                    ("open", 3),
                                    "{\"deadline\":null,\"reason\":\"重大火灾隐患挂牌督办\"}".into(),
                                );
                            }
                        }
                        if rng.gen_bool(0.55) {
                            step(
                                &mut evs,
                                "comment",
                                Some(grid[1]),
                                ("open", level),
                                ("open", level),
                                "{\"text\":\"已督促整改\"}".into(),
                            );
                        }
                        match end_state {
                            End::Rejected if level <= 1 => {
                                step(
                                    &mut evs,
                                    "reject_report",
                                    Some(village[0]),
                                    ("open", level),
                                    ("rejected", level),
                                    "{\"reason\":\"不构成火灾隐患\"}".into(),
                                );
                                status = "rejected";
                                outcome = Some("unfounded");
                                deadline_set = false;
                            }
                            End::Awaiting | End::Closed => {
                                let by = match level {
                                    0 => grid[2],
                                    1 => village[1],
                                    2 => township[1],
                                    _ => police[1],
                                };
                                step(
                                    &mut evs,
                                    "submit_rectification",
                                    Some(by),
                                    ("open", level),
                                    ("awaiting_review", level),
                                    "{\"attachment_ids\":[],\"note\":\"已整改完毕\"}".into(),
                                );
                                submitted_by = Some(by);
                                status = "awaiting_review";
                                if end_state == End::Closed {
                                    let reviewer = if major || listed || level >= 2 {
                                        fire[0]
                                    } else if level == 1 {
                                        township[0]
                                    } else {
                                        village[0]
                                    };
                                    let o = pick(
                                        rng,
                                        &[("rectified", 85), ("unfounded", 10), ("duplicate", 5)],
                                    );
                                    let dup = (o == "duplicate" && k > 0)
                                        .then(|| first_id + rng.gen_range(0..k) as i64);
                                    let o = if o == "duplicate" && dup.is_none() {
                                        "rectified"
                                    } else {
                                        o
                                    };
                                    step(
                                        &mut evs,
                                        "approve_closure",
                                        Some(reviewer),
                                        ("awaiting_review", level),
                                        ("closed", level),
                                        format!(
                                            "{{\"duplicate_of\":{},\"note\":\"\",\"outcome\":\"{o}\"}}",
                                            dup.map_or("null".to_string(), |d| d.to_string())
                                        ),
                                    );
                                    status = "closed";
                                    outcome = Some(o);
                                    duplicate_of = dup;
                                    deadline_set = false;
                                    if rng.gen_bool(0.05) {
                                        spot_checked = true;
                                        step(
                                            &mut evs,
                                            "spot_check",
                                            Some(fire[1]),
                                            ("closed", level),
                                            ("closed", level),
                                            "{\"note\":\"\",\"passed\":true}".into(),
                                        );
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }

                // Times: the story spreads over up to 60 days after receipt, never past now.
                let span_end = {
                    let max_span = match end_state {
                        End::Open => now - Duration::minutes(10),
                        _ => (created + Duration::days(rng.gen_range(1..60)))
                            .min(now - Duration::minutes(10)),
                    };
                    max_span.max(created + Duration::seconds(evs.len() as i64))
                };
                let span = (span_end - created).num_seconds().max(evs.len() as i64);
                let n = evs.len() as i64;
                let mut times_ev: Vec<NaiveDateTime> = (0..n)
                    .map(|j| {
                        if j == 0 {
                            created
                        } else {
                            created
                                + Duration::seconds(span * j / n)
                                + Duration::microseconds(rng.gen_range(0..1_000_000))
                        }
                    })
                    .collect();
                for j in 1..times_ev.len() {
                    if times_ev[j] <= times_ev[j - 1] {
                        times_ev[j] = times_ev[j - 1] + Duration::microseconds(1);
                    }
                }
                let last_at = *times_ev.last().expect("a report");

                // The current deadline: future for open cases (the sweep would have moved an
                // expired one), except listed police cases already flagged overdue.
                let mut deadline: Option<NaiveDateTime> = None;
                if status == "open" && (deadline_set || listed) {
                    if listed && rng.gen_bool(0.3) && age_days > 30 {
                        deadline = Some(last_at + Duration::days(7));
                        if deadline < Some(now) {
                            sup_overdue = true;
                            let at = deadline.unwrap_or(now) + Duration::minutes(1);
                            let params = format!(
                                "{{\"deadline\":\"{}\",\"flagged\":\"supervision_overdue\"}}",
                                rfc3339(deadline.unwrap_or(now))
                            );
                            evs.push(Ev {
                                action: "deadline_expired",
                                actor: None,
                                from_status: Some("open"),
                                to_status: "open",
                                from_level: Some("police"),
                                to_level: "police",
                                params,
                            });
                            times_ev.push(at.min(now - Duration::minutes(1)).max(last_at + Duration::microseconds(1)));
                        } else {
                            deadline = Some(now + Duration::days(rng.gen_range(2..30)));
                        }
                    } else {
                        deadline = Some(now + Duration::days(rng.gen_range(2..30)) + Duration::seconds(rng.gen_range(0..86_400)));
                    }
                }
                let updated = *times_ev.last().expect("a report");
                let closed_at = match status {
                    "closed" | "rejected" => {
                        let idx = evs
                            .iter()
                            .rposition(|e| e.to_status == status && e.from_status != Some(status))
                            .unwrap_or(evs.len() - 1);
                        Some(times_ev[idx])
                    }
                    _ => None,
                };
                let last_spot = spot_checked.then_some(updated);
                let (lat, lng) = if rng.gen_bool(0.5) {
                    (
                        Some(36.0 + rng.gen_range(0.0..2.0)),
                        Some(100.5 + rng.gen_range(0.0..2.5)),
                    )
                } else {
                    (None, None)
                };
                let found_at = (source != "public")
                    .then(|| created - Duration::seconds(rng.gen_range(0..7200)));
                let description = format!("巡查发现{title}，需督促整改。");
                let address = format!("第{}组{}号", g % l.groups + 1, rng.gen_range(1..200));
                hz.row()
                    .i(id)
                    .s(&case_no)
                    .i(county_id)
                    .i(group_id)
                    .i(l.township_id(c, t))
                    .s(&path)
                    .null()
                    .s(category)
                    .s(severity)
                    .s(title)
                    .s(&description)
                    .s(&address)
                    .of(lat)
                    .of(lng)
                    .s(source)
                    .oi(reporter)
                    .s(status)
                    .s(LEVELS[level])
                    .ot(deadline)
                    .b(lit, false)
                    .os(difficulty)
                    .b(lit, listed)
                    .b(lit, sup_overdue)
                    .os(outcome)
                    .oi(duplicate_of)
                    .oi(submitted_by)
                    .ot(found_at)
                    .t(created)
                    .t(updated)
                    .ot(closed_at)
                    .ot(last_spot)
                    .i(evs.len() as i64)
                    .end();
                hz.maybe_flush(conn)?;
                if status == "open" {
                    report.open_cases += 1;
                }

                let mut prev = GENESIS.to_string();
                for (j, e) in evs.iter().enumerate() {
                    let at = times_ev[j];
                    let seq = j as i32 + 1;
                    let h = compute_hash(
                        &prev,
                        id,
                        seq,
                        e.action,
                        e.actor,
                        e.from_status,
                        e.to_status,
                        e.from_level,
                        e.to_level,
                        at,
                        &e.params,
                    );
                    ev.row()
                        .i(*next_event_id)
                        .i(id)
                        .i(seq as i64)
                        .s(e.action)
                        .oi(e.actor)
                        .os(e.from_status)
                        .s(e.to_status)
                        .os(e.from_level)
                        .s(e.to_level)
                        .s(&e.params)
                        .t(at)
                        .s(&prev)
                        .s(&h)
                        .end();
                    ev.maybe_flush(conn)?;
                    *next_event_id += 1;
                    report.events += 1;
                    prev = h;
                }

                // The last month's reports reached the group's roster and the village staff.
                if age_days <= 30 {
                    let msg = format!(
                        "新隐患 {case_no}（{}）：{title}",
                        if major { "重大" } else { "一般" }
                    );
                    let kind = if major { "major_reported" } else { "reported" };
                    for u in grid.iter().chain(village.iter()) {
                        if Some(*u) == reporter {
                            continue;
                        }
                        let read = (age_days > 7 && rng.gen_bool(0.7)).then_some(updated);
                        nb.row()
                            .i(*next_notification_id)
                            .i(*u)
                            .i(id)
                            .s(kind)
                            .s(&msg)
                            .t(created)
                            .ot(read)
                            .end();
                        nb.maybe_flush(conn)?;
                        *next_notification_id += 1;
                        report.notifications += 1;
                    }
                }
                report.cases += 1;
            }
            hz.flush(conn)?;
            ev.flush(conn)?;
            nb.flush(conn)?;
            Ok(())
        })?;
        i = end;
    }
    Ok(counters
        .into_iter()
        .map(|(y, last)| (county_id, y, last))
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepBench {
    pub overdue: i64,
    pub expired: usize,
    pub reminded: usize,
    pub seconds: f64,
    pub cases_per_second: f64,
}

/// Makes `n` cases below police level open and overdue (a deadline an hour ago), then times one
/// `sweep_once` over them. Rewrites case rows: only for a disposable benchmark database.
pub fn sweep_bench(conn: &mut DbConn, n: i64) -> Result<SweepBench, String> {
    let now = crate::db::now();
    let due = now - Duration::hours(1);
    let ids: Vec<i64> = hazards::table
        .select(hazards::id)
        .filter(hazards::level.ne("police"))
        .order(hazards::id.desc())
        .limit(n)
        .load(conn)
        .map_err(map_err)?;
    let mut overdue = 0i64;
    for chunk in ids.chunks(5000) {
        overdue += diesel::update(hazards::table.filter(hazards::id.eq_any(chunk)))
            .set((
                hazards::status.eq("open"),
                hazards::deadline.eq(Some(due)),
                hazards::supervision_overdue.eq(false),
                hazards::outcome.eq(None::<String>),
                hazards::closed_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .map_err(map_err)? as i64;
    }
    let started = Instant::now();
    let r = crate::hazards::sweep::sweep_once(conn, now).map_err(|e| e.detail)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(SweepBench {
        overdue,
        expired: r.expired,
        reminded: r.reminded,
        seconds,
        cases_per_second: r.expired as f64 / seconds.max(1e-9),
    })
}
