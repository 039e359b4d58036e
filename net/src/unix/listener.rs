//! `UnixListener`: a listening Unix stream socket.

use super::{SocketAddr, UnixStream};
use crate::accept::{self, Backoff};
use crate::sys;
use futures_core::Stream;
use kq_runtime::__private::PollEvented;
use kq_runtime::io::Interest;
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// A Unix stream socket listening for connections at a path, registered with one
/// `EV_CLEAR` read knote. Accepting backs off under descriptor exhaustion as
/// [`TcpListener`](crate::TcpListener) does.
///
/// Dropping it closes the socket; the socket file stays on disk (remove it yourself).
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// use kq_net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("kq-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("listener.sock");
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let _client = UnixStream::connect(&path).await?;
/// let (_server, _) = listener.accept().await?;
/// std::fs::remove_dir_all(&dir)?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct UnixListener {
    io: PollEvented<net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` (which must not exist) and listens with a large backlog.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the path exists; the `bind`/`listen` calls' errors; an error
    /// outside a kq runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let socket = super::socket(socket2::Type::STREAM, Some(path.as_ref()))?;
        socket.listen(sys::DEFAULT_BACKLOG)?;
        UnixListener::new(socket.into())
    }

    fn new(listener: net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: PollEvented::new_with_interest(listener, Interest::READABLE)?,
        })
    }

    /// Waits for a connection and accepts it; any number of tasks may accept at once.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`](crate::TcpListener::accept).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let stream = accept::accept(&self.io, accept_one).await?;
        let addr = stream.peer_addr()?;
        Ok((UnixStream::new(stream)?, addr))
    }

    /// Polls for a connection; exhaustion errors are returned (see
    /// [`TcpListener::poll_accept`](crate::TcpListener::poll_accept)).
    ///
    /// # Errors
    ///
    /// As [`accept`](UnixListener::accept), plus exhaustion errors.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let stream = ready!(accept::poll_accept_once(&self.io, cx, accept_one))?;
        let addr = stream.peer_addr()?;
        Poll::Ready(Ok((UnixStream::new(stream)?, addr)))
    }

    /// The accepted connections as a `Stream` that never ends, with `accept`'s backoff.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            backoff: Backoff::default(),
        }
    }

    /// The local address (the path bound).
    ///
    /// # Errors
    ///
    /// The `getsockname` call's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

fn accept_one(listener: &net::UnixListener) -> io::Result<net::UnixStream> {
    let (socket, _) = sys::accept(listener)?;
    Ok(socket.into())
}

/// The connections of a [`UnixListener`], as a `Stream` that never ends.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
    backoff: Backoff,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let res = ready!(accept::poll_accept(
            &this.listener.io,
            cx,
            &mut this.backoff,
            accept_one
        ));
        Poll::Ready(Some(res.and_then(UnixStream::new)))
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

crate::stream::std_conversions!(UnixListener, net::UnixListener);
