//! The exported C functions: `kqueue()`, `kevent()`, and the rest of libkqueue's public
//! symbols.
//!
//! # Contract at the boundary
//!
//! - No panic crosses it: every function runs its body under `catch_unwind`; a panic (a
//!   bug) becomes `-1` with `errno = EIO`.
//! - Errors are `-1` and `errno`, as `kevent(2)`: `EBADF` for a descriptor that is not an
//!   open kqueue (or a kqueue used in a forked child), `EINVAL` for a negative count or a
//!   bad timeout, `EFAULT` for a null list with a non-zero count, `EINTR` when a signal
//!   handler ran while waiting and no event was pending. Errors of single changes are
//!   `EV_ERROR` entries, as the core reports them.
//! - A blocked `kevent()` waits at most [`WAIT_SLICE`] at a time, then checks that its
//!   descriptor is still open (see the crate docs), so `close()` from another thread ends
//!   the wait with `EBADF`.

use crate::registry;
use kq_reactor::Kevent;
use std::ffi::{CStr, c_char, c_int};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The longest a blocked `kevent()` waits before it checks that its descriptor is open.
pub const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Runs `f`, turning an error into `-1`/`errno` and a panic into `-1`/`EIO`.
fn c_result(f: impl FnOnce() -> io::Result<c_int>) -> c_int {
    let err = match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(n)) => return n,
        Ok(Err(e)) => e.raw_os_error().unwrap_or(libc::EIO),
        Err(_) => libc::EIO,
    };
    // SAFETY: __errno_location returns this thread's errno, valid for writes.
    unsafe { *libc::__errno_location() = err };
    -1
}

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// Creates a kqueue and returns its descriptor (close-on-exec), or `-1` with `errno`.
///
/// The descriptor is readable while events are pending; `close()` releases the kqueue,
/// its knotes and every descriptor they hold.
#[unsafe(no_mangle)]
pub extern "C" fn kqueue() -> c_int {
    c_result(|| registry::create(true))
}

/// [`kq_kqueue`] flag: edge-triggered (`EV_CLEAR`) `EVFILT_READ`/`EVFILT_WRITE` events on
/// pollable descriptors carry `data` 0 instead of the byte count, and cost no system call
/// beyond the wait (kq-reactor's `Builder::edge_data(false)`). For event loops that read
/// until `EAGAIN` and never look at `data`.
pub const KQ_EDGE_NODATA: u32 = 0x1;

/// kq's extension: `kqueue()` with options (`KQ_EDGE_NODATA`). Unknown flags fail with
/// `EINVAL`.
#[unsafe(no_mangle)]
pub extern "C" fn kq_kqueue(flags: u32) -> c_int {
    c_result(|| {
        if flags & !KQ_EDGE_NODATA != 0 {
            return Err(errno(libc::EINVAL));
        }
        registry::create(flags & KQ_EDGE_NODATA == 0)
    })
}

/// Applies `nchanges` changes from `changelist`, then returns up to `nevents` events in
/// `eventlist`, waiting at most `timeout` (null: forever), as `kevent(2)`.
///
/// # Safety
///
/// `changelist` must be valid for reads of `nchanges` entries and `eventlist` for writes
/// of `nevents` entries (either may be null when its count is 0); `timeout` null or valid
/// for a read. The lists may overlap (the changes are copied first when they do, unless
/// both start at the same address, which the core handles in place).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kevent(
    kq: c_int,
    changelist: *const Kevent,
    nchanges: c_int,
    eventlist: *mut Kevent,
    nevents: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    c_result(|| {
        // SAFETY: forwarded from this function's contract.
        unsafe { kevent_impl(kq, changelist, nchanges, eventlist, nevents, timeout) }
    })
}

