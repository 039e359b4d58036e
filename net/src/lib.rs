//! TCP, UDP and Unix sockets on the kq runtime, re-exported by `kq` as `kq::net`.
//!
//! The names and signatures are tokio's `net` module's where the two overlap, so a tokio
//! network program ports by renaming `tokio::net` to `kq::net`.
//!
//! - [`TcpListener`], [`TcpStream`], [`TcpSocket`] (options before connect or listen), and
//!   the halves of a split stream in [`tcp`];
//! - [`UdpSocket`];
//! - [`UnixListener`], [`UnixStream`], [`UnixDatagram`], and [`unix`]'s halves;
//! - [`ToSocketAddrs`] and [`lookup_host`]: host names are resolved on the blocking pool.
//!
//! # How a socket meets the kqueue
//!
//! Every socket is non-blocking and close-on-exec from its creation (or acceptance) and
//! is registered once, for its whole life, with `EV_CLEAR` knotes: `EVFILT_READ` and
//! `EVFILT_WRITE` for streams and datagram sockets, `EVFILT_READ` alone for listeners.
//! Nothing is re-armed per operation. A read that returns less than its buffer, or a write
//! that takes less than it was given, counts as having drained the socket's readiness, so a
//! byte stream wastes no `EAGAIN` call per wakeup (datagram sockets clear only on
//! `EAGAIN`: a short datagram says nothing about the queue).
//!
//! Errors are `io::Error`s of the kernel's kind: a refused connect is
//! `ConnectionRefused`, a reset peer `ConnectionReset`, a write to a closed peer
//! `BrokenPipe` (never a `SIGPIPE`), end of stream `Ok(0)`. Dropping a socket deletes its
//! knotes and then closes it.
//!
//! Sockets must be created inside a kq runtime (or given a runtime's context with
//! `Handle::enter`); outside one, constructors return an error rather than panic.
#![warn(missing_docs)]

mod accept;
mod addr;
pub mod split;
mod stream;
mod sys;
pub mod tcp;
mod udp;
pub mod unix;

pub use addr::{ToSocketAddrs, lookup_host};
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
