//! `Handle`: a cloneable reference to a runtime, for spawning from anywhere.

use super::context;
use super::metrics::RuntimeMetrics;
use crate::scheduler;
use crate::task::{Id, JoinHandle};
use std::fmt;
use std::future::Future;

/// A handle to a runtime: spawns tasks on it and enters its context, from any thread.
///
/// # Examples
///
/// ```
/// let rt = kq_runtime::runtime::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let t = std::thread::spawn(move || handle.block_on(async { 7 }));
/// assert_eq!(t.join().unwrap(), 7);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: scheduler::Handle,
}

/// The flavor of a runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeFlavor {
    /// Every task runs on the thread in `block_on`.
    CurrentThread,
    /// Work-stealing worker threads.
    MultiThread,
}

impl Handle {
    /// The handle of the runtime this thread is in.
    ///
    /// # Panics
    ///
    /// Outside a runtime: in a plain thread, or after the runtime was dropped. Use
    /// [`try_current`](Handle::try_current) to get an error instead.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }

    /// The handle of the runtime this thread is in.
    ///
    /// # Errors
    ///
    /// [`TryCurrentError`] outside a runtime.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::with_current(|h| Handle { inner: h.clone() })
    }

    /// Spawns a task on this runtime (see [`crate::spawn`]).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn(future, Id::next())
    }

    /// Runs `f` on this runtime's blocking pool (see [`crate::task::spawn_blocking`]).
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.inner.blocking().spawn(f)
    }

    /// Runs `future` to completion on this thread, inside this runtime's context.
    ///
    /// On a multi-thread runtime the workers run the spawned tasks meanwhile; on a
    /// current-thread runtime this thread runs them, unless another thread already does.
    ///
    /// # Panics
    ///
    /// When called from inside a runtime (a task, or another `block_on`): blocking there
    /// would stall the runtime.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let Some(_in_runtime) = context::enter_runtime() else {
            panic!("{}", context::NESTED_BLOCK_ON);
        };
        let _current = context::set_current(self.inner.clone());
        match &self.inner {
            scheduler::Handle::MultiThread(_) => super::park::block_on_thread(future),
            scheduler::Handle::CurrentThread(h) => h.block_on(future),
        }
    }

    /// Makes this runtime the current one until the guard is dropped, so that
    /// [`crate::spawn`] and the I/O and time types work on this thread.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _guard: context::set_current(self.inner.clone()),
            _handle: std::marker::PhantomData,
        }
    }

    /// The runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics {
            handle: self.inner.clone(),
        }
    }

    /// The flavor of the runtime.
    pub fn runtime_flavor(&self) -> RuntimeFlavor {
        match self.inner {
            scheduler::Handle::MultiThread(_) => RuntimeFlavor::MultiThread,
            scheduler::Handle::CurrentThread(_) => RuntimeFlavor::CurrentThread,
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("flavor", &self.runtime_flavor())
            .finish_non_exhaustive()
    }
}

/// Keeps a runtime current on this thread (see [`Handle::enter`]).
#[derive(Debug)]
#[must_use = "the runtime is current only while the guard lives"]
pub struct EnterGuard<'a> {
    _guard: context::SetCurrentGuard,
    _handle: std::marker::PhantomData<&'a Handle>,
}

/// There is no current runtime.
#[derive(Debug)]
pub struct TryCurrentError {
    destroyed: bool,
}

impl TryCurrentError {
    pub(crate) fn no_context() -> TryCurrentError {
        TryCurrentError { destroyed: false }
    }

    pub(crate) fn thread_local_destroyed() -> TryCurrentError {
        TryCurrentError { destroyed: true }
    }

    /// No runtime was entered on this thread.
    pub fn is_missing_context(&self) -> bool {
        !self.destroyed
    }

    /// The thread is exiting and its runtime context is gone.
    pub fn is_thread_local_destroyed(&self) -> bool {
        self.destroyed
    }
}

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.destroyed {
            f.write_str(
                "the kq runtime context is being destroyed with its thread; \
                 no runtime is available here",
            )
        } else {
            f.write_str(
                "there is no kq runtime here: this must be called from the context of a kq \
                 runtime (inside `#[kq::main]`, `Runtime::block_on`, a spawned task, or while \
                 a `Handle::enter` guard lives)",
            )
        }
    }
}

impl std::error::Error for TryCurrentError {}
