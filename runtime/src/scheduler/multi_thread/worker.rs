//! A worker thread: its loop, its `Core`, and scheduling from inside it.
//!
//! The loop: every `EVENT_INTERVAL` ticks turn the driver without waiting (if it is free);
//! take the next task (LIFO slot, own queue, a batch of the injection queue — and the
//! injection queue first every `GLOBAL_INTERVAL` ticks, so it cannot starve); else steal
//! half of another worker's queue; else park (see `park.rs` and `idle.rs`).
//!
//! A task woken by the task running on this worker goes to the LIFO slot and runs next
//! (message passing stays hot in cache); the slot's previous task goes to the queue, where
//! other workers can steal it. At most `MAX_LIFO_POLLS` LIFO tasks run in a row, so two
//! tasks pinging each other cannot starve the queue.
//!
//! # Helping
//!
//! A driver turn wakes a sleeping worker only if it queued at least `HELP_BATCH` tasks
//! (besides the LIFO slot); a smaller batch is run where it was delivered. Waking a worker
//! costs both threads a system call and a context switch, and moves the tasks and their
//! sockets to another core's cache — more than a handful of I/O tasks repays. (On the c10k
//! benchmark's row of 10 active connections among 10,000 idle ones, waking a worker for
//! every batch, as tokio does, kept two workers at tokio's round trips/s; keeping small
//! batches took them to about a single-threaded epoll loop's.)
//!
//! A kept batch must not wait behind a poll that runs long while another core idles, so a
//! sleeping worker *watches*: it parks with a timeout and, each time it wakes, looks at the
//! other workers. A queue that holds tasks and has not moved since the last look is
//! stalled, and so is a worker that has been up all that time without starting a poll
//! (it is inside one, and not turning the driver): the watcher gets up, steals, or parks
//! afresh and takes the driver. The interval is `WATCH_MIN` while the watcher sees queued
//! tasks or a running worker and doubles while it sees neither, up to `WATCH_MAX`; past
//! that the watcher sleeps until woken, and a worker keeping a batch with no watcher left
//! wakes one, as for a large batch (the hand-over is in `idle.rs`). A task kept behind a
//! poll that never yields thus waits about one interval plus `WATCH_MIN`: under load about
//! 2 ms, after a quiet spell at most `WATCH_MAX + WATCH_MIN`. An idle runtime makes no
//! timed wake-ups once its watchers have stopped.
//!
//! A watcher back from a look leaves the driver to the running worker (it takes it when it
//! parks), so that the two do not trade places every interval.

use super::{Handle, Remote, WorkerMetrics};
use crate::loom::Ordering;
use crate::runtime::context;
use crate::scheduler::Handle as SchedulerHandle;
use crate::scheduler::park::Parker;
use crate::scheduler::queue::Local;
use crate::task::Notified;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

const EVENT_INTERVAL: u32 = 61;
const GLOBAL_INTERVAL: u32 = 31;
const MAX_LIFO_POLLS: usize = 3;
/// A driver turn that queues fewer tasks keeps them (see "Helping").
const HELP_BATCH: usize = 16;
/// A watcher's interval while it sees queued tasks or a running worker (see "Helping").
const WATCH_MIN: Duration = Duration::from_millis(1);
/// A watcher's longest interval; beyond it, it stops watching.
const WATCH_MAX: Duration = Duration::from_millis(128);

type Task = Notified<Arc<Handle>>;

struct Core {
    /// The worker is delivering events (a driver turn): hold the notifications of other
    /// workers until the turn is over, then send one.
    in_turn: bool,
    lifo: Option<Task>,
    queue: Local<Task>,
    tick: u32,
    searching: bool,
    rand: u32,
    /// Per worker, as of this worker's last look while watching (see "Helping"): where its
    /// queue stood if it held tasks, and its poll count.
    seen: Box<[(Option<u32>, u64)]>,
}

