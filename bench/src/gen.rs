//! `firegrid-bench gen`: fills an empty (migrated) database with a generated county or province
//! through the real schema: the region tree, police stations and a fire department with their
//! jurisdictions, complete 一长三员 rosters and the cadres, officials and officers above them,
//! and cases over two years with hash-chained timelines (`firegrid audit verify` passes),
//! consecutive case numbers and consistent `case_counters`. Each case's story is told by the
//! product's state machine (`story`), so it follows the rules; the database is marked as
//! generated first (`marker`), which is what lets `sweep` and `ceiling` rewrite it.
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

use crate::story::{self, End, Who};
use crate::{Layout, GRID_ROLES};
use firegrid::auth::roles::Role;
use firegrid::db::schema::{hazards, regions, users};
use firegrid::db::DbConn;
use firegrid::hazards::events::{compute_hash, GENESIS};
use firegrid::hazards::model::{Category, Level, Severity, Source, Status};

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
    pub patrols: i64,
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

const CATEGORIES: [(Category, &str); 8] = [
    (Category::Electrical, "私拉乱接电线"),
    (Category::BlockedEscapeRoute, "疏散通道堵塞"),
    (Category::FlammableStorage, "违规存放易燃物品"),
    (Category::EquipmentMissing, "灭火器过期"),
    (Category::OpenFlame, "违规用火"),
    (Category::MixedUse, "三合一场所住人"),
    (Category::IllegalFuel, "违规储存燃油"),
    (Category::Other, "其他火灾隐患"),
];
const TOWNSHIP_TITLES: [&str; 2] = ["副镇长", "综治办主任"];
const BACKGROUNDS: [&str; 4] = [
    "patrol_member",
    "property_manager",
    "security_guard",
    "building_head",
];

fn ts_now() -> NaiveDateTime {
    firegrid::db::now()
}

fn map_err(e: diesel::result::Error) -> String {
    format!("database: {e}")
}

/// Why filling a county stopped: the database, or a generated step the rules refuse.
#[derive(Debug)]
enum GenError {
    Db(diesel::result::Error),
    Story(String),
}

impl From<diesel::result::Error> for GenError {
    fn from(e: diesel::result::Error) -> Self {
        GenError::Db(e)
    }
}

impl std::fmt::Display for GenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GenError::Db(e) => write!(f, "database: {e}"),
            GenError::Story(e) => write!(f, "generator bug: {e}"),
        }
    }
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
    crate::marker::mark(conn, &format!("{:?}", layout.scale).to_lowercase(), seed)
        .map_err(map_err)?;
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

    let hash = firegrid::auth::password::hash(crate::BENCH_PASSWORD).map_err(|e| e.detail)?;
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
        .map_err(|e| e.to_string())?;
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

    // Their own random stream, so the cases of a seed are the same with or without them.
    let mut patrol_rng = StdRng::seed_from_u64(seed ^ PATROL_SEED);
    conn.transaction(|c| patrols(c, layout, &staff, now, &mut patrol_rng, &mut report))
        .map_err(map_err)?;
    lap(&mut report, "patrols");

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
                "patrols",
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

/// Mixed into the seed for the patrols' random stream.
const PATROL_SEED: u64 = 0x7061_7472_6f6c;
/// Days of daily patrols written, ending today: the recent weeks since patrols were recorded in
/// the system, not two years (a province would need 15 million rows).
pub const PATROL_DAYS: i64 = 35;
/// How reliably a group patrols (the chance of a round on a given day), by weight: most every
/// day, some often, a few seldom, and one group in ten not at all.
const DILIGENCE: [(u32, u32); 4] = [(97, 5), (85, 3), (50, 1), (0, 1)];

