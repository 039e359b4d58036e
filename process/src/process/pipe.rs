//! The child's standard streams as async pipes: [`ChildStdin`], [`ChildStdout`],
//! [`ChildStderr`].
//!
//! Each is our end of a pipe, set `O_NONBLOCK` and registered once with the runtime (one
//! `EV_CLEAR` knote: `EVFILT_WRITE` for stdin, `EVFILT_READ` for the others). The child's
//! end is a different open file, so it stays blocking. Converting a pipe into a
//! [`Stdio`] for another child deregisters it and makes it blocking
//! again, as a program expects its standard streams to be.
//!
//! Writing to a stdin whose child closed its end is `BrokenPipe` if `SIGPIPE` is ignored
//! (Rust programs ignore it from `main`), as with std's pipes.

use crate::sys;
use kq_runtime::__private::PollEvented;
use kq_runtime::io::Interest;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use tokio::io::ReadBuf;

/// Registers our end of a pipe, non-blocking, for `interest`.
fn register<E: AsFd + Into<OwnedFd>>(io: E, interest: Interest) -> io::Result<PollEvented<E>> {
    sys::set_nonblocking(io.as_fd().as_raw_fd(), true)?;
    PollEvented::new_with_interest(io, interest)
}

/// Deregisters a pipe and gives it back blocking, as a [`Stdio`] for another child.
fn into_stdio<E: AsFd + Into<OwnedFd>>(evented: PollEvented<E>) -> io::Result<Stdio> {
    let fd: OwnedFd = evented.into_inner().into();
    sys::set_nonblocking(fd.as_raw_fd(), false)?;
    Ok(Stdio::from(fd))
}

macro_rules! pipe_common {
    ($ty:ident, $std:ty, $interest:expr) => {
        impl $ty {
            /// Takes std's pipe end, sets it non-blocking and registers it with the
            /// current runtime.
            ///
            /// # Errors
            ///
            /// Setting non-blocking mode failed, or there is no kq runtime.
            pub fn from_std(inner: $std) -> io::Result<$ty> {
                Ok($ty {
                    inner: register(inner, $interest)?,
                })
            }

            /// Deregisters the pipe and returns its descriptor (still non-blocking).
            ///
            /// # Errors
            ///
            /// None today; the signature leaves room, as tokio's does.
            pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
                Ok(self.inner.into_inner().into())
            }
        }

        impl TryFrom<$ty> for Stdio {
            type Error = io::Error;

            /// Deregisters the pipe and makes it blocking again, to be another child's
            /// standard stream (a pipeline).
            fn try_from(pipe: $ty) -> io::Result<Stdio> {
                into_stdio(pipe.inner)
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.get_ref().as_fd()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

macro_rules! pipe_read {
    ($ty:ident) => {
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                self.inner.poll_read(cx, buf)
            }
        }

        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_read_slice(cx, buf)
            }
        }
    };
}

/// The write end of the child's standard input: tokio's and futures-io's `AsyncWrite`.
///
/// Drop it to close the child's input (shutting it down does not close it, as in tokio).
pub struct ChildStdin {
    inner: PollEvented<std::process::ChildStdin>,
}

/// The read end of the child's standard output: tokio's and futures-io's `AsyncRead`.
///
/// # Examples
///
/// Streaming a child's output line by line while it runs:
///
/// ```
/// use kq_runtime::io::{AsyncBufReadExt, BufReader};
/// use kq_process::process::Command;
/// use std::process::Stdio;
///
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut child = Command::new("printf")
///     .arg("a\\nb\\n")
///     .stdout(Stdio::piped())
///     .spawn()?;
/// let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
/// let mut seen = Vec::new();
/// while let Some(line) = lines.next_line().await? {
///     seen.push(line);
/// }
/// assert_eq!(seen, ["a", "b"]);
/// assert!(child.wait().await?.success());
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct ChildStdout {
    inner: PollEvented<std::process::ChildStdout>,
}

/// The read end of the child's standard error: tokio's and futures-io's `AsyncRead`.
pub struct ChildStderr {
    inner: PollEvented<std::process::ChildStderr>,
}

pipe_common!(ChildStdin, std::process::ChildStdin, Interest::WRITABLE);
pipe_common!(ChildStdout, std::process::ChildStdout, Interest::READABLE);
pipe_common!(ChildStderr, std::process::ChildStderr, Interest::READABLE);
pipe_read!(ChildStdout);
pipe_read!(ChildStderr);

impl tokio::io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing is buffered in user space.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A pipe has no half-close: dropping the ChildStdin closes it (tokio's behaviour).
        Poll::Ready(Ok(()))
    }
}

impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // As `poll_shutdown`: the descriptor closes when the ChildStdin drops.
        Poll::Ready(Ok(()))
    }
}

/// Reads everything `pipe` has left into `buf`, in place of an async `read_to_end` (kq's
/// crates do not depend on tokio's `io-util`). `Ready(Ok)` at end of stream.
pub(super) fn poll_read_to_end<R: tokio::io::AsyncRead + Unpin>(
    pipe: &mut R,
    buf: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    loop {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        let len = buf.len();
        let mut rb = ReadBuf::uninit(buf.spare_capacity_mut());
        std::task::ready!(Pin::new(&mut *pipe).poll_read(cx, &mut rb))?;
        let n = rb.filled().len();
        if n == 0 {
            return Poll::Ready(Ok(()));
        }
        // SAFETY: `poll_read` initialised the first `n` bytes of the spare capacity
        // (`ReadBuf::filled`), which start at `len`.
        unsafe { buf.set_len(len + n) };
    }
}
