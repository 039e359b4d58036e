//! EVFILT_VNODE, and EVFILT_READ on regular files: one inotify instance per kqueue.
//!
//! A knote on fd N watches `/proc/self/fd/N`, which names the file itself (even when it
//! has been unlinked). inotify keeps one watch per inode, so several fds on one file share a
//! watch descriptor; `Watch::fds` demultiplexes. Each inotify event becomes one *hint*, a
//! set of `NOTE_*` bits, as FreeBSD's `VN_KNOTE` calls do; a knote that asked for any bit of
//! the hint records the whole hint in its `fflags` (so an append reports
//! `NOTE_WRITE | NOTE_EXTEND` to a knote that asked for `NOTE_WRITE` only, as on FreeBSD).
//!
//! | hint | inotify |
//! |---|---|
//! | NOTE_WRITE (+NOTE_EXTEND when the size grew) | IN_MODIFY |
//! | NOTE_DELETE | IN_ATTRIB with a smaller link count, IN_DELETE_SELF |
//! | NOTE_LINK | IN_ATTRIB with a larger link count; directories: a subdirectory created, removed, moved in or out |
//! | NOTE_ATTRIB | IN_ATTRIB with the same link count |
//! | NOTE_RENAME | IN_MOVE_SELF |
//! | NOTE_REVOKE | IN_UNMOUNT |
//! | NOTE_WRITE (directories) | an entry created, deleted or renamed (+NOTE_EXTEND when moved in or out) |
//! | NOTE_OPEN, NOTE_READ, NOTE_CLOSE, NOTE_CLOSE_WRITE | IN_OPEN, IN_ACCESS, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE |
//!
//! When the inotify queue overflows, events are lost: every vnode knote then gets the hint
//! `NOTE_WRITE | NOTE_ATTRIB` (masked by what it asked for), so a watcher knows to rescan.

use super::abi::*;
use super::selector::State;
use super::syscall;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The kqueue's inotify instance.
#[derive(Debug)]
pub(super) struct Inotify {
    pub(super) fd: OwnedFd,
    watches: HashMap<i32, Watch>,
}

#[derive(Debug)]
struct Watch {
    /// The fd numbers whose knotes use this watch.
    fds: Vec<usize>,
    nlink: u64,
    size: i64,
    dir: bool,
}

/// The inotify events kq always asks for; the noisy ones are added on request.
const BASE: u32 = libc::IN_MODIFY
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO;

fn mask_for(sfflags: u32) -> u32 {
    let mut m = BASE;
    if sfflags & NOTE_OPEN != 0 {
        m |= libc::IN_OPEN;
    }
    if sfflags & NOTE_READ != 0 {
        m |= libc::IN_ACCESS;
    }
    if sfflags & NOTE_CLOSE != 0 {
        m |= libc::IN_CLOSE_NOWRITE;
    }
    if sfflags & NOTE_CLOSE_WRITE != 0 {
        m |= libc::IN_CLOSE_WRITE;
    }
    m
}

impl Inotify {
    pub(super) fn new() -> io::Result<Inotify> {
        let fd = syscall!(inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK))?;
        // SAFETY: the kernel just returned this descriptor; nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Inotify {
            fd,
            watches: HashMap::new(),
        })
    }

    /// Watches the file of `fd` for a knote with input fflags `sfflags`; returns the wd.
    pub(super) fn watch(&mut self, fd: usize, sfflags: u32, st: &libc::stat) -> io::Result<i32> {
        let path = format!("/proc/self/fd/{fd}\0");
        let wd = syscall!(inotify_add_watch(
            self.fd.as_raw_fd(),
            path.as_ptr().cast(),
            mask_for(sfflags) | libc::IN_MASK_ADD
        ))?;
        let w = self.watches.entry(wd).or_insert_with(|| Watch {
            fds: Vec::new(),
            nlink: st.st_nlink,
            size: st.st_size,
            dir: st.st_mode & libc::S_IFMT == libc::S_IFDIR,
        });
        if !w.fds.contains(&fd) {
            w.fds.push(fd);
        }
        Ok(wd)
    }

    /// Adds the inotify events a modified knote now asks for to the watch of `fd`.
    pub(super) fn extend(&self, fd: usize, sfflags: u32) -> io::Result<()> {
        let path = format!("/proc/self/fd/{fd}\0");
        syscall!(inotify_add_watch(
            self.fd.as_raw_fd(),
            path.as_ptr().cast(),
            mask_for(sfflags) | libc::IN_MASK_ADD
        ))
        .map(drop)
    }

    /// Stops using watch `wd` for `fd`; removes the watch when no fd uses it.
    pub(super) fn unwatch(&mut self, wd: i32, fd: usize) {
        if let Some(w) = self.watches.get_mut(&wd) {
            w.fds.retain(|f| *f != fd);
            if w.fds.is_empty() {
                self.watches.remove(&wd);
                // SAFETY: removing a watch of our own instance; EINVAL (already gone, e.g.
                // after IN_IGNORED) is harmless and ignored.
                unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
            }
        }
    }
}

