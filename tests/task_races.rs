//! Races on a task's state word, on real threads: wakes from many threads at once (never two
//! polls at a time, never a lost wake), aborts racing completion (each result is the output
//! or a cancellation), `JoinHandle`s dropped while their task completes (each output dropped
//! exactly once), panicking destructors during cancellation, wakes of local tasks after
//! their `LocalSet` is gone, and spawns from plain threads racing with workers woken by
//! timers (no worker may be left asleep with work queued). Repeated to give the races a
//! chance.

mod util;

use kq::task::{LocalSet, spawn_local, yield_now};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use util::{BOUND, LATE, drop_counter, panic_message};

/// A future that completes after `target` polls, publishing its waker for other threads and
/// asserting that it is never polled by two threads at once.
struct Counted {
    polls: usize,
    target: usize,
    in_poll: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Counted {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        assert!(
            !self.in_poll.swap(true, Ordering::SeqCst),
            "a task was polled by two threads at once"
        );
        self.polls += 1;
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        let out = if self.polls >= self.target {
            Poll::Ready(self.polls)
        } else {
            Poll::Pending
        };
        self.in_poll.store(false, Ordering::SeqCst);
        out
    }
}

#[test]
fn wakes_from_many_threads_are_never_lost_nor_concurrent() {
    const THREADS: usize = 4;
    const TARGET: usize = 2000;
    for rt in [util::current_thread(), util::multi_thread(2)] {
        let waker = Arc::new(Mutex::new(None::<Waker>));
        let h = rt.spawn(Counted {
            polls: 0,
            target: TARGET,
            in_poll: Arc::new(AtomicBool::new(false)),
            waker: waker.clone(),
        });
        let done = Arc::new(AtomicBool::new(false));
        let barrier = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|i| {
                let (waker, done, barrier) = (waker.clone(), done.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    while !done.load(Ordering::SeqCst) {
                        let w = waker.lock().unwrap().clone();
                        match (w, i % 2) {
                            (Some(w), 0) => w.wake(),
                            (Some(w), _) => w.wake_by_ref(),
                            (None, _) => std::thread::yield_now(),
                        }
                    }
                })
            })
            .collect();
        // Every poll needs a wake; the threads keep waking until the task is done.
        let polls = rt.block_on(async {
            let out = kq::time::timeout(BOUND, h).await;
            done.store(true, Ordering::SeqCst);
            out
        });
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(polls.expect("a wake was lost").unwrap(), TARGET, "{rt:?}");
    }
}

#[test]
fn abort_racing_completion_gives_output_or_cancellation() {
    for rt in [
        util::current_thread(),
        util::multi_thread(2),
        util::multi_thread(4),
    ] {
        let (drops, guard) = drop_counter();
        let handles: Vec<_> = (0..2000u32)
            .map(|i| {
                let g = guard();
                rt.spawn(async move {
                    let _g = g;
                    if i % 3 == 0 {
                        yield_now().await;
                    }
                    i
                })
            })
            .collect();
        // Abort from another thread while the workers complete them.
        let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
        let aborter = std::thread::spawn(move || {
            for a in aborts.iter().rev() {
                a.abort();
            }
        });
        let (ok, cancelled) = rt.block_on(async {
            let (mut ok, mut cancelled) = (0, 0);
            for (i, h) in handles.into_iter().enumerate() {
                match h.await {
                    Ok(v) => {
                        assert_eq!(v as usize, i);
                        ok += 1;
                    }
                    Err(e) => {
                        assert!(e.is_cancelled(), "{e:?}");
                        cancelled += 1;
                    }
                }
            }
            (ok, cancelled)
        });
        aborter.join().unwrap();
        assert_eq!(ok + cancelled, 2000);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            2000,
            "a future was not dropped"
        );
    }
}

#[test]
fn join_handles_dropped_while_tasks_complete_drop_each_output_once() {
    for rt in [
        util::current_thread(),
        util::multi_thread(2),
        util::multi_thread(4),
    ] {
        let (drops, guard) = drop_counter();
        let handles: Vec<_> = (0..2000)
            .map(|i| {
                let out = guard();
                rt.spawn(async move {
                    if i % 2 == 0 {
                        yield_now().await;
                    }
                    out
                })
            })
            .collect();
        let dropper = std::thread::spawn(move || drop(handles));
        dropper.join().unwrap();
        // The outputs are dropped by whoever comes last: the completing task or the
        // dropped handle. Drive the runtime until every one is gone.
        let metrics = rt.metrics();
        rt.block_on(util::yield_until("every task finished", BOUND, || {
            metrics.num_alive_tasks() == 0
        }));
        drop(rt);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            2000,
            "an output was dropped twice or never"
        );
    }
}

