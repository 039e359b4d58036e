//! Conformance tests for the `EV_*` flags: rows F01–F20 of the checklist in
//! `reactor/README.md`, plus the extra cases about them (EV_RECEIPT paths, the
//! error-entry layout, EV_FORCEONESHOT, EV_ADD not re-enabling).
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH, EV_ENABLE, EV_ERROR, EV_FORCEONESHOT,
    EV_KEEPUDATA, EV_ONESHOT, EV_RECEIPT, EVFILT_READ, EVFILT_SIGNAL, EVFILT_TIMER, EVFILT_USER,
    EVFILT_WRITE, Kqueue, NOTE_TRIGGER,
};
use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use util::*;

/// Whether the user knote `ident` exists: a bare trigger succeeds on it and fails with
/// ENOENT otherwise. (It triggers the knote when it exists.)
#[track_caller]
fn user_exists(kq: &Kqueue, ident: usize) -> bool {
    match apply_errno(kq, &[kev(ident, EVFILT_USER, 0, NOTE_TRIGGER, 0)]) {
        0 => true,
        libc::ENOENT => false,
        e => panic!("trigger of user knote {ident} failed with errno {e}"),
    }
}

/// F01: "EV_ADD then EV_DELETE".
#[test]
fn f01_add_then_delete() {
    // Both succeed, and the deleted knote reports nothing.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    assert_eq!(
        apply_errno(&kq, &[kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0)]),
        0
    );
    assert_eq!(
        apply_errno(&kq, &[kev(ident_of(&a), EVFILT_READ, EV_DELETE, 0, 0)]),
        0
    );
    b.write_all(b"x").unwrap();
    assert_no_events(&kq);
}

/// F02: "Delete of absent knote".
#[test]
fn f02_delete_absent_knote_enoent() {
    // EV_DELETE of a never-added knote on a valid fd: an EV_ERROR entry with ENOENT when there is
    // room, -1 ENOENT when there is none.
    let kq = Kqueue::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    for del in [
        kev(ident_of(&a), EVFILT_READ, EV_DELETE, 0, 0),
        kev(1, EVFILT_USER, EV_DELETE, 0, 0),
        kev(1, EVFILT_TIMER, EV_DELETE, 0, 0),
    ] {
        let evs = kevent_vec(&kq, &[del], 1).unwrap();
        assert_eq!(evs.len(), 1, "{evs:?}");
        assert_error_entry(&evs[0], &del, libc::ENOENT);
        let err = kq.kevent(&[del], &mut [], None).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{del:?}: {err}");
    }
}

/// F03: "EBADF precedence".
#[test]
fn f03_ebadf_precedes_enoent() {
    // EV_DELETE (and EV_ADD) of a read knote on a closed fd fails with EBADF, not ENOENT; so does
    // an ident above INT_MAX.
    let kq = Kqueue::new().unwrap();
    // A descriptor number far above anything this process opens.
    let closed = 1_000_000usize;
    // SAFETY: F_GETFD only inspects the descriptor table.
    let rc = unsafe { libc::fcntl(closed as libc::c_int, libc::F_GETFD) };
    assert_eq!(rc, -1, "fd {closed} is unexpectedly open");
    for ident in [closed, i32::MAX as usize + 1] {
        for flags in [EV_DELETE, EV_ADD] {
            let change = kev(ident, EVFILT_READ, flags, 0, 0);
            assert_eq!(apply_errno(&kq, &[change]), libc::EBADF, "{change:?}");
        }
    }
}

/// F04: "Re-add modifies, no duplicate".
#[test]
fn f04_readd_modifies_no_duplicate() {
    // EV_ADD twice with different udata, trigger: one event, with the second udata.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    apply(
        &kq,
        &[kev_udata(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0, 1)],
    );
    apply(
        &kq,
        &[kev_udata(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0, 2)],
    );
    b.write_all(b"x").unwrap();
    let evs = poll(&kq, 8);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_names(&evs[0], ident_of(&a), EVFILT_READ);
    assert_eq!(evs[0].udata as usize, 2);
}

