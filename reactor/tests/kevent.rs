//! Conformance tests for the `kevent` call itself: rows K01–K17 of the checklist in
//! `reactor/README.md`, plus the "concurrent modify vs scan" case.
//!
//! K04 (invalid timeout: negative seconds, nanoseconds out of range) and K05 (negative
//! `nchanges`/`nevents`) are enforced by the type system (`Option<Duration>` and slice
//! lengths cannot hold those values); the C library tests them. K06 (`kevent` on a descriptor
//! that is not a kqueue) likewise cannot be written against the Rust API, where a `Kqueue`
//! only comes from `Kqueue::new`; the C library tests it too.
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DROP, EV_ENABLE, EV_EOF, EV_ERROR, EV_FLAG1,
    EV_ONESHOT, EV_RECEIPT, EV_SYSFLAGS, EVFILT_READ, EVFILT_TIMER, EVFILT_USER, Kqueue,
    NOTE_TRIGGER,
};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};
use util::*;

const SHORT: Duration = Duration::from_millis(100);
const BOUND: Duration = Duration::from_secs(5);

/// K01: "kqueue starts empty".
#[test]
fn k01_new_kqueue_is_empty() {
    // A fresh kqueue returns 0 events.
    let kq = Kqueue::new().unwrap();
    assert_no_events(&kq);
}

/// K02: "nevents==0 returns immediately".
#[test]
fn k02_zero_nevents_returns_at_once() {
    // Even with a 5 s timeout, with no timeout at all, and with an event pending.
    let kq = Arc::new(Kqueue::new().unwrap());
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();

    let start = Instant::now();
    let add = kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0);
    assert_eq!(
        kq.kevent(&[add], &mut [], Some(Duration::from_secs(5)))
            .unwrap(),
        0
    );
    assert_eq!(
        kq.kevent(&[], &mut [], Some(Duration::from_secs(5)))
            .unwrap(),
        0
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        start.elapsed()
    );

    // No timeout means "forever", but with no room for events the call must not wait.
    let (tx, rx) = mpsc::channel();
    let kq2 = Arc::clone(&kq);
    thread::spawn(move || {
        let r = kq2.kevent(&[], &mut [], None).map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    let r = rx
        .recv_timeout(BOUND)
        .expect("kevent with nevents == 0 and no timeout blocked");
    assert_eq!(r, Ok(0));

    // The change applied above is there: its event is pending.
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident_of(&a), EVFILT_READ);
}

/// K03: "NULL timeout blocks; zero timeout polls".
#[test]
fn k03_null_timeout_blocks_zero_timeout_polls() {
    // With nothing pending a zero timeout returns 0 at once; no timeout blocks until another
    // thread makes the fd readable.
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    apply(&kq, &[kev(ident_of(&r), EVFILT_READ, EV_ADD, 0, 0)]);

    let start = Instant::now();
    assert_eq!(
        kq.kevent(&[], &mut [ZERO; 1], Some(Duration::ZERO))
            .unwrap(),
        0
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "a zero timeout waited {:?}",
        start.elapsed()
    );

    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(SHORT);
            write_fd(&w, b"x");
        });
        let mut out = [ZERO; 1];
        let n = kq.kevent(&[], &mut out, None).unwrap();
        assert_eq!(n, 1);
        assert_names(&out[0], ident_of(&r), EVFILT_READ);
        assert!(
            start.elapsed() >= SHORT,
            "returned before the write: {:?}",
            start.elapsed()
        );
    });
}

/// K03: "NULL timeout blocks" — until a change made by another thread makes an event pending.
#[test]
fn k03_change_by_another_thread_wakes_waiter() {
    // A trigger, and a new timer that moves the next deadline earlier, wake the blocked thread.
    let kq = Kqueue::new().unwrap();
    apply(&kq, &[kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0)]);
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(SHORT);
            apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
        });
        let mut out = [ZERO; 1];
        let n = kq.kevent(&[], &mut out, None).unwrap();
        assert_eq!(n, 1);
        assert_names(&out[0], 1, EVFILT_USER);
    });

    // Blocked with a 30 s timeout; another thread adds a 10 ms timer.
    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(SHORT);
            apply(&kq, &[kev(2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 10)]);
        });
        let mut out = [ZERO; 1];
        let n = kq
            .kevent(&[], &mut out, Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(n, 1);
        assert_names(&out[0], 2, EVFILT_TIMER);
    });
    assert!(
        start.elapsed() < BOUND,
        "the new timer did not wake the waiter: {:?}",
        start.elapsed()
    );
}

