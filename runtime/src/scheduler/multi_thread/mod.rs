//! The work-stealing scheduler.
//!
//! # Who touches what
//!
//! - Each worker thread owns a `Core`: its LIFO slot and the owner side of its bounded
//!   queue. The `Core` lives in the thread's `WorkerContext`; only that thread borrows it,
//!   never across a task poll or a driver turn, so a waker running on the worker (inside a
//!   poll, or delivering an event) can push to it.
//! - Other workers reach a worker through its `Remote`: the stealer side of its queue and
//!   its `Parker`.
//! - Tasks scheduled from outside the workers go to the injection queue, and one sleeping
//!   worker is woken (see `idle.rs` for the searching protocol).
//! - The driver is behind a mutex that parking workers `try_lock`: one of them waits in
//!   `kevent`, the others on their condition variables (see `park.rs`). Busy workers turn
//!   it without waiting every `EVENT_INTERVAL` ticks.
//!
//! # Shutdown order
//!
//! 1. `shutdown` is set and every worker is unparked; each leaves its loop at the next
//!    check and drops its `Core` (its queued references; the tasks stay in the owned list).
//! 2. The runtime joins the worker threads (up to `shutdown_timeout`).
//! 3. The injection queue is closed and emptied.
//! 4. The owned-task list is closed and every task in it is cancelled on the dropping
//!    thread: futures are dropped, `JoinHandle`s get a cancellation error. A task spawned
//!    by a destructor here is cancelled at once.
//! 5. The blocking pool shuts down; then the driver fails its registrations and the
//!    kqueue is closed with the last handle to it.

mod idle;
mod worker;

use super::inject::Inject;
use super::park::Parker;
use super::queue::Steal;
use crate::driver::{self, Driver};
use crate::loom::{AtomicBool, AtomicU64, Mutex, Ordering};
use crate::runtime::{Config, blocking};
use crate::task::list::OwnedTasks;
use crate::task::{Id, JoinHandle, Notified, Schedule, Task};
use idle::Idle;
use std::fmt;
use std::future::Future;
use std::sync::Arc as StdArc;
use std::time::Duration;

pub(crate) use worker::launch;

/// A worker's queue, owner side.
type LocalQueue = super::queue::Local<Notified<StdArc<Handle>>>;

/// A task of this scheduler stores this to schedule itself.
pub(crate) struct Handle {
    shared: Shared,
    pub(crate) driver: StdArc<driver::Handle>,
    pub(crate) blocking: blocking::Spawner,
    config: Config,
}

struct Shared {
    remotes: Box<[Remote]>,
    inject: Inject<Notified<StdArc<Handle>>>,
    idle: Idle,
    owned: OwnedTasks<StdArc<Handle>>,
    driver: Mutex<Driver>,
    shutdown: Padded<AtomicBool>,
    metrics: Box<[WorkerMetrics]>,
    /// Sleeping workers woken to help (`notify_parked`), by any thread.
    notified: Padded<AtomicU64>,
}

struct Remote {
    steal: Steal<Notified<StdArc<Handle>>>,
    parker: Parker,
}

/// Counters of one worker. Only that worker writes them, with a load and a store (no
/// locked instruction); metrics sum them. Aligned so that workers do not share the line.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct WorkerMetrics {
    pub(crate) steals: AtomicU64,
    pub(crate) polls: AtomicU64,
    pub(crate) parks: AtomicU64,
}

impl WorkerMetrics {
    /// Adds one to a counter only the calling worker writes.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    pub(crate) fn sum(all: &[WorkerMetrics], field: impl Fn(&WorkerMetrics) -> &AtomicU64) -> u64 {
        all.iter().map(|m| field(m).load(Ordering::Relaxed)).sum()
    }
}

