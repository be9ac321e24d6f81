//! Configuration: command-line flags, each backed by a `FIREGRID_*` environment variable
//! (SPEC §10), resolved once at start-up into `Settings`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::CommandError;

/// The default of every setting, for the flags and for `Settings::with_defaults` alike.
pub mod defaults {
    pub const BIND: &str = "127.0.0.1:8080";
    pub const DATA_DIR: &str = "./firegrid-data";
    pub const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
    pub const SWEEP_INTERVAL_SECS: u64 = 60;
    /// A public reporter's contact is kept this long after the case closes (issue 12).
    pub const CONTACT_RETENTION_DAYS: u32 = 180;
    /// The offline-sync change log keeps this many days (issue 13); a phone away longer starts
    /// over with a fresh snapshot.
    pub const SYNC_RETENTION_DAYS: u32 = 30;
    pub const PATROL_ALERT_DAYS: u32 = 2;
    pub const POOL_SIZE: u32 = 16;
    pub const POOL_TIMEOUT_SECS: u64 = 5;
    pub const DB_TIMEOUT_SECS: u64 = 5;
    pub const BODY_TIMEOUT_SECS: u64 = 30;
    pub const HEADER_TIMEOUT_SECS: u64 = 5;
    pub const KEEP_ALIVE_SECS: u64 = 15;
    pub const JSON_LIMIT: usize = 1024 * 1024;
    pub const ACCESS_TOKEN_TTL_SECS: u64 = 900;
    /// 30 days.
    pub const REFRESH_TOKEN_TTL_SECS: u64 = 30 * 24 * 3600;
    pub const WEBHOOK_INTERVAL_SECS: u64 = 2;
    pub const WEBHOOK_TIMEOUT_SECS: u64 = 10;
    pub const WEBHOOK_RETRY_BASE_SECS: u64 = 30;
    pub const WEBHOOK_RETRY_MAX_SECS: u64 = 3600;
    /// 24 hours.
    pub const WEBHOOK_RETRY_WINDOW_SECS: u64 = 24 * 3600;
}

