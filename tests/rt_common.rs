//! The runtime's common behaviour, run on every flavor: the same test bodies are instantiated
//! for a `current_thread` runtime and `multi_thread` runtimes of 1, 2 and 4 workers (built
//! with `kq::runtime::Builder`). Covers spawning and joining (100,000 tasks), nested spawns,
//! `yield_now` fairness, `JoinHandle::abort`, panics, `is_finished`, detached tasks, wake-ups
//! from plain threads and other runtimes, the cooperative budget, `block_on` (and a panic in
//! its future), `Handle::current`/`try_current`, and the panics of `spawn` outside a runtime
//! and `block_on` inside one. Some bodies need workers (`mod workers`) or two of them
//! (`mod stealing`).

mod util;

use kq::runtime::{Handle, Runtime, RuntimeFlavor};
use kq::task::{JoinError, JoinHandle, yield_now};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
use util::{BOUND, drop_counter, expect_panic, oneshot, panic_message, wait_until, yield_until};

/// Emits `$body` (one brace-delimited group of items) as items.
macro_rules! splat {
    ({ $($item:item)* }) => { $($item)* };
}

/// Instantiates the test bodies once per listed flavor, as `mod <flavor>`, where `rt()`
/// builds that flavor's runtime (from `util`).
macro_rules! rt_test {
    ([$($flavor:ident),+ $(,)?] $body:tt) => {
        $(
            mod $flavor {
                use super::*;

                fn rt() -> Runtime {
                    util::$flavor()
                }

                splat!($body);
            }
        )+
    };
}

/// The message of `block_on` inside a runtime (tokio's wording).
const NESTED: &str = "Cannot start a runtime from within a runtime";

/// The error of a join that must fail.
#[track_caller]
fn expect_err<T: std::fmt::Debug>(res: Result<T, JoinError>) -> JoinError {
    match res {
        Ok(v) => panic!("expected a JoinError, got Ok({v:?})"),
        Err(e) => e,
    }
}

