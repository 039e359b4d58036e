//! [`Kqueue`], the public face of the core: the platform's selector behind the `kevent(2)`
//! contract.

use crate::sys::{self, abi::Kevent};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// A kqueue: a set of knotes and the queue of their pending events.
///
/// `Kqueue` is `Send + Sync`. Any number of threads may call [`kevent`](Kqueue::kevent) at
/// once; a change made by one thread takes effect for a thread blocked in `kevent` (it is
/// woken if the change makes an event pending or moves the next timer earlier).
///
/// Dropping the kqueue releases every knote and every descriptor it holds.
pub struct Kqueue {
    selector: sys::Selector,
}

impl Kqueue {
    /// Creates an empty kqueue.
    ///
    /// # Errors
    ///
    /// The OS errors of creating its descriptors (`EMFILE`, `ENFILE`, `ENOMEM`).
    pub fn new() -> io::Result<Kqueue> {
        Builder::new().build()
    }

    /// A builder for a kqueue with options.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Applies `changes` in order, then collects up to `events.len()` pending events, waiting
    /// at most `timeout` for the first one (`None`: forever; zero: do not wait).
    ///
    /// Returns the number of entries written to `events`. As in `kevent(2)`:
    ///
    /// - a change that fails (or carries `EV_RECEIPT`) is reported as an entry with `flags ==
    ///   EV_ERROR` and the errno (0 for a receipt) in `data`, its other fields echoing the
    ///   change; processing goes on with the next change; when any such entry was written the
    ///   call returns their count at once, without collecting events or waiting;
    /// - when a change fails and `events` has no room left for its entry, the call returns
    ///   that error: the changes before it are applied, the ones after it are not;
    /// - a receipt with no room left stops processing and the call returns 0;
    /// - with an empty `events` the call never waits.
    ///
    /// # Errors
    ///
    /// The error of a change that had no room for its `EV_ERROR` entry; `EINTR` when a
    /// signal handler ran while waiting and no event was pending (the changes are applied);
    /// `EBADF` for a kqueue used in a process forked after it was created.
    pub fn kevent(
        &self,
        changes: &[Kevent],
        events: &mut [Kevent],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        // SAFETY: both pointers come from live slices of the given lengths; a shared and a
        // mutable slice cannot overlap.
        unsafe {
            self.selector.kevent(
                changes.as_ptr(),
                changes.len(),
                events.as_mut_ptr(),
                events.len(),
                timeout,
            )
        }
    }

    /// Like [`kevent`](Kqueue::kevent) with one array as both the changelist (its first
    /// `nchanges` entries) and the eventlist (all of it), as C callers may do.
    ///
    /// # Errors
    ///
    /// As [`kevent`](Kqueue::kevent); `InvalidInput` if `nchanges > list.len()`.
    pub fn kevent_in_place(
        &self,
        list: &mut [Kevent],
        nchanges: usize,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        if nchanges > list.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "nchanges is larger than the list",
            ));
        }
        let ptr = list.as_mut_ptr();
        // SAFETY: `ptr` is valid for `list.len()` entries and `nchanges <= list.len()`; the
        // selector copies each change before it writes any entry at or before its index.
        unsafe {
            self.selector
                .kevent(ptr, nchanges, ptr, list.len(), timeout)
        }
    }

    /// The raw form of [`kevent`](Kqueue::kevent), for kq's C library.
    ///
    /// # Safety
    ///
    /// `changes` must be valid for reads of `nchanges` entries and `events` valid for writes
    /// of `nevents` entries (either may be null when its count is 0). The two ranges may
    /// overlap only if they start at the same address: each change is read before any
    /// entry at or before its index is written.
    ///
    /// # Errors
    ///
    /// As [`kevent`](Kqueue::kevent).
    pub unsafe fn kevent_raw(
        &self,
        changes: *const Kevent,
        nchanges: usize,
        events: *mut Kevent,
        nevents: usize,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        // SAFETY: forwarded from this function's own contract.
        unsafe {
            self.selector
                .kevent(changes, nchanges, events, nevents, timeout)
        }
    }
}