#[derive(Debug, Parser)]
#[command(
    name = "firegrid",
    version,
    about = "Fire-safety grid management (消防网格化管理) server"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default). Migrations run first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI 3.1 description of the HTTP API as JSON.
    Openapi,
    /// Manage accounts from the command line.
    #[command(subcommand)]
    User(UserCommand),
    /// Check the tamper evidence of the stored data.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Import regions, organisations, people with roles and premises from a CSV file, in one
    /// transaction (all or nothing). The column layout is in the README.
    Import {
        /// The CSV file (UTF-8, with or without BOM).
        file: PathBuf,
    },
    /// Fill an empty database with the demo county 湟中区 and one account per role.
    Demo,
    /// Copy a SQLite deployment (database and photos) into a new directory while it serves.
    /// On PostgreSQL use pg_dump (see the README).
    Backup {
        /// The directory to create (or an empty one).
        #[arg(long)]
        to: PathBuf,
    },
    /// Put a backup directory back as this deployment's database and photos; refuses unless
    /// both are empty.
    Restore {
        /// A directory written by `firegrid backup`.
        #[arg(long)]
        from: PathBuf,
    },
    /// Copy a SQLite deployment into an empty PostgreSQL database (migrated first), with its
    /// photos, and check the copy (row counts, audit verify); refuses a non-empty target.
    /// The photos are read from --data-dir (FIREGRID_DATA_DIR).
    MigrateData {
        /// The SQLite database file (stop its server first).
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL URL of the new, empty database.
        #[arg(long)]
        to: String,
        /// The PostgreSQL servers' data directory: the photos are copied into its attachments/.
        /// Without it the photos stay in --data-dir, which the new servers then use.
        #[arg(long)]
        photos_to: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every case's event hash chain; exits non-zero and names each broken chain.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; with --admin it holds the admin role (global without --region-id).
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// The password (or FIREGRID_NEW_PASSWORD).
        #[arg(long, env = "FIREGRID_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        /// The account's home region id.
        #[arg(long)]
        region_id: Option<i64>,
        #[arg(long)]
        admin: bool,
    },
    /// Set a new password; every token of the account stops working.
    ResetPassword {
        #[arg(long)]
        username: String,
        /// The password (or FIREGRID_NEW_PASSWORD).
        #[arg(long, env = "FIREGRID_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: `postgres://…` for PostgreSQL, anything else is a SQLite file path.
    /// Default: `<data dir>/firegrid.sqlite3`.
    #[arg(long, env = "FIREGRID_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Address to listen on.
    #[arg(
        long,
        env = "FIREGRID_BIND",
        default_value = defaults::BIND,
        global = true
    )]
    pub bind: String,
    /// Directory for the SQLite file, the generated JWT secret and uploaded photos.
    #[arg(
        long,
        env = "FIREGRID_DATA_DIR",
        default_value = defaults::DATA_DIR,
        global = true
    )]
    pub data_dir: PathBuf,
    /// HS256 signing secret (at least 32 bytes). Every server of one deployment needs the same.
    #[arg(
        long,
        env = "FIREGRID_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<String>,
    /// A file holding the JWT secret (used when FIREGRID_JWT_SECRET is not set).
    #[arg(long, env = "FIREGRID_JWT_SECRET_FILE", global = true)]
    pub jwt_secret_file: Option<PathBuf>,
    /// The deployment's time zone (IANA name), for "the day" of patrols and reports.
    #[arg(
        long,
        env = "FIREGRID_TZ",
        default_value_t = defaults::TZ,
        global = true
    )]
    pub tz: chrono_tz::Tz,
    /// Log filter, e.g. `info` or `firegrid=debug,actix_web=info`.
    #[arg(long, env = "FIREGRID_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Log format: `text` or `json`.
    #[arg(
        long,
        env = "FIREGRID_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Password of the `admin` account created on first start (random and logged when unset).
    #[arg(
        long,
        env = "FIREGRID_ADMIN_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub admin_password: Option<String>,
    /// How often the deadline sweep runs, in seconds.
    #[arg(
        long,
        env = "FIREGRID_SWEEP_INTERVAL_SECS",
        default_value_t = defaults::SWEEP_INTERVAL_SECS,
        global = true
    )]
    pub sweep_interval_secs: u64,
    /// Days after a case closes before its public reporter's contact is erased.
    #[arg(
        long,
        env = "FIREGRID_CONTACT_RETENTION_DAYS",
        default_value_t = defaults::CONTACT_RETENTION_DAYS,
        global = true
    )]
    pub contact_retention_days: u32,
    /// Days the offline-sync change log is kept; a phone that last synced earlier gets a fresh
    /// snapshot (`reset: true`).
    #[arg(
        long,
        env = "FIREGRID_SYNC_RETENTION_DAYS",
        default_value_t = defaults::SYNC_RETENTION_DAYS,
        global = true
    )]
    pub sync_retention_days: u32,
    /// After this many consecutive local days without a patrol, a group's village cadres are
    /// notified (once per run of missed days).
    #[arg(
        long,
        env = "FIREGRID_PATROL_ALERT_DAYS",
        default_value_t = defaults::PATROL_ALERT_DAYS,
        global = true
    )]
    pub patrol_alert_days: u32,
    /// Database connections per server process.
    #[arg(long, env = "FIREGRID_POOL_SIZE", default_value_t = defaults::POOL_SIZE, global = true)]
    pub pool_size: u32,
    /// How long a request waits for a database connection before it gets 503.
    #[arg(
        long,
        env = "FIREGRID_POOL_TIMEOUT_SECS",
        default_value_t = defaults::POOL_TIMEOUT_SECS,
        global = true
    )]
    pub pool_timeout_secs: u64,
    /// How long one database call may take once it has a connection; past the pool timeout plus
    /// this, a request is answered 503 `unavailable` (a partition, a stalled database).
    #[arg(
        long,
        env = "FIREGRID_DB_TIMEOUT_SECS",
        default_value_t = defaults::DB_TIMEOUT_SECS,
        global = true
    )]
    pub db_timeout_secs: u64,
    /// How long a client may take to send a whole request body; slower ones get 408 and are
    /// disconnected.
    #[arg(
        long,
        env = "FIREGRID_BODY_TIMEOUT_SECS",
        default_value_t = defaults::BODY_TIMEOUT_SECS,
        global = true
    )]
    pub body_timeout_secs: u64,
    /// How long a client may take to send the request line and headers.
    #[arg(
        long,
        env = "FIREGRID_HEADER_TIMEOUT_SECS",
        default_value_t = defaults::HEADER_TIMEOUT_SECS,
        global = true
    )]
    pub header_timeout_secs: u64,
    /// How long an idle keep-alive connection stays open.
    #[arg(
        long,
        env = "FIREGRID_KEEP_ALIVE_SECS",
        default_value_t = defaults::KEEP_ALIVE_SECS,
        global = true
    )]
    pub keep_alive_secs: u64,
    /// Largest accepted JSON body, in bytes.
    #[arg(long, env = "FIREGRID_JSON_LIMIT", default_value_t = defaults::JSON_LIMIT, global = true)]
    pub json_limit: usize,
    /// Lifetime of access tokens, in seconds.
    #[arg(
        long,
        env = "FIREGRID_ACCESS_TOKEN_TTL_SECS",
        default_value_t = defaults::ACCESS_TOKEN_TTL_SECS,
        global = true
    )]
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens, in seconds (default 30 days).
    #[arg(
        long,
        env = "FIREGRID_REFRESH_TOKEN_TTL_SECS",
        default_value_t = defaults::REFRESH_TOKEN_TTL_SECS,
        global = true
    )]
    pub refresh_token_ttl_secs: u64,
    /// Reverse proxies whose X-Forwarded-For is believed (comma-separated IPs).
    #[arg(
        long,
        env = "FIREGRID_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<IpAddr>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "FIREGRID_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// Weights of the annual ranking's components (年度综合考评), e.g.
    /// `rectification=30,timeliness=20,major_open=15,patrol=15,roster=10,public_response=10` (README, "The ranking").
    #[arg(
        long,
        env = "FIREGRID_RANKING_WEIGHTS",
        default_value_t = crate::stats::ranking::Weights::default(),
        global = true
    )]
    pub ranking_weights: crate::stats::ranking::Weights,
    #[command(flatten)]
    pub webhooks: WebhookFlags,
}

