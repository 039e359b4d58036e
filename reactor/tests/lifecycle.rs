//! Conformance tests for the life cycle of knotes and kqueues: rows L01–L03 of the
//! checklist in `reactor/README.md` (with the close-vs-dup case), and the fork
//! rule (P06) as the `# Portability` section of `kq_reactor` states it for Linux.
//!
//! The tests in this file count and reuse descriptor numbers, so they run one at a time
//! (see [`serial`]).
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_ONESHOT, EVFILT_READ, EVFILT_TIMER, EVFILT_USER, EVFILT_WRITE,
    Kevent, Kqueue, NOTE_TRIGGER,
};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use util::*;

/// Serialises the tests of this file: they count open descriptors and depend on which
/// descriptor numbers are free.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// L01: "close(fd) removes knote".
#[test]
fn l01_close_removes_knote() {
    // A read knote whose descriptor is closed, or replaced by another file under the same number,
    // reports no stale event (not even when the new file becomes readable), and EV_DELETE of it
    // fails with EBADF or ENOENT.
    let _serial = serial();
    let kq = Kqueue::new().unwrap();

    // Reused number: dup2 closes the socket's descriptor and reuses its number atomically.
    let (a, mut b) = UnixStream::pair().unwrap();
    let ident = ident_of(&a);
    apply(&kq, &[kev_udata(ident, EVFILT_READ, EV_ADD, 0, 0, 1)]);
    b.write_all(b"x").unwrap();
    // Delivered once, so the level-triggered event is queued again.
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident, EVFILT_READ);
    let (r, w) = pipe();
    let a_fd = a.into_raw_fd();
    // SAFETY: both descriptors are open; dup2 replaces `a_fd`, which this test owns.
    let rc = unsafe { libc::dup2(r.as_raw_fd(), a_fd) };
    assert_eq!(rc, a_fd, "dup2: {}", std::io::Error::last_os_error());
    // SAFETY: `a_fd` is open (a duplicate of the pipe's read end) and owned by nobody else.
    let reused = unsafe { OwnedFd::from_raw_fd(a_fd) };
    assert_no_events(&kq);
    write_fd(&w, b"y");
    assert_no_events(&kq);
    let errno = apply_errno(&kq, &[kev(ident, EVFILT_READ, EV_DELETE, 0, 0)]);
    assert!(
        errno == libc::ENOENT || errno == libc::EBADF,
        "EV_DELETE: errno {errno}"
    );
    drop(reused);

    // Plain close with data pending.
    let (c, mut d) = UnixStream::pair().unwrap();
    let ident = ident_of(&c);
    apply(&kq, &[kev(ident, EVFILT_READ, EV_ADD, 0, 0)]);
    d.write_all(b"x").unwrap();
    drop(c);
    assert_no_events(&kq);
    let errno = apply_errno(&kq, &[kev(ident, EVFILT_READ, EV_DELETE, 0, 0)]);
    assert!(
        errno == libc::ENOENT || errno == libc::EBADF,
        "EV_DELETE: errno {errno}"
    );
}

/// L02: "close of one dup only removes knotes on that number".
#[test]
fn l02_close_of_dup_keeps_other_knote() {
    // Add on fd a, dup a to c, close c: the knote on a is alive. With knotes on both numbers,
    // closing c leaves only a's.
    let _serial = serial();
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    apply(
        &kq,
        &[kev_udata(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0, 1)],
    );
    let c = a.try_clone().unwrap();
    assert_ne!(ident_of(&c), ident_of(&a));
    drop(c);
    b.write_all(b"x").unwrap();
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident_of(&a), EVFILT_READ);
    assert_eq!(ev.udata as usize, 1);
    assert_eq!(read_fd(&a, 16), 1);

    let c = a.try_clone().unwrap();
    let c_ident = ident_of(&c);
    apply(&kq, &[kev_udata(c_ident, EVFILT_READ, EV_ADD, 0, 0, 2)]);
    drop(c);
    b.write_all(b"y").unwrap();
    let evs = poll(&kq, 8);
    assert_eq!(
        evs.len(),
        1,
        "only the knote on the open number may fire: {evs:?}"
    );
    assert_names(&evs[0], ident_of(&a), EVFILT_READ);
    assert_eq!(evs[0].udata as usize, 1);
    assert_eq!(
        apply_errno(&kq, &[kev(ident_of(&a), EVFILT_READ, EV_DELETE, 0, 0)]),
        0
    );
}

