//! Shutting a runtime down: dropping it cancels pending tasks (their destructors run, their
//! `JoinHandle`s report `is_cancelled`), fails I/O registrations and timers, joins its
//! threads (none named after it remains) and closes its kqueue (the process's descriptors
//! are the same before and after). `shutdown_timeout` returns within its timeout while a
//! blocking closure still runs. The tests of this file take one lock, so that the threads
//! and descriptors one of them sees are not another's.
//!
//! Linux only: the thread and descriptor checks read `/proc`.
#![cfg(target_os = "linux")]

mod util;

use kq::io::unix::AsyncFd;
use kq::runtime::{Builder, Handle, Runtime};
use kq::time::{Duration, Instant, sleep};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_test::task::spawn as mock;
use tokio_test::{assert_pending, assert_ready};
use util::{
    BOUND, LATE, drop_counter, expect_panic, oneshot, socketpair, threads_named, wait_until,
};

/// Serializes the tests of this file (see the module docs).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The runtimes under test, current-thread then multi-thread, with their threads named
/// `name`: built one at a time, as the iteration reaches them, so that a test sees only the
/// threads and descriptors of the one at hand.
fn runtimes(name: &'static str) -> impl Iterator<Item = Runtime> {
    [false, true].into_iter().map(move |multi| {
        let mut b = if multi {
            Builder::new_multi_thread()
        } else {
            Builder::new_current_thread()
        };
        b.worker_threads(2).thread_name(name).build().unwrap()
    })
}

#[test]
fn dropping_a_runtime_drops_pending_tasks_and_cancels_their_handles() {
    let _serial = serial();
    for rt in runtimes("kq-shut-tasks") {
        let (drops, guard) = drop_counter();
        let (started_tx, started_rx) = mpsc::channel();
        let mut handles = Vec::new();
        // Pending on nothing, on a long sleep, and on a socket that never becomes readable.
        for kind in 0..3 {
            let g = guard();
            let started = started_tx.clone();
            handles.push(rt.spawn(async move {
                let _g = g;
                started.send(()).unwrap();
                match kind {
                    0 => std::future::pending::<()>().await,
                    1 => sleep(Duration::from_secs(3600)).await,
                    _ => {
                        let (a, _b) = socketpair();
                        let a = AsyncFd::new(a).unwrap();
                        let _ = a.readable().await;
                    }
                }
            }));
        }
        // And tasks that never ran at all.
        for _ in 0..10 {
            let g = guard();
            handles.push(rt.spawn(async move {
                let _g = g;
                std::future::pending::<()>().await;
            }));
            if rt.handle().runtime_flavor() == kq::runtime::RuntimeFlavor::MultiThread {
                break; // on workers they may run; one is enough there
            }
        }
        let expected = handles.len();
        // Let the first three start (a current-thread runtime runs them in block_on).
        rt.block_on(async {
            for _ in 0..3 {
                util::yield_until("a task started", BOUND, || started_rx.try_recv().is_ok()).await;
            }
        });
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(rt);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            expected,
            "dropping the runtime left task futures alive"
        );
        for h in handles {
            assert!(h.is_finished());
            let mut h = mock(h);
            let err = assert_ready!(h.poll()).expect_err("cancelled by the shutdown");
            assert!(err.is_cancelled(), "{err:?}");
        }
    }
}

#[test]
fn spawning_on_a_dropped_runtime_gives_a_cancelled_handle() {
    let _serial = serial();
    for rt in runtimes("kq-shut-spawn") {
        let handle = rt.handle().clone();
        drop(rt);
        let (drops, guard) = drop_counter();
        let g = guard();
        let h = handle.spawn(async move {
            let _g = g;
            1
        });
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the future was kept");
        let err = assert_ready!(mock(h).poll()).expect_err("the runtime is gone");
        assert!(err.is_cancelled());
        // spawn_blocking too.
        let h = handle.spawn_blocking(|| 2);
        let err = assert_ready!(mock(h).poll()).expect_err("the runtime is gone");
        assert!(err.is_cancelled());
    }
}

#[test]
fn io_and_timers_fail_after_shutdown() {
    let _serial = serial();
    for rt in runtimes("kq-shut-io") {
        let handle = rt.handle().clone();
        let (a, mut b) = socketpair();
        let a = {
            let _g = rt.enter();
            AsyncFd::new(a).unwrap()
        };
        let mut readable = {
            let _g = rt.enter();
            mock(a.readable())
        };
        assert_pending!(readable.poll());
        drop(rt);
        // The waiter is woken by the shutdown, and its wait fails.
        assert!(readable.is_woken(), "a waiter slept through the shutdown");
        let err = assert_ready!(readable.poll()).expect_err("the driver is gone");
        assert!(err.to_string().contains("shut down"), "{err}");
        drop(readable);
        // Even with data there, readiness is not reported any more.
        use std::io::Write;
        b.write_all(b"x").unwrap();
        let mut readable = mock(a.readable());
        assert!(assert_ready!(readable.poll()).is_err());
        drop(readable);
        drop(a);
        // New registrations fail.
        let (c, _d) = socketpair();
        let err = AsyncFd::with_interest_and_handle(c, kq::io::Interest::READABLE, &handle)
            .expect_err("registering on a dropped runtime");
        assert!(err.to_string().contains("shut down"), "{err}");
    }
}

