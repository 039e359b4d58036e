//! The Linux backend: kqueue semantics in user space.
//!
//! The knote table and the active queue are kq's own (`knote.rs`; changes in `register.rs`,
//! delivery in `scan.rs`, waiting in `selector.rs`); the
//! kernel's facilities only deliver *hints* that run a knote's filter: epoll for pollable
//! descriptors (`fd.rs`), inotify for files and directories (`vnode.rs`), pidfds for
//! processes (`proc.rs`), a counting signal handler (`signal.rs`), and an in-core timer
//! heap (`timer.rs`). USER knotes are pure state.

pub(crate) mod abi;
mod fd;
mod knote;
mod proc;
mod register;
mod scan;
mod selector;
mod signal;
mod timer;
mod vnode;

use super::syscall;
pub(crate) use selector::Selector;

use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, Weak};

/// The kqueues of this process by descriptor, so that a READ knote on a kqueue's fd can
/// report its pending count and a kqueue can refuse itself.
///
/// # Invariant
///
/// A kqueue's own epoll descriptor maps to it for as long as it lives (it owns that fd, so
/// the number cannot name another file meanwhile). An *alias* (a duplicate handed out by
/// kq's C library, see [`Selector::add_alias`]) may outlive its entry's truth: the caller
/// can close it and the number can be reused before the kqueue is dropped. So a lookup of
/// a number that is not the kqueue's own fd checks that it still names the same open file
/// ([`same_file`]), and an entry is removed only by the kqueue it points to.
static KQUEUES: Mutex<Option<HashMap<RawFd, Weak<selector::Inner>>>> = Mutex::new(None);

fn register_kqueue(fd: RawFd, inner: &Arc<selector::Inner>) {
    let mut map = KQUEUES.lock().unwrap_or_else(|e| e.into_inner());
    map.get_or_insert_with(HashMap::new)
        .insert(fd, Arc::downgrade(inner));
}

/// Removes the entry of `fd` if it is `inner`'s (an alias's number may have been taken
/// over by another kqueue since).
fn unregister_kqueue(fd: RawFd, inner: &Arc<selector::Inner>) {
    let mut map = KQUEUES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = map.as_mut() {
        if m.get(&fd).is_some_and(|w| w.as_ptr() == Arc::as_ptr(inner)) {
            m.remove(&fd);
        }
    }
}

fn lookup_kqueue(fd: RawFd) -> Option<Weak<selector::Inner>> {
    let weak = {
        let map = KQUEUES.lock().unwrap_or_else(|e| e.into_inner());
        map.as_ref()?.get(&fd).cloned()?
    };
    let inner = weak.upgrade()?;
    let own = inner.epfd.as_raw_fd();
    (own == fd || same_file(fd, own)).then_some(weak)
}

/// Whether two descriptors name the same open file description (not merely the same
/// inode: every epoll instance shares one anonymous inode).
///
/// `fcntl(F_DUPFD_QUERY)` (Linux 6.10) answers in one call; older kernels fall back to
/// `kcmp(KCMP_FILE)`. Where neither is available (kcmp is optional and may be filtered),
/// two descriptors with equal `st_dev`/`st_ino` are taken as the same: a weaker test that
/// cannot tell two epoll instances apart.
fn same_file(a: RawFd, b: RawFd) -> bool {
    /// `F_LINUX_SPECIFIC_BASE + 3`, not yet in the libc crate.
    const F_DUPFD_QUERY: libc::c_int = 1024 + 3;
    const KCMP_FILE: libc::c_int = 0;
    // SAFETY: F_DUPFD_QUERY takes an int argument and only compares two descriptors.
    match unsafe { libc::fcntl(a, F_DUPFD_QUERY, b) } {
        1 => return true,
        0 => return false,
        _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF) => {
            return false;
        }
        _ => {} // EINVAL: a kernel without F_DUPFD_QUERY.
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    // SAFETY: kcmp with KCMP_FILE reads two descriptor numbers of this process.
    match unsafe { libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_FILE, a, b) } {
        0 => true,
        r if r > 0 => false,
        _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF) => false,
        _ => match (fd::stat(a as usize), fd::stat(b as usize)) {
            (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
            _ => false,
        },
    }
}