/// The daily patrols (kind `patrol`) of every group over the last `PATROL_DAYS` local days
/// (`FIREGRID_TZ`'s default zone) up to now: a round in the day by one of the group's four,
/// sometimes a second one in the evening (a day patrolled twice still counts once), never in
/// the future. No checks, track or cases: the figures count rounds only.
fn patrols(
    conn: &mut DbConn,
    l: &Layout,
    staff: &[CountyStaff],
    now: NaiveDateTime,
    rng: &mut StdRng,
    report: &mut GenReport,
) -> QueryResult<()> {
    use chrono::TimeZone;
    let tz = firegrid::config::defaults::TZ;
    let today = tz.from_utc_datetime(&now).date_naive();
    let mut b = Batch::new(
        "patrols",
        "id, kind, region_id, region_path, theme, local_date, started_at, ended_at, recorded_at, \
         recorded_by, track",
        2000,
    );
    let mut id = 1i64;
    for (c, county) in staff.iter().enumerate() {
        for (g, four) in county.grid.iter().enumerate() {
            let gid = l.group_id(c, g);
            let v = l.village_id(c, g / l.groups);
            let t = l.township_id(c, g / l.groups / l.villages);
            let mut path = String::new();
            if l.prefectures > 0 {
                let _ = write!(path, "/1/{}", l.prefecture_id(l.prefecture_of(c)));
            }
            let path = format!("{path}/{}/{t}/{v}/{gid}/", l.county_id(c));
            let chance = pick(rng, &DILIGENCE);
            for back in (0..PATROL_DAYS).rev() {
                let day = today - Duration::days(back);
                let rounds = if rng.gen_range(0..100) < chance {
                    1 + usize::from(rng.gen_range(0..10) == 0)
                } else {
                    0
                };
                for r in 0..rounds {
                    // Morning to afternoon, or the evening for a second round.
                    let minute = if r == 0 {
                        rng.gen_range(8 * 60..16 * 60)
                    } else {
                        rng.gen_range(19 * 60..22 * 60)
                    };
                    let local =
                        day.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::minutes(minute);
                    let Some(start) = tz.from_local_datetime(&local).earliest() else {
                        continue;
                    };
                    let start = start.naive_utc();
                    let end = start + Duration::minutes(rng.gen_range(30..120));
                    if end > now {
                        continue;
                    }
                    b.row()
                        .i(id)
                        .s("patrol")
                        .i(gid)
                        .s(&path)
                        .null()
                        .s(&day.to_string())
                        .t(start)
                        .t(end)
                        .t((end + Duration::minutes(rng.gen_range(1..30))).min(now))
                        .i(four[rng.gen_range(0..4)])
                        .null()
                        .end();
                    b.maybe_flush(conn)?;
                    id += 1;
                    report.patrols += 1;
                }
            }
        }
    }
    b.flush(conn)
}

