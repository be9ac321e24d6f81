//! `firegrid-bench run`: drives a running server as the generated staff, each virtual user
//! logged in with its own token, one scenario after another, and reports per scenario
//! requests/s, p50/p95/p99 latency and errors (exact percentiles over every recorded latency).
//!
//! The client is `awc`, actix's own HTTP client: it shares actix-http, actix-rt and tokio with
//! the server, so it adds almost nothing to the build, and it runs on one actix system (one
//! thread by default, `--threads` for more) so that on a 2-core machine the load generator takes
//! a bounded share of the CPU the server also needs.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ceiling::Ceiling;
use crate::{Layout, ScaleName, BENCH_PASSWORD};
use firegrid::http::pagination::encode_cursor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// POST /auth/login, a random grid inspector each time.
    Login,
    /// POST /hazards with an Idempotency-Key, as a grid inspector in their group.
    Report,
    /// GET /hazards first page and a deep cursor page, as a township official and as a fire
    /// officer of a county (four result rows).
    List,
    /// GET /hazards/{id} (with allowed_actions) as a fire officer of the case's county.
    Get,
    /// POST /hazards/{id}/actions: a grid leader escalates cases of their group (one in four)
    /// and comments on them.
    Act,
    /// GET /me/notifications as a grid inspector.
    Notifications,
    /// `get` while 32 more clients log in nonstop (two result rows).
    Mixed,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Login,
        Scenario::Report,
        Scenario::List,
        Scenario::Get,
        Scenario::Act,
        Scenario::Notifications,
        Scenario::Mixed,
    ];
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// e.g. http://127.0.0.1:8080
    pub target: String,
    pub clients: usize,
    /// Per scenario (result row).
    pub seconds: f64,
    pub scenarios: Vec<Scenario>,
    pub scale: ScaleName,
    pub ceiling: Option<Ceiling>,
    /// Extra clients that log in nonstop during `mixed`.
    pub login_clients: usize,
    pub seed: u64,
    /// The server's process id (same machine): report its CPU time per request, a figure that
    /// stays meaningful when other work shares the CPU.
    pub server_pid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub scenario: String,
    pub clients: usize,
    pub seconds: f64,
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// `insert` (one write transaction) or `range` (indexed 20-row read).
    pub ceiling_kind: String,
    /// rps as a fraction of the raw database's figure for that kind, when measured.
    pub fraction_of_ceiling: Option<f64>,
    /// CPU milliseconds the server process spent per request (with --server-pid).
    pub server_cpu_ms_per_request: Option<f64>,
    /// CPU milliseconds all `postgres` processes spent per request (PostgreSQL only).
    pub postgres_cpu_ms_per_request: Option<f64>,
    /// The first few errors, for diagnosis.
    pub error_samples: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub target: String,
    pub scale: ScaleName,
    pub ceiling: Option<Ceiling>,
    pub results: Vec<ScenarioResult>,
}

#[derive(Default)]
struct Stats {
    lat_us: Vec<u64>,
    errors: u64,
    samples: Vec<String>,
}

impl Stats {
    fn record(&mut self, started: Instant, r: Result<(), String>) {
        match r {
            Ok(()) => self.lat_us.push(started.elapsed().as_micros() as u64),
            Err(e) => {
                self.errors += 1;
                if self.samples.len() < 5 {
                    self.samples.push(e);
                }
            }
        }
    }
}

fn pct(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx] as f64 / 1000.0
}

