//! The self-healing re-scan: after child records were lost, a directory is read again and
//! compared with the known tree, and the differences are reported as ordinary events.

use super::{Engine, Entry, RecursiveMode};
use crate::event::{EntryKind, EventKind, ModifyKind};
use kq_reactor::Kqueue;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs;

impl Engine {
    /// Re-reads directory `ident` after records were lost and reports the differences.
    pub(super) fn rescan_dir(&mut self, kq: &Kqueue, ident: usize) {
        let Some(dir) = self.dirs.get(&ident) else {
            return;
        };
        let (path, root, read_at) = (dir.path.clone(), dir.root, dir.read_at);
        let stamp = super::now_stamp();
        let Ok(rd) = fs::read_dir(&path) else {
            return; // Gone: its parent (or the root's own knote) reports it.
        };
        let mut fresh: HashMap<OsString, Entry> = HashMap::new();
        for ent in rd.flatten() {
            if let Ok(md) = ent.metadata() {
                let entry = Entry::of(&md);
                if !self.ignored(
                    root,
                    &path.join(ent.file_name()),
                    entry.kind == EntryKind::Dir,
                ) {
                    fresh.insert(ent.file_name(), entry);
                }
            }
        }
        let known: Vec<(OsString, Entry)> =
            dir.entries.iter().map(|(n, e)| (n.clone(), *e)).collect();
        if let Some(d) = self.dirs.get_mut(&ident) {
            d.read_at = stamp;
        }
        let recursive = self.mode_of(root) == RecursiveMode::Recursive;
        let mut seen: HashSet<OsString> = HashSet::new();
        let mut names: Vec<&(OsString, Entry)> = known.iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, old) in names {
            let child = path.join(name);
            match fresh.get(name) {
                None => {
                    self.set_entry(ident, name, None);
                    self.emit(EventKind::Remove(old.kind), child.clone());
                    if old.kind == EntryKind::Dir {
                        self.close_subtree(kq, &child, None);
                    }
                }
                Some(new) if new.kind != old.kind || (new.ino != old.ino && old.ino != 0) => {
                    seen.insert(name.clone());
                    if new.kind != old.kind || new.kind == EntryKind::Dir {
                        self.emit(EventKind::Remove(old.kind), child.clone());
                        if old.kind == EntryKind::Dir {
                            self.close_subtree(kq, &child, None);
                        }
                        self.set_entry(ident, name, Some(*new));
                        self.emit(EventKind::Create(new.kind), child.clone());
                        if new.kind == EntryKind::Dir && recursive {
                            self.watch_new_dir(kq, child, root);
                        }
                    } else {
                        // Replaced by another file of the same kind: its data changed.
                        self.set_entry(ident, name, Some(*new));
                        self.emit(EventKind::Modify(ModifyKind::Data), child);
                    }
                }
                Some(new) => {
                    seen.insert(name.clone());
                    let changed = match (old.meta, new.meta) {
                        (Some(o), n) => Some(o) != n,
                        // Not known since the last full read: changed if written after it
                        // (less a margin for coarse timestamps; a write reported already
                        // may be reported again, never one missed).
                        (None, Some((_, sec, nsec))) => {
                            let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
                            ns(sec, nsec) >= ns(read_at.0, read_at.1) - 100_000_000
                        }
                        (None, None) => false,
                    };
                    if new.kind != EntryKind::Dir && changed {
                        self.emit(EventKind::Modify(ModifyKind::Data), child);
                    }
                    self.set_entry(ident, name, Some(*new));
                }
            }
        }
        let mut added: Vec<(OsString, Entry)> = fresh
            .into_iter()
            .filter(|(n, _)| !seen.contains(n) && !known.iter().any(|(k, _)| k == n))
            .collect();
        added.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, entry) in added {
            let child = path.join(&name);
            self.set_entry(ident, &name, Some(entry));
            self.emit(EventKind::Create(entry.kind), child.clone());
            if entry.kind == EntryKind::Dir && recursive {
                self.watch_new_dir(kq, child, root);
            }
        }
    }

    fn set_entry(&mut self, ident: usize, name: &OsString, entry: Option<Entry>) {
        if let Some(d) = self.dirs.get_mut(&ident) {
            match entry {
                Some(e) => {
                    d.entries.insert(name.clone(), e);
                }
                None => {
                    d.entries.remove(name);
                }
            }
        }
    }
}
