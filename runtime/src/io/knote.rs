//! `Knote`: one knote of a filter other than READ/WRITE (`EVFILT_PROC`, `EVFILT_SIGNAL`,
//! `EVFILT_VNODE`, ...) registered with the runtime, and the events it delivers.
//!
//! # Accumulation
//!
//! The knote is `EV_CLEAR`. Between two takes, the driver ORs the events' `fflags` together
//! and keeps `data` (summed for `EVFILT_SIGNAL`, whose `data` counts deliveries; the last
//! one otherwise), then marks the registration ready. [`Knote::poll_event`] clears the
//! readiness *first* and takes the accumulated value second: an event whose value the take
//! missed set the readiness after the clear, so it is taken by the next poll, never lost.
//! The price is that a take can occasionally find nothing (its value was taken with the
//! previous one); such an empty take is skipped, not returned.

use crate::driver::io::Registration;
use crate::io::Interest;
use crate::runtime::Handle;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::task::{Context, Poll, ready};

/// What a [`Knote`]'s events carried since the last take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnoteEvent {
    /// The `fflags` of the events, ORed together.
    pub fflags: u32,
    /// The `data` of the events: summed for `EVFILT_SIGNAL`, the last one otherwise.
    pub data: u64,
}

/// One `EV_CLEAR` knote `(ident, filter)` registered with a runtime's kqueue.
///
/// Dropping it deletes the knote (with the driver's next turn), then closes the descriptor
/// it owns, if any.
///
/// Not a stable API: it is public for kq's own crates (see `kq_runtime::__private`).
pub struct Knote {
    registration: Registration,
    fd: Option<OwnedFd>,
}

impl Knote {
    /// Registers the knote `(ident, filter)` with `fflags` and `data` on the current
    /// runtime.
    ///
    /// The core validates the knote when the driver submits it (the next turn, or at once
    /// if a thread is waiting in `kevent`): a failure (`ESRCH` for a process that does not
    /// exist, `EINVAL` for a signal that cannot be caught...) is returned by the first
    /// [`poll_event`](Knote::poll_event) that sees it.
    ///
    /// # Errors
    ///
    /// Outside a kq runtime, or when the runtime has shut down.
    pub fn new(ident: usize, filter: i16, fflags: u32, data: isize) -> io::Result<Knote> {
        let handle = current()?;
        Knote::with_handle(ident, filter, fflags, data, &handle)
    }

    /// As [`new`](Knote::new), on the runtime of `handle`.
    ///
    /// # Errors
    ///
    /// When that runtime has shut down.
    pub fn with_handle(
        ident: usize,
        filter: i16,
        fflags: u32,
        data: isize,
        handle: &Handle,
    ) -> io::Result<Knote> {
        let registration =
            Registration::new_filter(handle.inner.driver().clone(), ident, filter, fflags, data)?;
        Ok(Knote {
            registration,
            fd: None,
        })
    }

    /// Registers the knote `(fd, filter)` on the current runtime and keeps `fd` open until
    /// the knote is deleted (the ident of `EVFILT_VNODE` is an open descriptor).
    ///
    /// # Errors
    ///
    /// As [`new`](Knote::new).
    pub fn with_fd(fd: OwnedFd, filter: i16, fflags: u32, data: isize) -> io::Result<Knote> {
        let handle = current()?;
        let mut knote = Knote::with_handle(fd.as_raw_fd() as usize, filter, fflags, data, &handle)?;
        knote.fd = Some(fd);
        Ok(knote)
    }

    /// The descriptor this knote owns ([`with_fd`](Knote::with_fd)), if any.
    pub fn fd(&self) -> Option<&OwnedFd> {
        self.fd.as_ref()
    }

    /// Takes what the knote's events carried since the last take, or `Pending` (the waker
    /// is woken by the next event). One task at a time may wait this way; any number may
    /// use [`event`](Knote::event).
    ///
    /// # Errors
    ///
    /// The core's error for the knote's registration; the runtime's shutdown error.
    pub fn poll_event(&self, cx: &mut Context<'_>) -> Poll<io::Result<KnoteEvent>> {
        loop {
            let ev = ready!(self.registration.poll_ready(cx, Interest::READABLE))?;
            if let Some(taken) = self.take(ev) {
                return Poll::Ready(Ok(taken));
            }
        }
    }