/// K07: "Changelist applied before scan".
#[test]
fn k07_changelist_applied_before_scan() {
    // EV_ADD of a readable socket with room for one event returns that event from the same call.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    let mut out = [ZERO; 1];
    let n = kq
        .kevent(
            &[kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0)],
            &mut out,
            Some(Duration::ZERO),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_names(&out[0], ident_of(&a), EVFILT_READ);
    assert_eq!(out[0].flags & EV_ERROR, 0, "{:?}", out[0]);
    assert_eq!(out[0].data, 1);
}

/// K08: "Same array for change and event list".
#[test]
fn k08_same_array_for_changes_and_events() {
    // One array serves as both; error entries written over its front do not corrupt the changes
    // still to be read.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let (c, mut d) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    d.write_all(b"yy").unwrap();
    let mut list = [ZERO; 4];
    list[0] = kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0);
    list[1] = kev(ident_of(&c), EVFILT_READ, EV_ADD, 0, 0);
    let n = kq
        .kevent_in_place(&mut list, 2, Some(Duration::ZERO))
        .unwrap();
    assert_eq!(n, 2, "{list:?}");
    let mut got: Vec<_> = list[..n]
        .iter()
        .map(|e| (e.ident, e.filter, e.data))
        .collect();
    got.sort_unstable();
    let mut want = vec![
        (ident_of(&a), EVFILT_READ, 1),
        (ident_of(&c), EVFILT_READ, 2),
    ];
    want.sort_unstable();
    assert_eq!(got, want);

    // The first change fails: its entry lands in slot 0 before the second change is read.
    let kq = Kqueue::new().unwrap();
    let bad = kev(99, EVFILT_USER, EV_DELETE, 0, 0);
    let mut list = [bad, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0)];
    let n = kq
        .kevent_in_place(&mut list, 2, Some(Duration::ZERO))
        .unwrap();
    assert_eq!(n, 1, "{list:?}");
    assert_error_entry(&list[0], &bad, libc::ENOENT);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, 1, EVFILT_USER);
}

/// K09: "filter==0 change skipped".
#[test]
fn k09_filter_zero_change_skipped() {
    // No error, no receipt, and the changes after it are still processed.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    let changes = [
        kev(ident_of(&a), 0, EV_ADD | EV_RECEIPT, 0, 0),
        kev(12345, 0, EV_DELETE, 0, 0),
        kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0),
    ];
    let evs = kevent_vec(&kq, &changes, 4).unwrap();
    assert_eq!(evs.len(), 1, "only the read event is expected: {evs:?}");
    assert_names(&evs[0], ident_of(&a), EVFILT_READ);
    assert_eq!(evs[0].flags & EV_ERROR, 0, "{:?}", evs[0]);
    // With no room for an error entry the call does not fail either.
    assert_eq!(apply_errno(&kq, &[kev(12345, 0, EV_DELETE, 0, 0)]), 0);
}

/// K10: "EV_SYSFLAGS stripped on input".
#[test]
fn k10_sysflags_stripped_on_input() {
    // EV_ADD|EV_EOF|EV_DROP|EV_FLAG1|EV_ERROR on a readable socket gives an ordinary knote whose
    // event carries none of those bits until a real EOF.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    let flags = EV_ADD | EV_EOF | EV_DROP | EV_FLAG1 | EV_ERROR;
    let evs = kevent_vec(&kq, &[kev(ident_of(&a), EVFILT_READ, flags, 0, 0)], 2).unwrap();
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_names(&evs[0], ident_of(&a), EVFILT_READ);
    assert_eq!(
        evs[0].flags & EV_SYSFLAGS,
        0,
        "user-supplied system flags leaked: {:?}",
        evs[0]
    );
    assert_eq!(evs[0].data, 1);
    // EV_DROP was not kept: the knote is still there and still level-triggered.
    let ev = expect_one(&kq, Duration::ZERO);
    assert_eq!(ev.flags & EV_SYSFLAGS, 0, "{ev:?}");
    // A real EOF does set EV_EOF.
    drop(b);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_ne!(ev.flags & EV_EOF, 0, "{ev:?}");
}

