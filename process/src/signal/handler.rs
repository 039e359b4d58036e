//! kq::signal's counting handler: what makes a registered signal "handled" (tokio's
//! semantics) and its deliveries counted from the moment `signal()` returns.
//!
//! # Protocol
//!
//! [`install`] runs before a signal's first `EVFILT_SIGNAL` knote is queued, once per
//! signal for the life of the process (like tokio's registrations, it is never removed):
//! 1. It reads the current disposition. `SIG_DFL` and `SIG_IGN` are *replaced*: the
//!    default action no longer happens (a listener handles the signal, as in tokio). A
//!    handler (the application's, another library's, or the core's own) is *chained*: ours
//!    calls it after counting.
//! 2. It installs `handler`, which adds one to `COUNTS[signo]` and calls the chained
//!    handler, if any.
//! 3. The core's handler, installed when the knote is attached (after this), finds ours as
//!    the previous disposition and chains to it: every delivery is counted once here and
//!    once by the core, whose count only wakes the listeners.
//!
//! The counts here are the truth the listeners compare against, so a delivery between
//! `signal()` and the attachment of the knote (the driver's next turn) is not lost.
//!
//! A handler is reset to `SIG_DFL` by `exec`, unlike `SIG_IGN`, and no signal is blocked:
//! children inherit neither an ignored disposition nor a mask from kq.
//!
//! # Known limit
//!
//! If the core's handler was installed first — a raw `EVFILT_SIGNAL` knote for a signal
//! still at `SIG_DFL` — it chains to `SIG_DFL` (BSD's semantics: the default action still
//! happens). Ours then wraps it and cannot undo that: the default action happens. Register
//! the signal through kq::signal first (see ARCHITECTURE.md).

use std::io;
use std::mem;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

/// One past the largest signal number.
pub(super) const NSIG: usize = 65;

static COUNTS: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];
/// The chained handler (`sa_sigaction`) per signal, `SIG_DFL` for none, and its flags.
static CHAINED: [AtomicUsize; NSIG] = [const { AtomicUsize::new(libc::SIG_DFL) }; NSIG];
static CHAINED_FLAGS: [AtomicI32; NSIG] = [const { AtomicI32::new(0) }; NSIG];
/// Serializes installation; holds which signals have the handler.
static INSTALLED: Mutex<[bool; NSIG]> = Mutex::new([false; NSIG]);

/// The deliveries of `signo` counted since its handler was installed.
pub(super) fn count(signo: usize) -> u64 {
    COUNTS.get(signo).map_or(0, |c| c.load(Ordering::Acquire))
}

/// Installs the counting handler for `signo` unless it is installed (see the module
/// docs). The caller has checked that `signo` can be caught.
pub(super) fn install(signo: usize) -> io::Result<()> {
    let signo_c = signo as libc::c_int;
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if installed[signo] {
        return Ok(());
    }
    // SAFETY: a zeroed sigaction is a valid out-parameter.
    let mut old: libc::sigaction = unsafe { mem::zeroed() };
    // SAFETY: querying the disposition of a valid signal; `old` is valid for writes.
    if unsafe { libc::sigaction(signo_c, std::ptr::null(), &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let chained = match old.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => libc::SIG_DFL,
        h => h,
    };
    CHAINED[signo].store(chained, Ordering::Release);
    CHAINED_FLAGS[signo].store(old.sa_flags, Ordering::Release);
    // SAFETY: a zeroed sigaction is a valid starting point.
    let mut new: libc::sigaction = unsafe { mem::zeroed() };
    new.sa_sigaction = handler as *const () as usize;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
    new.sa_mask = old.sa_mask;
    // SAFETY: `new` is a valid sigaction whose handler is async-signal-safe (see
    // `handler`); the signal can be caught (checked by the caller).
    if unsafe { libc::sigaction(signo_c, &new, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    installed[signo] = true;
    Ok(())
}

/// The handler. Async-signal-safe: atomics and the chained handler only; errno is
/// preserved.
extern "C" fn handler(signo: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let slot = errno_slot();
    // SAFETY: `slot` is this thread's errno, valid for the thread's life.
    let errno = unsafe { *slot };
    let s = signo as usize;
    if s < NSIG {
        COUNTS[s].fetch_add(1, Ordering::AcqRel);
        let chained = CHAINED[s].load(Ordering::Acquire);
        if chained != libc::SIG_DFL {
            if CHAINED_FLAGS[s].load(Ordering::Acquire) & libc::SA_SIGINFO != 0 {
                // SAFETY: this function was installed as an SA_SIGINFO handler.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { mem::transmute(chained) };
                f(signo, info, ctx);
            } else {
                // SAFETY: this function was installed as a plain handler.
                let f: extern "C" fn(libc::c_int) = unsafe { mem::transmute(chained) };
                f(signo);
            }
        }
    }
    // SAFETY: as above.
    unsafe { *slot = errno };
}

/// This thread's `errno`.
fn errno_slot() -> *mut libc::c_int {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: returns a pointer to this thread's errno; no preconditions.
    let slot = unsafe { libc::__errno_location() };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    // SAFETY: returns a pointer to this thread's errno; no preconditions.
    let slot = unsafe { libc::__error() };
    slot
}