/// The hint for one inotify event on a watch (0 if the event means nothing to kq).
///
/// A record with a name is about an entry of a watched directory: only entries created,
/// deleted or moved count (the directory changed); the activity of a file inside it does not.
fn hint_for(w: &mut Watch, mask: u32, named: bool, paired_move: bool) -> u32 {
    let isdir = mask & libc::IN_ISDIR != 0;
    if named {
        let mut h = 0;
        if w.dir && mask & (libc::IN_CREATE | libc::IN_DELETE) != 0 {
            h |= NOTE_WRITE;
            if isdir {
                h |= NOTE_LINK;
            }
        }
        if w.dir && mask & (libc::IN_MOVED_FROM | libc::IN_MOVED_TO) != 0 {
            h |= NOTE_WRITE;
            if !paired_move {
                h |= NOTE_EXTEND;
                if isdir {
                    h |= NOTE_LINK;
                }
            }
        }
        return h;
    }
    let mut h = 0;
    if mask & (libc::IN_MODIFY | libc::IN_ATTRIB) != 0 {
        if let Some(&fd) = w.fds.first() {
            if let Ok(st) = super::fd::stat(fd) {
                if mask & libc::IN_MODIFY != 0 {
                    h |= NOTE_WRITE;
                    if st.st_size > w.size {
                        h |= NOTE_EXTEND;
                    }
                }
                if mask & libc::IN_ATTRIB != 0 {
                    if st.st_nlink < w.nlink {
                        h |= NOTE_DELETE;
                    } else if st.st_nlink > w.nlink {
                        h |= NOTE_LINK;
                    } else {
                        h |= NOTE_ATTRIB;
                    }
                }
                w.size = st.st_size;
                w.nlink = st.st_nlink;
            }
        }
    }
    if mask & libc::IN_DELETE_SELF != 0 {
        h |= NOTE_DELETE;
    }
    if mask & libc::IN_MOVE_SELF != 0 {
        h |= NOTE_RENAME;
    }
    if mask & libc::IN_UNMOUNT != 0 {
        h |= NOTE_REVOKE;
    }
    if mask & libc::IN_OPEN != 0 {
        h |= NOTE_OPEN;
    }
    if mask & libc::IN_ACCESS != 0 {
        h |= NOTE_READ;
    }
    if mask & libc::IN_CLOSE_NOWRITE != 0 {
        h |= NOTE_CLOSE;
    }
    if mask & libc::IN_CLOSE_WRITE != 0 {
        h |= NOTE_CLOSE_WRITE;
    }

    h
}

impl State {
    /// Reads every queued inotify event and turns it into knote activity.
    pub(super) fn read_inotify(&mut self) {
        let Some(ino) = self.inotify.as_mut() else {
            return;
        };
        let mut buf = [0u64; 1024]; // 8 KiB, aligned for inotify_event
        let mut hints: Vec<(i32, u32)> = Vec::new();
        loop {
            // SAFETY: `buf` is valid for writes of its size.
            let n = unsafe {
                libc::read(
                    ino.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    size_of_val(&buf),
                )
            };
            if n <= 0 {
                // EAGAIN: drained. Any other error leaves the rest for the next hint.
                break;
            }
            let bytes = n as usize;
            // SAFETY: the kernel wrote `bytes` bytes of whole inotify_event records.
            let raw = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), bytes) };
            let mut events: Vec<(i32, u32, u32, bool)> = Vec::new();
            let mut off = 0;
            while off + size_of::<libc::inotify_event>() <= bytes {
                // SAFETY: a whole header lies at `off`; read_unaligned needs no alignment.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(raw[off..].as_ptr().cast()) };
                events.push((ev.wd, ev.mask, ev.cookie, ev.len > 0));
                off += size_of::<libc::inotify_event>() + ev.len as usize;
            }
            for (i, &(wd, mask, cookie, named)) in events.iter().enumerate() {
                if mask & libc::IN_Q_OVERFLOW != 0 {
                    hints.push((-1, NOTE_WRITE | NOTE_ATTRIB));
                    continue;
                }
                let Some(w) = ino.watches.get_mut(&wd) else {
                    continue;
                };
                // A rename within one directory is a MOVED_FROM/MOVED_TO pair with one
                // cookie on the same watch.
                let paired = mask & (libc::IN_MOVED_FROM | libc::IN_MOVED_TO) != 0
                    && events.iter().enumerate().any(|(j, &(w2, m2, c2, _))| {
                        j != i
                            && w2 == wd
                            && c2 == cookie
                            && m2 & (libc::IN_MOVED_FROM | libc::IN_MOVED_TO) != 0
                    });
                let h = hint_for(w, mask, named, paired);
                if h != 0 {
                    hints.push((wd, h));
                }
                if mask & libc::IN_IGNORED != 0 {
                    ino.watches.remove(&wd);
                }
            }
        }
        for (wd, hint) in hints {
            let fds: Vec<usize> = if wd < 0 {
                self.fds
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.as_ref().is_some_and(|s| s.wd >= 0))
                    .map(|(i, _)| i)
                    .collect()
            } else {
                match self.inotify.as_ref().and_then(|i| i.watches.get(&wd)) {
                    Some(w) => w.fds.clone(),
                    None => self.fds_with_wd(wd),
                }
            };
            for fd in fds {
                self.vnode_hint(fd, hint);
            }
        }
    }

    fn fds_with_wd(&self, wd: i32) -> Vec<usize> {
        self.fds
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_ref().is_some_and(|s| s.wd == wd))
            .map(|(i, _)| i)
            .collect()
    }

    /// Delivers one hint to the VNODE knote and the READ knote of `fd`.
    fn vnode_hint(&mut self, fd: usize, hint: u32) {
        let Some(slot) = self.fds.get(fd).and_then(Option::as_ref) else {
            return;
        };
        let (vnode, read) = (slot.vnode, slot.read);
        if let Some(key) = vnode {
            let kn = &mut self.table.slab[key];
            if kn.sfflags & hint != 0 {
                kn.kev.fflags |= hint;
                self.table.activate(key);
            }
        }
        if let Some(key) = read {
            if hint & (NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_DELETE) != 0 {
                // The scan re-runs the READ filter (size − offset).
                self.table.activate(key);
            }
        }
    }
}