fn summarise(
    name: &str,
    clients: usize,
    elapsed: f64,
    mut s: Stats,
    kind: &str,
    ceiling: Option<&Ceiling>,
) -> ScenarioResult {
    s.lat_us.sort_unstable();
    let requests = s.lat_us.len() as u64;
    let rps = requests as f64 / elapsed.max(1e-9);
    let ceiling_value = ceiling.map(|c| match kind {
        "insert" => c.insert_tps_best(),
        _ => c.range_qps_best(),
    });
    ScenarioResult {
        scenario: name.to_string(),
        clients,
        seconds: elapsed,
        requests,
        errors: s.errors,
        rps,
        p50_ms: pct(&s.lat_us, 0.50),
        p95_ms: pct(&s.lat_us, 0.95),
        p99_ms: pct(&s.lat_us, 0.99),
        max_ms: s.lat_us.last().map_or(0.0, |v| *v as f64 / 1000.0),
        ceiling_kind: kind.to_string(),
        fraction_of_ceiling: ceiling_value.filter(|v| *v > 0.0).map(|v| rps / v),
        server_cpu_ms_per_request: None,
        postgres_cpu_ms_per_request: None,
        error_samples: s.samples,
    }
}

/// CPU time (user + system) of a process in milliseconds, from /proc (Linux).
fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

/// CPU milliseconds of every process named `postgres`.
fn postgres_cpu_ms() -> Option<f64> {
    let mut total = 0.0;
    let mut any = false;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim() == "postgres")
        {
            if let Some(ms) = cpu_ms(pid) {
                total += ms;
                any = true;
            }
        }
    }
    any.then_some(total)
}

#[derive(Clone, Copy)]
struct CpuMark {
    server: Option<f64>,
    postgres: Option<f64>,
}

impl CpuMark {
    fn take(pid: Option<u32>) -> CpuMark {
        CpuMark {
            server: pid.and_then(cpu_ms),
            postgres: postgres_cpu_ms(),
        }
    }
    fn attribute(self, pid: Option<u32>, r: &mut ScenarioResult) {
        let end = CpuMark::take(pid);
        let n = (r.requests.max(1)) as f64;
        r.server_cpu_ms_per_request = end.server.zip(self.server).map(|(b, a)| (b - a) / n);
        r.postgres_cpu_ms_per_request = end.postgres.zip(self.postgres).map(|(b, a)| (b - a) / n);
    }
}

/// One HTTP client shared by the virtual users of a thread.
#[derive(Clone)]
struct Http {
    client: awc::Client,
    base: Rc<str>,
}

impl Http {
    fn new(base: &str, conns: usize) -> Http {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .connector(awc::Connector::new().limit(conns + 8))
            .finish();
        Http {
            client,
            base: Rc::from(base.trim_end_matches('/')),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        key: Option<String>,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "POST" => self.client.post(url),
            _ => self.client.get(url),
        };
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        if let Some(k) = key {
            req = req.insert_header(("idempotency-key", k));
        }
        let mut resp = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .map_err(|e| format!("{method} {path}: {e}"))?;
        let bytes = resp
            .body()
            .limit(16 << 20)
            .await
            .map_err(|e| format!("{method} {path}: body: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!(
                "{method} {path}: {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{method} {path}: json: {e}"))
    }

    async fn login(&self, username: &str) -> Result<String, String> {
        let v = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                None,
                Some(json!({"username": username, "password": BENCH_PASSWORD})),
            )
            .await?;
        v["access_token"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| "login: no access_token".to_string())
    }
}

/// What one virtual user does per request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Login,
    Report,
    ListFirst,
    ListDeep,
    Get,
    Act,
    Notifications,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Inspector,
    Leader,
    TownshipOfficial,
    FireOfficer,
}

struct Vu {
    http: Http,
    layout: Layout,
    token: String,
    county: usize,
    group: usize,
    township: usize,
    rng: StdRng,
    prepared: Vec<i64>,
    escalated: usize,
    n: u64,
}

impl Vu {
    fn username(&self, who: Who) -> String {
        match who {
            Who::Inspector => Layout::grid(self.county, self.group, "inspector"),
            Who::Leader => Layout::grid(self.county, self.group, "leader"),
            Who::TownshipOfficial => Layout::township_official(self.county, self.township, 0),
            Who::FireOfficer => Layout::fire_officer(self.county, self.group % 3),
        }
    }

