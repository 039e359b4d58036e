//! `kq::fs_watch::Watcher` on real files in fresh temporary directories: create, modify,
//! metadata, remove and rename within a directory, across directories, into and out of the
//! tree; new directory trees (the nested `mkdir -p` race, ×20); a 10,000-file burst; kernel
//! queue overflow (`Rescan` then the differences); root removal; unwatch; errors; and the
//! descriptor and watch counts.
#![cfg(target_os = "linux")]

use kq::fs_watch::{EntryKind, Event, EventKind, ModifyKind, RecursiveMode, Watcher};
use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod fs_watch_util;
use fs_watch_util::*;

/// Each basic operation inside a watched directory is exactly one event of the right kind.
#[kq::test]
async fn create_modify_metadata_remove() {
    let dir = TempDir::new("basic");
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    let f = dir.join("f");
    fs::write(&f, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &f).await;
    OpenOptions::new()
        .append(true)
        .open(&f)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    expect_event(&mut w, EventKind::Modify(ModifyKind::Data), &f).await;
    fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
    expect_event(&mut w, EventKind::Modify(ModifyKind::Metadata), &f).await;
    fs::remove_file(&f).unwrap();
    expect_event(&mut w, EventKind::Remove(EntryKind::File), &f).await;
    let d = dir.join("d");
    fs::create_dir(&d).unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::Dir), &d).await;
    fs::remove_dir(&d).unwrap();
    expect_event(&mut w, EventKind::Remove(EntryKind::Dir), &d).await;
    #[cfg(unix)]
    {
        let l = dir.join("l");
        std::os::unix::fs::symlink("nowhere", &l).unwrap();
        expect_event(&mut w, EventKind::Create(EntryKind::Other), &l).await;
    }
    assert_quiet(&mut w, QUIET).await;
}

/// A rename inside one directory is one paired `Rename`.
#[kq::test]
async fn rename_within_a_directory() {
    let dir = TempDir::new("rename-in");
    fs::write(dir.join("a"), b"").unwrap();
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    fs::rename(dir.join("a"), dir.join("b")).unwrap();
    let ev = next_event(&mut w).await;
    assert_rename(&ev, &dir.join("a"), &dir.join("b"));
    assert_quiet(&mut w, QUIET).await;
}

/// A rename between two watched directories is one paired `Rename`; a renamed directory
/// keeps being watched under its new name.
#[kq::test]
async fn rename_across_directories() {
    let dir = TempDir::new("rename-x");
    fs::create_dir_all(dir.join("x/sub")).unwrap();
    fs::create_dir(dir.join("y")).unwrap();
    fs::write(dir.join("x/f"), b"").unwrap();
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    fs::rename(dir.join("x/f"), dir.join("y/g")).unwrap();
    assert_rename(
        &next_event(&mut w).await,
        &dir.join("x/f"),
        &dir.join("y/g"),
    );
    fs::rename(dir.join("x/sub"), dir.join("y/moved")).unwrap();
    assert_rename(
        &next_event(&mut w).await,
        &dir.join("x/sub"),
        &dir.join("y/moved"),
    );
    let inside = dir.join("y/moved/new");
    fs::write(&inside, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &inside).await;
    assert_quiet(&mut w, QUIET).await;
}

/// Out of the tree: `RenamedOut` (and the directory's watch is released); into the tree:
/// `RenamedIn`, a directory's contents as `Create`, and it is watched from then on.
#[kq::test]
async fn rename_out_of_and_into_the_tree() {
    let dir = TempDir::new("rename-io");
    let (root, outside) = (dir.join("root"), dir.join("outside"));
    fs::create_dir_all(root.join("d")).unwrap();
    fs::create_dir_all(outside.join("e")).unwrap();
    fs::write(root.join("f"), b"").unwrap();
    fs::write(outside.join("e/inner"), b"").unwrap();
    let mut w = Watcher::new().unwrap();
    w.watch(&root, RecursiveMode::Recursive).unwrap();
    assert_eq!(w.watched(), 2);

    fs::rename(root.join("f"), outside.join("f")).unwrap();
    expect_event(&mut w, EventKind::RenamedOut, &root.join("f")).await;
    fs::rename(root.join("d"), outside.join("d")).unwrap();
    expect_event(&mut w, EventKind::RenamedOut, &root.join("d")).await;
    assert_eq!(
        w.watched(),
        1,
        "the moved-out directory is no longer watched"
    );

    fs::rename(outside.join("e"), root.join("e")).unwrap();
    expect_event(&mut w, EventKind::RenamedIn, &root.join("e")).await;
    expect_event(
        &mut w,
        EventKind::Create(EntryKind::File),
        &root.join("e/inner"),
    )
    .await;
    let later = root.join("e/later");
    fs::write(&later, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &later).await;
    assert_quiet(&mut w, QUIET).await;
}