/// The webhook delivery worker (README "Webhooks").
#[derive(Debug, Clone, Args)]
pub struct WebhookFlags {
    /// How often each server looks for webhook deliveries that are due, in seconds.
    #[arg(long, env = "FIREGRID_WEBHOOK_INTERVAL_SECS", default_value_t = defaults::WEBHOOK_INTERVAL_SECS, global = true)]
    pub webhook_interval_secs: u64,
    /// How long one webhook POST may take (connecting, sending, the answer), in seconds.
    #[arg(long, env = "FIREGRID_WEBHOOK_TIMEOUT_SECS", default_value_t = defaults::WEBHOOK_TIMEOUT_SECS, global = true)]
    pub webhook_timeout_secs: u64,
    /// The first retry's delay in seconds; each further one doubles it.
    #[arg(long, env = "FIREGRID_WEBHOOK_RETRY_BASE_SECS", default_value_t = defaults::WEBHOOK_RETRY_BASE_SECS, global = true)]
    pub webhook_retry_base_secs: u64,
    /// The longest delay between two attempts, in seconds.
    #[arg(long, env = "FIREGRID_WEBHOOK_RETRY_MAX_SECS", default_value_t = defaults::WEBHOOK_RETRY_MAX_SECS, global = true)]
    pub webhook_retry_max_secs: u64,
    /// How long a delivery is retried before it is marked failed, in seconds (default 24 h).
    #[arg(long, env = "FIREGRID_WEBHOOK_RETRY_WINDOW_SECS", default_value_t = defaults::WEBHOOK_RETRY_WINDOW_SECS, global = true)]
    pub webhook_retry_window_secs: u64,
}

/// The delivery worker's timing, resolved.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub interval: Duration,
    pub timeout: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub retry_window: Duration,
}

impl WebhookSettings {
    pub fn from_flags(f: &WebhookFlags) -> Self {
        WebhookSettings {
            interval: Duration::from_secs(f.webhook_interval_secs.max(1)),
            timeout: Duration::from_secs(f.webhook_timeout_secs.max(1)),
            retry_base: Duration::from_secs(f.webhook_retry_base_secs.max(1)),
            retry_max: Duration::from_secs(f.webhook_retry_max_secs.max(1)),
            retry_window: Duration::from_secs(f.webhook_retry_window_secs),
        }
    }