    fn new_case_body(&mut self) -> serde_json::Value {
        let cats = [
            "electrical",
            "blocked_escape_route",
            "flammable_storage",
            "open_flame",
        ];
        let cat = cats[self.rng.gen_range(0..cats.len())];
        json!({
            "group_id": self.layout.group_id(self.county, self.group),
            "category": cat,
            "severity": "general",
            "title": "巡查发现电动车楼道充电",
            "description": "楼道内私拉电线为电动车充电，已当场劝阻，需督促整改。",
            "address": "第3组12号",
            "source": "patrol",
            "found_at": chrono::Utc::now().to_rfc3339(),
        })
    }

    fn random_case(&mut self) -> i64 {
        let (first, last) = self.layout.case_ids(self.county);
        self.rng.gen_range(first..=last)
    }

    async fn op(&mut self, op: Op) -> Result<(), String> {
        self.n += 1;
        match op {
            Op::Login => {
                self.county = self.rng.gen_range(0..self.layout.counties);
                self.group = self.rng.gen_range(0..self.layout.groups_per_county());
                self.http
                    .login(&Layout::grid(self.county, self.group, "inspector"))
                    .await
                    .map(|_| ())
            }
            Op::Report => {
                let body = self.new_case_body();
                let key = uuid::Uuid::new_v4().to_string();
                let v = self
                    .http
                    .call(
                        "POST",
                        "/api/v1/hazards",
                        Some(&self.token),
                        Some(key),
                        Some(body),
                    )
                    .await?;
                v["id"]
                    .as_i64()
                    .map(|_| ())
                    .ok_or_else(|| "report: no id".into())
            }
            Op::ListFirst | Op::ListDeep => {
                let path = if op == Op::ListFirst {
                    "/api/v1/hazards?limit=20".to_string()
                } else {
                    // A page about a third of the way down the county's cases, as a client
                    // that followed next_cursor that far would ask for it.
                    let (first, last) = self.layout.case_ids(self.county);
                    let span = last - first;
                    let id = first + span * 2 / 3 - self.rng.gen_range(0..=span / 10);
                    format!("/api/v1/hazards?limit=20&cursor={}", encode_cursor(id))
                };
                let v = self
                    .http
                    .call("GET", &path, Some(&self.token), None, None)
                    .await?;
                match v["items"].as_array() {
                    Some(items) if !items.is_empty() => Ok(()),
                    _ => Err(format!("GET {path}: empty page")),
                }
            }
            Op::Get => {
                let id = self.random_case();
                let v = self
                    .http
                    .call(
                        "GET",
                        &format!("/api/v1/hazards/{id}"),
                        Some(&self.token),
                        None,
                        None,
                    )
                    .await?;
                v["allowed_actions"]
                    .as_array()
                    .map(|_| ())
                    .ok_or_else(|| "get: no allowed_actions".into())
            }
            Op::Act => {
                if self.prepared.is_empty() {
                    return Err("act: no prepared case".into());
                }
                let escalate = self.n % 4 == 1 && self.escalated < self.prepared.len();
                let (id, body) = if escalate {
                    let id = self.prepared[self.escalated];
                    self.escalated += 1;
                    (
                        id,
                        json!({"action": "escalate", "reason": "本组无法处置，提请村级处理"}),
                    )
                } else {
                    let id = self.prepared[self.rng.gen_range(0..self.prepared.len())];
                    (
                        id,
                        json!({"action": "comment", "text": "已电话督促，明日复查"}),
                    )
                };
                self.http
                    .call(
                        "POST",
                        &format!("/api/v1/hazards/{id}/actions"),
                        Some(&self.token),
                        None,
                        Some(body),
                    )
                    .await
                    .map(|_| ())
            }
            Op::Notifications => {
                let v = self
                    .http
                    .call(
                        "GET",
                        "/api/v1/me/notifications?limit=20",
                        Some(&self.token),
                        None,
                        None,
                    )
                    .await?;
                v["items"]
                    .as_array()
                    .map(|_| ())
                    .ok_or_else(|| "notifications: no items".into())
            }
        }
    }
}

