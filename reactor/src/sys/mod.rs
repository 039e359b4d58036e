//! The one place that picks the backend.
//!
//! Every backend provides:
//!
//! - `abi`: the public [`Kevent`](crate::Kevent) layout and the `EVFILT_*`, `EV_*` and
//!   `NOTE_*` constants with the platform's own values;
//! - `Selector`: `new(&Options) -> io::Result<Selector>`; `unsafe fn kevent(&self, changes: *const
//!   Kevent, nchanges: usize, events: *mut Kevent, nevents: usize, timeout:
//!   Option<Duration>) -> io::Result<usize>` with the contract of
//!   [`Kqueue::kevent_raw`](crate::Kqueue::kevent_raw); `fn as_raw_fd(&self) -> RawFd`
//!   (which may start work that makes the descriptor's readiness exact); `Send + Sync`.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::{Selector, abi};

#[cfg(kq_bsd)]
mod bsd;
#[cfg(kq_bsd)]
pub(crate) use bsd::{Selector, abi};

/// Options a kqueue is built with (see [`Builder`](crate::Builder)).
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) edge_data: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { edge_data: true }
    }
}

/// Runs a libc call and turns its `-1` into `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_unsafe)]
        // SAFETY: the caller of `syscall!` upholds the libc function's contract; every call
        // site documents why its arguments are valid.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
pub(crate) use syscall;
