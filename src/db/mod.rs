//! The database layer: one connection type over two backends (SQLite embedded by default,
//! PostgreSQL for production), an r2d2 pool, embedded migrations, and the helpers every store
//! uses to run diesel off the async workers.

pub mod group_commit;
mod per_backend;
pub mod schema;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{AppError, AppResult, CommandError};

/// One connection, either backend. Queries written against `DbConn` compile for both; the few
/// that diesel cannot express through the enum branch on it (see `STACK.md`).
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type PooledConn = r2d2::PooledConnection<Manager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// How much of a SQLite file is memory-mapped (SQLite caps it at its compile-time maximum,
/// 2 GiB in the bundled build). The mapping is shared by every connection and the OS page cache.
const SQLITE_MMAP_BYTES: u64 = 8 << 30;

/// Picks the backend from the URL prefix ourselves, so that a PostgreSQL connection failure
/// reaches the log as itself (diesel's derived `establish` tries both and hides the reason).
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    busy_timeout_ms: u64,
    /// Statements run on this pool's connections (`Pool::statements`).
    statements: Arc<AtomicU64>,
}

impl Manager {
    pub fn new(url: impl Into<String>, busy_timeout: Duration) -> Self {
        Self::with_deadline(url, busy_timeout, DEFAULT_DB_TIMEOUT)
    }

    /// `deadline` bounds what libpq itself can bound: connecting, and a peer that vanished
    /// (unacknowledged data, dead keepalives). A peer that stalls while its TCP stack still
    /// acknowledges is caught by the deadline of `run` instead.
    pub fn with_deadline(
        url: impl Into<String>,
        busy_timeout: Duration,
        deadline: Duration,
    ) -> Self {
        let url = url.into();
        let url = match Backend::of_url(&url) {
            Backend::Postgres => with_pg_params(&url, deadline),
            Backend::Sqlite => url,
        };
        Manager {
            url,
            busy_timeout_ms: busy_timeout.as_millis() as u64,
            statements: Arc::default(),
        }
    }
}

/// Adds libpq's network timeouts to a PostgreSQL URL, unless the URL sets them itself.
fn with_pg_params(url: &str, deadline: Duration) -> String {
    let secs = deadline.as_secs().max(2); // libpq's connect_timeout minimum
    let params = [
        ("connect_timeout", secs.to_string()),
        ("keepalives", "1".to_string()),
        ("keepalives_idle", secs.to_string()),
        ("keepalives_interval", "2".to_string()),
        ("keepalives_count", "3".to_string()),
        ("tcp_user_timeout", (secs * 1000).to_string()),
    ];
    let mut out = url.to_string();
    for (name, value) in params {
        if url.contains(&format!("{name}=")) {
            continue;
        }
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(&format!("{name}={value}"));
    }
    out
}

fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

impl Manager {
    /// Opens one connection with the backend's settings.
    fn open(&self) -> Result<DbConn, r2d2::Error> {
        match Backend::of_url(&self.url) {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                configure_sqlite();
                let mut c = SqliteConnection::establish(sqlite_path(&self.url))
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers proceed while one writer writes; the busy timeout makes a
                // second writer wait instead of failing; foreign keys are off by default in SQLite.
                // Pages are read through a memory map rather than a read() call each: a province
                // database (2 GB) does not fit SQLite's own per-connection page cache, and the
                // system calls were a large part of a case read's CPU.
                // Temporary storage in memory: each write of a group commit has its own savepoint,
                // whose sub-journal (the pages it changed, to roll back to) was spilled to a
                // temporary file, a write system call per page.
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA mmap_size = {SQLITE_MMAP_BYTES}; PRAGMA temp_store = MEMORY;",
                    self.busy_timeout_ms
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(c))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        let mut conn = self.open()?;
        // Counts statements, so that a test can pin how many a hot request costs (an atomic
        // add per statement).
        let statements = self.statements.clone();
        conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
            if matches!(
                event,
                diesel::connection::InstrumentationEvent::StartQuery { .. }
            ) {
                statements.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(conn)
    }

    /// Called by `checkout` (r2d2's own test on checkout is off). A PostgreSQL connection may
    /// have died with its server (a restart, a failover), so it is tested with a round trip; an
    /// embedded SQLite file connection cannot go away underneath us, so testing it would only
    /// cost a statement per request.
    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        match conn {
            DbConn::Pg(c) => c.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError),
            DbConn::Sqlite(_) => Ok(()),
        }
    }

    /// r2d2 asks this when a connection comes back. A connection whose caller gave up on it (see
    /// `run`) or that was left inside a transaction is closed instead of being reused.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        !matches!(tx_status(conn).transaction_depth(), Ok(None))
    }
}