rt_test!([current_thread, multi_thread_1, multi_thread_2, multi_thread_4] {
    #[test]
    fn spawn_and_join() {
        let rt = rt();
        let out = rt.block_on(async {
            let a = kq::spawn(async { 40 });
            let b = kq::spawn(async { String::from("two") });
            (a.await.unwrap(), b.await.unwrap())
        });
        assert_eq!(out, (40, "two".to_owned()));
        // `Runtime::spawn` from outside the runtime, joined by `block_on`.
        let h = rt.spawn(async { 7u8 });
        assert_eq!(rt.block_on(h).unwrap(), 7);
    }

    #[test]
    fn hundred_thousand_tasks_joined() {
        const N: usize = 100_000;
        let rt = rt();
        let before = rt.metrics().spawned_tasks_count();
        let sum = rt.block_on(async {
            let handles: Vec<JoinHandle<usize>> =
                (0..N).map(|i| kq::spawn(async move { i })).collect();
            let mut sum = 0;
            for (i, h) in handles.into_iter().enumerate() {
                let v = h.await.unwrap();
                assert_eq!(v, i, "task {i} returned another task's output");
                sum += v;
            }
            sum
        });
        assert_eq!(sum, N * (N - 1) / 2);
        assert_eq!(rt.metrics().spawned_tasks_count() - before, N as u64);
    }

    #[test]
    fn hundred_thousand_tasks_spawned_from_a_task_joined() {
        const N: usize = 100_000;
        let rt = rt();
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let n = rt.block_on(async move {
            kq::spawn(async move {
                let handles: Vec<_> = (0..N)
                    .map(|_| {
                        let d = d.clone();
                        kq::spawn(async move {
                            d.fetch_add(1, Ordering::Relaxed);
                        })
                    })
                    .collect();
                let n = handles.len();
                for h in handles {
                    h.await.unwrap();
                }
                n
            })
            .await
            .unwrap()
        });
        assert_eq!(n, N);
        assert_eq!(done.load(Ordering::Relaxed), N);
    }

    #[test]
    fn nested_spawns() {
        let rt = rt();
        let out = rt.block_on(async {
            kq::spawn(async {
                let inner = kq::spawn(async { kq::spawn(async { 3 }).await.unwrap() + 2 });
                inner.await.unwrap() + 1
            })
            .await
            .unwrap()
        });
        assert_eq!(out, 6);

        // A fan-out: 50 tasks each spawn 20 more, all joined by their parents.
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        rt.block_on(async move {
            let parents: Vec<_> = (0..50)
                .map(|_| {
                    let c = c.clone();
                    kq::spawn(async move {
                        let children: Vec<_> = (0..20)
                            .map(|_| {
                                let c = c.clone();
                                kq::spawn(async move {
                                    c.fetch_add(1, Ordering::Relaxed);
                                })
                            })
                            .collect();
                        for ch in children {
                            ch.await.unwrap();
                        }
                    })
                })
                .collect();
            for p in parents {
                p.await.unwrap();
            }
        });
        assert_eq!(count.load(Ordering::Relaxed), 1000);
    }

    #[test]
    fn yield_now_does_not_starve_other_tasks() {
        // The looper yields until the other task has run. If yielding put it back in front
        // of the queue, the other task would never run; the loop is bounded so that the
        // test fails instead of hanging.
        const MAX_YIELDS: usize = 1_000_000;
        let rt = rt();
        let ran = Arc::new(AtomicBool::new(false));
        let yields = rt.block_on({
            let ran = ran.clone();
            async move {
                let r = ran.clone();
                let looper = kq::spawn(async move {
                    for n in 0..MAX_YIELDS {
                        if r.load(Ordering::SeqCst) {
                            return Some(n);
                        }
                        yield_now().await;
                    }
                    None
                });
                let other = kq::spawn(async move { ran.store(true, Ordering::SeqCst) });
                other.await.unwrap();
                looper.await.unwrap()
            }
        });
        assert!(ran.load(Ordering::SeqCst));
        let yields = yields.expect("a task looping on yield_now starved the other task");
        // On one thread the order is exact: the yielding task goes behind the other one.
        // With workers, the other task may wait for the OS to run the worker that took it.
        if rt.handle().runtime_flavor() == RuntimeFlavor::CurrentThread {
            assert!(yields <= 2, "the other task ran only after {yields} yields");
        }
    }

    #[test]
    fn abort_idle_task_is_cancelled_and_drops_its_future() {
        let rt = rt();
        let (drops, guard) = drop_counter();
        rt.block_on(async {
            let (started_tx, started_rx) = oneshot::<()>();
            let g = guard();
            let h = kq::spawn(async move {
                let _g = g;
                started_tx.send(());
                std::future::pending::<()>().await;
            });
            // The task has run and now waits forever.
            started_rx.await.unwrap();
            assert!(!h.is_finished());
            h.abort();
            let err = expect_err(h.await);
            assert!(err.is_cancelled(), "{err:?}");
            assert!(!err.is_panic());
        });
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the aborted future was not dropped");
    }

    #[test]
    fn abort_before_first_poll_is_cancelled() {
        let rt = rt();
        let (drops, guard) = drop_counter();
        let polled = Arc::new(AtomicBool::new(false));
        let p = polled.clone();
        let g = guard();
        // Spawned from outside the runtime and aborted at once. A current-thread runtime
        // runs nothing before `block_on`, so the future is dropped unpolled; a multi-thread
        // worker may already have polled it, so the future never completes by itself.
        let h = rt.spawn(async move {
            let _g = g;
            p.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await;
        });
        h.abort();
        let err = expect_err(rt.block_on(h));
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        if rt.handle().runtime_flavor() == RuntimeFlavor::CurrentThread {
            assert!(
                !polled.load(Ordering::SeqCst),
                "an aborted task that had not run yet was polled"
            );
        }
    }

    #[test]
    fn abort_after_completion_returns_output() {
        let rt = rt();
        rt.block_on(async {
            let h = kq::spawn(async { 7 });
            yield_until("the task finished", BOUND, || h.is_finished()).await;
            h.abort();
            assert_eq!(h.await.unwrap(), 7);
        });
    }

    #[test]
    fn abort_from_another_thread() {
        let rt = rt();
        rt.block_on(async {
            let (started_tx, started_rx) = oneshot::<()>();
            let h = kq::spawn(async move {
                started_tx.send(());
                std::future::pending::<()>().await;
            });
            started_rx.await.unwrap();
            let abort = h.abort_handle();
            assert_eq!(abort.id(), h.id());
            // The runtime is idle (waiting in kevent, or the block_on thread parked) when
            // the abort arrives.
            let t = std::thread::spawn(move || abort.abort());
            let err = expect_err(h.await);
            assert!(err.is_cancelled(), "{err:?}");
            t.join().unwrap();
        });
    }

    #[test]
    fn panic_in_task_is_join_error_and_runtime_keeps_running() {
        let rt = rt();
        rt.block_on(async {
            let h = kq::spawn(async {
                if true {
                    panic!("boom {}", 42);
                }
                0
            });
            let id = h.id();
            let err = expect_err(h.await);
            assert!(err.is_panic(), "{err:?}");
            assert!(!err.is_cancelled());
            assert_eq!(err.id(), id);
            assert!(err.to_string().contains("boom 42"), "{err}");
            let payload = err.into_panic();
            assert_eq!(panic_message(&*payload), "boom 42");
            // The worker that ran it still runs tasks.
            for i in 0..10 {
                assert_eq!(kq::spawn(async move { i * 2 }).await.unwrap(), i * 2);
            }
        });
        // And the runtime itself is still usable afterwards.
        assert_eq!(rt.block_on(rt.spawn(async { "alive" })).unwrap(), "alive");
    }

    #[test]
    fn is_finished_tracks_completion() {
        let rt = rt();
        rt.block_on(async {
            let (go_tx, go_rx) = oneshot::<u32>();
            let h = kq::spawn(async move { go_rx.await.unwrap() + 1 });
            yield_now().await;
            assert!(!h.is_finished(), "a task waiting for its input is not finished");
            go_tx.send(41);
            yield_until("the task finished", BOUND, || h.is_finished()).await;
            assert!(h.is_finished());
            assert_eq!(h.await.unwrap(), 42);
        });
    }

    #[test]
    fn dropped_join_handle_detaches_the_task() {
        let rt = rt();
        let out = rt.block_on(async {
            let (go_tx, go_rx) = oneshot::<()>();
            let (done_tx, done_rx) = oneshot::<&'static str>();
            drop(kq::spawn(async move {
                go_rx.await.unwrap();
                done_tx.send("ran to completion");
            }));
            go_tx.send(());
            done_rx.await
        });
        assert_eq!(out, Some("ran to completion"));
    }

    #[test]
    fn task_woken_from_another_std_thread() {
        let rt = rt();
        let out = rt.block_on(async {
            let (tx, rx) = oneshot::<u64>();
            let h = kq::spawn(async move { rx.await.unwrap() * 3 });
            // Send only once the task waits with its waker registered, so that the wake
            // really comes from the other thread to an idle runtime.
            let t = std::thread::spawn(move || {
                wait_until("the task polled its receiver", BOUND, || tx.receiver_polled());
                tx.send(14);
            });
            let out = h.await.unwrap();
            t.join().unwrap();
            out
        });
        assert_eq!(out, 42);
    }

    #[test]
    fn block_on_returns_values() {
        let rt = rt();
        assert_eq!(rt.block_on(async { 1 + 1 }), 2);
        assert_eq!(rt.block_on(async { vec![1, 2, 3] }), vec![1, 2, 3]);
        let r: Result<u8, String> = rt.block_on(async { Err("no".to_owned()) });
        assert_eq!(r, Err("no".to_owned()));
        // A borrowed value, and a handle's block_on from another thread.
        let text = String::from("borrowed");
        assert_eq!(rt.block_on(async { text.len() }), 8);
        let handle = rt.handle().clone();
        let t = std::thread::spawn(move || handle.block_on(async { kq::spawn(async { 5 }).await }));
        assert_eq!(t.join().unwrap().unwrap(), 5);
    }

    #[test]
    fn handle_current_inside_tasks() {
        let rt = rt();
        let flavor = rt.handle().runtime_flavor();
        let (seen, out) = rt.block_on(async {
            let outer = Handle::current().runtime_flavor();
            let inner = kq::spawn(async {
                let h = Handle::current();
                assert!(Handle::try_current().is_ok());
                let v = h.spawn(async { 10 }).await.unwrap();
                (h.runtime_flavor(), v)
            })
            .await
            .unwrap();
            assert_eq!(outer, inner.0);
            inner
        });
        assert_eq!(seen, flavor);
        assert_eq!(out, 10);
    }

    #[test]
    fn handle_current_inside_spawn_blocking() {
        let rt = rt();
        let flavor = rt.handle().runtime_flavor();
        let out = rt.block_on(async {
            kq::task::spawn_blocking(|| {
                let h = Handle::current();
                // A blocking closure may block on the runtime (it is not a worker).
                let v = h.block_on(async { kq::spawn(async { 9 }).await.unwrap() });
                (h.runtime_flavor(), v)
            })
            .await
            .unwrap()
        });
        assert_eq!(out, (flavor, 9));
    }

    #[test]
    fn a_task_whose_resources_are_always_ready_does_not_starve_others() {
        // The cooperative budget: a task looping on a socket that is always readable, and on
        // zero sleeps, must give the others a turn. Bounded, so starvation fails the test.
        const MAX_LOOPS: usize = 1_000_000;
        let rt = rt();
        let out = rt.block_on(async {
            let (a, mut b) = util::socketpair();
            std::io::Write::write_all(&mut b, b"always readable").unwrap();
            let a = kq::io::unix::AsyncFd::new(a).unwrap();
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let busy = kq::spawn(async move {
                for n in 0..MAX_LOOPS {
                    if r.load(Ordering::SeqCst) {
                        return Some(n);
                    }
                    // Ready at once, every time: the readiness is never cleared.
                    let _ = a.readable().await.unwrap();
                    kq::time::sleep(std::time::Duration::ZERO).await;
                }
                None
            });
            let other = kq::spawn(async move { ran.store(true, Ordering::SeqCst) });
            other.await.unwrap();
            let out = busy.await.unwrap();
            drop(b);
            out
        });
        assert!(
            out.is_some(),
            "a task whose I/O is always ready starved another task"
        );
    }

    #[test]
    fn join_error_display_and_io_error_conversion() {
        let rt = rt();
        rt.block_on(async {
            let h = kq::spawn(std::future::pending::<()>());
            let id = h.id();
            h.abort();
            let err = expect_err(h.await);
            assert_eq!(err.to_string(), format!("task {id} was cancelled"));
            let io = std::io::Error::from(err);
            assert_eq!(io.kind(), std::io::ErrorKind::Interrupted);
            let err = expect_err(
                kq::spawn(async {
                    if true {
                        panic!("oops");
                    }
                })
                .await,
            );
            assert!(format!("{err:?}").contains("oops"), "{err:?}");
            assert_eq!(std::io::Error::from(err).kind(), std::io::ErrorKind::Other);
        });
    }

    #[test]
    fn tasks_of_another_runtime_wake_this_one() {
        // A task awaits the JoinHandle of a task on another runtime, which completes it
        // from that runtime's thread (or worker).
        let rt = rt();
        let other = util::multi_thread(1);
        let other_handle = other.handle().clone();
        let out = rt.block_on(async move {
            let (tx, rx) = oneshot::<u32>();
            let remote = other_handle.spawn(async move { rx.await.unwrap() * 2 });
            let local = kq::spawn(async move { remote.await.unwrap() + 1 });
            kq::task::yield_now().await;
            tx.send(20);
            local.await.unwrap()
        });
        assert_eq!(out, 41);
    }

    #[test]
    fn panic_in_the_block_on_future_leaves_the_runtime_usable() {
        let rt = rt();
        let msg = expect_panic(|| {
            rt.block_on(async {
                yield_now().await;
                panic!("the block_on future failed");
            })
        });
        assert_eq!(msg, "the block_on future failed");
        // A task spawned from this thread, joined from another one: bounded, so that a
        // runtime left unusable fails the test instead of hanging it.
        let h = rt.spawn(async { 5 });
        let handle = rt.handle().clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(handle.block_on(h).map_err(|e| e.to_string()));
        });
        assert_eq!(
            rx.recv_timeout(BOUND),
            Ok(Ok(5)),
            "the runtime does not run tasks after a panic in block_on"
        );
        // And this thread can drive it again.
        assert_eq!(rt.block_on(async { kq::spawn(async { 6 }).await.unwrap() }), 6);
    }

    #[test]
    fn block_on_inside_block_on_panics() {
        let rt = rt();
        let handle = rt.handle().clone();
        let msg = rt.block_on(async move { expect_panic(|| handle.block_on(async { 1 })) });
        assert!(msg.contains(NESTED), "unclear message: {msg}");
        // The runtime is unharmed.
        assert_eq!(rt.block_on(async { 2 }), 2);
    }

    #[test]
    fn block_on_inside_task_panics() {
        let rt = rt();
        let msg = rt.block_on(async {
            kq::spawn(async {
                std::panic::catch_unwind(|| Handle::current().block_on(async { 1 }))
                    .map_err(|p| panic_message(&*p))
            })
            .await
            .unwrap()
        });
        match msg {
            Ok(v) => panic!("block_on inside a task returned {v} instead of panicking"),
            Err(msg) => assert!(msg.contains(NESTED), "unclear message: {msg}"),
        }
    }
});

