//! The BSD and macOS ABI of kq's core: the kernel's own `struct kevent` and constants, so that
//! a slice of [`Kevent`]s is handed to `kevent(2)` as it is, and crosses a C boundary to
//! programs built against the system's `<sys/event.h>` unchanged.
//!
//! Every value comes from the `libc` crate's constant of the same name; none is hard-coded.
//!
//! # Portability
//!
//! The names are those of the Linux backend, so portable code compiles everywhere; the values
//! are the platform's. Where a platform has no equivalent of a name, the name is left out
//! rather than given a value the kernel would read differently:
//!
//! - FreeBSD has every other name. It calls the absolute-timer flag `NOTE_ABSTIME`;
//!   [`NOTE_ABSOLUTE`] is an alias. Its timer units differ from macOS's and libkqueue's
//!   (`NOTE_SECONDS` 0x1, `NOTE_MSECONDS` 0x2, `NOTE_USECONDS` 0x4, `NOTE_NSECONDS` 0x8,
//!   `NOTE_ABSTIME` 0x10), which is why only the names are portable; milliseconds are the
//!   default everywhere, so `NOTE_MSECONDS` is not exported (use `libc::NOTE_MSECONDS`).
//! - Apple's platforms lack `EVFILT_LIO`, `EVFILT_EMPTY`, `EV_FORCEONESHOT`, `EV_KEEPUDATA`,
//!   `EV_DROP`, `NOTE_FILE_POLL`, `NOTE_OPEN`, `NOTE_CLOSE`, `NOTE_CLOSE_WRITE` and
//!   `NOTE_READ`: macOS gives most of their values other meanings (0x0100 and 0x0200 are
//!   `EV_UDATA_SPECIFIC` and `EV_VANISHED`, `NOTE_FILE_POLL`'s 0x2 is `NOTE_OOB`). Apple
//!   calls the absolute-timer flag `NOTE_ABSOLUTE`; [`NOTE_ABSTIME`] is an alias.
//! - `EVFILT_NETDEV` and `EVFILT_SYSCOUNT` are left out on both: no current BSD kernel
//!   has the network-device filter (its number belongs to another filter), and the filter
//!   count changes between OS releases (libc does not define it).
//! - Filters and flags that only one kernel has (FreeBSD's `EVFILT_PROCDESC`, Apple's
//!   `EVFILT_MACHPORT`, ...) are not re-exported; pass `libc`'s constants, whose types are
//!   the ones of [`Kevent`]'s fields.
//! - On FreeBSD, [`Kevent`] has the FreeBSD 12+ layout (64-bit `data` and `ext`), the one
//!   the `libc` crate uses by default; with `libc`'s FreeBSD 11 ABI the crate does not
//!   compile (the layout checks below fail).

use std::ffi::c_void;
use std::mem::offset_of;

/// The type of [`Kevent::data`] on this platform (`intptr_t` on Apple's platforms).
#[cfg(kq_apple)]
pub type Data = isize;
/// The type of [`Kevent::data`] on this platform (`int64_t` on FreeBSD).
#[cfg(not(kq_apple))]
pub type Data = i64;

/// One change or one event: the `struct kevent` of `<sys/event.h>`.
///
/// The layout is the kernel's, field for field (compile-time assertions check it against
/// `libc::kevent`), so arrays of `Kevent` are passed to `kevent(2)` without copying.
/// [`Kevent::new`] plays the `EV_SET` macro.
///
/// # Portability
///
/// Apple's `<sys/event.h>` declares `struct kevent` under `#pragma pack(4)`. `Kevent` has
/// the same size and field offsets but its natural 8-byte alignment, so that its fields can
/// be borrowed (`&kev.data`); every `Kevent` is therefore a valid `struct kevent`, but a C
/// array that is only 4-byte aligned is not a valid `[Kevent]`.
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
    /// Extensions (FreeBSD only): `ext[0]` and `ext[1]` are filter-defined, `ext[2]` and
    /// `ext[3]` are returned untouched, like `udata`.
    #[cfg(not(kq_apple))]
    pub ext: [u64; 4],
}

