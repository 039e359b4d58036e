//! Conformance tests for `EVFILT_SIGNAL` (checklist rows S01–S04 and extras).
//!
//! Signal knotes are process-wide and the tests of this file run on parallel threads of one
//! process, so every test uses its own signal. A signal whose default action would kill the
//! process is only sent after a handler or `SIG_IGN` is installed for it, and that is done
//! before the first knote for it (the core chains to the disposition it finds then).
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_ONESHOT, EVFILT_READ, EVFILT_SIGNAL, Kevent, Kqueue,
};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use util::*;

fn add_signal(kq: &Kqueue, sig: libc::c_int, flags: u16) {
    apply(
        kq,
        &[kev(sig as usize, EVFILT_SIGNAL, EV_ADD | flags, 0, 0)],
    );
}

/// Sends `sig` to the whole process (delivered to any thread that does not block it).
fn kill_self(sig: libc::c_int) {
    // SAFETY: kill/getpid have no memory preconditions; every caller made sure `sig` does
    // not kill the process.
    let rc = unsafe { libc::kill(libc::getpid(), sig) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Sends `sig` to the calling thread: its handler has run when this returns.
fn raise(sig: libc::c_int) {
    // SAFETY: as for `kill_self`.
    let rc = unsafe { libc::raise(sig) };
    assert_eq!(rc, 0, "raise: {}", std::io::Error::last_os_error());
}

/// Waits for the one event of signal `sig` and returns it.
#[track_caller]
fn expect_signal(kq: &Kqueue, sig: libc::c_int) -> Kevent {
    let ev = expect_one(kq, LONG);
    assert_names(&ev, sig as usize, EVFILT_SIGNAL);
    assert_ne!(
        ev.flags & EV_CLEAR,
        0,
        "EV_CLEAR is forced on signal knotes: {ev:?}"
    );
    ev
}

fn rt(k: libc::c_int) -> libc::c_int {
    let sig = libc::SIGRTMIN() + k;
    assert!(sig <= libc::SIGRTMAX());
    sig
}

/// S01: signal count — add; kill ×1 → `data == 1`, flags has EV_CLEAR.
#[test]
fn s01_signal_count() {
    let sig = libc::SIGWINCH; // default action: ignore
    let kq = Kqueue::new().unwrap();
    add_signal(&kq, sig, 0);
    assert_no_events(&kq);
    kill_self(sig);
    let ev = expect_signal(&kq, sig);
    assert_eq!(ev.data, 1, "{ev:?}");
    assert_eq!(ev.fflags, 0, "{ev:?}");
    assert_no_events(&kq);
}

/// S01: deliveries before retrieval aggregate into one event whose `data` is the count.
#[test]
fn s01_signal_count_aggregates() {
    let sig = rt(1);
    ignore_signal(sig);
    let kq = Kqueue::new().unwrap();
    add_signal(&kq, sig, 0);
    for _ in 0..3 {
        raise(sig);
    }
    let evs = poll(&kq, 8);
    assert_eq!(evs.len(), 1, "one event for three deliveries: {evs:?}");
    assert_names(&evs[0], sig as usize, EVFILT_SIGNAL);
    assert_eq!(evs[0].data, 3, "{evs:?}");
    assert_no_events(&kq);
}

/// S01: every process-directed delivery is counted exactly once (real-time signals queue,
/// so three kills are three deliveries).
#[test]
fn s01_signal_count_process_directed() {
    let sig = rt(2);
    ignore_signal(sig);
    let kq = Kqueue::new().unwrap();
    add_signal(&kq, sig, 0);
    for _ in 0..3 {
        kill_self(sig);
    }
    let deadline = Instant::now() + LONG;
    let mut total = 0;
    let mut seen = Vec::new();
    while total < 3 && Instant::now() < deadline {
        for ev in wait_through_signals(&kq, 8, deadline.saturating_duration_since(Instant::now())) {
            assert_names(&ev, sig as usize, EVFILT_SIGNAL);
            total += ev.data;
            seen.push(ev);
        }
    }
    assert_eq!(total, 3, "counts over all events: {seen:?}");
    assert_no_events(&kq);
}

static USR2_HANDLED: AtomicUsize = AtomicUsize::new(0);
extern "C" fn on_usr2(_: libc::c_int) {
    USR2_HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// S02: signal oneshot — one event only; the knote is gone afterwards.
#[test]
fn s02_signal_oneshot() {
    let sig = libc::SIGUSR2;
    install_handler(sig, on_usr2);
    let kq = Kqueue::new().unwrap();
    add_signal(&kq, sig, EV_ONESHOT);
    kill_self(sig);
    let ev = expect_signal(&kq, sig);
    assert_eq!(ev.data, 1, "{ev:?}");
    assert_ne!(ev.flags & EV_ONESHOT, 0, "{ev:?}");
    assert!(
        wait_until(LONG, || USR2_HANDLED.load(Ordering::SeqCst) >= 1),
        "handler never ran"
    );
    kill_self(sig);
    assert!(
        wait_until(LONG, || USR2_HANDLED.load(Ordering::SeqCst) >= 2),
        "handler never ran again"
    );
    assert_no_events(&kq);
    assert_eq!(
        change_errno(&kq, kev(sig as usize, EVFILT_SIGNAL, EV_DELETE, 0, 0)),
        libc::ENOENT
    );
}

/// S03: SIG_IGN still recorded — `signal(SIGUSR1, SIG_IGN)`; add; kill → event.
#[test]
fn s03_sig_ign_still_recorded() {
    let sig = libc::SIGUSR1;
    ignore_signal(sig);
    let kq = Kqueue::new().unwrap();
    add_signal(&kq, sig, 0);
    kill_self(sig);
    let ev = expect_signal(&kq, sig);
    assert_eq!(ev.data, 1, "{ev:?}");
    kill_self(sig);
    let ev = expect_signal(&kq, sig);
    assert_eq!(ev.data, 1, "{ev:?}");
    // SAFETY: querying the disposition only.
    let disp = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old);
        old.sa_sigaction
    };
    assert_ne!(
        disp,
        libc::SIG_DFL,
        "the ignored signal must not have become fatal"
    );
}

const SIGCHLD_CHILD_ENV: &str = "KQ_TEST_S03_SIGCHLD_CHILD";
const SIGCHLD_CHILD_MARK: &str = "s03-sigchld-child-ran";

/// S03: ignored SIGCHLD is not recorded (as on FreeBSD). Runs in a re-executed copy of this
/// test binary, since ignoring SIGCHLD changes child reaping for the whole process.
#[test]
fn s03_ignored_sigchld_not_recorded() {
    if std::env::var_os(SIGCHLD_CHILD_ENV).is_some() {
        ignore_signal(libc::SIGCHLD);
        let kq = Kqueue::new().unwrap();
        assert_eq!(
            change_errno(
                &kq,
                kev(libc::SIGCHLD as usize, EVFILT_SIGNAL, EV_ADD, 0, 0)
            ),
            0,
            "registering SIGCHLD succeeds"
        );
        raise(libc::SIGCHLD);
        kill_self(libc::SIGCHLD);
        assert_no_events(&kq);
        // SAFETY: querying the disposition only.
        let disp = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut old);
            old.sa_sigaction
        };
        assert_eq!(disp, libc::SIG_IGN, "an ignored SIGCHLD must stay ignored");
        println!("{SIGCHLD_CHILD_MARK}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "s03_ignored_sigchld_not_recorded",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SIGCHLD_CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child run failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(SIGCHLD_CHILD_MARK),
        "the child did not run the test:\n{stdout}\n{stderr}"
    );
}