fn tx_status(conn: &mut DbConn) -> &mut diesel::connection::TransactionManagerStatus {
    match conn {
        DbConn::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        DbConn::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
    }
}

/// Marks a connection as never to be reused: r2d2 drops it when it is returned.
fn poison(conn: &mut DbConn) {
    tx_status(conn).set_in_error();
}

/// SQLite's process-wide settings, applied once before the first connection opens (SQLite
/// ignores them, with SQLITE_MISUSE, once it has initialised; then they simply do not apply).
///
/// - Multi-thread mode instead of serialized: the pool hands each connection (and its cached
///   statements) to one thread at a time, so SQLite's per-connection mutexes only cost time.
/// - No global memory statistics: keeping them takes one process-wide mutex on every
///   allocation, which under load showed up as futex waits between the blocking threads.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use libsqlite3_sys as ffi;
        // SAFETY: sqlite3_config is called before any connection of this process exists (the
        // pool opens them all through `Manager::connect`, which comes here first); a call that
        // comes too late only returns SQLITE_MISUSE.
        let (threads, memstatus) = unsafe {
            (
                ffi::sqlite3_config(ffi::SQLITE_CONFIG_MULTITHREAD),
                ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int),
            )
        };
        if threads != ffi::SQLITE_OK || memstatus != ffi::SQLITE_OK {
            tracing::debug!(
                threads,
                memstatus,
                "SQLite was initialised before it could be configured"
            );
        }
    });
}

/// How long one database call may take once it has a connection, unless configured
/// (`FIREGRID_DB_TIMEOUT_SECS`).
pub const DEFAULT_DB_TIMEOUT: Duration =
    Duration::from_secs(crate::config::defaults::DB_TIMEOUT_SECS);

/// Bulk work (an import of a whole county in one transaction) may take this many deadlines.
const BULK_FACTOR: u32 = 12;

/// The r2d2 pool plus the deadline of each call made through `run`. Dereferences to the r2d2
/// pool, so `pool.get()` works where a connection is needed outside a request.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<Manager>,
    /// Waiting for a connection plus using it: past this a request is answered 503.
    deadline: Duration,
    storage: Arc<crate::storage::Health>,
    /// Database calls of this server waiting for a connection right now (`/metrics`).
    waiting: Arc<AtomicUsize>,
    statements: Arc<AtomicU64>,
    /// SQLite only: the queue of write transactions and its writer thread, started by the first
    /// write (`group_commit`). `None` on PostgreSQL, whose writers run concurrently.
    writer: Option<Arc<std::sync::Mutex<Option<Arc<group_commit::Writer>>>>>,
    manager: Manager,
    commits: Arc<group_commit::Stats>,
}

impl Pool {
    /// A connection for work outside a request (sweeps, deliveries, commands), tested first
    /// (`checkout`). Shadows r2d2's `get`.
    pub fn get(&self) -> Result<PooledConn, r2d2::PoolError> {
        checkout(&self.inner, &self.manager)
    }

    /// How long a request may wait for the database in all (its calls share it).
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Whether write transactions go through the SQLite writer's queue (group commit).
    pub fn groups_commits(&self) -> bool {
        self.writer.is_some()
    }

    /// The writer thread's counters (all zero on PostgreSQL or before the first write).
    pub fn commit_stats(&self) -> &group_commit::Stats {
        &self.commits
    }

    fn writer(&self) -> AppResult<Arc<group_commit::Writer>> {
        let slot = self
            .writer
            .as_ref()
            .ok_or_else(|| AppError::internal("group commit is for SQLite only"))?;
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = slot.as_ref() {
            return Ok(w.clone());
        }
        let w = Arc::new(group_commit::Writer::start(
            self.manager.clone(),
            self.commits.clone(),
        )?);
        *slot = Some(w.clone());
        Ok(w)
    }

