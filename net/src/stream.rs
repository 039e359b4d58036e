//! What kq's byte-stream sockets (TCP and Unix) share: the readiness and `try_*` methods,
//! and the tokio and futures-io I/O traits. Written once, expanded for each type.
//!
//! Each macro expands inside an `impl` whose `self.evented()` returns the
//! `PollEvented` of the socket.

/// Waiting for readiness, for any kq socket.
macro_rules! ready_methods {
    () => {
        /// Waits until the socket is ready for any of `interest`, and returns what it is
        /// ready for. Any number of tasks may wait at once.
        ///
        /// Readiness can be stale: a `try_*` call after it may still return
        /// `WouldBlock`, and then the readiness is cleared and the next wait waits.
        ///
        /// # Errors
        ///
        /// A socket error the core reported, or the runtime's shutdown.
        pub async fn ready(
            &self,
            interest: kq_runtime::io::Interest,
        ) -> std::io::Result<kq_runtime::io::Ready> {
            Ok(self.evented().ready(interest).await?.ready())
        }
    };
}

/// The read side's readiness and non-blocking reads, for byte streams.
macro_rules! read_methods {
    () => {
        /// Waits until the socket is readable (data, end of stream, or an error).
        ///
        /// # Errors
        ///
        /// As [`ready`](Self::ready).
        pub async fn readable(&self) -> std::io::Result<()> {
            self.ready(kq_runtime::io::Interest::READABLE)
                .await
                .map(drop)
        }

        /// Reads what is there without waiting: `WouldBlock` if the socket is not known
        /// readable or has nothing; `Ok(0)` at the end of the stream.
        ///
        /// # Errors
        ///
        /// `WouldBlock`, or the read's error.
        pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.evented().try_read(buf)
        }

        /// As [`try_read`](Self::try_read), into several buffers (one `readv`).
        ///
        /// # Errors
        ///
        /// As [`try_read`](Self::try_read).
        pub fn try_read_vectored(
            &self,
            bufs: &mut [std::io::IoSliceMut<'_>],
        ) -> std::io::Result<usize> {
            use std::io::Read as _;
            let len = bufs.iter().map(|b| b.len()).sum();
            let n = self
                .evented()
                .try_io(kq_runtime::io::Interest::READABLE, |s| {
                    let socket = socket2::SockRef::from(s);
                    (&*socket).read_vectored(bufs)
                })?;
            self.evented().end_of_stream(n, len)
        }
    };
}

/// The write side's readiness and non-blocking writes, for byte streams.
macro_rules! write_methods {
    () => {
        /// Waits until the socket is writable (space in its send buffer, or an error).
        ///
        /// # Errors
        ///
        /// As [`ready`](Self::ready).
        pub async fn writable(&self) -> std::io::Result<()> {
            self.ready(kq_runtime::io::Interest::WRITABLE)
                .await
                .map(drop)
        }

        /// Writes what fits without waiting: `WouldBlock` if the socket is not known
        /// writable or its buffer is full. A write to a closed peer is `BrokenPipe` or
        /// `ConnectionReset`, never a `SIGPIPE`.
        ///
        /// # Errors
        ///
        /// `WouldBlock`, or the write's error.
        pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.evented().try_send(buf)
        }

        /// As [`try_write`](Self::try_write), from several buffers (one `sendmsg`).
        ///
        /// # Errors
        ///
        /// As [`try_write`](Self::try_write).
        pub fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            self.evented().try_send_vectored(bufs)
        }
    };
}

/// The full set for a socket value (not a half): both sides, `poll_*_ready`, `try_io`
/// and `async_io`.
macro_rules! socket_methods {
    () => {
        $crate::stream::ready_methods!();

        /// Polls for read readiness. Only the last task to poll is woken; use
        /// [`readable`](Self::readable) where several tasks wait.
        ///
        /// # Errors
        ///
        /// As [`ready`](Self::ready).
        pub fn poll_read_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.evented()
                .poll_ready(cx, kq_runtime::io::Interest::READABLE)
                .map_ok(drop)
        }

        /// Polls for write readiness. Only the last task to poll is woken; use
        /// [`writable`](Self::writable) where several tasks wait.
        ///
        /// # Errors
        ///
        /// As [`ready`](Self::ready).
        pub fn poll_write_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.evented()
                .poll_ready(cx, kq_runtime::io::Interest::WRITABLE)
                .map_ok(drop)
        }

        $crate::stream::io_methods!();
    };
}

