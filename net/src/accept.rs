//! Accepting connections, for TCP and Unix listeners alike, without spinning when the
//! process is out of descriptors.
//!
//! When `accept` fails with `EMFILE`, `ENFILE`, `ENOBUFS` or `ENOMEM`, the connection stays
//! in the kernel's backlog and the listener stays readable, so an accept loop that just
//! retries (or logs and continues) would spin at 100% CPU until descriptors free up. kq's
//! `accept()` and `incoming()` instead wait — 1 ms, doubling up to 64 ms — and retry: the
//! pending connection is accepted as soon as a descriptor is free, the listener keeps
//! working, and the CPU stays idle meanwhile. Errors the manual pages say to treat like
//! `EAGAIN` (a connection aborted before it was accepted, network errors on it) are
//! retried at once. Other errors are returned.
//!
//! The low-level `poll_accept` returns every error except those retried at once: its
//! caller has no place to keep the backoff between calls.

use kq_runtime::__private::PollEvented;
use kq_runtime::io::Interest;
use kq_runtime::time::{Duration, Sleep, sleep};
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

const FIRST_DELAY: Duration = Duration::from_millis(1);
const MAX_DELAY: Duration = Duration::from_millis(64);

/// The backoff state of one accept loop.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    delay: Option<Duration>,
    sleep: Option<Sleep>,
}

impl Backoff {
    /// Decides what an accept error means: `Ok` to retry (after a wait, if it was an
    /// exhaustion error), `Err` to return it.
    fn on_error(&mut self, e: io::Error) -> io::Result<()> {
        if is_retried_at_once(&e) {
            return Ok(());
        }
        if !is_exhaustion(&e) {
            return Err(e);
        }
        let delay = self.delay.map_or(FIRST_DELAY, |d| (d * 2).min(MAX_DELAY));
        self.delay = Some(delay);
        self.sleep = Some(sleep(delay));
        Ok(())
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(s) = &mut self.sleep {
            ready!(Pin::new(s).poll(cx));
            self.sleep = None;
        }
        Poll::Ready(())
    }

    fn reset(&mut self) {
        self.delay = None;
    }
}

/// `ECONNABORTED` and the network errors accept(2) says to treat like `EAGAIN`.
fn is_retried_at_once(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::EINTR
                | libc::EPROTO
                | libc::ENETDOWN
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
        )
    )
}

/// Out of descriptors or memory: wait before retrying.
fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Accepts one connection with `op` (a non-blocking accept), backing off as described
/// in the module docs. Any number of tasks may accept on one listener at once.
pub(crate) async fn accept<E, T>(
    io: &PollEvented<E>,
    mut op: impl FnMut(&E) -> io::Result<T>,
) -> io::Result<T>
where
    E: AsFd + Into<OwnedFd>,
{
    let mut backoff = Backoff::default();
    loop {
        match io.async_io(Interest::READABLE, &mut op).await {
            Ok(v) => return Ok(v),
            Err(e) => backoff.on_error(e)?,
        }
        std::future::poll_fn(|cx| backoff.poll_wait(cx)).await;
    }
}

/// As [`accept`], the `poll` way, with the backoff kept by the caller (in `Incoming`).
pub(crate) fn poll_accept<E, T>(
    io: &PollEvented<E>,
    cx: &mut Context<'_>,
    backoff: &mut Backoff,
    mut op: impl FnMut(&E) -> io::Result<T>,
) -> Poll<io::Result<T>>
where
    E: AsFd + Into<OwnedFd>,
{
    loop {
        ready!(backoff.poll_wait(cx));
        match ready!(io.poll_io(cx, Interest::READABLE, &mut op)) {
            Ok(v) => {
                backoff.reset();
                return Poll::Ready(Ok(v));
            }
            Err(e) => backoff.on_error(e)?,
        }
    }
}

/// As [`poll_accept`] without a backoff: exhaustion errors are returned.
pub(crate) fn poll_accept_once<E, T>(
    io: &PollEvented<E>,
    cx: &mut Context<'_>,
    mut op: impl FnMut(&E) -> io::Result<T>,
) -> Poll<io::Result<T>>
where
    E: AsFd + Into<OwnedFd>,
{
    loop {
        match ready!(io.poll_io(cx, Interest::READABLE, &mut op)) {
            Err(e) if is_retried_at_once(&e) => continue,
            res => return Poll::Ready(res),
        }
    }
}
