//! The BSD and macOS backend: a thin layer over the kernel's kqueue.
//!
//! [`Selector`] owns one kqueue descriptor, and each [`Selector::kevent`] is exactly one
//! `kevent(2)` system call: the caller's changelist and eventlist are handed to the kernel as
//! they are ([`Kevent`] is laid out as the platform's `struct kevent`, see [`abi`]), so every
//! kqueue semantic — knotes, `EV_ERROR` entries, `EV_RECEIPT`, re-evaluation at retrieval —
//! is the kernel's own. This module only converts counts and the timeout, and errors.
//!
//! # Portability
//!
//! FreeBSD (with the FreeBSD 12+ `struct kevent` that the `libc` crate uses by default) and
//! Apple's platforms are supported. The other kqueue platforms stop the build with a
//! `compile_error!`: NetBSD's `struct kevent` has 32-bit `filter` and `flags`, so it cannot
//! be [`Kevent`] with the `i16`/`u16` fields every other backend has; OpenBSD's and
//! DragonFly's have no `ext` (and DragonFly's `data` is `intptr_t`) and lack several
//! constants kq names. Supporting them means a layout per platform in [`abi`] and a target
//! group for each in `build.rs`.
//!
//! Apple's kernel rejects a `kevent` timeout above 10⁸ seconds (about three years) with
//! `EINVAL`, so longer timeouts are shortened to that; the call then returns 0 early, as a
//! timeout. FreeBSD takes any `time_t`.

pub(crate) mod abi;
mod vnode;

use crate::sys::syscall;
use abi::Kevent;
use std::ffi::c_int;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::time::Duration;

#[cfg(not(any(kq_apple, target_os = "freebsd")))]
compile_error!(
    "kq's kqueue backend supports FreeBSD and Apple's platforms only: this platform's \
     struct kevent differs (see reactor/src/sys/bsd/mod.rs)"
);

/// The longest timeout passed to `kevent`, in seconds (Apple's kernel limit).
#[cfg(kq_apple)]
const MAX_TIMEOUT_SECS: u64 = 100_000_000;
/// The longest timeout passed to `kevent`, in seconds (`time_t`'s limit).
#[cfg(not(kq_apple))]
const MAX_TIMEOUT_SECS: u64 = libc::time_t::MAX as u64;

/// A kernel kqueue.
#[derive(Debug)]
pub(crate) struct Selector {
    /// The kqueue descriptor, close-on-exec. Dropping it closes it; `OwnedFd` ignores the
    /// error of `close`, which is right here: a kqueue holds no data that could be lost, and
    /// the descriptor is released even when `close` reports one.
    kq: OwnedFd,
    /// The descriptors opened by [`Selector::vnode_open`] (kq's vnode extension), closed with
    /// the selector.
    vnodes: std::sync::Mutex<std::collections::HashMap<RawFd, OwnedFd>>,
}

impl Selector {
    /// Creates a kqueue.
    ///
    /// `Options` change nothing here: the kernel computes every event's `data` anyway.
    pub(crate) fn new(_opts: &crate::sys::Options) -> io::Result<Selector> {
        // `libc` offers neither FreeBSD's `kqueuex(KQUEUE_CLOEXEC)` nor a `kqueue1`, so the
        // flag is set afterwards. The window only matters to a concurrent `execve` of this
        // process: kqueue(2) is not inherited by `fork` children.
        let fd = syscall!(kqueue())?;
        // SAFETY: `kqueue` just returned `fd` as a new open descriptor that nothing else owns.
        let kq = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `kq` is an open descriptor and F_SETFD takes an int of descriptor flags (a
        // new descriptor has no other flag to keep). On error `kq` is dropped and closed.
        syscall!(fcntl(kq.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC))?;
        Ok(Selector {
            kq,
            vnodes: std::sync::Mutex::default(),
        })
    }

    /// One `kevent(2)` call on the kqueue.
    ///
    /// # Safety
    ///
    /// The contract of [`Kqueue::kevent_raw`](crate::Kqueue::kevent_raw): `changes` valid for
    /// reads of `nchanges` entries, `events` valid for writes of `nevents` entries, the two
    /// overlapping only if they start at the same address.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if a count exceeds `c_int::MAX`; otherwise the kernel's errors, as
    /// [`Kqueue::kevent`](crate::Kqueue::kevent) documents. `EINTR` is returned, not retried:
    /// the contract reports it, and the changes are applied by then.
    pub(crate) unsafe fn kevent(
        &self,
        changes: *const Kevent,
        nchanges: usize,
        events: *mut Kevent,
        nevents: usize,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let nchanges = count(nchanges, "too many changes for one kevent call")?;
        let nevents = count(nevents, "too many events for one kevent call")?;
        let timeout = timeout.map(timespec);
        let timeout_ptr = timeout.as_ref().map_or(ptr::null(), ptr::from_ref);
        // SAFETY: `Kevent` has the size and field offsets of `libc::kevent` and at least its
        // alignment (asserted at compile time in `abi`), so the casts keep the pointers valid
        // for the counts, which the caller guarantees (`# Safety`). An eventlist that starts
        // at the changelist is allowed by kevent(2): the kernel reads each change before it
        // writes any entry at or before its index. `timeout_ptr` is null or points to
        // `timeout`, alive until the call returns.
        let n = syscall!(kevent(
            self.kq.as_raw_fd(),
            changes.cast::<libc::kevent>(),
            nchanges,
            events.cast::<libc::kevent>(),
            nevents,
            timeout_ptr,
        ))?;
        // `kevent` returns -1 (an `Err` above) or a count in `0..=nevents`.
        Ok(n as usize)
    }

    /// The kqueue's descriptor, readable while events are pending (the kernel's own).
    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.kq.as_raw_fd()
    }
}

/// Converts a list length to `kevent`'s `int`.
fn count(len: usize, msg: &'static str) -> io::Result<c_int> {
    c_int::try_from(len).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, msg))
}

/// Converts a timeout to a `timespec`, shortened to [`MAX_TIMEOUT_SECS`].
fn timespec(timeout: Duration) -> libc::timespec {
    let (secs, nanos) = if timeout.as_secs() > MAX_TIMEOUT_SECS {
        (MAX_TIMEOUT_SECS, 0)
    } else {
        (timeout.as_secs(), timeout.subsec_nanos())
    };
    libc::timespec {
        // `secs <= MAX_TIMEOUT_SECS`, which fits `time_t`.
        tv_sec: libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX),
        // Below 10⁹, which fits any `c_long`.
        tv_nsec: nanos as libc::c_long,
    }
}
