//! Group commit for SQLite: the server's write transactions queue in the process and one writer
//! thread commits those that arrived together in one transaction, each in its own savepoint.
//!
//! Why: SQLite has one writer at a time. Before, each write request took a pool connection and
//! slept in SQLite's busy handler (1, 2, 5 … 100 ms naps) until the lock came free, so under a
//! burst of reports the p99 was seconds and the order was a lottery; and every report committed
//! alone, writing the same index pages to the WAL again and again. Here writers wait in a FIFO
//! queue instead, and a commit of many reports writes each page it dirtied once.
//!
//! The guarantees of one transaction per request stay:
//! - each write runs in a savepoint; one that fails (or panics) is rolled back alone and the
//!   others of its batch still commit;
//! - a request is answered only after the COMMIT that holds its changes returned, so every
//!   acknowledged write survives kill -9 (WAL; `synchronous = NORMAL` as before);
//! - a failed COMMIT (a full disk) fails every write of the batch with its error;
//! - a write whose caller was answered 503 while it waited is skipped, or rolled back to its
//!   savepoint when the deadline passed while it ran, never committed behind a 503.
//!
//! The writer's connection is its own (not the pool's), opened by the pool's `Manager` with the
//! same settings and statement counting. Other processes (the `firegrid` commands) and bulk work
//! on pool connections (imports, the sweeps) still take the write lock in SQLite's usual way.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::ManageConnection;

use super::{timed_out, DbConn, Manager, Pool};
use crate::error::{AppError, AppResult};

/// At most this many writes share one transaction, so that a long queue still commits (and
/// answers) in steps rather than all at the end.
const MAX_BATCH: usize = 128;

/// What the writer thread has done, for `/metrics` and for tests that check batching.
#[derive(Debug, Default)]
pub struct Stats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Writes those commits held (writes / commits = the mean batch).
    pub writes: AtomicU64,
    /// Writes waiting in the queue right now.
    pub queued: AtomicUsize,
}

/// The queue's sending end. Dropping the last `Pool` clone drops it, and the thread ends.
pub(super) struct Writer {
    queue: mpsc::Sender<Box<dyn Write>>,
    stats: Arc<Stats>,
}

impl Writer {
    pub(super) fn start(manager: Manager, stats: Arc<Stats>) -> AppResult<Writer> {
        let (queue, jobs) = mpsc::channel();
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("firegrid-sqlite-writer".into())
            .spawn(move || work(manager, jobs, &thread_stats))
            .map_err(|e| AppError::internal("could not start the SQLite writer").caused_by(e))?;
        Ok(Writer { queue, stats })
    }
}

/// One queued write, its result kept until the commit that holds it is known.
trait Write: Send {
    /// Runs the change (inside its savepoint); true when it is to be kept.
    fn run(&mut self, conn: &mut DbConn) -> bool;
    /// Whether the caller was already answered 503.
    fn abandoned(&self) -> bool;
    /// The write's own error, once it ran and failed.
    fn error(&self) -> Option<&AppError>;
    /// Answers the caller: `failure` is why its change was not kept, if it succeeded itself.
    fn answer(self: Box<Self>, failure: Option<&AppError>);
}

struct Pending<T, F> {
    change: Option<F>,
    result: Option<AppResult<T>>,
    reply: tokio::sync::oneshot::Sender<AppResult<T>>,
    abandoned: Arc<AtomicBool>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send,
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send,
{
    fn run(&mut self, conn: &mut DbConn) -> bool {
        let Some(change) = self.change.take() else {
            return false;
        };
        let result = change(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    fn error(&self) -> Option<&AppError> {
        self.result.as_ref().and_then(|r| r.as_ref().err())
    }

    fn answer(self: Box<Self>, failure: Option<&AppError>) {
        let result = match (self.result, failure) {
            (Some(Err(e)), _) => Err(e),
            (_, Some(e)) => Err(copy(e)),
            (Some(Ok(v)), None) => Ok(v),
            (None, None) => Err(AppError::internal("the write panicked")),
        };
        // The caller may have gone (503 at its deadline): nobody to answer.
        let _ = self.reply.send(result);
    }
}

/// One batch's failure for each of its writes (AppError is not `Clone`: its source is a boxed
/// error). The source's text is kept for the log.
fn copy(e: &AppError) -> AppError {
    let mut out = AppError::new(e.code, e.detail.clone());
    out.status = e.status;
    out.errors = e.errors.clone();
    out.retry_after_secs = e.retry_after_secs;
    if let Some(source) = &e.source {
        out = out.caused_by(source.to_string());
    }
    out
}

/// Queues `change` for the writer thread and waits (at most `limit`) for the commit that holds
/// it.
pub(super) async fn submit<T, F>(pool: &Pool, limit: Duration, change: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
{
    let writer = pool.writer()?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    let abandoned = Arc::new(AtomicBool::new(false));
    let job = Pending {
        change: Some(change),
        result: None,
        reply,
        abandoned: abandoned.clone(),
    };
    writer.stats.queued.fetch_add(1, Ordering::Relaxed);
    if writer.queue.send(Box::new(job)).is_err() {
        writer.stats.queued.fetch_sub(1, Ordering::Relaxed);
        return Err(AppError::internal("the SQLite writer has stopped"));
    }
    match tokio::time::timeout(limit, answer).await {
        Ok(Ok(result)) => {
            pool.storage.observe(&result);
            if result.is_ok() {
                pool.storage.succeeded();
            }
            result
        }
        Ok(Err(_)) => Err(AppError::internal("the SQLite writer dropped a write")),
        Err(_) => {
            abandoned.store(true, Ordering::Release);
            tracing::warn!(
                limit_ms = limit.as_millis() as u64,
                "a write waited past its deadline in the SQLite queue; it will not be committed"
            );
            Err(timed_out())
        }
    }
}

/// The writer thread: takes the first waiting write, then everything queued behind it (up to
/// `MAX_BATCH`), and commits them together.
fn work(manager: Manager, jobs: mpsc::Receiver<Box<dyn Write>>, stats: &Stats) {
    let mut conn: Option<DbConn> = None;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats.queued.fetch_sub(batch.len(), Ordering::Relaxed);
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match manager.connect() {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "the SQLite writer could not open its connection");
                    let e = AppError::unavailable("the database cannot be opened right now")
                        .caused_by(e);
                    batch.into_iter().for_each(|job| job.answer(Some(&e)));
                    continue;
                }
            },
        };
        commit(c, batch, stats);
        // A connection left inside a transaction or with a broken transaction manager (a failed
        // rollback) is not trusted with the next batch.
        if !matches!(super::tx_status(c).transaction_depth(), Ok(None)) {
            conn = None;
        }
    }
}

