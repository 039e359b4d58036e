//! The thread's current runtime, for `Handle::current`, `spawn` and the I/O types.

use super::handle::TryCurrentError;
use crate::scheduler;
use std::cell::{Cell, RefCell};

thread_local! {
    static CURRENT: RefCell<Option<scheduler::Handle>> = const { RefCell::new(None) };
    /// Set while the thread runs a runtime (a worker, or `block_on`): blocking on another
    /// runtime here would stall this one.
    static IN_RUNTIME: Cell<bool> = const { Cell::new(false) };
}

/// Makes `handle` current until the guard drops (the previous one is restored).
#[must_use]
pub(crate) fn set_current(handle: scheduler::Handle) -> SetCurrentGuard {
    let prev = CURRENT.with(|c| c.borrow_mut().replace(handle));
    SetCurrentGuard { prev: Some(prev) }
}

#[derive(Debug)]
pub(crate) struct SetCurrentGuard {
    prev: Option<Option<scheduler::Handle>>,
}

impl Drop for SetCurrentGuard {
    fn drop(&mut self) {
        let prev = self.prev.take().flatten();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
    }
}

/// Runs `f` with the current handle.
pub(crate) fn with_current<R>(
    f: impl FnOnce(&scheduler::Handle) -> R,
) -> Result<R, TryCurrentError> {
    match CURRENT.try_with(|c| c.borrow().as_ref().map(f)) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(TryCurrentError::no_context()),
        Err(_) => Err(TryCurrentError::thread_local_destroyed()),
    }
}

/// Marks the thread as running a runtime; `None` if it already does.
pub(crate) fn enter_runtime() -> Option<EnterRuntimeGuard> {
    if IN_RUNTIME.with(|c| c.replace(true)) {
        None
    } else {
        Some(EnterRuntimeGuard(()))
    }
}

#[derive(Debug)]
pub(crate) struct EnterRuntimeGuard(());

impl Drop for EnterRuntimeGuard {
    fn drop(&mut self) {
        let _ = IN_RUNTIME.try_with(|c| c.set(false));
    }
}

/// The message of `block_on` inside a runtime (the same situation as tokio's).
pub(crate) const NESTED_BLOCK_ON: &str = "Cannot start a runtime from within a runtime. This happens \
    because a function (like `block_on`) attempted to block the current thread while the thread is \
    being used to drive asynchronous tasks. Spawn the future instead, or run the blocking code \
    with `kq::task::spawn_blocking`.";
