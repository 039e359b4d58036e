//! `JoinHandle` and `AbortHandle`: the spawner's side of a task.

use super::raw::RawTask;
use super::{Id, JoinError};
use crate::runtime::coop;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked or was
/// cancelled. Dropping it *detaches* the task: it keeps running, and its output is dropped
/// when it finishes. [`abort`](JoinHandle::abort) cancels it.
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let handle = kq_runtime::spawn(async { 6 * 7 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
pub struct JoinHandle<T> {
    raw: Option<RawTask>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output `T` between threads.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` can only abort and query state, which are atomic.
unsafe impl<T: Send> Sync for JoinHandle<T> {}
impl<T> UnwindSafe for JoinHandle<T> {}
impl<T> RefUnwindSafe for JoinHandle<T> {}
impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(raw: RawTask) -> JoinHandle<T> {
        JoinHandle {
            raw: Some(raw),
            _output: PhantomData,
        }
    }

    fn raw(&self) -> &RawTask {
        self.raw
            .as_ref()
            .expect("a JoinHandle has its task until dropped")
    }

    /// Cancels the task. A task that is running is cancelled when it next yields; awaiting
    /// the handle then gives a [`JoinError`] that [`is_cancelled`](JoinError::is_cancelled)
    /// (unless the task finished first).
    pub fn abort(&self) {
        self.raw().remote_abort();
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.raw().header().state.load().is_complete()
    }

    /// A handle that can abort the task without owning its output.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            raw: self.raw().clone_ref(),
        }
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.raw().header().id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let mut ret: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: `ret` has the task's output type, and this handle is its `JoinHandle`.
        unsafe {
            self.raw()
                .try_read_output((&raw mut ret).cast(), cx.waker())
        };
        if ret.is_ready() {
            coop.made_progress();
        }
        ret
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            // SAFETY: this is the task's `JoinHandle` reference.
            unsafe { raw.drop_join_handle() };
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A permission to abort a task, without its output.
pub struct AbortHandle {
    raw: RawTask,
}

impl AbortHandle {
    /// Cancels the task (see [`JoinHandle::abort`]).
    pub fn abort(&self) {
        self.raw.remote_abort();
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.raw.header().id
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}
