//! `JoinSet`: a set of tasks joined in the order they finish.

use super::{AbortHandle, JoinError, JoinHandle};
use crate::loom::{Mutex, lock};
use crate::runtime::Handle;
use slab::Slab;
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A collection of tasks spawned on the runtime, joined as they complete.
///
/// Each task is polled through a waker of its own, so finding the next finished task does
/// not poll the others: [`join_next`](JoinSet::join_next) costs O(1) per finished task.
/// Dropping the set aborts every task still in it.
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut set = kq_runtime::task::JoinSet::new();
/// for i in 0..10u64 {
///     set.spawn(async move { i * i });
/// }
/// let mut sum = 0;
/// while let Some(res) = set.join_next().await {
///     sum += res.unwrap();
/// }
/// assert_eq!(sum, 285);
/// # });
/// ```
pub struct JoinSet<T> {
    tasks: Slab<Entry<T>>,
    ready: Arc<ReadyList>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    waker: Waker,
}

/// Indices of entries that were woken (or are new), and the set's own waker.
#[derive(Default)]
struct ReadyList {
    inner: Mutex<(VecDeque<usize>, Option<Waker>)>,
}

struct EntryWaker {
    index: usize,
    list: Arc<ReadyList>,
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waker = {
            let mut inner = lock(&self.list.inner);
            inner.0.push_back(self.index);
            inner.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            tasks: Slab::new(),
            ready: Arc::new(ReadyList::default()),
        }
    }

    /// Tasks in the set.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let entry = self.tasks.vacant_entry();
        let index = entry.key();
        let waker = Waker::from(Arc::new(EntryWaker {
            index,
            list: self.ready.clone(),
        }));
        entry.insert(Entry { handle, waker });
        // New entries are polled once, to register their wakers.
        lock(&self.ready.inner).0.push_back(index);
        abort
    }

    /// Spawns `task` on the current runtime into the set.
    ///
    /// # Panics
    ///
    /// Outside a kq runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn(task))
    }

    /// Spawns `task` on the runtime of `handle` into the set.
    pub fn spawn_on<F>(&mut self, task: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn(task))
    }

    /// Runs `f` on the blocking pool, into the set.
    ///
    /// # Panics
    ///
    /// Outside a kq runtime.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(super::spawn_blocking(f))
    }

    /// Spawns a `!Send` task on the current `LocalSet` into the set.
    ///
    /// # Panics
    ///
    /// Outside a `LocalSet`.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.insert(super::spawn_local(task))
    }

    /// Waits for the next task to finish; `None` when the set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The next finished task's result, if one has finished; never waits.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        match self.poll_join_next_inner(&mut cx, false) {
            Poll::Ready(r) => r,
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished task: `Ready(None)` when the set is empty.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_inner(cx, true)
    }

    fn poll_join_next_inner(
        &mut self,
        cx: &mut Context<'_>,
        register: bool,
    ) -> Poll<Option<Result<T, JoinError>>> {
        if self.tasks.is_empty() {
            return Poll::Ready(None);
        }
        loop {
            let next = {
                let mut inner = lock(&self.ready.inner);
                match inner.0.pop_front() {
                    Some(i) => i,
                    None => {
                        if register {
                            inner.1 = Some(cx.waker().clone());
                        }
                        return Poll::Pending;
                    }
                }
            };
            let Some(entry) = self.tasks.get_mut(next) else {
                continue; // already joined or aborted-and-joined
            };
            let mut entry_cx = Context::from_waker(&entry.waker);
            if let Poll::Ready(res) = Pin::new(&mut entry.handle).poll(&mut entry_cx) {
                self.tasks.remove(next);
                return Poll::Ready(Some(res));
            }
        }
    }

    /// Aborts every task; they stay in the set until joined.
    pub fn abort_all(&mut self) {
        for (_, e) in self.tasks.iter() {
            e.handle.abort();
        }
    }

    /// Removes every task from the set without aborting them.
    pub fn detach_all(&mut self) {
        self.tasks.clear();
        lock(&self.ready.inner).0.clear();
    }

    /// Aborts every task and waits until all have stopped.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in the order they finished.
    ///
    /// # Panics
    ///
    /// If a task panicked (its panic is resumed) or was cancelled; the others are aborted.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(res) = self.join_next().await {
            match res {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("{e}"),
            }
        }
        out
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}
