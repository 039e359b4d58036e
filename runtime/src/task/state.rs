//! The task state word: lifecycle bits and the reference count in one `AtomicUsize`.
//!
//! # Bits
//!
//! | bit | name | set while |
//! |---|---|---|
//! | 0 | `RUNNING` | a thread polls the future, or cancels it; it owns the stage |
//! | 1 | `COMPLETE` | the output (or the cancellation error) is stored; never cleared |
//! | 2 | `NOTIFIED` | a `Notified` reference sits in a run queue, or a wake came while running |
//! | 3 | `CANCELLED` | the task must be cancelled at its next transition |
//! | 4 | `JOIN_INTEREST` | a `JoinHandle` exists; it will read the output |
//! | 5 | `JOIN_WAKER` | the join waker slot holds a waker the runtime may read |
//! | 6.. | refs | one per `Task`, `Notified`, `JoinHandle`, `AbortHandle` and `Waker` |
//!
//! # Invariants
//!
//! - At most one `Notified` reference exists, and only while `NOTIFIED` is set and `RUNNING`
//!   and `COMPLETE` are not — except after a shutdown took `RUNNING` from a queued task: the
//!   queue entry then fails [`State::transition_to_running`] and is dropped.
//! - The stage (future or output) is touched only by the holder of `RUNNING`, or after
//!   `COMPLETE` by the holder of `JOIN_INTEREST` (the `JoinHandle`); when `COMPLETE` is set
//!   without `JOIN_INTEREST`, the completing thread drops the output.
//! - The join waker slot is written only by the `JoinHandle`, while `JOIN_WAKER` is unset
//!   and `COMPLETE` is not set; the runtime reads it only after setting `COMPLETE` with
//!   `JOIN_WAKER` set. It is dropped with the task's memory.
//! - The memory is freed when the count reaches zero, by whoever brings it there.

use crate::loom::{AtomicUsize, Ordering};
use std::fmt;

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const CANCELLED: usize = 1 << 3;
const JOIN_INTEREST: usize = 1 << 4;
const JOIN_WAKER: usize = 1 << 5;
const REF_SHIFT: usize = 6;
const REF_ONE: usize = 1 << REF_SHIFT;
const LIFECYCLE: usize = RUNNING | COMPLETE;

/// A new task: referenced by the owned-task list, its first `Notified` and its
/// `JoinHandle`.
const INITIAL: usize = (3 * REF_ONE) | JOIN_INTEREST | NOTIFIED;

pub(crate) struct State {
    word: AtomicUsize,
}

/// A copy of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
    fn is_idle(self) -> bool {
        self.0 & LIFECYCLE == 0
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// What a `Notified` reference found when it came to run the task.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// `RUNNING` is ours: poll the future.
    Poll,
    /// `RUNNING` is ours, and the task must be cancelled instead of polled.
    Cancel,
    /// Someone else runs or finished the task (a shutdown took it): drop the reference.
    Failed,
}

/// What to do after a poll returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Idle now; the running reference was dropped and was not the last.
    Idle,
    /// Idle now, and the reference was the last: free the task.
    Dealloc,
    /// Woken while running: the running reference becomes the new `Notified`.
    Reschedule,
    /// Cancelled while running: still `RUNNING`; cancel it now.
    Cancel,
}

