//! `TcpListener`: a listening TCP socket.

use super::{TcpSocket, TcpStream};
use crate::accept::{self, Backoff};
use crate::addr::{ToSocketAddrs, each_addr};
use crate::sys;
use futures_core::Stream;
use kq_runtime::__private::PollEvented;
use kq_runtime::io::Interest;
use std::fmt;
use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// A TCP socket listening for connections, registered with one `EV_CLEAR` read knote.
///
/// [`accept`](TcpListener::accept) and [`incoming`](TcpListener::incoming) survive
/// descriptor exhaustion: under `EMFILE`/`ENFILE` they back off (1 ms doubling to 64 ms)
/// and retry rather than spin or fail, and the waiting connection is accepted once a
/// descriptor frees up. Dropping the listener closes it (after its knote is deleted).
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// use kq_net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let client = kq_runtime::spawn(async move { TcpStream::connect(addr).await });
/// let (_stream, peer) = listener.accept().await?;
/// assert_eq!(peer, client.await.unwrap()?.local_addr()?);
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct TcpListener {
    io: PollEvented<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (trying each address it resolves to) with `SO_REUSEADDR` and
    /// starts listening with a large backlog (as many as the system allows, see
    /// [`TcpSocket::listen`] to choose).
    ///
    /// # Errors
    ///
    /// The last address's error (`AddrInUse`, ...), a resolution error, or an error
    /// outside a kq runtime.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(&addr, |addr| async move {
            let socket = TcpSocket::new_for_addr(addr)?;
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(sys::DEFAULT_BACKLOG as u32)
        })
        .await
    }

    pub(crate) fn new(listener: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollEvented::new_with_interest(listener, Interest::READABLE)?,
        })
    }

    /// Waits for a connection and accepts it. Any number of tasks may accept at once.
    ///
    /// # Errors
    ///
    /// Errors other than descriptor exhaustion (waited out) and aborted connections
    /// (skipped); the runtime's shutdown.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = accept::accept(&self.io, accept_one).await?;
        Ok((TcpStream::new(stream)?, addr))
    }

    /// Polls for a connection. Unlike [`accept`](TcpListener::accept), this returns
    /// `EMFILE`/`ENFILE` to the caller (it has nowhere to keep a backoff); only the last
    /// task to poll is woken.
    ///
    /// # Errors
    ///
    /// As [`accept`](TcpListener::accept), plus exhaustion errors.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) = ready!(accept::poll_accept_once(&self.io, cx, accept_one))?;
        Poll::Ready(Ok((TcpStream::new(stream)?, addr)))
    }

    /// The accepted connections as a `Stream` (which never ends), with the same backoff
    /// as [`accept`](TcpListener::accept).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            backoff: Backoff::default(),
        }
    }

    /// The local address (with the port chosen if bound to port 0).
    ///
    /// # Errors
    ///
    /// The `getsockname` call's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    ///
    /// The `getsockopt` call's error.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL` (inherited by accepted connections).
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

fn accept_one(listener: &net::TcpListener) -> io::Result<(net::TcpStream, SocketAddr)> {
    let (socket, addr) = sys::accept(listener)?;
    let addr = addr.as_socket().ok_or_else(|| sys::not_ip(&addr))?;
    Ok((socket.into(), addr))
}

/// The connections of a [`TcpListener`], as a `Stream` that never ends.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    backoff: Backoff,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let res = ready!(accept::poll_accept(
            &this.listener.io,
            cx,
            &mut this.backoff,
            accept_one
        ));
        Poll::Ready(Some(res.and_then(|(stream, _)| TcpStream::new(stream))))
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

crate::stream::std_conversions!(TcpListener, net::TcpListener);