/// K11: "Aggregation".
#[test]
fn k11_activations_aggregate() {
    // Three 1-byte writes before kevent give one event with data 3.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    apply(&kq, &[kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0)]);
    for _ in 0..3 {
        b.write_all(b"x").unwrap();
    }
    let evs = poll(&kq, 8);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_names(&evs[0], ident_of(&a), EVFILT_READ);
    assert_eq!(evs[0].data, 3);
}

/// K12: "Level-triggered default stays pending".
#[test]
fn k12_level_triggered_stays_pending() {
    // A readable socket is returned by two calls in a row when nothing is read.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    apply(&kq, &[kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0)]);
    for _ in 0..2 {
        let ev = expect_one(&kq, Duration::ZERO);
        assert_names(&ev, ident_of(&a), EVFILT_READ);
        assert_eq!(ev.data, 1);
    }
}

/// K13: "Stale readiness dropped at retrieval".
#[test]
fn k13_stale_readiness_dropped_at_retrieval() {
    // An event queued, then the fd drained, then kevent: 0 events.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    apply(&kq, &[kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0)]);
    b.write_all(b"x").unwrap();
    assert_eq!(read_fd(&a, 16), 1);
    assert_no_events(&kq);

    // The same after the event was certainly queued: delivered once, so it is re-queued.
    b.write_all(b"x").unwrap();
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident_of(&a), EVFILT_READ);
    assert_eq!(read_fd(&a, 16), 1);
    assert_no_events(&kq);
}

/// K14: "LT knote returned at most once per call".
#[test]
fn k14_level_knote_once_per_call() {
    // One readable knote, room for 4: 1 event.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    apply(&kq, &[kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0)]);
    let evs = poll(&kq, 4);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_names(&evs[0], ident_of(&a), EVFILT_READ);
}

/// K15: "FIFO delivery order".
#[test]
fn k15_fifo_delivery_order() {
    // Activate B then A (registered A then B): B before A.
    let kq = Kqueue::new().unwrap();
    let (a, mut a_peer) = UnixStream::pair().unwrap();
    let (b, mut b_peer) = UnixStream::pair().unwrap();
    apply(
        &kq,
        &[
            kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0),
            kev(ident_of(&b), EVFILT_READ, EV_ADD, 0, 0),
        ],
    );
    b_peer.write_all(b"x").unwrap();
    a_peer.write_all(b"x").unwrap();
    let evs = poll(&kq, 4);
    let order: Vec<_> = evs.iter().map(|e| e.ident).collect();
    assert_eq!(order, [ident_of(&b), ident_of(&a)], "{evs:?}");

    // The same with user events triggered in one call, 2 then 1.
    let kq = Kqueue::new().unwrap();
    apply(
        &kq,
        &[
            kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0),
            kev(2, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0),
        ],
    );
    apply(
        &kq,
        &[
            kev(2, EVFILT_USER, 0, NOTE_TRIGGER, 0),
            kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0),
        ],
    );
    let order: Vec<_> = poll(&kq, 4).iter().map(|e| e.ident).collect();
    assert_eq!(order, [2, 1]);
}

/// K16: "EINTR, changes applied".
#[test]
fn k16_eintr_changes_applied() {
    // A thread blocked in kevent with a changelist is interrupted by a handled signal: -1 EINTR,
    // and the change is in effect afterwards.
    install_noop_handler(libc::SIGUSR2);
    let kq = Kqueue::new().unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            // SAFETY: pthread_self has no preconditions.
            tid_tx.send(unsafe { libc::pthread_self() }).unwrap();
            let mut out = [ZERO; 1];
            let r = kq.kevent(
                &[kev(7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0)],
                &mut out,
                None,
            );
            done_tx.send(()).unwrap();
            r.map(|n| (n, out[0]))
        });
        let tid = tid_rx.recv().unwrap();
        // A signal that lands before the waiter blocks only runs the handler, so keep
        // signalling until the waiter returns. The waiter is alive until it has sent `done`.
        let mut woken = false;
        for _ in 0..50 {
            thread::sleep(SHORT);
            // SAFETY: `tid` names the waiter thread, which has not sent `done` yet and so has
            // not exited; SIGUSR2 has a handler.
            let rc = unsafe { libc::pthread_kill(tid, libc::SIGUSR2) };
            assert_eq!(rc, 0);
            if done_rx.recv_timeout(SHORT).is_ok() {
                woken = true;
                break;
            }
        }
        if !woken {
            // Unblock the waiter so the failure below is reported instead of hanging.
            apply(&kq, &[kev(7, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
        }
        let r = waiter.join().unwrap();
        let err = r.expect_err("kevent was not interrupted by the handled signal");
        assert_eq!(err.raw_os_error(), Some(libc::EINTR), "{err}");
    });
    // The change made in the interrupted call is in effect.
    assert_eq!(
        apply_errno(&kq, &[kev(7, EVFILT_USER, 0, NOTE_TRIGGER, 0)]),
        0
    );
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, 7, EVFILT_USER);
}

