//! [`Debounced`]: events coalesced per path over a quiet window.
//!
//! The coalescing rules are documented on [`Debounced`].

use crate::engine::Output;
use crate::event::{EntryKind, Event, EventKind, ModifyKind};
use crate::watcher::Watcher;
use futures_core::Stream;
use kq_runtime::time::{Instant, Sleep, sleep_until};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// What happened to one path during the window.
#[derive(Debug, Clone)]
struct Slot {
    /// Order of the path's first event in the window.
    order: u64,
    existed: bool,
    exists: bool,
    kind: Option<EntryKind>,
    data: bool,
    meta: bool,
    /// Something else took its place (deleted then created, or renamed over).
    replaced: bool,
    /// This path got the entry of `from`, which existed before the window.
    renamed_from: Option<PathBuf>,
}

/// A [`Watcher`]'s events, coalesced per path; made by [`Watcher::debounced`].
///
/// Each path touched during the window gets a record of whether it existed before
/// the window, whether it exists now, and what happened to it
/// meanwhile. When no event came for `window` (or the oldest waiting event is `4 * window`
/// old, so a steady stream cannot hold events back forever), each record becomes at most one
/// event:
///
/// | before → after | event |
/// |---|---|
/// | absent → absent | nothing (created and deleted in the window) |
/// | absent → present | `Create`, or `Rename { from, to }` if it came from a path that existed |
/// | present → absent | `Remove` (nothing when a `Rename` reports it) |
/// | present → present | `Modify(Data)` if written or replaced (an atomic save), else `Modify(Metadata)` if its attributes changed, else nothing |
///
/// So an editor's atomic save — write a temporary file, rename it over the original, or
/// rename the original away and write a new one (vim) — is one `Modify(Data)` of the
/// original path. `Rescan` and errors pass through at once, after what is waiting.
pub struct Debounced {
    watcher: Watcher,
    window: Duration,
    slots: HashMap<PathBuf, Slot>,
    next_order: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    ready: VecDeque<io::Result<Event>>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Debounced {
    pub(crate) fn new(watcher: Watcher, window: Duration) -> Debounced {
        Debounced {
            watcher,
            window,
            slots: HashMap::new(),
            next_order: 0,
            first: None,
            last: None,
            ready: VecDeque::new(),
            sleep: None,
        }
    }

    /// The watcher, to add or remove roots.
    pub fn watcher_mut(&mut self) -> &mut Watcher {
        &mut self.watcher
    }

    /// The next coalesced event.
    pub async fn next(&mut self) -> Option<io::Result<Event>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The slot of `path`, created with `existed` if the path has none yet.
    fn slot(&mut self, path: &Path, existed: bool) -> &mut Slot {
        if !self.slots.contains_key(path) {
            self.next_order += 1;
            self.slots.insert(
                path.to_path_buf(),
                Slot {
                    order: self.next_order,
                    existed,
                    exists: existed,
                    kind: None,
                    data: false,
                    meta: false,
                    replaced: false,
                    renamed_from: None,
                },
            );
        }
        self.slots.get_mut(path).expect("inserted above")
    }

    fn feed(&mut self, out: Output) {
        let event = match out.event {
            Ok(event) => event,
            Err(e) => {
                self.flush();
                self.ready.push_back(Err(e));
                return;
            }
        };
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        let path = event.path().to_path_buf();
        match event.kind {
            EventKind::Create(kind) => self.appeared(&path, Some(kind), false),
            EventKind::RenamedIn => self.appeared(&path, None, out.replaced),
            EventKind::Remove(kind) => self.vanished(&path, Some(kind)),
            EventKind::RenamedOut => self.vanished(&path, None),
            EventKind::Modify(ModifyKind::Data) => self.slot(&path, true).data = true,
            EventKind::Modify(ModifyKind::Metadata) => self.slot(&path, true).meta = true,
            EventKind::Rename { from, to } => {
                let src = self.slot(&from, true).clone();
                self.vanished(&from, src.kind);
                let carried = src.kind;
                if !src.existed {
                    // Created in the window: nothing happened at `from`, and what arrives
                    // at `to` is new content.
                    self.slots.remove(&from);
                    self.appeared(&to, carried, out.replaced);
                    self.slot(&to, false).data = true;
                } else {
                    self.appeared(&to, carried, out.replaced);
                    let dst = self.slot(&to, false);
                    dst.renamed_from = src.renamed_from.or(Some(from));
                    dst.data |= src.data;
                    dst.meta |= src.meta;
                }
            }
            EventKind::Rescan { .. } => {
                self.flush();
                self.ready.push_back(Ok(event));
            }
        }
    }

    /// An entry appeared at `path`; `replaced` if it took the place of one that existed.
    fn appeared(&mut self, path: &Path, kind: Option<EntryKind>, replaced: bool) {
        let s = self.slot(path, replaced);
        if replaced {
            // An existing entry was renamed over: the slot existed before if it is new.
            s.replaced = true;
        }
        if s.existed && !s.exists {
            s.replaced = true;
        }
        s.exists = true;
        if kind.is_some() {
            s.kind = kind;
        }
    }

    fn vanished(&mut self, path: &Path, kind: Option<EntryKind>) {
        let s = self.slot(path, true);
        s.exists = false;
        if kind.is_some() {
            s.kind = kind;
        }
        s.renamed_from = None;
        s.data = false;
        s.meta = false;
    }

    /// Turns every slot into at most one event, in the order the paths were first touched.
    fn flush(&mut self) {
        self.first = None;
        self.last = None;
        let mut slots: Vec<(PathBuf, Slot)> = self.slots.drain().collect();
        slots.sort_by_key(|(_, s)| s.order);
        // Sources whose rename is reported as a `Rename`.
        let renamed: Vec<PathBuf> = slots
            .iter()
            .filter(|(_, s)| s.exists && !s.existed)
            .filter_map(|(_, s)| s.renamed_from.clone())
            .collect();
        let gone = |p: &Path, slots: &[(PathBuf, Slot)]| {
            slots
                .iter()
                .find(|(q, _)| q == p)
                .is_some_and(|(_, s)| s.existed && !s.exists)
        };
        let mut events = Vec::new();
        for (path, s) in &slots {
            let kind = s.kind.unwrap_or_else(|| kind_on_disk(path));
            match (s.existed, s.exists) {
                (false, false) => {}
                (false, true) => match &s.renamed_from {
                    Some(from) if gone(from, &slots) => {
                        events.push(Event {
                            kind: EventKind::Rename {
                                from: from.clone(),
                                to: path.clone(),
                            },
                            paths: vec![from.clone(), path.clone()],
                        });
                        if s.data {
                            events.push(Event::new(
                                EventKind::Modify(ModifyKind::Data),
                                path.clone(),
                            ));
                        }
                    }
                    _ => events.push(Event::new(EventKind::Create(kind), path.clone())),
                },
                (true, false) => {
                    if !renamed.contains(path) {
                        events.push(Event::new(EventKind::Remove(kind), path.clone()));
                    }
                }
                (true, true) => {
                    if s.data || s.replaced {
                        events.push(Event::new(
                            EventKind::Modify(ModifyKind::Data),
                            path.clone(),
                        ));
                    } else if s.meta {
                        events.push(Event::new(
                            EventKind::Modify(ModifyKind::Metadata),
                            path.clone(),
                        ));
                    }
                }
            }
        }
        self.ready.extend(events.into_iter().map(Ok));
    }

    fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + self.window).min(first + self.window * 4))
    }
}