/// `try_io`, `async_io` and `take_error`, for any kq socket value.
macro_rules! io_methods {
    () => {
        /// Runs `f` (a non-blocking operation on the socket) if the socket is known ready
        /// for `interest`; if `f` returns `WouldBlock`, the readiness is cleared.
        ///
        /// # Errors
        ///
        /// `WouldBlock` when not ready, or `f`'s error.
        pub fn try_io<R>(
            &self,
            interest: kq_runtime::io::Interest,
            f: impl FnOnce() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            self.evented().try_io(interest, |_| f())
        }

        /// Runs `f` until it does not return `WouldBlock`, waiting for `interest` in
        /// between.
        ///
        /// # Errors
        ///
        /// `f`'s error, or a socket error the core reported.
        pub async fn async_io<R>(
            &self,
            interest: kq_runtime::io::Interest,
            mut f: impl FnMut() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            self.evented().async_io(interest, |_| f()).await
        }

        /// Takes the socket's pending error (`SO_ERROR`), if any.
        ///
        /// # Errors
        ///
        /// The `getsockopt` call's own error.
        pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
            match self.evented().take_error() {
                Some(e) => Ok(Some(e)),
                None => socket2::SockRef::from(self.evented().get_ref()).take_error(),
            }
        }
    };
}

/// tokio's and futures-io's `AsyncRead` and `AsyncWrite` for a byte-stream type with
/// `evented()`.
macro_rules! byte_stream_io {
    ($(@$g:ident: $b:path;)? $ty:ty) => {
        $crate::stream::async_read!($(@$g: $b;)? $ty);
        $crate::stream::async_write!($(@$g: $b;)? $ty);
    };
}

/// tokio's and futures-io's `AsyncRead` for a byte-stream type with `evented()`.
macro_rules! async_read {
    ($(@$g:ident: $b:path;)? $ty:ty) => {
        impl$(<$g: $b>)? tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.evented().poll_recv(cx, buf)
            }
        }

        impl$(<$g: $b>)? futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.evented().poll_recv_slice(cx, buf)
            }
        }
    };
}

/// tokio's and futures-io's `AsyncWrite` for a byte-stream type with `evented()`;
/// shutting down (or closing) shuts the write direction down.
macro_rules! async_write {
    ($(@$g:ident: $b:path;)? $ty:ty) => {

        impl$(<$g: $b>)? tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.evented().poll_send(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.evented().poll_send_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // Nothing is buffered in user space.
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready($crate::stream::shutdown_write(self.evented().get_ref()))
            }
        }

        impl$(<$g: $b>)? futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.evented().poll_send(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.evented().poll_send_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready($crate::stream::shutdown_write(self.evented().get_ref()))
            }
        }
    };
}

pub(crate) use {
    async_read, async_write, byte_stream_io, io_methods, read_methods, ready_methods,
    socket_methods, write_methods,
};

/// Shuts the write direction of a stream socket down (the peer reads end of stream).
pub(crate) fn shutdown_write(socket: &impl std::os::fd::AsFd) -> std::io::Result<()> {
    socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Write)
}

/// `from_std`, `into_std`, `TryFrom<std type>`, `AsRawFd` and `AsFd` for a kq socket type
/// whose `io` field is its `PollEvented` and whose `new` registers a non-blocking std
/// socket.
macro_rules! std_conversions {
    ($ty:ident, $std:ty) => {
        impl $ty {
            /// Takes a std socket of this kind, sets it non-blocking, and registers it.
            ///
            /// # Errors
            ///
            /// Setting non-blocking mode failed, or there is no kq runtime.
            pub fn from_std(socket: $std) -> std::io::Result<$ty> {
                socket.set_nonblocking(true)?;
                $ty::new(socket)
            }

            /// Deregisters the socket and returns it as a std socket, still non-blocking.
            ///
            /// # Errors
            ///
            /// None today; the signature leaves room for platforms that need a call.
            pub fn into_std(self) -> std::io::Result<$std> {
                Ok(self.io.into_inner())
            }
        }

        impl TryFrom<$std> for $ty {
            type Error = std::io::Error;

            fn try_from(socket: $std) -> std::io::Result<$ty> {
                $ty::from_std(socket)
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.io)
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.io.get_ref())
            }
        }
    };
}