/// F05: "EV_ADD|EV_DISABLE then EV_ENABLE reports pre-existing condition".
#[test]
fn f05_enable_reports_preexisting_condition() {
    // Write, add disabled: none; enable: one event with data 1.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    apply(
        &kq,
        &[kev(ident_of(&a), EVFILT_READ, EV_ADD | EV_DISABLE, 0, 0)],
    );
    assert_no_events(&kq);
    apply(&kq, &[kev(ident_of(&a), EVFILT_READ, EV_ENABLE, 0, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident_of(&a), EVFILT_READ);
    assert_eq!(ev.data, 1);
}

/// F06: "EV_DISABLE suppresses but records".
#[test]
fn f06_disable_suppresses_but_records() {
    // A signal raised while its knote is disabled is not reported but counted: after enable and a
    // second raise, one event with data 2.
    // A handled signal (raise on an unblocked signal runs the handlers before it returns).
    install_noop_handler(libc::SIGUSR1);
    let kq = Kqueue::new().unwrap();
    let sig = libc::SIGUSR1 as usize;
    apply(&kq, &[kev(sig, EVFILT_SIGNAL, EV_ADD, 0, 0)]);
    apply(&kq, &[kev(sig, EVFILT_SIGNAL, EV_DISABLE, 0, 0)]);
    // SAFETY: raise has no memory-safety preconditions; SIGUSR1 has a handler.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    assert_no_events(&kq);
    apply(&kq, &[kev(sig, EVFILT_SIGNAL, EV_ENABLE, 0, 0)]);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    let evs = poll(&kq, 8);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_names(&evs[0], sig, EVFILT_SIGNAL);
    assert_eq!(
        evs[0].data, 2,
        "the signal raised while disabled was not recorded"
    );
}

/// F07: "EV_ENABLE|EV_DISABLE".
#[test]
fn f07_enable_with_disable_einval() {
    // Both together: EINVAL.
    let kq = Kqueue::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    apply(
        &kq,
        &[
            kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0),
            kev(1, EVFILT_USER, EV_ADD, 0, 0),
        ],
    );
    for change in [
        kev(ident_of(&a), EVFILT_READ, EV_ENABLE | EV_DISABLE, 0, 0),
        kev(1, EVFILT_USER, EV_ENABLE | EV_DISABLE, 0, 0),
    ] {
        let evs = kevent_vec(&kq, &[change], 1).unwrap();
        assert_eq!(evs.len(), 1, "{evs:?}");
        assert_error_entry(&evs[0], &change, libc::EINVAL);
    }
}

/// F08: "EV_ADD does not re-enable a disabled knote".
#[test]
fn f08_add_does_not_reenable() {
    // Add, disable, make ready, EV_ADD again: still no event (EV_ENABLE then reports it).
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let ident = ident_of(&a);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ADD, 0, 0)]);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_DISABLE, 0, 0)]);
    b.write_all(b"x").unwrap();
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ADD, 0, 0)]);
    assert_no_events(&kq);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ENABLE, 0, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
}

/// F09: "EV_ONESHOT deletes on delivery".
#[test]
fn f09_oneshot_deletes_on_delivery() {
    // One event; nothing on new data; EV_DELETE -> ENOENT.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let ident = ident_of(&a);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0)]);
    b.write_all(b"x").unwrap();
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
    assert_ne!(ev.flags & EV_ONESHOT, 0, "{ev:?}");
    b.write_all(b"x").unwrap();
    assert_no_events(&kq);
    assert_eq!(
        apply_errno(&kq, &[kev(ident, EVFILT_READ, EV_DELETE, 0, 0)]),
        libc::ENOENT
    );
}

/// F10: "EV_ONESHOT not re-evaluated".
#[test]
fn f10_oneshot_not_reevaluated() {
    // A oneshot knote activated (at registration, on a readable socket), then the socket drained
    // before kevent: the event is still returned, with the data computed when it was activated.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let ident = ident_of(&a);
    b.write_all(b"x").unwrap();
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0)]);
    assert_eq!(read_fd(&a, 16), 1);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
    assert_eq!(
        ev.data, 1,
        "a oneshot event is copied out as activated, not re-evaluated"
    );
    assert_eq!(
        apply_errno(&kq, &[kev(ident, EVFILT_READ, EV_DELETE, 0, 0)]),
        libc::ENOENT
    );
}

