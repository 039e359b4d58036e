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
//! `NOTE_WRITE | NOTE_ATTRIB | NOTE_KQ_OVERFLOW` (delivered if it asked for any of them),
//! so a watcher knows to rescan.
//!
//! # Path idents (kq's extension, see `crate::vnode_path`)
//!
//! [`Handle`]s are the vnodes opened by path: ident `PATH_BIT | n` (`n` counts up and is
//! never reused within the kqueue), one `inotify_add_watch(path)` and no descriptor. Their
//! knotes live in `Table::ids` under `(ident, EVFILT_VNODE)`, and a watch's `users` holds
//! fd numbers and path idents alike, so an inode watched both ways has one watch. Without a
//! descriptor, the link count and size behind `NOTE_DELETE`/`NOTE_LINK`/`NOTE_EXTEND` are read
//! with `stat(path)` when the path still names the watched inode; otherwise `IN_ATTRIB` is
//! `NOTE_ATTRIB` and `IN_MODIFY` is `NOTE_WRITE` (and `NOTE_DELETE` comes from
//! `IN_DELETE_SELF`, which inotify sends at once since kq holds the file open nowhere).
//!
//! A handle whose knote asked for `NOTE_KQ_CHILDREN` collects the named events of its
//! watch as `ChildEvent`s (at most `CHILD_QUEUE_MAX`; beyond, `lost` is set), and those
//! events hint its knote with `NOTE_KQ_CHILDREN`.
//!
//! # Invariants
//!
//! - A handle's ident is in `users` of the watch `wd` it was opened on until it is closed
//!   or the kernel drops the watch (`IN_IGNORED`, which removes the watch entry).
//! - A handle collects records (`children` is `Some`) exactly while its knote exists and
//!   asks for `NOTE_KQ_CHILDREN`.

use super::abi::*;
use super::knote::{DISABLED, Knote, Source};
use super::selector::{Inner, Selector, State, TOKEN_INOTIFY, epoll_add, errno};
use super::syscall;
use crate::vnode_path::{
    CHILD_QUEUE_MAX, ChildEvent, ChildOp, NOTE_KQ_CHILDREN, NOTE_KQ_OVERFLOW, VnodeChildren,
};
use std::collections::{HashMap, VecDeque};
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Set in every path ident; never set in a descriptor number.
pub(super) const PATH_BIT: usize = 1 << (usize::BITS - 1);

/// Whether `ident` names a path-opened vnode rather than a descriptor.
pub(super) fn is_path(ident: usize) -> bool {
    ident & PATH_BIT != 0
}

/// The kqueue's inotify instance.
#[derive(Debug)]
pub(super) struct Inotify {
    pub(super) fd: OwnedFd,
    watches: HashMap<i32, Watch>,
    /// The path idents (see the module docs).
    handles: HashMap<usize, Handle>,
    /// The next path ident's number.
    next_handle: usize,
    /// Numbers child records (`ChildEvent::seq`).
    next_seq: u64,
}

#[derive(Debug)]
struct Watch {
    /// The fd numbers and path idents whose knotes use this watch.
    users: Vec<usize>,
    nlink: u64,
    size: i64,
    dir: bool,
}

