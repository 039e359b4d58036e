//! Helpers shared by the conformance tests: building changes, polling, and asserting on
//! the events a kqueue returns. Every assertion helper is `#[track_caller]`.

#![allow(dead_code, unreachable_pub)]

use kq_reactor::{EV_ERROR, Kevent, Kqueue};
use std::ptr;
use std::time::Duration;

/// A zeroed kevent, for eventlists.
pub const ZERO: Kevent = Kevent::new(0, 0, 0, 0, 0, ptr::null_mut());

/// `EV_SET` with a null udata.
pub fn kev(ident: usize, filter: i16, flags: u16, fflags: u32, data: isize) -> Kevent {
    Kevent::new(ident, filter, flags, fflags, data as _, ptr::null_mut())
}

/// `EV_SET` with a udata made from an integer.
pub fn kev_udata(
    ident: usize,
    filter: i16,
    flags: u16,
    fflags: u32,
    data: isize,
    udata: usize,
) -> Kevent {
    Kevent::new(ident, filter, flags, fflags, data as _, udata as *mut _)
}

/// Applies changes with no eventlist and asserts the call succeeded.
#[track_caller]
pub fn apply(kq: &Kqueue, changes: &[Kevent]) {
    kq.kevent(changes, &mut [], None)
        .expect("kevent(changes) failed");
}

/// Applies one change with room for its error entry and returns the errno it reported, or
/// 0 if it reported nothing (success without `EV_RECEIPT`).
#[track_caller]
pub fn change_errno(kq: &Kqueue, change: Kevent) -> i32 {
    let mut out = [ZERO; 1];
    let n = kq
        .kevent(&[change], &mut out, Some(Duration::ZERO))
        .expect("kevent failed as a whole");
    if n == 1 && out[0].flags & EV_ERROR != 0 {
        out[0].data as i32
    } else {
        0
    }
}

/// Collects the pending events without waiting.
#[track_caller]
pub fn poll(kq: &Kqueue, max: usize) -> Vec<Kevent> {
    wait(kq, max, Duration::ZERO)
}

/// Collects pending events, waiting at most `timeout` for the first one.
#[track_caller]
pub fn wait(kq: &Kqueue, max: usize, timeout: Duration) -> Vec<Kevent> {
    let mut out = vec![ZERO; max];
    let n = kq
        .kevent(&[], &mut out, Some(timeout))
        .expect("kevent(wait) failed");
    out.truncate(n);
    out
}

/// As [`wait`], for a wait that a signal sent just before may interrupt: an `EINTR` (which
/// kevent returns when a handler ran in this thread before anything was pending, as on
/// FreeBSD) is retried, within `timeout` in all, as a kqueue program's loop would.
#[track_caller]
pub fn wait_through_signals(kq: &Kqueue, max: usize, timeout: Duration) -> Vec<Kevent> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let mut out = vec![ZERO; max];
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match kq.kevent(&[], &mut out, Some(left)) {
            Ok(n) => {
                out.truncate(n);
                return out;
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) && !left.is_zero() => continue,
            Err(e) => panic!("kevent(wait) failed: {e:?}"),
        }
    }
}

/// Asserts that nothing is pending.
#[track_caller]
pub fn assert_no_events(kq: &Kqueue) {
    let evs = poll(kq, 8);
    assert!(evs.is_empty(), "expected no events, got {evs:?}");
}

/// Waits up to `timeout` for exactly one event and returns it.
#[track_caller]
pub fn expect_one(kq: &Kqueue, timeout: Duration) -> Kevent {
    let evs = wait(kq, 8, timeout);
    assert_eq!(evs.len(), 1, "expected exactly one event, got {evs:?}");
    evs[0]
}

/// Asserts that an event is about `(ident, filter)`.
#[track_caller]
pub fn assert_names(ev: &Kevent, ident: usize, filter: i16) {
    assert_eq!(
        (ev.ident, ev.filter),
        (ident, filter),
        "event names another knote: {ev:?}"
    );
}

/// A pipe `(read end, write end)`, both non-blocking and close-on-exec.
pub fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// Writes all of `buf` to a raw descriptor.
#[track_caller]
pub fn write_fd(fd: &impl std::os::fd::AsRawFd, buf: &[u8]) {
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    assert_eq!(
        n,
        buf.len() as isize,
        "write: {}",
        std::io::Error::last_os_error()
    );
}

/// Reads up to `n` bytes from a raw descriptor and returns how many were read.
#[track_caller]
pub fn read_fd(fd: &impl std::os::fd::AsRawFd, n: usize) -> usize {
    let mut buf = vec![0u8; n];
    // SAFETY: `buf` is valid for `n` bytes.
    let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), n) };
    assert!(r >= 0, "read: {}", std::io::Error::last_os_error());
    r as usize
}

/// Number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The ident of a descriptor-based knote.
pub fn ident_of(fd: &impl std::os::fd::AsRawFd) -> usize {
    fd.as_raw_fd() as usize
}