/// What a wake must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToNotified {
    /// Nothing: it is queued already, running (it will be requeued), or complete.
    Nothing,
    /// Submit a `Notified` reference to the scheduler.
    Submit,
    /// Nothing to run, and the consumed reference was the last: free the task.
    Dealloc,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            word: AtomicUsize::new(INITIAL),
        }
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.word.load(Ordering::Acquire))
    }

    /// Applies `f` until the compare-exchange succeeds; `f` returns the new word (or `None`
    /// to leave it) and a result.
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<usize>, R)) -> (Snapshot, R) {
        let mut cur = self.word.load(Ordering::Acquire);
        loop {
            let (next, res) = f(Snapshot(cur));
            let Some(next) = next else {
                return (Snapshot(cur), res);
            };
            match self
                .word
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return (Snapshot(cur), res),
                Err(actual) => cur = actual,
            }
        }
    }

    /// A `Notified` reference starts running the task.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|s| {
            if !s.is_idle() {
                return (None, ToRunning::Failed);
            }
            let next = (s.0 & !NOTIFIED) | RUNNING;
            let res = if s.is_cancelled() {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (Some(next), res)
        })
        .1
    }

    /// The poll returned `Pending`. Consumes the running reference unless it is kept as the
    /// new `Notified` or the task is to be cancelled.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|s| {
            debug_assert!(s.is_running());
            if s.is_cancelled() {
                return (None, ToIdle::Cancel);
            }
            let next = s.0 & !RUNNING;
            if s.is_notified() {
                (Some(next), ToIdle::Reschedule)
            } else {
                debug_assert!(s.ref_count() > 0);
                let next = next - REF_ONE;
                let res = if Snapshot(next).ref_count() == 0 {
                    ToIdle::Dealloc
                } else {
                    ToIdle::Idle
                };
                (Some(next), res)
            }
        })
        .1
    }

    /// The future finished (or was cancelled): `RUNNING` off, `COMPLETE` on. Returns the
    /// word before, which says whether a `JoinHandle` wants the output and has a waker.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.word.fetch_xor(RUNNING | COMPLETE, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// Drops `count` references after completion; `true` if the task must be freed.
    pub(crate) fn transition_to_terminal(&self, count: usize) -> bool {
        let prev = Snapshot(self.word.fetch_sub(count * REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= count);
        prev.ref_count() == count
    }

    /// A wake that consumes its reference (`Waker::wake`).
    pub(crate) fn transition_to_notified_by_val(&self) -> ToNotified {
        self.update(|s| {
            debug_assert!(s.ref_count() > 0);
            if s.is_running() {
                // The runner requeues it; the reference is not needed (the runner holds one,
                // so this is not the last).
                (Some((s.0 | NOTIFIED) - REF_ONE), ToNotified::Nothing)
            } else if s.is_complete() || s.is_notified() {
                let next = s.0 - REF_ONE;
                let res = if Snapshot(next).ref_count() == 0 {
                    ToNotified::Dealloc
                } else {
                    ToNotified::Nothing
                };
                (Some(next), res)
            } else {
                // The reference becomes the `Notified`.
                (Some(s.0 | NOTIFIED), ToNotified::Submit)
            }
        })
        .1
    }

    /// A wake that borrows its reference (`Waker::wake_by_ref`).
    pub(crate) fn transition_to_notified_by_ref(&self) -> ToNotified {
        self.update(|s| {
            if s.is_complete() || s.is_notified() {
                (None, ToNotified::Nothing)
            } else if s.is_running() {
                (Some(s.0 | NOTIFIED), ToNotified::Nothing)
            } else {
                (Some((s.0 | NOTIFIED) + REF_ONE), ToNotified::Submit)
            }
        })
        .1
    }

    /// `abort()`: marks the task cancelled. `true` if the caller must submit a new
    /// `Notified` (a reference was added for it) so that a worker cancels the task.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.update(|s| {
            if s.is_cancelled() || s.is_complete() {
                (None, false)
            } else if s.is_running() || s.is_notified() {
                // The runner, or the queued reference, will see CANCELLED.
                (Some(s.0 | CANCELLED | NOTIFIED), false)
            } else {
                (Some((s.0 | CANCELLED | NOTIFIED) + REF_ONE), true)
            }
        })
        .1
    }

    /// Runtime shutdown: marks the task cancelled and, if it is idle (even if queued),
    /// takes `RUNNING` so that the caller cancels it in place. `false`: another thread runs
    /// it (and will see `CANCELLED`), or it is complete.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|s| {
            if s.is_idle() {
                (Some(s.0 | CANCELLED | RUNNING), true)
            } else {
                (Some(s.0 | CANCELLED), false)
            }
        })
        .1
    }

    /// The `JoinHandle` is dropped before completion: the completing thread will drop the
    /// output. `Err` if the task is complete already: the caller drops it.
    pub(crate) fn unset_join_interested(&self) -> Result<(), Snapshot> {
        let (prev, ok) = self.update(|s| {
            debug_assert!(s.is_join_interested());
            if s.is_complete() {
                (None, false)
            } else {
                (Some(s.0 & !(JOIN_INTEREST | JOIN_WAKER)), true)
            }
        });
        if ok { Ok(()) } else { Err(prev) }
    }

    /// Publishes the waker the `JoinHandle` just wrote. `Err` if the task completed first:
    /// the slot is the `JoinHandle`'s again.
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        let (prev, ok) = self.update(|s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                (None, false)
            } else {
                (Some(s.0 | JOIN_WAKER), true)
            }
        });
        if ok { Ok(()) } else { Err(prev) }
    }

    /// Takes the join waker slot back before replacing the waker. `Err` if the task
    /// completed first (the runtime may be reading the slot).
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        let (prev, ok) = self.update(|s| {
            debug_assert!(s.is_join_interested() && s.is_join_waker_set());
            if s.is_complete() {
                (None, false)
            } else {
                (Some(s.0 & !JOIN_WAKER), true)
            }
        });
        if ok { Ok(()) } else { Err(prev) }
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self.word.fetch_add(REF_ONE, Ordering::Relaxed);
        // Overflowing the count would free a live task: abort as `Arc` does.
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Drops one reference; `true` if it was the last.
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.word.fetch_sub(REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= 1);
        prev.ref_count() == 1
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn initial_state_has_three_references_and_is_notified() {
        let s = State::new().load();
        assert_eq!(s.ref_count(), 3);
        assert!(s.is_notified() && s.is_join_interested());
        assert!(!s.is_running() && !s.is_complete());
    }

    #[test]
    fn wake_while_running_reschedules_after_the_poll() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_notified_by_ref(), ToNotified::Nothing);
        assert_eq!(s.transition_to_idle(), ToIdle::Reschedule);
        assert_eq!(s.load().ref_count(), 3);
    }

    #[test]
    fn abort_of_an_idle_task_submits_it_once() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_idle(), ToIdle::Idle);
        assert!(s.transition_to_notified_and_cancel());
        assert!(!s.transition_to_notified_and_cancel());
        assert_eq!(s.transition_to_running(), ToRunning::Cancel);
    }

    #[test]
    fn shutdown_takes_a_queued_task_and_its_queue_entry_then_fails() {
        let s = State::new();
        assert!(s.transition_to_shutdown());
        assert_eq!(s.transition_to_running(), ToRunning::Failed);
    }

    #[test]
    fn join_waker_cannot_be_published_after_completion() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        let prev = s.transition_to_complete();
        assert!(prev.is_join_interested() && !prev.is_join_waker_set());
        assert!(s.set_join_waker().is_err());
        assert!(s.unset_join_interested().is_err());
    }
}