/// A vnode opened by path.
#[derive(Debug)]
struct Handle {
    wd: i32,
    path: CString,
    dev: u64,
    ino: u64,
    /// The child records waiting, while the knote asks for them.
    children: Option<VecDeque<ChildEvent>>,
    /// Records were lost since the last `take_children`.
    lost: bool,
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

/// `stat(2)` of a path.
fn stat_path(path: &CString) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` is valid for writes.
    syscall!(stat(path.as_ptr(), &mut st))?;
    Ok(st)
}

impl Inotify {
    pub(super) fn new() -> io::Result<Inotify> {
        let fd = syscall!(inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK))?;
        // SAFETY: the kernel just returned this descriptor; nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Inotify {
            fd,
            watches: HashMap::new(),
            handles: HashMap::new(),
            next_handle: 0,
            next_seq: 0,
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
        self.add_user(wd, fd, st);
        Ok(wd)
    }

    fn add_user(&mut self, wd: i32, user: usize, st: &libc::stat) {
        let w = self.watches.entry(wd).or_insert_with(|| Watch {
            users: Vec::new(),
            nlink: st.st_nlink,
            size: st.st_size,
            dir: st.st_mode & libc::S_IFMT == libc::S_IFDIR,
        });
        if !w.users.contains(&user) {
            w.users.push(user);
        }
    }

    /// Adds the inotify events a modified knote now asks for to the watch of `ident` (a
    /// descriptor or a path ident).
    pub(super) fn extend(&self, ident: usize, sfflags: u32) -> io::Result<()> {
        let fd_path;
        let path = if is_path(ident) {
            match self.handles.get(&ident) {
                Some(h) => h.path.as_bytes_with_nul(),
                None => return Ok(()),
            }
        } else {
            fd_path = format!("/proc/self/fd/{ident}\0");
            fd_path.as_bytes()
        };
        syscall!(inotify_add_watch(
            self.fd.as_raw_fd(),
            path.as_ptr().cast(),
            mask_for(sfflags) | libc::IN_MASK_ADD
        ))
        .map(drop)
    }

    /// Stops using watch `wd` for `user`; removes the watch when nobody uses it.
    pub(super) fn unwatch(&mut self, wd: i32, user: usize) {
        if let Some(w) = self.watches.get_mut(&wd) {
            w.users.retain(|f| *f != user);
            if w.users.is_empty() {
                self.watches.remove(&wd);
                // SAFETY: removing a watch of our own instance; EINVAL (already gone, e.g.
                // after IN_IGNORED) is harmless and ignored.
                unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
            }
        }
    }

    /// Opens a path ident on the inode `path` names now.
    fn open_path(&mut self, path: CString) -> io::Result<usize> {
        let fresh_wd = |wd: i32, me: &Inotify| !me.watches.contains_key(&wd);
        let wd = syscall!(inotify_add_watch(
            self.fd.as_raw_fd(),
            path.as_ptr(),
            BASE | libc::IN_MASK_ADD
        ))?;
        let fresh = fresh_wd(wd, self);
        // The identity is taken after the watch exists: a file replaced in between is a file
        // whose replacement the watch may not see, but never an identity without a watch.
        let st = match stat_path(&path) {
            Ok(st) => st,
            Err(e) => {
                if fresh {
                    // SAFETY: removing the watch just added to our own instance.
                    unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
                }
                return Err(e);
            }
        };
        self.next_handle += 1;
        let ident = PATH_BIT | (self.next_handle & !PATH_BIT);
        self.add_user(wd, ident, &st);
        self.handles.insert(
            ident,
            Handle {
                wd,
                path,
                dev: st.st_dev,
                ino: st.st_ino,
                children: None,
                lost: false,
            },
        );
        Ok(ident)
    }

    /// Releases a path ident (its knote is already gone).
    fn close_path(&mut self, ident: usize) -> io::Result<()> {
        let h = self
            .handles
            .remove(&ident)
            .ok_or_else(|| errno(libc::EBADF))?;
        self.unwatch(h.wd, ident);
        Ok(())
    }

    /// Starts or stops collecting child records for a path ident. Returns whether records
    /// are waiting.
    pub(super) fn set_children(&mut self, ident: usize, on: bool) -> bool {
        let Some(h) = self.handles.get_mut(&ident) else {
            return false;
        };
        match (on, h.children.is_some()) {
            (true, false) => h.children = Some(VecDeque::new()),
            (false, true) => {
                h.children = None;
                h.lost = false;
            }
            _ => {}
        }
        h.lost || h.children.as_ref().is_some_and(|q| !q.is_empty())
    }

    /// The kernel's count of watches on this instance (`/proc/self/fdinfo`).
    fn kernel_watches(&self) -> io::Result<usize> {
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", self.fd.as_raw_fd()))?;
        Ok(info
            .lines()
            .filter(|l| l.starts_with("inotify wd:"))
            .count())
    }

    /// The link count and size of a watch's file now, if one of its users can tell.
    fn stat_watch(&self, w: &Watch) -> Option<libc::stat> {
        for &user in &w.users {
            if !is_path(user) {
                if let Ok(st) = super::fd::stat(user) {
                    return Some(st);
                }
            } else if let Some(h) = self.handles.get(&user) {
                match stat_path(&h.path) {
                    Ok(st) if st.st_dev == h.dev && st.st_ino == h.ino => return Some(st),
                    _ => {}
                }
            }
        }
        None
    }
}

/// The child operation of a named inotify event, if it is one kq records.
fn child_op(mask: u32) -> Option<ChildOp> {
    if mask & libc::IN_CREATE != 0 {
        Some(ChildOp::Create)
    } else if mask & libc::IN_DELETE != 0 {
        Some(ChildOp::Delete)
    } else if mask & libc::IN_MOVED_FROM != 0 {
        Some(ChildOp::MovedFrom)
    } else if mask & libc::IN_MOVED_TO != 0 {
        Some(ChildOp::MovedTo)
    } else if mask & libc::IN_MODIFY != 0 {
        Some(ChildOp::Modify)
    } else if mask & libc::IN_ATTRIB != 0 {
        Some(ChildOp::Attrib)
    } else {
        None
    }
}

/// The hint for one inotify event on a watch (0 if the event means nothing to kq).
///
/// A record with a name is about an entry of a watched directory: only entries created,
/// deleted or moved count (the directory changed); the activity of a file inside it does not.
/// `st` is the watched file's status now, when it could be read.
fn hint_for(
    w: &mut Watch,
    mask: u32,
    named: bool,
    paired_move: bool,
    st: Option<libc::stat>,
) -> u32 {
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
        match st {
            Some(st) => {
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
            None if w.users.iter().any(|&u| is_path(u)) => {
                // A path ident whose path no longer names the file (renamed or unlinked):
                // what changed cannot be told apart; report the event as it came.
                if mask & libc::IN_MODIFY != 0 {
                    h |= NOTE_WRITE;
                }
                if mask & libc::IN_ATTRIB != 0 {
                    h |= NOTE_ATTRIB;
                }
            }
            None => {}
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

/// One hint to deliver: to every user of watch `wd` (every vnode knote when `wd` is -1),
/// with `child` added for the path idents collecting child records.
struct Hint {
    wd: i32,
    hint: u32,
    child: u32,
}

/// One parsed inotify record.
struct Raw<'a> {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Option<&'a [u8]>,
}

impl State {
    /// Creates the kqueue's inotify instance if it has none yet.
    pub(super) fn ensure_inotify(&mut self, sel: &Inner) -> io::Result<()> {
        if self.inotify.is_none() {
            let ino = Inotify::new()?;
            epoll_add(
                sel.epfd.as_raw_fd(),
                ino.fd.as_raw_fd(),
                libc::EPOLLIN as u32,
                TOKEN_INOTIFY,
            )?;
            self.inotify = Some(ino);
        }
        Ok(())
    }

    /// Reads every queued inotify event and turns it into knote activity.
    pub(super) fn read_inotify(&mut self) {
        let Some(ino) = self.inotify.as_mut() else {
            return;
        };
        let mut buf = [0u64; 1024]; // 8 KiB, aligned for inotify_event
        let mut hints: Vec<Hint> = Vec::new();
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
            // A read leaving room for the largest record took every record queued then: no
            // second read to learn EAGAIN. (The descriptor is level-triggered in epoll, so a
            // record queued since is reported again.)
            let largest = size_of::<libc::inotify_event>() + libc::NAME_MAX as usize + 1;
            let drained = bytes + largest <= size_of_val(&buf);
            // SAFETY: the kernel wrote `bytes` bytes of whole inotify_event records.
            let raw = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), bytes) };
            let mut events: Vec<Raw<'_>> = Vec::new();
            let mut off = 0;
            let header = size_of::<libc::inotify_event>();
            while off + header <= bytes {
                // SAFETY: a whole header lies at `off`; read_unaligned needs no alignment.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(raw[off..].as_ptr().cast()) };
                let end = (off + header + ev.len as usize).min(bytes);
                let name = (ev.len > 0).then(|| {
                    let padded = &raw[off + header..end];
                    // The name is NUL-terminated and padded with NULs.
                    let len = padded.iter().position(|&b| b == 0).unwrap_or(padded.len());
                    &padded[..len]
                });
                events.push(Raw {
                    wd: ev.wd,
                    mask: ev.mask,
                    cookie: ev.cookie,
                    name,
                });
                off = end;
            }
            for (i, ev) in events.iter().enumerate() {
                if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                    for h in ino.handles.values_mut() {
                        if h.children.is_some() {
                            h.lost = true;
                        }
                    }
                    hints.push(Hint {
                        wd: -1,
                        hint: NOTE_WRITE | NOTE_ATTRIB | NOTE_KQ_OVERFLOW,
                        child: NOTE_KQ_CHILDREN,
                    });
                    continue;
                }
                let named = ev.name.is_some();
                let st = match ino.watches.get(&ev.wd) {
                    Some(w) if !named && ev.mask & (libc::IN_MODIFY | libc::IN_ATTRIB) != 0 => {
                        ino.stat_watch(w)
                    }
                    Some(_) => None,
                    None => continue,
                };
                let Some(w) = ino.watches.get_mut(&ev.wd) else {
                    continue;
                };
                // A rename within one directory is a MOVED_FROM/MOVED_TO pair with one
                // cookie on the same watch.
                let moves = libc::IN_MOVED_FROM | libc::IN_MOVED_TO;
                let paired = ev.mask & moves != 0
                    && events.iter().enumerate().any(|(j, o)| {
                        j != i && o.wd == ev.wd && o.cookie == ev.cookie && o.mask & moves != 0
                    });
                let h = hint_for(w, ev.mask, named, paired, st);
                let mut child = 0;
                if let (Some(name), Some(op)) = (ev.name, child_op(ev.mask)) {
                    for user in &w.users {
                        let Some(handle) = ino.handles.get_mut(user) else {
                            continue;
                        };
                        let Some(q) = handle.children.as_mut() else {
                            continue;
                        };
                        child = NOTE_KQ_CHILDREN;
                        if q.len() >= CHILD_QUEUE_MAX {
                            handle.lost = true;
                            child |= NOTE_KQ_OVERFLOW;
                            continue;
                        }
                        ino.next_seq += 1;
                        q.push_back(ChildEvent {
                            name: OsStr::from_bytes(name).to_os_string(),
                            op,
                            cookie: if matches!(op, ChildOp::MovedFrom | ChildOp::MovedTo) {
                                ev.cookie
                            } else {
                                0
                            },
                            is_dir: ev.mask & libc::IN_ISDIR != 0,
                            seq: ino.next_seq,
                        });
                    }
                }
                if h != 0 || child != 0 {
                    hints.push(Hint {
                        wd: ev.wd,
                        hint: h,
                        child,
                    });
                }
                if ev.mask & libc::IN_IGNORED != 0 {
                    ino.watches.remove(&ev.wd);
                }
            }
            if drained {
                break;
            }
        }
        for Hint { wd, hint, child } in hints {
            let users: Vec<usize> = if wd < 0 {
                let ino = self.inotify.as_ref();
                self.fds
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.as_ref().is_some_and(|s| s.wd >= 0))
                    .map(|(i, _)| i)
                    .chain(ino.into_iter().flat_map(|i| i.handles.keys().copied()))
                    .collect()
            } else {
                match self.inotify.as_ref().and_then(|i| i.watches.get(&wd)) {
                    Some(w) => w.users.clone(),
                    None => self.users_of_wd(wd),
                }
            };
            for user in users {
                if is_path(user) {
                    self.path_hint(user, hint, child);
                } else {
                    self.vnode_hint(user, hint);
                }
            }
        }
    }

    /// The fds and path idents that used watch `wd` (after the kernel dropped it).
    fn users_of_wd(&self, wd: i32) -> Vec<usize> {
        let fds = self
            .fds
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_ref().is_some_and(|s| s.wd == wd))
            .map(|(i, _)| i);
        let handles = self
            .inotify
            .iter()
            .flat_map(|i| i.handles.iter())
            .filter(|(_, h)| h.wd == wd)
            .map(|(&ident, _)| ident);
        fds.chain(handles).collect()
    }

    /// Delivers one hint to the VNODE knote and the READ knote of `fd`.
    fn vnode_hint(&mut self, fd: usize, hint: u32) {
        if hint == 0 {
            return;
        }
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

    /// Delivers one hint to the VNODE knote of a path ident (`child` if it collects child
    /// records).
    fn path_hint(&mut self, ident: usize, hint: u32, child: u32) {
        let collects = self
            .inotify
            .as_ref()
            .and_then(|i| i.handles.get(&ident))
            .is_some_and(|h| h.children.is_some());
        let hint = if collects { hint | child } else { hint };
        let Some(&key) = self.table.ids.get(&(ident, EVFILT_VNODE)) else {
            return;
        };
        let kn = &mut self.table.slab[key];
        if hint != 0 && kn.sfflags & hint != 0 {
            kn.kev.fflags |= hint;
            self.table.activate(key);
        }
    }

    /// A change naming a path ident: attach, modify or delete its VNODE knote.
    pub(super) fn register_path(&mut self, sel: &Inner, c: &Kevent) -> io::Result<()> {
        let open = self
            .inotify
            .as_ref()
            .is_some_and(|i| i.handles.contains_key(&c.ident));
        if !open {
            return Err(errno(libc::EBADF));
        }
        if let Some(&key) = self.table.ids.get(&(c.ident, EVFILT_VNODE)) {
            self.modify(sel, key, c)?;
            if c.flags & EV_DELETE == 0 {
                self.sync_children(c.ident);
            }
            return Ok(());
        }
        if c.flags & EV_ADD == 0 {
            return Err(errno(libc::ENOENT));
        }
        if c.fflags & !(NOTE_KQ_CHILDREN) != 0 {
            if let Some(ino) = self.inotify.as_ref() {
                ino.extend(c.ident, c.fflags)?;
            }
        }
        let generation = self.table.next_gen();
        let mut kn = Knote::new(super::register::stored(c), generation, Source::Vnode);
        kn.sfflags = c.fflags;
        kn.sdata = c.data;
        kn.kev.fflags = 0;
        kn.kev.data = 0;
        if c.flags & EV_DISABLE != 0 {
            kn.status |= DISABLED;
        }
        let key = self.table.slab.insert(kn);
        self.table.ids.insert((c.ident, EVFILT_VNODE), key);
        self.sync_children(c.ident);
        Ok(())
    }

    /// Makes a path ident collect child records exactly when its knote asks for them; a
    /// knote that asks while records wait (re-added) fires at once.
    fn sync_children(&mut self, ident: usize) {
        let key = self.table.ids.get(&(ident, EVFILT_VNODE)).copied();
        let wants = key.is_some_and(|k| self.table.slab[k].sfflags & NOTE_KQ_CHILDREN != 0);
        let Some(ino) = self.inotify.as_mut() else {
            return;
        };
        if ino.set_children(ident, wants) {
            if let Some(key) = key {
                self.table.slab[key].kev.fflags |= NOTE_KQ_CHILDREN;
                self.table.activate(key);
            }
        }
    }

    /// A path ident's knote was removed: it stops collecting child records.
    pub(super) fn path_knote_removed(&mut self, ident: usize) {
        self.table.ids.remove(&(ident, EVFILT_VNODE));
        if let Some(ino) = self.inotify.as_mut() {
            ino.set_children(ident, false);
        }
    }
}

impl Selector {
    /// See [`Kqueue::vnode_open`](crate::Kqueue::vnode_open).
    pub(crate) fn vnode_open(&self, path: &Path) -> io::Result<usize> {
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
        let inner = self.inner();
        let mut st = inner.lock_checked()?;
        st.ensure_inotify(inner)?;
        match st.inotify.as_mut() {
            Some(ino) => ino.open_path(path),
            None => Err(errno(libc::EBADF)),
        }
    }

    /// See [`Kqueue::vnode_close`](crate::Kqueue::vnode_close).
    pub(crate) fn vnode_close(&self, ident: usize) -> io::Result<()> {
        let inner = self.inner();
        let mut st = inner.lock_checked()?;
        let open = st
            .inotify
            .as_ref()
            .is_some_and(|i| i.handles.contains_key(&ident));
        if !is_path(ident) || !open {
            return Err(errno(libc::EBADF));
        }
        if let Some(&key) = st.table.ids.get(&(ident, EVFILT_VNODE)) {
            st.remove(key);
        }
        let res = match st.inotify.as_mut() {
            Some(ino) => ino.close_path(ident),
            None => Err(errno(libc::EBADF)),
        };
        inner.finish(&mut st);
        res
    }

    /// See [`Kqueue::vnode_children`](crate::Kqueue::vnode_children).
    pub(crate) fn vnode_children(&self, ident: usize) -> io::Result<VnodeChildren> {
        let inner = self.inner();
        let mut st = inner.lock_checked()?;
        let h = st
            .inotify
            .as_mut()
            .and_then(|i| i.handles.get_mut(&ident))
            .ok_or_else(|| errno(libc::EBADF))?;
        let events = h
            .children
            .as_mut()
            .map(|q| q.drain(..).collect())
            .unwrap_or_default();
        let lost = std::mem::take(&mut h.lost);
        Ok(VnodeChildren { events, lost })
    }

    /// See [`Kqueue::vnode_watches`](crate::Kqueue::vnode_watches).
    pub(crate) fn vnode_watches(&self) -> io::Result<usize> {
        let st = self.inner().lock_checked()?;
        match st.inotify.as_ref() {
            Some(ino) => ino.kernel_watches(),
            None => Ok(0),
        }
    }
}