    /// How many database calls are waiting for a free connection: a pool too small for the
    /// load shows here before it shows as 503s.
    pub fn waiters(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Statements run on this pool's connections since it was built (batches count once): a
    /// test pins what a hot request costs with the difference around it.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// What this server last saw of its storage (a full disk), for `/readyz`.
    pub fn storage(&self) -> &crate::storage::Health {
        &self.storage
    }
}

/// A connection that answered a request this recently is handed out again without a test.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// When a connection last completed a database call (kept with it in the pool).
struct Answered(std::time::Instant);

/// A connection from the pool, tested with a round trip (`Manager::is_valid`) unless it
/// completed a call within `TRUSTED_FOR`. Under load every connection is that fresh, so the
/// busy path saves a round trip per request; one that sat idle, maybe across a restart of
/// PostgreSQL, is tested, and discarded if dead.
fn checkout(inner: &r2d2::Pool<Manager>, manager: &Manager) -> Result<PooledConn, r2d2::PoolError> {
    // Every idle connection may have died together (a restart): try each once, then a new one.
    for _ in 0..=inner.max_size() {
        let mut conn = inner.get()?;
        let fresh = r2d2::PooledConnection::extensions(&conn)
            .get::<Answered>()
            .is_some_and(|a| a.0.elapsed() < TRUSTED_FOR);
        if fresh || manager.is_valid(&mut conn).is_ok() {
            return Ok(conn);
        }
        poison(&mut conn);
    }
    inner.get()
}

/// Marks a connection as having just answered (see `checkout`).
fn answered(conn: &mut PooledConn) {
    r2d2::PooledConnection::extensions_mut(conn).insert(Answered(std::time::Instant::now()));
}

impl std::ops::Deref for Pool {
    type Target = r2d2::Pool<Manager>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// Builds the pool without connecting: a server whose database is briefly down still starts
/// answering `/healthz` and reports 503 on `/readyz` until it returns.
pub fn build_pool(url: &str, size: u32, timeout: Duration) -> Pool {
    build_pool_with_deadline(url, size, timeout, DEFAULT_DB_TIMEOUT)
}

/// `build_pool` with the deadline of one database call (`db_timeout`): a request waits at most
/// `timeout` for a connection plus `db_timeout` for the database to answer.
pub fn build_pool_with_deadline(
    url: &str,
    size: u32,
    timeout: Duration,
    db_timeout: Duration,
) -> Pool {
    let manager = Manager::with_deadline(url, timeout, db_timeout);
    let statements = manager.statements.clone();
    let inner = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .connection_timeout(timeout)
        .build_unchecked(manager.clone());
    Pool {
        inner,
        deadline: timeout + db_timeout,
        storage: Arc::default(),
        waiting: Arc::default(),
        statements,
        writer: (Backend::of_url(url) == Backend::Sqlite).then(Arc::default),
        manager,
        commits: Arc::default(),
    }
}

/// Applies every pending migration of the connection's backend.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, CommandError> {
    let failed = |e| CommandError::caused_by("the database migrations failed", e);
    let applied = match conn {
        DbConn::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map_err(failed)?,
        DbConn::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(failed)?,
    };
    Ok(applied.into_iter().map(|v| v.to_string()).collect())
}

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// On SQLite a plain (deferred) transaction that reads first and writes later fails at once with
/// SQLITE_BUSY when another writer got in between; `BEGIN IMMEDIATE` makes it wait its turn
/// (busy timeout) instead. PostgreSQL uses an ordinary transaction; callers lock rows they update.
pub fn write_tx<T, F>(conn: &mut DbConn, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T>,
{
    let result = write_tx_inner(conn, f);
    if result.is_ok() {
        COMMITTED.with(|c| c.set(true));
    }
    result
}

thread_local! {
    /// Whether the database call running on this blocking thread committed a write transaction:
    /// proof that the storage takes writes again after it was found full.
    static COMMITTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn write_tx_inner<T, F>(conn: &mut DbConn, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T>,
{
    // PostgreSQL, or a write already inside a transaction (the SQLite writer's savepoint):
    // diesel's transaction, a savepoint when nested.
    if matches!(conn, DbConn::Pg(_)) || !matches!(tx_status(conn).transaction_depth(), Ok(None)) {
        return conn.transaction(f);
    }
    if let DbConn::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    let result = f(conn);
    let DbConn::Sqlite(c) = conn else {
        unreachable!("checked above")
    };
    match result {
        Ok(v) => match AnsiTransactionManager::commit_transaction(c) {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(c);
                Err(e.into())
            }
        },
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(c)?;
            Err(e)
        }
    }
}

/// Checks a connection out of the pool and runs `f` on a blocking thread, never on an actix
/// worker. Pool exhaustion or an unreachable database becomes 503 after the pool timeout; a
/// database that stops answering (a partition, a stalled proxy: libpq then waits forever) becomes
/// 503 at the pool's deadline.
pub async fn run<T, F>(pool: &Pool, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
{
    within(pool, pool.deadline, move |conn, _| f(conn)).await
}

/// `run` inside `write_tx`: all of `f`'s changes land together or not at all. A transaction
/// whose caller was already answered 503 rolls back instead of committing.
///
/// On SQLite the transaction is the writer thread's: `f` runs in a savepoint of a transaction
/// that may hold other requests' writes too (`group_commit`), and returns once that committed.
pub async fn run_tx<T, F>(pool: &Pool, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
{
    run_tx_within(pool, pool.deadline, f).await
}

/// `run_tx` with its own deadline (what is left of the request's after an earlier call).
pub async fn run_tx_within<T, F>(pool: &Pool, limit: Duration, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
{
    if pool.groups_commits() {
        return group_commit::submit(pool, limit, f).await;
    }
    within(pool, limit, tx_unless_abandoned(f)).await
}

/// `run` for bulk work (the deadline sweep over a province) that legitimately takes longer
/// than one deadline.
pub async fn run_bulk<T, F>(pool: &Pool, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
{
    within(pool, pool.deadline * BULK_FACTOR, move |conn, _| f(conn)).await
}

/// `run_tx` for bulk work (an import) that legitimately takes longer than one deadline.
pub async fn run_tx_bulk<T, F>(pool: &Pool, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
{
    within(pool, pool.deadline * BULK_FACTOR, tx_unless_abandoned(f)).await
}

fn tx_unless_abandoned<T, F>(f: F) -> impl FnOnce(&mut DbConn, &AtomicBool) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T>,
{
    move |conn, abandoned| {
        write_tx(conn, |c| {
            let v = f(c)?;
            if abandoned.load(Ordering::Acquire) {
                return Err(timed_out());
            }
            Ok(v)
        })
    }
}

fn timed_out() -> AppError {
    AppError::unavailable("the database did not answer in time")
}

/// Runs `f` on a blocking thread with a connection, answering 503 once `limit` has passed.
///
/// The blocking thread cannot be interrupted (libpq may wait on a stalled socket until it
/// heals); it finishes on its own, sees that its caller gave up, and poisons its connection so
/// that r2d2 closes it rather than hand a connection of unknown state to the next request.
async fn within<T, F>(pool: &Pool, limit: Duration, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn, &AtomicBool) -> AppResult<T> + Send + 'static,
{
    let inner = pool.inner.clone();
    let manager = pool.manager.clone();
    let waiting = pool.waiting.clone();
    let abandoned = Arc::new(AtomicBool::new(false));
    let flag = abandoned.clone();
    let task = actix_web::web::block(move || {
        COMMITTED.with(|c| c.set(false));
        waiting.fetch_add(1, Ordering::Relaxed);
        let conn = checkout(&inner, &manager);
        waiting.fetch_sub(1, Ordering::Relaxed);
        let result = conn.map_err(AppError::from).and_then(|mut conn| {
            let result = f(&mut conn, &flag);
            if flag.load(Ordering::Acquire) {
                poison(&mut conn);
            } else if result.is_ok() {
                answered(&mut conn);
            }
            result
        });
        (result, COMMITTED.with(|c| c.get()))
    });
    match tokio::time::timeout(limit, task).await {
        Ok(done) => {
            let (result, committed) = done.map_err(AppError::from)?;
            pool.storage.observe(&result);
            if committed {
                pool.storage.succeeded();
            }
            result
        }
        Err(_) => {
            abandoned.store(true, Ordering::Release);
            tracing::warn!(
                limit_ms = limit.as_millis() as u64,
                "the database did not answer in time; its connection will be discarded"
            );
            Err(timed_out())
        }
    }
}

/// The current time as stored: UTC, microsecond precision (both backends keep microseconds, so
/// a value read back equals the one written).
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use diesel::sql_types::Text;
    use diesel::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = Text)]
        compile_options: String,
    }

    /// `.cargo/config.toml` builds SQLite without STAT4: with it, an ANALYZEd file makes SQLite
    /// re-prepare the hot statements on every execution.
    #[test]
    fn the_bundled_sqlite_has_no_stat4() {
        let mut conn = super::Manager::new(":memory:", std::time::Duration::from_secs(1))
            .open()
            .unwrap();
        let options: Vec<CompileOption> = diesel::sql_query("PRAGMA compile_options")
            .load(&mut conn)
            .unwrap();
        assert!(options.iter().any(|o| o.compile_options == "THREADSAFE=1"));
        assert!(!options.iter().any(|o| o.compile_options.contains("STAT4")));
    }
}
