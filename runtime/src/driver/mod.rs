//! The driver: the one module that calls [`Kqueue::kevent`], and the registrations whose
//! wakers its events wake.
//!
//! # Protocol
//!
//! The decisions below are made by `changes::Changes` under the `changes` lock (where a loom
//! model checks them); this module makes the `kevent` calls they call for.
//!
//! - **Changes.** A registration change (an I/O source added or removed, a timer armed or
//!   cancelled) is appended to the changelist under the `changes` lock. The next *turn*
//!   submits the whole list with its wait: one `kevent` call per turn. The list is applied in
//!   the order it was built, so a deletion and a later addition of the same ident never
//!   swap.
//! - **Turning.** Whoever holds the [`Driver`] (the worker that parks on it, or the thread in
//!   `block_on`) turns it. Before its call it takes the list and records, under the same
//!   lock, that it is `waiting` and whether it `carries` changes.
//! - **A change made while a thread waits in `kevent`** must not be stranded. If the waiter
//!   carries no changes, the new change is applied at once by a `kevent` call of the
//!   changing thread, under the `changes` lock: nothing can be reordered, and the core wakes
//!   the waiter if the change concerns it (an event became pending, a timer moved earlier).
//!   If the waiter does carry changes, applying directly could overtake them, so the change
//!   is queued and the waiter is woken by a trigger of the driver's `EVFILT_USER` knote
//!   (once per turn); its next turn submits it.
//! - **Unpark.** [`Handle::unpark`] wakes the waiter with the same trigger; if nobody waits
//!   yet, it leaves `wake_pending` so that the next turn does not block.
//! - **Stale events are harmless.** Each event's `udata` names a slot and its generation
//!   (`generation << 32 | index`); an event whose slot was freed, or freed and reused, finds
//!   another generation and wakes nobody. Timer idents carry the generation too, so every
//!   timer is a knote of its own.
//! - **Deferred close.** A source's descriptor is closed only after its `EV_DELETE` has been
//!   applied: the deregistration hands the descriptor to the changelist, which closes it
//!   after the call that submits the deletion. On Linux the core cannot see a `close`, and a
//!   deletion of a closed descriptor would fail (and cost a turn). A turn that carries
//!   descriptors to close does not block (zero timeout): the close must not wait for an
//!   unrelated event, or a dropped socket's peer would not see its end until then.
//!
//! # Shutdown
//!
//! [`Handle::shutdown`] marks every registration shut down and wakes its wakers; later
//! registrations fail. The kqueue closes when the last `Arc<Handle>` goes (the runtime's,
//! and those of I/O objects that outlive it).

mod changes;
pub(crate) mod io;
pub(crate) mod timer;

use crate::loom::{AtomicBool, AtomicU64, Mutex, Ordering, lock};
use changes::{Backlog, Changes, OnSubmit, OnUnpark};
use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_ERROR, EV_RECEIPT, EVFILT_TIMER, EVFILT_USER, Kevent, Kqueue, NOTE_TRIGGER,
};
use std::fmt;
use std::io as stdio;
use std::os::fd::OwnedFd;
// std's: the kqueue itself is not part of any loom model.
use std::sync::RwLock;
use std::task::Waker;
use std::time::Duration;

/// The ident of the driver's own `EVFILT_USER` knote.
const WAKE_IDENT: usize = 0;
/// Events taken per turn.
const EVENTS: usize = 1024;

/// The right to turn: held by one thread at a time.
pub(crate) struct Driver {
    events: Vec<Kevent>,
    backlog: Backlog<OwnedFd>,
    wakers: Vec<Waker>,
}

/// The shared side: the kqueue, the changelist and the registrations.
pub(crate) struct Handle {
    /// Taken (and so closed) at shutdown. A read lock per call: uncontended until then.
    kq: RwLock<Option<Kqueue>>,
    changes: Mutex<Changes<OwnedFd>>,
    pub(crate) io: io::Slots,
    pub(crate) timers: timer::Slots,
    shutdown: AtomicBool,
    pub(crate) metrics: Metrics,
}

/// Counters the runtime's metrics report.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) turns: AtomicU64,
    pub(crate) kevent_calls: AtomicU64,
    pub(crate) changes: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) direct_applies: AtomicU64,
    pub(crate) triggers: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// `generation << 32 | index`: the `udata` of a slot's knotes.
pub(crate) fn key(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | index as u64
}

pub(crate) fn split_key(key: u64) -> (usize, u32) {
    ((key & 0xffff_ffff) as usize, (key >> 32) as u32)
}

