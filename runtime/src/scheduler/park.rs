//! Parking an idle worker: on the driver if it is free, else on a condition variable.
//!
//! # Protocol
//!
//! Each worker has a [`Parker`] whose state is one of `EMPTY`, `PARKED_CONDVAR`,
//! `PARKED_DRIVER` and `NOTIFIED`.
//!
//! - `park` consumes a pending `NOTIFIED` and returns at once. Otherwise, if the driver is
//!   free, the worker takes it, publishes `PARKED_DRIVER` and turns it with no timeout;
//!   else it publishes `PARKED_CONDVAR` under the parker's mutex and waits.
//! - `unpark` swaps in `NOTIFIED` and wakes what the old state names: the condition
//!   variable (after taking the mutex, so the waiter cannot miss it between its check and
//!   its wait), or the driver, through [`driver::Handle::unpark`] — an `EVFILT_USER`
//!   trigger, or, if the worker has not reached `kevent` yet, a flag that keeps its turn
//!   from blocking. No wakeup is lost in either window.
//! - A park may carry a timeout (a worker watching the others' queues, see
//!   `multi_thread/worker.rs`): `kevent`'s, or the condition variable's.
//! - Leaving `park` resets the state to `EMPTY`; a notification that raced with the wakeup
//!   (or the timeout) is consumed with it (the worker looks for work next anyway).

use crate::driver::{self, Driver};
use crate::loom::{AtomicUsize, Condvar, Mutex, Ordering, lock};
use std::fmt;
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

pub(crate) struct Parker {
    state: AtomicUsize,
    mutex: Mutex<()>,
    cv: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            mutex: Mutex::new(()),
            cv: Condvar::new(),
        }
    }

    /// Blocks until [`unpark`](Parker::unpark), or `timeout` if given (or, when on the
    /// driver, until an event; then at most `max_events` are taken). The driver is tried
    /// only if `try_driver`. Returns whether it waited on the driver.
    pub(crate) fn park(
        &self,
        drv: &Mutex<Driver>,
        handle: &driver::Handle,
        max_events: usize,
        timeout: Option<Duration>,
        try_driver: bool,
    ) -> bool {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return false;
        }
        if let Some(mut d) = try_driver.then(|| drv.try_lock().ok()).flatten() {
            if self
                .state
                .compare_exchange(EMPTY, PARKED_DRIVER, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // Notified meanwhile.
                self.state.store(EMPTY, Ordering::Release);
                return false;
            }
            d.turn(handle, timeout, max_events);
            self.state.store(EMPTY, Ordering::Release);
            return true;
        }
        let mut guard = lock(&self.mutex);
        if self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            self.state.store(EMPTY, Ordering::Release);
            return false;
        }
        loop {
            let timed_out = match timeout {
                None => {
                    guard = self.cv.wait(guard).unwrap_or_else(|e| e.into_inner());
                    false
                }
                Some(t) => {
                    let (g, res) = self
                        .cv
                        .wait_timeout(guard, t)
                        .unwrap_or_else(|e| e.into_inner());
                    guard = g;
                    res.timed_out()
                }
            };
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return false;
            }
            if timed_out {
                // An unpark racing with the timeout is consumed with it, as on every way
                // out (the worker looks for work next anyway).
                self.state.store(EMPTY, Ordering::Release);
                return false;
            }
            // Spurious wakeup: wait again.
        }
    }

    /// Turns the driver without blocking, if it is free (the workers' regular check for
    /// I/O and timers while they have tasks to run).
    pub(crate) fn poll_driver(drv: &Mutex<Driver>, handle: &driver::Handle, max_events: usize) {
        if let Ok(mut d) = drv.try_lock() {
            d.turn(handle, Some(Duration::ZERO), max_events);
        }
    }

    /// Wakes the worker if it parks, or makes its next `park` return at once.
    pub(crate) fn unpark(&self, handle: &driver::Handle) {
        match self.state.swap(NOTIFIED, Ordering::AcqRel) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the mutex orders this with the waiter's check-then-wait.
                drop(lock(&self.mutex));
                self.cv.notify_one();
            }
            PARKED_DRIVER => handle.unpark(),
            other => unreachable!("parker state {other}"),
        }
    }
}

impl fmt::Debug for Parker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parker")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! The condition-variable path only: on the driver path `park` blocks in a real
    //! `kevent`, which loom cannot schedule around (the driver's own hand-off is modelled
    //! in `driver/changes.rs`).

    use super::*;
    use crate::loom::{Arc, thread};

    struct Worker {
        parker: Parker,
        driver: Mutex<Driver>,
        handle: driver::Handle,
    }

    fn worker() -> Arc<Worker> {
        let (driver, handle) = Driver::new().expect("a kqueue for the driver");
        Arc::new(Worker {
            parker: Parker::new(),
            driver: Mutex::new(driver),
            handle,
        })
    }

    /// Another worker holds the driver, so `park` takes the condition variable; an
    /// `unpark` racing with any step of it ends the park (a lost wakeup would leave the
    /// parked thread blocked: loom reports a deadlock), and the parker is empty after.
    #[test]
    fn unpark_ends_a_condvar_park() {
        loom::model(|| {
            let w = worker();
            let busy = lock(&w.driver);
            let unparker = {
                let w = w.clone();
                thread::spawn(move || w.parker.unpark(&w.handle))
            };
            w.parker.park(&w.driver, &w.handle, 1, None, true);
            unparker.join().unwrap();
            drop(busy);
            assert_eq!(w.parker.state.load(Ordering::Relaxed), EMPTY);
        });
    }

    /// An `unpark` that happened before `park` makes it return at once, consumed.
    #[test]
    fn notified_before_park_returns_at_once() {
        loom::model(|| {
            let w = worker();
            // Busy, so that a missed notification shows as a wait that never ends.
            let busy = lock(&w.driver);
            let unparker = {
                let w = w.clone();
                thread::spawn(move || w.parker.unpark(&w.handle))
            };
            unparker.join().unwrap();
            w.parker.park(&w.driver, &w.handle, 1, None, true);
            drop(busy);
            assert_eq!(w.parker.state.load(Ordering::Relaxed), EMPTY);
        });
    }
}