/// What a watcher saw of the other workers, from nothing to do to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Others {
    /// No queued task, no poll started since the last look.
    Quiet,
    /// Queued tasks that moved, or polls started.
    Busy,
    /// Queued tasks that did not move, or a worker up without starting a poll.
    Stalled,
}

struct WorkerContext {
    handle: Arc<Handle>,
    index: usize,
    core: RefCell<Core>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<WorkerContext>>> = const { RefCell::new(None) };
}

/// Schedules `task` on the current worker if this thread is one of `handle`'s workers;
/// gives it back otherwise.
pub(super) fn schedule_local(handle: &Arc<Handle>, task: Task, is_yield: bool) -> Result<(), Task> {
    let mut slot = Some(task);
    let notify = CURRENT.try_with(|c| {
        let c = c.borrow();
        let cx = c.as_ref().filter(|cx| Arc::ptr_eq(&cx.handle, handle))?;
        let mut core = cx.core.try_borrow_mut().ok()?;
        let task = slot.take()?;
        let held = core.in_turn;
        let notify = if is_yield {
            core.queue
                .push_back_or_overflow(task, &handle.shared.inject);
            true
        } else {
            match core.lifo.replace(task) {
                Some(prev) => {
                    core.queue
                        .push_back_or_overflow(prev, &handle.shared.inject);
                    true
                }
                None => false,
            }
        };
        Some(notify && !held)
    });
    match (notify, slot) {
        (Ok(Some(notify)), _) => {
            if notify {
                handle.notify_parked();
            }
            Ok(())
        }
        (_, Some(task)) => Err(task),
        (_, None) => unreachable!("the task is either queued or given back"),
    }
}

/// Starts the worker threads.
///
/// # Errors
///
/// The error of spawning a thread (the threads started so far are told to stop).
pub(crate) fn launch(
    handle: &Arc<Handle>,
    locals: Vec<Local<Task>>,
) -> io::Result<Vec<std::thread::JoinHandle<()>>> {
    let mut threads = Vec::with_capacity(locals.len());
    for (index, queue) in locals.into_iter().enumerate() {
        let h = handle.clone();
        let builder = std::thread::Builder::new().name(handle.config.thread_name());
        let builder = match handle.config.thread_stack_size {
            Some(size) => builder.stack_size(size),
            None => builder,
        };
        match builder.spawn(move || run(h, index, queue)) {
            Ok(t) => threads.push(t),
            Err(e) => {
                handle.begin_shutdown();
                for t in threads {
                    let _ = t.join();
                }
                return Err(e);
            }
        }
    }
    Ok(threads)
}

fn run(handle: Arc<Handle>, index: usize, queue: Local<Task>) {
    let _enter = context::set_current(SchedulerHandle::MultiThread(handle.clone()));
    // A worker drives the runtime: `block_on` here would stall it.
    let _in_runtime = context::enter_runtime();
    let seed = (index as u32).wrapping_mul(0x9e37_79b9) | 1;
    let workers = handle.shared.remotes.len();
    let cx = Rc::new(WorkerContext {
        handle,
        index,
        core: RefCell::new(Core {
            in_turn: false,
            lifo: None,
            queue,
            tick: 0,
            searching: false,
            rand: seed,
            seen: vec![(None, 0); workers].into_boxed_slice(),
        }),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(cx.clone()));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            // Drops the core: queued references are released; the tasks stay owned.
            let _ = CURRENT.try_with(|c| c.borrow_mut().take());
        }
    }
    let _reset = Reset;
    cx.run_loop();
}

impl WorkerContext {
    fn shared(&self) -> &super::Shared {
        &self.handle.shared
    }

    fn remote(&self) -> &Remote {
        &self.shared().remotes[self.index]
    }

