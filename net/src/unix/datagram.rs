//! `UnixDatagram`: Unix datagram sockets.

use super::SocketAddr;
use crate::stream::{datagram_methods, io_methods, ready_methods};
use kq_runtime::__private::PollEvented;
use kq_runtime::io::Interest;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net;
use std::path::Path;
use std::task::{Context, Poll, ready};
use tokio::io::ReadBuf;

/// A Unix datagram socket, registered with `EV_CLEAR` read and write knotes for its whole
/// life. Bound to a path ([`bind`](UnixDatagram::bind)), unnamed
/// ([`unbound`](UnixDatagram::unbound)), or one of a connected [`pair`](UnixDatagram::pair).
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// use kq_net::UnixDatagram;
///
/// let (a, b) = UnixDatagram::pair()?;
/// a.send(b"ping").await?;
/// let mut buf = [0; 16];
/// let n = b.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"ping");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct UnixDatagram {
    io: PollEvented<net::UnixDatagram>,
}

impl UnixDatagram {
    /// A socket bound to `path` (which must not exist).
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the path exists; an error outside a kq runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::new(super::socket(socket2::Type::DGRAM, Some(path.as_ref()))?.into())
    }

    /// An unnamed socket (it can send, and receive once connected).
    ///
    /// # Errors
    ///
    /// The `socket` call's error; an error outside a kq runtime.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::new(super::socket(socket2::Type::DGRAM, None)?.into())
    }

    /// Two connected, unnamed sockets.
    ///
    /// # Errors
    ///
    /// The `socketpair` call's error; an error outside a kq runtime.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    fn new(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: PollEvented::new(socket)?,
        })
    }

    fn evented(&self) -> &PollEvented<net::UnixDatagram> {
        &self.io
    }

    fn std(&self) -> &net::UnixDatagram {
        self.io.get_ref()
    }

    ready_methods!();
    io_methods!();
    datagram_methods!();

    /// Connects to the socket at `path`: [`send`](UnixDatagram::send) goes there.
    ///
    /// # Errors
    ///
    /// `NotFound`, `ConnectionRefused`, ...
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.std().connect(path)
    }

    /// Sends one datagram to the socket at `path`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `ConnectionRefused`, or the `sendto` call's other errors.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io
            .async_io(Interest::WRITABLE, |s| s.send_to(buf, path))
            .await
    }

    /// The `poll` form of [`send_to`](UnixDatagram::send_to).
    ///
    /// # Errors
    ///
    /// As [`send_to`](UnixDatagram::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        path: impl AsRef<Path>,
    ) -> Poll<io::Result<usize>> {
        let path = path.as_ref();
        self.io
            .poll_io(cx, Interest::WRITABLE, |s| s.send_to(buf, path))
    }

    /// Sends to `path` without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as [`send_to`](UnixDatagram::send_to).
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io.try_io(Interest::WRITABLE, |s| s.send_to(buf, path))
    }

    /// Receives one datagram and the address of its sender.
    ///
    /// # Errors
    ///
    /// The `recvfrom` call's error.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Interest::READABLE, |s| s.recv_from(buf))
            .await
    }

    /// The `poll` form of [`recv_from`](UnixDatagram::recv_from).
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UnixDatagram::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let (n, from) = ready!(self.io.poll_io(cx, Interest::READABLE, |s| {
            s.recv_from(buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(from))
    }

    /// Receives with its sender without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as [`recv_from`](UnixDatagram::recv_from).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Interest::READABLE, |s| s.recv_from(buf))
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The `getsockname` call's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// Shuts down receiving, sending, or both.
    ///
    /// # Errors
    ///
    /// The `shutdown` call's error.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.std().shutdown(how)
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

crate::stream::std_conversions!(UnixDatagram, net::UnixDatagram);