/// Keeps a hot flag off the cache lines that others write.
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl Handle {
    pub(crate) fn spawn<F>(self: &StdArc<Self>, future: F, id: Id) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (join, notified) = self.shared.owned.bind(future, self.clone(), id);
        if let Some(task) = notified {
            self.schedule_task(task, false);
        }
        join
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.shared.remotes.len()
    }

    pub(crate) fn worker_metrics(&self) -> &[WorkerMetrics] {
        &self.shared.metrics
    }

    pub(crate) fn spawned_tasks(&self) -> u64 {
        self.shared.owned.bound()
    }

    pub(crate) fn num_alive_tasks(&self) -> usize {
        self.shared.owned.len()
    }

    pub(crate) fn injection_queue_depth(&self) -> usize {
        self.shared.inject.len()
    }

    fn is_shutdown(&self) -> bool {
        self.shared.shutdown.0.load(Ordering::Acquire)
    }

    /// Steps 1, 3, 4 and 5 of the shutdown order (the caller joins the workers between
    /// `begin_shutdown` and `finish_shutdown`).
    pub(crate) fn begin_shutdown(&self) {
        if self.shared.shutdown.0.swap(true, Ordering::AcqRel) {
            return;
        }
        for r in self.shared.remotes.iter() {
            r.parker.unpark(&self.driver);
        }
    }

    pub(crate) fn finish_shutdown(&self, timeout: Option<Duration>) {
        drop(self.shared.inject.close());
        self.shared.owned.close_and_shutdown_all();
        self.blocking.shutdown(timeout);
        self.driver.shutdown();
    }

    pub(crate) fn notified_workers(&self) -> u64 {
        self.shared.notified.0.load(Ordering::Relaxed)
    }

    fn notify_parked(&self) {
        if let Some(index) = self.shared.idle.worker_to_notify() {
            self.shared.notified.0.fetch_add(1, Ordering::Relaxed);
            self.shared.remotes[index].parker.unpark(&self.driver);
        }
    }

    fn schedule_task(self: &StdArc<Self>, task: Notified<StdArc<Handle>>, is_yield: bool) {
        if let Err(task) = worker::schedule_local(self, task, is_yield) {
            // Not on one of our workers: inject and wake a worker.
            if self.shared.inject.push(task) {
                self.notify_parked();
            }
        }
    }
}

impl Schedule for StdArc<Handle> {
    fn schedule(&self, task: Notified<Self>) {
        self.schedule_task(task, false);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.shared.owned.release(task)
    }

    fn yield_now(&self, task: Notified<Self>) {
        self.schedule_task(task, true);
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multi_thread::Handle")
            .field("workers", &self.num_workers())
            .field("idle", &self.shared.idle)
            .field("inject", &self.shared.inject)
            .finish_non_exhaustive()
    }
}

/// The per-worker queue's stealer side, for `Arc`s built before the workers start.
fn remote_pair(n: usize) -> (Box<[Remote]>, Vec<LocalQueue>) {
    let mut remotes = Vec::with_capacity(n);
    let mut locals = Vec::with_capacity(n);
    for _ in 0..n {
        let (steal, local) = super::queue::local();
        remotes.push(Remote {
            steal,
            parker: Parker::new(),
        });
        locals.push(local);
    }
    (remotes.into_boxed_slice(), locals)
}

/// Builds the shared state (workers are started by [`launch`]).
pub(crate) fn create(
    config: Config,
    driver: Driver,
    driver_handle: StdArc<driver::Handle>,
    blocking: blocking::Spawner,
) -> (StdArc<Handle>, Vec<LocalQueue>) {
    let n = config.worker_threads;
    let (remotes, locals) = remote_pair(n);
    let handle = StdArc::new(Handle {
        shared: Shared {
            remotes,
            inject: Inject::new(),
            idle: Idle::new(n),
            owned: OwnedTasks::new(),
            driver: Mutex::new(driver),
            shutdown: Padded(AtomicBool::new(false)),
            metrics: (0..n).map(|_| WorkerMetrics::default()).collect(),
            notified: Padded(AtomicU64::new(0)),
        },
        driver: driver_handle,
        blocking,
        config,
    });
    (handle, locals)
}