#[test]
fn panicking_destructor_during_abort_is_a_panic_join_error() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("destructor panicked");
        }
    }
    for rt in [util::current_thread(), util::multi_thread(2)] {
        rt.block_on(async {
            let (tx, rx) = util::oneshot::<()>();
            let h = kq::spawn(async move {
                let _p = PanicOnDrop;
                tx.send(());
                std::future::pending::<()>().await;
            });
            rx.await.unwrap();
            h.abort();
            let err = h.await.expect_err("aborted");
            assert!(err.is_panic(), "{err:?}");
            assert_eq!(panic_message(&*err.into_panic()), "destructor panicked");
            // The runtime survives it.
            assert_eq!(kq::spawn(async { 1 }).await.unwrap(), 1);
        });
    }
}

#[test]
fn waking_a_local_task_after_its_set_is_gone_is_harmless() {
    let rt = util::current_thread();
    let waker = Arc::new(Mutex::new(None::<Waker>));
    let (drops, guard) = drop_counter();
    {
        let local = LocalSet::new();
        let w = waker.clone();
        let g = guard();
        local.block_on(&rt, async move {
            let h = spawn_local(async move {
                let _g = g;
                poll_fn(|cx| {
                    *w.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                })
                .await;
            });
            yield_now().await;
            drop(h);
        });
        assert!(waker.lock().unwrap().is_some(), "the local task never ran");
        drop(local);
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the set did not drop its task"
    );
    // The waker outlives the set: waking it from another thread must do nothing.
    let w = waker.lock().unwrap().take().unwrap();
    std::thread::spawn(move || {
        w.wake_by_ref();
        w.wake();
    })
    .join()
    .unwrap();
}

#[test]
fn many_tasks_ping_pong_across_workers() {
    // 30 pairs of tasks hand a token back and forth 200 times through wakers, on workers that
    // steal from each other: every hand-off is a wake of a task on another worker or the
    // same one's LIFO slot.
    let rt = util::multi_thread(4);
    let total = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..30 {
            let turn = Arc::new(Mutex::new((0usize, None::<Waker>, None::<Waker>)));
            for side in 0..2usize {
                let turn = turn.clone();
                let total = total.clone();
                handles.push(kq::spawn(async move {
                    for _ in 0..200 {
                        poll_fn(|cx| {
                            let mut t = turn.lock().unwrap();
                            if t.0 % 2 == side {
                                Poll::Ready(())
                            } else {
                                if side == 0 {
                                    t.1 = Some(cx.waker().clone());
                                } else {
                                    t.2 = Some(cx.waker().clone());
                                }
                                Poll::Pending
                            }
                        })
                        .await;
                        let other = {
                            let mut t = turn.lock().unwrap();
                            t.0 += 1;
                            if side == 0 { t.2.take() } else { t.1.take() }
                        };
                        total.fetch_add(1, Ordering::Relaxed);
                        if let Some(w) = other {
                            w.wake();
                        }
                    }
                }));
            }
        }
        for h in handles {
            kq::time::timeout(BOUND, h)
                .await
                .expect("a hand-off was lost")
                .unwrap();
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), 30 * 2 * 200);
}

#[test]
fn spawns_from_outside_racing_with_timer_wakeups_leave_no_worker_asleep() {
    // Plain threads spawn tasks (which wakes a sleeping worker through the idle list) while
    // a ticking task keeps waking the worker that waits on the driver with timer events. A
    // worker woken by an event that finds work must not lose the notification aimed at it at
    // the same moment: the idle list would then count a searcher that does not exist, and
    // no spawn from outside would wake a worker again. Once the ticker stops, a task
    // spawned from outside is only run if that did not happen.
    const STRESS: Duration = Duration::from_millis(1500);
    let rt = util::multi_thread(2);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let ticker = rt.spawn(async move {
        while !s.load(Ordering::SeqCst) {
            kq::time::sleep(Duration::from_micros(200)).await;
        }
    });
    let start = Instant::now();
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let handle = rt.handle().clone();
            std::thread::spawn(move || {
                let mut spawned = 0u64;
                while start.elapsed() < STRESS {
                    let (tx, rx) = mpsc::channel();
                    handle.spawn(async move { tx.send(()).unwrap() });
                    rx.recv_timeout(LATE)
                        .expect("a task spawned while the ticker runs was not run");
                    spawned += 1;
                }
                spawned
            })
        })
        .collect();
    for p in producers {
        assert!(p.join().unwrap() > 0);
    }
    stop.store(true, Ordering::SeqCst);
    rt.block_on(ticker).unwrap();
    // No timer is left to wake a worker: only the notification of the spawn can.
    for i in 0..3 {
        let (tx, rx) = mpsc::channel();
        rt.spawn(async move { tx.send(()).unwrap() });
        assert!(
            rx.recv_timeout(LATE).is_ok(),
            "probe {i}: a task spawned from outside stayed queued with every worker asleep"
        );
    }
}
