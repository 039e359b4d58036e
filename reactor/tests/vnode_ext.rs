//! kq's extension to `EVFILT_VNODE` (not in the FreeBSD checklist): vnodes named by path
//! (`Kqueue::vnode_open`/`vnode_close`), directory child records (`NOTE_KQ_CHILDREN`,
//! `Kqueue::vnode_children`) and the overflow indication (`NOTE_KQ_OVERFLOW`). Real files
//! in fresh temporary directories.
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    ChildEvent, ChildOp, EV_ADD, EV_CLEAR, EV_DELETE, EVFILT_VNODE, Kevent, Kqueue, NOTE_ATTRIB,
    NOTE_DELETE, NOTE_EXTEND, NOTE_KQ_CHILDREN, NOTE_KQ_OVERFLOW, NOTE_LINK, NOTE_RENAME,
    NOTE_WRITE,
};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use util::*;

const MOD_MASK: u32 =
    NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME;

fn add(kq: &Kqueue, ident: usize, fflags: u32) {
    apply(
        kq,
        &[kev(ident, EVFILT_VNODE, EV_ADD | EV_CLEAR, fflags, 0)],
    );
}

/// Waits for the one event of `ident` and returns its fflags.
#[track_caller]
fn expect_fflags(kq: &Kqueue, ident: usize) -> u32 {
    let ev = expect_one(kq, LONG);
    assert_names(&ev, ident, EVFILT_VNODE);
    ev.fflags
}

/// Collects the child records of `ident` until `pred` holds on all of them (or 5 s pass).
#[track_caller]
fn children_until(
    kq: &Kqueue,
    ident: usize,
    pred: impl Fn(&[ChildEvent]) -> bool,
) -> Vec<ChildEvent> {
    let deadline = Instant::now() + LONG;
    let mut all = Vec::new();
    while !pred(&all) && Instant::now() < deadline {
        let _ = wait(kq, 64, Duration::from_millis(50));
        let got = kq.vnode_children(ident).unwrap();
        assert!(!got.lost, "no record may be lost here");
        all.extend(got.events);
    }
    all
}

fn ops(evs: &[ChildEvent]) -> Vec<(String, ChildOp, bool)> {
    evs.iter()
        .map(|e| (e.name.to_string_lossy().into_owned(), e.op, e.is_dir))
        .collect()
}

/// A path ident's knote reports a directory's changes like a descriptor's would, and a
/// file's write/extend, attribute, rename and delete.
#[test]
fn path_ident_behaves_like_a_descriptor() {
    let dir = TempDir::new("vx-basic");
    let kq = Kqueue::new().unwrap();
    let d = kq.vnode_open(dir.path()).unwrap();
    assert!(
        d >= 1 << (usize::BITS - 1),
        "a path ident is outside the fd range: {d:#x}"
    );
    add(&kq, d, MOD_MASK);
    assert_no_events(&kq);
    fs::create_dir(dir.join("sub")).unwrap();
    assert_eq!(expect_fflags(&kq, d), NOTE_WRITE | NOTE_LINK);

    let path = dir.join("f");
    fs::write(&path, b"a").unwrap();
    let _ = poll(&kq, 8);
    let f = kq.vnode_open(&path).unwrap();
    add(&kq, f, MOD_MASK);
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"bc")
        .unwrap();
    assert_eq!(expect_fflags(&kq, f), NOTE_WRITE | NOTE_EXTEND);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(expect_fflags(&kq, f), NOTE_ATTRIB);
    let moved = dir.join("g");
    fs::rename(&path, &moved).unwrap();
    let evs = wait(&kq, 8, LONG);
    let fe = evs
        .iter()
        .find(|e| e.ident == f)
        .expect("the file's rename is reported");
    assert_eq!(fe.fflags & NOTE_RENAME, NOTE_RENAME, "{fe:?}");
    // The ident follows the inode: a write after the rename is still seen.
    let _ = poll(&kq, 8);
    OpenOptions::new()
        .append(true)
        .open(&moved)
        .unwrap()
        .write_all(b"d")
        .unwrap();
    assert_eq!(expect_fflags(&kq, f) & NOTE_WRITE, NOTE_WRITE);
    fs::remove_file(&moved).unwrap();
    let deadline = Instant::now() + LONG;
    let mut seen = 0;
    while seen & NOTE_DELETE == 0 && Instant::now() < deadline {
        for e in wait(&kq, 8, Duration::from_millis(100)) {
            if e.ident == f {
                seen |= e.fflags;
            }
        }
    }
    assert_eq!(
        seen & NOTE_DELETE,
        NOTE_DELETE,
        "unlinking the file reports NOTE_DELETE"
    );
    kq.vnode_close(f).unwrap();
    kq.vnode_close(d).unwrap();
}

