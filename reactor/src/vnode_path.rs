//! kq's extension to `EVFILT_VNODE`: vnodes named by path, and the entries that changed in a
//! watched directory.
//!
//! `kevent(2)` watches a file through a descriptor, which costs one descriptor per watched
//! file or directory: the classic way kqueue-based recursive watchers run out of
//! descriptors. The extension adds two things, used through [`Kqueue`](crate::Kqueue):
//!
//! - **Path-named vnodes.** [`Kqueue::vnode_open`](crate::Kqueue::vnode_open) returns an
//!   *ident* naming the file or directory at a path (the inode it resolves to now, not the
//!   path: a rename keeps the watch). `(ident, EVFILT_VNODE)` knotes behave exactly like
//!   knotes on a descriptor of that file (`NOTE_DELETE`, `NOTE_WRITE`, `NOTE_EXTEND`,
//!   `NOTE_ATTRIB`, `NOTE_LINK`, `NOTE_RENAME`, `NOTE_REVOKE`, and the open/read/close
//!   notes). [`Kqueue::vnode_close`](crate::Kqueue::vnode_close) releases the ident and
//!   deletes its knote, as `close(2)` does for a descriptor.
//! - **Child records.** A knote on a directory ident that asks for [`NOTE_KQ_CHILDREN`]
//!   makes the core keep a record of every entry of that directory created, deleted, moved
//!   in or out, written or whose attributes changed ([`ChildEvent`]); the knote fires with
//!   `NOTE_KQ_CHILDREN` in its `fflags` and [`Kqueue::vnode_children`](crate::Kqueue::vnode_children)
//!   takes the records. When records may have been lost (the kernel's queue overflowed, or
//!   the ident's own queue of [`CHILD_QUEUE_MAX`] records was full), the knote also carries
//!   [`NOTE_KQ_OVERFLOW`] and [`VnodeChildren::lost`] is set: the caller must re-read the
//!   directory.
//!
//! # Portability
//!
//! On Linux an ident is a synthetic number with the top bit set (never a descriptor): one
//! inotify watch per inode, shared by every ident and descriptor knote on it, and no
//! descriptor at all; the kqueue's single inotify instance is the only one. Child records
//! are exact (they come from inotify's named events, in order, with the rename cookie).
//!
//! On FreeBSD and macOS an ident is a descriptor opened on the path (`O_EVTONLY` on macOS,
//! `O_RDONLY` on FreeBSD): one descriptor per watched file or directory, as the kernel's
//! kqueue requires. The kernel keeps no child records, so
//! [`vnode_children`](crate::Kqueue::vnode_children) always answers "lost": re-read the
//! directory after its `NOTE_WRITE`. `NOTE_KQ_CHILDREN` is passed to the kernel, which
//! ignores unknown vnode notes.

use std::ffi::OsString;

/// Input and output `fflags` bit of an `EVFILT_VNODE` knote on a directory ident of
/// [`Kqueue::vnode_open`](crate::Kqueue::vnode_open): keep records of the directory's
/// entries that changed. A kq extension.
///
/// The core records every entry of the directory created, deleted, moved in or out,
/// written or whose attributes changed ([`ChildEvent`]); the knote fires with
/// `NOTE_KQ_CHILDREN` in its `fflags`, and
/// [`Kqueue::vnode_children`](crate::Kqueue::vnode_children) takes the records. When
/// records may have been lost (the kernel's queue overflowed, or [`CHILD_QUEUE_MAX`] were
/// waiting), the knote also carries [`NOTE_KQ_OVERFLOW`] and [`VnodeChildren::lost`] is
/// set: re-read the directory.
///
/// The value is outside every platform's vnode notes (FreeBSD, NetBSD, OpenBSD and macOS
/// use bits up to `0x400`).
///
/// # Portability
///
/// On Linux the records are exact (inotify's named events, in order, with the rename
/// cookie). On FreeBSD and macOS the kernel keeps none: the bit is passed to the kernel,
/// which ignores unknown vnode notes, and `vnode_children` always answers `lost` — re-read
/// the directory after its `NOTE_WRITE`.
pub const NOTE_KQ_CHILDREN: u32 = 0x0010_0000;

/// Output `fflags` bit of an `EVFILT_VNODE` knote: events may have been lost (the kernel's
/// queue overflowed, or a child-record queue was full). A kq extension.
pub const NOTE_KQ_OVERFLOW: u32 = 0x0020_0000;

/// At most this many child records wait per ident; more set [`VnodeChildren::lost`].
pub const CHILD_QUEUE_MAX: usize = 65_536;

/// What happened to an entry of a watched directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChildOp {
    /// The entry was created (a file, directory, link, node...).
    Create,
    /// The entry was removed.
    Delete,
    /// The entry was renamed away (to another name, in this or another directory, or out of
    /// sight); the matching [`ChildOp::MovedTo`] carries the same `cookie`.
    MovedFrom,
    /// An entry was renamed to this name (from this or another directory, or from out of
    /// sight).
    MovedTo,
    /// The entry's data was written.
    Modify,
    /// The entry's attributes (mode, owner, times, link count) changed.
    Attrib,
}

/// One change of an entry of a watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildEvent {
    /// The entry's name in the directory.
    pub name: OsString,
    /// What happened.
    pub op: ChildOp,
    /// Pairs a [`ChildOp::MovedFrom`] with its [`ChildOp::MovedTo`] (the same value, which
    /// is unique to one rename); 0 for the other operations.
    pub cookie: u32,
    /// Whether the entry is a directory.
    pub is_dir: bool,
    /// The record's position among all records of the kqueue (increasing): records taken
    /// from several idents can be merged back into the order they happened in.
    pub seq: u64,
}

/// The child records taken from a directory ident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VnodeChildren {
    /// The records, oldest first.
    pub events: Vec<ChildEvent>,
    /// Records may be missing (the kernel's queue overflowed, or [`CHILD_QUEUE_MAX`] were
    /// waiting): re-read the directory. Always `true` on BSD and macOS.
    pub lost: bool,
}
