//! `Watcher::debounced`: per-path coalescing on real files — a burst of writes is one
//! `Modify`; atomic saves (a temporary file renamed over the original as VS Code and
//! `sed -i` do, and vim's rename-away-then-write, simulated and with the real `vim`) are one
//! `Modify(Data)` of the original path; create-then-delete is nothing; a plain rename stays
//! a `Rename`; a new file written is one `Create`.
#![cfg(target_os = "linux")]

use kq::fs_watch::{Debounced, EntryKind, Event, EventKind, ModifyKind, RecursiveMode, Watcher};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod fs_watch_util;
use fs_watch_util::*;

const WINDOW: Duration = Duration::from_millis(50);

fn debounced(root: &Path) -> Debounced {
    let mut w = Watcher::new().unwrap();
    w.watch(root, RecursiveMode::Recursive).unwrap();
    w.debounced(WINDOW)
}

/// Every event until none came for 6 windows (bounded by `LONG`).
async fn settle(d: &mut Debounced) -> Vec<Event> {
    let deadline = std::time::Instant::now() + LONG;
    let mut out = Vec::new();
    while std::time::Instant::now() < deadline {
        match kq::time::timeout(WINDOW * 6, d.next()).await {
            Ok(Some(Ok(ev))) => out.push(ev),
            Ok(Some(Err(e))) => panic!("error: {e}"),
            _ => break,
        }
    }
    out
}

fn one_modify(events: &[Event], path: &Path) {
    assert_eq!(
        events,
        [Event {
            kind: EventKind::Modify(ModifyKind::Data),
            paths: vec![path.to_path_buf()]
        }],
        "expected exactly one Modify(Data) of {}",
        path.display()
    );
}

#[kq::test]
async fn burst_of_writes_is_one_modify() {
    let dir = TempDir::new("db-burst");
    let f = dir.join("f");
    fs::write(&f, b"").unwrap();
    let mut d = debounced(dir.path());
    let mut file = OpenOptions::new().append(true).open(&f).unwrap();
    for _ in 0..100 {
        file.write_all(b"x").unwrap();
    }
    one_modify(&settle(&mut d).await, &f);
}

/// VS Code-style atomic save: write a temporary file in the same directory, rename it over
/// the original.
#[kq::test]
async fn temp_file_renamed_over_is_one_modify() {
    let dir = TempDir::new("db-atomic");
    let f = dir.join("file.txt");
    fs::write(&f, b"old").unwrap();
    let mut d = debounced(dir.path());
    let tmp = dir.join(".file.txt.tmp-1234");
    fs::write(&tmp, b"new contents").unwrap();
    fs::rename(&tmp, &f).unwrap();
    one_modify(&settle(&mut d).await, &f);
}

/// vim's save with `writebackup` and `backupcopy=no`: rename the original to `file~`,
/// write a new `file`, delete `file~` (simulated step by step).
#[kq::test]
async fn vim_style_save_is_one_modify() {
    let dir = TempDir::new("db-vim");
    let f = dir.join("file.txt");
    let backup = dir.join("file.txt~");
    fs::write(&f, b"old").unwrap();
    let mut d = debounced(dir.path());
    // vim's probe that the directory is writable.
    fs::write(dir.join("4913"), b"").unwrap();
    fs::remove_file(dir.join("4913")).unwrap();
    fs::rename(&f, &backup).unwrap();
    fs::write(&f, b"new").unwrap();
    fs::set_permissions(&f, fs::metadata(&backup).unwrap().permissions()).unwrap();
    fs::remove_file(&backup).unwrap();
    one_modify(&settle(&mut d).await, &f);
}

/// The real vim, told to save with a backup renamed away (`backupcopy=no`).
#[kq::test]
async fn real_vim_save_is_one_modify() {
    if Command::new("vim").arg("--version").output().is_err() {
        eprintln!("vim is not installed: skipped");
        return;
    }
    let dir = TempDir::new("db-realvim");
    let f = dir.join("file.txt");
    fs::write(&f, b"old\n").unwrap();
    let mut d = debounced(dir.path());
    let status = Command::new("vim")
        .args(["-u", "NONE", "-i", "NONE", "-n", "-es"])
        .args(["-c", "set nocompatible backupcopy=no writebackup"])
        .args(["-c", "normal! Anew"])
        .args(["-c", "wq"])
        .arg(&f)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(fs::read_to_string(&f).unwrap(), "oldnew\n");
    one_modify(&settle(&mut d).await, &f);
}

/// `sed -i` writes a temporary file and renames it over the original.
#[kq::test]
async fn sed_in_place_is_one_modify() {
    let dir = TempDir::new("db-sed");
    let f = dir.join("conf");
    fs::write(&f, b"a=1\n").unwrap();
    let mut d = debounced(dir.path());
    let status = Command::new("sed")
        .args(["-i", "s/1/2/"])
        .arg(&f)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(fs::read_to_string(&f).unwrap(), "a=2\n");
    one_modify(&settle(&mut d).await, &f);
}

#[kq::test]
async fn create_then_delete_is_nothing() {
    let dir = TempDir::new("db-nothing");
    let mut d = debounced(dir.path());
    let f = dir.join("short-lived");
    fs::write(&f, b"x").unwrap();
    fs::remove_file(&f).unwrap();
    fs::create_dir_all(dir.join("t/u")).unwrap();
    fs::remove_dir_all(dir.join("t")).unwrap();
    let events = settle(&mut d).await;
    assert!(events.is_empty(), "{events:?}");
    // Still working afterwards.
    let g = dir.join("g");
    fs::write(&g, b"x").unwrap();
    assert_eq!(
        settle(&mut d).await,
        [Event {
            kind: EventKind::Create(EntryKind::File),
            paths: vec![g]
        }]
    );
}

#[kq::test]
async fn plain_rename_stays_a_rename() {
    let dir = TempDir::new("db-rename");
    let (a, b) = (dir.join("a"), dir.join("b"));
    fs::write(&a, b"x").unwrap();
    let mut d = debounced(dir.path());
    fs::rename(&a, &b).unwrap();
    assert_eq!(
        settle(&mut d).await,
        [Event {
            kind: EventKind::Rename {
                from: a.clone(),
                to: b.clone()
            },
            paths: vec![a, b]
        }]
    );
}

#[kq::test]
async fn new_file_written_is_one_create() {
    let dir = TempDir::new("db-create");
    let mut d = debounced(dir.path());
    let f = dir.join("f");
    let mut file = fs::File::create(&f).unwrap();
    for _ in 0..10 {
        file.write_all(b"x").unwrap();
    }
    assert_eq!(
        settle(&mut d).await,
        [Event {
            kind: EventKind::Create(EntryKind::File),
            paths: vec![f]
        }]
    );
}
