//! When a multi-thread runtime's workers help each other (`scheduler/multi_thread/worker.rs`,
//! "Helping"): a driver turn that wakes a few tasks keeps them on its worker and wakes no
//! sleeping one; a large batch wakes one; tasks kept behind a poll that never yields still
//! run, on the other worker; and an idle runtime stops its watchers' timed wake-ups. Two
//! workers, real timers and a real socketpair.

mod util;

use kq::io::unix::AsyncFd;
use kq::runtime::Runtime;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use util::BOUND;

fn two_workers() -> Runtime {
    util::multi_thread_2()
}

/// Four tasks wake together twenty times (timers with one deadline per round): each round
/// is a batch far below the helping threshold, run by the worker whose turn delivered it.
/// Waking the other worker for every batch (tokio's rule, and kq's before) would count
/// about one notification per round.
#[test]
fn small_batches_of_woken_tasks_wake_no_sleeping_worker() {
    const ROUNDS: u32 = 20;
    let rt = two_workers();
    let start = Instant::now() + Duration::from_millis(100);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            rt.spawn(async move {
                for k in 1..=ROUNDS {
                    kq::time::sleep_until((start + Duration::from_millis(5) * k).into()).await;
                }
            })
        })
        .collect();
    // The spawns above came from outside the workers and woke one; let that settle.
    std::thread::sleep(Duration::from_millis(50));
    let before = rt.metrics().worker_notify_count();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    let notified = rt.metrics().worker_notify_count() - before;
    // A watcher that has been quiet for a while stops and is woken by the next batch: at
    // most once here. The slack is for a slow machine, far below one per round.
    assert!(
        notified <= 4,
        "{notified} notifications for {ROUNDS} batches of 4 tasks"
    );
}

/// Sixty-four tasks wait on one socket's readability; one byte wakes them all in one driver
/// turn. That batch is worth sharing: a sleeping worker is woken.
#[test]
fn a_large_batch_of_woken_tasks_wakes_a_sleeping_worker() {
    let rt = two_workers();
    let (a, mut b) = util::socketpair();
    let fd = rt.block_on(async { Arc::new(AsyncFd::new(a).unwrap()) });
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let fd = fd.clone();
            rt.spawn(async move {
                let _guard = fd.readable().await.unwrap();
            })
        })
        .collect();
    // Every task waits (and the workers sleep) before the byte is sent.
    util::wait_until("the 64 tasks waiting", BOUND, || {
        rt.metrics().poll_count() >= 64
    });
    std::thread::sleep(Duration::from_millis(50));
    let before = rt.metrics().worker_notify_count();
    b.write_all(b"x").unwrap();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert!(
        rt.metrics().worker_notify_count() > before,
        "a batch of 64 woken tasks woke no sleeping worker"
    );
}

/// Three tasks wake together; whichever runs first spins without yielding for 1.2 s. The
/// other two were queued behind it (or their events wait in the driver it is not turning):
/// the sleeping worker must notice and run them long before the spin ends.
#[test]
fn tasks_woken_behind_a_poll_that_never_yields_run_on_the_other_worker() {
    const SPIN: Duration = Duration::from_millis(1200);
    let rt = two_workers();
    let claimed = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_millis(100);
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let claimed = claimed.clone();
            rt.spawn(async move {
                kq::time::sleep_until(deadline.into()).await;
                if claimed.swap(true, Ordering::SeqCst) {
                    // Not the spinner: how long after the wake-up this one got to run.
                    return Some(deadline.elapsed());
                }
                let spin = Instant::now();
                while spin.elapsed() < SPIN {
                    std::hint::spin_loop();
                }
                None
            })
        })
        .collect();
    let waits: Vec<Duration> = rt.block_on(async {
        let mut out = Vec::new();
        for t in tasks {
            out.extend(t.await.unwrap());
        }
        out
    });
    assert_eq!(waits.len(), 2, "exactly one task spins");
    for w in waits {
        // Expected within a few milliseconds (at most about 130 ms after a quiet spell);
        // half the spin is a generous "not absurdly late".
        assert!(
            w < SPIN / 2,
            "a task woken beside a spinning one waited {w:?} for a worker"
        );
    }
}

/// Watchers wake on a timer only while there is something to watch: a runtime with nothing
/// to do parks for good within WATCH_MIN + ... + WATCH_MAX (255 ms).
#[test]
fn an_idle_runtime_stops_waking_itself() {
    let rt = two_workers();
    rt.block_on(async {
        kq::spawn(async {}).await.unwrap();
    });
    std::thread::sleep(Duration::from_millis(700));
    let parks = rt.metrics().park_count();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        rt.metrics().park_count(),
        parks,
        "an idle runtime's workers still wake on a timer"
    );
}