/// One batch in one transaction. Answers every write, after counting the commit in `stats` (so
/// that a caller who has its answer also sees its commit counted).
fn commit(conn: &mut DbConn, batch: Vec<Box<dyn Write>>, stats: &Stats) {
    if let Err(e) = AnsiTransactionManager::begin_transaction_sql(sqlite(conn), "BEGIN IMMEDIATE") {
        let e = AppError::from(e);
        batch.into_iter().for_each(|job| job.answer(Some(&e)));
        return;
    }
    let mut done: Vec<(Box<dyn Write>, Option<AppError>)> = Vec::with_capacity(batch.len());
    let mut kept = 0;
    for mut job in batch {
        if job.abandoned() {
            done.push((job, Some(timed_out())));
            continue;
        }
        match in_savepoint(conn, job.as_mut()) {
            Ok(None) => {
                kept += 1;
                done.push((job, None));
            }
            Ok(Some(why)) => done.push((job, Some(why))),
            Err(e) => {
                // A savepoint could not be released or rolled back: SQLite itself rolls the whole
                // transaction back after some errors (a full disk, I/O), and then nothing of it
                // can be trusted. Roll back what is left and fail every write of the batch, with
                // the error that caused it where there is one (a full disk is a 503, not a 500).
                let _ = AnsiTransactionManager::rollback_transaction(sqlite(conn));
                let cause = job.error().map(copy).unwrap_or(e);
                done.push((job, None));
                done.into_iter()
                    .for_each(|(job, _)| job.answer(Some(&cause)));
                return;
            }
        }
    }
    let committed = AnsiTransactionManager::commit_transaction(sqlite(conn));
    match committed {
        Ok(()) => {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.writes.fetch_add(kept, Ordering::Relaxed);
            done.into_iter()
                .for_each(|(job, why)| job.answer(why.as_ref()));
        }
        Err(e) => {
            let _ = AnsiTransactionManager::rollback_transaction(sqlite(conn));
            let e = AppError::from(e);
            done.into_iter().for_each(|(job, _)| job.answer(Some(&e)));
        }
    }
}

/// Runs one write in its own savepoint. `Ok(None)`: released, to be committed. `Ok(Some(why))`:
/// rolled back to the savepoint, because the write failed or panicked (it answers with its own
/// error; `why` covers the panic) or because its caller gave up while it ran. `Err`: the
/// savepoint itself could not be released or rolled back.
fn in_savepoint(conn: &mut DbConn, job: &mut dyn Write) -> AppResult<Option<AppError>> {
    AnsiTransactionManager::begin_transaction(sqlite(conn))?;
    let ran = catch_unwind(AssertUnwindSafe(|| job.run(conn)));
    // A panic may have left savepoints of the write's own open: back to this write's.
    while matches!(super::tx_status(conn).transaction_depth(), Ok(Some(d)) if d.get() > 2) {
        AnsiTransactionManager::rollback_transaction(sqlite(conn))?;
    }
    let why = match ran {
        Ok(true) if !job.abandoned() => {
            AnsiTransactionManager::commit_transaction(sqlite(conn))?;
            return Ok(None);
        }
        Ok(true) => timed_out(),
        Ok(false) => AppError::internal("the write failed"),
        Err(_) => AppError::internal("the write panicked"),
    };
    AnsiTransactionManager::rollback_transaction(sqlite(conn))?;
    Ok(Some(why))
}

fn sqlite(conn: &mut DbConn) -> &mut diesel::SqliteConnection {
    match conn {
        DbConn::Sqlite(c) => c,
        DbConn::Pg(_) => unreachable!("group commit is for SQLite only"),
    }
}
