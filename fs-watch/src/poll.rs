//! [`PollWatcher`]: the fallback without kernel notifications — for network filesystems
//! (NFS, SMB, FUSE, 9p...), where a change made on another machine never reaches inotify or
//! kqueue. Every `interval` each root is read again and compared with the previous
//! snapshot (type, inode, size, modification time, mode/owner/change time, and optionally a
//! hash of the contents), with the same event model as [`Watcher`](crate::Watcher):
//!
//! - an entry that disappeared and one that appeared with the same inode are a `Rename`;
//! - a file whose inode changed is `Modify(Data)` (replaced, as by an atomic save);
//! - size, modification time or content hash changed is `Modify(Data)`; mode, owner or
//!   change time alone is `Modify(Metadata)`;
//! - the root itself gone is `Remove` of the root, and the root is forgotten.
//!
//! [`Watcher::watch`](crate::Watcher::watch) uses the same poller automatically for a root
//! on a network filesystem (see [`is_remote`]).
//!
//! # Invariant
//!
//! A root's snapshot is exactly what the last scan saw (after the filter): the next diff
//! reports every change in between once, and changes that cancel out in between (created
//! and removed, written back to the same size and time) not at all.

use crate::engine::{Output, RecursiveMode};
use crate::event::{EntryKind, Event, EventKind, ModifyKind};
use crate::filter::{Filter, Rules};
use futures_core::Stream;
use kq_runtime::time::{Instant, Sleep, sleep_until};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::Hasher;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How a [`PollWatcher`] (or a polled root of a [`Watcher`](crate::Watcher)) scans.
#[derive(Debug, Clone)]
pub struct PollOptions {
    interval: Duration,
    hash: bool,
}

impl PollOptions {
    /// Scans every `interval` (at least 1 ms), comparing metadata only.
    pub fn new(interval: Duration) -> PollOptions {
        PollOptions {
            interval: interval.max(Duration::from_millis(1)),
            hash: false,
        }
    }

    /// Also compares a hash of each file's contents (reads every file at every scan):
    /// catches writes that keep the size and land within the filesystem's time
    /// granularity.
    pub fn content_hash(mut self, on: bool) -> PollOptions {
        self.hash = on;
        self
    }
}

impl Default for PollOptions {
    /// Every 2 seconds, metadata only.
    fn default() -> PollOptions {
        PollOptions::new(Duration::from_secs(2))
    }
}

/// What a scan saw of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snap {
    kind: EntryKind,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    /// Mode, owner, group and change time: metadata.
    meta: (u32, u32, u32, i64, i64),
    hash: Option<u64>,
}

#[derive(Debug)]
struct PollRoot {
    path: PathBuf,
    mode: RecursiveMode,
    /// Relative path → entry (the root itself is the empty path).
    snap: BTreeMap<PathBuf, Snap>,
}

/// The polling engine, shared by [`PollWatcher`] and the polled roots of a `Watcher`.
#[derive(Debug)]
pub(crate) struct Poller {
    opts: PollOptions,
    rules: Rules,
    roots: Vec<PollRoot>,
    sleep: Option<Pin<Box<Sleep>>>,
}