    fn run_loop(&self) {
        while !self.handle.is_shutdown() {
            let tick = {
                let mut core = self.core.borrow_mut();
                core.tick = core.tick.wrapping_add(1);
                core.tick
            };
            if tick % EVENT_INTERVAL == 0 {
                // Take only the events the local queue has room for (see `Driver::turn`).
                let room = self.core.borrow().queue.room();
                self.core.borrow_mut().in_turn = true;
                Parker::poll_driver(&self.shared().driver, &self.handle.driver, room);
                self.end_turn();
            }
            if let Some(task) = self.next_task(tick) {
                self.run_task(task);
                continue;
            }
            if let Some(task) = self.steal_work() {
                self.run_task(task);
                continue;
            }
            self.park();
        }
    }

    fn next_task(&self, tick: u32) -> Option<Task> {
        let inject = &self.shared().inject;
        let mut core = self.core.borrow_mut();
        if tick % GLOBAL_INTERVAL == 0 {
            if let Some(t) = inject.pop() {
                return Some(t);
            }
        }
        if let Some(t) = core.lifo.take() {
            return Some(t);
        }
        if let Some(t) = core.queue.pop() {
            return Some(t);
        }
        // Refill from the injection queue: a fair share, at most half a queue.
        let n = (inject.len() / self.shared().remotes.len() + 1).min(128);
        let core = &mut *core;
        let mut first = None;
        inject.pop_n(n, |t| match first {
            None => first = Some(t),
            Some(_) => core.queue.push_back_or_overflow(t, inject),
        });
        first
    }

    fn steal_work(&self) -> Option<Task> {
        let shared = self.shared();
        let mut core = self.core.borrow_mut();
        if !core.searching {
            if !shared.idle.transition_worker_to_searching() {
                return None;
            }
            core.searching = true;
        }
        let n = shared.remotes.len();
        core.rand ^= core.rand << 13;
        core.rand ^= core.rand >> 17;
        core.rand ^= core.rand << 5;
        let start = core.rand as usize % n;
        for i in 0..n {
            let j = (start + i) % n;
            if j == self.index {
                continue;
            }
            if let Some(t) = shared.remotes[j].steal.steal_into(&mut core.queue) {
                WorkerMetrics::bump(&shared.metrics[self.index].steals);
                return Some(t);
            }
        }
        shared.inject.pop()
    }

    fn run_task(&self, task: Task) {
        let was_last_searcher = {
            let mut core = self.core.borrow_mut();
            std::mem::replace(&mut core.searching, false)
                && self.shared().idle.transition_worker_from_searching()
        };
        if was_last_searcher {
            // Work may be piling up: let one more worker look.
            self.handle.notify_parked();
        }
        let metrics = &self.shared().metrics[self.index];
        WorkerMetrics::bump(&metrics.polls);
        task.run();
        for _ in 0..MAX_LIFO_POLLS {
            let Some(next) = self.core.borrow_mut().lifo.take() else {
                return;
            };
            WorkerMetrics::bump(&metrics.polls);
            next.run();
        }
        // Enough LIFO in a row: the next one waits its turn in the queue.
        let mut core = self.core.borrow_mut();
        if let Some(next) = core.lifo.take() {
            core.queue
                .push_back_or_overflow(next, &self.shared().inject);
            drop(core);
            self.handle.notify_parked();
        }
    }

    /// After a driver turn: at most one notification, instead of one per woken task — if
    /// the turn queued a batch worth sharing, or any at all with no watcher to notice a
    /// stall (see "Helping").
    fn end_turn(&self) {
        let queued = {
            let mut core = self.core.borrow_mut();
            core.in_turn = false;
            core.queue.len()
        };
        if queued >= HELP_BATCH || (queued > 0 && !self.shared().idle.has_watcher()) {
            self.handle.notify_parked();
        }
    }