// Tests that need a worker thread other than the one calling `block_on`.
mod workers {
    use super::*;

    rt_test!([multi_thread_1, multi_thread_2, multi_thread_4] {
        #[test]
        fn abort_while_running_on_a_worker() {
            let rt = rt();
            let (drops, guard) = drop_counter();
            let started = Arc::new(AtomicBool::new(false));
            let aborted = Arc::new(AtomicBool::new(false));
            let g = guard();
            let (s, a) = (started.clone(), aborted.clone());
            let h = rt.spawn(async move {
                let _g = g;
                s.store(true, Ordering::SeqCst);
                // Stay inside this poll until the abort has been requested, so that it
                // arrives while the task runs.
                let start = Instant::now();
                while !a.load(Ordering::SeqCst) {
                    if start.elapsed() > BOUND {
                        return "the abort never came";
                    }
                    std::hint::spin_loop();
                }
                // Cancelled at the next yield; bounded so a lost abort fails the test.
                for _ in 0..1_000_000 {
                    yield_now().await;
                }
                "still running after the abort"
            });
            wait_until("the task started on a worker", BOUND, || {
                started.load(Ordering::SeqCst)
            });
            assert!(!h.is_finished());
            h.abort();
            aborted.store(true, Ordering::SeqCst);
            let err = expect_err(rt.block_on(h));
            assert!(err.is_cancelled(), "{err:?}");
            assert_eq!(drops.load(Ordering::SeqCst), 1);
        }

        #[test]
        fn workers_run_tasks_while_block_on_thread_is_blocked() {
            // The thread in block_on blocks (std channel); a task on a worker must still run
            // and unblock it.
            let rt = rt();
            let (tx, rx) = std::sync::mpsc::channel();
            rt.block_on(async move {
                kq::spawn(async move { tx.send(5).unwrap() });
                assert_eq!(rx.recv_timeout(BOUND), Ok(5));
            });
        }

        #[test]
        fn num_workers_matches_builder() {
            let rt = rt();
            let n = rt.metrics().num_workers();
            // The module is named after the flavor: `multi_thread_<workers>`.
            let name = module_path!().rsplit("::").next().unwrap();
            let want: usize = name.rsplit('_').next().unwrap().parse().unwrap();
            assert_eq!(n, want);
            // And each worker is a thread that runs tasks: occupy all of them at once.
            let arrived = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..want)
                .map(|_| {
                    let arrived = arrived.clone();
                    rt.spawn(async move {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        let start = Instant::now();
                        while arrived.load(Ordering::SeqCst) < want {
                            assert!(start.elapsed() < BOUND, "not all workers ran at once");
                            std::hint::spin_loop();
                        }
                        std::thread::current().id()
                    })
                })
                .collect();
            let ids: std::collections::HashSet<_> = rt
                .block_on(async {
                    let mut ids = Vec::new();
                    for h in hs {
                        ids.push(h.await.unwrap());
                    }
                    ids
                })
                .into_iter()
                .collect();
            assert_eq!(ids.len(), want, "{want} spinning tasks ran on {} threads", ids.len());
        }
    });
}

