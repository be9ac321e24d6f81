//! Logs and metrics: one compact access line per request (also carrying the request id returned
//! as `x-request-id`), written off the request path; Prometheus counters and latency histograms
//! per route pattern.

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use tracing::Instrument;

use crate::config::LogFormat;

/// Keeps the log writer's thread flushing; dropping it (at exit) writes what is still queued.
pub type LogGuard = tracing_appender::non_blocking::WorkerGuard;

/// Logs to stderr through a background writer, so a request never waits on the terminal or the
/// journal: at the default `info` the per-request line used to cost ~10 µs of every request
/// (issue 16). Under a burst that outruns the writer, lines are dropped rather than making
/// requests wait (the writer's default); the metrics still count every request. Colours only
/// when stderr is a terminal.
pub fn init_logging(filter: &str, format: LogFormat) -> LogGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let ansi = std::io::stderr().is_terminal();
    let _ = tracing::subscriber::set_global_default(subscriber(filter, format, ansi, writer));
    guard
}

/// The log subscriber the server runs with, writing to `writer` (tests read it back).
pub fn subscriber<W>(
    filter: &str,
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(builder.json().finish()),
        LogFormat::Text => Box::new(builder.finish()),
    }
}

/// One registry per server process; unmatched paths share one label so that scanners cannot
/// blow up the metric cardinality.
pub fn metrics() -> PrometheusMetrics {
    PrometheusMetricsBuilder::new("firegrid")
        .endpoint("/metrics")
        .mask_unmatched_patterns(UNMATCHED)
        .build()
        .expect("static metrics configuration is valid")
}

const UNMATCHED: &str = "UNMATCHED";

/// The id of one request: in its access line, in every event logged while it is handled, and in
/// the `x-request-id` response header, so a field report can quote it and the line be found.
#[derive(Debug, Clone, Copy)]
pub struct RequestId(pub uuid::Uuid);

/// The account a request's bearer token names (put here by `auth` once the token verifies), for
/// the access line.
#[derive(Debug, Clone, Copy)]
pub struct TokenUser(pub i64);

/// Middleware: times the request and logs one line when it is answered, e.g.
/// `INFO firegrid::access: method=GET route=/api/v1/hazards/{id} status=200 ms=0.412
/// request_id=… user_id=12`. The route is the pattern, not the path: ids stay out of the log.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let id = uuid::Uuid::new_v4();
    req.extensions_mut().insert(RequestId(id));
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span).await?;
    let user = res.request().extensions().get::<TokenUser>().map(|u| u.0);
    let route = res.request().match_pattern();
    tracing::info!(
        target: "firegrid::access",
        method = %method,
        route = route.as_deref().unwrap_or(UNMATCHED),
        status = res.status().as_u16(),
        ms = start.elapsed().as_secs_f64() * 1000.0,
        request_id = %id,
        user_id = user,
    );
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// The server's own metrics beside the per-route ones: the deadline sweep's runs and duration,
/// the notification outbox's backlog, and the connection pool (waiters, open and idle
/// connections, read at each scrape).
pub struct OpsMetrics {
    pub sweep_duration: prometheus::Histogram,
    pub sweep_runs: prometheus::IntCounterVec,
    /// Registered on the first value: a build without an outbox exports no backlog rather than
    /// a misleading 0.
    outbox_backlog: prometheus::IntGauge,
    outbox_registered: std::sync::Once,
    registry: prometheus::Registry,
    pool: PoolCollector,
}

impl OpsMetrics {
    /// Registers the metrics in `registry` (the one `/metrics` serves).
    pub fn register(registry: &prometheus::Registry, pool: crate::db::Pool) -> OpsMetrics {
        use prometheus::{histogram_opts, opts};
        let sweep_duration = prometheus::Histogram::with_opts(histogram_opts!(
            "firegrid_sweep_duration_seconds",
            "Duration of this server's deadline sweep runs (successful or not)",
            vec![0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0]
        ))
        .expect("static histogram options");
        let sweep_runs = prometheus::IntCounterVec::new(
            opts!(
                "firegrid_sweep_runs_total",
                "Deadline sweep runs of this server, by result (ok, failed)"
            ),
            &["result"],
        )
        .expect("static counter options");
        let outbox_backlog = prometheus::IntGauge::with_opts(opts!(
            "firegrid_outbox_backlog",
            "Notifications waiting in the outbox for delivery, as of this server's last sweep"
        ))
        .expect("static gauge options");
        let pool = PoolCollector::new(pool);
        let ops = OpsMetrics {
            sweep_duration,
            sweep_runs,
            outbox_backlog,
            outbox_registered: std::sync::Once::new(),
            registry: registry.clone(),
            pool,
        };
        // A second registration (a test building two apps on one registry) is harmless.
        let _ = registry.register(Box::new(ops.sweep_duration.clone()));
        let _ = registry.register(Box::new(ops.sweep_runs.clone()));
        let _ = registry.register(Box::new(ops.pool.clone()));
        ops
    }

