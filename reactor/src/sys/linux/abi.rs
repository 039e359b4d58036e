//! The Linux ABI of kq's core: `struct kevent` and the constants, with the values of
//! libkqueue's `<sys/event.h>` (the de-facto kqueue ABI on Linux), so that a slice of
//! [`Kevent`]s can cross a C boundary to programs built against libkqueue unchanged.
//!
//! Where libkqueue has no value for a FreeBSD name kq implements (EV_FORCEONESHOT,
//! EV_KEEPUDATA, NOTE_FILE_POLL, NOTE_OPEN and friends, EVFILT_EMPTY), FreeBSD's value is used.
//! Timer units are libkqueue's (which are macOS's): milliseconds by default, NOTE_SECONDS 0x1,
//! NOTE_USECONDS 0x2, NOTE_NSECONDS 0x4, NOTE_ABSOLUTE 0x8.

use std::ffi::c_void;

/// The type of [`Kevent::data`] on this platform (`intptr_t` on Linux).
pub type Data = isize;

/// One change or one event: the `struct kevent` of `<sys/event.h>`.
///
/// The layout is libkqueue's on Linux: 32 bytes on 64-bit targets, fields in this order.
/// [`Kevent::new`] plays the `EV_SET` macro.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kevent {
    /// Identifier of the event source: an fd, a pid, a signal number, a timer or user id.
    pub ident: usize,
    /// The filter (`EVFILT_*`), which with `ident` names the knote.
    pub filter: i16,
    /// Action flags on input, status flags on output (`EV_*`).
    pub flags: u16,
    /// Filter-specific flags (`NOTE_*`).
    pub fflags: u32,
    /// Filter-specific data: a count, a size, an exit status, an errno for `EV_ERROR`.
    pub data: Data,
    /// Opaque user data, returned untouched with every event of the knote.
    pub udata: *mut c_void,
}

impl Kevent {
    /// Builds a kevent from its six fields, as `EV_SET(kev, ident, filter, flags, fflags,
    /// data, udata)` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kq_reactor::{Kevent, EVFILT_TIMER, EV_ADD, EV_ENABLE};
    ///
    /// let change = Kevent::new(1, EVFILT_TIMER, EV_ADD | EV_ENABLE, 0, 5000, std::ptr::null_mut());
    /// assert_eq!(change.data, 5000);
    /// ```
    #[must_use]
    pub const fn new(
        ident: usize,
        filter: i16,
        flags: u16,
        fflags: u32,
        data: Data,
        udata: *mut c_void,
    ) -> Kevent {
        Kevent {
            ident,
            filter,
            flags,
            fflags,
            data,
            udata,
        }
    }
}

// Filters.
/// Readable data, a pending connection, a size beyond the file offset, or EOF.
pub const EVFILT_READ: i16 = -1;
/// Room to write, or EOF on the write side.
pub const EVFILT_WRITE: i16 = -2;
/// Asynchronous I/O (not available on Linux: `ENXIO`, as FreeBSD's null filter).
pub const EVFILT_AIO: i16 = -3;
/// Changes to a file or directory (`NOTE_DELETE`, `NOTE_WRITE`, ...).
pub const EVFILT_VNODE: i16 = -4;
/// Process events (`NOTE_EXIT`).
pub const EVFILT_PROC: i16 = -5;
/// Deliveries of a signal, counted.
pub const EVFILT_SIGNAL: i16 = -6;
/// Timers, periodic or one-shot, relative or absolute.
pub const EVFILT_TIMER: i16 = -7;
/// Network device events (not available on Linux: `EINVAL`).
pub const EVFILT_NETDEV: i16 = -8;
/// File system events (not available on Linux: `EINVAL`).
pub const EVFILT_FS: i16 = -9;
/// List I/O (not available on Linux: `ENXIO`).
pub const EVFILT_LIO: i16 = -10;
/// User-triggered events.
pub const EVFILT_USER: i16 = -11;
/// Send buffer empty (FreeBSD's value; not available on Linux: `EOPNOTSUPP`).
pub const EVFILT_EMPTY: i16 = -13;
/// Number of filters libkqueue defines.
pub const EVFILT_SYSCOUNT: i16 = 13;

