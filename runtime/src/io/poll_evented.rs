//! `PollEvented`: a descriptor the runtime owns, registered once, read and written through
//! its readiness. kq's sockets (kq-net) and child pipes (kq-process) are built on it.
//!
//! # Drained reads and full writes
//!
//! The knotes are `EV_CLEAR`: after an edge, the source is not reported again until new
//! data (or space) arrives. The usual way to learn that the edge is consumed is an
//! operation that fails with `EWOULDBLOCK` — one wasted system call per wakeup. For a
//! byte stream it is not needed: a `read` that returns fewer bytes than asked for (but
//! more than zero) emptied the receive buffer, and a `send` that took fewer bytes than
//! offered filled the send buffer. Both clear the readiness they used at once. The clear
//! is by tick (see the driver's `io` module): an event that came after the readiness was
//! observed is never erased, so data arriving between the `read` and the clear still wakes
//! the reader. Datagram sockets must not rely on this (a short datagram says nothing about
//! the queue); they use [`PollEvented::poll_io`], which clears only on `EWOULDBLOCK`.
//!
//! # Socket errors
//!
//! On Linux the core learns of a socket error (`ECONNRESET`, `ECONNREFUSED`...) by reading
//! `SO_ERROR`, which clears it in the kernel; the event carries it in `fflags` and the
//! driver keeps it. An operation that then finds nothing to do (`EWOULDBLOCK`, a read of 0,
//! a failed send) returns the kept error instead, so the caller sees the error the kernel
//! would have given it. [`PollEvented::take_error`] takes it directly (after a connect).
//!
//! # Closing
//!
//! Dropping a `PollEvented` queues the deletion of its knotes and hands the descriptor to
//! the driver, which closes it right after the deletion is submitted: the number cannot be
//! reused by a new registration while the old knotes still exist.

use super::{Interest, Ready};
use crate::driver::io::{ReadyEvent, Registration};
use crate::runtime::Handle;
use std::fmt;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::task::{Context, Poll, ready};
use tokio::io::ReadBuf;

/// Flags of every `send`: no `SIGPIPE` for a write to a closed peer where the platform
/// has the flag (Apple platforms get `SO_NOSIGPIPE` on the socket instead).
#[cfg(not(target_vendor = "apple"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(target_vendor = "apple")]
const SEND_FLAGS: libc::c_int = 0;

/// A descriptor owned by the runtime: registered with `EV_CLEAR` knotes for its interest,
/// closed after its knotes are deleted.
///
/// Not a stable API: it is public for kq's own crates (see `kq_runtime::__private`).
pub struct PollEvented<E: AsFd + Into<OwnedFd>> {
    registration: Registration,
    io: Option<E>,
}