pub(crate) use std_conversions;

/// The methods of a datagram socket (UDP or Unix) that are the same for both: readiness,
/// and sending to and receiving from the connected peer. Each datagram is one operation;
/// readiness is cleared only on `EWOULDBLOCK`.
macro_rules! datagram_methods {
    () => {
        /// Waits until a datagram can be received.
        ///
        /// # Errors
        ///
        /// As [`ready`](Self::ready).
        pub async fn readable(&self) -> std::io::Result<()> {
            self.ready(kq_runtime::io::Interest::READABLE)
                .await
                .map(drop)
        }

        /// Waits until a datagram can be sent.
        ///
        /// # Errors
        ///
        /// As [`ready`](Self::ready).
        pub async fn writable(&self) -> std::io::Result<()> {
            self.ready(kq_runtime::io::Interest::WRITABLE)
                .await
                .map(drop)
        }

        /// Polls for receive readiness (only the last task to poll is woken).
        ///
        /// # Errors
        ///
        /// As [`ready`](Self::ready).
        pub fn poll_recv_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io
                .poll_ready(cx, kq_runtime::io::Interest::READABLE)
                .map_ok(drop)
        }

        /// Polls for send readiness (only the last task to poll is woken).
        ///
        /// # Errors
        ///
        /// As [`ready`](Self::ready).
        pub fn poll_send_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io
                .poll_ready(cx, kq_runtime::io::Interest::WRITABLE)
                .map_ok(drop)
        }

        /// Sends `buf` as one datagram to the connected peer.
        ///
        /// # Errors
        ///
        /// `NotConnected`; `ConnectionRefused` when the peer refused an earlier datagram
        /// (UDP: an ICMP port unreachable); the `send` call's other errors.
        pub async fn send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.io
                .async_io(kq_runtime::io::Interest::WRITABLE, |s| s.send(buf))
                .await
        }

        /// The `poll` form of [`send`](Self::send).
        ///
        /// # Errors
        ///
        /// As [`send`](Self::send).
        pub fn poll_send(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io
                .poll_io(cx, kq_runtime::io::Interest::WRITABLE, |s| s.send(buf))
        }

        /// Sends without waiting: `WouldBlock` if the socket is not known writable.
        ///
        /// # Errors
        ///
        /// `WouldBlock`, or as [`send`](Self::send).
        pub fn try_send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.io
                .try_io(kq_runtime::io::Interest::WRITABLE, |s| s.send(buf))
        }

        /// Receives one datagram from the connected peer (truncated to `buf`).
        ///
        /// # Errors
        ///
        /// `ConnectionRefused` when the peer refused an earlier datagram; the `recv`
        /// call's other errors.
        pub async fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io
                .async_io(kq_runtime::io::Interest::READABLE, |s| s.recv(buf))
                .await
        }

        /// The `poll` form of [`recv`](Self::recv), into `buf`'s unfilled part.
        ///
        /// # Errors
        ///
        /// As [`recv`](Self::recv).
        pub fn poll_recv(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let n = std::task::ready!(self.io.poll_io(
                cx,
                kq_runtime::io::Interest::READABLE,
                |s| s.recv(buf.initialize_unfilled())
            ))?;
            buf.advance(n);
            std::task::Poll::Ready(Ok(()))
        }

        /// Receives without waiting: `WouldBlock` if nothing is known to be there.
        ///
        /// # Errors
        ///
        /// `WouldBlock`, or as [`recv`](Self::recv).
        pub fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io
                .try_io(kq_runtime::io::Interest::READABLE, |s| s.recv(buf))
        }
    };
}

pub(crate) use datagram_methods;
