//! Helpers shared by the runtime's integration tests: runtimes of each flavor, a tiny async
//! one-shot channel, drop guards, non-blocking socketpairs and pipes, bounded polling, and
//! views of the process's threads and descriptors. Every assertion helper is
//! `#[track_caller]`.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use kq::runtime::{Builder, Runtime};
use std::any::Any;
use std::collections::BTreeMap;
use std::fs::File;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How late a timer or a wake-up may be before a test calls it a failure: generous, so that
/// a loaded machine does not fail a correct runtime ("never early, not absurdly late").
pub(crate) const LATE: Duration = Duration::from_secs(2);

/// How long a bounded wait for something that must happen may take before it fails.
pub(crate) const BOUND: Duration = Duration::from_secs(10);

/// A current-thread runtime.
pub(crate) fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a current-thread runtime")
}

/// A multi-thread runtime with `workers` worker threads.
pub(crate) fn multi_thread(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("build a multi-thread runtime")
}

/// A multi-thread runtime with one worker.
pub(crate) fn multi_thread_1() -> Runtime {
    multi_thread(1)
}

/// A multi-thread runtime with two workers.
pub(crate) fn multi_thread_2() -> Runtime {
    multi_thread(2)
}

/// A multi-thread runtime with four workers (more than this machine's cores).
pub(crate) fn multi_thread_4() -> Runtime {
    multi_thread(4)
}

/// Polls `cond` from a plain thread until it holds, failing after `bound`.
#[track_caller]
pub(crate) fn wait_until(what: &str, bound: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < bound,
            "gave up after {bound:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Polls `cond` from inside a task, yielding to the scheduler between checks, failing after
/// `bound`. Use it where blocking the thread would stall the runtime (current-thread).
pub(crate) async fn yield_until(what: &str, bound: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < bound,
            "gave up after {bound:?} waiting until {what}"
        );
        kq::task::yield_now().await;
    }
}

/// Asserts that `elapsed` is at least `min` (never early) and less than `min + LATE`.
#[track_caller]
pub(crate) fn assert_not_early(what: &str, elapsed: Duration, min: Duration) {
    assert!(
        elapsed >= min,
        "{what}: finished early, after {elapsed:?} < {min:?}"
    );
    assert!(
        elapsed < min + LATE,
        "{what}: absurdly late, after {elapsed:?} (expected about {min:?})"
    );
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Runs `f`, asserts that it panics, and returns the panic's message.
#[track_caller]
pub(crate) fn expect_panic<R>(f: impl FnOnce() -> R) -> String {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but the call returned"),
        Err(payload) => panic_message(&*payload),
    }
}

// ---- a one-shot channel whose receiver is a future ---------------------------------------

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    sender_gone: bool,
    polls: usize,
}

/// The sending half of [`oneshot`]; sending wakes the receiver from any thread.
pub(crate) struct Sender<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

/// The receiving half of [`oneshot`]: a future of `Some(value)`, or `None` if the sender
/// was dropped without sending.
pub(crate) struct Receiver<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

/// A one-shot channel that works across threads and runtimes, independent of kq's own code,
/// so that tests can tell a task to go on and learn when it has.
pub(crate) fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
        sender_gone: false,
        polls: 0,
    }));
    (Sender { slot: slot.clone() }, Receiver { slot })
}

impl<T> Sender<T> {
    /// Stores `value` and wakes the receiver.
    pub(crate) fn send(self, value: T) {
        let waker = {
            let mut s = self.slot.lock().unwrap();
            s.value = Some(value);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Whether the receiver has been polled (and so waits with a registered waker, if it
    /// got nothing yet).
    pub(crate) fn receiver_polled(&self) -> bool {
        self.slot.lock().unwrap().polls > 0
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut s = self.slot.lock().unwrap();
            s.sender_gone = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.slot.lock().unwrap();
        s.polls += 1;
        if let Some(v) = s.value.take() {
            return Poll::Ready(Some(v));
        }
        if s.sender_gone {
            return Poll::Ready(None);
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

// ---- drop guards ---------------------------------------------------------------------------

/// Counts its own drop in a shared counter (to prove a task's future was dropped).
pub(crate) struct DropGuard(pub(crate) Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counter and a function making guards that count into it.
pub(crate) fn drop_counter() -> (Arc<AtomicUsize>, impl Fn() -> DropGuard) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    (count, move || DropGuard(c.clone()))
}

// ---- real descriptors ------------------------------------------------------------------------

/// A connected pair of non-blocking Unix stream sockets.
#[track_caller]
pub(crate) fn socketpair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).expect("set_nonblocking");
    b.set_nonblocking(true).expect("set_nonblocking");
    (a, b)
}

/// A pipe with both ends non-blocking: `(read end, write end)`, as files.
///
/// Made with `pipe(2)` and `fcntl(2)` (portable to the BSDs and macOS, unlike `pipe2`)
/// rather than `std::io::pipe`, which is newer than the workspace's rust-version.
#[track_caller]
pub(crate) fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe: {}", io::Error::last_os_error());
    // SAFETY: pipe succeeded: both descriptors are open and owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&r, &w] {
        let fd = fd.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own; no memory is passed.
        let ok = unsafe {
            libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) == 0
                && libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0
        };
        assert!(ok, "fcntl: {}", io::Error::last_os_error());
    }
    (File::from(r), File::from(w))
}

// ---- the process seen through /proc ------------------------------------------------------

/// The names (`comm`) of this process's threads.
pub(crate) fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").expect("read /proc/self/task") {
        let Ok(entry) = entry else { continue };
        // A thread may exit between the listing and the read.
        if let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) {
            names.push(comm.trim_end().to_owned());
        }
    }
    names
}

/// How many of this process's threads are named `name`.
pub(crate) fn threads_named(name: &str) -> usize {
    thread_names().iter().filter(|n| *n == name).count()
}

/// This process's open descriptors and what each refers to.
pub(crate) fn open_fds() -> BTreeMap<i32, String> {
    let mut fds = BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd") {
        let Ok(entry) = entry else { continue };
        let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A descriptor may close between the listing and the read.
        if let Ok(target) = std::fs::read_link(entry.path()) {
            let target = target.display().to_string();
            // The listing's own descriptor, open only while we read.
            if target.starts_with("/proc/") && target.ends_with("/fd") {
                continue;
            }
            fds.insert(fd, target);
        }
    }
    fds
}
