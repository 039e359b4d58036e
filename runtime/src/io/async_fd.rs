//! `AsyncFd`: readiness of a file descriptor the user owns.

use super::{Interest, Ready};
use crate::driver::io::{ReadyEvent, Registration};
use crate::runtime::Handle;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// A descriptor registered with the runtime's kqueue, so that tasks can wait until it is
/// readable or writable.
///
/// The descriptor should be non-blocking. Readiness is edge-triggered underneath: after an
/// operation returns `WouldBlock`, clear the readiness ([`AsyncFdReadyGuard::clear_ready`],
/// or use [`AsyncFdReadyGuard::try_io`], which does it) and wait again.
///
/// Dropping the `AsyncFd` deletes its knotes (with the driver's next turn) and then drops
/// the inner value; [`into_inner`](AsyncFd::into_inner) gives the value back instead.
///
/// `AsyncFd<T>` also implements tokio's and futures' `AsyncRead`/`AsyncWrite` when `T`
/// implements `Read`/`Write` (pipes, sockets, terminals...).
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// use kq_runtime::io::{unix::AsyncFd, AsyncReadExt, AsyncWriteExt};
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// b.set_nonblocking(true).unwrap();
/// let (mut a, mut b) = (AsyncFd::new(a).unwrap(), AsyncFd::new(b).unwrap());
/// a.write_all(b"ping").await.unwrap();
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf).await.unwrap();
/// assert_eq!(&buf, b"ping");
/// # });
/// ```
pub struct AsyncFd<T: AsRawFd> {
    registration: Registration,
    inner: Option<T>,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Registers `inner` for reading and writing.
    ///
    /// # Errors
    ///
    /// `EBADF` if the descriptor is not open; an error if the runtime shut down.
    ///
    /// # Panics
    ///
    /// Outside a kq runtime.
    #[track_caller]
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        AsyncFd::with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `inner` for `interest`.
    ///
    /// # Errors
    ///
    /// As [`new`](AsyncFd::new).
    ///
    /// # Panics
    ///
    /// Outside a kq runtime.
    #[track_caller]
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<AsyncFd<T>> {
        let handle = Handle::current();
        AsyncFd::with_interest_and_handle(inner, interest, &handle)
    }

    /// Registers `inner` for `interest` with the runtime of `handle`.
    ///
    /// # Errors
    ///
    /// As [`new`](AsyncFd::new).
    pub fn with_interest_and_handle(
        inner: T,
        interest: Interest,
        handle: &Handle,
    ) -> io::Result<AsyncFd<T>> {
        let fd = inner.as_raw_fd();
        let registration = Registration::new(handle.inner.driver().clone(), fd, interest)?;
        Ok(AsyncFd {
            registration,
            inner: Some(inner),
        })
    }

    /// The inner value.
    pub fn get_ref(&self) -> &T {
        self.inner.as_ref().expect("present until into_inner")
    }

    /// The inner value.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.as_mut().expect("present until into_inner")
    }

    /// Deregisters the descriptor and returns the inner value.
    pub fn into_inner(mut self) -> T {
        self.registration.deregister(None);
        self.inner.take().expect("present until into_inner")
    }

    fn poll_ready_event(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.registration.poll_ready(cx, interest)
    }

    /// Polls for read readiness.
    pub fn poll_read_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.poll_guard(cx, Interest::READABLE)
    }

    /// Polls for read readiness, with mutable access to the inner value.
    pub fn poll_read_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        self.poll_guard_mut(cx, Interest::READABLE)
    }

    /// Polls for write readiness.
    pub fn poll_write_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.poll_guard(cx, Interest::WRITABLE)
    }

    /// Polls for write readiness, with mutable access to the inner value.
    pub fn poll_write_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        self.poll_guard_mut(cx, Interest::WRITABLE)
    }

    fn poll_guard<'a>(
        &'a self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        let event = ready!(self.poll_ready_event(cx, interest))?;
        Poll::Ready(Ok(AsyncFdReadyGuard {
            fd: self,
            event: Some(event),
        }))
    }

    fn poll_guard_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        let event = ready!(self.poll_ready_event(cx, interest))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard {
            fd: self,
            event: Some(event),
        }))
    }

    async fn ready_event(&self, interest: Interest) -> io::Result<ReadyEvent> {
        self.registration.readiness(interest).await
    }

    /// Waits until the descriptor is ready for `interest` (any number of tasks may wait).
    ///
    /// # Errors
    ///
    /// The registration's error, or the runtime's shutdown.
    pub async fn ready(&self, interest: Interest) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        let event = self.ready_event(interest).await?;
        Ok(AsyncFdReadyGuard {
            fd: self,
            event: Some(event),
        })
    }

    /// As [`ready`](AsyncFd::ready), with mutable access to the inner value.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn ready_mut(
        &mut self,
        interest: Interest,
    ) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        let event = self.ready_event(interest).await?;
        Ok(AsyncFdReadyMutGuard {
            fd: self,
            event: Some(event),
        })
    }

    /// Waits until the descriptor is readable.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::READABLE).await
    }

    /// As [`readable`](AsyncFd::readable), with mutable access.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn readable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::READABLE).await
    }

    /// Waits until the descriptor is writable.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::WRITABLE).await
    }

    /// As [`writable`](AsyncFd::writable), with mutable access.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn writable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::WRITABLE).await
    }

    /// Runs `f` until it does not return `WouldBlock`, waiting for `interest` between
    /// tries.
    ///
    /// # Errors
    ///
    /// `f`'s error, or the registration's.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let mut guard = self.ready(interest).await?;
            match guard.try_io(&mut f) {
                Ok(res) => return res,
                Err(_would_block) => continue,
            }
        }
    }

    /// Runs `f` with readiness for `interest` polled, the `poll_*` way.
    fn poll_io<R>(
        &mut self,
        cx: &mut Context<'_>,
        interest: Interest,
        mut f: impl FnMut(&mut T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = ready!(self.poll_ready_event(cx, interest))?;
            match f(self.get_mut()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.shared().clear_readiness(event);
                }
                res => return Poll::Ready(res),
            }
        }
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        // The deletion is queued before the inner value (and its descriptor) goes.
        self.registration.deregister(None);
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .finish()
    }
}

