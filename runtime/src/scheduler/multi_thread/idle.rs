//! Which workers sleep, and how many search for work.
//!
//! `state` packs the number of *searching* workers (low 16 bits) and of *unparked* workers
//! (the rest). A worker that finds its queue empty becomes searching (at most half of the
//! workers may search at once, so that stealing does not become a stampede); the last
//! searcher to find work wakes another worker, so that work spreads one worker at a time.
//! Sleepers' indices sit in `sleepers` under a lock; waking one marks it unparked and
//! searching in the same step.
//!
//! `watchers` counts the sleepers that wake now and then to look at the other workers'
//! queues (see "Helping" in `worker.rs`). A worker that keeps a small batch to itself
//! relies on one; with none, it wakes a sleeper as before. The count and the queues are
//! a store-then-load pair on each side (the keeper pushes, then reads the count; a watcher
//! that stops lowers the count, then reads the queues), each with a `SeqCst` fence, so at
//! least one of the two sees the other: no batch is left unwatched behind a long poll.

use crate::loom::{AtomicUsize, Mutex, Ordering, fence, lock};
use std::fmt;

const SEARCH_MASK: usize = 0xffff;
const UNPARK_SHIFT: usize = 16;
const UNPARK_ONE: usize = 1 << UNPARK_SHIFT;

pub(crate) struct Idle {
    state: AtomicUsize,
    watchers: AtomicUsize,
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
            watchers: AtomicUsize::new(0),
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

    /// Whether every worker is parked.
    pub(crate) fn all_parked(&self) -> bool {
        unparked(self.state.load(Ordering::SeqCst)) == 0
    }

    /// A sleeping worker starts watching the others' queues.
    pub(crate) fn start_watching(&self) {
        self.watchers.fetch_add(1, Ordering::SeqCst);
    }

    /// A watcher stops; the caller looks at the queues next (see the module docs).
    pub(crate) fn stop_watching(&self) {
        self.watchers.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Whether a sleeping worker watches the queues; the caller has just pushed to its own.
    pub(crate) fn has_watcher(&self) -> bool {
        fence(Ordering::SeqCst);
        self.watchers.load(Ordering::SeqCst) > 0
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