/// The nested-directory race (notify issue #727), 20 times: `mkdir -p a/b/c/d && touch
/// a/b/c/d/f` is reported in full — every directory and the file, each exactly once.
#[kq::test]
async fn nested_mkdir_is_reported_in_full() {
    let dir = TempDir::new("nested");
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    for i in 0..20 {
        let top = dir.join(&format!("a{i}"));
        let deep = top.join("b/c/d");
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("f"), b"").unwrap();
        let want: Vec<PathBuf> = vec![
            top.clone(),
            top.join("b"),
            top.join("b/c"),
            deep.clone(),
            deep.join("f"),
        ];
        let creates = collect_creates(&mut w, &want).await;
        for p in &want {
            let n = creates.iter().filter(|c| *c == p).count();
            assert_eq!(
                n,
                1,
                "try {i}: {} reported {n} times: {creates:?}",
                p.display()
            );
        }
    }
}

/// A deep `mkdir -p` (40 levels) with a file at the bottom: every level and the file are
/// reported, each once.
#[kq::test]
async fn deep_mkdir_is_reported_in_full() {
    let dir = TempDir::new("deep");
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    let mut want = Vec::new();
    let mut p = dir.path().to_path_buf();
    for i in 0..40 {
        p.push(format!("level{i}"));
        want.push(p.clone());
    }
    fs::create_dir_all(&p).unwrap();
    fs::write(p.join("bottom"), b"").unwrap();
    want.push(p.join("bottom"));
    let creates = collect_creates(&mut w, &want).await;
    assert_eq!(creates.len(), want.len(), "each reported once: {creates:?}");
    assert_eq!(w.kernel_watches().unwrap(), 41);
}

/// 10,000 files created as fast as possible: every one is reported, as a `Create` or (if
/// the kernel's queue overflowed) by the re-scan that follows `Rescan`.
#[kq::test]
async fn burst_of_ten_thousand_files() {
    let dir = TempDir::new("burst");
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    let want: HashSet<PathBuf> = (0..10_000).map(|i| dir.join(&format!("f{i}"))).collect();
    for p in &want {
        fs::File::create(p).unwrap();
    }
    let mut seen = HashSet::new();
    let mut rescans = 0;
    while seen.len() < want.len() {
        let ev = next_event(&mut w).await;
        match ev.kind {
            EventKind::Create(EntryKind::File) => {
                assert!(seen.insert(ev.paths[0].clone()), "duplicate {ev:?}");
            }
            EventKind::Rescan { .. } => rescans += 1,
            EventKind::Modify(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, want, "rescans: {rescans}");
}

/// Overflow is never silent and heals itself: while the watcher is not polled, far more
/// events than the kernel queues happen; the watcher then reports `Rescan` for the root,
/// followed by exactly the differences (files created and removed meanwhile).
#[kq::test]
async fn overflow_reports_rescan_then_the_differences() {
    let max: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(16384);
    if max > 200_000 {
        eprintln!("max_queued_events is {max}: too large to overflow quickly, skipped");
        return;
    }
    let dir = TempDir::new("overflow");
    fs::create_dir(dir.join("sub")).unwrap();
    for i in 0..10 {
        fs::write(dir.join(&format!("old{i}")), b"").unwrap();
    }
    fs::write(dir.join("kept"), b"").unwrap();
    // Files found by the initial read are not stat'ed (kind and inode come from the
    // listing); a write lost in the overflow is still found, by its modification time.
    std::thread::sleep(Duration::from_millis(200));
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    // Not polled meanwhile: the kernel's queue overflows.
    let mut a = fs::File::create(dir.join("sub/a")).unwrap();
    let mut b = fs::File::create(dir.join("sub/b")).unwrap();
    for _ in 0..max / 2 + 16 {
        a.write_all(b"x").unwrap();
        b.write_all(b"x").unwrap();
    }
    // After the flood, with the kernel's queue full: these are lost for sure.
    for i in 0..10 {
        fs::remove_file(dir.join(&format!("old{i}"))).unwrap();
        fs::write(dir.join(&format!("new{i}")), b"").unwrap();
    }
    let kept = dir.join("kept");
    OpenOptions::new()
        .append(true)
        .open(&kept)
        .unwrap()
        .write_all(b"more")
        .unwrap();
    let first_rescan = loop {
        let ev = next_event(&mut w).await;
        if let EventKind::Rescan { root } = &ev.kind {
            assert_eq!(root, dir.path());
            break ev;
        }
    };
    assert_eq!(first_rescan.paths, [dir.path()]);
    // After the Rescan, every difference is named (the records that survived the overflow
    // may have named some already, before it).
    let mut created = HashSet::new();
    let mut removed = HashSet::new();
    let want_created: HashSet<PathBuf> = (0..10).map(|i| dir.join(&format!("new{i}"))).collect();
    let want_removed: HashSet<PathBuf> = (0..10).map(|i| dir.join(&format!("old{i}"))).collect();
    let events = drain(&mut w, QUIET).await;
    for ev in &events {
        match ev.kind {
            EventKind::Create(_) => {
                created.insert(ev.paths[0].clone());
            }
            EventKind::Remove(_) => {
                removed.insert(ev.paths[0].clone());
            }
            _ => {}
        }
    }
    assert!(created.is_superset(&want_created), "created {created:?}");
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Modify(ModifyKind::Data) && e.paths == [kept.clone()]),
        "the write lost in the overflow is reported: {:?}",
        events
            .iter()
            .filter(|e| !e.paths[0].starts_with(dir.join("sub")))
            .collect::<Vec<_>>()
    );
    assert!(
        !events
            .iter()
            .any(|e| e.kind == EventKind::Modify(ModifyKind::Data) && e.paths == [dir.join("sub")]),
        "directories are not reported as written"
    );
    assert!(removed.is_superset(&want_removed), "removed {removed:?}");
    // The tree is right again: a new change is reported normally.
    let after = dir.join("after");
    fs::write(&after, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &after).await;
}

