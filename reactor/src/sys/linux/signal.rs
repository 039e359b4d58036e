//! EVFILT_SIGNAL: a process-wide counting handler.
//!
//! # Protocol
//!
//! The first knote for a signal installs `handler` for it, once for the life of the process,
//! remembering the disposition it replaced (`PREV`). The handler, on every delivery:
//! 1. adds one to `COUNTS[signo]`;
//! 2. writes to `NOTIFY`, one eventfd shared by all kqueues; each kqueue that watches
//!    signals registers it edge-triggered in its epoll and never reads it, so every write
//!    is an edge for every kqueue (the counter cannot realistically reach its 2^64 − 2 limit);
//! 3. chains to the replaced disposition: calls the previous handler; for `SIG_DFL` of a
//!    signal whose default action is not "ignore", restores `SIG_DFL` and re-raises, so the
//!    default action happens as if kq were not there; for `SIG_IGN`, nothing.
//!
//! A kqueue's signal knote remembers the count it last reported; its `data` is the difference.
//! No signal is ever blocked, so no mask leaks into children. An ignored `SIGCHLD` is left
//! alone (a handler would change how children are reaped), and is not recorded, as on
//! FreeBSD.

use std::io;
use std::mem;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

/// One past the largest signal number.
const NSIG: usize = 65;

static COUNTS: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];
/// The replaced handler (`sa_sigaction`) per signal, and its `sa_flags`.
static PREV: [AtomicUsize; NSIG] = [const { AtomicUsize::new(libc::SIG_DFL) }; NSIG];
static PREV_FLAGS: [AtomicI32; NSIG] = [const { AtomicI32::new(0) }; NSIG];
/// The shared eventfd, -1 until the first signal knote.
static NOTIFY: AtomicI32 = AtomicI32::new(-1);
/// Serializes installation; holds which signals have the handler.
static INSTALLED: Mutex<[bool; NSIG]> = Mutex::new([false; NSIG]);

/// The number of deliveries of `signo` so far.
pub(super) fn count(signo: usize) -> u64 {
    COUNTS.get(signo).map_or(0, |c| c.load(Ordering::Acquire))
}

/// Checks a signal number the way FreeBSD does (`EINVAL` for 0, out of range, or a signal
/// that cannot be caught) and makes sure the handler is installed. Returns the shared
/// eventfd to watch.
pub(super) fn watch(signo: usize) -> io::Result<i32> {
    let signo_c = signo as libc::c_int;
    if signo == 0 || signo >= NSIG || signo_c == libc::SIGKILL || signo_c == libc::SIGSTOP {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if NOTIFY.load(Ordering::Acquire) < 0 {
        let fd = super::syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
        // The descriptor lives as long as the process: the handler may run at any time.
        NOTIFY.store(fd, Ordering::Release);
    }
    if !installed[signo] {
        // SAFETY: a zeroed sigaction is a valid out-parameter.
        let mut old: libc::sigaction = unsafe { mem::zeroed() };
        // SAFETY: querying the current disposition; `old` is valid for writes.
        super::syscall!(sigaction(signo_c, std::ptr::null(), &mut old))?;
        if signo_c == libc::SIGCHLD && old.sa_sigaction == libc::SIG_IGN {
            // Recording an ignored SIGCHLD would change reaping; FreeBSD does not record it.
            return Ok(NOTIFY.load(Ordering::Acquire));
        }
        PREV[signo].store(old.sa_sigaction, Ordering::Release);
        PREV_FLAGS[signo].store(old.sa_flags, Ordering::Release);
        // SAFETY: a zeroed sigaction is a valid starting point.
        let mut new: libc::sigaction = unsafe { mem::zeroed() };
        new.sa_sigaction = handler as *const () as usize;
        new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
        new.sa_mask = old.sa_mask;
        // SAFETY: `new` is a valid sigaction whose handler is async-signal-safe (see
        // `handler`); the number was checked above.
        super::syscall!(sigaction(signo_c, &new, std::ptr::null_mut()))?;
        installed[signo] = true;
    }
    Ok(NOTIFY.load(Ordering::Acquire))
}

/// The handler. Async-signal-safe: atomics, `write`, `sigaction`, `raise` only; errno
/// is preserved.
extern "C" fn handler(signo: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: `__errno_location` returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    let s = signo as usize;
    if s < NSIG {
        COUNTS[s].fetch_add(1, Ordering::AcqRel);
        let fd = NOTIFY.load(Ordering::Acquire);
        if fd >= 0 {
            let one: u64 = 1;
            // SAFETY: writing 8 bytes from a live u64 to the process-lifetime eventfd. A
            // failure (EAGAIN at the counter's limit) only loses a wake-up, never a count.
            unsafe { libc::write(fd, (&raw const one).cast(), 8) };
        }
        let prev = PREV[s].load(Ordering::Acquire);
        if prev == libc::SIG_DFL {
            if !default_is_ignore(signo) {
                // SAFETY: restoring the default disposition and re-raising are
                // async-signal-safe; the signal is blocked while this handler runs, so the
                // default action happens when it returns.
                unsafe {
                    let mut dfl: libc::sigaction = mem::zeroed();
                    dfl.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(signo, &dfl, std::ptr::null_mut());
                    libc::raise(signo);
                }
            }
        } else if prev != libc::SIG_IGN {
            if PREV_FLAGS[s].load(Ordering::Acquire) & libc::SA_SIGINFO != 0 {
                // SAFETY: the process installed this function as an SA_SIGINFO handler.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { mem::transmute(prev) };
                f(signo, info, ctx);
            } else {
                // SAFETY: the process installed this function as a plain handler.
                let f: extern "C" fn(libc::c_int) = unsafe { mem::transmute(prev) };
                f(signo);
            }
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Signals whose default action is to do nothing.
fn default_is_ignore(signo: libc::c_int) -> bool {
    matches!(
        signo,
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH | libc::SIGCONT
    )
}
