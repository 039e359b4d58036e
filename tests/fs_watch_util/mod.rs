//! Helpers shared by the `fs_watch*` tests: temporary directories and bounded waits on a
//! watcher's events. Every assertion helper is `#[track_caller]`-free async, so failures
//! name the event that was wrong.

#![allow(dead_code, unreachable_pub)]

use kq::fs_watch::{Event, EventKind, Watcher};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bound of a wait for an event that must come (generous: CI machines are slow).
pub const LONG: Duration = Duration::from_secs(10);
/// How long nothing must happen for "no (more) events" to hold.
pub const QUIET: Duration = Duration::from_millis(150);

/// A directory under `std::env::temp_dir()` with a unique name, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "kq-fs-watch-{}-{tag}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The next event, which must come within [`LONG`] and not be an error.
pub async fn next_event(w: &mut Watcher) -> Event {
    match kq::time::timeout(LONG, w.next()).await {
        Ok(Some(Ok(ev))) => ev,
        Ok(Some(Err(e))) => panic!("the watcher reported an error: {e}"),
        Ok(None) => panic!("the watcher's stream ended"),
        Err(_) => panic!("no event within {LONG:?}"),
    }
}

/// The next event must be `kind` for exactly `path`.
pub async fn expect_event(w: &mut Watcher, kind: EventKind, path: &Path) {
    let ev = next_event(w).await;
    assert_eq!(
        (&ev.kind, ev.paths.as_slice()),
        (&kind, [path.to_path_buf()].as_slice()),
        "unexpected event"
    );
}

/// Nothing is reported for `quiet`.
pub async fn assert_quiet(w: &mut Watcher, quiet: Duration) {
    if let Ok(ev) = kq::time::timeout(quiet, w.next()).await {
        panic!("expected no event, got {ev:?}");
    }
}

/// Every event until nothing came for `quiet` (bounded by [`LONG`] in all).
pub async fn drain(w: &mut Watcher, quiet: Duration) -> Vec<Event> {
    let deadline = std::time::Instant::now() + LONG;
    let mut out = Vec::new();
    while std::time::Instant::now() < deadline {
        match kq::time::timeout(quiet, w.next()).await {
            Ok(Some(Ok(ev))) => out.push(ev),
            Ok(Some(Err(e))) => panic!("the watcher reported an error: {e}"),
            _ => break,
        }
    }
    out
}

/// Events until `done` holds for the events collected (or [`LONG`] passes: panics).
pub async fn collect_until(w: &mut Watcher, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let mut out = Vec::new();
    while !done(&out) {
        out.push(next_event(w).await);
    }
    out
}

/// The paths of the `Create` events until every path of `want` was created, then for a
/// short quiet time more (so duplicates would show).
pub async fn collect_creates(w: &mut Watcher, want: &[PathBuf]) -> Vec<PathBuf> {
    let mut creates = Vec::new();
    while !want.iter().all(|p| creates.contains(p)) {
        let ev = next_event(w).await;
        if let EventKind::Create(_) = ev.kind {
            creates.push(ev.paths[0].clone());
        }
    }
    for ev in drain(w, Duration::from_millis(30)).await {
        if let EventKind::Create(_) = ev.kind {
            creates.push(ev.paths[0].clone());
        }
    }
    creates
}

/// The event is a paired rename `from` → `to`.
pub fn assert_rename(ev: &Event, from: &Path, to: &Path) {
    assert_eq!(
        ev.kind,
        EventKind::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf()
        },
        "{ev:?}"
    );
    assert_eq!(ev.paths, [from.to_path_buf(), to.to_path_buf()]);
}

/// The number of descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}