/// F11: "EV_CLEAR edge semantics".
#[test]
fn f11_clear_is_edge() {
    // Write 2: data 2; read 1: none; write 1: data 2.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let ident = ident_of(&a);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0)]);
    b.write_all(b"xy").unwrap();
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
    assert_eq!(ev.data, 2);
    assert_eq!(read_fd(&a, 1), 1);
    assert_no_events(&kq);
    b.write_all(b"z").unwrap();
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
    assert_eq!(ev.data, 2, "data counts all the bytes available");
}

/// F12: "EV_DISPATCH".
#[test]
fn f12_dispatch() {
    // One event; then none though still readable; EV_ENABLE re-reports (still ready); EV_DELETE of
    // the (again) disabled knote succeeds.
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let ident = ident_of(&a);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0)]);
    b.write_all(b"x").unwrap();
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
    assert_ne!(ev.flags & EV_DISPATCH, 0, "{ev:?}");
    assert_no_events(&kq);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ENABLE, 0, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
    assert_no_events(&kq);
    assert_eq!(
        apply_errno(&kq, &[kev(ident, EVFILT_READ, EV_DELETE, 0, 0)]),
        0
    );
    assert_no_events(&kq);
}

/// F13: "EV_RECEIPT success".
#[test]
fn f13_receipt_success() {
    // 3 receipted changes with room for 3, another fd already pending: returns 3 entries with
    // flags == EV_ERROR and data == 0; the pending event is not returned (not even with room to
    // spare); all changes took effect.
    let kq = Kqueue::new().unwrap();
    let (p, mut q) = UnixStream::pair().unwrap();
    q.write_all(b"x").unwrap();
    apply(&kq, &[kev(ident_of(&p), EVFILT_READ, EV_ADD, 0, 0)]);

    let (a, _b) = UnixStream::pair().unwrap();
    let changes = [
        kev_udata(ident_of(&a), EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, 0x11),
        kev_udata(ident_of(&a), EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0, 0x22),
        kev_udata(5, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, 0x33),
    ];
    let evs = kevent_vec(&kq, &changes, 3).unwrap();
    assert_eq!(evs.len(), 3, "{evs:?}");
    for (entry, change) in evs.iter().zip(&changes) {
        assert_error_entry(entry, change, 0);
    }

    // With room to spare a receipt still ends the call: no scan.
    let trigger = kev(
        6,
        EVFILT_USER,
        EV_ADD | EV_CLEAR | EV_RECEIPT,
        NOTE_TRIGGER,
        0,
    );
    let evs = kevent_vec(&kq, &[trigger], 8).unwrap();
    assert_eq!(
        evs.len(),
        1,
        "a receipt call must not collect events: {evs:?}"
    );
    assert_error_entry(&evs[0], &trigger, 0);

    let got: BTreeSet<_> = poll(&kq, 8).iter().map(|e| (e.ident, e.filter)).collect();
    let want: BTreeSet<_> = [
        (ident_of(&p), EVFILT_READ),
        (ident_of(&a), EVFILT_WRITE),
        (6, EVFILT_USER),
    ]
    .into();
    assert_eq!(got, want);
    assert!(user_exists(&kq, 5));
}

/// F13/F15 ("EV_RECEIPT paths"): "each receipt consumes one eventlist slot", errors too.
#[test]
fn f13_receipt_mixed_with_error() {
    let kq = Kqueue::new().unwrap();
    let changes = [
        kev(1, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0),
        kev(2, EVFILT_USER, EV_DELETE, 0, 0),
        kev(3, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0),
    ];
    let evs = kevent_vec(&kq, &changes, 8).unwrap();
    assert_eq!(evs.len(), 3, "{evs:?}");
    assert_error_entry(&evs[0], &changes[0], 0);
    assert_error_entry(&evs[1], &changes[1], libc::ENOENT);
    assert_error_entry(&evs[2], &changes[2], 0);
    assert!(user_exists(&kq, 1));
    assert!(user_exists(&kq, 3));
}

