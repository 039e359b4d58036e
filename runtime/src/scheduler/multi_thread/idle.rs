//! Which workers sleep, and how many search for work.
//!
//! `state` packs the number of *searching* workers (low 16 bits) and of *unparked* workers
//! (the rest). A worker that finds its queue empty becomes searching (at most half of the
//! workers may search at once, so that stealing does not become a stampede); the last
//! searcher to find work wakes another worker, so that work spreads one worker at a time.
//! Sleepers' indices sit in `sleepers` under a lock; waking one marks it unparked and
//! searching in the same step.

use crate::loom::{AtomicUsize, Mutex, Ordering, lock};
use std::fmt;

const SEARCH_MASK: usize = 0xffff;
const UNPARK_SHIFT: usize = 16;
const UNPARK_ONE: usize = 1 << UNPARK_SHIFT;

pub(crate) struct Idle {
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCH_MASK
}

fn unparked(state: usize) -> usize {
    state >> UNPARK_SHIFT
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        Idle {
            state: AtomicUsize::new(num_workers << UNPARK_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    /// A worker to wake for new work, if none is searching and one sleeps. The returned
    /// worker counts as unparked and searching.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.notify_should_wakeup() {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        if !self.notify_should_wakeup() {
            return None;
        }
        let index = sleepers.pop()?;
        self.state.fetch_add(UNPARK_ONE | 1, Ordering::SeqCst);
        Some(index)
    }

    fn notify_should_wakeup(&self) -> bool {
        let s = self.state.load(Ordering::SeqCst);
        searching(s) == 0 && unparked(s) < self.num_workers
    }

    /// Worker `index` goes to sleep. Returns `true` if it was the last searcher (it must
    /// then check once more for work, which nobody else will notice).
    pub(crate) fn transition_worker_to_parked(&self, index: usize, is_searching: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let dec = UNPARK_ONE + usize::from(is_searching);
        let prev = self.state.fetch_sub(dec, Ordering::SeqCst);
        sleepers.push(index);
        is_searching && searching(prev) == 1
    }

    /// `true` if the worker may start searching.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let s = self.state.load(Ordering::SeqCst);
        if 2 * searching(s) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// The worker found work. `true` if it was the last searcher (it must wake another).
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(searching(prev) > 0);
        searching(prev) == 1
    }

    /// Worker `index` woke up: if it was still listed as sleeping (an I/O event or a
    /// spurious wakeup woke it, not `worker_to_notify`), count it as unparked again.
    /// Returns `true` if it was listed.
    pub(crate) fn unpark_worker_by_id(&self, index: usize) -> bool {
        let mut sleepers = lock(&self.sleepers);
        if let Some(pos) = sleepers.iter().position(|&i| i == index) {
            sleepers.swap_remove(pos);
            self.state.fetch_add(UNPARK_ONE, Ordering::SeqCst);
            true
        } else {
            false
        }
    }

    pub(crate) fn is_parked(&self, index: usize) -> bool {
        lock(&self.sleepers).contains(&index)
    }
}

impl fmt::Debug for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.load(Ordering::Relaxed);
        f.debug_struct("Idle")
            .field("searching", &searching(s))
            .field("unparked", &unparked(s))
            .finish()
    }
}
