//! The blocking pool: threads for `spawn_blocking`, created on demand up to
//! `max_blocking_threads`, each leaving after `thread_keep_alive` without work.
//!
//! A blocking task is an ordinary task whose future calls the closure once. It is not in an
//! owned-task list: shutdown cancels the tasks that have not started and waits (up to the
//! shutdown timeout) for the ones that run, since a running closure cannot be interrupted.

use crate::loom::{Condvar, Mutex, lock};
use crate::scheduler;
use crate::task::raw::RawTask;
use crate::task::{Id, JoinHandle, Notified, Schedule, Task};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::ThreadNameFn;

#[derive(Clone)]
pub(crate) struct Spawner {
    pool: Arc<Pool>,
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: ThreadNameFn,
    stack_size: Option<usize>,
    /// The runtime, made current in the pool's threads. Cleared at shutdown (it would
    /// otherwise keep the runtime alive through a cycle).
    runtime: Mutex<Option<scheduler::Handle>>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Notified<BlockingSchedule>>,
    num_threads: usize,
    num_idle: usize,
    num_notify: usize,
    shutdown: bool,
    next_id: usize,
    threads: HashMap<usize, std::thread::JoinHandle<()>>,
}

/// The scheduler of blocking tasks: they never wait, so they are never woken.
#[derive(Debug)]
pub(crate) struct BlockingSchedule;

impl Schedule for BlockingSchedule {
    fn schedule(&self, task: Notified<Self>) {
        // Unreachable in practice: the closure's future never returns `Pending`, and an
        // abort of a queued task finds it NOTIFIED and does not submit it again.
        drop(task);
    }

    fn release(&self, _task: &Task<Self>) -> Option<Task<Self>> {
        None
    }
}

struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self.0.take().expect("a blocking task runs once");
        Poll::Ready(f())
    }
}

impl Spawner {
    pub(crate) fn new(
        max_threads: usize,
        keep_alive: Duration,
        thread_name: ThreadNameFn,
        stack_size: Option<usize>,
    ) -> Spawner {
        Spawner {
            pool: Arc::new(Pool {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                exited: Condvar::new(),
                max_threads,
                keep_alive,
                thread_name,
                stack_size,
                runtime: Mutex::new(None),
            }),
        }
    }

    pub(crate) fn set_runtime(&self, handle: scheduler::Handle) {
        *lock(&self.pool.runtime) = Some(handle);
    }

    pub(crate) fn spawn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let raw = RawTask::new(BlockingTask(Some(f)), BlockingSchedule, Id::next());
        // SAFETY: the three initial references: the join handle, the `Notified`, and the
        // owned-list one, which a blocking task does not use and drops here.
        let join = JoinHandle::new(unsafe { raw.alias() });
        // SAFETY: as above.
        let notified = unsafe { Task::<BlockingSchedule>::from_raw(raw.alias()) }.into_notified();
        drop(raw);
        let mut st = lock(&self.pool.state);
        if st.shutdown {
            drop(st);
            cancel(notified);
            return join;
        }
        st.queue.push_back(notified);
        if st.num_idle > st.num_notify {
            st.num_notify += 1;
            self.pool.work.notify_one();
        } else if st.num_threads < self.pool.max_threads {
            let id = st.next_id;
            st.next_id += 1;
            match self.spawn_thread(id) {
                Ok(t) => {
                    st.num_threads += 1;
                    st.threads.insert(id, t);
                }
                Err(_) if st.num_threads == 0 => {
                    // No thread can run it: cancel it rather than leave it queued forever.
                    let task = st.queue.pop_back();
                    drop(st);
                    task.into_iter().for_each(cancel);
                }
                // An existing thread will get to it.
                Err(_) => {}
            }
        }
        join
    }

    fn spawn_thread(&self, id: usize) -> std::io::Result<std::thread::JoinHandle<()>> {
        let pool = self.pool.clone();
        let mut b = std::thread::Builder::new().name((self.pool.thread_name)());
        if let Some(size) = self.pool.stack_size {
            b = b.stack_size(size);
        }
        b.spawn(move || pool.run(id))
    }

    /// Threads alive in the pool.
    pub(crate) fn num_threads(&self) -> usize {
        lock(&self.pool.state).num_threads
    }

    /// Cancels queued tasks and waits up to `timeout` (forever: `None`) for running ones.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) {
        let queued = {
            let mut st = lock(&self.pool.state);
            if st.shutdown {
                return;
            }
            st.shutdown = true;
            self.pool.work.notify_all();
            std::mem::take(&mut st.queue)
        };
        lock(&self.pool.runtime).take();
        queued.into_iter().for_each(cancel);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = lock(&self.pool.state);
        while st.num_threads > 0 {
            st = match deadline {
                None => self.pool.exited.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        // Running closures outlive the runtime; their threads are detached.
                        return;
                    }
                    self.pool
                        .exited
                        .wait_timeout(st, d - now)
                        .map_or_else(|e| e.into_inner().0, |(g, _)| g)
                }
            };
        }
        let threads: Vec<_> = st.threads.drain().map(|(_, t)| t).collect();
        drop(st);
        for t in threads {
            // The thread has left its loop; joining only reaps it.
            let _ = t.join();
        }
    }
}

fn cancel(task: Notified<BlockingSchedule>) {
    // A queued task is idle and NOTIFIED: shutdown takes it and cancels it; its queue
    // reference is dropped after.
    task.into_task().into_raw().shutdown();
}

impl Pool {
    fn run(self: Arc<Pool>, id: usize) {
        let runtime = lock(&self.runtime).clone();
        let _enter = runtime.map(crate::runtime::context::set_current);
        let mut st = lock(&self.state);
        'outer: loop {
            while let Some(task) = st.queue.pop_front() {
                drop(st);
                task.run();
                st = lock(&self.state);
            }
            if st.shutdown {
                break;
            }
            st.num_idle += 1;
            loop {
                let (guard, res) = self
                    .work
                    .wait_timeout(st, self.keep_alive)
                    .unwrap_or_else(|e| e.into_inner());
                st = guard;
                if st.num_notify > 0 {
                    st.num_notify -= 1;
                    st.num_idle -= 1;
                    continue 'outer;
                }
                if st.shutdown {
                    st.num_idle -= 1;
                    break 'outer;
                }
                if res.timed_out() {
                    st.num_idle -= 1;
                    // Idle too long: leave, unless work came in.
                    if st.queue.is_empty() {
                        if let Some(me) = st.threads.remove(&id) {
                            drop(me); // detached: this thread ends right below
                        }
                        break 'outer;
                    }
                    continue 'outer;
                }
            }
        }
        st.num_threads -= 1;
        self.exited.notify_all();
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Spawner")
            .field("max_threads", &self.pool.max_threads)
            .finish_non_exhaustive()
    }
}

/// Runs `f` on the blocking pool of the current runtime.
///
/// Use it for code that blocks (file I/O, CPU-heavy work, a blocking library): the workers
/// stay free for tasks. The returned handle awaits `f`'s result; a panic in `f` becomes a
/// [`JoinError`](crate::task::JoinError). A closure that has started cannot be aborted.
///
/// # Panics
///
/// Outside a kq runtime.
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let n = kq_runtime::task::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap();
/// assert_eq!(n, 55);
/// # });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    crate::runtime::Handle::current().spawn_blocking(f)
}