// Work stealing needs two workers at least.
mod stealing {
    use super::*;

    rt_test!([multi_thread_2, multi_thread_4] {
        #[test]
        fn tasks_queued_behind_a_busy_worker_are_stolen() {
            // A task spawned from a worker goes to that worker's queue. The spawning task
            // then occupies its worker until the spawned task has run: only another worker
            // (stealing) can run it. Bounded, so a missing steal fails instead of hanging.
            let rt = rt();
            let out = rt.block_on(async {
                kq::spawn(async {
                    let ran = Arc::new(AtomicBool::new(false));
                    let r = ran.clone();
                    let child = kq::spawn(async move { r.store(true, Ordering::SeqCst) });
                    // A second spawn pushes the first out of the LIFO slot into the queue.
                    let r2 = Arc::new(AtomicBool::new(false));
                    let r2c = r2.clone();
                    let child2 = kq::spawn(async move { r2c.store(true, Ordering::SeqCst) });
                    let start = Instant::now();
                    while !ran.load(Ordering::SeqCst) {
                        if start.elapsed() > BOUND {
                            return false;
                        }
                        std::hint::spin_loop();
                    }
                    child.await.unwrap();
                    child2.await.unwrap();
                    true
                })
                .await
                .unwrap()
            });
            assert!(out, "a task queued on a busy worker was never stolen");
            assert!(rt.metrics().steal_count() > 0, "no steal was counted");
        }
    });
}

