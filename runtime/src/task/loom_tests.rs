//! loom models of the task state machine (`state.rs`) and the operations on a task's
//! allocation (`raw.rs`), through the crate's own `OwnedTasks`, `Notified`, wakers and
//! `JoinHandle`.
//!
//! Each model runs one task on a tiny scheduler (a locked `VecDeque` of `Notified`) and
//! races one or two other threads that wake, abort, join or shut it down. It checks:
//!
//! - the task is never queued twice (`schedule` asserts the queue is empty: one task per
//!   model), and is scheduled exactly as often as the model says;
//! - the future and the output are each dropped exactly once (drop counters);
//! - the allocation is freed: the task holds a clone of the scheduler's loom `Arc`, which
//!   loom reports as leaked unless the cell was dropped; a second free would drop that
//!   clone twice (and the drop counters would be off);
//! - the stage and the join waker slot are loom `UnsafeCell`s: a racy access fails.

use super::list::OwnedTasks;
use super::{Id, JoinError, JoinHandle, Notified, Schedule, Task};
use crate::loom::{Arc, AtomicBool, AtomicUsize, Mutex, Ordering, lock, thread};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The id of a model's task. Not `Id::next()`: the process-wide counter differs from one
/// execution of a model to the next, and so would the owned-list shard the task lands in,
/// which loom requires to be deterministic.
fn model_id() -> Id {
    Id(std::num::NonZeroU64::MIN)
}

struct Shared {
    queue: Mutex<VecDeque<Notified<Sched>>>,
    owned: OwnedTasks<Sched>,
    /// Calls of `Schedule::schedule` (the first `Notified` of a spawn is not one).
    scheduled: AtomicUsize,
}

#[derive(Clone)]
struct Sched(Arc<Shared>);

impl Schedule for Sched {
    fn schedule(&self, task: Notified<Self>) {
        self.0.scheduled.fetch_add(1, Ordering::Relaxed);
        let mut queue = lock(&self.0.queue);
        assert!(queue.is_empty(), "the task was queued twice");
        queue.push_back(task);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.0.owned.release(task)
    }
}

impl Sched {
    fn new() -> Sched {
        Sched(Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            owned: OwnedTasks::new(),
            scheduled: AtomicUsize::new(0),
        }))
    }

    fn spawn(&self, future: Gate) -> JoinHandle<Output> {
        let (join, notified) = self.0.owned.bind(future, self.clone(), model_id());
        lock(&self.0.queue).extend(notified);
        join
    }

    /// Runs the queued task, if any.
    fn run_one(&self) -> bool {
        let task = lock(&self.0.queue).pop_front();
        task.map(Notified::run).is_some()
    }

    fn run_all(&self) {
        while self.run_one() {}
    }

    fn scheduled(&self) -> usize {
        self.0.scheduled.load(Ordering::Relaxed)
    }

    /// The end of a model: nothing may be queued; cancels what is left (nothing, in the
    /// models that complete their task), which also breaks the cycle through the list.
    fn shutdown(&self) {
        assert!(lock(&self.0.queue).is_empty(), "a task is still queued");
        self.0.owned.close_and_shutdown_all();
        assert_eq!(self.0.owned.len(), 0);
    }
}

/// What the future and its output report.
struct Counters {
    future_drops: AtomicUsize,
    output_drops: AtomicUsize,
}

impl Counters {
    fn new() -> Arc<Counters> {
        Arc::new(Counters {
            future_drops: AtomicUsize::new(0),
            output_drops: AtomicUsize::new(0),
        })
    }

    fn assert_drops(&self, future: usize, output: usize) {
        assert_eq!(
            self.future_drops.load(Ordering::Relaxed),
            future,
            "future drops"
        );
        assert_eq!(
            self.output_drops.load(Ordering::Relaxed),
            output,
            "output drops"
        );
    }
}

/// The task's output: counts its drops.
struct Output(Arc<Counters>);