/// F14: "EV_RECEIPT out of room".
#[test]
fn f14_receipt_out_of_room_returns_zero() {
    // Receipted changes with room for one entry: the call returns 0 and the changes after the one
    // whose receipt found no room are not processed. (FreeBSD's kqueue_kevent registers a change
    // before it looks for room for its receipt (FreeBSD's kqueue_kevent) so the second change is applied too; the
    // third is not.)
    let kq = Kqueue::new().unwrap();
    let changes = [
        kev(1, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0),
        kev(2, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0),
        kev(3, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0),
    ];
    let mut out = [ZERO; 1];
    let n = kq.kevent(&changes, &mut out, Some(Duration::ZERO)).unwrap();
    assert_eq!(n, 0, "FreeBSD returns 0 when a receipt finds no room");
    assert!(user_exists(&kq, 1), "the first change was not applied");
    assert!(
        user_exists(&kq, 2),
        "the change whose receipt found no room was not applied"
    );
    assert!(
        !user_exists(&kq, 3),
        "a change after the one without room was applied"
    );
}

/// F15: "Error entry contents".
#[test]
fn f15_error_entry_layout() {
    // A bad change among good ones with room: one entry, flags == EV_ERROR, data == errno,
    // ident/filter/fflags/udata echoed; the other changes are applied; pending events are not
    // returned by that call.
    let kq = Kqueue::new().unwrap();
    let (p, mut q) = UnixStream::pair().unwrap();
    q.write_all(b"x").unwrap();
    apply(&kq, &[kev(ident_of(&p), EVFILT_READ, EV_ADD, 0, 0)]);

    let bad = kev_udata(99, EVFILT_USER, EV_DELETE, 0x123, 77, 0xabc);
    let changes = [
        kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0),
        bad,
        kev(2, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0),
    ];
    let evs = kevent_vec(&kq, &changes, 8).unwrap();
    assert_eq!(evs.len(), 1, "only the error entry is expected: {evs:?}");
    assert_error_entry(&evs[0], &bad, libc::ENOENT);

    let got: BTreeSet<_> = poll(&kq, 8).iter().map(|e| (e.ident, e.filter)).collect();
    let want: BTreeSet<_> = [(ident_of(&p), EVFILT_READ), (2, EVFILT_USER)].into();
    assert_eq!(got, want);
    assert!(user_exists(&kq, 1));
}

/// F16: "Error with nevents==0".
#[test]
fn f16_error_without_room() {
    // [good, bad, good] with no eventlist: -1 with the bad change's errno; the first change
    // applied, the third not. With room for one entry taken by an earlier error, a later error
    // fails the call the same way.
    let kq = Kqueue::new().unwrap();
    let changes = [
        kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0),
        kev(99, EVFILT_USER, EV_DELETE, 0, 0),
        kev(2, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0),
    ];
    let err = kq.kevent(&changes, &mut [], None).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    assert!(
        user_exists(&kq, 1),
        "the change before the error was not applied"
    );
    assert!(
        !user_exists(&kq, 2),
        "the change after the error was applied"
    );

    let kq = Kqueue::new().unwrap();
    let first_bad = kev(98, EVFILT_USER, EV_DELETE, 0, 0);
    let changes = [
        first_bad,
        kev(3, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0),
        kev(3, EVFILT_USER, EV_ENABLE | EV_DISABLE, 0, 0),
        kev(4, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0),
    ];
    let mut out = [ZERO; 1];
    let err = kq
        .kevent(&changes, &mut out, Some(Duration::ZERO))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    assert_error_entry(&out[0], &first_bad, libc::ENOENT);
    assert!(user_exists(&kq, 3));
    assert!(!user_exists(&kq, 4));
}