/// A removed root is reported once and forgotten; the other roots keep working, and
/// unwatching the removed root is `NotFound`.
#[kq::test]
async fn root_removal_keeps_other_roots() {
    let dir = TempDir::new("roots");
    let (a, b) = (dir.join("a"), dir.join("b"));
    fs::create_dir_all(a.join("sub")).unwrap();
    fs::create_dir(&b).unwrap();
    fs::write(a.join("sub/f"), b"").unwrap();
    let mut w = Watcher::new().unwrap();
    w.watch(&a, RecursiveMode::Recursive).unwrap();
    w.watch(&b, RecursiveMode::Recursive).unwrap();
    fs::remove_dir_all(&a).unwrap();
    let events = collect_until(&mut w, |evs| {
        evs.iter()
            .any(|e| e.kind == EventKind::Remove(EntryKind::Dir) && e.paths == [a.clone()])
    })
    .await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Remove(EntryKind::File) && e.paths == [a.join("sub/f")]),
        "{events:?}"
    );
    assert_eq!(w.watched(), 1);
    let f = b.join("f");
    fs::write(&f, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &f).await;
    assert_eq!(w.unwatch(&a).unwrap_err().kind(), ErrorKind::NotFound);

    // A renamed root: `RenamedOut`, then forgotten.
    fs::rename(&b, dir.join("b2")).unwrap();
    expect_event(&mut w, EventKind::RenamedOut, &b).await;
    assert_eq!(w.watched(), 0);
    assert_eq!(w.kernel_watches().unwrap(), 0);
}

/// After `unwatch`, nothing more is reported and no kernel watch is left.
#[kq::test]
async fn unwatch_releases_everything() {
    let dir = TempDir::new("unwatch");
    fs::create_dir_all(dir.join("x/y")).unwrap();
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    assert_eq!(w.kernel_watches().unwrap(), 3);
    w.unwatch(dir.path()).unwrap();
    assert_eq!(w.watched(), 0);
    assert_eq!(w.kernel_watches().unwrap(), 0);
    fs::write(dir.join("x/y/f"), b"").unwrap();
    fs::write(dir.join("g"), b"").unwrap();
    assert_quiet(&mut w, QUIET).await;
    // Watched again: works.
    w.watch(dir.path(), RecursiveMode::NonRecursive).unwrap();
    assert_eq!(
        w.kernel_watches().unwrap(),
        1,
        "non-recursive: the root only"
    );
    fs::write(dir.join("x/y/h"), b"").unwrap();
    let h = dir.join("h");
    fs::write(&h, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &h).await;
}