#[cfg(target_os = "linux")]
impl Kqueue {
    /// Makes `fd`, a duplicate of this kqueue's descriptor (`dup(2)` of
    /// [`as_raw_fd`](AsRawFd::as_raw_fd)), another name of this kqueue: a READ knote on
    /// `fd` in another kqueue then reports this kqueue's pending count, exactly as a knote on
    /// its own descriptor does. kq's C library hands out such a duplicate.
    ///
    /// The caller may close `fd` at any time: a number closed and reused by another file is
    /// recognised (the registry checks that it still names the same open file) and never
    /// reaches this kqueue. The registration ends when the kqueue is dropped.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `fd` does not name the same open file as the kqueue's descriptor.
    ///
    /// # Portability
    ///
    /// Linux only: on BSD and macOS a duplicate of a kqueue's descriptor is the kernel's
    /// kqueue already.
    pub fn add_alias(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.selector.add_alias(fd.as_raw_fd())
    }
}

/// Builds a [`Kqueue`] with options.
///
/// # Examples
///
/// ```
/// let kq = kq_reactor::Kqueue::builder().edge_data(false).build()?;
/// # drop(kq);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    opts: sys::Options,
}

impl Builder {
    /// The default options: exactly `kevent(2)`.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Whether edge-triggered (`EV_CLEAR`) `EVFILT_READ`/`EVFILT_WRITE` events on sockets,
    /// pipes and other pollable descriptors compute `data` (default: `true`).
    ///
    /// With `false`, such an event that the kernel has just reported is delivered from that
    /// report alone, with `data` 0 and `EV_EOF`/`fflags` as usual, and costs no system call
    /// beyond the wait. That is what a runtime wants: it reads until `EWOULDBLOCK` and never
    /// looks at `data`. So is an edge-triggered READ knote on another kqueue's descriptor:
    /// the kernel's report (the watched kqueue has events, or hints to take) is taken at its
    /// word, without asking that kqueue. Level-triggered knotes, `NOTE_LOWAT`, files and
    /// every other filter are unchanged.
    ///
    /// Nor is a descriptor classified to register READ or WRITE on it, so WRITE on a pipe
    /// whose reader is gone is not refused with `EPIPE` (as `kevent(2)` does): it fires at
    /// once with `EV_EOF`, and the write that follows fails with `EPIPE`.
    ///
    /// An event that does not fit in one call's eventlist is delivered by a later call from
    /// the same report, without re-checking the descriptor: if the descriptor is closed in
    /// between without `EV_DELETE`, that event can still come out once (delete the knotes
    /// before closing, as kq's runtime does).
    ///
    /// # Portability
    ///
    /// On BSD and macOS the kernel computes `data` for free and this option changes nothing.
    pub fn edge_data(mut self, on: bool) -> Builder {
        self.opts.edge_data = on;
        self
    }

    /// Creates the kqueue.
    ///
    /// # Errors
    ///
    /// The OS errors of creating its descriptors (`EMFILE`, `ENFILE`, `ENOMEM`).
    pub fn build(self) -> io::Result<Kqueue> {
        Ok(Kqueue {
            selector: sys::Selector::new(&self.opts)?,
        })
    }
}

impl AsRawFd for Kqueue {
    /// The kqueue's descriptor: readable while events may be pending.
    fn as_raw_fd(&self) -> RawFd {
        self.selector.as_raw_fd()
    }
}

impl AsFd for Kqueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is owned by the selector and stays open as long as `self`.
        unsafe { BorrowedFd::borrow_raw(self.selector.as_raw_fd()) }
    }
}

impl fmt::Debug for Kqueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kqueue")
            .field("fd", &self.selector.as_raw_fd())
            .finish()
    }
}

impl fmt::Debug for Kevent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kevent")
            .field("ident", &self.ident)
            .field("filter", &self.filter)
            .field("flags", &format_args!("{:#06x}", self.flags))
            .field("fflags", &format_args!("{:#x}", self.fflags))
            .field("data", &self.data)
            .field("udata", &self.udata)
            .finish()
    }
}

// SAFETY: `udata` is an opaque value that the core never dereferences; it only stores and
// returns it. Every other field is plain data.
unsafe impl Send for Kevent {}
// SAFETY: as for `Send`: a shared `Kevent` gives access to nothing but its plain fields.
unsafe impl Sync for Kevent {}