/// F17: "EV_KEEPUDATA".
#[test]
fn f17_keepudata() {
    // A trigger (and a disable/enable) with EV_KEEPUDATA and a null udata keeps the udata given at
    // add; without it a modify replaces the udata.
    let kq = Kqueue::new().unwrap();
    apply(
        &kq,
        &[kev_udata(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, 0x1111)],
    );
    apply(&kq, &[kev(1, EVFILT_USER, EV_KEEPUDATA, NOTE_TRIGGER, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, 1, EVFILT_USER);
    assert_eq!(ev.udata as usize, 0x1111);
    apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert!(
        ev.udata.is_null(),
        "a modify without EV_KEEPUDATA replaces udata: {ev:?}"
    );

    let (a, mut b) = UnixStream::pair().unwrap();
    let ident = ident_of(&a);
    apply(&kq, &[kev_udata(ident, EVFILT_READ, EV_ADD, 0, 0, 0x2222)]);
    apply(
        &kq,
        &[kev(ident, EVFILT_READ, EV_DISABLE | EV_KEEPUDATA, 0, 0)],
    );
    b.write_all(b"x").unwrap();
    apply(
        &kq,
        &[kev(ident, EVFILT_READ, EV_ENABLE | EV_KEEPUDATA, 0, 0)],
    );
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
    assert_eq!(ev.udata as usize, 0x2222);
}

/// F18: "EV_ADD|EV_KEEPUDATA".
#[test]
fn f18_add_with_keepudata_einval() {
    // EINVAL, for a new knote (which is not created) and for an existing one.
    let kq = Kqueue::new().unwrap();
    let change = kev(1, EVFILT_USER, EV_ADD | EV_KEEPUDATA, 0, 0);
    let evs = kevent_vec(&kq, &[change], 1).unwrap();
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_error_entry(&evs[0], &change, libc::EINVAL);
    assert!(!user_exists(&kq, 1));

    let (a, _b) = UnixStream::pair().unwrap();
    apply(&kq, &[kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0)]);
    let change = kev(ident_of(&a), EVFILT_READ, EV_ADD | EV_KEEPUDATA, 0, 0);
    assert_eq!(apply_errno(&kq, &[change]), libc::EINVAL);
}

/// F19: "EV_FORCEONESHOT".
#[test]
fn f19_forceoneshot() {
    // On an existing idle read knote: the event is returned once (data = its last value, 0), then
    // the knote is gone (ENOENT). On a new knote the flag is ignored: the knote is an ordinary
    // one.
    let kq = Kqueue::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let ident = ident_of(&a);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ADD, 0, 0)]);
    assert_no_events(&kq);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_FORCEONESHOT, 0, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
    assert_ne!(ev.flags & EV_ONESHOT, 0, "{ev:?}");
    assert_eq!(ev.data, 0);
    assert_no_events(&kq);
    assert_eq!(
        apply_errno(&kq, &[kev(ident, EVFILT_READ, EV_DELETE, 0, 0)]),
        libc::ENOENT
    );

    // Absent knote, no EV_ADD: ENOENT.
    assert_eq!(
        apply_errno(&kq, &[kev(ident, EVFILT_READ, EV_FORCEONESHOT, 0, 0)]),
        libc::ENOENT
    );

    // Ignored on creation: not activated while idle, level-triggered once data arrives.
    let (c, mut d) = UnixStream::pair().unwrap();
    let ident = ident_of(&c);
    apply(
        &kq,
        &[kev(ident, EVFILT_READ, EV_ADD | EV_FORCEONESHOT, 0, 0)],
    );
    assert_no_events(&kq);
    d.write_all(b"x").unwrap();
    for _ in 0..2 {
        let ev = expect_one(&kq, Duration::ZERO);
        assert_names(&ev, ident, EVFILT_READ);
        assert_eq!(ev.flags & EV_ONESHOT, 0, "{ev:?}");
    }
}

/// F20: "Returned flags".
#[test]
fn f20_returned_flags_keep_clear() {
    // A knote added with EV_ADD|EV_CLEAR returns events whose flags contain EV_CLEAR (EV_ADD is
    // deliberately not checked).
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    apply(
        &kq,
        &[kev(ident_of(&a), EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0)],
    );
    b.write_all(b"x").unwrap();
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident_of(&a), EVFILT_READ);
    assert_ne!(ev.flags & EV_CLEAR, 0, "{ev:?}");
    assert_eq!(ev.flags & EV_ERROR, 0, "{ev:?}");
}
