//! Unix domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`], and the halves
//! of a split stream.

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{Incoming, UnixListener};
pub use std::os::unix::net::SocketAddr;
pub use stream::UnixStream;

/// The read half of a [`UnixStream`] borrowed by [`UnixStream::split`].
pub type ReadHalf<'a> = crate::split::ReadHalf<'a, UnixStream>;
/// The write half of a [`UnixStream`] borrowed by [`UnixStream::split`].
pub type WriteHalf<'a> = crate::split::WriteHalf<'a, UnixStream>;
/// The read half of a [`UnixStream`] taken by [`UnixStream::into_split`].
pub type OwnedReadHalf = crate::split::OwnedReadHalf<UnixStream>;
/// The write half of a [`UnixStream`] taken by [`UnixStream::into_split`]; dropping it
/// shuts the write direction down.
pub type OwnedWriteHalf = crate::split::OwnedWriteHalf<UnixStream>;
/// Halves of two different [`UnixStream`]s given to `reunite`.
pub type ReuniteError = crate::split::ReuniteError<UnixStream>;

/// A new non-blocking Unix socket of type `ty`, bound to `path` if given.
fn socket(ty: socket2::Type, path: Option<&std::path::Path>) -> std::io::Result<socket2::Socket> {
    let socket = crate::sys::socket(socket2::Domain::UNIX, ty, None)?;
    if let Some(path) = path {
        socket.bind(&socket2::SockAddr::unix(path)?)?;
    }
    Ok(socket)
}
