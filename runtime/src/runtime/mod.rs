//! The runtime: `Runtime`, `Builder`, `Handle`, and metrics.
//!
//! A [`Runtime`] owns a scheduler (multi-thread or current-thread), the driver between the
//! kqueue-model core and the tasks' wakers, and a blocking pool. Dropping it shuts all of
//! them down in a fixed order, documented in each scheduler's module: workers stop, every
//! task is cancelled (its destructor runs, its `JoinHandle` reports the cancellation), the
//! blocking pool drains, the driver fails its registrations and the kqueue closes.

pub(crate) mod blocking;
mod builder;
pub(crate) mod context;
pub(crate) mod coop;
mod handle;
mod metrics;
pub(crate) mod park;

pub use builder::Builder;
pub(crate) use builder::{Config, Kind};
pub use handle::{EnterGuard, Handle, RuntimeFlavor, TryCurrentError};
pub use metrics::RuntimeMetrics;

use crate::driver::Driver;
use crate::loom::{Mutex, lock};
use crate::scheduler::{self, current_thread, multi_thread};
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Names a runtime's threads.
pub(crate) type ThreadNameFn = Arc<dyn Fn() -> String + Send + Sync + 'static>;

/// A kq runtime: a scheduler, its driver and its blocking pool.
///
/// # Examples
///
/// ```
/// use kq_runtime::runtime::Runtime;
///
/// let rt = Runtime::new().unwrap();
/// let out = rt.block_on(async {
///     let t = kq_runtime::spawn(async { "hello" });
///     t.await.unwrap()
/// });
/// assert_eq!(out, "hello");
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    done: bool,
}

impl Runtime {
    /// A multi-thread runtime with default settings (`Builder::new_multi_thread()`).
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().enable_all().build()
    }

    pub(crate) fn build(
        kind: Kind,
        config: Config,
        max_blocking: usize,
        keep_alive: Duration,
    ) -> io::Result<Runtime> {
        let (driver, driver_handle) = Driver::new()?;
        let driver_handle = Arc::new(driver_handle);
        let blocking = blocking::Spawner::new(
            max_blocking,
            keep_alive,
            config.thread_name.clone(),
            config.thread_stack_size,
        );
        let (inner, threads) = match kind {
            Kind::CurrentThread => {
                let h = current_thread::Handle::new(driver, driver_handle, blocking.clone());
                (scheduler::Handle::CurrentThread(h), Vec::new())
            }
            Kind::MultiThread => {
                let (h, locals) =
                    multi_thread::create(config, driver, driver_handle, blocking.clone());
                blocking.set_runtime(scheduler::Handle::MultiThread(h.clone()));
                let threads = match multi_thread::launch(&h, locals) {
                    Ok(t) => t,
                    Err(e) => {
                        h.finish_shutdown(None);
                        return Err(e);
                    }
                };
                (scheduler::Handle::MultiThread(h), threads)
            }
        };
        blocking.set_runtime(inner.clone());
        Ok(Runtime {
            handle: Handle { inner },
            threads: Mutex::new(threads),
            done: false,
        })
    }

    /// Runs `future` to completion on this thread (see [`Handle::block_on`]).
    ///
    /// # Panics
    ///
    /// When called from inside a runtime.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task on this runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on this runtime's blocking pool.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this runtime current on this thread until the guard drops.
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// The runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts down, waiting at most `timeout` for worker threads and blocking closures that
    /// are still running (they are detached after it). Every task is cancelled.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// Shuts down without waiting for running blocking closures.
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    fn shutdown(&mut self, timeout: Option<Duration>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        // One deadline for the whole shutdown: threads, then blocking closures.
        let deadline = timeout.map(|t| Instant::now() + t);
        // Destructors of tasks may use the runtime (deregister I/O, spawn): keep it current.
        let _current = context::set_current(self.handle.inner.clone());
        match &self.handle.inner {
            scheduler::Handle::MultiThread(h) => {
                h.begin_shutdown();
                let threads = std::mem::take(&mut *lock(&self.threads));
                join_all(threads, deadline);
                h.finish_shutdown(remaining(deadline));
            }
            scheduler::Handle::CurrentThread(h) => h.shutdown(remaining(deadline)),
        }
    }
}

/// The time left until `deadline` (`None`: no deadline).
fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Joins `threads`, giving up (and detaching the rest) at `deadline`. The calling thread is
/// skipped if it is one of them (a runtime dropped inside its own task): it leaves its loop
/// when the drop returns.
fn join_all(threads: Vec<std::thread::JoinHandle<()>>, deadline: Option<Instant>) {
    let me = std::thread::current().id();
    for t in threads {
        if t.thread().id() == me {
            continue;
        }
        match deadline {
            None => {
                let _ = t.join();
            }
            Some(d) => {
                while !t.is_finished() && Instant::now() < d {
                    std::thread::sleep(Duration::from_millis(1));
                }
                if t.is_finished() {
                    let _ = t.join();
                }
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("flavor", &self.handle.runtime_flavor())
            .finish_non_exhaustive()
    }
}
