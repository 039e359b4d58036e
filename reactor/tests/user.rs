//! Conformance tests for `EVFILT_USER`: rows U01–U05 of the checklist in
//! `reactor/README.md`, plus the extra cases (NOTE_FFAND/NOTE_FFOR/NOTE_FFCOPY,
//! `data` passed through).
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_ENABLE, EVFILT_USER, Kqueue, NOTE_FFAND,
    NOTE_FFCOPY, NOTE_FFLAGSMASK, NOTE_FFNOP, NOTE_FFOR, NOTE_TRIGGER,
};
use std::thread;
use std::time::{Duration, Instant};
use util::*;

/// U01: "USER add/delete".
#[test]
fn u01_add_delete_no_events() {
    // Adding and deleting a user knote reports no events; a second delete fails with ENOENT.
    let kq = Kqueue::new().unwrap();
    assert_eq!(apply_errno(&kq, &[kev(1, EVFILT_USER, EV_ADD, 0, 0)]), 0);
    assert_no_events(&kq);
    assert_eq!(apply_errno(&kq, &[kev(1, EVFILT_USER, EV_DELETE, 0, 0)]), 0);
    assert_no_events(&kq);
    assert_eq!(
        apply_errno(&kq, &[kev(1, EVFILT_USER, EV_DELETE, 0, 0)]),
        libc::ENOENT
    );
}

/// U02: "Trigger".
#[test]
fn u02_trigger_once() {
    // Added with EV_CLEAR, a NOTE_TRIGGER modify gives one event, and none after it.
    let kq = Kqueue::new().unwrap();
    apply(&kq, &[kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0)]);
    assert_no_events(&kq);
    apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, 1, EVFILT_USER);
    assert_ne!(ev.flags & EV_CLEAR, 0, "{ev:?}");
    assert_no_events(&kq);
}

/// U02: "Trigger" — from another thread, waking a thread blocked in kevent (user.c "wait").
#[test]
fn u02_trigger_wakes_blocked_waiter() {
    let kq = Kqueue::new().unwrap();
    apply(&kq, &[kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0)]);
    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(100));
            apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
        });
        let ev = expect_one(&kq, Duration::from_secs(30));
        assert_names(&ev, 1, EVFILT_USER);
    });
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    assert_no_events(&kq);
}

/// U03: "Disabled trigger".
#[test]
fn u03_disabled_trigger() {
    // A trigger of a disabled knote reports nothing; after enable and trigger, one event.
    let kq = Kqueue::new().unwrap();
    apply(&kq, &[kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0)]);
    apply(&kq, &[kev(1, EVFILT_USER, EV_DISABLE, 0, 0)]);
    apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
    assert_no_events(&kq);
    apply(&kq, &[kev(1, EVFILT_USER, EV_ENABLE, 0, 0)]);
    apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, 1, EVFILT_USER);
    assert_no_events(&kq);
}

/// U04: "fflags ops".
#[test]
fn u04_fflags_operations() {
    // FFCOPY 0x5, then FFOR 0x2 -> 0x7, FFAND 0x6 -> 0x6, FFCOPY 0x11 -> 0x11, FFNOP -> unchanged;
    // only the low 24 bits are returned (never the control bits or NOTE_TRIGGER).
    let kq = Kqueue::new().unwrap();
    apply(
        &kq,
        &[kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 0x5, 0)],
    );
    for (op, want) in [
        (NOTE_FFOR | 0x2, 0x7),
        (NOTE_FFAND | 0x6, 0x6),
        (NOTE_FFCOPY | 0x11, 0x11),
        (NOTE_FFNOP | 0x3, 0x11),
        (NOTE_FFOR | 0x00ff_0000, 0x00ff_0011),
    ] {
        apply(&kq, &[kev(1, EVFILT_USER, 0, op | NOTE_TRIGGER, 0)]);
        let ev = expect_one(&kq, Duration::ZERO);
        assert_names(&ev, 1, EVFILT_USER);
        assert_eq!(ev.fflags, want, "after {op:#x}: {ev:?}");
        assert_eq!(ev.fflags & !NOTE_FFLAGSMASK, 0, "{ev:?}");
    }
}

/// U04/U05 ("data passthrough"): "data = the `data` last passed in a modify".
#[test]
fn u04_data_is_last_passed_value() {
    // At add or in the last modify, negative values included.
    let kq = Kqueue::new().unwrap();
    apply(
        &kq,
        &[kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 99)],
    );
    let ev = expect_one(&kq, Duration::ZERO);
    assert_eq!(ev.data, 99, "{ev:?}");
    for data in [42, -5, 0, isize::MAX] {
        apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, data)]);
        let ev = expect_one(&kq, Duration::ZERO);
        assert_names(&ev, 1, EVFILT_USER);
        assert_eq!(ev.data, data, "{ev:?}");
    }
}

/// U05: "Level user event".
#[test]
fn u05_level_user_event() {
    // Added without EV_CLEAR and triggered, it is returned on every kevent until a modify with
    // EV_CLEAR (or a delete).
    let kq = Kqueue::new().unwrap();
    apply(&kq, &[kev(1, EVFILT_USER, EV_ADD, 0, 0)]);
    apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
    for _ in 0..3 {
        let ev = expect_one(&kq, Duration::ZERO);
        assert_names(&ev, 1, EVFILT_USER);
    }
    apply(&kq, &[kev(1, EVFILT_USER, EV_CLEAR, 0, 0)]);
    assert_no_events(&kq);

    apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, 1, EVFILT_USER);
    apply(&kq, &[kev(1, EVFILT_USER, EV_DELETE, 0, 0)]);
    assert_no_events(&kq);
}
