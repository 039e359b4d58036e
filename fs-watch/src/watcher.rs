//! [`Watcher`]: the engine's state machine driven by the runtime.
//!
//! The watcher owns a private [`Kqueue`] whose descriptor is registered with the runtime
//! ([`AsyncFd`]); it is readable while vnode events are pending. Polling the stream hands
//! out events already produced, and only when there are none reads the kqueue (zero
//! timeout) and lets the engine turn what it finds into more. So the watcher never reads
//! ahead of its consumer: while nobody polls, events wait in the kernel, whose queue is the
//! bound; if it overflows, the consumer gets `Rescan` and the differences.

use crate::debounce::Debounced;
use crate::engine::{self, Engine, Output, RecursiveMode};
use crate::event::Event;
use crate::filter::Filter;
use crate::poll::{self, PollOptions, Poller};
use futures_core::Stream;
use kq_reactor::Kqueue;
use kq_runtime::io::Interest;
use kq_runtime::io::unix::AsyncFd;
use kq_runtime::runtime::Handle;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A recursive file watcher: a [`Stream`] of [`Event`]s for the roots it watches.
///
/// # Examples
///
/// ```
/// use kq_fs_watch::{EntryKind, EventKind, RecursiveMode, Watcher};
///
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("kq-fs-watch-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut watcher = Watcher::new()?;
/// watcher.watch(&dir, RecursiveMode::Recursive)?;
/// std::fs::write(dir.join("hello"), b"hi")?;
/// let event = watcher.next().await.unwrap()?;
/// assert_eq!(event.kind, EventKind::Create(EntryKind::File));
/// assert_eq!(event.paths, [dir.join("hello")]);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct Watcher {
    kq: AsyncFd<Kqueue>,
    engine: Engine,
    /// Roots on network filesystems, or watched with [`Watcher::watch_polled`].
    poller: Poller,
    /// Armed while a rename's first half waits for its second (`engine::MOVE_WAIT`): a
    /// timer of the runtime, so the watcher's own kqueue needs no timer (and no timerfd).
    move_wait: Option<Pin<Box<kq_runtime::time::Sleep>>>,
}

impl Watcher {
    /// Creates a watcher with no roots, on the current kq runtime.
    ///
    /// # Errors
    ///
    /// Outside a kq runtime; the OS errors of creating a kqueue.
    pub fn new() -> io::Result<Watcher> {
        Watcher::with_filter(Filter::new())
    }

    /// Creates a watcher that ignores what `filter` says, on the current kq runtime. The
    /// filter is applied before directories are watched: an ignored tree costs nothing.
    ///
    /// # Errors
    ///
    /// As [`new`](Watcher::new).
    pub fn with_filter(filter: Filter) -> io::Result<Watcher> {
        let handle = Handle::try_current().map_err(|e| io::Error::other(e.to_string()))?;
        let kq = Kqueue::builder().build()?;
        let kq = AsyncFd::with_interest_and_handle(kq, Interest::READABLE, &handle)?;
        Ok(Watcher {
            kq,
            engine: Engine::new(filter.clone()),
            poller: Poller::new(PollOptions::default(), filter),
            move_wait: None,
        })
    }

