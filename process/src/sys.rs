//! Thin wrappers over the process system calls kq-process makes: waiting for a child,
//! killing it, and descriptor flags. Every ignored or retried errno says why.
//!
//! # Invariant
//!
//! A pid passed here is a child of this process that has not been reaped yet: it cannot
//! have been reused by another process, so signalling or waiting for it names our child.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// Maps `-1` to the thread's last OS error.
fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Whether the child `pid` has exited (is a zombie), without reaping it.
pub(crate) fn has_exited(pid: libc::pid_t) -> io::Result<bool> {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is valid for writes; WNOWAIT leaves the child unreaped.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        match cvt(rc) {
            // SAFETY: waitid filled `info`; si_pid is 0 while the child runs.
            Ok(_) => return Ok(unsafe { info.si_pid() } != 0),
            // Interrupted by a signal handler before it looked: look again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reaps the child `pid`, waiting for it to exit if `block`; `None` if it still runs
/// (only without `block`).
pub(crate) fn reap(pid: libc::pid_t, block: bool) -> io::Result<Option<ExitStatus>> {
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is valid for writes; `pid` is our unreaped child (invariant).
        let rc = unsafe { libc::waitpid(pid, &mut status, flags) };
        match cvt(rc) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(ExitStatus::from_raw(status))),
            // A signal handler ran while we waited: wait again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Sends `signal` to the child `pid`.
pub(crate) fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill takes plain integers; `pid` is positive and names our unreaped child.
    cvt(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// Sets or clears `O_NONBLOCK` on `fd`.
pub(crate) fn set_nonblocking(fd: RawFd, nonblocking: bool) -> io::Result<()> {
    // SAFETY: F_GETFL on a descriptor the caller owns; no memory is passed.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let new = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        // SAFETY: F_SETFL with an int argument on a descriptor the caller owns.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, new) })?;
    }
    Ok(())
}