/// A weighted random choice.
pub(crate) fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
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
) -> Result<Vec<(i64, i32, i64)>, GenError> {
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
        conn.transaction(|conn| -> Result<(), GenError> {
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
                let cast = {
                    let (gr, vi, tw, po, fi) = (
                        staff.grid[g],
                        staff.village[v],
                        staff.township_officials[t],
                        staff.police[s],
                        &staff.fire_officers,
                    );
                    story::Cast {
                        grid: [
                            Who(gr[0], Role::GridLeader),
                            Who(gr[1], Role::GridInspector),
                            Who(gr[2], Role::GridHandler),
                            Who(gr[3], Role::GridCoordinator),
                        ],
                        village: [
                            Who(vi[0], Role::VillageCadre),
                            Who(vi[1], Role::VillagePolice),
                        ],
                        township: [
                            Who(tw[0], Role::TownshipOfficial),
                            Who(tw[1], Role::TownshipOfficial),
                        ],
                        police: [
                            Who(po[0], Role::PoliceOfficer),
                            Who(po[1], Role::PoliceOfficer),
                        ],
                        fire: [Who(fi[0], Role::FireOfficer), Who(fi[1], Role::FireOfficer)],
                    }
                };
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
                    &[
                        (0, 30),
                        (1, 15),
                        (2, 15),
                        (3, 15),
                        (4, 8),
                        (5, 7),
                        (6, 5),
                        (7, 5),
                    ],
                )];
                let major = rng.gen_bool(0.03);
                let severity = if major {
                    Severity::Major
                } else {
                    Severity::General
                };
                let source = pick(
                    rng,
                    &[
                        (Source::Patrol, 70),
                        (Source::Inspection, 20),
                        (Source::Public, 6),
                        (Source::Other, 4),
                    ],
                );
                let public = source == Source::Public;
                let age_days = (now - created).num_days();
                let reporter = (!public)
                    .then(|| cast.grid[pick(rng, &[(1, 60), (0, 20), (2, 10), (3, 10)])].0);

                // Where the story ends, by the case's age.
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
                let end_state = if public && age_days < 3 && rng.gen_bool(0.5) {
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
                // The story spreads over up to 60 days after receipt, never past now.
                let span_end = match end_state {
                    End::Open => now - Duration::minutes(10),
                    _ => (created + Duration::days(rng.gen_range(1..60)))
                        .min(now - Duration::minutes(10)),
                };
                let premise = story::Premise {
                    public,
                    severity,
                    end: end_state,
                    target_level,
                    age_days,
                    earlier: first_id..id,
                    county_code: code.clone(),
                    year,
                    seq: *seq,
                };
                let told = story::tell(rng, &premise, &cast, created, span_end, now)
                    .map_err(GenError::Story)?;
                let found_at =
                    (!public).then(|| created - Duration::seconds(rng.gen_range(0..7200)));
                let first = story::Event {
                    action: "report",
                    actor: reporter,
                    from_status: None,
                    to_status: if public {
                        Status::PendingVerification.as_str()
                    } else {
                        Status::Open.as_str()
                    },
                    from_level: None,
                    to_level: Level::Group.as_str(),
                    // The parameters `hazards::store::create` records.
                    params: serde_json::json!({
                        "category": category, "severity": severity, "source": source,
                        "title": title, "found_at": found_at.map(|t| t.and_utc()),
                    })
                    .to_string(),
                    at: created,
                };
                let events = std::iter::once(&first).chain(told.events.iter());
                let state = &told.state;
                let (lat, lng) = if rng.gen_bool(0.5) {
                    (
                        Some(36.0 + rng.gen_range(0.0..2.0)),
                        Some(100.5 + rng.gen_range(0.0..2.5)),
                    )
                } else {
                    (None, None)
                };
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
                    .s(category.as_str())
                    .s(severity.as_str())
                    .s(title)
                    .s(&description)
                    .s(&address)
                    .of(lat)
                    .of(lng)
                    .s(source.as_str())
                    .oi(reporter)
                    .s(state.status.as_str())
                    .s(state.level.as_str())
                    .ot(state.deadline.map(|d| d.naive_utc()))
                    .b(lit, false)
                    .os(told.difficulty.map(|d| d.as_str()))
                    .b(lit, state.supervision_listed)
                    .b(lit, state.supervision_overdue)
                    .os(told.outcome.map(|o| o.as_str()))
                    .oi(told.duplicate_of)
                    .oi(state.rectification_submitted_by)
                    .ot(found_at)
                    .t(created)
                    .t(told.updated_at)
                    .ot(told.closed_at)
                    .ot(told.last_spot_checked_at)
                    .i(1 + told.events.len() as i64)
                    .end();
                hz.maybe_flush(conn)?;
                if state.status == Status::Open {
                    report.open_cases += 1;
                }

                let mut prev = GENESIS.to_string();
                for (j, e) in events.enumerate() {
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
                        e.at,
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
                        .t(e.at)
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
                    for who in cast.grid.iter().chain(cast.village.iter()) {
                        if Some(who.0) == reporter {
                            continue;
                        }
                        let read = (age_days > 7 && rng.gen_bool(0.7)).then_some(told.updated_at);
                        nb.row()
                            .i(*next_notification_id)
                            .i(who.0)
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
    crate::marker::require(conn, "sweep")?;
    let now = firegrid::db::now();
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
    let r = firegrid::hazards::sweep::sweep_once(conn, now).map_err(|e| e.detail)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(SweepBench {
        overdue,
        expired: r.expired,
        reminded: r.reminded,
        seconds,
        cases_per_second: r.expired as f64 / seconds.max(1e-9),
    })
}