    /// Sets the outbox backlog (see `jobs::outbox_backlog`).
    pub fn set_outbox_backlog(&self, backlog: i64) {
        self.outbox_registered.call_once(|| {
            let _ = self
                .registry
                .register(Box::new(self.outbox_backlog.clone()));
        });
        self.outbox_backlog.set(backlog);
    }
}

/// Reads the pool's state when `/metrics` is scraped (no database call: r2d2 keeps the counts).
#[derive(Clone)]
struct PoolCollector {
    pool: crate::db::Pool,
    waiters: prometheus::IntGauge,
    connections: prometheus::IntGauge,
    idle: prometheus::IntGauge,
    /// SQLite's group commit (`db::group_commit`): writes queued, and commits with the writes
    /// they held (their ratio is the mean batch).
    write_queue: prometheus::IntGauge,
    commits: prometheus::IntCounter,
    committed_writes: prometheus::IntCounter,
}

impl PoolCollector {
    fn new(pool: crate::db::Pool) -> Self {
        let gauge = |name: &str, help: &str| {
            prometheus::IntGauge::new(name, help).expect("static gauge options")
        };
        PoolCollector {
            pool,
            waiters: gauge(
                "firegrid_db_pool_waiters",
                "Database calls waiting for a free pool connection",
            ),
            connections: gauge(
                "firegrid_db_pool_connections",
                "Open database connections in this server's pool",
            ),
            idle: gauge(
                "firegrid_db_pool_idle_connections",
                "Idle database connections in this server's pool",
            ),
            write_queue: gauge(
                "firegrid_sqlite_write_queue",
                "Write transactions waiting for the SQLite writer",
            ),
            commits: counter(
                "firegrid_sqlite_commits_total",
                "Transactions committed by the SQLite writer",
            ),
            committed_writes: counter(
                "firegrid_sqlite_committed_writes_total",
                "Requests' writes held by those transactions",
            ),
        }
    }

    fn gauges(&self) -> [&prometheus::IntGauge; 4] {
        [
            &self.waiters,
            &self.connections,
            &self.idle,
            &self.write_queue,
        ]
    }

    fn counters(&self) -> [&prometheus::IntCounter; 2] {
        [&self.commits, &self.committed_writes]
    }
}

fn counter(name: &str, help: &str) -> prometheus::IntCounter {
    prometheus::IntCounter::new(name, help).expect("static counter options")
}

/// Brings a counter up to a running total kept elsewhere (an atomic of the writer thread).
fn catch_up(counter: &prometheus::IntCounter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

impl prometheus::core::Collector for PoolCollector {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        let gauges = self.gauges().into_iter().flat_map(|g| g.desc());
        gauges
            .chain(self.counters().into_iter().flat_map(|c| c.desc()))
            .collect()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        use std::sync::atomic::Ordering::Relaxed;
        let state = self.pool.state();
        self.waiters.set(self.pool.waiters() as i64);
        self.connections.set(i64::from(state.connections));
        self.idle.set(i64::from(state.idle_connections));
        let writer = self.pool.commit_stats();
        self.write_queue.set(writer.queued.load(Relaxed) as i64);
        catch_up(&self.commits, writer.commits.load(Relaxed));
        catch_up(&self.committed_writes, writer.writes.load(Relaxed));
        let gauges = self.gauges().into_iter().flat_map(|g| g.collect());
        gauges
            .chain(self.counters().into_iter().flat_map(|c| c.collect()))
            .collect()
    }
}
