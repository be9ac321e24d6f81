//! firegrid: fire-safety grid management (消防网格化管理) for the three-tier grid of
//! township (big grid), village (medium grid) and resident group (small grid).
//!
//! Layout: `http` holds the plumbing shared by every endpoint; each domain module (`auth`,
//! `regions`, …) keeps its model, store (diesel) and routes (actix) together; `db` hides the two
//! database backends behind one connection type.

pub mod app;
pub mod attachments;
pub mod auth;
pub mod backup;
pub mod bootstrap;
pub mod bulletins;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod exports;
pub mod hazards;
pub mod http;
pub mod idempotency;
pub mod import;
pub mod jobs;
pub mod migrate_data;
pub mod notifications;
pub mod open311;
pub mod openapi;
pub mod organizations;
pub mod patrols;
pub mod premises;
pub mod public;
pub mod regions;
pub mod roster;
pub mod routes;
pub mod stats;
pub mod storage;
pub mod sync;
pub mod telemetry;
pub mod uploads;
pub mod users;
pub mod validate;
pub mod vocab;
pub mod webhooks;

use std::sync::Arc;

pub use app::build_app;

/// What every request handler can reach. Cheap to clone; shared by all workers.
#[derive(Clone)]
pub struct AppState {
    pub pool: db::Pool,
    pub settings: Arc<config::Settings>,
    pub metrics: actix_web_prom::PrometheusMetrics,
    /// The sweep, outbox and pool metrics, in `metrics`' registry.
    pub ops: Arc<telemetry::OpsMetrics>,
    pub tokens: Arc<auth::tokens::TokenKeys>,
    /// The argon2 threads (one per core, at a lower priority than request handling).
    pub hashing: Arc<auth::hashing::HashPool>,
    /// Callers' roles, cached per server and checked against `users.roles_version` per request.
    pub principals: Arc<auth::principal::PrincipalCache>,
}

impl AppState {
    pub fn new(settings: config::Settings) -> Self {
        let pool = db::build_pool_with_deadline(
            &settings.database_url,
            settings.pool_size,
            settings.pool_timeout,
            settings.db_timeout,
        );
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let metrics = telemetry::metrics();
        let ops = Arc::new(telemetry::OpsMetrics::register(
            &metrics.registry,
            pool.clone(),
        ));
        AppState {
            pool,
            ops,
            tokens: Arc::new(auth::tokens::TokenKeys::new(&settings.jwt_secret)),
            settings: Arc::new(settings),
            metrics,
            // One hash per core already uses every core; more would only queue in the kernel.
            hashing: Arc::new(auth::hashing::HashPool::new(cores)),
            principals: Arc::default(),
        }
    }
}