/// A set of virtual users doing one operation for a while.
struct Phase {
    name: &'static str,
    op: Op,
    who: Who,
    kind: &'static str,
}

async fn make_vus(
    http: &Http,
    layout: Layout,
    n: usize,
    who: Who,
    op: Op,
    seed: u64,
    offset: usize,
) -> Result<Vec<Vu>, String> {
    let groups = layout.groups_per_county();
    let mut vus: Vec<Vu> = (0..n)
        .map(|i| {
            let k = i + offset;
            let county = k % layout.counties;
            let group = (k / layout.counties * 7919 + seed as usize) % groups;
            Vu {
                http: http.clone(),
                layout,
                token: String::new(),
                county,
                group,
                township: group / (layout.villages * layout.groups),
                rng: StdRng::seed_from_u64(seed ^ (k as u64 * 0x9E37_79B9)),
                prepared: Vec::new(),
                escalated: 0,
                n: 0,
            }
        })
        .collect();
    if op == Op::Login {
        return Ok(vus);
    }
    // Log everyone in (not timed), a few at a time: the server bounds argon2 work anyway.
    let logins = vus.iter().map(|v| {
        let http = http.clone();
        let name = v.username(who);
        async move { http.login(&name).await }
    });
    let tokens = futures_util::future::join_all(logins).await;
    for (v, t) in vus.iter_mut().zip(tokens) {
        v.token = t?;
    }
    if op == Op::Act {
        // Each leader reports the cases they will act on (not timed).
        let prep = vus.iter_mut().map(|v| async move {
            for _ in 0..12 {
                let body = v.new_case_body();
                let out = v
                    .http
                    .call(
                        "POST",
                        "/api/v1/hazards",
                        Some(&v.token),
                        Some(uuid::Uuid::new_v4().to_string()),
                        Some(body),
                    )
                    .await?;
                let id = out["id"].as_i64().ok_or("report: no id")?;
                v.prepared.push(id);
            }
            Ok::<(), String>(())
        });
        for r in futures_util::future::join_all(prep).await {
            r?;
        }
    }
    Ok(vus)
}

async fn drive(vus: Vec<Vu>, op: Op, until: Instant) -> Stats {
    let stats = Rc::new(RefCell::new(Stats::default()));
    let tasks = vus.into_iter().map(|mut vu| {
        let stats = stats.clone();
        async move {
            while Instant::now() < until {
                let t0 = Instant::now();
                let r = vu.op(op).await;
                stats.borrow_mut().record(t0, r);
            }
        }
    });
    futures_util::future::join_all(tasks).await;
    Rc::try_unwrap(stats)
        .map(RefCell::into_inner)
        .unwrap_or_default()
}

