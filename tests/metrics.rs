//! Runtime metrics and the driver's claim of one `kevent` call per loop turn:
//! `kevent_calls == driver_turns + direct_applies + wake_triggers` on both flavors, and on a
//! current-thread runtime driven only from its own thread no direct applies and no triggers,
//! so `kevent_calls == driver_turns`. Also `spawned_tasks_count`, `num_workers`,
//! `events_delivered`, `changes_submitted`, `io_registrations`, `active_timers`,
//! `num_alive_tasks`.

mod util;

use kq::io::unix::AsyncFd;
use kq::io::{AsyncReadExt, AsyncWriteExt};
use kq::runtime::{Builder, Runtime, RuntimeMetrics};
use kq::time::{Duration, sleep};
use util::{BOUND, socketpair, wait_until};

/// 200 ping-pongs of one byte over a socketpair between two tasks, with a 1 ms sleep every
/// 10: I/O and timers, all on the runtime's own threads.
async fn ping_pong() {
    let (a, b) = socketpair();
    let (mut a, mut b) = (AsyncFd::new(a).unwrap(), AsyncFd::new(b).unwrap());
    let pong = kq::spawn(async move {
        let mut byte = [0u8; 1];
        for i in 0..200u32 {
            b.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], i as u8);
            b.write_all(&byte).await.unwrap();
        }
    });
    let mut byte = [0u8; 1];
    for i in 0..200u32 {
        if i % 10 == 0 {
            sleep(Duration::from_millis(1)).await;
        }
        a.write_all(&[i as u8]).await.unwrap();
        a.read_exact(&mut byte).await.unwrap();
        assert_eq!(byte[0], i as u8);
    }
    pong.await.unwrap();
}

#[track_caller]
fn assert_identity(m: &RuntimeMetrics) {
    assert_eq!(
        m.kevent_calls(),
        m.driver_turns() + m.direct_applies() + m.wake_triggers(),
        "every kevent call is a turn, a direct apply or a trigger: {m:?} direct={} triggers={}",
        m.direct_applies(),
        m.wake_triggers()
    );
}

#[test]
fn current_thread_makes_one_kevent_call_per_turn() {
    let rt = util::current_thread();
    rt.block_on(ping_pong());
    let m = rt.metrics();
    assert_identity(&m);
    // Nothing but the runtime's own thread touched the driver: no change was applied
    // directly and nobody had to be woken by a trigger.
    assert_eq!(m.direct_applies(), 0);
    assert_eq!(m.wake_triggers(), 0);
    assert_eq!(m.kevent_calls(), m.driver_turns());
    assert!(m.driver_turns() > 0);
    assert!(m.events_delivered() > 0, "{m:?}");
    assert!(m.changes_submitted() > 0, "{m:?}");
    // The runtime waits in kevent while the peer task answers, and every turn delivers at
    // most what it waited for: turns are bounded by the work done.
    assert!(
        m.driver_turns() < 200 * 10,
        "{} turns for 200 ping-pongs",
        m.driver_turns()
    );
}

#[test]
fn kevent_identity_holds_on_multi_thread() {
    for workers in [1, 2, 4] {
        let rt = util::multi_thread(workers);
        let m = rt.metrics();
        rt.block_on(async {
            let handles: Vec<_> = (0..4).map(|_| kq::spawn(ping_pong())).collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        // Read once the workers are stopped, so that no counter moves between the reads.
        drop(rt);
        assert_identity(&m);
        assert!(m.driver_turns() > 0);
        assert!(m.events_delivered() > 0, "{m:?}");
        assert!(m.changes_submitted() > 0, "{m:?}");
    }
}

#[test]
fn kevent_identity_holds_with_wakes_from_other_threads() {
    // Plain threads unpark the runtime and add timers while it waits in kevent, which is
    // what direct applies and triggers are for.
    for rt in [util::current_thread(), util::multi_thread(2)] {
        let m = rt.metrics();
        let handle = rt.handle().clone();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let handle = handle.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        let h = handle.spawn(async { sleep(Duration::from_millis(1)).await });
                        handle.block_on(h).unwrap();
                    }
                })
            })
            .collect();
        rt.block_on(async {
            sleep(Duration::from_millis(20)).await;
        });
        for t in threads {
            t.join().unwrap();
        }
        drop(rt);
        assert_identity(&m);
    }
}