    /// Starts watching `path`: a directory (with its subdirectories for
    /// [`RecursiveMode::Recursive`], including those created later) or a file.
    ///
    /// The tree is read now, synchronously (directories are watched before they are read,
    /// so nothing created meanwhile is missed); what exists already is not reported.
    ///
    /// A root on a network or user-space filesystem ([`poll::is_remote`]: NFS, SMB, FUSE...)
    /// is polled instead, with the [`PollOptions`] of
    /// [`set_poll_options`](Watcher::set_poll_options) (by default every 2 s), since changes
    /// made on another machine never reach the kernel's notifications. So is a root that
    /// cannot be watched natively at all: no inotify (`ENOSYS`), or no inotify instance or
    /// descriptor left for one (`EMFILE`, `ENFILE`; the instance limit is
    /// `fs.inotify.max_user_instances`).
    ///
    /// # Errors
    ///
    /// `NotFound` if nothing is at `path`; `AlreadyExists` if it is a root already; the
    /// inotify watch limit, with a message naming `fs.inotify.max_user_watches` (the root
    /// is then not watched at all).
    pub fn watch(&mut self, path: impl AsRef<Path>, mode: RecursiveMode) -> io::Result<()> {
        let path = path.as_ref();
        if self.poller.is_watched(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is already watched", path.display()),
            ));
        }
        if poll::is_remote(path) {
            return self.poller.watch(path, mode);
        }
        match self.engine.watch(self.kq.get_ref(), path, mode) {
            // No native watching here: no inotify in the kernel, or no inotify instance or
            // descriptor left for it. Polling needs neither.
            Err(e) if native_unavailable(&e) => self.poller.watch(path, mode),
            res => res,
        }
    }

    /// Watches `path` by polling (see [`PollWatcher`](crate::PollWatcher)), whatever its
    /// filesystem: its events come through this watcher's stream with the others.
    ///
    /// # Errors
    ///
    /// `NotFound` if nothing is at `path`; `AlreadyExists` if it is a root already.
    pub fn watch_polled(&mut self, path: impl AsRef<Path>, mode: RecursiveMode) -> io::Result<()> {
        let path = path.as_ref();
        if self.engine.is_root(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is already watched", path.display()),
            ));
        }
        self.poller.watch(path, mode)
    }

    /// How polled roots are scanned from now on (default: every 2 s, metadata only).
    pub fn set_poll_options(&mut self, opts: PollOptions) {
        self.poller.set_options(opts);
    }

    /// Stops watching the root `path` (as given to [`watch`](Watcher::watch)) and releases
    /// its watches.
    ///
    /// # Errors
    ///
    /// `NotFound` if `path` is not a watched root (or was removed, which ended its watch).
    pub fn unwatch(&mut self, path: impl AsRef<Path>) -> io::Result<()> {
        if self.poller.unwatch(path.as_ref()) {
            return Ok(());
        }
        self.engine.unwatch(self.kq.get_ref(), path.as_ref())
    }

    /// The next event; `None` never comes (the stream lasts as long as the watcher).
    /// An `Err` reports a directory that could not be watched; the watcher goes on.
    pub async fn next(&mut self) -> Option<io::Result<Event>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Coalesces events per path over `window` (see [`Debounced`]).
    pub fn debounced(self, window: Duration) -> Debounced {
        Debounced::new(self, window)
    }

    /// The number of directories and files watched through the kernel, plus the polled
    /// roots.
    pub fn watched(&self) -> usize {
        self.engine.watched() + self.poller.watched()
    }

    /// The kernel watches held (on Linux, inotify watches of the watcher's one inotify
    /// instance; on BSD and macOS, open descriptors).
    ///
    /// # Errors
    ///
    /// Reading `/proc/self/fdinfo` failed.
    pub fn kernel_watches(&self) -> io::Result<usize> {
        self.kq.get_ref().vnode_watches()
    }

    pub(crate) fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<Output> {
        loop {
            if let Some(out) = self.engine.out.pop_front() {
                return Poll::Ready(out);
            }
            if self.engine.moves_pending() {
                let wait = self
                    .move_wait
                    .get_or_insert_with(|| Box::pin(kq_runtime::time::sleep(engine::MOVE_WAIT)));
                if wait.as_mut().poll(cx).is_ready() {
                    self.move_wait = None;
                    self.engine.flush_moves(self.kq.get_ref());
                    continue;
                }
            } else {
                self.move_wait = None;
            }
            let mut guard = match self.kq.poll_read_ready(cx) {
                Poll::Ready(Ok(guard)) => guard,
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Output {
                        event: Err(e),
                        replaced: false,
                    });
                }
                Poll::Pending => {
                    if self.poller.poll_tick(cx, &mut self.engine.out).is_ready() {
                        continue;
                    }
                    return Poll::Pending;
                }
            };
            match self.engine.process(guard.get_inner()) {
                Ok(true) => {}
                Ok(false) => guard.clear_ready(),
                Err(e) => {
                    guard.clear_ready();
                    return Poll::Ready(Output {
                        event: Err(e),
                        replaced: false,
                    });
                }
            }
        }
    }
}

impl Stream for Watcher {
    type Item = io::Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_output(cx).map(|o| Some(o.event))
    }
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("watched", &self.engine.watched())
            .field("pending", &self.engine.out.len())
            .finish()
    }
}

/// Whether `e`, from watching a root natively, means the native mechanism cannot be had at
/// all (`ENOSYS`: no inotify; `EMFILE`/`ENFILE`: no inotify instance or descriptor left),
/// so the root is polled instead. The inotify *watch* limit (`ENOSPC`) is not among them:
/// it is reported, naming `fs.inotify.max_user_watches`.
fn native_unavailable(e: &io::Error) -> bool {
    let errno = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<engine::WatchFailure>())
        .map_or(e.raw_os_error(), |w| w.errno);
    matches!(errno, Some(libc::ENOSYS | libc::EMFILE | libc::ENFILE))
}