/// Runs the scenarios in order. Must be polled on an actix (or tokio current-thread) runtime.
pub async fn run(opts: &RunOptions) -> Result<RunReport, String> {
    let layout = Layout::of(opts.scale);
    let http = Http::new(&opts.target, opts.clients + opts.login_clients);
    let dur = Duration::from_secs_f64(opts.seconds.max(0.05));
    let mut results = Vec::new();
    let ceiling = opts.ceiling.as_ref();
    let mut seed = opts.seed;
    println!("{}", header());
    for scenario in &opts.scenarios {
        let phases: Vec<Phase> = match scenario {
            Scenario::Login => vec![Phase {
                name: "login",
                op: Op::Login,
                who: Who::Inspector,
                kind: "insert",
            }],
            Scenario::Report => vec![Phase {
                name: "report",
                op: Op::Report,
                who: Who::Inspector,
                kind: "insert",
            }],
            Scenario::List => vec![
                Phase {
                    name: "list_first_township",
                    op: Op::ListFirst,
                    who: Who::TownshipOfficial,
                    kind: "range",
                },
                Phase {
                    name: "list_deep_township",
                    op: Op::ListDeep,
                    who: Who::TownshipOfficial,
                    kind: "range",
                },
                Phase {
                    name: "list_first_fire",
                    op: Op::ListFirst,
                    who: Who::FireOfficer,
                    kind: "range",
                },
                Phase {
                    name: "list_deep_fire",
                    op: Op::ListDeep,
                    who: Who::FireOfficer,
                    kind: "range",
                },
            ],
            Scenario::Get => vec![Phase {
                name: "get",
                op: Op::Get,
                who: Who::FireOfficer,
                kind: "range",
            }],
            Scenario::Act => vec![Phase {
                name: "act",
                op: Op::Act,
                who: Who::Leader,
                kind: "insert",
            }],
            Scenario::Notifications => vec![Phase {
                name: "notifications",
                op: Op::Notifications,
                who: Who::Inspector,
                kind: "range",
            }],
            Scenario::Mixed => {
                seed += 1;
                let vus = make_vus(
                    &http,
                    layout,
                    opts.clients,
                    Who::FireOfficer,
                    Op::Get,
                    seed,
                    0,
                )
                .await?;
                let loggers = make_vus(
                    &http,
                    layout,
                    opts.login_clients,
                    Who::Inspector,
                    Op::Login,
                    seed,
                    0,
                )
                .await?;
                let started = Instant::now();
                let until = started + dur;
                let (gets, logins) = futures_util::future::join(
                    drive(vus, Op::Get, until),
                    drive(loggers, Op::Login, until),
                )
                .await;
                let elapsed = started.elapsed().as_secs_f64();
                for (name, clients, s, kind) in [
                    ("get_during_logins", opts.clients, gets, "range"),
                    ("login_during_gets", opts.login_clients, logins, "insert"),
                ] {
                    // CPU is not charged here: the two kinds share it.
                    let r = summarise(name, clients, elapsed, s, kind, ceiling);
                    print_row(&r);
                    results.push(r);
                }
                continue;
            }
        };
        for ph in phases {
            seed += 1;
            let vus = make_vus(&http, layout, opts.clients, ph.who, ph.op, seed, 0).await?;
            let mark = CpuMark::take(opts.server_pid);
            let started = Instant::now();
            let stats = drive(vus, ph.op, started + dur).await;
            let mut r = summarise(
                ph.name,
                opts.clients,
                started.elapsed().as_secs_f64(),
                stats,
                ph.kind,
                ceiling,
            );
            mark.attribute(opts.server_pid, &mut r);
            print_row(&r);
            results.push(r);
        }
    }
    Ok(RunReport {
        target: opts.target.clone(),
        scale: opts.scale,
        ceiling: opts.ceiling.clone(),
        results,
    })
}

pub fn header() -> String {
    format!(
        "{:<22} {:>7} {:>9} {:>9} {:>8} {:>8} {:>8} {:>7} {:>16} {:>8} {:>8}",
        "scenario",
        "clients",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "of ceiling",
        "srv ms",
        "pg ms"
    )
}

pub fn row(r: &ScenarioResult) -> String {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    format!(
        "{:<22} {:>7} {:>9} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>16} {:>8} {:>8}",
        r.scenario,
        r.clients,
        r.requests,
        r.rps,
        r.p50_ms,
        r.p95_ms,
        r.p99_ms,
        r.errors,
        r.fraction_of_ceiling.map_or("-".to_string(), |f| format!(
            "{:.1}% {}",
            f * 100.0,
            r.ceiling_kind
        )),
        opt(r.server_cpu_ms_per_request),
        opt(r.postgres_cpu_ms_per_request),
    )
}

fn print_row(r: &ScenarioResult) {
    println!("{}", row(r));
    for e in &r.error_samples {
        println!("    error: {e}");
    }
}

/// Writes the report as JSON.
pub fn write_json(report: &RunReport, path: &PathBuf) -> Result<(), String> {
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
