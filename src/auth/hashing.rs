//! The argon2 workers: one OS thread per core, running at a lower scheduling priority than the
//! rest of the server.
//!
//! A hash costs ~25 ms of CPU and 19 MiB here. Run on the shared blocking threads, a burst of
//! logins took both cores from every other request for as long as it lasted (`get` p99 rose to
//! 87–123 ms while 32 clients logged in, BENCHMARKS.md). At nice 10 the kernel gives reads and
//! writes the CPU first and logins what is left, which is all of it when nothing else runs, so
//! login throughput on an idle server is unchanged.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::error::{AppError, AppResult};

type Job = Box<dyn FnOnce() + Send>;

/// The nice value of the hashing threads (0 is normal, 19 the lowest priority). At 10 a busy
/// normal thread gets ~90% of a contended core.
pub const NICE: i32 = 10;

/// A fixed set of hashing threads fed through one queue. Dropping the pool stops its threads
/// once the queue is empty.
pub struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl HashPool {
    pub fn new(threads: usize) -> HashPool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panicking job must not take the thread with it; its caller
                            // sees the dropped reply as an internal error.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawning a hashing thread");
        }
        HashPool {
            jobs: Mutex::new(tx),
        }
    }

    /// Runs `f` on a hashing thread; the caller's task waits without holding an actix worker.
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(f());
        });
        self.jobs
            .lock()
            .map_err(|_| AppError::internal("hashing queue poisoned"))?
            .send(job)
            .map_err(|_| AppError::internal("hashing threads stopped"))?;
        answer
            .await
            .map_err(|e| AppError::internal("hashing failed").caused_by(e))
    }
}

/// Lowers the calling thread's priority. On Linux the nice value belongs to the thread, so the
/// rest of the process keeps its own.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's id; failure leaves the priority as is.
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE) != 0 {
            tracing::warn!("could not lower the priority of a hashing thread");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn jobs_run_on_lower_priority_threads_and_survive_panics() {
        #[cfg(target_os = "linux")]
        // SAFETY: reads the calling thread's own nice value.
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let pool = HashPool::new(2);
        let name = pool
            .run(|| std::thread::current().name().map(String::from))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("argon2-"));
        #[cfg(target_os = "linux")]
        {
            // SAFETY: reads the calling thread's own nice value.
            let nice = pool
                .run(|| unsafe {
                    libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
                })
                .await
                .unwrap();
            assert_eq!(nice, NICE);
            // SAFETY: as above, on the test's own thread.
            let own =
                unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
            assert_eq!(own, before, "the rest of the process keeps its priority");
        }
        let e = pool.run(|| -> i32 { panic!("boom") }).await;
        assert!(e.is_err());
        // Both threads are still there after the panic.
        for _ in 0..4 {
            assert_eq!(pool.run(|| 2 + 2).await.unwrap(), 4);
        }
    }
}
