//! A recursive async file watcher on `EVFILT_VNODE` knotes of kq's core.
//!
//! [`Watcher`] watches roots ([`Watcher::watch`], [`RecursiveMode`]) and is a [`Stream`] of
//! [`Event`]s (`Create`, `Modify`, `Remove`, `Rename` paired across directories,
//! `RenamedOut`/`RenamedIn` when only one end is watched, and `Rescan` when the kernel's
//! queue overflowed). [`Watcher::debounced`] coalesces them per path, so that an editor's
//! atomic save is one `Modify` of the file saved.
//!
//! What it guarantees, and how:
//!
//! - **No descriptor per file or directory** (Linux): every watched directory is a path
//!   ident of kq's vnode extension ([`kq_reactor::Kqueue::vnode_open`]), an inotify watch
//!   of the watcher's one inotify instance. A tree of 100,000 files in 1,000 directories
//!   costs 1,000 watches and no descriptor beyond the kqueue's own.
//! - **Which entry changed** comes from the core's child records
//!   ([`kq_reactor::NOTE_KQ_CHILDREN`]), in the order they happened across directories.
//! - **No missed events in new directories**: a directory created under a recursive root is
//!   watched first and read second; what the read finds is reported as `Create`, and records
//!   of the same entries that arrive later are dropped as duplicates. `mkdir -p a/b/c/d &&
//!   touch a/b/c/d/f` reports all five entries.
//! - **Overflow is never silent**: `Rescan { root }`, then the affected directories are
//!   re-read and the differences from the known tree reported as ordinary events.
//! - **A removed or renamed root** is reported once (`Remove(Dir)` or `RenamedOut`) and
//!   forgotten; other roots keep working.
//!
//! - **Filters** ([`Filter`]: glob include/exclude patterns, `.gitignore` files) are
//!   applied before a directory is watched, so an ignored tree (`target/`,
//!   `node_modules/`) costs no watch and no read.
//!
//! - **Network filesystems** get a [`PollWatcher`] (metadata, optionally a content hash)
//!   with the same event model; [`Watcher::watch`] uses it by itself for a root on NFS,
//!   SMB, FUSE and the like.
//!
//! The watcher reads the kernel only when its consumer polls: it buffers nothing ahead,
//! and the kernel's queue is the bound (see `Rescan`).
//!
//! # Portability
//!
//! Linux is the supported platform. On FreeBSD and macOS the crate builds on the same
//! extension, where each watched directory holds a descriptor (the kernel's kqueue needs
//! one) and a directory's changes are found by re-reading it; modifications of files inside
//! a directory are not reported there yet.
#![forbid(unsafe_code)]

mod debounce;
mod engine;
mod event;
mod filter;
pub mod poll;
mod watcher;

pub use debounce::Debounced;
pub use engine::RecursiveMode;
pub use event::{EntryKind, Event, EventKind, ModifyKind};
pub use filter::Filter;
pub use futures_core::Stream;
pub use poll::{PollOptions, PollWatcher};
pub use watcher::Watcher;