/// K17: "Concurrent scanners see LT event".
#[test]
fn k17_concurrent_scanners_see_level_event() {
    // Two threads × 1000 zero-timeout calls on a readable pipe: every call returns 1.
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    write_fd(&w, b"x");
    apply(&kq, &[kev(ident_of(&r), EVFILT_READ, EV_ADD, 0, 0)]);
    let barrier = Barrier::new(2);
    thread::scope(|s| {
        for t in 0..2 {
            let (kq, barrier, r) = (&kq, &barrier, &r);
            s.spawn(move || {
                barrier.wait();
                for i in 0..1000 {
                    let mut out = [ZERO; 1];
                    let n = kq.kevent(&[], &mut out, Some(Duration::ZERO)).unwrap();
                    assert_eq!(n, 1, "thread {t}, call {i}: the level event was not seen");
                    assert_names(&out[0], ident_of(r), EVFILT_READ);
                }
            });
        }
    });
}

/// K17: "concurrent modify vs scan".
#[test]
fn k17_concurrent_modify_while_scanning() {
    // While one thread adds, disables, enables and deletes a knote over and over, another scans:
    // every call succeeds, every event is well-formed (a udata the modifier set, data 1, never
    // EV_ERROR, at most one per call), and the final state wins.
    const ROUNDS: usize = 2000;
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    write_fd(&w, b"x");
    let ident = ident_of(&r);
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let scanner = s.spawn(|| {
            let mut seen = 0usize;
            while !done.load(Ordering::Acquire) {
                let mut out = [ZERO; 4];
                let n = kq.kevent(&[], &mut out, Some(Duration::ZERO)).unwrap();
                assert!(
                    n <= 1,
                    "one knote, several events in one call: {:?}",
                    &out[..n]
                );
                for ev in &out[..n] {
                    assert_names(ev, ident, EVFILT_READ);
                    assert_eq!(ev.flags & EV_ERROR, 0, "{ev:?}");
                    assert_eq!(ev.data, 1, "{ev:?}");
                    assert!((1..=ROUNDS).contains(&(ev.udata as usize)), "{ev:?}");
                    seen += 1;
                }
            }
            seen
        });
        for i in 1..=ROUNDS {
            for flags in [EV_ADD, EV_DISABLE, EV_ENABLE, EV_DELETE] {
                apply(&kq, &[kev_udata(ident, EVFILT_READ, flags, 0, 0, i)]);
            }
        }
        apply(&kq, &[kev_udata(ident, EVFILT_READ, EV_ADD, 0, 0, ROUNDS)]);
        done.store(true, Ordering::Release);
        scanner.join().unwrap();
    });
    let evs = poll(&kq, 4);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0].udata as usize, ROUNDS);
}

