//! The kqueues of the C library, by the descriptor each `kqueue()` returned.
//!
//! # Invariants
//!
//! - An entry's `fd` is the number `kqueue()` handed out; `own` is the core's epoll
//!   descriptor, owned by `kq`. The caller's `fd` is a duplicate of `own` and is never
//!   closed by the library: the caller closes it.
//! - An entry is *live* while `fd` still names the same open file as `own`
//!   ([`same_file`]). A number that no longer does was closed by the caller (perhaps
//!   reused since): its entry is released and the number fails with `EBADF`.
//! - Releasing removes the entry from the table; the kqueue itself is dropped (closing its
//!   descriptors and every knote's) when the last `kevent()` in flight on it returns, since
//!   each call holds an `Arc` of the entry.
//! - The table never holds more than `max(SWEEP_MIN, 2 × live)` entries after a
//!   `kqueue()`: each `kqueue()` releases the entries of the numbers the kernel just gave
//!   it, and sweeps the whole table when it has doubled since the last sweep.

use kq_reactor::Kqueue;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Below this many entries the table is never swept.
const SWEEP_MIN: usize = 64;

/// One kqueue handed out to C.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) kq: Kqueue,
    /// The core's own descriptor (`kq.as_raw_fd()`).
    own: RawFd,
    /// The descriptor the caller got.
    fd: RawFd,
}

impl Entry {
    /// Whether the caller's descriptor still names this kqueue.
    pub(crate) fn is_live(&self) -> bool {
        same_file(self.fd, self.own)
    }
}

#[derive(Debug)]
struct Table {
    /// Indexed by the caller's descriptor.
    slots: Vec<Option<Arc<Entry>>>,
    count: usize,
    /// Sweep when `count` reaches this.
    sweep_at: usize,
}

static TABLE: RwLock<Table> = RwLock::new(Table {
    slots: Vec::new(),
    count: 0,
    sweep_at: SWEEP_MIN,
});

fn read() -> RwLockReadGuard<'static, Table> {
    // A panic under the lock (caught at the FFI boundary) leaves a consistent table.
    TABLE.read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> RwLockWriteGuard<'static, Table> {
    TABLE.write().unwrap_or_else(|e| e.into_inner())
}

impl Table {
    fn take(&mut self, fd: RawFd) -> Option<Arc<Entry>> {
        let e = self.slots.get_mut(usize::try_from(fd).ok()?)?.take()?;
        self.count -= 1;
        Some(e)
    }
}

/// Creates a kqueue and returns the descriptor for the caller.
///
/// # Errors
///
/// The core's errors creating the kqueue, and `dup`'s (`EMFILE`).
pub(crate) fn create(edge_data: bool) -> io::Result<RawFd> {
    let kq = Kqueue::builder().edge_data(edge_data).build()?;
    let own = kq.as_raw_fd();
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor `kq` owns returns a new descriptor or -1.
    let fd = unsafe { libc::fcntl(own, libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is fresh and ours until it is handed out below.
    let dup = unsafe { OwnedFd::from_raw_fd(fd) };
    kq.add_alias(dup.as_fd())?;
    let entry = Arc::new(Entry { kq, own, fd });
    let mut released = Vec::new();
    {
        let mut t = write();
        // Both numbers were free a moment ago: whatever the table held there was closed.
        released.extend(t.take(own));
        released.extend(t.take(fd));
        let idx = fd as usize; // `fd >= 0` (checked above).
        if t.slots.len() <= idx {
            t.slots.resize_with(idx + 1, || None);
        }
        t.slots[idx] = Some(entry);
        t.count += 1;
        if t.count >= t.sweep_at {
            sweep(&mut t, &mut released);
        }
    }
    // The released kqueues are dropped here, outside the lock.
    drop(released);
    Ok(dup.into_raw_fd())
}

/// Releases every entry whose descriptor was closed, and sets the next sweep point.
fn sweep(t: &mut Table, released: &mut Vec<Arc<Entry>>) {
    let mut closed = 0;
    for slot in &mut t.slots {
        if slot.as_ref().is_some_and(|e| !e.is_live()) {
            released.extend(slot.take());
            closed += 1;
        }
    }
    t.count -= closed;
    t.sweep_at = (2 * t.count).max(SWEEP_MIN);
}

/// The kqueue the caller's descriptor `fd` names.
///
/// # Errors
///
/// `EBADF` if `fd` is not a descriptor `kqueue()` returned, or was closed since (even if
/// its number names another file now); the kqueue of a closed descriptor is released.
pub(crate) fn lookup(fd: RawFd) -> io::Result<Arc<Entry>> {
    let ebadf = || io::Error::from_raw_os_error(libc::EBADF);
    let idx = usize::try_from(fd).map_err(|_| ebadf())?;
    let entry = read().slots.get(idx).cloned().flatten().ok_or_else(ebadf)?;
    if entry.is_live() {
        Ok(entry)
    } else {
        release(&entry);
        Err(ebadf())
    }
}

/// Removes `entry` from the table (if it is still there): its descriptor was closed.
pub(crate) fn release(entry: &Arc<Entry>) {
    let taken = {
        let mut t = write();
        match t.slots.get(entry.fd as usize) {
            Some(Some(e)) if Arc::ptr_eq(e, entry) => t.take(entry.fd),
            _ => None,
        }
    };
    drop(taken);
}

/// The number of kqueues in the table (live or not yet found closed), for tests.
pub(crate) fn count() -> usize {
    read().count
}

/// Whether two descriptors name the same open file description. Every epoll instance
/// shares one anonymous inode, so `st_dev`/`st_ino` cannot tell two kqueues apart:
/// `fcntl(F_DUPFD_QUERY)` (Linux 6.10) can, and `kcmp(KCMP_FILE)` on older kernels. Where
/// neither is available (kcmp may be compiled out or filtered), equal `st_dev`/`st_ino`
/// and `F_GETFD` success are taken as the same file, which cannot recognise a closed
/// kqueue's number reused by another epoll instance.
pub(crate) fn same_file(a: RawFd, b: RawFd) -> bool {
    /// `F_LINUX_SPECIFIC_BASE + 3`, not yet in the libc crate.
    const F_DUPFD_QUERY: libc::c_int = 1024 + 3;
    const KCMP_FILE: libc::c_int = 0;
    // SAFETY: F_DUPFD_QUERY takes an int argument and only compares two descriptors.
    match unsafe { libc::fcntl(a, F_DUPFD_QUERY, b) } {
        1 => return true,
        0 => return false,
        _ if errno() == libc::EBADF => return false,
        _ => {} // EINVAL: a kernel older than 6.10.
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    // SAFETY: kcmp(KCMP_FILE) compares two descriptor numbers of this process.
    match unsafe { libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_FILE, a, b) } {
        0 => true,
        r if r > 0 => false,
        _ if errno() == libc::EBADF => false,
        _ => match (fstat(a), fstat(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn fstat(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: a zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a live, writable stat.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}