/// Applies `changes` with an empty eventlist (so no event is collected or consumed) and
/// returns the errno the call failed with, or 0 if it succeeded.
#[track_caller]
pub fn apply_errno(kq: &Kqueue, changes: &[Kevent]) -> i32 {
    match kq.kevent(changes, &mut [], None) {
        Ok(n) => {
            assert_eq!(n, 0, "kevent with an empty eventlist returned {n}");
            0
        }
        Err(e) => e
            .raw_os_error()
            .unwrap_or_else(|| panic!("kevent failed without an errno: {e}")),
    }
}

/// Calls `kevent` with `changes`, room for `nevents` entries and a zero timeout, and returns
/// the entries written.
#[track_caller]
pub fn kevent_vec(kq: &Kqueue, changes: &[Kevent], nevents: usize) -> std::io::Result<Vec<Kevent>> {
    let mut out = vec![ZERO; nevents];
    let n = kq.kevent(changes, &mut out, Some(Duration::ZERO))?;
    out.truncate(n);
    Ok(out)
}

/// Asserts that an entry is the `EV_ERROR` entry of `change` carrying `errno` (0 for a
/// receipt): `flags == EV_ERROR` exactly, `data == errno`, the other fields echoed.
#[track_caller]
pub fn assert_error_entry(entry: &Kevent, change: &Kevent, errno: i32) {
    assert_eq!(
        entry.flags, EV_ERROR,
        "flags of an error entry must be exactly EV_ERROR: {entry:?}"
    );
    assert_eq!(
        entry.data, errno as isize,
        "errno of the error entry: {entry:?}"
    );
    assert_eq!(
        (entry.ident, entry.filter, entry.fflags, entry.udata),
        (change.ident, change.filter, change.fflags, change.udata),
        "an error entry echoes its change {change:?}: {entry:?}"
    );
}

/// Installs a handler that does nothing for `sig`, without `SA_RESTART`, so a blocking call
/// interrupted by `sig` fails with `EINTR`.
pub fn install_noop_handler(sig: libc::c_int) {
    extern "C" fn noop(_: libc::c_int) {}
    // SAFETY: an all-zero `sigaction` is a valid value to fill in; the handler does nothing,
    // which is async-signal-safe; both pointers are valid for the call.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = noop as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        let rc = libc::sigaction(sig, &sa, ptr::null_mut());
        assert_eq!(rc, 0, "sigaction: {}", std::io::Error::last_os_error());
    }
}

/// The time since the Unix epoch.
pub fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock before 1970")
}

// ---------------------------------------------------------------------------------------
// Helpers for the READ/WRITE/VNODE/PROC/SIGNAL conformance tests (read.rs, write.rs,
// vnode.rs, proc.rs, signal.rs).
// ---------------------------------------------------------------------------------------

/// A generous bound for waiting on an event that is certain to come.
pub const LONG: Duration = Duration::from_secs(5);

/// A connected TCP pair `(client, server)` on 127.0.0.1, both non-blocking.
pub fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let client =
        std::net::TcpStream::connect(listener.local_addr().expect("local_addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    client.set_nonblocking(true).expect("set_nonblocking");
    server.set_nonblocking(true).expect("set_nonblocking");
    (client, server)
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A directory under `std::env::temp_dir()` with a unique name, removed (with its contents)
/// when dropped.
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates a fresh, empty directory whose name contains `tag`.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "kq-test-{}-{tag}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir(path)
    }

    /// The directory's path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sets `sig`'s disposition to `SIG_IGN`.
#[track_caller]
pub fn ignore_signal(sig: libc::c_int) {
    // SAFETY: setting a disposition to SIG_IGN runs no code.
    let prev = unsafe { libc::signal(sig, libc::SIG_IGN) };
    assert_ne!(
        prev,
        libc::SIG_ERR,
        "signal({sig}, SIG_IGN): {}",
        std::io::Error::last_os_error()
    );
}

/// Installs `handler` (a plain `fn(c_int)`, `SA_RESTART`) for `sig`.
#[track_caller]
pub fn install_handler(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: an all-zero `sigaction` is a valid value to fill in; the caller's handler must
    // be async-signal-safe; both pointers are valid for the call.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        let rc = libc::sigaction(sig, &sa, ptr::null_mut());
        assert_eq!(
            rc,
            0,
            "sigaction({sig}): {}",
            std::io::Error::last_os_error()
        );
    }
}
/// A descriptor number that was open a moment ago and is closed now. It is allocated high
/// (≥ 700) so that tests running on other threads, which get the lowest free numbers, do not
/// reuse it meanwhile.
pub fn closed_fd() -> std::os::fd::RawFd {
    let (r, _w) = pipe();
    // SAFETY: F_DUPFD duplicates an open descriptor (`r`) to the lowest free number ≥ 700.
    let fd = unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&r),
            libc::F_DUPFD_CLOEXEC,
            700,
        )
    };
    assert!(fd >= 700, "F_DUPFD: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` was just created by this function and is closed exactly once.
    unsafe { libc::close(fd) };
    fd
}
// ------------------------------ end of READ/WRITE/VNODE/PROC/SIGNAL helpers ------------
