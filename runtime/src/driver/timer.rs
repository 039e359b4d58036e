//! Timer registrations: each armed timer is a one-shot `EVFILT_TIMER` knote of the core.
//!
//! A timer's slot holds its generation, whether it fired, and the waker to wake then. The
//! knote's ident *and* `udata` are the slot's key (`generation << 32 | index`), so every
//! arming is a knote of its own: a cancelled timer's deletion and a new timer in the same
//! slot never name the same knote. No descriptor is used per timer.
//!
//! The knote is armed relative: `deadline - now`, rounded up to the nanosecond, computed
//! before the change is queued. The core starts counting when it applies the change, which
//! is later, so a timer never fires before its deadline.

use super::{Handle, key, split_key, udata};
use crate::loom::{Mutex, lock};
use kq_reactor::{EV_ADD, EV_DELETE, EV_ONESHOT, EVFILT_TIMER, Kevent, NOTE_NSECONDS};
use slab::Slab;
use std::io;
use std::task::{Poll, Waker};
use std::time::Instant;

pub(crate) struct Slots {
    inner: Mutex<Inner>,
}

struct Inner {
    slab: Slab<Slot>,
    generation: u32,
    shutdown: bool,
}

struct Slot {
    generation: u32,
    fired: bool,
    waker: Option<Waker>,
}

impl Slots {
    pub(crate) fn new() -> Slots {
        Slots {
            inner: Mutex::new(Inner {
                slab: Slab::new(),
                generation: 0,
                shutdown: false,
            }),
        }
    }

    /// Arms a timer for `deadline` that wakes `waker`; returns its key, or `None` if the
    /// deadline has passed already (nothing is armed).
    pub(crate) fn register(
        &self,
        h: &Handle,
        deadline: Instant,
        waker: &Waker,
    ) -> io::Result<Option<u64>> {
        let now = Instant::now();
        let Some(wait) = deadline
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
        else {
            return Ok(None);
        };
        let key = {
            let mut inner = lock(&self.inner);
            if inner.shutdown {
                return Err(super::shutdown_error());
            }
            inner.generation = inner.generation.wrapping_add(1);
            let generation = inner.generation;
            let index = inner.slab.insert(Slot {
                generation,
                fired: false,
                waker: Some(waker.clone()),
            });
            key(index, generation)
        };
        let ns = isize::try_from(wait.as_nanos()).unwrap_or(isize::MAX);
        let change = Kevent::new(
            key as usize,
            EVFILT_TIMER,
            EV_ADD | EV_ONESHOT,
            NOTE_NSECONDS,
            ns as _,
            udata(key),
        );
        h.submit(&[change], None);
        Ok(Some(key))
    }

    /// `Ready` once the timer fired, and then the slot is freed (the key is spent);
    /// otherwise stores `waker` (if it is another one).
    ///
    /// # Panics
    ///
    /// If the runtime shut down before the timer fired.
    pub(crate) fn poll(&self, key: u64, waker: &Waker) -> Poll<()> {
        let (index, generation) = split_key(key);
        let mut inner = lock(&self.inner);
        let shutdown = inner.shutdown;
        let slot = match inner.slab.get_mut(index) {
            Some(s) if s.generation == generation => s,
            _ => {
                drop(inner);
                panic!("a kq timer was polled after its runtime shut down");
            }
        };
        if slot.fired {
            let slot = inner.slab.remove(index);
            drop(inner);
            drop(slot);
            return Poll::Ready(());
        }
        if shutdown {
            drop(inner);
            panic!("a kq timer was polled after its runtime shut down");
        }
        match &slot.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => slot.waker = Some(waker.clone()),
        }
        Poll::Pending
    }

    /// Frees the timer's slot, deleting its knote if it has not fired.
    pub(crate) fn cancel(&self, h: &Handle, key: u64) {
        let (index, generation) = split_key(key);
        let slot = {
            let mut inner = lock(&self.inner);
            match inner.slab.get(index) {
                Some(s) if s.generation == generation => Some(inner.slab.remove(index)),
                _ => None,
            }
        };
        // The waker is dropped outside the lock: its destructor may do anything.
        if let Some(slot) = slot {
            if !slot.fired {
                let change = Kevent::new(key as usize, EVFILT_TIMER, EV_DELETE, 0, 0, udata(key));
                h.submit(&[change], None);
            }
        }
    }

    /// The driver saw the timer's event.
    pub(crate) fn fire(&self, key: u64, wakers: &mut Vec<Waker>) {
        let (index, generation) = split_key(key);
        let mut inner = lock(&self.inner);
        if let Some(slot) = inner.slab.get_mut(index) {
            if slot.generation == generation {
                slot.fired = true;
                wakers.extend(slot.waker.take());
            }
        }
    }

    pub(crate) fn shutdown(&self, wakers: &mut Vec<Waker>) {
        let mut inner = lock(&self.inner);
        inner.shutdown = true;
        wakers.extend(inner.slab.iter_mut().filter_map(|(_, s)| s.waker.take()));
    }

    /// Timers armed and not yet cancelled or consumed.
    pub(crate) fn len(&self) -> usize {
        lock(&self.inner).slab.len()
    }
}
