//! The events a watcher reports.

use std::path::PathBuf;

/// What kind of filesystem entry an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Anything else: a symbolic link (never followed), a FIFO, a socket, a device.
    Other,
}

impl EntryKind {
    /// The kind of an entry of file type `ft` (as `lstat` or a directory listing gives it).
    pub(crate) fn of(ft: std::fs::FileType) -> EntryKind {
        if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        }
    }
}

/// What changed in a modified entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModifyKind {
    /// Its contents were written (or, after debouncing, it was replaced by a new file).
    Data,
    /// Its attributes changed: mode, owner, timestamps, link count.
    Metadata,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An entry appeared: created, or found by a scan of a new or re-scanned directory.
    Create(EntryKind),
    /// An entry was modified.
    Modify(ModifyKind),
    /// An entry disappeared.
    Remove(EntryKind),
    /// An entry was renamed, and both names are under watched roots. `paths` is
    /// `[from, to]`.
    Rename {
        /// The old path.
        from: PathBuf,
        /// The new path.
        to: PathBuf,
    },
    /// An entry was renamed to a name outside every watched root (or out of sight): for
    /// the watcher it is gone. `paths` is its old path.
    RenamedOut,
    /// An entry was renamed from outside every watched root to this path. A directory's
    /// contents follow as `Create` events.
    RenamedIn,
    /// Events under `root` may have been lost (the kernel's queue overflowed). By default the
    /// watcher then re-scans and reports the differences it finds as ordinary events.
    Rescan {
        /// The watched root concerned.
        root: PathBuf,
    },
}

/// One filesystem change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The paths concerned: one path, or `[from, to]` for [`EventKind::Rename`].
    pub paths: Vec<PathBuf>,
}

impl Event {
    pub(crate) fn new(kind: EventKind, path: PathBuf) -> Event {
        Event {
            kind,
            paths: vec![path],
        }
    }

    /// The event's (last) path: the path an entry has after the event.
    pub fn path(&self) -> &std::path::Path {
        self.paths.last().map_or(std::path::Path::new(""), |p| p)
    }
}
