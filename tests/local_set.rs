//! `LocalSet` and `spawn_local`: `!Send` tasks sharing `Rc` state, `run_until`, `block_on`,
//! awaiting the set, wake-ups from other threads, dropping the set, and the panic of
//! `spawn_local` outside a set. On current-thread and multi-thread runtimes.

mod util;

use kq::runtime::Runtime;
use kq::task::{LocalSet, spawn_local, yield_now};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use util::{BOUND, drop_counter, expect_panic, oneshot, wait_until};

fn runtimes() -> [Runtime; 2] {
    [util::current_thread(), util::multi_thread(2)]
}

#[test]
fn spawn_local_tasks_share_rc_state() {
    for rt in runtimes() {
        let local = LocalSet::new();
        let log = local.block_on(&rt, async {
            let log = Rc::new(RefCell::new(Vec::new()));
            let handles: Vec<_> = (0..10)
                .map(|i| {
                    let log = log.clone();
                    spawn_local(async move {
                        yield_now().await;
                        log.borrow_mut().push(i);
                        Rc::strong_count(&log)
                    })
                })
                .collect();
            for h in handles {
                assert!(h.await.unwrap() >= 2);
            }
            Rc::try_unwrap(log)
                .expect("every task dropped its Rc")
                .into_inner()
        });
        let mut log = log;
        log.sort_unstable();
        assert_eq!(log, (0..10).collect::<Vec<_>>(), "{rt:?}");
    }
}

#[test]
fn run_until_runs_local_tasks_while_the_future_waits() {
    for rt in runtimes() {
        let local = LocalSet::new();
        let out = rt.block_on(local.run_until(async {
            let counter = Rc::new(Cell::new(0));
            let c = counter.clone();
            let h = spawn_local(async move {
                for _ in 0..5 {
                    c.set(c.get() + 1);
                    yield_now().await;
                }
                "local done"
            });
            let out = h.await.unwrap();
            (out, counter.get())
        }));
        assert_eq!(out, ("local done", 5), "{rt:?}");
    }
}

#[test]
fn awaiting_the_set_runs_every_task() {
    for rt in runtimes() {
        let local = LocalSet::new();
        let ran = Rc::new(Cell::new(0));
        for i in 0..50 {
            let ran = ran.clone();
            // Spawned before the set runs: queued until it does.
            local.spawn_local(async move {
                if i % 2 == 0 {
                    yield_now().await;
                }
                // A task spawning another local task.
                let r = ran.clone();
                spawn_local(async move { r.set(r.get() + 1) })
                    .await
                    .unwrap();
                ran.set(ran.get() + 1);
            });
        }
        assert_eq!(ran.get(), 0, "nothing runs before the set is driven");
        rt.block_on(local);
        assert_eq!(ran.get(), 100, "{rt:?}");
    }
}

#[test]
fn local_task_woken_from_another_thread() {
    for rt in runtimes() {
        let local = LocalSet::new();
        let out = local.block_on(&rt, async {
            let (tx, rx) = oneshot::<u32>();
            let state = Rc::new(Cell::new(1));
            let s = state.clone();
            let h = spawn_local(async move {
                let v = rx.await.unwrap();
                s.set(s.get() + v);
                s.get()
            });
            let t = std::thread::spawn(move || {
                wait_until("the local task waits", BOUND, || tx.receiver_polled());
                tx.send(41);
            });
            let out = h.await.unwrap();
            t.join().unwrap();
            assert_eq!(state.get(), 42);
            out
        });
        assert_eq!(out, 42, "{rt:?}");
    }
}

#[test]
fn local_task_woken_by_a_send_task_on_the_runtime() {
    for rt in runtimes() {
        let local = LocalSet::new();
        let out = local.block_on(&rt, async {
            let (tx, rx) = oneshot::<&'static str>();
            let h = spawn_local(async move { rx.await.unwrap() });
            kq::spawn(async move {
                yield_now().await;
                tx.send("from a Send task");
            });
            h.await.unwrap()
        });
        assert_eq!(out, "from a Send task", "{rt:?}");
    }
}

#[test]
fn local_tasks_abort_and_panic() {
    let rt = util::current_thread();
    let local = LocalSet::new();
    local.block_on(&rt, async {
        let h = spawn_local(std::future::pending::<()>());
        yield_now().await;
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        let p = spawn_local(async {
            if true {
                panic!("local panic");
            }
        });
        let err = p.await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(util::panic_message(&*err.into_panic()), "local panic");
        // The set still runs tasks.
        assert_eq!(spawn_local(async { 3 }).await.unwrap(), 3);
    });
}

#[test]
fn dropping_the_set_drops_pending_tasks() {
    for rt in runtimes() {
        let (drops, guard) = drop_counter();
        let local = LocalSet::new();
        let rc_state = Rc::new(());
        let handles = local.block_on(&rt, async {
            (0..3)
                .map(|_| {
                    let g = guard();
                    let rc = rc_state.clone();
                    spawn_local(async move {
                        let _g = g;
                        let _rc = rc;
                        std::future::pending::<()>().await;
                    })
                })
                .collect::<Vec<_>>()
        });
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(local);
        assert_eq!(drops.load(Ordering::SeqCst), 3, "{rt:?}");
        assert_eq!(Rc::strong_count(&rc_state), 1, "a task kept its Rc");
        for h in handles {
            assert!(h.is_finished());
            let err = rt.block_on(h).unwrap_err();
            assert!(err.is_cancelled(), "{err:?}");
        }
    }
}

#[test]
fn spawn_local_outside_a_local_set_panics_with_a_clear_message() {
    let msg = expect_panic(|| spawn_local(async {}));
    assert!(
        msg.contains("spawn_local") && msg.contains("LocalSet"),
        "unclear message: {msg}"
    );
    // Inside a runtime but outside a set: the same.
    let rt = util::current_thread();
    let msg = rt.block_on(async { expect_panic(|| spawn_local(async {})) });
    assert!(msg.contains("LocalSet"), "unclear message: {msg}");
}

#[test]
fn join_set_of_local_tasks() {
    for rt in runtimes() {
        let local = LocalSet::new();
        let out = local.block_on(&rt, async {
            let shared = Rc::new(Cell::new(0));
            let mut set = kq::task::JoinSet::new();
            for i in 0..10 {
                let shared = shared.clone();
                set.spawn_local(async move {
                    yield_now().await;
                    shared.set(shared.get() + i);
                    i
                });
            }
            let mut outs = set.join_all().await;
            outs.sort_unstable();
            assert_eq!(outs, (0..10).collect::<Vec<_>>());
            shared.get()
        });
        assert_eq!(out, 45, "{rt:?}");
    }
}
