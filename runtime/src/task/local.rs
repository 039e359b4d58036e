//! `LocalSet` and `spawn_local`: tasks that are not `Send`, run on one thread.
//!
//! # Who touches what
//!
//! The set's `Context` (owned-task list, local queue) lives on the set's thread, in an
//! `Rc`; while the set runs (`run_until`, or awaiting the set) it is the thread's current
//! local set. `Shared` is what tasks store: a wake on the set's thread while it runs goes
//! to the local queue; any other wake goes to the remote queue, and wakes the task that
//! drives the set. Tasks are polled only by `run_until`/the set's future, and dropped only
//! by the set's `Drop`, both on the set's thread — the condition of `bind_local`.

use super::list::OwnedTasks;
use super::{Id, JoinHandle, Notified, Schedule, Task};
use crate::loom::{Mutex, lock};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

/// Tasks run per poll of the set before it yields to its own scheduler.
const MAX_TASKS_PER_TICK: usize = 61;

/// A set of `!Send` tasks run on the current thread, inside a runtime.
///
/// # Examples
///
/// ```
/// use kq_runtime::task::{LocalSet, spawn_local};
/// use std::rc::Rc;
///
/// let rt = kq_runtime::runtime::Builder::new_current_thread().build().unwrap();
/// let local = LocalSet::new();
/// let out = local.block_on(&rt, async {
///     let shared = Rc::new(5);
///     let s = shared.clone();
///     spawn_local(async move { *s * 2 }).await.unwrap()
/// });
/// assert_eq!(out, 10);
/// ```
pub struct LocalSet {
    context: Rc<LocalContext>,
    _not_send: PhantomData<*const ()>,
}

struct LocalContext {
    owned: OwnedTasks<Arc<Shared>>,
    queue: RefCell<VecDeque<Notified<Arc<Shared>>>>,
    shared: Arc<Shared>,
}

struct Shared {
    remote: Mutex<(VecDeque<Notified<Arc<Shared>>>, bool)>,
    waker: Mutex<Option<Waker>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<LocalContext>>> = const { RefCell::new(None) };
}

/// Spawns a `!Send` future on the current [`LocalSet`].
///
/// # Panics
///
/// Outside a running `LocalSet` (`run_until`, `block_on`, or while the set is awaited).
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let cx = CURRENT.with(|c| c.borrow().clone());
    match cx {
        Some(cx) => cx.spawn(future),
        None => panic!(
            "`spawn_local` called from outside of a `kq::task::LocalSet`: run the code with \
             `LocalSet::run_until` or `LocalSet::block_on`"
        ),
    }
}

impl LocalContext {
    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // SAFETY: this set polls and drops its tasks only on its own thread (module docs).
        let (join, notified) = unsafe {
            self.owned
                .bind_local(future, self.shared.clone(), Id::next())
        };
        if let Some(task) = notified {
            self.queue.borrow_mut().push_back(task);
            self.shared.wake();
        }
        join
    }

    /// Runs up to `MAX_TASKS_PER_TICK` tasks; `true` if some remain.
    fn tick(&self) -> bool {
        for _ in 0..MAX_TASKS_PER_TICK {
            let next = self
                .queue
                .borrow_mut()
                .pop_front()
                .or_else(|| lock(&self.shared.remote).0.pop_front());
            match next {
                Some(task) => task.run(),
                None => return false,
            }
        }
        true
    }
}

impl Shared {
    fn wake(&self) {
        if let Some(w) = lock(&self.waker).take() {
            w.wake();
        }
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified<Self>) {
        let mut slot = Some(task);
        let _ = CURRENT.try_with(|c| {
            if let Some(cx) = c
                .borrow()
                .as_ref()
                .filter(|cx| Arc::ptr_eq(&cx.shared, self))
            {
                if let Ok(mut q) = cx.queue.try_borrow_mut() {
                    q.extend(slot.take());
                }
            }
        });
        if let Some(task) = slot {
            let mut remote = lock(&self.remote);
            if remote.1 {
                // The set is gone: its tasks were cancelled; this reference is dropped.
                drop(remote);
                drop(task);
                return;
            }
            remote.0.push_back(task);
        }
        self.wake();
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        let _ = self;
        CURRENT
            .try_with(|c| c.borrow().as_ref().and_then(|cx| cx.owned.release(task)))
            .ok()
            .flatten()
    }
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> LocalSet {
        LocalSet {
            context: Rc::new(LocalContext {
                owned: OwnedTasks::new(),
                queue: RefCell::new(VecDeque::new()),
                shared: Arc::new(Shared {
                    remote: Mutex::new((VecDeque::new(), false)),
                    waker: Mutex::new(None),
                }),
            }),
            _not_send: PhantomData,
        }
    }

    /// Spawns a `!Send` task on this set. It runs when the set runs.
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.context.spawn(future)
    }

    /// Runs `future` with this set: its tasks run whenever `future` waits.
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        RunUntil {
            set: self,
            future: std::pin::pin!(future),
        }
        .await
    }

    /// Runs `future` with this set on `rt` (`rt.block_on(self.run_until(future))`).
    ///
    /// # Panics
    ///
    /// When called from inside a runtime.
    #[track_caller]
    pub fn block_on<F: Future>(&self, rt: &crate::runtime::Runtime, future: F) -> F::Output {
        rt.block_on(self.run_until(future))
    }

    fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Reset(Option<Rc<LocalContext>>);
        impl Drop for Reset {
            fn drop(&mut self) {
                let prev = self.0.take();
                let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
            }
        }
        let prev = CURRENT.with(|c| c.borrow_mut().replace(self.context.clone()));
        let _reset = Reset(prev);
        f()
    }

    /// Registers `cx`'s waker and runs a batch of tasks.
    fn poll_tasks(&self, cx: &mut TaskContext<'_>) -> bool {
        *lock(&self.context.shared.waker) = Some(cx.waker().clone());
        self.enter(|| self.context.tick())
    }
}

struct RunUntil<'a, F: Future> {
    set: &'a LocalSet,
    future: Pin<&'a mut F>,
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let set = self.set;
        set.enter(|| {
            *lock(&set.context.shared.waker) = Some(cx.waker().clone());
            if let Poll::Ready(out) = self.future.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            if set.context.tick() {
                // More tasks are ready: come back at once, after others had a turn.
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
    }
}

/// Awaiting the set runs its tasks until all have finished.
impl Future for LocalSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.poll_tasks(cx) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.context.owned.len() == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Default for LocalSet {
    fn default() -> LocalSet {
        LocalSet::new()
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        self.enter(|| {
            lock(&self.context.shared.remote).1 = true;
            self.context.owned.close_and_shutdown_all();
            self.context.queue.borrow_mut().clear();
            let remote = std::mem::take(&mut lock(&self.context.shared.remote).0);
            drop(remote);
        });
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("tasks", &self.context.owned.len())
            .finish()
    }
}
