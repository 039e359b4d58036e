//! TCP: [`TcpListener`], [`TcpStream`], [`TcpSocket`], and the halves of a split stream.

mod listener;
mod socket;
mod stream;

pub use listener::{Incoming, TcpListener};
pub use socket::TcpSocket;
pub use stream::TcpStream;

/// The read half of a [`TcpStream`] borrowed by [`TcpStream::split`].
pub type ReadHalf<'a> = crate::split::ReadHalf<'a, TcpStream>;
/// The write half of a [`TcpStream`] borrowed by [`TcpStream::split`].
pub type WriteHalf<'a> = crate::split::WriteHalf<'a, TcpStream>;
/// The read half of a [`TcpStream`] taken by [`TcpStream::into_split`].
pub type OwnedReadHalf = crate::split::OwnedReadHalf<TcpStream>;
/// The write half of a [`TcpStream`] taken by [`TcpStream::into_split`]; dropping it shuts
/// the write direction down.
pub type OwnedWriteHalf = crate::split::OwnedWriteHalf<TcpStream>;
/// Halves of two different [`TcpStream`]s given to `reunite`.
pub type ReuniteError = crate::split::ReuniteError<TcpStream>;
