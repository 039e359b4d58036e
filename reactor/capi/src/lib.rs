//! kq's core as a C library: `libkq.so` and `libkq.a`, exporting `kqueue()` and `kevent()`
//! with C linkage, for C programs written against `<sys/event.h>` (this crate's
//! `include/sys/event.h`, libkqueue's Linux ABI).
//!
//! On Linux each `kqueue()` is a [`kq_reactor::Kqueue`]; `kevent()` finds it by the
//! descriptor it was given (`registry`) and calls
//! [`Kqueue::kevent_raw`](kq_reactor::Kqueue::kevent_raw). The library also answers to the
//! name `libkqueue.so.0`, so that a program linked against libkqueue runs on kq unchanged
//! (`LD_LIBRARY_PATH`; see the crate's `install.sh`).
//!
//! # The descriptor and its closing
//!
//! The descriptor `kqueue()` returns is a close-on-exec duplicate of the core's own epoll
//! descriptor: it is readable exactly while the kernel or the kqueue has something pending,
//! so `poll`, epoll or another kqueue can watch it (another kq kqueue reports the exact
//! pending count through the core's registry of aliases). The core keeps its own
//! descriptor, so the caller's `close()` can never close anything the core still uses.
//!
//! Linux tells no one when a descriptor is closed, so the library observes it:
//!
//! - every `kevent()` checks that the number it was given still names the kqueue's open
//!   file (`F_DUPFD_QUERY`, else `kcmp`); a closed number, or one reused by another file,
//!   fails with `EBADF` and releases the kqueue;
//! - every `kqueue()` releases the kqueues whose numbers it was just given by the kernel
//!   (they were free, so closed), and now and then checks all of them (amortised: when
//!   the table has doubled since the last sweep), so closed kqueues never accumulate;
//! - a thread blocked in `kevent()` waits in slices of [`WAIT_SLICE`](ffi::WAIT_SLICE) and checks the
//!   descriptor between them, so a `close()` from another thread wakes it with `EBADF`
//!   within one slice.
//!
//! # Portability
//!
//! On Linux only. On FreeBSD and macOS `kqueue()` and `kevent()` are the system's own and
//! this library is empty: link against libc there.

#[cfg(target_os = "linux")]
pub mod ffi;
#[cfg(target_os = "linux")]
mod registry;