/// A key as a kevent's `udata` (an integer, never dereferenced).
pub(crate) fn udata(key: u64) -> *mut std::ffi::c_void {
    std::ptr::without_provenance_mut(key as usize)
}

/// The key an event's `udata` carries.
pub(crate) fn key_of(ev: &Kevent) -> u64 {
    ev.udata.addr() as u64
}

/// An all-zero kevent, to size eventlists.
pub(crate) fn empty() -> Kevent {
    Kevent::new(0, 0, 0, 0, 0, std::ptr::null_mut())
}

impl Driver {
    /// Creates the kqueue with the driver's wake knote.
    pub(crate) fn new() -> stdio::Result<(Driver, Handle)> {
        // The runtime's sources are EV_CLEAR and never read `data`: skip computing it.
        let kq = Kqueue::builder().edge_data(false).build()?;
        let wake = Kevent::new(WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, udata(0));
        kq.kevent(&[wake], &mut [], Some(Duration::ZERO))?;
        let driver = Driver {
            events: vec![empty(); EVENTS],
            backlog: Backlog::new(),
            wakers: Vec::new(),
        };
        let handle = Handle {
            kq: RwLock::new(Some(kq)),
            changes: Mutex::new(Changes::new()),
            io: io::Slots::new(),
            timers: timer::Slots::new(),
            shutdown: AtomicBool::new(false),
            metrics: Metrics::default(),
        };
        Ok((driver, handle))
    }

    /// One turn: submits the changelist, waits up to `timeout` for events (`None`: until
    /// one comes or [`Handle::unpark`]), and wakes the wakers of what arrived. Exactly one
    /// `kevent` call.
    ///
    /// At most `max_events` events are taken (more only to make room for an error entry per
    /// change): the caller asks for what its run queue can hold, and the rest stay queued
    /// in the kqueue, in order, for the next turn — rather than overflowing to the
    /// injection queue, where they would be overtaken by later events (the c10k tail).
    pub(crate) fn turn(&mut self, h: &Handle, timeout: Option<Duration>, max_events: usize) {
        let timeout = lock(&h.changes).begin_turn(&mut self.backlog, timeout);
        let chunk = self.backlog.chunk();
        // Room for an error entry per change, so that no change is dropped for want of it.
        if self.events.len() < chunk.len() {
            self.events.resize(chunk.len(), empty());
        }
        let n_events = max_events.clamp(1, EVENTS).max(chunk.len());
        add(&h.metrics.turns, 1);
        add(&h.metrics.kevent_calls, 1);
        add(&h.metrics.changes, chunk.len() as u64);
        let res = h.kevent(chunk, &mut self.events[..n_events], timeout);
        lock(&h.changes).end_turn();
        // The chunk is applied; descriptors whose deletions were in it close now.
        self.backlog.applied();
        // EINTR: a signal handler ran; the changes stand. Other errors (EBADF in a forked
        // child) leave nothing to deliver.
        let n = res.unwrap_or(0);
        add(&h.metrics.events, n as u64);
        let tick = h.io.next_tick();
        h.io.touch(&self.events[..n]);
        for ev in &self.events[..n] {
            if ev.flags & EV_ERROR != 0 {
                // A failed change of a source marks it; timers are validated before they
                // are queued, and the wake knote cannot fail.
                if ev.data != 0 && ev.filter != EVFILT_TIMER && ev.filter != EVFILT_USER {
                    h.io.error(ev, &mut self.wakers);
                }
                continue;
            }
            match ev.filter {
                EVFILT_USER => {}
                EVFILT_TIMER => h.timers.fire(key_of(ev), &mut self.wakers),
                _ => h.io.event(ev, tick, &mut self.wakers),
            }
        }
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }
}

impl Driver {
    /// Submits queued deletions whose descriptors wait to be closed, and closes them, with
    /// turns that do not block. For a driver about to be left unturned (the current-thread
    /// scheduler when its `block_on` returns): a dropped socket must not stay open until
    /// the runtime is driven again.
    pub(crate) fn flush_closes(&mut self, h: &Handle) {
        while self.backlog.has_closes() || lock(&h.changes).has_closes() {
            self.turn(h, Some(Duration::ZERO), EVENTS);
        }
    }
}

