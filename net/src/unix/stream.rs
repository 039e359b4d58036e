//! `UnixStream`: a connected Unix stream socket.

use super::SocketAddr;
use crate::stream::{byte_stream_io, read_methods, socket_methods, write_methods};
use crate::sys;
use kq_runtime::__private::PollEvented;
use std::io;
use std::os::unix::net;
use std::path::Path;

/// A connected Unix stream socket, registered with `EV_CLEAR` read and write knotes for
/// its whole life; tokio's and futures-io's `AsyncRead`/`AsyncWrite`, as
/// [`TcpStream`](crate::TcpStream).
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// use kq_net::UnixStream;
/// use kq_runtime::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// a.write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct UnixStream {
    io: PollEvented<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    ///
    /// `NotFound` if nothing is there, `ConnectionRefused` if nobody listens, `WouldBlock`
    /// if the listener's backlog is full (Linux); an error outside a kq runtime.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let socket = super::socket(socket2::Type::STREAM, None)?;
        sys::start_connect(&socket, &socket2::SockAddr::unix(path)?)?;
        let stream = UnixStream::new(socket.into())?;
        sys::finish_connect(&stream.io).await?;
        Ok(stream)
    }

    pub(crate) fn new(stream: net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// Two connected, unnamed sockets.
    ///
    /// # Errors
    ///
    /// The `socketpair` call's error; an error outside a kq runtime.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    fn evented(&self) -> &PollEvented<net::UnixStream> {
        &self.io
    }

    socket_methods!();
    read_methods!();
    write_methods!();

    /// The local address.
    ///
    /// # Errors
    ///
    /// The `getsockname` call's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// The `getpeername` call's error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

byte_stream_io!(UnixStream);

crate::stream::std_conversions!(UnixStream, net::UnixStream);

crate::split::splittable!(UnixStream, SocketAddr, net::UnixStream);