/// A removed directory watched by path reports NOTE_DELETE at once: kq holds no descriptor
/// that would delay inotify's IN_DELETE_SELF (unlike a knote on a descriptor).
#[test]
fn rmdir_of_path_ident_reports_delete() {
    let dir = TempDir::new("vx-rmdir");
    let sub = dir.join("sub");
    fs::create_dir(&sub).unwrap();
    let kq = Kqueue::new().unwrap();
    let d = kq.vnode_open(&sub).unwrap();
    add(&kq, d, NOTE_DELETE);
    fs::remove_dir(&sub).unwrap();
    assert_eq!(expect_fflags(&kq, d), NOTE_DELETE);
    kq.vnode_close(d).unwrap();
}

/// NOTE_KQ_CHILDREN records every entry created, written, changed, renamed and removed, in
/// order, with the directory flag and the rename cookie pairing both ends.
#[test]
fn children_records_name_what_changed() {
    let dir = TempDir::new("vx-children");
    let kq = Kqueue::new().unwrap();
    let d = kq.vnode_open(dir.path()).unwrap();
    add(&kq, d, NOTE_WRITE | NOTE_KQ_CHILDREN);

    fs::write(dir.join("a"), b"1").unwrap();
    OpenOptions::new()
        .append(true)
        .open(dir.join("a"))
        .unwrap()
        .write_all(b"2")
        .unwrap();
    fs::set_permissions(dir.join("a"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::create_dir(dir.join("d")).unwrap();
    fs::rename(dir.join("a"), dir.join("b")).unwrap();
    fs::remove_file(dir.join("b")).unwrap();
    fs::remove_dir(dir.join("d")).unwrap();

    let ev = expect_one(&kq, LONG);
    assert_names(&ev, d, EVFILT_VNODE);
    assert_ne!(ev.fflags & NOTE_KQ_CHILDREN, 0, "{ev:?}");
    let all = children_until(&kq, d, |a| {
        a.iter().any(|e| e.op == ChildOp::Delete && e.name == "d")
    });
    let seen = ops(&all);
    let s = |n: &str, op, dir| (n.to_string(), op, dir);
    // A write may be reported as more than one record; everything else exactly once, in order.
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(
        dedup,
        vec![
            s("a", ChildOp::Create, false),
            s("a", ChildOp::Modify, false),
            s("a", ChildOp::Attrib, false),
            s("d", ChildOp::Create, true),
            s("a", ChildOp::MovedFrom, false),
            s("b", ChildOp::MovedTo, false),
            s("b", ChildOp::Delete, false),
            s("d", ChildOp::Delete, true),
        ],
        "records: {all:?}"
    );
    let from = all.iter().find(|e| e.op == ChildOp::MovedFrom).unwrap();
    let to = all.iter().find(|e| e.op == ChildOp::MovedTo).unwrap();
    assert_eq!(from.cookie, to.cookie);
    assert_ne!(from.cookie, 0);
    assert!(
        all.windows(2).all(|w| w[0].seq < w[1].seq),
        "seq increases: {all:?}"
    );
    kq.vnode_close(d).unwrap();
}

/// A rename between two watched directories pairs by cookie across idents, and `seq`
/// orders records of both.
#[test]
fn cross_directory_rename_pairs_by_cookie() {
    let dir = TempDir::new("vx-cross");
    fs::create_dir(dir.join("x")).unwrap();
    fs::create_dir(dir.join("y")).unwrap();
    fs::write(dir.join("x/f"), b"").unwrap();
    let kq = Kqueue::new().unwrap();
    let x = kq.vnode_open(&dir.join("x")).unwrap();
    let y = kq.vnode_open(&dir.join("y")).unwrap();
    add(&kq, x, NOTE_WRITE | NOTE_KQ_CHILDREN);
    add(&kq, y, NOTE_WRITE | NOTE_KQ_CHILDREN);
    fs::rename(dir.join("x/f"), dir.join("y/g")).unwrap();
    let a = children_until(&kq, x, |a| !a.is_empty());
    let b = children_until(&kq, y, |b| !b.is_empty());
    assert_eq!(ops(&a), vec![("f".into(), ChildOp::MovedFrom, false)]);
    assert_eq!(ops(&b), vec![("g".into(), ChildOp::MovedTo, false)]);
    assert_eq!(a[0].cookie, b[0].cookie);
    assert!(a[0].seq < b[0].seq);
    kq.vnode_close(x).unwrap();
    kq.vnode_close(y).unwrap();
}

/// Closing idents removes the kernel's watches (counted by the kernel itself), two idents
/// on one inode share one watch, and a closed ident is `EBADF` everywhere.
#[test]
fn close_releases_watches() {
    let dir = TempDir::new("vx-close");
    let kq = Kqueue::new().unwrap();
    assert_eq!(kq.vnode_watches().unwrap(), 0);
    let a = kq.vnode_open(dir.path()).unwrap();
    let b = kq.vnode_open(dir.path()).unwrap();
    assert_ne!(a, b);
    assert_eq!(kq.vnode_watches().unwrap(), 1, "one inode, one watch");
    add(&kq, a, NOTE_WRITE | NOTE_KQ_CHILDREN);
    add(&kq, b, NOTE_WRITE);
    kq.vnode_close(a).unwrap();
    assert_eq!(kq.vnode_watches().unwrap(), 1, "b still uses the watch");
    fs::write(dir.join("f"), b"").unwrap();
    assert_eq!(expect_fflags(&kq, b), NOTE_WRITE);
    kq.vnode_close(b).unwrap();
    assert_eq!(kq.vnode_watches().unwrap(), 0);

    let ebadf = |r: std::io::Result<()>| r.unwrap_err().raw_os_error();
    assert_eq!(ebadf(kq.vnode_close(a)), Some(libc::EBADF));
    assert_eq!(
        kq.vnode_children(a).unwrap_err().raw_os_error(),
        Some(libc::EBADF)
    );
    assert_eq!(
        change_errno(&kq, kev(a, EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0)),
        libc::EBADF
    );
    // A descriptor number, or an ident never opened, is refused, never closed.
    let file = fs::File::open(dir.path()).unwrap();
    assert_eq!(
        ebadf(kq.vnode_close(file.as_raw_fd() as usize)),
        Some(libc::EBADF)
    );
    assert_eq!(ebadf(kq.vnode_close(usize::MAX)), Some(libc::EBADF));
    assert!(fs::metadata(format!("/proc/self/fd/{}", file.as_raw_fd())).is_ok());
}

/// `vnode_close` deletes the knote, including a pending event; EV_DELETE stops collecting.
#[test]
fn close_and_delete_drop_knote_and_records() {
    let dir = TempDir::new("vx-delete");
    let kq = Kqueue::new().unwrap();
    let d = kq.vnode_open(dir.path()).unwrap();
    add(&kq, d, NOTE_WRITE | NOTE_KQ_CHILDREN);
    fs::write(dir.join("f"), b"").unwrap();
    // Let the hint arrive and queue the knote, then delete it: nothing is delivered and no
    // record stays behind.
    std::thread::sleep(Duration::from_millis(20));
    apply(&kq, &[kev(d, EVFILT_VNODE, EV_DELETE, 0, 0)]);
    assert_no_events(&kq);
    fs::write(dir.join("g"), b"").unwrap();
    assert!(wait(&kq, 8, Duration::from_millis(100)).is_empty());
    assert_eq!(kq.vnode_children(d).unwrap().events, vec![]);
    // Re-added: only what happens from now on.
    add(&kq, d, NOTE_WRITE | NOTE_KQ_CHILDREN);
    fs::write(dir.join("h"), b"").unwrap();
    let got = children_until(&kq, d, |a| !a.is_empty());
    assert_eq!(got[0].name, "h");
    fs::write(dir.join("i"), b"").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    kq.vnode_close(d).unwrap();
    assert_no_events(&kq);
}

/// Bad input is an error, never a panic.
#[test]
fn bad_input_is_an_error() {
    let dir = TempDir::new("vx-bad");
    let kq = Kqueue::new().unwrap();
    let e = kq.vnode_open(&dir.join("missing")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = kq.vnode_open(std::path::Path::new("a\0b")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // Child records are for path idents only.
    let file = fs::File::open(dir.path()).unwrap();
    let c = kev(
        ident_of(&file),
        EVFILT_VNODE,
        EV_ADD,
        NOTE_WRITE | NOTE_KQ_CHILDREN,
        0,
    );
    assert_eq!(change_errno(&kq, c), libc::EINVAL);
    // A change naming an ident that was never opened.
    let bogus = (1usize << (usize::BITS - 1)) | 12345;
    assert_eq!(
        change_errno(&kq, kev(bogus, EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0)),
        libc::EBADF
    );
    assert_eq!(kq.vnode_watches().unwrap(), 0);
}

/// Overflow is never silent: more events than the kernel's queue holds (alternating writes
/// to two files defeat inotify's merging of identical events) make the knote carry
/// `NOTE_KQ_OVERFLOW` and `vnode_children` report records lost.
#[test]
fn kernel_queue_overflow_is_reported() {
    let max: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(16384);
    if max > 200_000 {
        eprintln!("max_queued_events is {max}: too large to overflow quickly, skipped");
        return;
    }
    let dir = TempDir::new("vx-overflow");
    let kq = Kqueue::new().unwrap();
    let d = kq.vnode_open(dir.path()).unwrap();
    add(&kq, d, NOTE_WRITE | NOTE_KQ_CHILDREN);
    let mut a = fs::File::create(dir.join("a")).unwrap();
    let mut b = fs::File::create(dir.join("b")).unwrap();
    // The kqueue is not read meanwhile, so the kernel's queue fills up.
    for _ in 0..max / 2 + 16 {
        a.write_all(b"x").unwrap();
        b.write_all(b"x").unwrap();
    }
    let evs = wait(&kq, 8, LONG);
    let ev = evs
        .iter()
        .find(|e| e.ident == d)
        .expect("the directory's knote fires");
    assert_ne!(ev.fflags & NOTE_KQ_OVERFLOW, 0, "{ev:?}");
    assert_ne!(ev.fflags & NOTE_KQ_CHILDREN, 0, "{ev:?}");
    let got = kq.vnode_children(d).unwrap();
    assert!(got.lost, "records were lost");
    assert!(
        !kq.vnode_children(d).unwrap().lost,
        "taking the records resets `lost`"
    );
    kq.vnode_close(d).unwrap();
}

/// A kqueue with path idents holds no descriptor per watched directory: opening 200 of them
/// opens no descriptor (the inotify instance is created by the first).
#[test]
fn path_idents_cost_no_descriptors() {
    let dir = TempDir::new("vx-fds");
    for i in 0..200 {
        fs::create_dir(dir.join(&format!("d{i}"))).unwrap();
    }
    let kq = Kqueue::new().unwrap();
    let first = kq.vnode_open(&dir.join("d0")).unwrap();
    let fds = fs::read_dir("/proc/self/fd").unwrap().count();
    let idents: Vec<usize> = (1..200)
        .map(|i| kq.vnode_open(&dir.join(&format!("d{i}"))).unwrap())
        .collect();
    assert_eq!(kq.vnode_watches().unwrap(), 200);
    // Other tests run in parallel threads and may open descriptors: allow a little slack,
    // far below one per directory.
    let after = fs::read_dir("/proc/self/fd").unwrap().count();
    assert!(
        after < fds + 20,
        "{fds} descriptors before, {after} after 199 idents"
    );
    for ident in idents {
        kq.vnode_close(ident).unwrap();
    }
    kq.vnode_close(first).unwrap();
    assert_eq!(kq.vnode_watches().unwrap(), 0);
}

/// Sanity: a plain Kevent debug print works for idents with the top bit set.
#[test]
fn path_ident_events_are_plain_kevents() {
    let dir = TempDir::new("vx-plain");
    let kq = Kqueue::new().unwrap();
    let d = kq.vnode_open(dir.path()).unwrap();
    apply(
        &kq,
        &[Kevent::new(
            d,
            EVFILT_VNODE,
            EV_ADD,
            NOTE_WRITE,
            0,
            7 as *mut _,
        )],
    );
    fs::write(dir.join("f"), b"").unwrap();
    let ev = expect_one(&kq, LONG);
    assert_eq!(ev.udata as usize, 7, "udata comes back untouched: {ev:?}");
    kq.vnode_close(d).unwrap();
}