impl Kevent {
    /// Builds a kevent from its six fields, as `EV_SET(kev, ident, filter, flags, fflags,
    /// data, udata)` does; on FreeBSD `ext` is zeroed.
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
            #[cfg(not(kq_apple))]
            ext: [0; 4],
        }
    }
}

// `Kevent` is `libc::kevent` under another name: the selector casts `Kevent` pointers to
// `libc::kevent` pointers. The closure pins every field's type (it compiles only if each one
// matches exactly), the assertions pin the size and every offset, and an alignment at least
// `libc::kevent`'s (equal on FreeBSD; 8 against Apple's packed 4, see `# Portability`).
const _: fn(&libc::kevent) -> Kevent = |kev| Kevent {
    ident: kev.ident,
    filter: kev.filter,
    flags: kev.flags,
    fflags: kev.fflags,
    data: kev.data,
    udata: kev.udata,
    #[cfg(not(kq_apple))]
    ext: kev.ext,
};
const _: () = assert!(
    size_of::<Kevent>() == size_of::<libc::kevent>()
        && align_of::<Kevent>() >= align_of::<libc::kevent>()
        && offset_of!(Kevent, ident) == offset_of!(libc::kevent, ident)
        && offset_of!(Kevent, filter) == offset_of!(libc::kevent, filter)
        && offset_of!(Kevent, flags) == offset_of!(libc::kevent, flags)
        && offset_of!(Kevent, fflags) == offset_of!(libc::kevent, fflags)
        && offset_of!(Kevent, data) == offset_of!(libc::kevent, data)
        && offset_of!(Kevent, udata) == offset_of!(libc::kevent, udata),
    "kq's Kevent must be laid out exactly as the platform's struct kevent"
);
#[cfg(not(kq_apple))]
const _: () = assert!(
    align_of::<Kevent>() == align_of::<libc::kevent>()
        && offset_of!(Kevent, ext) == offset_of!(libc::kevent, ext),
    "kq's Kevent must be laid out exactly as the platform's struct kevent"
);

// Filters.
/// Readable data, a pending connection, a size beyond the file offset, or EOF.
pub const EVFILT_READ: i16 = libc::EVFILT_READ;
/// Room to write, or EOF on the write side.
pub const EVFILT_WRITE: i16 = libc::EVFILT_WRITE;
/// Asynchronous I/O, registered through `aio_*` rather than `kevent`.
pub const EVFILT_AIO: i16 = libc::EVFILT_AIO;
/// Changes to a file or directory (`NOTE_DELETE`, `NOTE_WRITE`, ...).
pub const EVFILT_VNODE: i16 = libc::EVFILT_VNODE;
/// Process events (`NOTE_EXIT`, `NOTE_FORK`, `NOTE_EXEC`).
pub const EVFILT_PROC: i16 = libc::EVFILT_PROC;
/// Deliveries of a signal, counted.
pub const EVFILT_SIGNAL: i16 = libc::EVFILT_SIGNAL;
/// Timers, periodic or one-shot, relative or absolute.
pub const EVFILT_TIMER: i16 = libc::EVFILT_TIMER;
/// File system events (mounts and unmounts).
pub const EVFILT_FS: i16 = libc::EVFILT_FS;
/// List I/O, registered through `lio_listio` rather than `kevent` (FreeBSD only).
#[cfg(not(kq_apple))]
pub const EVFILT_LIO: i16 = libc::EVFILT_LIO;
/// User-triggered events.
pub const EVFILT_USER: i16 = libc::EVFILT_USER;
/// Send buffer empty (FreeBSD only).
#[cfg(not(kq_apple))]
pub const EVFILT_EMPTY: i16 = libc::EVFILT_EMPTY;