impl<E: AsFd + Into<OwnedFd>> PollEvented<E> {
    /// Registers `io` for reading and writing with the current runtime.
    ///
    /// # Errors
    ///
    /// Outside a kq runtime, or when the runtime has shut down.
    pub fn new(io: E) -> io::Result<PollEvented<E>> {
        PollEvented::new_with_interest(io, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `io` for `interest` with the current runtime.
    ///
    /// # Errors
    ///
    /// As [`new`](PollEvented::new).
    pub fn new_with_interest(io: E, interest: Interest) -> io::Result<PollEvented<E>> {
        let handle = Handle::try_current().map_err(|e| io::Error::other(e.to_string()))?;
        PollEvented::new_with_handle(io, interest, &handle)
    }

    /// Registers `io` for `interest` with the runtime of `handle`.
    ///
    /// # Errors
    ///
    /// When that runtime has shut down.
    pub fn new_with_handle(
        io: E,
        interest: Interest,
        handle: &Handle,
    ) -> io::Result<PollEvented<E>> {
        // The descriptor is owned, so it is open: no check needed before registering.
        let fd = io.as_fd().as_raw_fd();
        let registration = Registration::new_open(handle.inner.driver().clone(), fd, interest)?;
        Ok(PollEvented {
            registration,
            io: Some(io),
        })
    }

    /// The descriptor's owner.
    pub fn get_ref(&self) -> &E {
        self.io.as_ref().expect("present until into_inner or drop")
    }

    /// Deletes the knotes and gives the descriptor back, still open.
    pub fn into_inner(mut self) -> E {
        self.registration.deregister(None);
        self.io.take().expect("present until into_inner or drop")
    }

    fn raw(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }

    /// Readiness for one direction (`READABLE` or `WRITABLE`), with the task's budget.
    /// At most one task per direction may wait this way at a time; more use
    /// [`ready`](PollEvented::ready).
    pub fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.registration.poll_ready(cx, interest)
    }

    /// Marks `event` consumed (unless a newer event came since).
    pub fn clear_readiness(&self, event: ReadyEvent) {
        self.registration.shared().clear_readiness(event);
    }

    /// Waits until the descriptor is ready for `interest`; any number of tasks may wait.
    ///
    /// # Errors
    ///
    /// The registration's error, or the runtime's shutdown.
    pub async fn ready(&self, interest: Interest) -> io::Result<ReadyEvent> {
        self.registration.readiness(interest).await
    }

    /// The readiness known now for `interest`, without waiting.
    pub fn ready_now(&self, interest: Interest) -> io::Result<Option<ReadyEvent>> {
        self.registration.shared().ready_now(interest)
    }

    /// Runs `f` until it does not return `WouldBlock`, waiting for `interest` (one
    /// direction) in between, the `poll_*` way.
    pub fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        mut f: impl FnMut(&E) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = ready!(self.poll_ready(cx, interest))?;
            match f(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.would_block(event)?,
                res => return Poll::Ready(res),
            }
        }
    }

    /// Runs `f` until it does not return `WouldBlock`, waiting for `interest` in between;
    /// any number of tasks may do this at once.
    ///
    /// # Errors
    ///
    /// `f`'s error, or the registration's.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(&E) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let event = self.ready(interest).await?;
            match f(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.would_block(event)?,
                res => return res,
            }
        }
    }

    /// Runs `f` once if the descriptor is known to be ready for `interest`, clearing the
    /// readiness if `f` returns `WouldBlock`; `WouldBlock` without running `f` if not.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, `f`'s error, or the registration's.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce(&E) -> io::Result<R>,
    ) -> io::Result<R> {
        let Some(event) = self.ready_now(interest)? else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        match f(self.get_ref()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.would_block(event)?;
                Err(e)
            }
            res => res,
        }
    }

    /// An operation after `event` would block: the kept socket error if there is one,
    /// else the readiness is cleared.
    fn would_block(&self, event: ReadyEvent) -> io::Result<()> {
        match self.take_error() {
            Some(e) => Err(e),
            None => {
                self.clear_readiness(event);
                Ok(())
            }
        }
    }

    /// A read of `len` bytes returned `n`: end of stream (0 of more than 0) is the kept
    /// socket error instead, if there is one (a reset reads as `ConnectionReset`, not as
    /// end of stream). For reads made outside [`poll_read`](PollEvented::poll_read).
    ///
    /// # Errors
    ///
    /// The kept socket error.
    pub fn end_of_stream(&self, n: usize, len: usize) -> io::Result<usize> {
        if n == 0 && len > 0 {
            if let Some(e) = self.take_error() {
                return Err(e);
            }
        }
        Ok(n)
    }

    /// Takes the socket error an event reported and the core consumed, if any (see
    /// "Socket errors" above; callers also ask the socket itself with `SO_ERROR`).
    pub fn take_error(&self) -> Option<io::Error> {
        self.registration.shared().take_socket_error()
    }

    // ---- byte streams ---------------------------------------------------------------

    /// Reads into `buf`'s unfilled part with `read(2)` (pipes; a byte stream: a short read
    /// counts as drained).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.poll_read_with(cx, buf, read)
    }

    /// Reads into `buf` with `read(2)` (a byte stream: a short read counts as drained).
    pub fn poll_read_slice(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_slice_with(cx, buf, read)
    }

    /// Receives into `buf`'s unfilled part from a stream socket with `recv(2)` (a short
    /// read counts as drained). On Linux `recv` goes straight to the socket; `read`
    /// takes the file path first (position lock check, permission hook, fsnotify).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.poll_read_with(cx, buf, recv)
    }

    /// Receives into `buf` from a stream socket with `recv(2)`.
    pub fn poll_recv_slice(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_slice_with(cx, buf, recv)
    }

    fn poll_slice_with(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        op: fn(RawFd, &mut [MaybeUninit<u8>]) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        ready!(self.poll_read_with(cx, &mut rb, op))?;
        Poll::Ready(Ok(rb.filled().len()))
    }

    fn poll_read_with(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        op: fn(RawFd, &mut [MaybeUninit<u8>]) -> io::Result<usize>,
    ) -> Poll<io::Result<()>> {
        loop {
            let event = ready!(self.poll_ready(cx, Interest::READABLE))?;
            // SAFETY: `op` (read or recv) writes at most `len` bytes into the unfilled part
            // and never reads it, so uninitialised memory there is fine; on success its
            // first `n` bytes are initialised, which is what `assume_init` is told.
            let res = unsafe {
                let unfilled = buf.unfilled_mut();
                let len = unfilled.len();
                let n = op(self.raw(), unfilled);
                if let Ok(n) = n {
                    buf.assume_init(n);
                    buf.advance(n);
                }
                n.map(|n| (n, len))
            };
            match res {
                Ok((0, len)) => return Poll::Ready(self.end_of_stream(0, len).map(drop)),
                Ok((n, len)) => {
                    if n < len {
                        self.clear_readiness(event);
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.would_block(event)?,
                Err(e) => return Poll::Ready(Err(self.take_error().unwrap_or(e))),
            }
        }
    }

    /// Sends `buf` on a stream socket (no `SIGPIPE`; a short send counts as full).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, buf.len(), || send(self.raw(), buf))
    }

    /// Sends `bufs` with one `sendmsg` (no `SIGPIPE`; a short send counts as full).
    pub fn poll_send_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.poll_write_with(cx, len, || send_vectored(self.raw(), bufs))
    }

    /// Writes `buf` with `write(2)` (pipes; a short write counts as full).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, buf.len(), || write(self.raw(), buf))
    }

    fn poll_write_with(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        mut op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let event = ready!(self.poll_ready(cx, Interest::WRITABLE))?;
            match op() {
                Ok(n) => {
                    if n > 0 && n < len {
                        self.clear_readiness(event);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.would_block(event)?,
                Err(e) => return Poll::Ready(Err(self.take_error().unwrap_or(e))),
            }
        }
    }

    /// Reads once if known readable (the `try_read` of kq's streams).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when not known readable or when nothing is there; the read's error.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let n = self.try_io(Interest::READABLE, |io| {
            // SAFETY: an initialised slice is a valid `MaybeUninit` slice; `read` only
            // writes initialised bytes into it.
            read(io.as_fd().as_raw_fd(), unsafe { as_uninit(buf) })
        })?;
        self.end_of_stream(n, len)
    }

    /// Sends once if known writable (the `try_write` of kq's stream sockets).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when not known writable or when the buffer is full; the send's error.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, |io| send(io.as_fd().as_raw_fd(), buf))
    }

    /// Sends `bufs` once if known writable.
    ///
    /// # Errors
    ///
    /// As [`try_send`](PollEvented::try_send).
    pub fn try_send_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, |io| {
            send_vectored(io.as_fd().as_raw_fd(), bufs)
        })
    }
}