/// S04: nested kq sees the signal — kq2 watches kq1 (EV_CLEAR); after each kill kq2 reports
/// one event, then 0 on an immediate re-poll; kq1 reports the signal once.
#[test]
fn s04_nested_kqueue_sees_signal() {
    let sig = rt(3);
    ignore_signal(sig);
    let kq1 = Kqueue::new().unwrap();
    let kq2 = Kqueue::new().unwrap();
    add_signal(&kq1, sig, 0);
    apply(
        &kq2,
        &[kev(
            kq1.as_raw_fd() as usize,
            EVFILT_READ,
            EV_ADD | EV_CLEAR,
            0,
            0,
        )],
    );
    assert_no_events(&kq2);
    for i in 0..20 {
        kill_self(sig);
        let evs = wait_through_signals(&kq2, 8, Duration::from_secs(2));
        assert_eq!(
            evs.len(),
            1,
            "round {i}: kq2 must see kq1's pending signal: {evs:?}"
        );
        assert_names(&evs[0], kq1.as_raw_fd() as usize, EVFILT_READ);
        assert_eq!(poll(&kq2, 8).len(), 0, "round {i}: EV_CLEAR on kq2");
        let evs = poll(&kq1, 8);
        assert_eq!(evs.len(), 1, "round {i}: {evs:?}");
        assert_names(&evs[0], sig as usize, EVFILT_SIGNAL);
        assert_eq!(evs[0].data, 1, "round {i}: {evs:?}");
        assert_eq!(poll(&kq1, 8).len(), 0, "round {i}");
        assert_eq!(
            poll(&kq2, 8).len(),
            0,
            "round {i}: draining kq1 does not wake kq2"
        );
    }
}

