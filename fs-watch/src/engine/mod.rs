//! The watcher's state machine, without any async code: the known tree, turning the core's
//! vnode events and child records into [`Event`]s, scans of new directories, rename
//! pairing, and the self-healing re-scan.
//!
//! # How events are found
//!
//! Every watched directory is a path ident of the watcher's private [`Kqueue`]
//! ([`Kqueue::vnode_open`]: an inotify watch on Linux, no descriptor) with one
//! `EV_CLEAR` knote asking for [`NOTE_KQ_CHILDREN`]. Each [`Engine::process`] call takes the
//! child records of every directory that fired, sorts them by their kqueue-wide `seq`
//! (so records of several directories are handled in the order they happened), and applies
//! them to the known tree, emitting events.
//!
//! Records are applied in `records.rs`; the re-scan after lost records is `rescan.rs`.
//!
//! # Invariants
//!
//! - `dirs` and `by_path` name the same directories: `by_path[dirs[i].path] == i`; every
//!   ident in `dirs` is open in the kqueue with its knote, and is closed when its directory
//!   leaves the tree (removed, renamed out, root unwatched).
//! - A directory is watched *before* it is read, so an entry created meanwhile is either in
//!   the listing or reported by a record later; a record for an entry already known is a
//!   duplicate and dropped (`Create`), and so is one for an entry not known (`Delete`).
//! - A rename's `MovedFrom` waits in `moves` for its `MovedTo` (same cookie); one still
//!   unpaired after `MOVE_WAIT` (the watcher's runtime timer, see `Watcher::poll_output`)
//!   was a rename out of the tree.
//! - A record that names a directory no longer in `dirs` (closed earlier in the same
//!   batch) is ignored.

use crate::event::{EntryKind, Event, EventKind, ModifyKind};
use crate::filter::{Filter, Rules};
use kq_reactor::{
    ChildEvent, EV_ADD, EV_CLEAR, EVFILT_VNODE, Kevent, Kqueue, NOTE_ATTRIB, NOTE_DELETE,
    NOTE_KQ_CHILDREN, NOTE_KQ_OVERFLOW, NOTE_RENAME, NOTE_REVOKE, NOTE_WRITE,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::ptr;

mod records;
mod rescan;

/// The notes every directory knote asks for.
const DIR_NOTES: u32 = NOTE_WRITE | NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE | NOTE_KQ_CHILDREN;
/// The notes a watched file (a root that is not a directory) asks for.
const FILE_NOTES: u32 = NOTE_WRITE | NOTE_ATTRIB | NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE;
/// How long a rename's first half waits for its second before it counts as a rename out
/// of (or into) the tree.
pub(crate) const MOVE_WAIT: std::time::Duration = std::time::Duration::from_millis(10);

/// Whether a root is watched with its subdirectories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecursiveMode {
    /// The root and every directory below it, including ones created later.
    Recursive,
    /// The root's own entries only.
    NonRecursive,
}

/// An event with what the debouncer needs to know beyond it.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) event: io::Result<Event>,
    /// A `Rename` whose target replaced an entry that existed (an atomic save).
    pub(crate) replaced: bool,
}

/// An entry as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    kind: EntryKind,
    ino: u64,
    /// `(size, mtime seconds, mtime nanoseconds)`; `None` when not read (a listing gives no
    /// size or time) or after a write.
    meta: Option<(u64, i64, i64)>,
}

impl Entry {
    /// An entry as a directory listing gives it: kind and inode, no `stat` (the listing's
    /// `d_type` and `d_ino`; std falls back to `lstat` where the filesystem gives no type).
    fn listed(ent: &fs::DirEntry) -> Option<Entry> {
        use std::os::unix::fs::DirEntryExt;
        let ft = ent.file_type().ok()?;
        let kind = EntryKind::of(ft);
        Some(Entry {
            kind,
            ino: ent.ino(),
            meta: None,
        })
    }

