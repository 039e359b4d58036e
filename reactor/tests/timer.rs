//! Conformance tests for `EVFILT_TIMER`: rows T01–T08 of the checklist in
//! `reactor/README.md`, plus the timer validation cases.
//!
//! Timing assertions are only "never early, not absurdly late": an event must not report
//! more expirations than the time elapsed allows, and must arrive within [`BOUND`]. Periods
//! are scaled down from the checklist's seconds to tens of milliseconds. Timer units are
//! this platform's (on Linux libkqueue's): milliseconds when no unit bit is given.
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_ONESHOT, EVFILT_TIMER, Kevent, Kqueue, NOTE_ABSOLUTE,
    NOTE_NSECONDS, NOTE_SECONDS, NOTE_USECONDS,
};
use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};
use util::*;

/// How late an event may be before a test calls it lost.
const BOUND: Duration = Duration::from_secs(5);

/// Waits until `count` events arrived or `BOUND` passed since `start`; returns each ident
/// with the event and the time since `start` when it was returned.
#[track_caller]
fn collect(kq: &Kqueue, count: usize, start: Instant) -> BTreeMap<usize, (Kevent, Duration)> {
    let mut got = BTreeMap::new();
    while got.len() < count {
        let left = BOUND.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        for ev in wait(kq, count, left) {
            let old = got.insert(ev.ident, (ev, start.elapsed()));
            assert!(
                old.is_none(),
                "timer {} fired twice: {old:?}, {ev:?}",
                ev.ident
            );
        }
    }
    got
}

/// T01: "Periodic timer".
#[test]
fn t01_periodic_timer() {
    // Data ≥ 1, flags has EV_CLEAR, fflags 0, and it repeats; never more expirations than the
    // elapsed time allows.
    let kq = Kqueue::new().unwrap();
    let period = Duration::from_millis(20);
    let start = Instant::now();
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_ADD, 0, 20)]);
    let mut total = 0;
    for _ in 0..3 {
        let ev = expect_one(&kq, BOUND);
        let elapsed = start.elapsed();
        assert_names(&ev, 1, EVFILT_TIMER);
        assert!(ev.data >= 1, "{ev:?}");
        assert_ne!(
            ev.flags & EV_CLEAR,
            0,
            "EV_CLEAR is forced on timers: {ev:?}"
        );
        assert_eq!(ev.fflags, 0, "{ev:?}");
        total += ev.data;
        assert!(
            elapsed >= period * total as u32,
            "{total} expirations after {elapsed:?}"
        );
    }
    assert!(start.elapsed() < BOUND, "{:?}", start.elapsed());
}

/// T02: "Oneshot timer".
#[test]
fn t02_oneshot_timer() {
    // Fires once (data 1, not early), then the knote is gone.
    let kq = Kqueue::new().unwrap();
    let start = Instant::now();
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 30)]);
    let ev = expect_one(&kq, BOUND);
    let elapsed = start.elapsed();
    assert_names(&ev, 1, EVFILT_TIMER);
    assert_eq!(ev.data, 1, "{ev:?}");
    assert_eq!(ev.fflags, 0, "{ev:?}");
    assert!(elapsed >= Duration::from_millis(30), "early: {elapsed:?}");
    assert!(elapsed < BOUND, "{elapsed:?}");
    assert_no_events(&kq);
    assert_eq!(
        apply_errno(&kq, &[kev(1, EVFILT_TIMER, EV_DELETE, 0, 0)]),
        libc::ENOENT
    );
}