/// kq's extension to `EVFILT_VNODE`: vnodes named by path (no descriptor per watched file on
/// Linux) and directory child records ([`NOTE_KQ_CHILDREN`](crate::NOTE_KQ_CHILDREN)).
impl Kqueue {
    /// Opens the file or directory at `path` as a vnode *ident* for `EVFILT_VNODE` knotes of
    /// this kqueue: `(ident, EVFILT_VNODE)` changes then behave as on a descriptor of that
    /// file. The ident names the inode `path` resolves to now (symbolic links are followed,
    /// as by `open(2)`); a later rename of the file keeps it.
    ///
    /// A knote on a directory ident may ask for [`NOTE_KQ_CHILDREN`](crate::NOTE_KQ_CHILDREN):
    /// the core then records which entries changed, for
    /// [`vnode_children`](Kqueue::vnode_children).
    ///
    /// # Examples
    ///
    /// ```
    /// use kq_reactor::{EV_ADD, EV_CLEAR, EVFILT_VNODE, Kevent, Kqueue, NOTE_WRITE};
    /// use std::time::Duration;
    ///
    /// let dir = std::env::temp_dir().join(format!("kq-doc-vnode-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let kq = Kqueue::new()?;
    /// let ident = kq.vnode_open(&dir)?;
    /// let add = Kevent::new(ident, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE, 0, std::ptr::null_mut());
    /// kq.kevent(&[add], &mut [], None)?;
    /// std::fs::write(dir.join("f"), b"x")?;
    /// let mut ev = [Kevent::new(0, 0, 0, 0, 0, std::ptr::null_mut())];
    /// assert_eq!(kq.kevent(&[], &mut ev, Some(Duration::from_secs(5)))?, 1);
    /// assert_eq!(ev[0].ident, ident);
    /// assert!(ev[0].fflags & NOTE_WRITE != 0);
    /// kq.vnode_close(ident)?;
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `NotFound` if nothing is at `path`; `InvalidInput` if it contains a NUL byte; the
    /// OS errors of watching it: on Linux `ENOSPC` when the inotify watch limit
    /// (`fs.inotify.max_user_watches`) is reached, `EACCES`; on BSD and macOS those of
    /// `open(2)` (`EMFILE`...).
    ///
    /// # Portability
    ///
    /// On Linux the ident is a number with the top bit set and costs one inotify watch per
    /// inode (shared) and no descriptor. On FreeBSD and macOS it is a descriptor opened on
    /// the path (`O_EVTONLY` on macOS), which [`vnode_close`](Kqueue::vnode_close) closes.
    pub fn vnode_open(&self, path: &std::path::Path) -> io::Result<usize> {
        self.selector.vnode_open(path)
    }

    /// Releases an ident of [`vnode_open`](Kqueue::vnode_open): deletes its knote, drops its
    /// child records, and removes the watch if nothing else uses it.
    ///
    /// # Errors
    ///
    /// `EBADF` if `ident` is not an open vnode ident of this kqueue.
    pub fn vnode_close(&self, ident: usize) -> io::Result<()> {
        self.selector.vnode_close(ident)
    }

    /// Takes the child records of a directory ident whose knote asks for
    /// [`NOTE_KQ_CHILDREN`](crate::NOTE_KQ_CHILDREN), oldest first, and whether any were
    /// lost (then re-read the directory).
    ///
    /// # Errors
    ///
    /// `EBADF` if `ident` is not an open vnode ident of this kqueue.
    ///
    /// # Portability
    ///
    /// On BSD and macOS no records are kept: the answer is always empty and `lost`.
    pub fn vnode_children(&self, ident: usize) -> io::Result<crate::VnodeChildren> {
        self.selector.vnode_children(ident)
    }

    /// The number of kernel watches the kqueue's vnode knotes and idents hold: on Linux the
    /// inotify watches of its one inotify instance, as the kernel reports them
    /// (`/proc/self/fdinfo`); on BSD and macOS the open idents of
    /// [`vnode_open`](Kqueue::vnode_open). For diagnostics and tests.
    ///
    /// # Errors
    ///
    /// Reading `/proc/self/fdinfo` failed (Linux).
    pub fn vnode_watches(&self) -> io::Result<usize> {
        self.selector.vnode_watches()
    }
}