fn hash_file(path: &Path) -> Option<u64> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Some(h.finish()),
            Ok(n) => h.write(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

impl Poller {
    /// Changes the options of the scans to come.
    pub(crate) fn set_options(&mut self, opts: PollOptions) {
        self.opts = opts;
        self.sleep = None;
    }

    pub(crate) fn new(opts: PollOptions, filter: Filter) -> Poller {
        Poller {
            opts,
            rules: Rules::new(filter),
            roots: Vec::new(),
            sleep: None,
        }
    }

    pub(crate) fn is_watched(&self, path: &Path) -> bool {
        self.roots.iter().any(|r| r.path == path)
    }

    pub(crate) fn watch(&mut self, path: &Path, mode: RecursiveMode) -> io::Result<()> {
        std::fs::symlink_metadata(path)?;
        if self.is_watched(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is already watched", path.display()),
            ));
        }
        let mut root = PollRoot {
            path: path.to_path_buf(),
            mode,
            snap: BTreeMap::new(),
        };
        root.snap = self.scan(&root);
        self.roots.push(root);
        Ok(())
    }

    /// Returns whether `path` was a polled root.
    pub(crate) fn unwatch(&mut self, path: &Path) -> bool {
        let before = self.roots.len();
        self.roots.retain(|r| r.path != path);
        self.roots.len() != before
    }

    pub(crate) fn watched(&self) -> usize {
        self.roots.len()
    }

    fn snap(&self, path: &Path, md: &std::fs::Metadata) -> Snap {
        let ft = md.file_type();
        let kind = EntryKind::of(ft);
        Snap {
            kind,
            ino: md.ino(),
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec()),
            meta: (md.mode(), md.uid(), md.gid(), md.ctime(), md.ctime_nsec()),
            hash: (self.opts.hash && kind == EntryKind::File)
                .then(|| hash_file(path))
                .flatten(),
        }
    }

    /// Reads a root's tree now (an empty map if the root is gone).
    fn scan(&mut self, root: &PollRoot) -> BTreeMap<PathBuf, Snap> {
        let mut out = BTreeMap::new();
        let Ok(md) = std::fs::symlink_metadata(&root.path) else {
            return out;
        };
        out.insert(PathBuf::new(), self.snap(&root.path, &md));
        if !md.is_dir() {
            return out;
        }
        let mut work = vec![root.path.clone()];
        while let Some(dir) = work.pop() {
            self.rules.load_gitignore(&dir);
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for ent in rd.flatten() {
                let Ok(md) = ent.metadata() else { continue };
                let path = ent.path();
                if self.rules.ignored(&root.path, &path, md.is_dir()) {
                    continue;
                }
                let rel = path.strip_prefix(&root.path).unwrap_or(&path).to_path_buf();
                out.insert(rel, self.snap(&path, &md));
                if md.is_dir() && root.mode == RecursiveMode::Recursive {
                    work.push(path);
                }
            }
        }
        out
    }

    /// Scans every root and reports the differences.
    pub(crate) fn tick(&mut self, out: &mut VecDeque<Output>) {
        let mut roots = std::mem::take(&mut self.roots);
        roots.retain_mut(|root| {
            let fresh = self.scan(root);
            let old = std::mem::replace(&mut root.snap, fresh);
            let alive = root.snap.contains_key(Path::new(""));
            let mut events = diff(&root.path, &old, &root.snap);
            if !alive {
                let kind = old.get(Path::new("")).map_or(EntryKind::Dir, |s| s.kind);
                events = vec![Event::new(EventKind::Remove(kind), root.path.clone())];
            }
            for ev in events {
                let is_dir = matches!(
                    ev.kind,
                    EventKind::Create(EntryKind::Dir) | EventKind::Remove(EntryKind::Dir)
                );
                if self.rules.reported(&root.path, ev.path(), is_dir) {
                    out.push_back(Output {
                        event: Ok(ev),
                        replaced: false,
                    });
                }
            }
            alive
        });
        // Roots watched during the scan (none: `&mut self`) would be lost; none can be.
        self.roots = roots;
    }

    /// Waits for the next scan time, then scans. `Pending` when there is nothing to poll.
    pub(crate) fn poll_tick(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut VecDeque<Output>,
    ) -> Poll<()> {
        if self.roots.is_empty() {
            self.sleep = None;
            return Poll::Pending;
        }
        let interval = self.opts.interval;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(sleep_until(Instant::now() + interval)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                sleep.as_mut().reset(Instant::now() + interval);
                self.tick(out);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The events that turn snapshot `old` into `new` (paths relative to `root`).
fn diff(root: &Path, old: &BTreeMap<PathBuf, Snap>, new: &BTreeMap<PathBuf, Snap>) -> Vec<Event> {
    let abs = |rel: &Path| {
        if rel.as_os_str().is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        }
    };
    let mut events = Vec::new();
    let gone: Vec<(&PathBuf, &Snap)> = old.iter().filter(|(p, _)| !new.contains_key(*p)).collect();
    let mut born: Vec<(&PathBuf, &Snap)> =
        new.iter().filter(|(p, _)| !old.contains_key(*p)).collect();
    // Inodes that appeared once: a vanished entry with one of them was renamed.
    let mut by_ino: HashMap<(u64, EntryKind), usize> = HashMap::new();
    for (i, (_, s)) in born.iter().enumerate() {
        by_ino.insert((s.ino, s.kind), i);
    }
    let mut renamed_to = vec![false; born.len()];
    let mut moved_dirs: Vec<(&PathBuf, &PathBuf)> = Vec::new();
    for (from, s) in &gone {
        // Inside a directory renamed as a whole: that rename says it.
        if moved_dirs.iter().any(|(f, _)| from.starts_with(f)) {
            continue;
        }
        match by_ino.get(&(s.ino, s.kind)) {
            Some(&i) if !renamed_to[i] => {
                renamed_to[i] = true;
                let to = born[i].0;
                if s.kind == EntryKind::Dir {
                    moved_dirs.push((from, to));
                }
                events.push(Event {
                    kind: EventKind::Rename {
                        from: abs(from),
                        to: abs(to),
                    },
                    paths: vec![abs(from), abs(to)],
                });
            }
            _ => events.push(Event::new(EventKind::Remove(s.kind), abs(from))),
        }
    }
    let mut i = 0;
    born.retain(|(p, _)| {
        let keep = !renamed_to[i] && !moved_dirs.iter().any(|(_, to)| p.starts_with(to));
        i += 1;
        keep
    });
    for (p, s) in born {
        events.push(Event::new(EventKind::Create(s.kind), abs(p)));
    }
    for (p, n) in new {
        let Some(o) = old.get(p) else { continue };
        if o.kind != n.kind {
            events.push(Event::new(EventKind::Remove(o.kind), abs(p)));
            events.push(Event::new(EventKind::Create(n.kind), abs(p)));
        } else if n.kind != EntryKind::Dir
            && (o.ino != n.ino || o.size != n.size || o.mtime != n.mtime || o.hash != n.hash)
        {
            events.push(Event::new(EventKind::Modify(ModifyKind::Data), abs(p)));
        } else if o.meta != n.meta && n.kind != EntryKind::Dir {
            events.push(Event::new(EventKind::Modify(ModifyKind::Metadata), abs(p)));
        }
    }
    events
}

/// Whether `path` is on a network or user-space filesystem, where kernel notifications miss
/// changes made elsewhere: NFS, SMB/CIFS, 9p, AFS, Ceph, GlusterFS, Lustre, FUSE (Linux:
/// the longest mount point containing the path in `/proc/self/mountinfo`). `false`
/// elsewhere, or when it cannot be told.
pub fn is_remote(path: &Path) -> bool {
    let Ok(path) = std::fs::canonicalize(path) else {
        return false;
    };
    match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(info) => fs_type(&info, &path).is_some_and(remote_type),
        Err(_) => false,
    }
}