    /// Waits for the knote's next event and takes what it carried (see
    /// [`poll_event`](Knote::poll_event)). When several tasks wait, the first to run after
    /// an event takes it; the others keep waiting.
    ///
    /// # Errors
    ///
    /// As [`poll_event`](Knote::poll_event).
    pub async fn event(&self) -> io::Result<KnoteEvent> {
        loop {
            let ev = self.registration.readiness(Interest::READABLE).await?;
            if let Some(taken) = self.take(ev) {
                return Ok(taken);
            }
        }
    }

    /// Takes what accumulated, if anything, without waiting.
    ///
    /// # Errors
    ///
    /// As [`poll_event`](Knote::poll_event).
    pub fn try_event(&self) -> io::Result<Option<KnoteEvent>> {
        let shared = self.registration.shared();
        while let Some(ev) = shared.ready_now(Interest::READABLE)? {
            if let Some(taken) = self.take(ev) {
                return Ok(Some(taken));
            }
        }
        Ok(None)
    }

    /// Clears the readiness `ev` saw, then takes the value (see the module docs).
    fn take(&self, ev: crate::driver::io::ReadyEvent) -> Option<KnoteEvent> {
        let shared = self.registration.shared();
        shared.clear_readiness(ev);
        let (fflags, data) = shared.take_event();
        (fflags != 0 || data != 0).then_some(KnoteEvent { fflags, data })
    }
}

impl Drop for Knote {
    fn drop(&mut self) {
        self.registration.deregister(self.fd.take());
    }
}

impl fmt::Debug for Knote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Knote")
            .field("registration", &self.registration)
            .field("fd", &self.fd)
            .finish()
    }
}

fn current() -> io::Result<Handle> {
    Handle::try_current().map_err(|e| io::Error::other(e.to_string()))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::Builder;
    use kq_reactor::{EVFILT_PROC, EVFILT_SIGNAL, NOTE_EXIT};
    use std::time::Duration;

    #[test]
    fn a_proc_knote_reports_the_exit_of_a_child() {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut child = std::process::Command::new("sh")
                .args(["-c", "exit 7"])
                .spawn()
                .unwrap();
            let knote = Knote::new(child.id() as usize, EVFILT_PROC, NOTE_EXIT, 0).unwrap();
            let ev = knote.event().await.unwrap();
            assert_ne!(ev.fflags & NOTE_EXIT, 0, "{ev:?}");
            // `data` is the wait status of the exit.
            assert!(libc::WIFEXITED(ev.data as i32), "{ev:?}");
            assert_eq!(libc::WEXITSTATUS(ev.data as i32), 7);
            drop(knote);
            assert_eq!(child.wait().unwrap().code(), Some(7));
        });
    }

    #[test]
    fn a_knote_for_a_process_that_does_not_exist_is_an_error() {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            // Above the kernel's largest pid (2^22), so no process has it.
            let knote = Knote::new(1 << 23, EVFILT_PROC, NOTE_EXIT, 0).unwrap();
            let err = knote.event().await.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "{err}");
        });
    }

    #[test]
    fn signal_deliveries_are_counted_until_taken() {
        let rt = Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let knote = Knote::new(libc::SIGWINCH as usize, EVFILT_SIGNAL, 0, 0).unwrap();
            // Nothing yet.
            crate::time::sleep(Duration::from_millis(1)).await;
            assert_eq!(knote.try_event().unwrap(), None);
            // SAFETY: raising a signal whose default action is to be ignored.
            unsafe { libc::raise(libc::SIGWINCH) };
            let ev = knote.event().await.unwrap();
            assert!(ev.data >= 1, "{ev:?}");
            assert_eq!(knote.try_event().unwrap(), None, "taken once");
        });
    }

    #[test]
    fn outside_a_runtime_new_is_an_error() {
        let err = Knote::new(1, EVFILT_SIGNAL, 0, 0).unwrap_err();
        assert!(err.to_string().contains("runtime"), "{err}");
    }
}