    pub fn defaults() -> Self {
        WebhookSettings {
            interval: Duration::from_secs(defaults::WEBHOOK_INTERVAL_SECS),
            timeout: Duration::from_secs(defaults::WEBHOOK_TIMEOUT_SECS),
            retry_base: Duration::from_secs(defaults::WEBHOOK_RETRY_BASE_SECS),
            retry_max: Duration::from_secs(defaults::WEBHOOK_RETRY_MAX_SECS),
            retry_window: Duration::from_secs(defaults::WEBHOOK_RETRY_WINDOW_SECS),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the running server needs, resolved and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub jwt_secret: Vec<u8>,
    pub tz: chrono_tz::Tz,
    pub admin_password: Option<String>,
    pub sweep_interval: Duration,
    /// Days a public reporter's contact outlives the case's closure.
    pub contact_retention_days: u32,
    /// Days the sync change log is kept.
    pub sync_retention_days: u32,
    pub patrol_alert_days: u32,
    pub pool_size: u32,
    pub pool_timeout: Duration,
    pub db_timeout: Duration,
    pub body_timeout: Duration,
    pub header_timeout: Duration,
    pub keep_alive: Duration,
    pub json_limit: usize,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub trusted_proxies: Vec<IpAddr>,
    /// The address this server listens on: a webhook may not point back at it.
    pub bind: String,
    pub webhooks: WebhookSettings,
    pub ranking_weights: crate::stats::ranking::Weights,
}

pub const MIN_SECRET_BYTES: usize = 32;

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            self.data_dir
                .join("firegrid.sqlite3")
                .to_string_lossy()
                .into_owned()
        })
    }

    /// Resolves the configuration; creates the data directory and, on a first start with no
    /// secret configured, generates one into it.
    pub fn resolve(&self) -> Result<Settings, CommandError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| {
            CommandError::caused_by(
                format!("cannot create data directory {}", self.data_dir.display()),
                e,
            )
        })?;
        let jwt_secret = self.jwt_secret()?;
        if jwt_secret.len() < MIN_SECRET_BYTES {
            return Err(CommandError::new(format!(
                "the JWT secret is {} bytes long; at least {MIN_SECRET_BYTES} are required",
                jwt_secret.len()
            )));
        }
        Ok(Settings {
            database_url: self.database_url(),
            data_dir: self.data_dir.clone(),
            jwt_secret,
            tz: self.tz,
            admin_password: self.admin_password.clone(),
            sweep_interval: Duration::from_secs(self.sweep_interval_secs.max(1)),
            contact_retention_days: self.contact_retention_days,
            sync_retention_days: self.sync_retention_days.max(1),
            patrol_alert_days: self.patrol_alert_days.max(1),
            pool_size: self.pool_size.max(1),
            pool_timeout: Duration::from_secs(self.pool_timeout_secs.max(1)),
            db_timeout: Duration::from_secs(self.db_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(self.body_timeout_secs.max(1)),
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            keep_alive: Duration::from_secs(self.keep_alive_secs.max(1)),
            json_limit: self.json_limit,
            access_token_ttl: Duration::from_secs(self.access_token_ttl_secs.max(1)),
            refresh_token_ttl: Duration::from_secs(self.refresh_token_ttl_secs.max(60)),
            trusted_proxies: self.trusted_proxies.clone(),
            bind: self.bind.clone(),
            webhooks: WebhookSettings::from_flags(&self.webhooks),
            ranking_weights: self.ranking_weights,
        })
    }

    fn jwt_secret(&self) -> Result<Vec<u8>, CommandError> {
        if let Some(s) = &self.jwt_secret {
            return Ok(s.trim().as_bytes().to_vec());
        }
        if let Some(path) = &self.jwt_secret_file {
            return read_secret(path);
        }
        let path = self.data_dir.join("jwt-secret");
        if path.exists() {
            return read_secret(&path);
        }
        let secret = generate_secret();
        write_private(&path, &secret)
            .map_err(|e| CommandError::caused_by(format!("cannot write {}", path.display()), e))?;
        tracing::warn!(
            path = %path.display(),
            "no JWT secret configured: generated one into the data directory; \
             servers sharing one database must all use the same FIREGRID_JWT_SECRET"
        );
        Ok(secret.into_bytes())
    }
}

