//! Conformance tests for `EVFILT_PROC` (checklist rows P01–P06) with real child processes.
//!
//! Children are made with `fork()` and leave with `_exit()` without touching anything but
//! async-signal-safe calls (this test process has many threads).
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, EV_ONESHOT, EVFILT_PROC, EVFILT_READ, Kqueue, NOTE_EXEC,
    NOTE_EXIT, NOTE_FORK, NOTE_TRACK,
};
use std::process::Command;
use std::time::Duration;
use util::*;

/// Forks a child that runs `child` (async-signal-safe code only) and `_exit`s with its
/// return value. Returns the child's pid.
fn fork_child(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child runs only `child`, which callers keep async-signal-safe, then
    // `_exit`s without returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = child();
        // SAFETY: `_exit` ends the child at once.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// A child that waits for a signal forever.
fn paused_child() -> libc::pid_t {
    fork_child(|| {
        loop {
            // SAFETY: pause just sleeps until a signal arrives.
            unsafe { libc::pause() };
        }
    })
}

/// Reaps `pid` and returns its wait status.
#[track_caller]
fn reap(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: `status` is a valid out-parameter.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(
        rc,
        pid,
        "waitpid({pid}): {}",
        std::io::Error::last_os_error()
    );
    status
}

/// Waits until `pid` (our child) has exited, without reaping it.
#[track_caller]
fn wait_zombie(pid: libc::pid_t) {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is valid for writes; WNOWAIT leaves the child unreaped.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    assert_eq!(rc, 0, "waitid({pid}): {}", std::io::Error::last_os_error());
}

fn kill(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: sending a signal to our own child.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

fn exit_change(pid: libc::pid_t) -> kq_reactor::Kevent {
    kev(pid as usize, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0)
}

/// Asserts `ev` is the NOTE_EXIT event of `pid` with EV_EOF|EV_ONESHOT (and the forced
/// EV_CLEAR) and returns its wait status.
#[track_caller]
fn assert_exit_event(ev: &kq_reactor::Kevent, pid: libc::pid_t) -> i32 {
    assert_names(ev, pid as usize, EVFILT_PROC);
    assert_eq!(ev.fflags, NOTE_EXIT, "fflags: {ev:?}");
    assert_eq!(
        ev.flags & (EV_EOF | EV_ONESHOT | EV_CLEAR),
        EV_EOF | EV_ONESHOT | EV_CLEAR,
        "an exit sets EV_EOF|EV_ONESHOT, EV_CLEAR is forced: {ev:?}"
    );
    ev.data as i32
}

/// P01: PROC add/delete — add on a paused child; delete; kill → no events.
#[test]
fn p01_proc_add_delete() {
    let kq = Kqueue::new().unwrap();
    let pid = paused_child();
    apply(&kq, &[exit_change(pid)]);
    assert_no_events(&kq);
    apply(&kq, &[kev(pid as usize, EVFILT_PROC, EV_DELETE, 0, 0)]);
    kill(pid, libc::SIGKILL);
    let status = reap(pid);
    assert!(libc::WIFSIGNALED(status));
    assert_no_events(&kq);
}

/// P02: NOTE_EXIT status — child `_exit(3)` → fflags NOTE_EXIT, EV_EOF, `WEXITSTATUS(data)
/// == 3`; knote auto-removed; the child is not reaped by the kqueue.
#[test]
fn p02_note_exit_status() {
    let kq = Kqueue::new().unwrap();
    let pid = fork_child(|| 3);
    apply(&kq, &[exit_change(pid)]);
    let ev = expect_one(&kq, LONG);
    let status = assert_exit_event(&ev, pid);
    assert!(libc::WIFEXITED(status), "status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 3, "status {status:#x}");
    assert_no_events(&kq);
    assert_eq!(
        change_errno(&kq, kev(pid as usize, EVFILT_PROC, EV_DELETE, 0, 0)),
        libc::ENOENT,
        "the knote is deleted after the exit event"
    );
    assert_eq!(reap(pid), status, "the kqueue must not reap the child");
}

/// P02 extra: a child killed by a signal → `data` is its wait status (WTERMSIG).
#[test]
fn p02_note_exit_signal_status() {
    let kq = Kqueue::new().unwrap();
    let pid = paused_child();
    apply(&kq, &[exit_change(pid)]);
    assert_no_events(&kq);
    kill(pid, libc::SIGTERM);
    let ev = expect_one(&kq, LONG);
    let status = assert_exit_event(&ev, pid);
    assert!(libc::WIFSIGNALED(status), "status {status:#x}");
    assert_eq!(libc::WTERMSIG(status), libc::SIGTERM, "status {status:#x}");
    assert_eq!(reap(pid), status, "the kqueue must not reap the child");
}

/// P02 extra: a non-child process's exit fires NOTE_EXIT with EV_EOF.
#[test]
fn p02_non_child_exit() {
    let pid = background_process("sleep 0.3 >/dev/null 2>&1 & echo $!");
    let kq = Kqueue::new().unwrap();
    assert_eq!(
        change_errno(&kq, exit_change(pid)),
        0,
        "the grandchild must still run"
    );
    let ev = expect_one(&kq, LONG);
    let status = assert_exit_event(&ev, pid);
    assert_eq!(status, 0, "sleep exits with status 0: {ev:?}");
}

/// P02 extra: a non-child's exit status is reported (Linux ≥ 6.15 `PIDFD_GET_INFO`).
#[test]
fn p02_non_child_exit_status() {
    let pid = background_process("(sleep 0.3; exit 7) >/dev/null 2>&1 & echo $!");
    let kq = Kqueue::new().unwrap();
    assert_eq!(
        change_errno(&kq, exit_change(pid)),
        0,
        "the grandchild must still run"
    );
    let ev = expect_one(&kq, LONG);
    let status = assert_exit_event(&ev, pid);
    assert!(libc::WIFEXITED(status), "status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 7, "status {status:#x}");
}

/// P03: zombie attach — child exits before EV_ADD NOTE_EXIT → fires immediately (in the
/// same call).
#[test]
fn p03_zombie_attach_fires_immediately() {
    let kq = Kqueue::new().unwrap();
    let pid = fork_child(|| 5);
    wait_zombie(pid);
    let evs = kevent_vec(&kq, &[exit_change(pid)], 4).unwrap();
    assert_eq!(
        evs.len(),
        1,
        "the exit of a zombie is pending at once: {evs:?}"
    );
    let status = assert_exit_event(&evs[0], pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 5,
        "status {status:#x}"
    );
    assert_eq!(reap(pid), status);
}

/// P04: nonexistent pid → ESRCH (a reaped child's pid, and a pid above `pid_max`).
#[test]
fn p04_nonexistent_pid_esrch() {
    let kq = Kqueue::new().unwrap();
    let pid = fork_child(|| 0);
    reap(pid);
    assert_eq!(
        change_errno(&kq, exit_change(pid)),
        libc::ESRCH,
        "reaped child {pid}"
    );
    assert_eq!(
        change_errno(&kq, exit_change(0x7fff_fff0)),
        libc::ESRCH,
        "pid above pid_max"
    );
    assert_eq!(
        change_errno(&kq, kev(pid as usize, EVFILT_PROC, EV_DELETE, 0, 0)),
        libc::ENOENT,
        "no knote was created"
    );
}

/// P05: NOTE_FORK, NOTE_EXEC, NOTE_TRACK → EOPNOTSUPP on Linux (documented deviation).
#[test]
fn p05_note_track_fork_exec_eopnotsupp() {
    let kq = Kqueue::new().unwrap();
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as usize;
    for fflags in [
        NOTE_FORK,
        NOTE_EXEC,
        NOTE_TRACK,
        NOTE_EXIT | NOTE_FORK,
        NOTE_EXIT | NOTE_TRACK,
    ] {
        assert_eq!(
            change_errno(&kq, kev(me, EVFILT_PROC, EV_ADD, fflags, 0)),
            libc::EOPNOTSUPP,
            "fflags {fflags:#x}"
        );
        assert_eq!(
            change_errno(&kq, kev(me, EVFILT_PROC, EV_DELETE, 0, 0)),
            libc::ENOENT,
            "no knote was created for fflags {fflags:#x}"
        );
    }
}

/// P06: kqueue not inherited — in a forked child every call fails with EBADF, and the
/// child's attempts leave the parent's registrations alone.
#[test]
fn p06_kqueue_not_inherited() {
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    let read_change = kev(ident_of(&r), EVFILT_READ, EV_ADD, 0, 0);
    apply(&kq, &[read_change]);
    let delete = kev(ident_of(&r), EVFILT_READ, EV_DELETE, 0, 0);
    let kqr = &kq;
    let pid = fork_child(|| {
        let mut out = [ZERO; 2];
        let a = kqr.kevent(&[delete], &mut [], Some(Duration::ZERO));
        let b = kqr.kevent(&[], &mut out, Some(Duration::ZERO));
        let c = kqr.kevent(&[read_change], &mut out, Some(Duration::ZERO));
        let ebadf =
            |r: std::io::Result<usize>| r.err().and_then(|e| e.raw_os_error()) == Some(libc::EBADF);
        match (ebadf(a), ebadf(b), ebadf(c)) {
            (true, true, true) => 0,
            (false, _, _) => 1,
            (_, false, _) => 2,
            (_, _, false) => 3,
        }
    });
    let status = reap(pid);
    assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "1: delete, 2: scan, 3: add did not fail with EBADF in the child"
    );
    write_fd(&w, b"x");
    let ev = expect_one(&kq, LONG);
    assert_names(&ev, ident_of(&r), EVFILT_READ);
    assert_eq!(ev.data, 1, "{ev:?}");
}

/// Runs `script` (which must start a background process and print its pid) in `sh`, and
/// returns that pid: a process that is not our child, still running.
fn background_process(script: &str) -> libc::pid_t {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