impl Handle {
    /// Queues `changes`; `close` is closed after they are applied.
    pub(crate) fn submit(&self, changes: &[Kevent], close: Option<OwnedFd>) {
        let mut st = lock(&self.changes);
        if self.shutdown.load(Ordering::Acquire) {
            // The kqueue is going away with its knotes; `close` is dropped (closed) here.
            return;
        }
        let (mut list, close) = match st.on_submit(changes, close) {
            // Nobody waits, or the waiter was woken already: the next turn takes them.
            OnSubmit::Queued => return,
            OnSubmit::Trigger => {
                // Applying now could overtake the waiter's changes: wake it to take ours.
                self.trigger();
                return;
            }
            // Nothing in flight to overtake: apply now, in order, while holding the lock.
            OnSubmit::ApplyNow { list, close } => (list, close),
        };
        // EV_RECEIPT gives every change an entry, so the call returns those entries
        // and never takes the events the waiter is there to collect.
        for c in &mut list {
            c.flags |= EV_RECEIPT;
        }
        let mut errors = vec![empty(); list.len()];
        add(&self.metrics.kevent_calls, 1);
        add(&self.metrics.direct_applies, 1);
        add(&self.metrics.changes, list.len() as u64);
        let n = self
            .kevent(&list, &mut errors, Some(Duration::ZERO))
            .unwrap_or(0);
        drop(close);
        drop(st);
        // A failed addition marks its source (a deletion of a descriptor closed behind
        // our back has nothing to undo).
        let mut wakers = Vec::new();
        for ev in &errors[..n] {
            if ev.data != 0 && ev.filter != EVFILT_TIMER && ev.filter != EVFILT_USER {
                self.io.error(ev, &mut wakers);
            }
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Wakes the thread waiting in `kevent`, or makes the next turn not wait.
    pub(crate) fn unpark(&self) {
        let mut st = lock(&self.changes);
        if st.on_unpark() == OnUnpark::Trigger {
            self.trigger();
        }
    }

    /// Triggers the wake knote; called with the `changes` lock held, once per turn.
    fn trigger(&self) {
        add(&self.metrics.kevent_calls, 1);
        add(&self.metrics.triggers, 1);
        let ev = Kevent::new(WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, udata(0));
        // Cannot fail: the knote exists for the kqueue's life.
        let _ = self.kevent(&[ev], &mut [], Some(Duration::ZERO));
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Fails every registration and wakes its wakers (runtime shutdown).
    pub(crate) fn shutdown(&self) {
        {
            let mut st = lock(&self.changes);
            self.shutdown.store(true, Ordering::Release);
            st.discard();
        }
        let mut wakers = Vec::new();
        self.io.shutdown(&mut wakers);
        self.timers.shutdown(&mut wakers);
        for w in wakers {
            w.wake();
        }
        // Close the kqueue (and every knote with it). The runtime's threads have stopped;
        // a `Handle::block_on` still turning elsewhere gets the shutdown error from now on.
        let kq = self.kq.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(kq);
    }

    /// `Kqueue::kevent`, or the shutdown error once the kqueue is closed.
    fn kevent(
        &self,
        changes: &[Kevent],
        events: &mut [Kevent],
        timeout: Option<Duration>,
    ) -> stdio::Result<usize> {
        match &*self.kq.read().unwrap_or_else(|e| e.into_inner()) {
            Some(kq) => kq.kevent(changes, events, timeout),
            None => Err(shutdown_error()),
        }
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("driver::Handle")
            .field("kq", &*self.kq.read().unwrap_or_else(|e| e.into_inner()))
            .field("shutdown", &self.is_shutdown())
            .finish_non_exhaustive()
    }
}

/// The error of a registration on a runtime that shut down.
pub(crate) fn shutdown_error() -> stdio::Error {
    stdio::Error::other("the kq runtime was shut down")
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::io::Interest;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;

    /// A turn takes at most the events asked for; the rest wait in the kqueue, in order,
    /// for the next turns.
    #[test]
    fn a_turn_takes_at_most_max_events_and_leaves_the_rest_queued() {
        let (mut driver, handle) = Driver::new().unwrap();
        let handle = Arc::new(handle);
        let pairs: Vec<_> = (0..10).map(|_| UnixStream::pair().unwrap()).collect();
        let regs: Vec<_> = pairs
            .iter()
            .map(|(a, _)| {
                io::Registration::new(handle.clone(), a.as_raw_fd(), Interest::READABLE).unwrap()
            })
            .collect();
        driver.turn(&handle, Some(Duration::ZERO), EVENTS);
        for (_, peer) in &pairs {
            (&*peer).write_all(b"x").unwrap();
        }
        let events = || handle.metrics.events.load(Ordering::Relaxed);
        let before = events();
        driver.turn(&handle, Some(Duration::ZERO), 3);
        assert_eq!(events() - before, 3);
        driver.turn(&handle, Some(Duration::ZERO), 3);
        assert_eq!(events() - before, 6);
        driver.turn(&handle, Some(Duration::ZERO), EVENTS);
        assert_eq!(events() - before, 10, "the other four, each once");
        drop(regs);
    }
}