impl<E: AsFd + Into<OwnedFd>> AsRawFd for PollEvented<E> {
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

impl<E: AsFd + Into<OwnedFd>> Drop for PollEvented<E> {
    fn drop(&mut self) {
        let fd = self.io.take().map(Into::into);
        self.registration.deregister(fd);
    }
}

impl<E: AsFd + Into<OwnedFd> + fmt::Debug> fmt::Debug for PollEvented<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollEvented").field("io", &self.io).finish()
    }
}

/// # Safety
///
/// The caller must not write uninitialised bytes through the returned slice.
unsafe fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: same layout; the caller keeps the bytes initialised.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

fn cvt(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn read(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe writable memory owned by `buf`.
    cvt(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

fn recv(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe writable memory owned by `buf`.
    cvt(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) })
}

fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe readable memory owned by `buf`.
    cvt(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
}

fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe readable memory owned by `buf`.
    cvt(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), SEND_FLAGS) })
}

fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero msghdr is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is ABI-compatible with `iovec` on Unix (std guarantees it).
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(libc::c_int::MAX as usize) as _;
    // SAFETY: `msg` points at `bufs`, which outlive the call; sendmsg only reads them.
    cvt(unsafe { libc::sendmsg(fd, &msg, SEND_FLAGS) })
}

/// Readiness seen for a [`PollEvented`]: what it was, and the tick to clear it by.
impl ReadyEvent {
    /// The readiness.
    pub fn ready(&self) -> Ready {
        self.ready
    }
}