/// T03: "Units".
#[test]
fn t03_units() {
    // 1 s written in seconds, milliseconds (no unit bit), microseconds and nanoseconds: each fires
    // after ≥ 1 s and within the bound (a misread unit is either 1000× early or 1000× late).
    let kq = Kqueue::new().unwrap();
    let units = [
        (1, NOTE_SECONDS, 1),
        (2, 0, 1_000),
        (3, NOTE_USECONDS, 1_000_000),
        (4, NOTE_NSECONDS, 1_000_000_000),
    ];
    let start = Instant::now();
    let changes: Vec<_> = units
        .iter()
        .map(|&(id, unit, data)| kev(id, EVFILT_TIMER, EV_ADD | EV_ONESHOT, unit, data))
        .collect();
    apply(&kq, &changes);
    let got = collect(&kq, units.len(), start);
    for (id, unit, _) in units {
        let (ev, at) = got
            .get(&id)
            .unwrap_or_else(|| panic!("unit {unit:#x} did not fire: {got:?}"));
        assert!(
            *at >= Duration::from_secs(1),
            "unit {unit:#x} fired early, after {at:?}"
        );
        assert_eq!(ev.fflags, 0, "{ev:?}");
    }
}

/// T04: "Count expirations".
#[test]
fn t04_count_expirations() {
    // A 20 ms periodic timer read after ≥ 150 ms: data ≥ 5 (7 periods elapsed), never more than
    // the elapsed time allows, and ≤ 200.
    let kq = Kqueue::new().unwrap();
    let start = Instant::now();
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_ADD, 0, 20)]);
    thread::sleep(Duration::from_millis(150));
    let ev = expect_one(&kq, Duration::ZERO);
    let elapsed = start.elapsed();
    assert_names(&ev, 1, EVFILT_TIMER);
    assert!(ev.data >= 5, "missed expirations: {ev:?} after {elapsed:?}");
    assert!(ev.data <= 200, "{ev:?}");
    assert!(
        Duration::from_millis(20) * ev.data as u32 <= elapsed,
        "{} expirations after {elapsed:?}",
        ev.data
    );
}

/// T05: "Modify restarts and discards".
#[test]
fn t05_modify_restarts_and_discards() {
    // Re-adding a 20 ms timer that has expirations pending with a 200 ms period discards them: the
    // first event comes a full new period after the re-add.
    let kq = Kqueue::new().unwrap();
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_ADD, 0, 20)]);
    thread::sleep(Duration::from_millis(100));
    let readd = Instant::now();
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_ADD, 0, 200)]);
    let ev = expect_one(&kq, BOUND);
    let elapsed = readd.elapsed();
    assert_names(&ev, 1, EVFILT_TIMER);
    assert!(
        elapsed >= Duration::from_millis(200),
        "old expirations were delivered after the re-add: {ev:?} after {elapsed:?}"
    );
    assert!(ev.data >= 1, "{ev:?}");
    assert!(
        Duration::from_millis(200) * ev.data as u32 <= elapsed,
        "{ev:?} after {elapsed:?}"
    );
}

/// T05: "re-added timer fires after new period" (FreeBSD "UPDATE": 60 s re-added as 10 ms).
#[test]
fn t05_readd_shorter_period_fires_at_new_period() {
    let kq = Kqueue::new().unwrap();
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 60_000)]);
    let readd = Instant::now();
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 10)]);
    let ev = expect_one(&kq, BOUND);
    let elapsed = readd.elapsed();
    assert_names(&ev, 1, EVFILT_TIMER);
    assert_eq!(ev.data, 1, "{ev:?}");
    assert!(elapsed >= Duration::from_millis(10), "early: {elapsed:?}");
}

/// T05: a deleted timer's deadline does not fire a timer added after it, which may take
/// over its slot in the store (a regression: a new knote's first arming once matched the
/// stale heap entry the deleted one left behind).
#[test]
fn t05_deleted_timer_deadline_does_not_fire_its_successor() {
    let kq = Kqueue::new().unwrap();
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 20)]);
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_DELETE, 0, 0)]);
    let start = Instant::now();
    apply(&kq, &[kev(2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 60_000)]);
    let got = wait(&kq, 1, Duration::from_millis(200));
    assert!(
        got.is_empty(),
        "a 60 s timer fired after {:?}: {got:?}",
        start.elapsed()
    );
}