/// L03: "Closing kq releases everything".
#[test]
fn l03_drop_releases_everything() {
    // Dropping a kqueue with knotes of every kind (some pending) closes every descriptor it opened
    // and keeps none of the watched ones alive.
    let _serial = serial();
    let before = open_fds();
    for _ in 0..20 {
        let kq = Kqueue::new().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        let (r, w) = pipe();
        write_fd(&w, b"x");
        b.write_all(b"x").unwrap();
        apply(
            &kq,
            &[
                kev(ident_of(&a), EVFILT_READ, EV_ADD, 0, 0),
                kev(ident_of(&a), EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0),
                kev(ident_of(&r), EVFILT_READ, EV_ADD, 0, 0),
                kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0),
                kev(2, EVFILT_TIMER, EV_ADD, 0, 1),
                kev(3, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 60_000),
            ],
        );
        let _ = kq.as_raw_fd();
        assert!(!poll(&kq, 2).is_empty());
        drop(kq);
        assert_eq!(read_fd(&a, 16), 1);
        // The kqueue kept no duplicate of `a`: closing it is a real close the peer sees.
        drop(a);
        b.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(b.read(&mut buf).unwrap(), 0, "the peer did not see EOF");
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}

/// What the forked child does: every call on the inherited kqueue must fail with EBADF at
/// once. Returns an exit code with bit `i` set when call `i` did anything else.
fn child_calls(kq: &Kqueue, pipe_ident: usize) -> i32 {
    let calls: [(Kevent, usize, Option<Duration>); 5] = [
        (
            kev(2, EVFILT_USER, 0, NOTE_TRIGGER, 0),
            0,
            Some(Duration::ZERO),
        ),
        (
            kev(pipe_ident, EVFILT_READ, EV_DELETE, 0, 0),
            0,
            Some(Duration::ZERO),
        ),
        (
            kev(1, EVFILT_USER, EV_DELETE, 0, 0),
            1,
            Some(Duration::ZERO),
        ),
        (
            kev(9, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0),
            1,
            Some(Duration::ZERO),
        ),
        (util::ZERO, 1, None),
    ];
    let mut code = 0;
    for (i, (change, nevents, timeout)) in calls.into_iter().enumerate() {
        let changes: &[Kevent] = if change.filter == 0 {
            &[]
        } else {
            std::slice::from_ref(&change)
        };
        let mut out = [util::ZERO; 1];
        match kq.kevent(changes, &mut out[..nevents], timeout) {
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {}
            _ => code |= 1 << i,
        }
    }
    code
}

/// P06: "kqueue not inherited" — a forked child's calls fail with EBADF (`# Portability`).
#[test]
fn p06_fork_child_kevent_fails_with_ebadf() {
    // Every call fails at once, without waiting, and the parent's registrations are untouched.
    let _serial = serial();
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    apply(
        &kq,
        &[
            kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0),
            kev(2, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0),
            kev(ident_of(&r), EVFILT_READ, EV_ADD, 0, 0),
        ],
    );
    // SAFETY: the child of this multi-threaded process only runs `child_calls` (kevent on a
    // kqueue no other thread uses, which must fail at once) and async-signal-safe calls.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: alarm and _exit are async-signal-safe; the alarm kills a child that hangs.
        unsafe {
            libc::alarm(10);
            libc::_exit(child_calls(&kq, ident_of(&r)));
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(err.raw_os_error(), Some(libc::EINTR), "waitpid: {err}");
    }
    assert!(
        libc::WIFEXITED(status),
        "child did not exit normally (status {status:#x}; a hang is SIGALRM)"
    );
    let code = libc::WEXITSTATUS(status);
    assert_eq!(
        code, 0,
        "child calls that did not fail with EBADF, as a bit set: {code:#07b}"
    );

    // The parent's knotes are untouched: nothing triggered, nothing deleted.
    assert_no_events(&kq);
    write_fd(&w, b"x");
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, ident_of(&r), EVFILT_READ);
    assert_eq!(read_fd(&r, 16), 1);
    apply(&kq, &[kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0)]);
    let ev = expect_one(&kq, Duration::ZERO);
    assert_names(&ev, 1, EVFILT_USER);
    assert_eq!(apply_errno(&kq, &[kev(2, EVFILT_USER, EV_DELETE, 0, 0)]), 0);
    assert_eq!(
        apply_errno(&kq, &[kev(9, EVFILT_USER, EV_DELETE, 0, 0)]),
        libc::ENOENT
    );
}