/// Bad input: a changelist written with another platform's constants gets an `EV_ERROR`
/// entry per change with the errno FreeBSD gives an unknown or null filter; nothing panics.
#[test]
fn foreign_platform_values_get_errors() {
    let kq = Kqueue::new().unwrap();
    let cases: [(i16, i32); 5] = [
        (-10, libc::ENXIO),  // macOS/OpenBSD EVFILT_USER: EVFILT_LIO here (a null filter)
        (-8, libc::EINVAL),  // FreeBSD EVFILT_PROCDESC / macOS EVFILT_MACHPORT
        (-14, libc::EINVAL), // FreeBSD EVFILT_JAIL
        (5, libc::EINVAL),   // NetBSD's 0-based EVFILT_SIGNAL
        (i16::MIN, libc::EINVAL),
    ];
    for (filter, errno) in cases {
        let got = change_errno(&kq, kev(1, filter, kq_reactor::EV_ADD, 0, 0));
        assert_eq!(got, errno, "filter {filter}");
    }
    // NetBSD's EVFILT_READ is 0: FreeBSD (and kq) skip filter 0 silently (K09).
    assert_eq!(change_errno(&kq, kev(0, 0, kq_reactor::EV_ADD, 0, 0)), 0);
    assert_no_events(&kq);
}

/// A kqueue watched by another (a READ knote on its descriptor, `EV_CLEAR`) whose own lock
/// is busy — another thread is making changes in it — when the kernel reports its
/// descriptor readable: the watcher must still see the new event. (On Linux the watching
/// kqueue asks the watched one for its activity without waiting for its lock; a miss must
/// be made up for when that lock is released, not dropped.)
#[test]
fn a_watched_kqueue_busy_with_changes_still_wakes_its_watcher() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::sync::Arc;
    let inner = Arc::new(Kqueue::new().unwrap());
    let outer = Kqueue::new().unwrap();
    let (rx, mut tx) = UnixStream::pair().unwrap();
    apply(
        &inner,
        &[kev(ident_of(&rx), EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0)],
    );
    apply(
        &outer,
        &[kev(
            inner.as_raw_fd() as usize,
            EVFILT_READ,
            EV_ADD | EV_CLEAR,
            0,
            0,
        )],
    );
    let stop = Arc::new(AtomicBool::new(false));
    // Keeps the inner kqueue's lock busy: timer knotes added and deleted, changes only.
    let busy = {
        let (inner, stop) = (inner.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let t = [
                    kev(1, EVFILT_TIMER, EV_ADD, 0, 60_000),
                    kev(1, EVFILT_TIMER, EV_DELETE, 0, 0),
                ];
                inner.kevent(&t, &mut [], None).unwrap();
            }
        })
    };
    let mut missed = 0;
    let mut buf = [0u8; 16];
    for _ in 0..2000 {
        tx.write_all(b"x").unwrap();
        let evs = wait(&outer, 4, Duration::from_secs(2));
        if evs.is_empty() {
            missed += 1;
            if missed == 3 {
                break;
            }
        }
        // Consume the inner event and the byte, so the next write is a new edge.
        let _ = wait(&inner, 4, Duration::from_secs(2));
        let _ = (&rx).read(&mut buf).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    assert_eq!(missed, 0, "the watcher missed events of the busy kqueue");
}

/// With `edge_data(false)` (the runtime's kqueue), an `EV_CLEAR` READ knote on another
/// kqueue's descriptor is delivered from the kernel's report alone (`data` 0), without
/// asking the watched kqueue: the watcher then takes the events itself. Each new event of
/// the watched kqueue is a new report.
#[test]
fn a_lean_kqueue_reports_a_watched_kqueue_from_the_kernel_alone() {
    use std::os::fd::AsRawFd;
    let inner = Kqueue::new().unwrap();
    let outer = Kqueue::builder().edge_data(false).build().unwrap();
    apply(&inner, &[kev(7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0)]);
    let ident = inner.as_raw_fd() as usize;
    apply(&outer, &[kev(ident, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0)]);
    assert_eq!(
        wait(&outer, 4, Duration::from_millis(20)),
        vec![],
        "nothing yet"
    );
    for round in 0..3 {
        apply(&inner, &[kev(7, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
        let evs = wait(&outer, 4, Duration::from_secs(5));
        assert_eq!(evs.len(), 1, "round {round}: {evs:?}");
        assert_eq!((evs[0].ident, evs[0].filter), (ident, EVFILT_READ));
        assert_eq!(evs[0].data, 0, "no data computed");
        // The watcher takes the event; the inner kqueue is empty again.
        let taken = wait(&inner, 4, Duration::ZERO);
        assert_eq!(taken.len(), 1, "round {round}: {taken:?}");
        assert_eq!(
            wait(&outer, 4, Duration::from_millis(20)),
            vec![],
            "round {round}: one report per event"
        );
    }
}