/// T06: "NOTE_ABSTIME future/past/epoch".
#[test]
fn t06_absolute_time() {
    // Absolute times (since the epoch, in the timer's unit) in the future fire at or after the
    // target; in the past, and at the epoch, as soon as possible.
    let kq = Kqueue::new().unwrap();
    let start = Instant::now();
    let now = since_epoch();
    let target_ms = now.as_millis() as isize + 100;
    let target_us = now.as_micros() as isize + 150_000;
    let past_ms = now.as_millis() as isize - 1_000;
    let flags = EV_ADD | EV_ONESHOT;
    apply(
        &kq,
        &[
            kev(1, EVFILT_TIMER, flags, NOTE_ABSOLUTE, target_ms),
            kev(
                2,
                EVFILT_TIMER,
                flags,
                NOTE_ABSOLUTE | NOTE_USECONDS,
                target_us,
            ),
            kev(3, EVFILT_TIMER, flags, NOTE_ABSOLUTE, past_ms),
            kev(4, EVFILT_TIMER, flags, NOTE_ABSOLUTE | NOTE_SECONDS, 1),
        ],
    );
    let mut fired = BTreeMap::new();
    while fired.len() < 4 && start.elapsed() < BOUND {
        for ev in wait(&kq, 4, BOUND.saturating_sub(start.elapsed())) {
            assert_eq!(ev.fflags, 0, "{ev:?}");
            fired.insert(ev.ident, (since_epoch(), start.elapsed()));
        }
    }
    // 1 ms of slack for converting the realtime target to the clock the timer runs on.
    let slack = Duration::from_millis(1);
    let (wall, _) = fired
        .get(&1)
        .unwrap_or_else(|| panic!("ms target never fired: {fired:?}"));
    assert!(
        *wall + slack >= Duration::from_millis(target_ms as u64),
        "early: {wall:?}"
    );
    let (wall, _) = fired
        .get(&2)
        .unwrap_or_else(|| panic!("µs target never fired: {fired:?}"));
    assert!(
        *wall + slack >= Duration::from_micros(target_us as u64),
        "early: {wall:?}"
    );
    for id in [3, 4] {
        let (_, at) = fired
            .get(&id)
            .unwrap_or_else(|| panic!("past target {id} never fired"));
        assert!(
            *at < Duration::from_secs(2),
            "a past target must fire at once: {at:?}"
        );
    }
}

/// T07: "Zero period".
#[test]
fn t07_zero_period_is_one_unit() {
    // A periodic timer with data 0 runs with a period of 1 unit: 1 ms with no unit bit (many
    // expirations in 50 ms, never more than elapsed), 1 s with NOTE_SECONDS (not earlier than 1
    // s).
    let kq = Kqueue::new().unwrap();
    let start = Instant::now();
    apply(&kq, &[kev(1, EVFILT_TIMER, EV_ADD, 0, 0)]);
    let first = expect_one(&kq, BOUND);
    assert_names(&first, 1, EVFILT_TIMER);
    assert!(first.data >= 1, "{first:?}");
    thread::sleep(Duration::from_millis(50));
    let second = expect_one(&kq, Duration::ZERO);
    let elapsed = start.elapsed();
    assert!(
        second.data >= 10,
        "a 1 ms period should have expired ~50 times: {second:?}"
    );
    let total = (first.data + second.data) as u32;
    assert!(
        Duration::from_millis(1) * total <= elapsed,
        "{total} expirations after {elapsed:?}"
    );

    let kq = Kqueue::new().unwrap();
    let start = Instant::now();
    apply(&kq, &[kev(2, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 0)]);
    let ev = expect_one(&kq, BOUND);
    let elapsed = start.elapsed();
    assert_names(&ev, 2, EVFILT_TIMER);
    assert!(
        elapsed >= Duration::from_secs(1),
        "a 0 s period is 1 s, fired after {elapsed:?}"
    );
}

