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