#[test]
fn spawned_tasks_count_counts_spawns() {
    for rt in [util::current_thread(), util::multi_thread(2)] {
        let m = rt.metrics();
        let before = m.spawned_tasks_count();
        rt.block_on(async {
            for _ in 0..10 {
                kq::spawn(async {}).await.unwrap();
            }
            // Nested spawns count too; blocking closures and block_on do not.
            kq::spawn(async { kq::spawn(async {}).await.unwrap() })
                .await
                .unwrap();
            kq::task::spawn_blocking(|| ()).await.unwrap();
        });
        assert_eq!(m.spawned_tasks_count() - before, 12, "{rt:?}");
        // Every one of them finished.
        wait_until("every task left the runtime", BOUND, || {
            m.num_alive_tasks() == 0
        });
        assert!(m.poll_count() >= 12);
    }
}

#[test]
fn num_alive_tasks_counts_tasks_not_yet_finished() {
    let rt = util::multi_thread(2);
    let m = rt.metrics();
    let (tx, rx) = util::oneshot::<()>();
    let waiting = rt.spawn(rx);
    let idle: Vec<_> = (0..5)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    assert_eq!(m.num_alive_tasks(), 6);
    tx.send(());
    rt.block_on(waiting).unwrap();
    wait_until("the finished task left the count", BOUND, || {
        m.num_alive_tasks() == 5
    });
    for h in &idle {
        h.abort();
    }
    wait_until("aborted tasks left the count", BOUND, || {
        m.num_alive_tasks() == 0
    });
}

#[test]
fn num_workers_is_what_was_built() {
    assert_eq!(util::current_thread().metrics().num_workers(), 1);
    for n in [1, 2, 3, 4] {
        assert_eq!(util::multi_thread(n).metrics().num_workers(), n);
    }
    let default = Runtime::new().unwrap();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(default.metrics().num_workers(), cpus);
    let built = Builder::new_multi_thread().build().unwrap();
    assert_eq!(built.metrics().num_workers(), cpus);
}

#[test]
fn io_metrics_move_with_io() {
    let rt = util::current_thread();
    let m = rt.metrics();
    let (events, changes) = (m.events_delivered(), m.changes_submitted());
    rt.block_on(async {
        let (a, b) = socketpair();
        let (mut a, mut b) = (AsyncFd::new(a).unwrap(), AsyncFd::new(b).unwrap());
        assert_eq!(m.io_registrations(), 2);
        a.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        b.read_exact(&mut buf).await.unwrap();
    });
    assert_eq!(m.io_registrations(), 0);
    // Two descriptors, a read and a write knote each.
    assert!(m.changes_submitted() >= changes + 4, "{m:?}");
    assert!(m.events_delivered() > events, "{m:?}");
}

#[test]
fn active_timers_counts_armed_timers() {
    let rt = util::multi_thread(1);
    let m = rt.metrics();
    assert_eq!(m.active_timers(), 0);
    let (tx, rx) = util::oneshot::<()>();
    let sleepers: Vec<_> = (0..10)
        .map(|_| rt.spawn(async { sleep(Duration::from_secs(3600)).await }))
        .collect();
    let short = rt.spawn(async move {
        sleep(Duration::from_millis(5)).await;
        tx.send(());
    });
    wait_until("the sleeps are armed", BOUND, || m.active_timers() >= 10);
    rt.block_on(rx).unwrap();
    rt.block_on(short).unwrap();
    assert_eq!(m.active_timers(), 10, "a fired sleep still counts");
    for s in &sleepers {
        s.abort();
    }
    wait_until("aborted sleeps disarmed", BOUND, || m.active_timers() == 0);
}

#[test]
fn metrics_debug_names_the_counters() {
    let rt = util::current_thread();
    let text = format!("{:?}", rt.metrics());
    for name in [
        "workers",
        "spawned",
        "driver_turns",
        "kevent_calls",
        "events",
    ] {
        assert!(text.contains(name), "{name} missing from {text}");
    }
}
