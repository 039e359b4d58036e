//! kq's kqueue-model event core.
//!
//! Every source of readiness is a *knote* named by `(ident, filter)`: sockets, pipes and
//! FIFOs (`EVFILT_READ`/`EVFILT_WRITE`), files and directories (`EVFILT_VNODE`), processes
//! (`EVFILT_PROC`), signals (`EVFILT_SIGNAL`), timers (`EVFILT_TIMER`) and user wake-ups
//! (`EVFILT_USER`). Knotes are changed through a *changelist* and reported through an
//! *eventlist* by one call, [`Kqueue::kevent`], with the semantics of FreeBSD's `kevent(2)`:
//! `EV_ADD`/`EV_DELETE`/`EV_ENABLE`/`EV_DISABLE`, `EV_ONESHOT`, `EV_CLEAR`, `EV_DISPATCH`,
//! `EV_RECEIPT`, and errors reported in-band as `EV_ERROR` entries.
//!
//! On FreeBSD and macOS the core is a thin layer over the kernel's kqueue. On Linux it
//! implements the same semantics in user space over epoll, inotify, pidfds, a counting signal
//! handler, an eventfd and an in-core timer store: the knote table and the active queue live
//! in this crate, and the kernel facilities only deliver activity hints.
//!
//! This crate has no async code and no threads of its own; kq's runtime drives it.
//!
//! # Examples
//!
//! A timer knote that fires every 10 ms, the first program of the NetBSD kqueue tutorial:
//!
//! ```
//! use kq_reactor::{Kevent, Kqueue, EVFILT_TIMER, EV_ADD, EV_ENABLE};
//! use std::time::Duration;
//!
//! let kq = Kqueue::new()?;
//! let change = Kevent::new(1, EVFILT_TIMER, EV_ADD | EV_ENABLE, 0, 10, std::ptr::null_mut());
//! let mut events = [Kevent::new(0, 0, 0, 0, 0, std::ptr::null_mut()); 1];
//! let n = kq.kevent(&[change], &mut events, Some(Duration::from_secs(5)))?;
//! assert_eq!(n, 1);
//! assert_eq!(events[0].ident, 1);
//! assert!(events[0].data >= 1); // expirations since the last report
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Portability
//!
//! Constant values are the platform's own: on Linux libkqueue's, on the BSDs and macOS the
//! kernel's. Never hard-code numbers; use the names. The Linux backend follows FreeBSD
//! where the platforms differ, with these deviations (each has a test that pins it):
//!
//! - `EVFILT_PROC` supports `NOTE_EXIT` only; `NOTE_FORK`, `NOTE_EXEC` and `NOTE_TRACK` need
//!   privileges Linux does not give an unprivileged process and fail with `EOPNOTSUPP`.
//!   `EVFILT_AIO`, `EVFILT_LIO` fail with `ENXIO` (as FreeBSD's null filters),
//!   `EVFILT_NETDEV`, `EVFILT_FS` and unknown filters with `EINVAL`, and `EVFILT_EMPTY`
//!   (which has no exact wake-up source on Linux) with `EOPNOTSUPP`.
//! - `NOTE_LOWAT` is honoured for `EVFILT_READ` (the knote fires when at least `data` bytes
//!   are queued or at EOF) by re-checking on each wake-up; it never changes the socket's
//!   own `SO_RCVLOWAT`.
//! - `data` of `EVFILT_READ` on a UDP socket is the size of the next datagram (Linux's
//!   `FIONREAD`), not all queued bytes; on a Unix-domain listening socket it is 1 (Linux does
//!   not expose the queue length without `sock_diag`); on an eventfd, a timerfd or a
//!   signalfd it is 1 (their counters cannot be read without consuming them).
//! - `data` of `EVFILT_WRITE` on a socket is `SO_SNDBUF − SIOCOUTQ` (Linux doubles
//!   `SO_SNDBUF` and counts overhead, so it is an estimate of free space).
//! - The socket error reported in `fflags` with `EV_EOF` is read with `SO_ERROR`, which
//!   clears it in the kernel: a later `read`/`write` no longer sees it.
//! - A descriptor closed while registered: the kernel cannot tell kq, so its knotes are
//!   dropped lazily — when a change names the fd number again (the file's identity is
//!   checked), or when a re-evaluation finds the fd closed. A closed and reused fd number
//!   never delivers an event of the old file. Use `EV_DELETE` before `close` to release a
//!   knote at once.
//! - `EVFILT_SIGNAL` installs a counting handler (once per signal, chaining to the
//!   disposition found then) instead of blocking signals, so no signal mask leaks into
//!   children and the process's own handlers still run. A signal that every thread blocks
//!   stays pending in the kernel and is counted when it is delivered. Ignored `SIGCHLD` is
//!   not recorded, as on FreeBSD.
//! - `SIGKILL` and `SIGSTOP` cannot be caught, so a SIGNAL knote for them fails with
//!   `EINVAL` (FreeBSD accepts the knote; it can never fire there either).
//! - A watched directory removed with `rmdir` while kq holds its descriptor reports no
//!   `NOTE_DELETE` (Linux sends nothing until the last descriptor is closed); removing the
//!   last link of a watched file does report `NOTE_DELETE`.
//! - Timers have no per-process limit (FreeBSD's `kern.kq_calloutmax` is 4096).
//! - A `Kqueue` used in a child after `fork(2)` fails every call with `EBADF` (a kqueue is not
//!   inherited) and never touches the parent's registrations.
//! - The kqueue's descriptor ([`AsRawFd`](std::os::fd::AsRawFd)) is readable while events may
//!   be pending, so another kqueue, epoll or poll can watch it. Expiring timers make it
//!   readable only once the descriptor has been asked for (so an unobserved kqueue pays
//!   nothing for this).

mod kqueue;
mod sys;
mod vnode_path;

pub use kqueue::{Builder, Kqueue};
pub use sys::abi::*;
pub use vnode_path::{
    CHILD_QUEUE_MAX, ChildEvent, ChildOp, NOTE_KQ_CHILDREN, NOTE_KQ_OVERFLOW, VnodeChildren,
};
