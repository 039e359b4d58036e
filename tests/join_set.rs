//! `JoinSet`: results in the order tasks finish, `try_join_next`, `abort_all`, `shutdown`,
//! `join_all`, `len`/`is_empty`, and dropping the set aborting its tasks. Runs on both
//! flavors through `#[kq::test]`.

mod util;

use kq::task::JoinSet;
use kq::time::timeout;
use std::sync::atomic::Ordering;
use util::{BOUND, drop_counter, oneshot, panic_message, yield_until};

#[kq::test]
async fn join_next_yields_results_in_completion_order() {
    let mut set = JoinSet::new();
    let mut gates = Vec::new();
    for i in 0..4u32 {
        let (tx, rx) = oneshot::<()>();
        gates.push(Some(tx));
        set.spawn(async move {
            rx.await.unwrap();
            i
        });
    }
    assert_eq!(set.len(), 4);
    // Release the tasks in an order unrelated to spawning; each result comes back before the
    // next task is released, so the order of results is the order of completion.
    for i in [2u32, 0, 3, 1] {
        gates[i as usize].take().unwrap().send(());
        let got = set.join_next().await.expect("a task is left").unwrap();
        assert_eq!(got, i);
    }
    assert!(set.is_empty());
    assert!(set.join_next().await.is_none());
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_next_order_of_completion_on_workers() {
    let mut set = JoinSet::new();
    let mut gates = Vec::new();
    for i in 0..8usize {
        let (tx, rx) = oneshot::<()>();
        gates.push(Some(tx));
        set.spawn(async move {
            rx.await.unwrap();
            i
        });
    }
    for i in [5usize, 7, 0, 1, 6, 2, 4, 3] {
        gates[i].take().unwrap().send(());
        assert_eq!(set.join_next().await.unwrap().unwrap(), i);
        assert_eq!(set.len(), gates.iter().filter(|g| g.is_some()).count());
    }
    assert!(set.join_next().await.is_none());
}

#[kq::test]
async fn try_join_next_never_waits() {
    let mut set: JoinSet<&'static str> = JoinSet::new();
    assert!(set.try_join_next().is_none(), "an empty set has nothing");
    let (tx, rx) = oneshot::<()>();
    set.spawn(async move {
        rx.await.unwrap();
        "done"
    });
    kq::task::yield_now().await;
    assert!(set.try_join_next().is_none(), "the task has not finished");
    assert_eq!(set.len(), 1);
    tx.send(());
    let start = std::time::Instant::now();
    let res = loop {
        if let Some(res) = set.try_join_next() {
            break res;
        }
        assert!(
            start.elapsed() < BOUND,
            "try_join_next never saw the finished task"
        );
        kq::task::yield_now().await;
    };
    assert_eq!(res.unwrap(), "done");
    assert!(set.is_empty());
    assert!(set.try_join_next().is_none());
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_all_then_join_gives_cancelled_errors() {
    let (drops, guard) = drop_counter();
    let mut set = JoinSet::new();
    let mut started = Vec::new();
    for _ in 0..10 {
        let g = guard();
        let (tx, rx) = oneshot::<()>();
        started.push(rx);
        set.spawn(async move {
            let _g = g;
            tx.send(());
            std::future::pending::<()>().await;
        });
    }
    for rx in started {
        rx.await.unwrap();
    }
    set.abort_all();
    // Aborted tasks stay in the set until joined.
    assert_eq!(set.len(), 10);
    let mut cancelled = 0;
    while let Some(res) = set.join_next().await {
        let err = res.expect_err("an aborted task that never finishes cannot succeed");
        assert!(err.is_cancelled(), "{err:?}");
        cancelled += 1;
    }
    assert_eq!(cancelled, 10);
    assert!(set.is_empty());
    assert_eq!(drops.load(Ordering::SeqCst), 10);
}

#[kq::test]
async fn abort_handle_from_spawn_aborts_one_task() {
    let mut set = JoinSet::new();
    let keep = set.spawn(async { 1 });
    let cancel = set.spawn(std::future::pending::<i32>());
    cancel.abort();
    let mut results = Vec::new();
    while let Some(res) = set.join_next().await {
        results.push(res.map_err(|e| e.is_cancelled()));
    }
    results.sort();
    assert_eq!(results, vec![Ok(1), Err(true)]);
    assert!(keep.is_finished() && cancel.is_finished());
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_aborts_and_waits_for_every_task() {
    let (drops, guard) = drop_counter();
    let mut set = JoinSet::new();
    for _ in 0..20 {
        let g = guard();
        set.spawn(async move {
            let _g = g;
            std::future::pending::<()>().await;
        });
    }
    // Some finished tasks as well: shutdown discards their output.
    for _ in 0..5 {
        set.spawn(async {});
    }
    assert_eq!(set.len(), 25);
    set.shutdown().await;
    assert!(set.is_empty());
    assert_eq!(set.len(), 0);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        20,
        "shutdown returned before every task was dropped"
    );
}

#[kq::test]
async fn join_all_returns_every_output() {
    let mut set = JoinSet::new();
    for i in 0..100u64 {
        set.spawn(async move {
            if i % 3 == 0 {
                kq::task::yield_now().await;
            }
            i * i
        });
    }
    let mut out = set.join_all().await;
    assert_eq!(out.len(), 100);
    out.sort_unstable();
    assert_eq!(out, (0..100u64).map(|i| i * i).collect::<Vec<_>>());
}

#[kq::test]
async fn join_all_resumes_a_task_panic() {
    let joiner = kq::spawn(async {
        let mut set = JoinSet::new();
        set.spawn(async { 1 });
        set.spawn(async {
            if true {
                panic!("inner failure");
            }
            2
        });
        set.join_all().await
    });
    let err = joiner
        .await
        .expect_err("join_all must resume the task's panic");
    assert!(err.is_panic());
    assert_eq!(panic_message(&*err.into_panic()), "inner failure");
}

#[kq::test]
async fn len_and_is_empty_follow_spawns_and_joins() {
    let mut set = JoinSet::new();
    assert!(set.is_empty());
    assert_eq!(set.len(), 0);
    for i in 0..3 {
        set.spawn(async move { i });
        assert_eq!(set.len(), i + 1);
        assert!(!set.is_empty());
    }
    for left in (0..3).rev() {
        set.join_next().await.unwrap().unwrap();
        assert_eq!(set.len(), left);
    }
    assert!(set.is_empty());
    // detach_all empties the set without aborting.
    let (tx, rx) = oneshot::<()>();
    let (done_tx, done_rx) = oneshot::<()>();
    set.spawn(async move {
        rx.await.unwrap();
        done_tx.send(());
        0
    });
    set.detach_all();
    assert!(set.is_empty());
    tx.send(());
    assert_eq!(
        timeout(BOUND, done_rx).await,
        Ok(Some(())),
        "a detached task was not left running"
    );
}

/// Signals its own drop (to prove a task's future was dropped, and when).
struct SignalOnDrop(Option<util::Sender<()>>);

impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            tx.send(());
        }
    }
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_set_aborts_its_tasks() {
    let (drops, guard) = drop_counter();
    let mut dropped = Vec::new();
    let mut set = JoinSet::new();
    for _ in 0..5 {
        let g = guard();
        // Each task signals from its future's destructor.
        let (tx, rx) = oneshot::<()>();
        dropped.push(rx);
        let s = SignalOnDrop(Some(tx));
        set.spawn(async move {
            let _g = g;
            let _s = s;
            std::future::pending::<()>().await;
        });
    }
    kq::task::yield_now().await;
    drop(set);
    for rx in dropped {
        assert_eq!(
            timeout(BOUND, rx).await,
            Ok(Some(())),
            "a task outlived its JoinSet"
        );
    }
    yield_until("every future was dropped", BOUND, || {
        drops.load(Ordering::SeqCst) == 5
    })
    .await;
}

#[test]
fn spawn_on_a_handle_from_outside_the_runtime() {
    let rt = util::multi_thread(2);
    let mut set = JoinSet::new();
    for i in 0..10 {
        set.spawn_on(async move { i * 10 }, rt.handle());
    }
    let mut out = rt.block_on(set.join_all());
    out.sort_unstable();
    assert_eq!(out, (0..10).map(|i| i * 10).collect::<Vec<_>>());
}

#[kq::test]
async fn spawn_blocking_into_the_set() {
    let mut set = JoinSet::new();
    for i in 0..4u32 {
        set.spawn_blocking(move || i + 100);
    }
    let mut out = set.join_all().await;
    out.sort_unstable();
    assert_eq!(out, vec![100, 101, 102, 103]);
}