/// Bad input: a missing path is `NotFound`, a root watched twice `AlreadyExists`, an unknown
/// root `NotFound`; outside a runtime `Watcher::new` is an error, not a panic.
#[test]
fn errors_are_clear() {
    assert!(Watcher::new().is_err());
    let rt = kq::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = TempDir::new("errors");
        let mut w = Watcher::new().unwrap();
        let e = w
            .watch(dir.join("missing"), RecursiveMode::Recursive)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
        let e = w.watch(dir.path(), RecursiveMode::Recursive).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        let e = w.unwatch(dir.join("other")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    });
}

/// A watched file (not a directory): writes, attributes, removal.
#[kq::test]
async fn watching_a_single_file() {
    let dir = TempDir::new("file");
    let f = dir.join("f");
    fs::write(&f, b"").unwrap();
    let mut w = Watcher::new().unwrap();
    w.watch(&f, RecursiveMode::NonRecursive).unwrap();
    OpenOptions::new()
        .append(true)
        .open(&f)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    expect_event(&mut w, EventKind::Modify(ModifyKind::Data), &f).await;
    fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
    expect_event(&mut w, EventKind::Modify(ModifyKind::Metadata), &f).await;
    fs::remove_file(&f).unwrap();
    let evs = collect_until(&mut w, |evs| {
        evs.iter()
            .any(|e| e.kind == EventKind::Remove(EntryKind::File))
    })
    .await;
    assert_eq!(evs.last().unwrap().paths, [f]);
    assert_eq!(w.watched(), 0);
}

/// No descriptor per directory: a recursive watch of 300 directories holds 300 inotify
/// watches and opens (almost) no descriptor.
#[kq::test]
async fn no_descriptor_per_directory() {
    let dir = TempDir::new("fds");
    for i in 0..300 {
        fs::create_dir_all(dir.join(&format!("d{}/e{i}", i % 10))).unwrap();
    }
    let before = open_fds();
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    let after = open_fds();
    assert_eq!(w.kernel_watches().unwrap(), 311);
    // The kqueue (epoll, eventfd) and its inotify instance, plus slack for other
    // tests running in parallel: far below one per directory.
    assert!(
        after < before + 20,
        "{before} descriptors before, {after} after"
    );
    drop(w);
}

/// Events of a path given relative to the current directory are relative too (as given).
#[kq::test]
async fn event_paths_start_with_the_root_as_given() {
    let dir = TempDir::new("paths");
    let mut w = Watcher::new().unwrap();
    let root: &Path = dir.path();
    w.watch(root, RecursiveMode::Recursive).unwrap();
    fs::create_dir(root.join("d")).unwrap();
    let ev: Event = next_event(&mut w).await;
    assert!(ev.paths[0].starts_with(root));
    assert_quiet(&mut w, Duration::from_millis(50)).await;
}

/// On the multi-thread runtime (the watcher's task and the thread turning the driver may
/// differ, and the watcher's kqueue is read while the runtime's kqueue peeks at it): the
/// nested race (×20) and a burst of 2,000 files are reported in full, repeatedly.
#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_runtime_reports_everything() {
    let dir = TempDir::new("mt");
    let mut w = Watcher::new().unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    for i in 0..20 {
        let deep = dir.join(&format!("a{i}/b/c/d"));
        fs::create_dir_all(&deep).unwrap();
        let f = deep.join("f");
        fs::write(&f, b"").unwrap();
        collect_until(&mut w, |evs| {
            evs.iter()
                .any(|e| matches!(e.kind, EventKind::Create(_)) && e.paths == [f.clone()])
        })
        .await;
        // Single writes with the consumer idle in between: each must wake it.
        let g = dir.join(&format!("g{i}"));
        kq::time::sleep(Duration::from_millis(2)).await;
        fs::write(&g, b"").unwrap();
        collect_until(&mut w, |evs| {
            evs.iter()
                .any(|e| matches!(e.kind, EventKind::Create(_)) && e.paths == [g.clone()])
        })
        .await;
    }
    let want: HashSet<PathBuf> = (0..2_000).map(|i| dir.join(&format!("m{i}"))).collect();
    for p in &want {
        fs::File::create(p).unwrap();
    }
    let mut seen = HashSet::new();
    while !want.is_subset(&seen) {
        let ev = next_event(&mut w).await;
        if let EventKind::Create(_) = ev.kind {
            seen.insert(ev.paths[0].clone());
        }
    }
}