#[test]
fn pending_sleep_polled_after_shutdown_panics() {
    let _serial = serial();
    for rt in runtimes("kq-shut-sleep") {
        let mut s = {
            let _g = rt.enter();
            mock(sleep(Duration::from_secs(3600)))
        };
        assert_pending!(s.poll());
        drop(rt);
        assert!(s.is_woken(), "a sleeper slept through the shutdown");
        let msg = expect_panic(|| s.poll());
        assert!(msg.contains("shut down"), "unclear message: {msg}");
    }
}

#[test]
fn worker_and_blocking_threads_are_gone_after_drop() {
    let _serial = serial();
    for (i, name) in ["kq-leak-ct", "kq-leak-mt"].into_iter().enumerate() {
        assert_eq!(threads_named(name), 0);
        let rt = if i == 0 {
            Builder::new_current_thread()
                .thread_name(name)
                .build()
                .unwrap()
        } else {
            Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name(name)
                .build()
                .unwrap()
        };
        let workers = if i == 0 { 0 } else { 2 };
        // Two blocking threads, busy at once, so that the pool has to make both.
        let (tx, rx) = mpsc::channel::<()>();
        let rx = Arc::new(Mutex::new(rx));
        let (in_tx, in_rx) = mpsc::channel::<()>();
        let blocking: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                let in_tx = in_tx.clone();
                rt.spawn_blocking(move || {
                    in_tx.send(()).unwrap();
                    let _ = rx.lock().unwrap().recv();
                })
            })
            .collect();
        in_rx.recv_timeout(BOUND).unwrap();
        // The second closure may wait for the first to release the receiver's lock; it
        // has started as soon as it sent.
        in_rx.recv_timeout(BOUND).unwrap();
        wait_until("the runtime's threads are named", BOUND, || {
            threads_named(name) == workers + 2
        });
        drop(tx);
        rt.block_on(async {
            for h in blocking {
                h.await.unwrap();
            }
        });
        drop(rt);
        // Joined threads leave the kernel's task list a moment after the join returns.
        wait_until("the runtime's threads are gone", BOUND, || {
            threads_named(name) == 0
        });
    }
}

/// Runs `workload` on runtimes built and dropped in between two looks at the descriptors.
fn assert_no_fd_leak(workload: impl Fn(&Runtime)) {
    // A first runtime, so that process-wide state created once (if any) is in both looks.
    drop(util::multi_thread(1));
    let before = util::open_fds();
    for rt in runtimes("kq-fd-check") {
        workload(&rt);
        drop(rt);
        let after = util::open_fds();
        assert_eq!(before, after, "descriptors leaked by a runtime");
    }
}

#[test]
fn kqueue_and_descriptors_are_closed_after_drop() {
    let _serial = serial();
    assert_no_fd_leak(|rt| {
        rt.block_on(async {
            let (a, b) = socketpair();
            let (a, b) = (AsyncFd::new(a).unwrap(), AsyncFd::new(b).unwrap());
            use kq::io::{AsyncReadExt, AsyncWriteExt};
            let (mut a, mut b) = (a, b);
            a.write_all(b"hello").await.unwrap();
            let mut buf = [0; 5];
            b.read_exact(&mut buf).await.unwrap();
            sleep(Duration::from_millis(1)).await;
            kq::task::spawn_blocking(|| ()).await.unwrap();
        });
    });
}

#[test]
fn kqueue_is_closed_even_with_tasks_pending_on_io_and_timers() {
    let _serial = serial();
    assert_no_fd_leak(|rt| {
        let (started_tx, started_rx) = oneshot::<()>();
        let mut started_tx = Some(started_tx);
        for i in 0..4 {
            let started = if i == 3 { started_tx.take() } else { None };
            rt.spawn(async move {
                let (a, _b) = socketpair();
                let a = AsyncFd::new(a).unwrap();
                let timer = sleep(Duration::from_secs(3600));
                if let Some(s) = started {
                    s.send(());
                }
                let _ = a.readable().await;
                timer.await;
            });
        }
        rt.block_on(started_rx).unwrap();
    });
}