// Actions.
/// Add the knote, or modify it if `(ident, filter)` already exists; implies enable.
pub const EV_ADD: u16 = libc::EV_ADD;
/// Remove the knote.
pub const EV_DELETE: u16 = libc::EV_DELETE;
/// Allow the knote to return events.
pub const EV_ENABLE: u16 = libc::EV_ENABLE;
/// Keep the knote from returning events (activity is still recorded).
pub const EV_DISABLE: u16 = libc::EV_DISABLE;
/// Return the first event, then delete the knote.
pub const EV_ONESHOT: u16 = libc::EV_ONESHOT;
/// Reset the knote's state after it is retrieved (edge-triggered).
pub const EV_CLEAR: u16 = libc::EV_CLEAR;
/// Report every change as an `EV_ERROR` entry (data 0 on success) and return without
/// collecting events.
pub const EV_RECEIPT: u16 = libc::EV_RECEIPT;
/// Disable the knote after each delivered event.
pub const EV_DISPATCH: u16 = libc::EV_DISPATCH;
/// On an existing knote: make it one-shot and activate it now (FreeBSD only).
#[cfg(not(kq_apple))]
pub const EV_FORCEONESHOT: u16 = libc::EV_FORCEONESHOT;
/// Keep the knote's existing udata (FreeBSD only; invalid together with `EV_ADD`).
#[cfg(not(kq_apple))]
pub const EV_KEEPUDATA: u16 = libc::EV_KEEPUDATA;
/// Reserved for the system; stripped from input.
pub const EV_SYSFLAGS: u16 = libc::EV_SYSFLAGS;
/// Internal: drop the knote silently (FreeBSD only).
#[cfg(not(kq_apple))]
pub const EV_DROP: u16 = libc::EV_DROP;
/// Filter-specific flag.
pub const EV_FLAG1: u16 = libc::EV_FLAG1;
/// End of file, or the watched object went away (output).
pub const EV_EOF: u16 = libc::EV_EOF;
/// The change failed (or was receipted); `data` holds the errno (output).
pub const EV_ERROR: u16 = libc::EV_ERROR;

// EVFILT_READ / EVFILT_WRITE.
/// Low-water mark in `data` (sockets).
pub const NOTE_LOWAT: u32 = libc::NOTE_LOWAT;
/// Regular files: fire unconditionally, as `poll(2)` does (FreeBSD only).
#[cfg(not(kq_apple))]
pub const NOTE_FILE_POLL: u32 = libc::NOTE_FILE_POLL;

// EVFILT_VNODE.
/// The file was unlinked.
pub const NOTE_DELETE: u32 = libc::NOTE_DELETE;
/// The contents changed (directories: an entry was added, removed or renamed).
pub const NOTE_WRITE: u32 = libc::NOTE_WRITE;
/// The file grew (directories: an entry moved in or out).
pub const NOTE_EXTEND: u32 = libc::NOTE_EXTEND;
/// Attributes changed.
pub const NOTE_ATTRIB: u32 = libc::NOTE_ATTRIB;
/// The link count changed (directories: a subdirectory was created or removed).
pub const NOTE_LINK: u32 = libc::NOTE_LINK;
/// The file was renamed.
pub const NOTE_RENAME: u32 = libc::NOTE_RENAME;
/// Access was revoked, or the file system was unmounted.
pub const NOTE_REVOKE: u32 = libc::NOTE_REVOKE;
/// The file was opened (FreeBSD only).
#[cfg(not(kq_apple))]
pub const NOTE_OPEN: u32 = libc::NOTE_OPEN;
/// A descriptor opened read-only was closed (FreeBSD only).
#[cfg(not(kq_apple))]
pub const NOTE_CLOSE: u32 = libc::NOTE_CLOSE;
/// A descriptor opened for writing was closed (FreeBSD only).
#[cfg(not(kq_apple))]
pub const NOTE_CLOSE_WRITE: u32 = libc::NOTE_CLOSE_WRITE;
/// The file was read (FreeBSD only).
#[cfg(not(kq_apple))]
pub const NOTE_READ: u32 = libc::NOTE_READ;

