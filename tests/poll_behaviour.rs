//! How kq's futures behave when polled by hand (`tokio_test::task::spawn`, a mock task
//! whose waker records wakes) inside a runtime's context (`rt.enter()`): `Sleep`,
//! `JoinHandle`, `AsyncFd::readable`/`writable`, and `Timeout` are `Pending` until their
//! event, wake the task exactly then, and are `Ready` after. A multi-thread runtime's worker
//! turns the driver meanwhile; the tests poll until a bound for the wake.

mod util;

use kq::io::unix::AsyncFd;
use kq::time::{Duration, Instant, sleep, timeout};
use std::io::Write;
use tokio_test::task::spawn as mock;
use tokio_test::{assert_pending, assert_ready, assert_ready_err, assert_ready_ok};
use util::{BOUND, LATE, oneshot, socketpair, wait_until};

#[test]
fn sleep_is_pending_before_its_deadline_and_ready_after() {
    let rt = util::multi_thread(1);
    let _g = rt.enter();
    let d = Duration::from_millis(100);
    let start = Instant::now();
    let mut s = mock(sleep(d));
    assert_pending!(s.poll());
    assert!(!s.is_elapsed());
    // Never woken early: whenever a wake is seen, the deadline has passed.
    wait_until("the sleep's task is woken", BOUND, || {
        let woken = s.is_woken();
        if woken {
            assert!(
                start.elapsed() >= d,
                "woken {:?} early",
                d - start.elapsed()
            );
        }
        woken
    });
    assert!(start.elapsed() < d + LATE, "woken absurdly late");
    assert_ready!(s.poll());
    assert!(s.is_elapsed());
    // Ready stays ready.
    assert_ready!(s.poll());
    assert_eq!(rt.metrics().active_timers(), 0);
}

#[test]
fn sleep_wakes_the_latest_waker() {
    let rt = util::multi_thread(1);
    let _g = rt.enter();
    let mut s = std::pin::pin!(sleep(Duration::from_millis(30)));
    // Polled first by one task, then by another: only the second must be woken.
    let mut first = mock(());
    let mut second = mock(());
    first.enter(|cx, _| assert!(s.as_mut().poll(cx).is_pending()));
    second.enter(|cx, _| assert!(s.as_mut().poll(cx).is_pending()));
    wait_until("the second task is woken", BOUND, || second.is_woken());
    assert!(!first.is_woken(), "a replaced waker was woken");
    second.enter(|cx, _| assert!(s.as_mut().poll(cx).is_ready()));
}

#[test]
fn join_handle_is_pending_until_its_task_completes() {
    let rt = util::multi_thread(1);
    let _g = rt.enter();
    let (tx, rx) = oneshot::<u32>();
    let mut h = mock(kq::spawn(async move { rx.await.unwrap() + 1 }));
    assert_pending!(h.poll());
    assert!(!h.is_woken());
    // The task cannot finish before it is told to.
    wait_until("the task waits for its input", BOUND, || {
        tx.receiver_polled()
    });
    assert_pending!(h.poll());
    tx.send(9);
    wait_until("the JoinHandle's task is woken", BOUND, || h.is_woken());
    assert_eq!(assert_ready_ok!(h.poll()), 10);
}

#[test]
fn join_handle_of_a_cancelled_task_is_woken() {
    let rt = util::multi_thread(1);
    let _g = rt.enter();
    let mut h = mock(kq::spawn(std::future::pending::<()>()));
    assert_pending!(h.poll());
    h.abort();
    wait_until("the JoinHandle's task is woken", BOUND, || h.is_woken());
    let err = assert_ready_err!(h.poll());
    assert!(err.is_cancelled());
}

#[test]
fn async_fd_readable_is_pending_until_the_peer_writes() {
    let rt = util::multi_thread(1);
    let _g = rt.enter();
    let (a, mut b) = socketpair();
    let afd = AsyncFd::new(a).unwrap();
    let mut readable = mock(afd.readable());
    assert_pending!(readable.poll());
    assert_pending!(readable.poll());
    b.write_all(b"x").unwrap();
    wait_until("the reader's task is woken", BOUND, || readable.is_woken());
    let guard = assert_ready_ok!(readable.poll());
    assert!(guard.ready().is_readable());
    assert!(!guard.ready().is_read_closed());
}

#[test]
fn async_fd_writable_becomes_ready_by_itself_on_an_empty_socket() {
    let rt = util::multi_thread(1);
    let _g = rt.enter();
    let (a, _b) = socketpair();
    let afd = AsyncFd::new(a).unwrap();
    // A fresh socket's first event is writable; it comes with a turn of the driver, so the
    // first poll may or may not see it, but it needs nothing from the peer.
    let mut writable = mock(afd.writable());
    if writable.poll().is_pending() {
        wait_until("the writer's task is woken", BOUND, || writable.is_woken());
    }
    let guard = assert_ready_ok!(writable.poll());
    assert!(guard.ready().is_writable());
}

#[test]
fn timeout_is_pending_then_elapses() {
    let rt = util::multi_thread(1);
    let _g = rt.enter();
    let d = Duration::from_millis(50);
    let start = Instant::now();
    let mut t = mock(timeout(d, std::future::pending::<()>()));
    assert_pending!(t.poll());
    wait_until("the timeout's task is woken", BOUND, || t.is_woken());
    assert!(start.elapsed() >= d, "the timeout woke its task early");
    assert_ready_err!(t.poll());
}