// Actions.
/// Add the knote, or modify it if `(ident, filter)` already exists; implies enable.
pub const EV_ADD: u16 = 0x0001;
/// Remove the knote.
pub const EV_DELETE: u16 = 0x0002;
/// Allow the knote to return events.
pub const EV_ENABLE: u16 = 0x0004;
/// Keep the knote from returning events (activity is still recorded).
pub const EV_DISABLE: u16 = 0x0008;
/// Return the first event, then delete the knote.
pub const EV_ONESHOT: u16 = 0x0010;
/// Reset the knote's state after it is retrieved (edge-triggered).
pub const EV_CLEAR: u16 = 0x0020;
/// Report every change as an `EV_ERROR` entry (data 0 on success) and return without
/// collecting events.
pub const EV_RECEIPT: u16 = 0x0040;
/// Disable the knote after each delivered event.
pub const EV_DISPATCH: u16 = 0x0080;
/// On an existing knote: make it one-shot and activate it now (FreeBSD's value).
pub const EV_FORCEONESHOT: u16 = 0x0100;
/// Keep the knote's existing udata (FreeBSD's value; invalid together with `EV_ADD`).
pub const EV_KEEPUDATA: u16 = 0x0200;
/// Reserved for the system; stripped from input.
pub const EV_SYSFLAGS: u16 = 0xF000;
/// Internal: drop the knote silently.
pub const EV_DROP: u16 = 0x1000;
/// Filter-specific flag.
pub const EV_FLAG1: u16 = 0x2000;
/// End of file, or the watched object went away (output).
pub const EV_EOF: u16 = 0x8000;
/// The change failed (or was receipted); `data` holds the errno (output).
pub const EV_ERROR: u16 = 0x4000;

// EVFILT_READ / EVFILT_WRITE.
/// Low-water mark in `data` (sockets).
pub const NOTE_LOWAT: u32 = 0x0001;
/// Regular files: fire unconditionally, as `poll(2)` does (FreeBSD's value).
pub const NOTE_FILE_POLL: u32 = 0x0002;

// EVFILT_VNODE.
/// The file was unlinked.
pub const NOTE_DELETE: u32 = 0x0001;
/// The contents changed (directories: an entry was added, removed or renamed).
pub const NOTE_WRITE: u32 = 0x0002;
/// The file grew (directories: an entry moved in or out).
pub const NOTE_EXTEND: u32 = 0x0004;
/// Attributes changed.
pub const NOTE_ATTRIB: u32 = 0x0008;
/// The link count changed (directories: a subdirectory was created or removed).
pub const NOTE_LINK: u32 = 0x0010;
/// The file was renamed.
pub const NOTE_RENAME: u32 = 0x0020;
/// Access was revoked: on Linux, the file system was unmounted.
pub const NOTE_REVOKE: u32 = 0x0040;
/// The file was opened (FreeBSD's value).
pub const NOTE_OPEN: u32 = 0x0080;
/// A descriptor opened read-only was closed (FreeBSD's value).
pub const NOTE_CLOSE: u32 = 0x0100;
/// A descriptor opened for writing was closed (FreeBSD's value).
pub const NOTE_CLOSE_WRITE: u32 = 0x0200;
/// The file was read (FreeBSD's value).
pub const NOTE_READ: u32 = 0x0400;

// EVFILT_PROC.
/// The process exited; `data` holds its wait status.
pub const NOTE_EXIT: u32 = 0x8000_0000;
/// The process forked (not available on Linux).
pub const NOTE_FORK: u32 = 0x4000_0000;
/// The process exec'd (not available on Linux).
pub const NOTE_EXEC: u32 = 0x2000_0000;
/// Mask of the event bits of `EVFILT_PROC`.
pub const NOTE_PCTRLMASK: u32 = 0xf000_0000;
/// Mask of the pid bits of `EVFILT_PROC`.
pub const NOTE_PDATAMASK: u32 = 0x000f_ffff;
/// Follow the process across forks (not available on Linux).
pub const NOTE_TRACK: u32 = 0x0000_0001;
/// A child could not be tracked (output).
pub const NOTE_TRACKERR: u32 = 0x0000_0002;
/// The event is about a tracked child (output).
pub const NOTE_CHILD: u32 = 0x0000_0004;

// EVFILT_TIMER (libkqueue's, which are macOS's; milliseconds when no unit is given).
/// `data` is in seconds.
pub const NOTE_SECONDS: u32 = 0x0001;
/// `data` is in microseconds.
pub const NOTE_USECONDS: u32 = 0x0002;
/// `data` is in nanoseconds.
pub const NOTE_NSECONDS: u32 = 0x0004;
/// `data` is an absolute time since the Unix epoch, in the timer's unit.
pub const NOTE_ABSOLUTE: u32 = 0x0008;
/// FreeBSD's name for [`NOTE_ABSOLUTE`].
pub const NOTE_ABSTIME: u32 = NOTE_ABSOLUTE;

// EVFILT_USER.
/// Ignore the input fflags.
pub const NOTE_FFNOP: u32 = 0x0000_0000;
/// AND the input fflags into the stored ones.
pub const NOTE_FFAND: u32 = 0x4000_0000;
/// OR the input fflags into the stored ones.
pub const NOTE_FFOR: u32 = 0x8000_0000;
/// Copy the input fflags over the stored ones.
pub const NOTE_FFCOPY: u32 = 0xc000_0000;
/// Mask of the fflags control bits.
pub const NOTE_FFCTRLMASK: u32 = 0xc000_0000;
/// Mask of the user's fflags bits.
pub const NOTE_FFLAGSMASK: u32 = 0x00ff_ffff;
/// Trigger the user event.
pub const NOTE_TRIGGER: u32 = 0x0100_0000;
