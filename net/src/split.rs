//! Splitting a byte stream into a read half and a write half, for TCP and Unix streams
//! alike: borrowed halves (`split`, no allocation, same task or scope) and owned halves
//! (`into_split`, movable to different tasks, rejoined with `reunite`).
//!
//! The halves are generic over the stream; [`tcp`](crate::tcp) and [`unix`](crate::unix)
//! name them for their stream type (`kq::net::tcp::OwnedReadHalf`, ...).
//!
//! The two directions wait independently: a reader and a writer in different tasks each
//! have their own waker slot, so neither steals the other's wakeups.

use crate::stream::{async_read, async_write, read_methods, ready_methods, write_methods};
use kq_runtime::__private::PollEvented;
use std::error::Error;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

/// A byte-stream socket that can be split: `TcpStream` or `UnixStream`. Sealed.
pub trait SplitStream: Sized + sealed::Sealed {
    /// The address type of the socket's ends.
    type Addr;
    #[doc(hidden)]
    type Std: AsFd + Into<OwnedFd>;
    #[doc(hidden)]
    fn evented(&self) -> &PollEvented<Self::Std>;
    #[doc(hidden)]
    fn peer(&self) -> io::Result<Self::Addr>;
    #[doc(hidden)]
    fn local(&self) -> io::Result<Self::Addr>;
}

pub(crate) mod sealed {
    /// Only kq's streams split this way.
    pub trait Sealed {}
}

/// The read half of a stream borrowed by `split`.
#[derive(Debug)]
pub struct ReadHalf<'a, S> {
    stream: &'a S,
}

/// The write half of a stream borrowed by `split`. Shutting it down (`AsyncWriteExt::
/// shutdown`) shuts the stream's write direction down.
#[derive(Debug)]
pub struct WriteHalf<'a, S> {
    stream: &'a S,
}

/// The read half of a stream taken by `into_split`.
#[derive(Debug)]
pub struct OwnedReadHalf<S> {
    stream: Arc<S>,
}

/// The write half of a stream taken by `into_split`.
///
/// Dropping it shuts the write direction down (the peer reads end of stream), as
/// `AsyncWriteExt::shutdown` would; [`forget`](OwnedWriteHalf::forget) drops it without.
#[derive(Debug)]
pub struct OwnedWriteHalf<S: SplitStream> {
    stream: Arc<S>,
    shutdown_on_drop: bool,
}

/// `reunite` was given halves of two different streams; both are handed back.
pub struct ReuniteError<S: SplitStream>(pub OwnedReadHalf<S>, pub OwnedWriteHalf<S>);

pub(crate) fn split<S: SplitStream>(stream: &S) -> (ReadHalf<'_, S>, WriteHalf<'_, S>) {
    (ReadHalf { stream }, WriteHalf { stream })
}

pub(crate) fn into_split<S: SplitStream>(stream: S) -> (OwnedReadHalf<S>, OwnedWriteHalf<S>) {
    let stream = Arc::new(stream);
    (
        OwnedReadHalf {
            stream: stream.clone(),
        },
        OwnedWriteHalf {
            stream,
            shutdown_on_drop: true,
        },
    )
}

macro_rules! half_common {
    () => {
        fn evented(&self) -> &PollEvented<S::Std> {
            self.stream.evented()
        }

        ready_methods!();

        /// The remote address of the stream.
        ///
        /// # Errors
        ///
        /// `NotConnected` once the peer is gone on some platforms.
        pub fn peer_addr(&self) -> io::Result<S::Addr> {
            self.stream.peer()
        }

        /// The local address of the stream.
        ///
        /// # Errors
        ///
        /// The `getsockname` call's error.
        pub fn local_addr(&self) -> io::Result<S::Addr> {
            self.stream.local()
        }
    };
}

impl<S: SplitStream> ReadHalf<'_, S> {
    half_common!();
    read_methods!();
}

impl<S: SplitStream> WriteHalf<'_, S> {
    half_common!();
    write_methods!();
}