    fn of(md: &fs::Metadata) -> Entry {
        let ft = md.file_type();
        let kind = EntryKind::of(ft);
        Entry {
            kind,
            ino: md.ino(),
            meta: Some((md.size(), md.mtime(), md.mtime_nsec())),
        }
    }
}

#[derive(Debug)]
struct Dir {
    path: PathBuf,
    root: usize,
    entries: HashMap<OsString, Entry>,
    /// When the directory was last read in full (`(seconds, nanoseconds)` since the epoch):
    /// an entry whose `meta` is unknown changed since if its mtime is later.
    read_at: (i64, i64),
}

/// The time now, as a file timestamp `(seconds, nanoseconds)`.
fn now_stamp() -> (i64, i64) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, i64::from(d.subsec_nanos()))
}

#[derive(Debug)]
struct Root {
    path: PathBuf,
    mode: RecursiveMode,
    /// The ident of the root itself (a directory in `dirs`, or a watched file).
    ident: usize,
    is_dir: bool,
}

#[derive(Debug)]
struct PendingMove {
    from: PathBuf,
    entry: Entry,
    /// The directory ident it left (to drop its subtree if it never arrives).
    root: usize,
}

/// The watcher's state (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Engine {
    roots: HashMap<usize, Root>,
    next_root: usize,
    dirs: HashMap<usize, Dir>,
    by_path: BTreeMap<PathBuf, usize>,
    /// Watched files (roots that are not directories) by ident: their root id.
    files: HashMap<usize, usize>,
    moves: HashMap<u32, PendingMove>,
    rules: Rules,
    pub(crate) out: VecDeque<Output>,
}

fn kev(ident: usize, filter: i16, flags: u16, fflags: u32, data: isize) -> Kevent {
    Kevent::new(ident, filter, flags, fflags, data as _, ptr::null_mut())
}

/// The error for a directory that could not be watched, naming the limit to raise. It
/// keeps the OS error number (see [`WatchFailure`]).
pub(crate) fn watch_error(e: io::Error, path: &Path) -> io::Error {
    let errno = e.raw_os_error();
    let message = match errno {
        Some(libc::ENOSPC) => format!(
            "cannot watch {}: the inotify watch limit is reached; raise \
             fs.inotify.max_user_watches (sysctl -w fs.inotify.max_user_watches=N)",
            path.display()
        ),
        Some(libc::EMFILE) | Some(libc::ENFILE) => format!(
            "cannot watch {}: out of file descriptors (on BSD and macOS each watched \
             directory holds one)",
            path.display()
        ),
        _ => format!("cannot watch {}: {e}", path.display()),
    };
    io::Error::new(e.kind(), WatchFailure { errno, message })
}

/// The inner error of [`watch_error`]: its message, and the OS error behind it.
#[derive(Debug)]
pub(crate) struct WatchFailure {
    pub(crate) errno: Option<i32>,
    message: String,
}

impl std::fmt::Display for WatchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WatchFailure {}

impl Engine {
    pub(crate) fn new(filter: Filter) -> Engine {
        Engine {
            rules: Rules::new(filter),
            ..Engine::default()
        }
    }

    /// The root `path` is under (the longest such root).
    fn root_of(&self, path: &Path) -> Option<&Path> {
        self.roots
            .values()
            .map(|r| r.path.as_path())
            .filter(|r| path.starts_with(r))
            .max_by_key(|r| r.as_os_str().len())
    }

