//! The cooperative budget: one busy task cannot starve I/O, timers or other tasks.
//!
//! Each poll of a task gets [`BUDGET`] units. Every kq resource that can complete without
//! waiting (a socket read, a timer, a `JoinHandle`) spends one unit when it makes progress;
//! when the budget is spent it returns `Pending` and wakes the task at once, so the task
//! goes to the back of the queue and the worker gets to poll the driver. Outside a task the
//! budget is unlimited.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Units per task poll (tokio uses the same number).
pub(crate) const BUDGET: u8 = 128;

thread_local! {
    /// `None`: unconstrained (not inside a task poll).
    static CURRENT: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs one task poll with a fresh budget, restoring the previous one after.
pub(crate) fn budget<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(Option<u8>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let prev = self.0;
            let _ = CURRENT.try_with(|c| c.set(prev));
        }
    }
    let prev = CURRENT.with(|c| c.replace(Some(BUDGET)));
    let _reset = Reset(prev);
    f()
}

/// Spends one unit, or returns `Pending` (having woken the task) when none is left. The
/// unit is given back if the returned guard is dropped without
/// [`made_progress`](RestoreOnPending::made_progress).
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    CURRENT.with(|c| match c.get() {
        None => Poll::Ready(RestoreOnPending(None)),
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            c.set(Some(n - 1));
            Poll::Ready(RestoreOnPending(Some(n)))
        }
    })
}

/// A unit spent by [`poll_proceed`], returned unless the operation made progress.
#[derive(Debug)]
pub(crate) struct RestoreOnPending(Option<u8>);

impl RestoreOnPending {
    /// The operation completed: the unit stays spent.
    pub(crate) fn made_progress(mut self) {
        self.0 = None;
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        if let Some(n) = self.0 {
            let _ = CURRENT.try_with(|c| {
                if c.get().is_some() {
                    c.set(Some(n));
                }
            });
        }
    }
}