#[test]
fn try_current_outside_a_runtime_is_missing_context() {
    let err = Handle::try_current().expect_err("no runtime on a plain test thread");
    assert!(err.is_missing_context());
    assert!(!err.is_thread_local_destroyed());
    // After a runtime's block_on and enter guard are gone, there is none again.
    let rt = util::current_thread();
    rt.block_on(async { assert!(Handle::try_current().is_ok()) });
    {
        let _g = rt.enter();
        assert!(Handle::try_current().is_ok());
    }
    assert!(Handle::try_current().unwrap_err().is_missing_context());
}

#[test]
fn handle_current_outside_a_runtime_panics_naming_the_fix() {
    let msg = expect_panic(Handle::current);
    assert!(msg.contains("kq runtime"), "unclear message: {msg}");
}

#[test]
fn spawn_outside_a_runtime_panics_naming_the_fix() {
    let msg = expect_panic(|| kq::spawn(async {}));
    assert!(msg.contains("kq runtime"), "unclear message: {msg}");
    let msg = expect_panic(|| kq::task::spawn_blocking(|| {}));
    assert!(msg.contains("kq runtime"), "unclear message: {msg}");
}

#[test]
fn runtime_debug_and_flavor() {
    let ct = util::current_thread();
    let mt = util::multi_thread(2);
    assert_eq!(ct.handle().runtime_flavor(), RuntimeFlavor::CurrentThread);
    assert_eq!(mt.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
    assert!(format!("{ct:?}").contains("CurrentThread"));
    assert!(format!("{mt:?}").contains("MultiThread"));
    // Blocking one runtime inside another's block_on is refused as well.
    let msg = ct.block_on(async { expect_panic(|| mt.block_on(async {})) });
    assert!(msg.contains(NESTED), "unclear message: {msg}");
}

#[test]
fn enter_guards_nest_and_restore_the_previous_runtime() {
    let a = util::current_thread();
    let b = util::multi_thread(1);
    let _ga = a.enter();
    assert_eq!(
        Handle::current().runtime_flavor(),
        RuntimeFlavor::CurrentThread
    );
    {
        let _gb = b.enter();
        assert_eq!(
            Handle::current().runtime_flavor(),
            RuntimeFlavor::MultiThread
        );
        // Spawning goes to the runtime entered last.
        let h = kq::spawn(async { Handle::current().runtime_flavor() });
        assert_eq!(b.block_on(h).unwrap(), RuntimeFlavor::MultiThread);
    }
    assert_eq!(
        Handle::current().runtime_flavor(),
        RuntimeFlavor::CurrentThread
    );
}

#[test]
fn current_thread_block_on_from_several_threads() {
    // One thread at a time drives a current-thread runtime; the others wait for the core or
    // for their own future, and every one completes.
    let rt = util::current_thread();
    let handle = rt.handle().clone();
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                handle.block_on(async move {
                    let mut sum = 0;
                    for j in 0..50u64 {
                        sum += kq::spawn(async move { i * 100 + j }).await.unwrap();
                        if j % 10 == 0 {
                            kq::time::sleep(std::time::Duration::from_millis(1)).await;
                        }
                    }
                    sum
                })
            })
        })
        .collect();
    let sums: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let expected: Vec<u64> = (0..4u64)
        .map(|i| (0..50u64).map(|j| i * 100 + j).sum())
        .collect();
    assert_eq!(sums, expected);
}