impl<S: SplitStream> OwnedReadHalf<S> {
    half_common!();
    read_methods!();

    /// Rejoins the halves into the stream they came from.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] with both halves if they came from different streams.
    pub fn reunite(self, other: OwnedWriteHalf<S>) -> Result<S, ReuniteError<S>> {
        reunite(self, other)
    }
}

impl<S: SplitStream> OwnedWriteHalf<S> {
    half_common!();
    write_methods!();

    /// Rejoins the halves into the stream they came from.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] with both halves if they came from different streams.
    pub fn reunite(self, other: OwnedReadHalf<S>) -> Result<S, ReuniteError<S>> {
        reunite(other, self)
    }

    /// Drops the half without shutting the write direction down.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }
}

fn reunite<S: SplitStream>(
    read: OwnedReadHalf<S>,
    mut write: OwnedWriteHalf<S>,
) -> Result<S, ReuniteError<S>> {
    if !Arc::ptr_eq(&read.stream, &write.stream) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    // The two halves were the only owners and the write half is gone.
    Ok(Arc::try_unwrap(read.stream)
        .ok()
        .expect("a stream's two halves are its only owners"))
}

impl<S: SplitStream> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // Best effort, as a close would be: the peer may be gone already.
            let _ = crate::stream::shutdown_write(self.stream.evented().get_ref());
        }
    }
}

impl<S> AsRef<S> for ReadHalf<'_, S> {
    fn as_ref(&self) -> &S {
        self.stream
    }
}

impl<S> AsRef<S> for WriteHalf<'_, S> {
    fn as_ref(&self) -> &S {
        self.stream
    }
}

impl<S> AsRef<S> for OwnedReadHalf<S> {
    fn as_ref(&self) -> &S {
        &self.stream
    }
}

impl<S: SplitStream> AsRef<S> for OwnedWriteHalf<S> {
    fn as_ref(&self) -> &S {
        &self.stream
    }
}

impl<S: SplitStream> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S: SplitStream> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl<S: SplitStream> Error for ReuniteError<S> {}

async_read!(@S: SplitStream; ReadHalf<'_, S>);
async_write!(@S: SplitStream; WriteHalf<'_, S>);
async_read!(@S: SplitStream; OwnedReadHalf<S>);
async_write!(@S: SplitStream; OwnedWriteHalf<S>);

/// `split`/`into_split`, the `SplitStream` impl and `Debug` for a byte-stream socket type
/// (`TcpStream`, `UnixStream`) whose `io` field is its `PollEvented` over `$std` and whose
/// `local_addr`/`peer_addr` return `$addr`.
macro_rules! splittable {
    ($ty:ident, $addr:ty, $std:ty) => {
        impl $ty {
            /// Borrowed read and write halves, usable at once (for example in `join!`).
            pub fn split(
                &mut self,
            ) -> (
                $crate::split::ReadHalf<'_, $ty>,
                $crate::split::WriteHalf<'_, $ty>,
            ) {
                $crate::split::split(self)
            }

            /// Owned read and write halves, for two tasks. Dropping the write half shuts
            /// the write direction down; `reunite` gives the stream back.
            pub fn into_split(
                self,
            ) -> (
                $crate::split::OwnedReadHalf<$ty>,
                $crate::split::OwnedWriteHalf<$ty>,
            ) {
                $crate::split::into_split(self)
            }
        }

        impl $crate::split::sealed::Sealed for $ty {}

        impl $crate::split::SplitStream for $ty {
            type Addr = $addr;
            type Std = $std;

            fn evented(&self) -> &kq_runtime::__private::PollEvented<$std> {
                &self.io
            }

            fn peer(&self) -> std::io::Result<$addr> {
                self.peer_addr()
            }

            fn local(&self) -> std::io::Result<$addr> {
                self.local_addr()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &std::os::fd::AsRawFd::as_raw_fd(self))
                    .field("local", &self.local_addr().ok())
                    .field("peer", &self.peer_addr().ok())
                    .finish()
            }
        }
    };
}

pub(crate) use splittable;
