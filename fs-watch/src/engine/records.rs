//! Applying the core's child records to the known tree: creations (a new directory is
//! watched, then read), deletions, writes, attribute changes and renames (paired by cookie;
//! an unpaired half is a rename into or out of the view).

use super::{Engine, Entry, Output, PendingMove, RecursiveMode};
use crate::event::{EntryKind, Event, EventKind, ModifyKind};
use kq_reactor::{ChildEvent, ChildOp, Kqueue};
use std::fs;
use std::io;
use std::path::PathBuf;

impl Engine {
    /// Applies one child record of directory `ident`, through the filter.
    pub(super) fn apply(&mut self, kq: &Kqueue, ident: usize, rec: ChildEvent) {
        let Some(dir) = self.dirs.get(&ident) else {
            return;
        };
        let (root, dir_path) = (dir.root, dir.path.clone());
        let path = dir_path.join(&rec.name);
        let gitignore = rec.name == ".gitignore" && self.rules.uses_gitignore();
        let arrives = matches!(rec.op, ChildOp::Create | ChildOp::MovedTo);
        if arrives && self.ignored(root, &path, rec.is_dir) {
            // An ignored name: never known. A known entry renamed to it left the view.
            if rec.op == ChildOp::MovedTo {
                if let Some(m) = self.moves.remove(&rec.cookie) {
                    if m.entry.kind == EntryKind::Dir {
                        self.close_subtree(kq, &m.from, None);
                    }
                    self.emit(EventKind::RenamedOut, m.from);
                }
            }
            return;
        }
        self.apply_record(kq, ident, rec);
        if gitignore {
            self.rules.load_gitignore(&dir_path);
        }
    }

    /// Applies one child record of directory `ident` to the tree.
    fn apply_record(&mut self, kq: &Kqueue, ident: usize, rec: ChildEvent) {
        let Some(dir) = self.dirs.get_mut(&ident) else {
            return;
        };
        let root = dir.root;
        let path = dir.path.join(&rec.name);
        match rec.op {
            ChildOp::Create => {
                if dir.entries.contains_key(&rec.name) {
                    return; // Found by a scan already.
                }
                let entry = fs::symlink_metadata(&path)
                    .map(|md| Entry::of(&md))
                    .unwrap_or(Entry {
                        kind: if rec.is_dir {
                            EntryKind::Dir
                        } else {
                            EntryKind::File
                        },
                        ino: 0,
                        meta: None,
                    });
                dir.entries.insert(rec.name, entry);
                self.emit(EventKind::Create(entry.kind), path.clone());
                if entry.kind == EntryKind::Dir && self.mode_of(root) == RecursiveMode::Recursive {
                    self.watch_new_dir(kq, path, root);
                }
            }
            ChildOp::Delete => {
                let Some(entry) = dir.entries.remove(&rec.name) else {
                    return;
                };
                self.emit(EventKind::Remove(entry.kind), path.clone());
                if entry.kind == EntryKind::Dir {
                    self.close_subtree(kq, &path, None);
                }
            }
            // Only entries in view: an ignored one is not.
            ChildOp::Modify => {
                if let Some(e) = dir.entries.get_mut(&rec.name) {
                    e.meta = None;
                    self.emit(EventKind::Modify(ModifyKind::Data), path);
                }
            }
            ChildOp::Attrib => {
                if let Some(e) = dir.entries.get_mut(&rec.name) {
                    e.meta = None;
                    self.emit(EventKind::Modify(ModifyKind::Metadata), path);
                }
            }
            ChildOp::MovedFrom => {
                let Some(entry) = dir.entries.remove(&rec.name) else {
                    return;
                };
                self.moves.insert(
                    rec.cookie,
                    PendingMove {
                        from: path,
                        entry,
                        root,
                    },
                );
            }
            ChildOp::MovedTo => {
                let replaced = dir.entries.remove(&rec.name);
                if let Some(old) = replaced {
                    if old.kind == EntryKind::Dir {
                        // An empty directory renamed over: its watch is gone with it.
                        self.close_subtree(kq, &path, None);
                    }
                }
                match self.moves.remove(&rec.cookie) {
                    Some(m) => {
                        if let Some(dir) = self.dirs.get_mut(&ident) {
                            dir.entries.insert(rec.name, m.entry);
                        }
                        if m.entry.kind == EntryKind::Dir {
                            self.move_subtree(&m.from, &path, root);
                            let recursive = self.mode_of(root) == RecursiveMode::Recursive;
                            if recursive && !self.by_path.contains_key(&path) {
                                // From a non-recursive root into a recursive one.
                                self.watch_new_dir(kq, path.clone(), root);
                            } else if !recursive {
                                // Into a non-recursive root: its entries only.
                                self.close_subtree(kq, &path, None);
                            }
                        }
                        self.out.push_back(Output {
                            event: Ok(Event {
                                kind: EventKind::Rename {
                                    from: m.from.clone(),
                                    to: path.clone(),
                                },
                                paths: vec![m.from, path],
                            }),
                            replaced: replaced.is_some(),
                        });
                    }
                    None => {
                        let entry = fs::symlink_metadata(&path)
                            .map(|md| Entry::of(&md))
                            .unwrap_or(Entry {
                                kind: if rec.is_dir {
                                    EntryKind::Dir
                                } else {
                                    EntryKind::File
                                },
                                ino: 0,
                                meta: None,
                            });
                        if let Some(dir) = self.dirs.get_mut(&ident) {
                            dir.entries.insert(rec.name, entry);
                        }
                        self.out.push_back(Output {
                            event: Ok(Event::new(EventKind::RenamedIn, path.clone())),
                            replaced: replaced.is_some(),
                        });
                        if entry.kind == EntryKind::Dir
                            && self.mode_of(root) == RecursiveMode::Recursive
                        {
                            self.watch_new_dir(kq, path, root);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A directory appeared in a recursive root: watch it, then report what it already
    /// holds (the entries created before its watch was in place).
    pub(super) fn watch_new_dir(&mut self, kq: &Kqueue, path: PathBuf, root: usize) {
        match self.add_dir(kq, path, root, RecursiveMode::Recursive, true) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {} // Gone already.
            Err(e) => self.emit_err(e),
        }
    }

    /// Renames whose second half never came: the entries left the watched tree.
    pub(crate) fn flush_moves(&mut self, kq: &Kqueue) {
        let mut moves: Vec<PendingMove> = self.moves.drain().map(|(_, m)| m).collect();
        moves.sort_by(|a, b| a.from.cmp(&b.from));
        for m in moves {
            if m.entry.kind == EntryKind::Dir {
                self.close_subtree(kq, &m.from, None);
            }
            self.emit(EventKind::RenamedOut, m.from);
        }
    }
}