/// Readiness seen by [`AsyncFd`]'s `*_ready`/`readable`/`writable`, and the way to clear it.
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    fd: &'a AsyncFd<T>,
    event: Option<ReadyEvent>,
}

/// As [`AsyncFdReadyGuard`], with mutable access to the inner value.
pub struct AsyncFdReadyMutGuard<'a, T: AsRawFd> {
    fd: &'a mut AsyncFd<T>,
    event: Option<ReadyEvent>,
}

/// `try_io`'s closure returned `WouldBlock`; the readiness was cleared.
#[derive(Debug)]
pub struct TryIoError(());

macro_rules! guard_methods {
    () => {
        /// Marks the readiness seen as consumed: the next wait waits for a new event. A
        /// newer event that raced with this call is kept.
        pub fn clear_ready(&mut self) {
            if let Some(event) = self.event.take() {
                self.fd.registration.shared().clear_readiness(event);
            }
        }

        /// Clears only `ready` of the readiness seen.
        pub fn clear_ready_matching(&mut self, ready: Ready) {
            if let Some(mut event) = self.event {
                event.ready = event.ready.intersection(ready);
                self.fd.registration.shared().clear_readiness(event);
            }
        }

        /// Keeps the readiness (the default when the guard drops).
        pub fn retain_ready(&mut self) {
            self.event = None;
        }

        /// The readiness seen.
        pub fn ready(&self) -> Ready {
            self.event.map_or(Ready::EMPTY, |e| e.ready)
        }

        /// The `AsyncFd`.
        pub fn get_ref(&self) -> &AsyncFd<T> {
            &*self.fd
        }

        /// The inner value.
        pub fn get_inner(&self) -> &T {
            self.fd.get_ref()
        }
    };
}

impl<T: AsRawFd> AsyncFdReadyGuard<'_, T> {
    guard_methods!();

    /// Runs `f`; on `WouldBlock` clears the readiness and returns `Err(TryIoError)`.
    ///
    /// # Errors
    ///
    /// [`TryIoError`] when `f` would block.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&T) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match f(self.fd.get_ref()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            res => Ok(res),
        }
    }
}

impl<T: AsRawFd> AsyncFdReadyMutGuard<'_, T> {
    guard_methods!();

    /// The inner value, mutably.
    pub fn get_inner_mut(&mut self) -> &mut T {
        self.fd.get_mut()
    }

    /// Runs `f`; on `WouldBlock` clears the readiness and returns `Err(TryIoError)`.
    ///
    /// # Errors
    ///
    /// [`TryIoError`] when `f` would block.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&mut AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match f(self.fd) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            res => Ok(res),
        }
    }
}

impl<T: AsRawFd> fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyGuard")
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T: AsRawFd> fmt::Debug for AsyncFdReadyMutGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyMutGuard")
            .field("ready", &self.ready())
            .finish()
    }
}

// ---- byte-stream traits for descriptors that read and write -----------------------------

impl<T: AsRawFd + Read + Unpin> tokio::io::AsyncRead for AsyncFd<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = ready!(this.poll_io(cx, Interest::READABLE, |t| {
            t.read(buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsRawFd + Write + Unpin> tokio::io::AsyncWrite for AsyncFd<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io(cx, Interest::WRITABLE, |t| t.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .poll_io(cx, Interest::WRITABLE, |t| t.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A descriptor has no write-side shutdown in general; sockets override this in
        // kq-net. Nothing is buffered here.
        Poll::Ready(Ok(()))
    }
}

impl<T: AsRawFd + Read + Unpin> futures_io::AsyncRead for AsyncFd<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io(cx, Interest::READABLE, |t| t.read(buf))
    }
}

impl<T: AsRawFd + Write + Unpin> futures_io::AsyncWrite for AsyncFd<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io(cx, Interest::WRITABLE, |t| t.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .poll_io(cx, Interest::WRITABLE, |t| t.flush())
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