/// The filesystem type of the longest mount point containing `path`.
fn fs_type<'a>(mountinfo: &'a str, path: &Path) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for line in mountinfo.lines() {
        let mut fields = line.split(' ');
        let Some(mount_point) = fields.nth(4) else {
            continue;
        };
        let Some((_, after)) = line.split_once(" - ") else {
            continue;
        };
        let Some(fstype) = after.split(' ').next() else {
            continue;
        };
        // Spaces and other specials are escaped in octal (`\040`).
        let mount_point = unescape(mount_point);
        if path.starts_with(&mount_point) {
            let len = mount_point.len();
            if best.is_none_or(|(l, _)| len >= l) {
                best = Some((len, fstype));
            }
        }
    }
    best.map(|(_, t)| t)
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn remote_type(t: &str) -> bool {
    matches!(
        t,
        "nfs"
            | "nfs4"
            | "cifs"
            | "smb3"
            | "smbfs"
            | "9p"
            | "afs"
            | "ceph"
            | "glusterfs"
            | "lustre"
            | "fuse"
            | "fuseblk"
    ) || t.starts_with("fuse.")
}

/// A file watcher that polls (see the [module](self) docs): the fallback for network
/// filesystems, with the event model of [`Watcher`](crate::Watcher). It needs no kernel
/// notification mechanism at all.
///
/// # Examples
///
/// ```
/// use kq_fs_watch::{EntryKind, EventKind, PollOptions, PollWatcher, RecursiveMode};
/// use std::time::Duration;
///
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("kq-poll-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut watcher = PollWatcher::new(PollOptions::new(Duration::from_millis(20)));
/// watcher.watch(&dir, RecursiveMode::Recursive)?;
/// std::fs::write(dir.join("f"), b"x")?;
/// let event = watcher.next().await.unwrap()?;
/// assert_eq!(event.kind, EventKind::Create(EntryKind::File));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct PollWatcher {
    poller: Poller,
    out: VecDeque<Output>,
}

impl PollWatcher {
    /// A polling watcher with no roots. Scans run on the kq runtime the stream is polled
    /// on.
    pub fn new(opts: PollOptions) -> PollWatcher {
        PollWatcher::with_filter(opts, Filter::new())
    }

    /// A polling watcher that ignores what `filter` says.
    pub fn with_filter(opts: PollOptions, filter: Filter) -> PollWatcher {
        PollWatcher {
            poller: Poller::new(opts, filter),
            out: VecDeque::new(),
        }
    }