impl Drop for Output {
    fn drop(&mut self) {
        self.0.output_drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// A future that is pending until `open` is set, keeping the waker of its first poll in
/// `waker` for the model to use; counts its drops.
struct Gate {
    open: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
    counters: Arc<Counters>,
}

impl Future for Gate {
    type Output = Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        if self.open.load(Ordering::Acquire) {
            return Poll::Ready(Output(self.counters.clone()));
        }
        lock(&self.waker).get_or_insert_with(|| cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.counters.future_drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// A spawned `Gate` task after its first poll: idle, its waker in hand.
struct Setup {
    sched: Sched,
    counters: Arc<Counters>,
    open: Arc<AtomicBool>,
    join: JoinHandle<Output>,
    waker: Waker,
}

fn setup() -> Setup {
    let sched = Sched::new();
    let counters = Counters::new();
    let open = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Mutex::new(None));
    let join = sched.spawn(Gate {
        open: open.clone(),
        waker: slot.clone(),
        counters: counters.clone(),
    });
    assert!(sched.run_one());
    let waker = lock(&slot).take().expect("the first poll left its waker");
    Setup {
        sched,
        counters,
        open,
        join,
        waker,
    }
}

/// A waker that records that it was woken.
struct Flag(AtomicBool);

impl Flag {
    fn new() -> std::sync::Arc<Flag> {
        std::sync::Arc::new(Flag(AtomicBool::new(false)))
    }

    fn is_woken(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// Polls the `JoinHandle` once with `waker`.
fn poll_join(join: &mut JoinHandle<Output>, waker: &Waker) -> Poll<Result<Output, JoinError>> {
    Pin::new(join).poll(&mut Context::from_waker(waker))
}

/// A wake that races with the poll it asked for is not lost: the task is polled again
/// if that poll missed it (`ToIdle::Reschedule`, or a new `Notified` after the poll), and
/// never queued twice.
#[test]
fn wake_while_running_is_not_lost() {
    loom::model(|| {
        let Setup {
            sched,
            counters,
            open,
            mut join,
            waker,
        } = setup();
        waker.wake_by_ref();
        assert_eq!(sched.scheduled(), 1);
        let waking = thread::spawn(move || {
            open.store(true, Ordering::Release);
            waker.wake();
        });
        sched.run_one();
        waking.join().unwrap();
        // Queued again if the wake came during or after that poll and the poll missed it.
        sched.run_all();
        assert!(sched.scheduled() <= 2);
        match poll_join(&mut join, Waker::noop()) {
            Poll::Ready(Ok(out)) => drop(out),
            _ => panic!("the task did not complete: a wake was lost"),
        }
        drop(join);
        sched.shutdown();
        counters.assert_drops(1, 1);
    });
}

/// A wake that races with the poll that completes the task schedules nothing more, and
/// the waker's reference may be the last (the waker then frees the task).
#[test]
fn wake_racing_completion_schedules_nothing() {
    loom::model(|| {
        let Setup {
            sched,
            counters,
            open,
            mut join,
            waker,
        } = setup();
        open.store(true, Ordering::Release);
        waker.wake_by_ref();
        let waking = thread::spawn(move || waker.wake());
        assert!(sched.run_one());
        match poll_join(&mut join, Waker::noop()) {
            Poll::Ready(Ok(out)) => drop(out),
            _ => panic!("the task completed"),
        }
        drop(join);
        waking.join().unwrap();
        assert_eq!(sched.scheduled(), 1, "a wake scheduled a complete task");
        sched.shutdown();
        counters.assert_drops(1, 1);
    });
}

/// `abort` racing with the poll of the queued task cancels it, whether it lands before
/// the poll, during it or after it: the `JoinHandle` gets a cancellation.
#[test]
fn abort_while_scheduled_cancels() {
    loom::model(|| {
        let Setup {
            sched,
            counters,
            open: _,
            mut join,
            waker,
        } = setup();
        waker.wake_by_ref();
        let abort = join.abort_handle();
        let aborting = thread::spawn(move || abort.abort());
        assert!(sched.run_one());
        aborting.join().unwrap();
        // An abort after that poll queued the task to be cancelled.
        sched.run_all();
        assert!(sched.scheduled() <= 2);
        match poll_join(&mut join, Waker::noop()) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("the aborted task was not cancelled"),
        }
        drop(join);
        drop(waker);
        sched.shutdown();
        counters.assert_drops(1, 0);
    });
}

/// Dropping the `JoinHandle` while the task completes: the output is dropped exactly once,
/// by whichever side comes second.
#[test]
fn join_handle_dropped_during_completion() {
    loom::model(|| {
        let Setup {
            sched,
            counters,
            open,
            join,
            waker,
        } = setup();
        open.store(true, Ordering::Release);
        waker.wake_by_ref();
        drop(waker);
        let dropping = thread::spawn(move || drop(join));
        assert!(sched.run_one());
        dropping.join().unwrap();
        sched.shutdown();
        counters.assert_drops(1, 1);
    });
}

/// A join waker registered while the task completes is woken, or the poll that registers
/// it sees the output: the joiner is never left waiting.
#[test]
fn join_waker_races_completion() {
    loom::model(|| {
        let Setup {
            sched,
            counters,
            open,
            mut join,
            waker,
        } = setup();
        open.store(true, Ordering::Release);
        waker.wake_by_ref();
        drop(waker);
        let joining = thread::spawn(move || {
            let flag = Flag::new();
            let first = poll_join(&mut join, &Waker::from(flag.clone()));
            (join, first, flag)
        });
        assert!(sched.run_one());
        let (mut join, first, flag) = joining.join().unwrap();
        let out = match first {
            Poll::Ready(out) => out,
            Poll::Pending => {
                assert!(flag.is_woken(), "the join waker was not woken");
                match poll_join(&mut join, Waker::noop()) {
                    Poll::Ready(out) => out,
                    Poll::Pending => panic!("woken, yet no output"),
                }
            }
        };
        drop(out.expect("the task completed"));
        drop(join);
        sched.shutdown();
        counters.assert_drops(1, 1);
    });
}

/// Runtime shutdown (`close_and_shutdown_all`) racing with the poll of the queued task:
/// the task is cancelled exactly once, by the shutdown (which may take `RUNNING` from the
/// queued task, whose queue entry then fails to run) or by the runner that sees
/// `CANCELLED`.
#[test]
fn shutdown_races_a_queued_task() {
    loom::model(|| {
        let Setup {
            sched,
            counters,
            open: _,
            mut join,
            waker,
        } = setup();
        waker.wake_by_ref();
        drop(waker);
        let shutting = {
            let sched = sched.clone();
            thread::spawn(move || sched.0.owned.close_and_shutdown_all())
        };
        assert!(sched.run_one());
        shutting.join().unwrap();
        assert_eq!(sched.scheduled(), 1);
        match poll_join(&mut join, Waker::noop()) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("shutdown did not cancel the task"),
        }
        drop(join);
        sched.shutdown();
        counters.assert_drops(1, 0);
    });
}

/// Three references go at once: a waker wakes (by value), the `JoinHandle` is dropped,
/// and the task completes. Whoever drops the last reference frees the task, exactly once,
/// and nothing is scheduled after completion.
#[test]
fn last_reference_races() {
    loom::model(|| {
        let Setup {
            sched,
            counters,
            open,
            join,
            waker,
        } = setup();
        open.store(true, Ordering::Release);
        waker.wake_by_ref();
        let waking = thread::spawn(move || waker.wake());
        let dropping = thread::spawn(move || drop(join));
        assert!(sched.run_one());
        waking.join().unwrap();
        dropping.join().unwrap();
        assert_eq!(sched.scheduled(), 1, "a wake scheduled a complete task");
        sched.shutdown();
        counters.assert_drops(1, 1);
    });
}

/// An abort and a wake race with the poll of the queued task: the task is queued at most
/// once at a time and ends cancelled.
#[test]
fn abort_and_wake_race_a_poll() {
    loom::model(|| {
        let Setup {
            sched,
            counters,
            open: _,
            mut join,
            waker,
        } = setup();
        waker.wake_by_ref();
        let abort = join.abort_handle();
        let aborting = thread::spawn(move || abort.abort());
        let waking = thread::spawn(move || waker.wake());
        assert!(sched.run_one());
        aborting.join().unwrap();
        waking.join().unwrap();
        sched.run_all();
        match poll_join(&mut join, Waker::noop()) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("the aborted task was not cancelled"),
        }
        drop(join);
        sched.shutdown();
        counters.assert_drops(1, 0);
    });
}

/// The joiner replaces its waker (a second poll with another waker) while the task
/// completes: the waker of its last pending poll is woken.
#[test]
fn join_waker_replaced_during_completion() {
    loom::model(|| {
        let Setup {
            sched,
            counters,
            open,
            mut join,
            waker,
        } = setup();
        open.store(true, Ordering::Release);
        waker.wake_by_ref();
        drop(waker);
        let joining = thread::spawn(move || {
            let (a, b) = (Flag::new(), Flag::new());
            let mut last = None;
            for flag in [a, b] {
                match poll_join(&mut join, &Waker::from(flag.clone())) {
                    Poll::Ready(out) => return (join, Some(out), None),
                    Poll::Pending => last = Some(flag),
                }
            }
            (join, None, last)
        });
        assert!(sched.run_one());
        let (mut join, out, last) = joining.join().unwrap();
        let out = match (out, last) {
            (Some(out), _) => out,
            (None, Some(flag)) => {
                assert!(flag.is_woken(), "the last join waker was not woken");
                match poll_join(&mut join, Waker::noop()) {
                    Poll::Ready(out) => out,
                    Poll::Pending => panic!("woken, yet no output"),
                }
            }
            (None, None) => unreachable!(),
        };
        drop(out.expect("the task completed"));
        drop(join);
        sched.shutdown();
        counters.assert_drops(1, 1);
    });
}

/// A spawn racing with runtime shutdown: the task is either bound before the list
/// closes (and cancelled by the shutdown, even while it is being polled) or cancelled
/// at once by `bind`; either way the `JoinHandle` gets a cancellation.
#[test]
fn spawn_races_shutdown() {
    loom::model(|| {
        let sched = Sched::new();
        let counters = Counters::new();
        let slot = Arc::new(Mutex::new(None));
        let spawning = {
            let (sched, counters, slot) = (sched.clone(), counters.clone(), slot.clone());
            thread::spawn(move || {
                let gate = Gate {
                    open: Arc::new(AtomicBool::new(false)),
                    waker: slot,
                    counters,
                };
                let (join, notified) = sched.0.owned.bind(gate, sched.clone(), model_id());
                if let Some(task) = notified {
                    task.run();
                }
                join
            })
        };
        sched.0.owned.close_and_shutdown_all();
        let mut join = spawning.join().unwrap();
        match poll_join(&mut join, Waker::noop()) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("a task spawned during shutdown was not cancelled"),
        }
        drop(join);
        drop(lock(&slot).take());
        sched.shutdown();
        counters.assert_drops(1, 0);
    });
}
