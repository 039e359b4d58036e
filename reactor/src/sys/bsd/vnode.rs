//! kq's vnode extension on the kernel's kqueue (see `crate::vnode_path`): a path ident is a
//! descriptor opened on the path, kept in `Selector::vnodes` until `vnode_close` or the
//! selector's drop; the kernel deletes its knotes when it is closed. No child records are
//! kept: `vnode_children` always reports them lost.

use super::Selector;
use crate::VnodeChildren;
use crate::sys::syscall;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Opens a path for event notification only where the platform has such a mode.
#[cfg(kq_apple)]
const OPEN_FLAGS: libc::c_int = libc::O_EVTONLY | libc::O_CLOEXEC;
/// Opens a path for event notification: read-only (directories too).
#[cfg(not(kq_apple))]
const OPEN_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_CLOEXEC;

impl Selector {
    fn vnodes(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<RawFd, OwnedFd>> {
        // A panic while holding the lock leaves a consistent map; keep serving.
        self.vnodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// See [`Kqueue::vnode_open`](crate::Kqueue::vnode_open).
    pub(crate) fn vnode_open(&self, path: &Path) -> io::Result<usize> {
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
        // SAFETY: `path` is NUL-terminated; the flags need no mode argument.
        let fd = syscall!(open(path.as_ptr(), OPEN_FLAGS))?;
        // SAFETY: `open` just returned this descriptor; nothing else owns it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        self.vnodes().insert(fd, owned);
        Ok(fd as usize)
    }

    /// See [`Kqueue::vnode_close`](crate::Kqueue::vnode_close).
    pub(crate) fn vnode_close(&self, ident: usize) -> io::Result<()> {
        let fd = RawFd::try_from(ident).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        match self.vnodes().remove(&fd) {
            // Dropping the descriptor closes it; the kernel deletes its knotes.
            Some(owned) => {
                debug_assert_eq!(owned.as_raw_fd(), fd);
                Ok(())
            }
            None => Err(io::Error::from_raw_os_error(libc::EBADF)),
        }
    }

    /// See [`Kqueue::vnode_children`](crate::Kqueue::vnode_children).
    pub(crate) fn vnode_children(&self, ident: usize) -> io::Result<VnodeChildren> {
        let fd = RawFd::try_from(ident).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        if !self.vnodes().contains_key(&fd) {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        Ok(VnodeChildren {
            events: Vec::new(),
            lost: true,
        })
    }

    /// See [`Kqueue::vnode_watches`](crate::Kqueue::vnode_watches).
    pub(crate) fn vnode_watches(&self) -> io::Result<usize> {
        Ok(self.vnodes().len())
    }
}
