//! `kq::fs_watch::Filter` on real trees: excluded directories are never watched (the kernel
//! watch count shows it) nor reported; include patterns select the files reported;
//! `.gitignore` files (and `.git`) are honoured, including one edited while watching.
#![cfg(target_os = "linux")]

use kq::fs_watch::{EntryKind, EventKind, Filter, RecursiveMode, Watcher};
use std::fs;

mod fs_watch_util;
use fs_watch_util::*;

#[kq::test]
async fn excluded_directories_cost_nothing() {
    let dir = TempDir::new("flt-exclude");
    for d in ["src/a", "target/debug/deps", "target/release"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let filter = Filter::new().exclude("target/").unwrap();
    let mut w = Watcher::with_filter(filter).unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    assert_eq!(
        w.kernel_watches().unwrap(),
        3,
        "the root, src and src/a only"
    );
    fs::write(dir.join("target/debug/deps/x"), b"").unwrap();
    fs::create_dir(dir.join("target/new")).unwrap();
    let f = dir.join("src/a/main.rs");
    fs::write(&f, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &f).await;
    // A directory created under an excluded name is not watched either.
    fs::create_dir_all(dir.join("src/target/deep")).unwrap();
    fs::write(dir.join("src/target/deep/y"), b"").unwrap();
    assert_quiet(&mut w, QUIET).await;
    assert_eq!(w.kernel_watches().unwrap(), 3);
}

#[kq::test]
async fn include_patterns_select_reported_files() {
    let dir = TempDir::new("flt-include");
    let filter = Filter::new().include("*.rs").unwrap();
    let mut w = Watcher::with_filter(filter).unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    fs::write(dir.join("notes.txt"), b"").unwrap();
    let d = dir.join("src");
    fs::create_dir(&d).unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::Dir), &d).await;
    fs::write(d.join("readme.md"), b"").unwrap();
    let f = d.join("lib.rs");
    fs::write(&f, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &f).await;
    assert_quiet(&mut w, QUIET).await;
}

#[kq::test]
async fn gitignore_files_are_honoured() {
    let dir = TempDir::new("flt-gitignore");
    fs::write(dir.join(".gitignore"), "build/\n*.log\n!keep.log\n").unwrap();
    fs::create_dir_all(dir.join("build/out")).unwrap();
    fs::create_dir_all(dir.join(".git/objects")).unwrap();
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("sub/.gitignore"), "local/\n").unwrap();
    fs::create_dir_all(dir.join("sub/local")).unwrap();
    let mut w = Watcher::with_filter(Filter::new().gitignore(true)).unwrap();
    w.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    assert_eq!(
        w.kernel_watches().unwrap(),
        2,
        "the root and sub: not build/, .git/ or sub/local/"
    );
    fs::write(dir.join("build/out/a.o"), b"").unwrap();
    fs::write(dir.join("sub/local/x"), b"").unwrap();
    fs::write(dir.join("debug.log"), b"").unwrap();
    fs::write(dir.join(".git/HEAD"), b"").unwrap();
    let keep = dir.join("keep.log");
    fs::write(&keep, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &keep).await;
    assert_quiet(&mut w, QUIET).await;

    // Editing a .gitignore applies to what happens next.
    let gi = dir.join(".gitignore");
    fs::write(&gi, "build/\n*.log\n!keep.log\n*.tmp\n").unwrap();
    let evs = drain(&mut w, QUIET).await;
    assert!(evs.iter().all(|e| e.paths == [gi.clone()]), "{evs:?}");
    fs::write(dir.join("scratch.tmp"), b"").unwrap();
    let txt = dir.join("a.txt");
    fs::write(&txt, b"").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &txt).await;
    assert_quiet(&mut w, QUIET).await;
}

#[test]
fn bad_patterns_are_errors() {
    assert_eq!(
        Filter::new().include("").unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    assert_eq!(
        Filter::new().exclude("a[b").unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
}
