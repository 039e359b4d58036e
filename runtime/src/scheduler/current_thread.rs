//! The current-thread scheduler: tasks run on the thread that calls `block_on`.
//!
//! # Who touches what
//!
//! - The `Core` (the local run queue) and the `Driver` sit in the handle while nobody runs
//!   the scheduler. `block_on` takes both: the core goes into the thread's context so that
//!   wakers running on this thread push to it; the driver stays with `block_on`, which
//!   turns it between batches of tasks and when it has nothing to do.
//! - Wakes from other threads go to the injection queue and unpark the driver (an
//!   `EVFILT_USER` trigger if `block_on` waits in `kevent`).
//! - A second thread calling `block_on` while the core is taken waits for the core or for
//!   its own future, whichever comes first.
//!
//! # Shutdown order
//!
//! On drop: `shutdown` is set; the local and injection queues are emptied and closed;
//! the owned-task list is closed and every task cancelled (futures dropped, `JoinHandle`s
//! get a cancellation error); the blocking pool shuts down; the driver fails its
//! registrations, and the kqueue closes with the last handle to it.

use super::inject::Inject;
use super::multi_thread::WorkerMetrics;
use crate::driver::{self, Driver};
use crate::loom::{AtomicBool, AtomicUsize, Condvar, Mutex, Ordering, lock};
use crate::runtime::{blocking, coop};
use crate::task::list::OwnedTasks;
use crate::task::{Id, JoinHandle, Notified, Schedule, Task};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Tasks run between two turns of the driver (tokio's default too).
const EVENT_INTERVAL: u32 = 61;
/// Every this many tasks, the injection queue goes first.
const GLOBAL_INTERVAL: u32 = 31;

pub(crate) struct Handle {
    inject: Inject<Notified<Arc<Handle>>>,
    owned: OwnedTasks<Arc<Handle>>,
    pub(crate) driver: Arc<driver::Handle>,
    pub(crate) blocking: blocking::Spawner,
    parked: Mutex<Option<(Core, Driver)>>,
    core_returned: Condvar,
    /// Threads waiting on `core_returned`: a wake-up notifies only if there are any (a
    /// `notify_all` is a system call even with nobody to wake).
    core_waiters: AtomicUsize,
    shutdown: AtomicBool,
    pub(crate) metrics: super::multi_thread::WorkerMetrics,
}

struct Core {
    queue: VecDeque<Notified<Arc<Handle>>>,
    tick: u32,
}

struct CoreContext {
    handle: Arc<Handle>,
    core: RefCell<Core>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<CoreContext>>> = const { RefCell::new(None) };
}

impl Handle {
    pub(crate) fn new(
        driver: Driver,
        handle: Arc<driver::Handle>,
        blocking: blocking::Spawner,
    ) -> Arc<Handle> {
        Arc::new(Handle {
            inject: Inject::new(),
            owned: OwnedTasks::new(),
            driver: handle,
            blocking,
            parked: Mutex::new(Some((
                Core {
                    queue: VecDeque::new(),
                    tick: 0,
                },
                driver,
            ))),
            core_returned: Condvar::new(),
            core_waiters: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            metrics: Default::default(),
        })
    }

    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F, id: Id) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (join, notified) = self.owned.bind(future, self.clone(), id);
        if let Some(task) = notified {
            self.schedule(task);
        }
        join
    }

    pub(crate) fn num_alive_tasks(&self) -> usize {
        self.owned.len()
    }

    pub(crate) fn spawned_tasks(&self) -> u64 {
        self.owned.bound()
    }

    pub(crate) fn injection_queue_depth(&self) -> usize {
        self.inject.len()
    }

    /// Runs `future` to completion on this thread, running the runtime's tasks meanwhile.
    pub(crate) fn block_on<F: Future>(self: &Arc<Self>, future: F) -> F::Output {
        let mut future = pin!(future);
        let state = Arc::new(BlockOnWaker {
            handle: self.clone(),
            woken: AtomicBool::new(true),
        });
        let waker = Waker::from(state.clone());
        loop {
            let taken = lock(&self.parked).take();
            if let Some((core, driver)) = taken {
                let cx = Rc::new(CoreContext {
                    handle: self.clone(),
                    core: RefCell::new(core),
                });
                let mut guard = ReturnCore {
                    handle: self,
                    cx: Some(cx),
                    driver: Some(driver),
                    prev: None,
                };
                guard.prev = Some(CURRENT.with(|c| c.borrow_mut().replace(guard.cx().clone())));
                let (cx, driver) = guard.parts();
                return self.run(cx, driver, future.as_mut(), &state, &waker);
            }
            // Another thread runs the scheduler: wait for the core, or for our future. We
            // count as a waiter from before the poll, so a wake-up after it notifies.
            self.core_waiters.fetch_add(1, Ordering::SeqCst);
            let mut cx = Context::from_waker(&waker);
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                self.core_waiters.fetch_sub(1, Ordering::SeqCst);
                return out;
            }
            let guard = lock(&self.parked);
            if guard.is_none() {
                let _unused = self
                    .core_returned
                    .wait_timeout(guard, Duration::from_millis(10))
                    .map_err(|e| e.into_inner());
            }
            self.core_waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn run<F: Future>(
        &self,
        cx: &CoreContext,
        driver: &mut Driver,
        mut future: std::pin::Pin<&mut F>,
        block_on_waker: &BlockOnWaker,
        waker: &Waker,
    ) -> F::Output {
        let mut task_cx = Context::from_waker(waker);
        loop {
            if block_on_waker.woken.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(out) = coop::budget(|| future.as_mut().poll(&mut task_cx)) {
                    // Nothing turns this driver until the next `block_on`.
                    driver.flush_closes(&self.driver);
                    return out;
                }
            }
            let mut ran_out = false;
            for _ in 0..EVENT_INTERVAL {
                if self.shutdown.load(Ordering::Acquire) {
                    // The runtime is being dropped from another thread: nothing runs now.
                    ran_out = true;
                    break;
                }
                let task = {
                    let mut core = cx.core.borrow_mut();
                    core.tick = core.tick.wrapping_add(1);
                    if core.tick % GLOBAL_INTERVAL == 0 {
                        self.inject.pop().or_else(|| core.queue.pop_front())
                    } else {
                        core.queue.pop_front().or_else(|| self.inject.pop())
                    }
                };
                let Some(task) = task else {
                    ran_out = true;
                    break;
                };
                WorkerMetrics::bump(&self.metrics.polls);
                task.run();
                if block_on_waker.woken.load(Ordering::Acquire) {
                    break;
                }
            }
            let idle = ran_out && !block_on_waker.woken.load(Ordering::Acquire);
            if self.shutdown.load(Ordering::Acquire) {
                // The runtime was dropped while a `Handle::block_on` runs here: no driver
                // any more; only the future's own wakers can help it finish.
                if idle {
                    self.core_waiters.fetch_add(1, Ordering::SeqCst);
                    if !block_on_waker.woken.load(Ordering::SeqCst) {
                        let guard = lock(&self.parked);
                        let _unused = self
                            .core_returned
                            .wait_timeout(guard, Duration::from_millis(10))
                            .map_err(|e| e.into_inner());
                    }
                    self.core_waiters.fetch_sub(1, Ordering::SeqCst);
                }
                continue;
            }
            if idle {
                WorkerMetrics::bump(&self.metrics.parks);
                driver.turn(&self.driver, None, usize::MAX);
            } else {
                driver.turn(&self.driver, Some(Duration::ZERO), usize::MAX);
            }
        }
    }

    /// Cancels every task and shuts the drivers down (the runtime's drop).
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) {
        self.shutdown.store(true, Ordering::Release);
        self.driver.unpark();
        if let Some((core, _driver)) = lock(&self.parked).as_mut() {
            core.queue.clear();
        }
        drop(self.inject.close());
        self.owned.close_and_shutdown_all();
        self.blocking.shutdown(timeout);
        self.driver.shutdown();
    }
}

