//! `RuntimeMetrics`: counters of the scheduler and the driver.

use crate::loom::{AtomicU64, Ordering};
use crate::scheduler;
use crate::scheduler::multi_thread::WorkerMetrics;
use std::fmt;

/// A view of a runtime's counters. Each call reads the current value.
///
/// The driver counters prove its main claim: one `kevent` call per loop turn. Every call
/// is either a turn's ([`driver_turns`](RuntimeMetrics::driver_turns)), a change applied
/// directly because the waiting thread carried none
/// ([`direct_applies`](RuntimeMetrics::direct_applies)), or an `EVFILT_USER` trigger
/// waking the waiter ([`wake_triggers`](RuntimeMetrics::wake_triggers)), so
/// `kevent_calls == driver_turns + direct_applies + wake_triggers`.
#[derive(Clone)]
pub struct RuntimeMetrics {
    pub(crate) handle: scheduler::Handle,
}

impl RuntimeMetrics {
    /// Worker threads (1 for a current-thread runtime).
    pub fn num_workers(&self) -> usize {
        match &self.handle {
            scheduler::Handle::MultiThread(h) => h.num_workers(),
            scheduler::Handle::CurrentThread(_) => 1,
        }
    }

    /// Tasks spawned so far (not counting blocking ones).
    pub fn spawned_tasks_count(&self) -> u64 {
        match &self.handle {
            scheduler::Handle::MultiThread(h) => h.spawned_tasks(),
            scheduler::Handle::CurrentThread(h) => h.spawned_tasks(),
        }
    }

    /// Tasks spawned and not yet finished.
    pub fn num_alive_tasks(&self) -> usize {
        match &self.handle {
            scheduler::Handle::MultiThread(h) => h.num_alive_tasks(),
            scheduler::Handle::CurrentThread(h) => h.num_alive_tasks(),
        }
    }

    /// Tasks waiting in the injection queue.
    pub fn global_queue_depth(&self) -> usize {
        match &self.handle {
            scheduler::Handle::MultiThread(h) => h.injection_queue_depth(),
            scheduler::Handle::CurrentThread(h) => h.injection_queue_depth(),
        }
    }

    /// Successful steals of half a queue by one worker from another.
    pub fn steal_count(&self) -> u64 {
        self.sum(|m| &m.steals)
    }

    /// Task polls.
    pub fn poll_count(&self) -> u64 {
        self.sum(|m| &m.polls)
    }

    /// Times a worker parked (waited on the driver or its condition variable).
    pub fn park_count(&self) -> u64 {
        self.sum(|m| &m.parks)
    }

    /// Times a sleeping worker was woken to help with queued work (0 on a current-thread
    /// runtime). A driver turn that queues only a few tasks keeps them and wakes nobody.
    pub fn worker_notify_count(&self) -> u64 {
        match &self.handle {
            scheduler::Handle::MultiThread(h) => h.notified_workers(),
            scheduler::Handle::CurrentThread(_) => 0,
        }
    }

    /// Turns of the driver's loop: each is exactly one `kevent` call.
    pub fn driver_turns(&self) -> u64 {
        self.handle.driver().metrics.turns.load(Ordering::Relaxed)
    }

    /// All `kevent` calls the runtime made.
    pub fn kevent_calls(&self) -> u64 {
        self.handle
            .driver()
            .metrics
            .kevent_calls
            .load(Ordering::Relaxed)
    }

    /// Changes (knote additions and deletions) submitted.
    pub fn changes_submitted(&self) -> u64 {
        self.handle.driver().metrics.changes.load(Ordering::Relaxed)
    }

    /// Events delivered by the kqueue.
    pub fn events_delivered(&self) -> u64 {
        self.handle.driver().metrics.events.load(Ordering::Relaxed)
    }

    /// `kevent` calls that applied changes made while another thread waited in `kevent`
    /// with nothing of its own in flight.
    pub fn direct_applies(&self) -> u64 {
        self.handle
            .driver()
            .metrics
            .direct_applies
            .load(Ordering::Relaxed)
    }

    /// `EVFILT_USER` triggers that woke the thread waiting in `kevent`.
    pub fn wake_triggers(&self) -> u64 {
        self.handle
            .driver()
            .metrics
            .triggers
            .load(Ordering::Relaxed)
    }

    /// I/O sources registered now.
    pub fn io_registrations(&self) -> usize {
        self.handle.driver().io.len()
    }

    /// Timers armed now.
    pub fn active_timers(&self) -> usize {
        self.handle.driver().timers.len()
    }

    /// Threads of the blocking pool alive now.
    pub fn num_blocking_threads(&self) -> usize {
        self.handle.blocking().num_threads()
    }

    fn sum(&self, field: impl Fn(&WorkerMetrics) -> &AtomicU64) -> u64 {
        match &self.handle {
            scheduler::Handle::MultiThread(h) => WorkerMetrics::sum(h.worker_metrics(), field),
            scheduler::Handle::CurrentThread(h) => {
                WorkerMetrics::sum(std::slice::from_ref(&h.metrics), field)
            }
        }
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("workers", &self.num_workers())
            .field("spawned", &self.spawned_tasks_count())
            .field("steals", &self.steal_count())
            .field("driver_turns", &self.driver_turns())
            .field("kevent_calls", &self.kevent_calls())
            .field("changes", &self.changes_submitted())
            .field("events", &self.events_delivered())
            .finish()
    }
}
