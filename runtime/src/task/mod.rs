//! Tasks: spawning, joining, aborting, and the blocking pool.
//!
//! A task is one heap allocation (see `raw.rs`) with an atomic state word (`state.rs`).
//! The scheduler that owns a task implements `Schedule`; the handles to a task are typed
//! views of one counted pointer:
//!
//! | handle | owned by | may |
//! |---|---|---|
//! | `Task<S>` | the scheduler's owned-task list | cancel it at shutdown |
//! | `Notified<S>` | a run queue | poll it |
//! | [`JoinHandle<T>`] | the spawner | read the output, abort |
//! | [`AbortHandle`] | anyone it is given to | abort |
//! | `Waker` | the futures the task waits on | schedule it |

mod error;
mod join;
mod join_set;
pub(crate) mod list;
mod local;
#[cfg(all(test, loom))]
mod loom_tests;
pub(crate) mod raw;
pub(crate) mod state;

pub use crate::runtime::blocking::spawn_blocking;
pub use error::JoinError;
pub use join::{AbortHandle, JoinHandle};
pub use join_set::JoinSet;
pub use local::{LocalSet, spawn_local};

use raw::{Header, RawTask};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What owns and runs tasks: a scheduler's handle, stored in each of its tasks.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Queues a task to be polled.
    fn schedule(&self, task: Notified<Self>);

    /// A task completed: remove it from the owned list and return the list's reference.
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>>;

    /// Queues a task that was woken while it ran; by default like any wake.
    fn yield_now(&self, task: Notified<Self>) {
        self.schedule(task);
    }
}

/// The owned-list reference of a task.
pub(crate) struct Task<S: 'static> {
    raw: RawTask,
    _scheduler: PhantomData<S>,
}

/// The run-queue reference of a task: the right to poll it once.
pub(crate) struct Notified<S: 'static>(Task<S>);

impl<S: 'static> Task<S> {
    /// # Safety
    ///
    /// `raw`'s task must have been created with scheduler type `S`.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Task<S> {
        Task {
            raw,
            _scheduler: PhantomData,
        }
    }

    pub(crate) fn into_notified(self) -> Notified<S> {
        Notified(self)
    }

    pub(crate) fn header(&self) -> &Header {
        self.raw.header()
    }

    pub(crate) fn into_raw(self) -> RawTask {
        self.raw
    }
}

impl<S: 'static> Notified<S> {
    /// Polls the task once (or cancels it, if it was aborted).
    pub(crate) fn run(self) {
        self.0.raw.poll();
    }

    pub(crate) fn into_task(self) -> Task<S> {
        self.0
    }
}

impl<S> fmt::Debug for Task<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Task({})", self.header().id)
    }
}

impl<S> fmt::Debug for Notified<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Notified({})", self.0.header().id)
    }
}

/// A task's id: unique among the tasks of the process while it lives.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    pub(crate) fn next() -> Id {
        // std's atomic even under loom: a `static` needs a const constructor, which loom's
        // atomics lack, and a unique counter has no interleaving worth exploring.
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Id(NonZeroU64::new(n).expect("task ids do not wrap in 2^64 spawns"))
    }

    pub(crate) fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

/// Spawns a task on the current runtime.
///
/// The task starts at once on some worker; the returned [`JoinHandle`] awaits its output.
///
/// # Panics
///
/// Outside a kq runtime (see [`Handle::current`](crate::runtime::Handle::current)).
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let a = kq_runtime::spawn(async { 1 });
/// let b = kq_runtime::spawn(async { 2 });
/// assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    crate::runtime::Handle::current().spawn(future)
}

/// Yields to the scheduler: the task is requeued behind the others that are ready.
pub async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            // The task is running: this only marks it, and the scheduler requeues it at
            // the back (`Schedule::yield_now`), behind the tasks that are ready.
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await
}