/// The kind of what is at `path` now (for a renamed entry whose kind no event said).
fn kind_on_disk(path: &Path) -> EntryKind {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => EntryKind::Dir,
        Ok(md) if md.is_file() => EntryKind::File,
        Ok(_) => EntryKind::Other,
        Err(_) => EntryKind::File,
    }
}

impl Stream for Debounced {
    type Item = io::Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(ev) = this.ready.pop_front() {
                return Poll::Ready(Some(ev));
            }
            if let Poll::Ready(out) = this.watcher.poll_output(cx) {
                this.feed(out);
                continue;
            }
            let Some(deadline) = this.deadline() else {
                if !this.slots.is_empty() {
                    this.flush();
                    continue;
                }
                return Poll::Pending;
            };
            if Instant::now() >= deadline {
                this.flush();
                continue;
            }
            match this.sleep.as_mut() {
                Some(s) => s.as_mut().reset(deadline),
                None => this.sleep = Some(Box::pin(sleep_until(deadline))),
            }
            let sleep = this.sleep.as_mut().expect("set above");
            match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => this.flush(),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl fmt::Debug for Debounced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Debounced")
            .field("watcher", &self.watcher)
            .field("window", &self.window)
            .field("waiting", &self.slots.len())
            .finish()
    }
}

use std::future::Future;