/// S04: a kqueue watching a signal kqueue reports nothing when only a signal that the
/// watched kqueue does not watch is delivered (the watched kqueue has 0 pending events).
#[test]
fn s04_nested_kqueue_ignores_other_signals() {
    let watched = rt(5);
    let other = rt(6);
    ignore_signal(watched);
    ignore_signal(other);
    let kq1 = Kqueue::new().unwrap();
    let kq2 = Kqueue::new().unwrap();
    let kq_other = Kqueue::new().unwrap();
    add_signal(&kq1, watched, 0);
    add_signal(&kq_other, other, 0);
    apply(
        &kq2,
        &[kev(
            kq1.as_raw_fd() as usize,
            EVFILT_READ,
            EV_ADD | EV_CLEAR,
            0,
            0,
        )],
    );
    assert_no_events(&kq2);
    raise(other);
    let ev = expect_signal(&kq_other, other);
    assert_eq!(ev.data, 1, "{ev:?}");
    assert_no_events(&kq1);
    assert_no_events(&kq2);
    raise(watched);
    let ev = expect_one(&kq2, LONG);
    assert_names(&ev, kq1.as_raw_fd() as usize, EVFILT_READ);
    assert_eq!(ev.data, 1, "{ev:?}");
}

static URG_HANDLED: AtomicUsize = AtomicUsize::new(0);
extern "C" fn on_urg(_: libc::c_int) {
    URG_HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// Extra: a handler installed with sigaction still runs, and the kqueue counts the signal.
#[test]
fn signal_handler_coexists() {
    let sig = libc::SIGURG;
    install_handler(sig, on_urg);
    let kq = Kqueue::new().unwrap();
    add_signal(&kq, sig, 0);
    kill_self(sig);
    let ev = expect_signal(&kq, sig);
    assert_eq!(ev.data, 1, "{ev:?}");
    assert!(
        wait_until(LONG, || URG_HANDLED.load(Ordering::SeqCst) == 1),
        "the process's handler never ran"
    );
    raise(sig);
    assert_eq!(
        URG_HANDLED.load(Ordering::SeqCst),
        2,
        "a raise runs the handler synchronously"
    );
    let ev = expect_signal(&kq, sig);
    assert_eq!(ev.data, 1, "{ev:?}");
}

/// Parses the `SigBlk:` line of a `/proc/*/status` text into its mask.
fn sigblk(text: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with("SigBlk:"))
        .unwrap_or_else(|| panic!("no SigBlk in {text:?}"));
    u64::from_str_radix(line["SigBlk:".len()..].trim(), 16).unwrap()
}

/// Extra: no blocked signal mask leaks — not in this thread, not into a spawned child, and
/// not into a child that inherits this thread's mask through fork+exec.
#[test]
fn signal_no_mask_leaks_into_children() {
    let sig = rt(4);
    ignore_signal(sig);
    let kq = Kqueue::new().unwrap();
    add_signal(&kq, sig, 0);
    add_signal(&kq, libc::SIGVTALRM, 0);

    let own = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    assert_eq!(sigblk(&own), 0, "this thread's mask");

    let out = Command::new("grep")
        .args(["SigBlk", "/proc/self/status"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        sigblk(&String::from_utf8_lossy(&out.stdout)),
        0,
        "mask of a Command child"
    );

    // fork + exec keeps the mask of the forking thread exactly.
    let (r, w) = pipe();
    let grep = CString::new("grep").unwrap();
    let args = [
        CString::new("grep").unwrap(),
        CString::new("SigBlk").unwrap(),
        CString::new("/proc/self/status").unwrap(),
    ];
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let wfd = w.as_raw_fd();
    // SAFETY: the child only calls async-signal-safe functions (dup2, execvp, _exit) on data
    // prepared before the fork.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: see above.
        unsafe {
            libc::dup2(wfd, 1);
            libc::execvp(grep.as_ptr(), argv.as_ptr());
            libc::_exit(127);
        }
    }
    drop(w);
    let mut text = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: `buf` is valid for its length.
        let n = unsafe { libc::read(r.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            text.extend_from_slice(&buf[..n as usize]);
        } else if n == 0 {
            break;
        } else {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "read: {e}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut status = 0;
    // SAFETY: `status` is a valid out-parameter.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "grep failed: {status:#x}"
    );
    assert_eq!(
        sigblk(&String::from_utf8_lossy(&text)),
        0,
        "mask inherited through fork+exec"
    );
}

/// Bad input: signal 0, 65 (beyond Linux's 64), SIGKILL and SIGSTOP → EINVAL.
#[test]
fn signal_bad_numbers_einval() {
    let kq = Kqueue::new().unwrap();
    for sig in [
        0usize,
        65,
        1000,
        libc::SIGKILL as usize,
        libc::SIGSTOP as usize,
    ] {
        assert_eq!(
            change_errno(&kq, kev(sig, EVFILT_SIGNAL, EV_ADD, 0, 0)),
            libc::EINVAL,
            "signal {sig}"
        );
        assert_eq!(
            change_errno(&kq, kev(sig, EVFILT_SIGNAL, EV_DELETE, 0, 0)),
            libc::ENOENT,
            "no knote was created for signal {sig}"
        );
    }
}