/// The body of [`kevent`], with `io::Result` errors.
///
/// # Safety
///
/// As [`kevent`].
unsafe fn kevent_impl(
    kq: c_int,
    changelist: *const Kevent,
    nchanges: c_int,
    eventlist: *mut Kevent,
    nevents: c_int,
    timeout: *const libc::timespec,
) -> io::Result<c_int> {
    let (Ok(nchanges), Ok(nevents)) = (usize::try_from(nchanges), usize::try_from(nevents)) else {
        return Err(errno(libc::EINVAL));
    };
    if (changelist.is_null() && nchanges > 0) || (eventlist.is_null() && nevents > 0) {
        return Err(errno(libc::EFAULT));
    }
    let timeout = if timeout.is_null() {
        None
    } else {
        // SAFETY: non-null, and the caller guarantees it is valid for a read.
        let ts = unsafe { timeout.read_unaligned() };
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(errno(libc::EINVAL));
        }
        Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    };
    let entry = registry::lookup(kq)?;

    // The core reads each change before writing any entry at or before its index, which
    // is safe for identical starts only; other overlaps get a copy of the changes.
    let size = std::mem::size_of::<Kevent>();
    let (c0, e0) = (changelist as usize, eventlist as usize);
    let overlap = nchanges > 0
        && nevents > 0
        && c0 != e0
        && c0 < e0 + nevents * size
        && e0 < c0 + nchanges * size;
    let copy: Vec<Kevent>;
    let changes = if overlap {
        // SAFETY: valid for `nchanges` reads (caller's contract).
        copy = unsafe { std::slice::from_raw_parts(changelist, nchanges) }.to_vec();
        copy.as_ptr()
    } else {
        changelist
    };

    let deadline = timeout
        .filter(|_| nevents > 0)
        .map(|t| Instant::now().checked_add(t));
    let mut nchanges = nchanges;
    loop {
        // The wait of this slice: never longer than WAIT_SLICE, so that a close() from
        // another thread is noticed.
        let (slice, last) = match deadline {
            Some(Some(d)) => {
                let left = d.saturating_duration_since(Instant::now());
                (left.min(WAIT_SLICE), left <= WAIT_SLICE)
            }
            // No deadline, or one past the end of time: wait forever.
            _ => (WAIT_SLICE, false),
        };
        // A call with no room for events never waits: no timeout to compute.
        let wait = (nevents > 0).then_some(slice);
        // SAFETY: `changes` is valid for `nchanges` reads (the caller's list or our copy),
        // `eventlist` for `nevents` writes; they overlap only at identical starts.
        let n = unsafe {
            entry
                .kq
                .kevent_raw(changes, nchanges, eventlist, nevents, wait)
        };
        match n {
            Ok(0) if nevents > 0 && !last => {}
            Ok(n) => return Ok(n as c_int),
            // Including the core's own EBADF: a kqueue used in a forked child.
            Err(e) => return Err(e),
        }
        // The changes are applied; the next slices only wait.
        nchanges = 0;
        if !entry.is_live() {
            registry::release(&entry);
            return Err(errno(libc::EBADF));
        }
    }
}

/// libkqueue's explicit initialisation (exported by its static builds): kq needs none.
/// Returns 0.
#[unsafe(no_mangle)]
pub extern "C" fn libkqueue_init() -> c_int {
    0
}

/// Releases the kqueue `kq` and closes its descriptor, as `close(kq)` does (the name of
/// libkqueue 1.x's export).
#[unsafe(no_mangle)]
pub extern "C" fn kqueue_free(kq: c_int) {
    let _ = c_result(|| {
        if let Ok(entry) = registry::lookup(kq) {
            // SAFETY: closing the caller's descriptor, as asked.
            unsafe { libc::close(kq) };
            registry::release(&entry);
        }
        Ok(0)
    });
}

static VERSION: &CStr = c"kq 0.1.0";

/// A string naming this library and its version (`"kq 0.1.0"`): kq's own symbol, so a
/// program can tell kq's library from libkqueue when both answer to `libkqueue.so.0`.
#[unsafe(no_mangle)]
pub extern "C" fn kq_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The number of kqueues the library holds, including closed ones not yet noticed (at
/// most twice the open ones, and at least 64 before any is swept): for leak tests.
#[unsafe(no_mangle)]
pub extern "C" fn kq_count() -> c_int {
    c_result(|| Ok(c_int::try_from(registry::count()).unwrap_or(c_int::MAX)))
}
