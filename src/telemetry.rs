//! Logs and metrics: structured logs with a request id (also returned as `x-request-id`),
//! Prometheus counters and latency histograms per route pattern.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use tracing_actix_web::RequestId;

use crate::config::LogFormat;

pub fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Closing each request span logs one line per request with its id, status and latency.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// One registry per server process; unmatched paths share one label so that scanners cannot
/// blow up the metric cardinality.
pub fn metrics() -> PrometheusMetrics {
    PrometheusMetricsBuilder::new("firegrid")
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .expect("static metrics configuration is valid")
}

/// Copies the request id that `TracingLogger` assigned into the `x-request-id` response header,
/// so a field report can quote it and the log line can be found.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
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
        }
    }

    fn gauges(&self) -> [&prometheus::IntGauge; 3] {
        [&self.waiters, &self.connections, &self.idle]
    }
}

impl prometheus::core::Collector for PoolCollector {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.gauges().into_iter().flat_map(|g| g.desc()).collect()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let state = self.pool.state();
        self.waiters.set(self.pool.waiters() as i64);
        self.connections.set(i64::from(state.connections));
        self.idle.set(i64::from(state.idle_connections));
        self.gauges()
            .into_iter()
            .flat_map(|g| g.collect())
            .collect()
    }
}