/// T08: "Bad data/fflags".
#[test]
fn t08_bad_data_or_fflags_einval() {
    // Data < 0, an unknown fflags bit, or two unit bits: EINVAL, and no knote is created; a bad
    // modify of an existing timer fails the same way.
    let kq = Kqueue::new().unwrap();
    for change in [
        kev(1, EVFILT_TIMER, EV_ADD, 0, -1),
        kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_SECONDS, -1),
        kev(1, EVFILT_TIMER, EV_ADD, 0x100, 10),
        kev(1, EVFILT_TIMER, EV_ADD, 0x10, 10),
        kev(1, EVFILT_TIMER, EV_ADD, 0x8000_0000, 10),
        kev(1, EVFILT_TIMER, EV_ADD, NOTE_SECONDS | NOTE_USECONDS, 10),
        kev(1, EVFILT_TIMER, EV_ADD, NOTE_USECONDS | NOTE_NSECONDS, 10),
        kev(
            1,
            EVFILT_TIMER,
            EV_ADD,
            NOTE_SECONDS | NOTE_NSECONDS | NOTE_ABSOLUTE,
            10,
        ),
    ] {
        let evs = kevent_vec(&kq, &[change], 1).unwrap();
        assert_eq!(evs.len(), 1, "{change:?}: {evs:?}");
        assert_error_entry(&evs[0], &change, libc::EINVAL);
        assert_eq!(
            apply_errno(&kq, &[kev(1, EVFILT_TIMER, EV_DELETE, 0, 0)]),
            libc::ENOENT,
            "a rejected {change:?} left a knote"
        );
    }
    apply(&kq, &[kev(2, EVFILT_TIMER, EV_ADD, 0, 60_000)]);
    assert_eq!(
        apply_errno(&kq, &[kev(2, EVFILT_TIMER, EV_ADD, 0, -1)]),
        libc::EINVAL
    );
    assert_eq!(
        apply_errno(&kq, &[kev(2, EVFILT_TIMER, EV_ADD, 0x100, 10)]),
        libc::EINVAL
    );
}

/// Scalability: 1,000,000 timers live at once without a descriptor each; the soonest of
/// them fire, the rest are deleted, and nothing is left behind.
#[test]
fn timers_million_without_an_fd_each() {
    const N: usize = 1_000_000;
    let kq = kq_reactor::Kqueue::new().unwrap();
    let fds_before = open_fds();
    // 999,990 timers an hour away and 10 that fire in 1 ms, all in one changelist.
    let mut changes: Vec<_> = (0..N)
        .map(|i| {
            let ms = if i < N - 10 { 3_600_000 } else { 1 };
            kev(
                i,
                kq_reactor::EVFILT_TIMER,
                kq_reactor::EV_ADD | kq_reactor::EV_ONESHOT,
                0,
                ms,
            )
        })
        .collect();
    apply(&kq, &changes);
    // Other tests of this file run on parallel threads and open descriptors of their own,
    // so allow a little slack; one descriptor per timer would be a million (and EMFILE).
    let fds_after = open_fds();
    assert!(
        fds_after < fds_before + 64,
        "a timer must not cost a descriptor: {fds_before} -> {fds_after}"
    );
    let mut fired = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fired.len() < 10 && Instant::now() < deadline {
        fired.extend(
            wait(&kq, 16, Duration::from_secs(5))
                .into_iter()
                .map(|e| e.ident),
        );
    }
    fired.sort_unstable();
    assert_eq!(
        fired,
        ((N - 10)..N).collect::<Vec<_>>(),
        "exactly the 10 short timers fire"
    );
    for c in &mut changes[..N - 10] {
        c.flags = kq_reactor::EV_DELETE;
    }
    apply(&kq, &changes[..N - 10]);
    // Every knote is gone: deleting any of them again is ENOENT.
    assert_eq!(
        change_errno(
            &kq,
            kev(0, kq_reactor::EVFILT_TIMER, kq_reactor::EV_DELETE, 0, 0)
        ),
        libc::ENOENT
    );
    assert_eq!(
        change_errno(
            &kq,
            kev(N - 1, kq_reactor::EVFILT_TIMER, kq_reactor::EV_DELETE, 0, 0)
        ),
        libc::ENOENT
    );
    assert_no_events(&kq);
}