impl Schedule for Arc<Handle> {
    fn schedule(&self, task: Notified<Self>) {
        let mut slot = Some(task);
        let _ = CURRENT.try_with(|c| {
            let c = c.borrow();
            let Some(cx) = c.as_ref().filter(|cx| Arc::ptr_eq(&cx.handle, self)) else {
                return;
            };
            if let Ok(mut core) = cx.core.try_borrow_mut() {
                core.queue.extend(slot.take());
            }
        });
        if let Some(task) = slot {
            if self.inject.push(task) {
                self.driver.unpark();
            }
        }
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.release(task)
    }
}

/// Gives the core and the driver back to the handle when `block_on` ends, even by a panic
/// of its future, so that the runtime stays usable.
struct ReturnCore<'a> {
    handle: &'a Handle,
    cx: Option<Rc<CoreContext>>,
    driver: Option<Driver>,
    prev: Option<Option<Rc<CoreContext>>>,
}

impl ReturnCore<'_> {
    fn cx(&self) -> &Rc<CoreContext> {
        self.cx.as_ref().expect("present until drop")
    }

    fn parts(&mut self) -> (&CoreContext, &mut Driver) {
        (
            self.cx.as_deref().expect("present until drop"),
            self.driver.as_mut().expect("present until drop"),
        )
    }
}

impl Drop for ReturnCore<'_> {
    fn drop(&mut self) {
        let prev = self.prev.take().flatten();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
        let (Some(cx), Some(driver)) = (self.cx.take(), self.driver.take()) else {
            return;
        };
        let Ok(cx) = Rc::try_unwrap(cx) else {
            // Unreachable: the context's only other holder is the thread-local reset above.
            return;
        };
        *lock(&self.handle.parked) = Some((cx.core.into_inner(), driver));
        self.handle.core_returned.notify_one();
    }
}

struct BlockOnWaker {
    handle: Arc<Handle>,
    woken: AtomicBool,
}

impl Wake for BlockOnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::SeqCst) {
            self.handle.driver.unpark();
            if self.handle.core_waiters.load(Ordering::SeqCst) > 0 {
                self.handle.core_returned.notify_all();
            }
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("current_thread::Handle")
            .field("inject", &self.inject)
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}