    /// Starts polling `path` (its tree is read now; what exists is not reported).
    ///
    /// # Errors
    ///
    /// `NotFound` if nothing is at `path`; `AlreadyExists` if it is a root already.
    pub fn watch(&mut self, path: impl AsRef<Path>, mode: RecursiveMode) -> io::Result<()> {
        self.poller.watch(path.as_ref(), mode)
    }

    /// Stops polling the root `path`.
    ///
    /// # Errors
    ///
    /// `NotFound` if `path` is not a root (or was removed, which ended it).
    pub fn unwatch(&mut self, path: impl AsRef<Path>) -> io::Result<()> {
        if self.poller.unwatch(path.as_ref()) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is not a watched root", path.as_ref().display()),
            ))
        }
    }

    /// The next event (the stream never ends).
    pub async fn next(&mut self) -> Option<io::Result<Event>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for PollWatcher {
    type Item = io::Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(o) = this.out.pop_front() {
                return Poll::Ready(Some(o.event));
            }
            if this.poller.poll_tick(cx, &mut this.out).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl fmt::Debug for PollWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollWatcher")
            .field("roots", &self.poller.watched())
            .field("pending", &self.out.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /mnt/nfs rw,relatime shared:20 - nfs4 server:/export rw,vers=4.2
41 40 8:2 / /mnt/nfs/local rw shared:21 - ext4 /dev/sda2 rw
42 22 0:40 / /home/u/my\\040drive rw - fuse.sshfs u@h:/ rw
";

    #[test]
    fn mountinfo_longest_mount_point_wins() {
        assert_eq!(fs_type(INFO, Path::new("/etc/passwd")), Some("ext4"));
        assert_eq!(fs_type(INFO, Path::new("/mnt/nfs/a/b")), Some("nfs4"));
        assert_eq!(fs_type(INFO, Path::new("/mnt/nfs/local/x")), Some("ext4"));
        assert_eq!(fs_type(INFO, Path::new("/mnt/nfsx")), Some("ext4"));
        assert_eq!(
            fs_type(INFO, Path::new("/home/u/my drive/f")),
            Some("fuse.sshfs")
        );
        assert!(remote_type("nfs4") && remote_type("fuse.sshfs") && remote_type("cifs"));
        assert!(!remote_type("ext4") && !remote_type("tmpfs") && !remote_type("overlay"));
    }

    fn snap(ino: u64, kind: EntryKind, size: u64) -> Snap {
        Snap {
            kind,
            ino,
            size,
            mtime: (0, 0),
            meta: (0, 0, 0, 0, 0),
            hash: None,
        }
    }

    #[test]
    fn diff_pairs_renames_by_inode() {
        let root = Path::new("/r");
        let mut old = BTreeMap::new();
        old.insert(PathBuf::from("a"), snap(1, EntryKind::File, 1));
        old.insert(PathBuf::from("d"), snap(2, EntryKind::Dir, 0));
        old.insert(PathBuf::from("d/x"), snap(3, EntryKind::File, 0));
        old.insert(PathBuf::from("gone"), snap(4, EntryKind::File, 0));
        old.insert(PathBuf::from("w"), snap(5, EntryKind::File, 0));
        let mut new = BTreeMap::new();
        new.insert(PathBuf::from("b"), snap(1, EntryKind::File, 1));
        new.insert(PathBuf::from("e"), snap(2, EntryKind::Dir, 0));
        new.insert(PathBuf::from("e/x"), snap(3, EntryKind::File, 0));
        new.insert(PathBuf::from("born"), snap(6, EntryKind::File, 0));
        new.insert(PathBuf::from("w"), snap(5, EntryKind::File, 9));
        let evs = diff(root, &old, &new);
        let kinds: Vec<(EventKind, Vec<PathBuf>)> =
            evs.into_iter().map(|e| (e.kind, e.paths)).collect();
        let p = |s: &str| root.join(s);
        assert_eq!(
            kinds,
            vec![
                (
                    EventKind::Rename {
                        from: p("a"),
                        to: p("b")
                    },
                    vec![p("a"), p("b")]
                ),
                (
                    EventKind::Rename {
                        from: p("d"),
                        to: p("e")
                    },
                    vec![p("d"), p("e")]
                ),
                (EventKind::Remove(EntryKind::File), vec![p("gone")]),
                (EventKind::Create(EntryKind::File), vec![p("born")]),
                (EventKind::Modify(ModifyKind::Data), vec![p("w")]),
            ]
        );
    }
}