    /// A watcher's look at the other workers (see "Helping"). `on_driver`: this worker
    /// waits on the driver, so events reach it whatever the others do.
    fn look_at_others(&self, on_driver: bool) -> Others {
        let shared = self.shared();
        let mut core = self.core.borrow_mut();
        let mut out = Others::Quiet;
        for (j, r) in shared.remotes.iter().enumerate() {
            if j == self.index {
                continue;
            }
            let queued = (!r.steal.is_empty()).then(|| r.steal.position());
            let polls = shared.metrics[j].polls.load(Ordering::Relaxed);
            let (seen_queued, seen_polls) = core.seen[j];
            let running = polls != seen_polls;
            // Tasks that did not move since the last look, or a worker up all that time
            // without starting a poll: inside one that runs long, not turning the driver.
            let stalled = (queued.is_some() && queued == seen_queued)
                || (!running && !on_driver && !shared.idle.is_parked(j));
            let seen = if stalled {
                Others::Stalled
            } else if queued.is_some() || running {
                Others::Busy
            } else {
                Others::Quiet
            };
            out = out.max(seen);
            core.seen[j] = (queued, polls);
        }
        out
    }

    fn has_local_work(&self) -> bool {
        let core = self.core.borrow();
        core.lifo.is_some() || core.queue.has_tasks()
    }

    fn park(&self) {
        if self.has_local_work() {
            return;
        }
        let shared = self.shared();
        let searching = std::mem::replace(&mut self.core.borrow_mut().searching, false);
        if shared
            .idle
            .transition_worker_to_parked(self.index, searching)
        {
            // The last searcher: nobody else will notice work that came meanwhile.
            let work =
                !shared.inject.is_empty() || shared.remotes.iter().any(|r| !r.steal.is_empty());
            if work {
                self.handle.notify_parked();
            }
        }
        let mut watch = Some(WATCH_MIN);
        let mut on_driver = true;
        self.look_at_others(on_driver);
        loop {
            WorkerMetrics::bump(&shared.metrics[self.index].parks);
            let room = {
                // A turn in `park` delivers events too: one notification for all, at the
                // end (`end_turn`), not one per woken task.
                let mut core = self.core.borrow_mut();
                core.in_turn = true;
                core.queue.room()
            };
            if watch.is_some() {
                shared.idle.start_watching();
            }
            // A watcher back from a look leaves the driver to the worker that is running,
            // if one is (it takes the driver when it parks): the two do not trade places
            // every interval, and the running one keeps its sockets' cache. It keeps the
            // driver if it had it, and takes it if all the others sleep.
            let try_driver = on_driver || shared.idle.all_parked();
            on_driver = self.remote().parker.park(
                &shared.driver,
                &self.handle.driver,
                room,
                watch,
                try_driver,
            );
            if watch.is_some() {
                shared.idle.stop_watching();
            }
            if self.handle.is_shutdown() {
                self.core.borrow_mut().in_turn = false;
                return;
            }
            if !shared.idle.is_parked(self.index) {
                // Woken by `worker_to_notify`: we count as searching.
                self.core.borrow_mut().searching = true;
                self.end_turn();
                return;
            }
            // Woken by an event (or spuriously): go back to work if there is any.
            if self.has_local_work() || !shared.inject.is_empty() {
                if !shared.idle.unpark_worker_by_id(self.index) {
                    // A notifier took us off the list meanwhile and counted us as
                    // searching: be that searcher, or the count never comes down and no
                    // sleeping worker is woken again.
                    self.core.borrow_mut().searching = true;
                }
                // Off the list first: a notification must not pick this worker.
                self.end_turn();
                return;
            }
            self.core.borrow_mut().in_turn = false;
            let Some(interval) = watch else {
                continue;
            };
            watch = match self.look_at_others(on_driver) {
                Others::Stalled => {
                    // Get up, as a worker woken by an event: steal, or park afresh and take
                    // the driver.
                    if !shared.idle.unpark_worker_by_id(self.index) {
                        self.core.borrow_mut().searching = true;
                    }
                    return;
                }
                Others::Busy => Some(WATCH_MIN),
                // Looked after `stop_watching`: a batch kept since saw no watcher.
                Others::Quiet => Some(interval * 2).filter(|&next| next <= WATCH_MAX),
            };
        }
    }
}
