//! The blocking pool (`spawn_blocking`): results, panics, the `max_blocking_threads` limit
//! (concurrency measured with atomics, threads with `metrics().num_blocking_threads()`),
//! aborting a queued closure, and closures that block on the runtime.

mod util;

use kq::runtime::Builder;
use kq::task::spawn_blocking;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use util::{BOUND, panic_message};

#[test]
fn spawn_blocking_returns_the_closure_result() {
    for rt in [util::current_thread(), util::multi_thread(2)] {
        let out = rt.block_on(async {
            let a = spawn_blocking(|| (1..=10u32).sum::<u32>());
            let b = spawn_blocking(|| std::thread::current().name().map(str::to_owned));
            (a.await.unwrap(), b.await.unwrap())
        });
        assert_eq!(out.0, 55);
        assert_ne!(
            out.1.as_deref(),
            std::thread::current().name(),
            "the closure ran on the caller's thread"
        );
    }
}

#[test]
fn spawn_blocking_panic_is_join_error() {
    for rt in [util::current_thread(), util::multi_thread(2)] {
        rt.block_on(async {
            let err = spawn_blocking(|| -> u8 { panic!("blocking {}", "failure") })
                .await
                .expect_err("the closure panicked");
            assert!(err.is_panic(), "{err:?}");
            assert!(!err.is_cancelled());
            assert_eq!(panic_message(&*err.into_panic()), "blocking failure");
            // The pool still runs closures.
            assert_eq!(spawn_blocking(|| 5).await.unwrap(), 5);
        });
    }
}

/// A gate the closures wait at, opened one permit at a time by the test thread.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    running: usize,
    max_running: usize,
    permits: usize,
    finished: usize,
}

impl Gate {
    fn pass(&self) {
        let mut st = self.state.lock().unwrap();
        st.running += 1;
        st.max_running = st.max_running.max(st.running);
        self.changed.notify_all();
        while st.permits == 0 {
            st = self.changed.wait(st).unwrap();
        }
        st.permits -= 1;
        st.running -= 1;
        st.finished += 1;
        self.changed.notify_all();
    }

    /// Waits (bounded) until `cond` holds of the state.
    #[track_caller]
    fn wait_for(&self, what: &str, cond: impl Fn(&GateState) -> bool) {
        let st = self.state.lock().unwrap();
        let (st, res) = self
            .changed
            .wait_timeout_while(st, BOUND, |st| !cond(st))
            .unwrap();
        assert!(!res.timed_out(), "gave up waiting until {what}");
        drop(st);
    }
}

#[test]
fn max_blocking_threads_limits_concurrency() {
    const CLOSURES: usize = 6;
    const LIMIT: usize = 2;
    for mut builder in [Builder::new_current_thread(), Builder::new_multi_thread()] {
        let rt = builder
            .worker_threads(2)
            .max_blocking_threads(LIMIT)
            .build()
            .unwrap();
        let gate = Arc::new(Gate::default());
        let handles: Vec<_> = (0..CLOSURES)
            .map(|i| {
                let gate = gate.clone();
                rt.spawn_blocking(move || {
                    gate.pass();
                    i
                })
            })
            .collect();
        // Threads are made when closures are queued: never more than the limit.
        assert!(rt.metrics().num_blocking_threads() <= LIMIT);
        // Let one closure out at a time, each time only after LIMIT of them are inside at
        // once: if the pool ran more, they would be inside too.
        for done in 0..CLOSURES {
            let expect_inside = LIMIT.min(CLOSURES - done);
            gate.wait_for("the pool filled up", |st| st.running == expect_inside);
            {
                let st = gate.state.lock().unwrap();
                assert!(
                    st.running <= LIMIT && st.max_running <= LIMIT,
                    "{} closures ran at once with max_blocking_threads({LIMIT})",
                    st.max_running
                );
            }
            assert!(rt.metrics().num_blocking_threads() <= LIMIT);
            gate.state.lock().unwrap().permits += 1;
            gate.changed.notify_all();
            gate.wait_for("a closure finished", |st| st.finished == done + 1);
        }
        let outs = rt.block_on(async {
            let mut outs = Vec::new();
            for h in handles {
                outs.push(h.await.unwrap());
            }
            outs
        });
        assert_eq!(outs, (0..CLOSURES).collect::<Vec<_>>());
        let st = gate.state.lock().unwrap();
        assert_eq!(
            st.max_running, LIMIT,
            "the pool never used its {LIMIT} threads"
        );
        assert_eq!(st.finished, CLOSURES);
        assert!(rt.metrics().num_blocking_threads() <= LIMIT);
    }
}

#[test]
fn abort_of_a_queued_closure_cancels_it() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let gate = Arc::new(Gate::default());
    let g = gate.clone();
    let first = rt.spawn_blocking(move || g.pass());
    gate.wait_for("the only blocking thread is busy", |st| st.running == 1);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let queued = rt.spawn_blocking(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    queued.abort();
    gate.state.lock().unwrap().permits += 1;
    gate.changed.notify_all();
    rt.block_on(async {
        first.await.unwrap();
        let err = queued.await.expect_err("a queued closure that was aborted");
        assert!(err.is_cancelled(), "{err:?}");
    });
    assert_eq!(ran.load(Ordering::SeqCst), 0, "an aborted closure ran");
}

#[test]
fn abort_of_a_running_closure_lets_it_finish() {
    let rt = util::multi_thread(1);
    let gate = Arc::new(Gate::default());
    let g = gate.clone();
    let h = rt.spawn_blocking(move || {
        g.pass();
        "finished anyway"
    });
    gate.wait_for("the closure runs", |st| st.running == 1);
    h.abort();
    gate.state.lock().unwrap().permits += 1;
    gate.changed.notify_all();
    // A closure that started cannot be interrupted: it completes, and its output is kept.
    assert_eq!(rt.block_on(h).unwrap(), "finished anyway");
}

#[test]
fn blocking_closures_outnumbering_threads_all_complete() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(3)
        .thread_keep_alive(Duration::from_millis(50))
        .build()
        .unwrap();
    let out = rt.block_on(async {
        let handles: Vec<_> = (0..200u64).map(|i| spawn_blocking(move || i * 2)).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(out, (0..200u64).map(|i| i * 2).sum::<u64>());
    assert!(rt.metrics().num_blocking_threads() <= 3);
}