    /// Whether the filter ignores `path` (of root `root`).
    fn ignored(&self, root: usize, path: &Path, is_dir: bool) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        self.roots
            .get(&root)
            .is_some_and(|r| self.rules.ignored(&r.path, path, is_dir))
    }

    fn emit(&mut self, kind: EventKind, path: PathBuf) {
        if !self.rules.is_empty() {
            let is_dir = match &kind {
                EventKind::Create(k) | EventKind::Remove(k) => *k == EntryKind::Dir,
                EventKind::Rescan { .. } => true,
                _ => self.by_path.contains_key(&path),
            };
            let reported = self
                .root_of(&path)
                .is_none_or(|root| self.rules.reported(root, &path, is_dir));
            if !reported {
                return;
            }
        }
        self.out.push_back(Output {
            event: Ok(Event::new(kind, path)),
            replaced: false,
        });
    }

    fn emit_err(&mut self, e: io::Error) {
        self.out.push_back(Output {
            event: Err(e),
            replaced: false,
        });
    }

    /// Starts watching `path` (see [`Watcher::watch`](crate::Watcher::watch)).
    pub(crate) fn watch(
        &mut self,
        kq: &Kqueue,
        path: &Path,
        mode: RecursiveMode,
    ) -> io::Result<()> {
        let md = fs::metadata(path)?;
        let path = path.to_path_buf();
        if self.roots.values().any(|r| r.path == path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is already watched", path.display()),
            ));
        }
        let id = self.next_root;
        self.next_root += 1;
        if md.is_dir() {
            // Registered first: the scan consults the root's mode and filter.
            self.roots.insert(
                id,
                Root {
                    path: path.clone(),
                    mode,
                    ident: 0,
                    is_dir: true,
                },
            );
            // Nothing is emitted for what is there already.
            match self.add_dir(kq, path, id, mode, false) {
                Ok(ident) => {
                    if let Some(r) = self.roots.get_mut(&id) {
                        r.ident = ident;
                    }
                }
                Err(e) => {
                    self.roots.remove(&id);
                    return Err(e);
                }
            }
        } else {
            let ident = kq.vnode_open(&path).map_err(|e| watch_error(e, &path))?;
            if let Err(e) = kq.kevent(
                &[kev(ident, EVFILT_VNODE, EV_ADD | EV_CLEAR, FILE_NOTES, 0)],
                &mut [],
                None,
            ) {
                let _ = kq.vnode_close(ident);
                return Err(e);
            }
            self.files.insert(ident, id);
            self.roots.insert(
                id,
                Root {
                    path,
                    mode,
                    ident,
                    is_dir: false,
                },
            );
        }
        Ok(())
    }

    /// Stops watching the root `path`.
    pub(crate) fn unwatch(&mut self, kq: &Kqueue, path: &Path) -> io::Result<()> {
        let id = self
            .roots
            .iter()
            .find(|(_, r)| r.path == path)
            .map(|(&id, _)| id)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} is not a watched root", path.display()),
                )
            })?;
        self.drop_root(kq, id);
        Ok(())
    }

    fn drop_root(&mut self, kq: &Kqueue, id: usize) {
        let Some(root) = self.roots.remove(&id) else {
            return;
        };
        if root.is_dir {
            self.close_subtree(kq, &root.path, Some(id));
        } else {
            self.files.remove(&root.ident);
            // The ident is ours and open; closing cannot fail otherwise.
            let _ = kq.vnode_close(root.ident);
        }
        self.moves.retain(|_, m| m.root != id);
    }

    /// Whether `path` is a root.
    pub(crate) fn is_root(&self, path: &Path) -> bool {
        self.roots.values().any(|r| r.path == path)
    }

    /// The number of watched directories and files.
    pub(crate) fn watched(&self) -> usize {
        self.dirs.len() + self.files.len()
    }

    /// Watches directory `path` of root `root`, then reads it (and, for a recursive root,
    /// its subdirectories the same way), emitting `Create` for what it finds if `emit`.
    /// Returns the ident of `path`.
    fn add_dir(
        &mut self,
        kq: &Kqueue,
        path: PathBuf,
        root: usize,
        mode: RecursiveMode,
        emit: bool,
    ) -> io::Result<usize> {
        let top = self.open_dir(kq, &path, root)?;
        let top_path = path.clone();
        let mut work = vec![(top, path)];
        while let Some((ident, dir)) = work.pop() {
            if let Some(d) = self.dirs.get_mut(&ident) {
                d.read_at = now_stamp();
            }
            let Ok(rd) = fs::read_dir(&dir) else {
                // Removed meanwhile: its parent's record says so.
                continue;
            };
            self.rules.load_gitignore(&dir);
            let mut found: Vec<(OsString, Entry)> = rd
                .flatten()
                .filter_map(|ent| Some((ent.file_name(), Entry::listed(&ent)?)))
                .collect();
            if !self.rules.is_empty() {
                found.retain(|(name, e)| {
                    !self.ignored(root, &dir.join(name), e.kind == EntryKind::Dir)
                });
            }
            let Some(d) = self.dirs.get_mut(&ident) else {
                continue;
            };
            // The entries to report or descend into (a name known already was reported by
            // a record).
            let mut new = Vec::new();
            d.entries.reserve(found.len());
            for (name, entry) in found {
                if let std::collections::hash_map::Entry::Vacant(v) = d.entries.entry(name) {
                    if emit || entry.kind == EntryKind::Dir {
                        new.push((v.key().clone(), entry.kind));
                    }
                    v.insert(entry);
                }
            }
            for (name, kind) in new {
                let child = dir.join(&name);
                if emit {
                    self.emit(EventKind::Create(kind), child.clone());
                }
                if kind == EntryKind::Dir && mode == RecursiveMode::Recursive {
                    match self.open_dir(kq, &child, root) {
                        Ok(sub) => work.push((sub, child)),
                        // Removed meanwhile, or not ours to read: not watched.
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                            ) => {}
                        Err(e) if !emit => {
                            // A new root is watched in full or not at all.
                            self.close_subtree(kq, &top_path, None);
                            return Err(e);
                        }
                        Err(e) => self.emit_err(e),
                    }
                }
            }
        }
        Ok(top)
    }

    /// Opens one directory's ident and knote and enters it into the tree (empty).
    fn open_dir(&mut self, kq: &Kqueue, path: &Path, root: usize) -> io::Result<usize> {
        if let Some(&ident) = self.by_path.get(path) {
            return Ok(ident);
        }
        let ident = kq.vnode_open(path).map_err(|e| watch_error(e, path))?;
        if let Err(e) = kq.kevent(
            &[kev(ident, EVFILT_VNODE, EV_ADD | EV_CLEAR, DIR_NOTES, 0)],
            &mut [],
            None,
        ) {
            let _ = kq.vnode_close(ident);
            return Err(e);
        }
        self.dirs.insert(
            ident,
            Dir {
                path: path.to_path_buf(),
                root,
                entries: HashMap::new(),
                read_at: now_stamp(),
            },
        );
        self.by_path.insert(path.to_path_buf(), ident);
        Ok(ident)
    }

    /// The watched directories at or below `path` (of root `root` if given).
    fn subtree(&self, path: &Path) -> Vec<(PathBuf, usize)> {
        self.by_path
            .range(path.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(path))
            .map(|(p, &i)| (p.clone(), i))
            .collect()
    }

    /// Stops watching every directory at or below `path` (of root `root`, if given).
    fn close_subtree(&mut self, kq: &Kqueue, path: &Path, root: Option<usize>) {
        for (p, ident) in self.subtree(path) {
            if root.is_some_and(|r| self.dirs.get(&ident).is_some_and(|d| d.root != r)) {
                continue;
            }
            self.by_path.remove(&p);
            self.dirs.remove(&ident);
            self.rules.forget(&p);
            // Our own open ident: closing cannot fail.
            let _ = kq.vnode_close(ident);
        }
    }

    /// Renames the watched directories at or below `from` to below `to` (the kernel's
    /// watches follow the inodes; only the paths change), moving them to root `root`.
    fn move_subtree(&mut self, from: &Path, to: &Path, root: usize) {
        for (p, ident) in self.subtree(from) {
            let Ok(rest) = p.strip_prefix(from) else {
                continue;
            };
            let new = if rest.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rest)
            };
            self.by_path.remove(&p);
            self.by_path.insert(new.clone(), ident);
            if let Some(d) = self.dirs.get_mut(&ident) {
                d.path = new;
                d.root = root;
            }
        }
    }

    /// Whether a rename's first half waits for its second (see [`MOVE_WAIT`]).
    pub(crate) fn moves_pending(&self) -> bool {
        !self.moves.is_empty()
    }

    fn mode_of(&self, root: usize) -> RecursiveMode {
        self.roots
            .get(&root)
            .map_or(RecursiveMode::NonRecursive, |r| r.mode)
    }

    /// Takes every pending event of the kqueue (without waiting) and turns it into output.
    /// Returns whether the kqueue had anything.
    pub(crate) fn process(&mut self, kq: &Kqueue) -> io::Result<bool> {
        let mut evs = [kev(0, 0, 0, 0, 0); 256];
        let n = kq.kevent(&[], &mut evs, Some(std::time::Duration::ZERO))?;
        if n == 0 {
            return Ok(false);
        }
        let mut records: Vec<(usize, ChildEvent)> = Vec::new();
        let mut rescan_dirs: Vec<usize> = Vec::new();
        let mut rescan_roots: Vec<usize> = Vec::new();
        let mut gone_roots: Vec<(usize, u32)> = Vec::new();
        for ev in &evs[..n] {
            let ident = ev.ident;
            if let Some(&root) = self.files.get(&ident) {
                self.file_event(root, ev.fflags, &mut gone_roots);
                continue;
            }
            let Some(dir) = self.dirs.get(&ident) else {
                continue; // Closed earlier.
            };
            let root = dir.root;
            let is_root = self.roots.get(&root).is_some_and(|r| r.ident == ident);
            let Ok(children) = kq.vnode_children(ident) else {
                continue; // Not open: cannot happen for an ident in `dirs`.
            };
            records.extend(children.events.into_iter().map(|c| (ident, c)));
            if children.lost {
                rescan_dirs.push(ident);
                if ev.fflags & NOTE_KQ_OVERFLOW != 0 && !rescan_roots.contains(&root) {
                    rescan_roots.push(root);
                }
            }
            if is_root && ev.fflags & (NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE) != 0 {
                gone_roots.push((root, ev.fflags));
            }
        }
        for root in rescan_roots {
            if let Some(r) = self.roots.get(&root) {
                let path = r.path.clone();
                self.emit(EventKind::Rescan { root: path.clone() }, path);
            }
        }
        records.sort_by_key(|(_, c)| c.seq);
        for (ident, rec) in records {
            self.apply(kq, ident, rec);
        }
        for ident in rescan_dirs {
            self.rescan_dir(kq, ident);
        }
        for (root, fflags) in gone_roots {
            self.root_gone(kq, root, fflags);
        }
        Ok(true)
    }

    /// An event of a watched file that is a root.
    fn file_event(&mut self, root: usize, fflags: u32, gone: &mut Vec<(usize, u32)>) {
        let Some(r) = self.roots.get(&root) else {
            return;
        };
        let path = r.path.clone();
        if fflags & NOTE_WRITE != 0 {
            self.emit(EventKind::Modify(ModifyKind::Data), path.clone());
        }
        if fflags & NOTE_ATTRIB != 0 {
            self.emit(EventKind::Modify(ModifyKind::Metadata), path);
        }
        if fflags & (NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE) != 0 {
            gone.push((root, fflags));
        }
    }

    /// The root itself was deleted, renamed or unmounted: one event, then it is forgotten.
    fn root_gone(&mut self, kq: &Kqueue, root: usize, fflags: u32) {
        let Some(r) = self.roots.get(&root) else {
            return;
        };
        let path = r.path.clone();
        let kind = if r.is_dir {
            EntryKind::Dir
        } else {
            EntryKind::File
        };
        if fflags & NOTE_RENAME != 0 && fflags & NOTE_DELETE == 0 {
            self.emit(EventKind::RenamedOut, path);
        } else {
            self.emit(EventKind::Remove(kind), path);
        }
        self.drop_root(kq, root);
    }
}