fn read_secret(path: &Path) -> Result<Vec<u8>, CommandError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().as_bytes().to_vec())
        .map_err(|e| {
            CommandError::caused_by(format!("cannot read JWT secret file {}", path.display()), e)
        })
}

fn generate_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(content.as_bytes())
}

impl Settings {
    /// Settings with every default of `Config` (the same `defaults`), for embedding (tests,
    /// tools).
    pub fn with_defaults(database_url: String, data_dir: PathBuf, jwt_secret: Vec<u8>) -> Self {
        Settings {
            database_url,
            data_dir,
            jwt_secret,
            tz: defaults::TZ,
            admin_password: None,
            sweep_interval: Duration::from_secs(defaults::SWEEP_INTERVAL_SECS),
            contact_retention_days: defaults::CONTACT_RETENTION_DAYS,
            sync_retention_days: defaults::SYNC_RETENTION_DAYS,
            patrol_alert_days: defaults::PATROL_ALERT_DAYS,
            pool_size: defaults::POOL_SIZE,
            pool_timeout: Duration::from_secs(defaults::POOL_TIMEOUT_SECS),
            db_timeout: Duration::from_secs(defaults::DB_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(defaults::BODY_TIMEOUT_SECS),
            header_timeout: Duration::from_secs(defaults::HEADER_TIMEOUT_SECS),
            keep_alive: Duration::from_secs(defaults::KEEP_ALIVE_SECS),
            json_limit: defaults::JSON_LIMIT,
            access_token_ttl: Duration::from_secs(defaults::ACCESS_TOKEN_TTL_SECS),
            refresh_token_ttl: Duration::from_secs(defaults::REFRESH_TOKEN_TTL_SECS),
            trusted_proxies: Vec::new(),
            bind: defaults::BIND.to_string(),
            webhooks: WebhookSettings::defaults(),
            ranking_weights: crate::stats::ranking::Weights::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default a flag declares (read from its definition, not from the environment).
    fn flag_default(id: &str) -> String {
        let cmd = <Cli as clap::CommandFactory>::command();
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id() == id)
            .unwrap_or_else(|| panic!("no flag {id}"));
        arg.get_default_values()[0].to_string_lossy().into_owned()
    }

    /// `Settings::with_defaults` and the flags must not drift apart (they once said 8 and 16
    /// database connections).
    #[test]
    fn embedded_settings_have_the_defaults_of_the_flags() {
        let s = Settings::with_defaults(String::new(), PathBuf::new(), Vec::new());
        let secs = |d: Duration| d.as_secs().to_string();
        assert_eq!(flag_default("pool_size"), s.pool_size.to_string());
        assert_eq!(flag_default("pool_timeout_secs"), secs(s.pool_timeout));
        assert_eq!(flag_default("sweep_interval_secs"), secs(s.sweep_interval));
        assert_eq!(
            flag_default("contact_retention_days"),
            s.contact_retention_days.to_string()
        );
        assert_eq!(
            flag_default("sync_retention_days"),
            s.sync_retention_days.to_string()
        );
        assert_eq!(
            flag_default("patrol_alert_days"),
            s.patrol_alert_days.to_string()
        );
        assert_eq!(flag_default("json_limit"), s.json_limit.to_string());
        assert_eq!(
            flag_default("access_token_ttl_secs"),
            secs(s.access_token_ttl)
        );
        assert_eq!(
            flag_default("refresh_token_ttl_secs"),
            secs(s.refresh_token_ttl)
        );
        assert_eq!(flag_default("tz"), s.tz.to_string());
        assert_eq!(flag_default("bind"), s.bind);
        let w = &s.webhooks;
        assert_eq!(flag_default("webhook_interval_secs"), secs(w.interval));
        assert_eq!(flag_default("webhook_timeout_secs"), secs(w.timeout));
        assert_eq!(flag_default("webhook_retry_base_secs"), secs(w.retry_base));
        assert_eq!(flag_default("webhook_retry_max_secs"), secs(w.retry_max));
        assert_eq!(
            flag_default("webhook_retry_window_secs"),
            secs(w.retry_window)
        );
        assert!(s.trusted_proxies.is_empty() && s.admin_password.is_none());
    }
}
