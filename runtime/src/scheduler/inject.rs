//! The injection queue: tasks scheduled from outside the workers, and overflow.
//!
//! A `VecDeque` behind a mutex, with its length mirrored in an atomic so that idle workers
//! can check it without the lock. Closed at shutdown: later pushes drop the task (which
//! releases its reference; the owned-task list cancels it).

use crate::loom::{AtomicUsize, Mutex, Ordering, lock};
use std::collections::VecDeque;
use std::fmt;

pub(crate) struct Inject<T> {
    queue: Mutex<(VecDeque<T>, bool)>,
    len: AtomicUsize,
}

impl<T> Inject<T> {
    pub(crate) fn new() -> Inject<T> {
        Inject {
            queue: Mutex::new((VecDeque::new(), false)),
            len: AtomicUsize::new(0),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Pushes `task`; `false` (and the task dropped) if the queue is closed.
    pub(crate) fn push(&self, task: T) -> bool {
        let mut q = lock(&self.queue);
        if q.1 {
            drop(q);
            drop(task);
            return false;
        }
        q.0.push_back(task);
        self.len.store(q.0.len(), Ordering::Release);
        true
    }

    pub(crate) fn push_batch(&self, tasks: impl Iterator<Item = T>) {
        let mut q = lock(&self.queue);
        if q.1 {
            drop(q);
            tasks.for_each(drop);
            return;
        }
        q.0.extend(tasks);
        self.len.store(q.0.len(), Ordering::Release);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut q = lock(&self.queue);
        let t = q.0.pop_front();
        self.len.store(q.0.len(), Ordering::Release);
        t
    }

    /// Pops up to `n` tasks into `f`.
    pub(crate) fn pop_n(&self, n: usize, mut f: impl FnMut(T)) {
        if self.is_empty() {
            return;
        }
        let mut q = lock(&self.queue);
        let n = n.min(q.0.len());
        let batch: Vec<T> = q.0.drain(..n).collect();
        self.len.store(q.0.len(), Ordering::Release);
        drop(q);
        batch.into_iter().for_each(&mut f);
    }

    /// Closes the queue and returns what it held.
    pub(crate) fn close(&self) -> VecDeque<T> {
        let mut q = lock(&self.queue);
        q.1 = true;
        self.len.store(0, Ordering::Release);
        std::mem::take(&mut q.0)
    }
}

impl<T> fmt::Debug for Inject<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inject").field("len", &self.len()).finish()
    }
}