#[test]
fn shutdown_timeout_returns_while_a_blocking_closure_still_runs() {
    let _serial = serial();
    for rt in runtimes("kq-shut-tmo") {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        let _h = rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            release_rx.recv_timeout(BOUND).unwrap();
            f.store(true, Ordering::SeqCst);
        });
        started_rx.recv_timeout(BOUND).unwrap();
        let timeout = Duration::from_millis(100);
        let start = Instant::now();
        rt.shutdown_timeout(timeout);
        let elapsed = start.elapsed();
        // It waited for the closure (which cannot be interrupted) for the whole timeout, and
        // no longer.
        util::assert_not_early("shutdown_timeout", elapsed, timeout);
        assert!(
            !finished.load(Ordering::SeqCst),
            "the closure was not running any more"
        );
        // The detached closure still runs to completion.
        release_tx.send(()).unwrap();
        wait_until("the detached closure finished", BOUND, || {
            finished.load(Ordering::SeqCst)
        });
        wait_until("its thread exited", BOUND, || {
            threads_named("kq-shut-tmo") == 0
        });
    }
}

#[test]
fn shutdown_timeout_bounds_the_whole_shutdown() {
    // A worker stuck in a task that never yields *and* a blocking closure that never
    // returns: the timeout bounds the whole wait, not each part of it. The timeout is long
    // enough that waiting twice for it is beyond the lateness a loaded machine explains.
    let _serial = serial();
    let timeout = Duration::from_millis(2500);
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kq-shut-both")
        .build()
        .unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (r, s) = (release.clone(), started_tx.clone());
    rt.spawn(async move {
        s.send(()).unwrap();
        let start = Instant::now();
        while !r.load(Ordering::SeqCst) && start.elapsed() < BOUND {
            std::hint::spin_loop();
        }
    });
    let r = release.clone();
    let _blocking = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        let start = Instant::now();
        while !r.load(Ordering::SeqCst) && start.elapsed() < BOUND {
            std::thread::park_timeout(Duration::from_millis(1));
        }
    });
    started_rx.recv_timeout(BOUND).unwrap();
    started_rx.recv_timeout(BOUND).unwrap();
    let start = Instant::now();
    rt.shutdown_timeout(timeout);
    let elapsed = start.elapsed();
    release.store(true, Ordering::SeqCst);
    util::assert_not_early("shutdown_timeout with a stuck worker", elapsed, timeout);
    wait_until("the detached threads exited", BOUND, || {
        threads_named("kq-shut-both") == 0
    });
}

#[test]
fn shutdown_background_does_not_wait() {
    let _serial = serial();
    for rt in runtimes("kq-shut-bg") {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(BOUND);
        });
        started_rx.recv_timeout(BOUND).unwrap();
        let start = Instant::now();
        rt.shutdown_background();
        assert!(start.elapsed() < LATE, "shutdown_background waited");
        release_tx.send(()).unwrap();
        wait_until("its thread exited", BOUND, || {
            threads_named("kq-shut-bg") == 0
        });
    }
}

#[test]
fn dropping_a_runtime_inside_its_own_task_still_cancels_the_others() {
    // A misuse (the drop blocks on the runtime's own threads), but whether the drop panics
    // or not, it must not leave the runtime half shut down: its other tasks are cancelled.
    let _serial = serial();
    for rt in runtimes("kq-shut-self") {
        let handle = rt.handle().clone();
        let (drops, guard) = drop_counter();
        let g = guard();
        let (parked_tx, parked_rx) = oneshot::<()>();
        let other = rt.spawn(async move {
            let _g = g;
            parked_tx.send(());
            std::future::pending::<()>().await;
        });
        let slot = Arc::new(Mutex::new(Some(rt)));
        let s = slot.clone();
        let dropped = handle.block_on(async move {
            parked_rx.await.unwrap();
            kq::spawn(async move {
                let rt = s.lock().unwrap().take().unwrap();
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(rt)))
                    .map_err(|p| util::panic_message(&*p))
            })
            .await
        });
        // The dropping task may itself be cancelled by the shutdown it started.
        if let Ok(Err(msg)) = &dropped {
            eprintln!("dropping the runtime in its task panicked: {msg}");
        }
        wait_until("the runtime's other task was dropped", BOUND, || {
            drops.load(Ordering::SeqCst) == 1
        });
        assert!(other.is_finished());
    }
}

#[test]
fn handle_current_after_the_runtime_is_gone_is_an_error() {
    let _serial = serial();
    let rt = util::multi_thread(1);
    let handle = rt.block_on(async { Handle::current() });
    drop(rt);
    // A handle outlives its runtime, but gives no context by itself.
    assert!(Handle::try_current().unwrap_err().is_missing_context());
    let _g = handle.enter();
    assert!(Handle::try_current().is_ok());
}
