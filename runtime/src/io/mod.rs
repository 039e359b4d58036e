//! I/O: readiness registration for descriptors, and the ecosystem's I/O traits.
//!
//! [`unix::AsyncFd`] registers any descriptor with the runtime's kqueue (`EVFILT_READ` and
//! `EVFILT_WRITE` knotes with `EV_CLEAR`) and lets tasks wait for readiness; kq's sockets
//! (kq-net), file watcher and processes build on the same registration.
//!
//! The traits are tokio's [`AsyncRead`]/[`AsyncWrite`] (with their extension traits
//! [`AsyncReadExt`]/[`AsyncWriteExt`]) and futures' ([`futures_io`]'s `AsyncRead` and
//! `AsyncWrite`), so that codecs, TLS and HTTP crates written for either work unchanged.
//! `use kq::io::{AsyncReadExt, AsyncWriteExt}` works as in tokio.

mod async_fd;
pub(crate) mod knote;
pub(crate) mod poll_evented;
mod ready;

pub use ready::{Interest, Ready};
pub use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite,
    AsyncWriteExt, BufReader, BufStream, BufWriter, Empty, ReadBuf, ReadHalf, Repeat, Sink,
    WriteHalf, copy, copy_bidirectional, duplex, empty, repeat, sink, split,
};

/// futures' I/O traits (`futures-io`), implemented by kq's byte streams too.
pub mod futures_io {
    pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
}

/// Unix-specific I/O: readiness for any file descriptor.
pub mod unix {
    pub use super::async_fd::{AsyncFd, AsyncFdReadyGuard, AsyncFdReadyMutGuard, TryIoError};
}