// EVFILT_PROC.
/// The process exited; `data` holds its wait status.
pub const NOTE_EXIT: u32 = libc::NOTE_EXIT;
/// The process forked.
pub const NOTE_FORK: u32 = libc::NOTE_FORK;
/// The process exec'd.
pub const NOTE_EXEC: u32 = libc::NOTE_EXEC;
/// Mask of the event bits of `EVFILT_PROC`.
#[cfg(kq_apple)]
pub const NOTE_PCTRLMASK: u32 = libc::NOTE_PCTRLMASK;
/// Mask of the event bits of `EVFILT_PROC`.
#[cfg(not(kq_apple))]
#[expect(
    deprecated,
    reason = "libc deprecates FreeBSD's NOTE_PCTRLMASK as unstable across OS versions; kq \
              re-exports the kernel's value for parity with the other backends"
)]
pub const NOTE_PCTRLMASK: u32 = libc::NOTE_PCTRLMASK;
/// Mask of the pid bits of `EVFILT_PROC`.
pub const NOTE_PDATAMASK: u32 = libc::NOTE_PDATAMASK;
/// Follow the process across forks (FreeBSD; macOS's `kqueue(2)` does not document it).
pub const NOTE_TRACK: u32 = libc::NOTE_TRACK;
/// A child could not be tracked (output).
pub const NOTE_TRACKERR: u32 = libc::NOTE_TRACKERR;
/// The event is about a tracked child (output).
pub const NOTE_CHILD: u32 = libc::NOTE_CHILD;

// EVFILT_TIMER (milliseconds when no unit is given; the unit values differ between FreeBSD
// and macOS).
/// `data` is in seconds.
pub const NOTE_SECONDS: u32 = libc::NOTE_SECONDS;
/// `data` is in microseconds.
pub const NOTE_USECONDS: u32 = libc::NOTE_USECONDS;
/// `data` is in nanoseconds.
pub const NOTE_NSECONDS: u32 = libc::NOTE_NSECONDS;
/// `data` is an absolute time since the Unix epoch, in the timer's unit.
#[cfg(kq_apple)]
pub const NOTE_ABSOLUTE: u32 = libc::NOTE_ABSOLUTE;
/// FreeBSD's name for [`NOTE_ABSOLUTE`].
#[cfg(kq_apple)]
pub const NOTE_ABSTIME: u32 = NOTE_ABSOLUTE;
/// `data` is an absolute time since the Unix epoch, in the timer's unit.
#[cfg(not(kq_apple))]
pub const NOTE_ABSTIME: u32 = libc::NOTE_ABSTIME;
/// macOS's (and libkqueue's) name for [`NOTE_ABSTIME`].
#[cfg(not(kq_apple))]
pub const NOTE_ABSOLUTE: u32 = NOTE_ABSTIME;

// EVFILT_USER.
/// Ignore the input fflags.
pub const NOTE_FFNOP: u32 = libc::NOTE_FFNOP;
/// AND the input fflags into the stored ones.
pub const NOTE_FFAND: u32 = libc::NOTE_FFAND;
/// OR the input fflags into the stored ones.
pub const NOTE_FFOR: u32 = libc::NOTE_FFOR;
/// Copy the input fflags over the stored ones.
pub const NOTE_FFCOPY: u32 = libc::NOTE_FFCOPY;
/// Mask of the fflags control bits.
pub const NOTE_FFCTRLMASK: u32 = libc::NOTE_FFCTRLMASK;
/// Mask of the user's fflags bits.
pub const NOTE_FFLAGSMASK: u32 = libc::NOTE_FFLAGSMASK;
/// Trigger the user event.
pub const NOTE_TRIGGER: u32 = libc::NOTE_TRIGGER;
