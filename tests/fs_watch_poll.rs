//! `kq::fs_watch::PollWatcher` (and polled roots of a `Watcher`) on real files: the same
//! event model as the native watcher — create, modify, metadata, remove, renames paired by
//! inode, root removal — and the optional content hash catching a write that keeps the size
//! and the modification time.
#![cfg(target_os = "linux")]

use kq::fs_watch::{
    EntryKind, Event, EventKind, ModifyKind, PollOptions, PollWatcher, RecursiveMode, Watcher,
};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

mod fs_watch_util;
use fs_watch_util::*;

const INTERVAL: Duration = Duration::from_millis(20);

async fn next_polled(w: &mut PollWatcher) -> Event {
    match kq::time::timeout(LONG, w.next()).await {
        Ok(Some(Ok(ev))) => ev,
        other => panic!("no event: {other:?}"),
    }
}

async fn expect_polled(w: &mut PollWatcher, kind: EventKind, path: &Path) {
    let ev = next_polled(w).await;
    assert_eq!((ev.kind, ev.paths), (kind, vec![path.to_path_buf()]));
}

async fn quiet_polled(w: &mut PollWatcher) {
    if let Ok(ev) = kq::time::timeout(INTERVAL * 6, w.next()).await {
        panic!("expected no event, got {ev:?}");
    }
}

#[kq::test]
async fn poll_watcher_reports_the_same_events() {
    let dir = TempDir::new("poll");
    fs::create_dir(dir.join("d")).unwrap();
    let mut w = PollWatcher::new(PollOptions::new(INTERVAL));
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    let f = dir.join("d/f");
    fs::write(&f, b"").unwrap();
    expect_polled(&mut w, EventKind::Create(EntryKind::File), &f).await;
    OpenOptions::new()
        .append(true)
        .open(&f)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    expect_polled(&mut w, EventKind::Modify(ModifyKind::Data), &f).await;
    fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
    expect_polled(&mut w, EventKind::Modify(ModifyKind::Metadata), &f).await;
    let g = dir.join("g");
    fs::rename(&f, &g).unwrap();
    let ev = next_polled(&mut w).await;
    assert_eq!(
        ev.kind,
        EventKind::Rename {
            from: f.clone(),
            to: g.clone()
        }
    );
    fs::remove_file(&g).unwrap();
    expect_polled(&mut w, EventKind::Remove(EntryKind::File), &g).await;
    // A directory renamed as a whole is one Rename.
    fs::rename(dir.join("d"), dir.join("e")).unwrap();
    let ev = next_polled(&mut w).await;
    assert_eq!(ev.paths, [dir.join("d"), dir.join("e")]);
    quiet_polled(&mut w).await;
    // Created and removed between two scans: nothing.
    fs::write(dir.join("brief"), b"").unwrap();
    fs::remove_file(dir.join("brief")).unwrap();
    quiet_polled(&mut w).await;
}

#[kq::test]
async fn poll_root_removal_and_unwatch() {
    let dir = TempDir::new("poll-root");
    let (a, b) = (dir.join("a"), dir.join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    let mut w = PollWatcher::new(PollOptions::new(INTERVAL));
    w.watch(&a, RecursiveMode::Recursive).unwrap();
    w.watch(&b, RecursiveMode::Recursive).unwrap();
    assert_eq!(
        w.watch(&b, RecursiveMode::Recursive).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        w.watch(dir.join("none"), RecursiveMode::Recursive)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    fs::remove_dir(&a).unwrap();
    expect_polled(&mut w, EventKind::Remove(EntryKind::Dir), &a).await;
    assert_eq!(w.unwatch(&a).unwrap_err().kind(), ErrorKind::NotFound);
    let f = b.join("f");
    fs::write(&f, b"").unwrap();
    expect_polled(&mut w, EventKind::Create(EntryKind::File), &f).await;
    w.unwatch(&b).unwrap();
    fs::write(b.join("g"), b"").unwrap();
    quiet_polled(&mut w).await;
}

/// A write that keeps the size and the modification time is invisible to metadata, and
/// seen with the content hash.
#[kq::test]
async fn content_hash_catches_same_size_same_mtime_writes() {
    for hash in [false, true] {
        let dir = TempDir::new("poll-hash");
        let f = dir.join("f");
        fs::write(&f, b"aaaa").unwrap();
        let mtime = fs::metadata(&f).unwrap().modified().unwrap();
        let mut w = PollWatcher::new(PollOptions::new(INTERVAL).content_hash(hash));
        w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
        let file = OpenOptions::new().write(true).open(&f).unwrap();
        std::os::unix::fs::FileExt::write_at(&file, b"bbbb", 0).unwrap();
        file.set_modified(mtime).unwrap();
        if hash {
            expect_polled(&mut w, EventKind::Modify(ModifyKind::Data), &f).await;
        } else {
            // The change time moved (set_modified is a metadata change): at most that.
            match kq::time::timeout(INTERVAL * 6, w.next()).await {
                Err(_) => {}
                Ok(Some(Ok(ev))) => {
                    assert_eq!(ev.kind, EventKind::Modify(ModifyKind::Metadata), "{ev:?}")
                }
                Ok(other) => panic!("{other:?}"),
            }
        }
    }
}

/// A polled root of a `Watcher` reports through the same stream as its native roots.
#[kq::test]
async fn watcher_mixes_polled_and_native_roots() {
    let dir = TempDir::new("poll-mixed");
    let (native, polled) = (dir.join("native"), dir.join("polled"));
    fs::create_dir(&native).unwrap();
    fs::create_dir(&polled).unwrap();
    let mut w = Watcher::new().unwrap();
    w.set_poll_options(PollOptions::new(INTERVAL));
    w.watch(&native, RecursiveMode::Recursive).unwrap();
    w.watch_polled(&polled, RecursiveMode::Recursive).unwrap();
    assert_eq!(
        w.kernel_watches().unwrap(),
        1,
        "the polled root holds no watch"
    );
    assert_eq!(
        w.watch(&polled, RecursiveMode::Recursive)
            .unwrap_err()
            .kind(),
        ErrorKind::AlreadyExists
    );
    let (a, b) = (native.join("a"), polled.join("b"));
    fs::write(&a, b"").unwrap();
    fs::write(&b, b"").unwrap();
    let evs = collect_until(&mut w, |evs| evs.len() >= 2).await;
    let mut got: Vec<_> = evs.into_iter().map(|e| (e.kind, e.paths)).collect();
    got.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(
        got,
        vec![
            (EventKind::Create(EntryKind::File), vec![a]),
            (EventKind::Create(EntryKind::File), vec![b]),
        ]
    );
    w.unwatch(&polled).unwrap();
    fs::write(polled.join("c"), b"").unwrap();
    assert_quiet(&mut w, INTERVAL * 6).await;
}
