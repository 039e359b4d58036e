//! `TcpStream`: a connected TCP socket.

use super::TcpSocket;
use crate::addr::{ToSocketAddrs, each_addr};
use crate::stream::{byte_stream_io, read_methods, socket_methods, write_methods};
use kq_runtime::__private::PollEvented;
use kq_runtime::io::Interest;
use socket2::SockRef;
use std::io;
use std::net::{self, SocketAddr};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::ReadBuf;

/// A TCP connection, registered with the runtime's kqueue: one `EV_CLEAR` knote for
/// reading and one for writing, for its whole life.
///
/// It implements tokio's and futures-io's `AsyncRead`/`AsyncWrite`; shutting it down
/// (`AsyncWriteExt::shutdown`) shuts the write direction down, and the peer reads end of
/// stream. End of stream reads as `Ok(0)`. Dropping it closes the socket (after its
/// knotes are deleted).
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// use kq_net::{TcpListener, TcpStream};
/// use kq_runtime::io::{AsyncReadExt, AsyncWriteExt};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.write_all(b"hello").await?;
/// let mut buf = [0; 5];
/// server.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hello");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct TcpStream {
    io: PollEvented<net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn.
    ///
    /// A connect that takes too long can be bounded with `kq::time::timeout`.
    ///
    /// # Errors
    ///
    /// The last address's error (`ConnectionRefused`, ...), a resolution error, or an
    /// error outside a kq runtime.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(&addr, |addr| async move {
            TcpSocket::new_for_addr(addr)?.connect(addr).await
        })
        .await
    }

    /// Finishes a connect started on a non-blocking socket.
    pub(crate) async fn connected(stream: net::TcpStream) -> io::Result<TcpStream> {
        let stream = TcpStream::new(stream)?;
        crate::sys::finish_connect(&stream.io).await?;
        Ok(stream)
    }

    pub(crate) fn new(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::new(stream)?,
        })
    }

    fn evented(&self) -> &PollEvented<net::TcpStream> {
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
    /// `NotConnected` once the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Reads the next bytes without taking them from the stream: a later read sees them
    /// again. Waits until there is something (or end of stream, `Ok(0)`).
    ///
    /// # Errors
    ///
    /// The `recv` call's error.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let n = self
            .io
            .async_io(Interest::READABLE, |s| s.peek(buf))
            .await?;
        self.io.end_of_stream(n, len)
    }

    /// The `poll` form of [`peek`](TcpStream::peek): fills `buf` and returns how many
    /// bytes were peeked.
    ///
    /// # Errors
    ///
    /// As [`peek`](TcpStream::peek).
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        let len = buf.remaining();
        let n = ready!(self.io.poll_io(cx, Interest::READABLE, |s| {
            s.peek(buf.initialize_unfilled())
        }))?;
        let n = self.io.end_of_stream(n, len)?;
        buf.advance(n);
        Poll::Ready(Ok(n))
    }

    /// Whether Nagle's algorithm is off (`TCP_NODELAY`).
    ///
    /// # Errors
    ///
    /// The `getsockopt` call's error.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Turns Nagle's algorithm off (`true`) or on: small writes go out at once.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// `SO_LINGER`: how long a close waits for unsent data.
    ///
    /// # Errors
    ///
    /// The `getsockopt` call's error.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        SockRef::from(self.io.get_ref()).linger()
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes a close reset the connection.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_linger(dur)
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    ///
    /// The `getsockopt` call's error.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

byte_stream_io!(TcpStream);

crate::stream::std_conversions!(TcpStream, net::TcpStream);

crate::split::splittable!(TcpStream, SocketAddr, net::TcpStream);
