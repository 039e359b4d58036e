//! The list of a scheduler's live tasks, so that shutdown can cancel every one.
//!
//! It holds one reference per task (a [`Task`]), in slabs behind a few mutexes chosen by
//! the task id, so spawns on different workers rarely meet on one lock. A task leaves the
//! list when it completes (`Schedule::release`). `close_and_shutdown_all` closes the list
//! — a task bound afterwards is cancelled at once — and cancels what is left.

use super::raw::RawTask;
use super::{Id, JoinHandle, Notified, Schedule, Task};
use crate::loom::{Mutex, lock};
use slab::Slab;
use std::fmt;
use std::future::Future;

#[cfg(not(loom))]
const SHARDS: usize = 16;
#[cfg(loom)]
const SHARDS: usize = 2;

pub(crate) struct OwnedTasks<S: 'static> {
    shards: Box<[Mutex<Shard<S>>]>,
}

struct Shard<S: 'static> {
    tasks: Slab<Task<S>>,
    closed: bool,
    /// Tasks ever bound here (counted under the lock the bind takes anyway).
    bound: u64,
}

impl<S: Schedule> OwnedTasks<S> {
    pub(crate) fn new() -> OwnedTasks<S> {
        OwnedTasks {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        tasks: Slab::new(),
                        closed: false,
                        bound: 0,
                    })
                })
                .collect(),
        }
    }

    fn shard(&self, id: Id) -> &Mutex<Shard<S>> {
        &self.shards[(id.as_u64() as usize) % SHARDS]
    }

    /// Creates a task of a `Send` future and adds it to the list.
    pub(crate) fn bind<F>(
        &self,
        future: F,
        scheduler: S,
        id: Id,
    ) -> (JoinHandle<F::Output>, Option<Notified<S>>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.bind_inner(future, scheduler, id)
    }

    /// Creates a task of a future that may be `!Send`.
    ///
    /// # Safety
    ///
    /// The scheduler `S` must poll and drop the task only on the thread that binds it.
    pub(crate) unsafe fn bind_local<F>(
        &self,
        future: F,
        scheduler: S,
        id: Id,
    ) -> (JoinHandle<F::Output>, Option<Notified<S>>)
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.bind_inner(future, scheduler, id)
    }

    fn bind_inner<F>(
        &self,
        future: F,
        scheduler: S,
        id: Id,
    ) -> (JoinHandle<F::Output>, Option<Notified<S>>)
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let raw = RawTask::new(future, scheduler, id);
        // SAFETY: a new task has three references: the join handle, the first `Notified`
        // and the list's `Task` each own one.
        let (join, notified) = unsafe { (JoinHandle::new(raw.alias()), raw.alias()) };
        // SAFETY: as above.
        let task = unsafe { Task::from_raw(raw) };
        // SAFETY: as above.
        let notified = unsafe { Task::<S>::from_raw(notified) }.into_notified();
        let mut shard = lock(self.shard(id));
        shard.bound += 1;
        if shard.closed {
            drop(shard);
            // Spawned after shutdown began: cancelled at once. Its queue entry is dropped.
            task.into_raw().shutdown();
            drop(notified);
            return (join, None);
        }
        let entry = shard.tasks.vacant_entry();
        let index = entry.key();
        // SAFETY: the task is not published yet; the index is read only under this lock.
        task.header()
            .owner_index
            .with_mut(|p| unsafe { *p = index });
        entry.insert(task);
        (join, Some(notified))
    }

    /// Removes a completing task; returns the list's reference if it was still there.
    pub(crate) fn release(&self, task: &Task<S>) -> Option<Task<S>> {
        let header = task.header();
        let mut shard = lock(self.shard(header.id));
        // SAFETY: written before publication, under this lock.
        let index = header.owner_index.with(|p| unsafe { *p });
        let same = shard
            .tasks
            .get(index)
            .is_some_and(|t| std::ptr::eq(t.header(), header));
        if !same {
            return None;
        }
        Some(shard.tasks.remove(index))
    }

    /// Closes the list and cancels every task in it (their futures are dropped here).
    pub(crate) fn close_and_shutdown_all(&self) {
        for shard in self.shards.iter() {
            lock(shard).closed = true;
        }
        loop {
            let mut all = Vec::new();
            for shard in self.shards.iter() {
                let mut shard = lock(shard);
                all.extend(shard.tasks.drain());
            }
            if all.is_empty() {
                break;
            }
            for task in all {
                task.into_raw().shutdown();
            }
        }
    }

    /// Tasks bound and not yet complete (takes every shard's lock: for metrics).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).tasks.len()).sum()
    }

    /// Tasks ever bound (takes every shard's lock: for metrics).
    pub(crate) fn bound(&self) -> u64 {
        self.shards.iter().map(|s| lock(s).bound).sum()
    }
}

impl<S> fmt::Debug for OwnedTasks<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedTasks")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}
