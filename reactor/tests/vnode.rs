//! Conformance tests for `EVFILT_VNODE` (checklist rows V01–V09) on files and directories,
//! in fresh temporary directories. `fflags` must be exactly the events that happened, within
//! what was requested (FreeBSD's `VOP_*_post` hints).
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH, EV_ENABLE, EVFILT_VNODE, Kevent, Kqueue,
    NOTE_ATTRIB, NOTE_CLOSE, NOTE_CLOSE_WRITE, NOTE_DELETE, NOTE_EXTEND, NOTE_LINK, NOTE_OPEN,
    NOTE_READ, NOTE_RENAME, NOTE_REVOKE, NOTE_WRITE,
};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::Path;
use util::*;

/// Every "modification" event (no open/read/close).
const MOD_MASK: u32 =
    NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME | NOTE_REVOKE;
/// Every vnode event.
const ALL_MASK: u32 = MOD_MASK | NOTE_OPEN | NOTE_CLOSE | NOTE_CLOSE_WRITE | NOTE_READ;

/// Registers an `EV_CLEAR` vnode knote on `fd` for `fflags`.
fn watch(kq: &Kqueue, fd: &impl AsRawFd, fflags: u32) {
    change(kq, fd, EV_ADD | EV_CLEAR, fflags);
}

/// Applies one vnode change on `fd` (a modify also replaces the saved fflags).
fn change(kq: &Kqueue, fd: &impl AsRawFd, flags: u16, fflags: u32) {
    apply(kq, &[kev(ident_of(fd), EVFILT_VNODE, flags, fflags, 0)]);
}

/// Waits for the one vnode event of `fd` and asserts its `fflags` are exactly `want`.
#[track_caller]
fn expect_vnode(kq: &Kqueue, fd: &impl AsRawFd, want: u32) -> Kevent {
    let ev = expect_one(kq, LONG);
    assert_names(&ev, ident_of(fd), EVFILT_VNODE);
    assert_eq!(
        ev.fflags, want,
        "fflags {:#x} expected {want:#x}: {ev:?}",
        ev.fflags
    );
    ev
}

/// Creates a file with `content` and opens it read-only.
fn file_with(path: &Path, content: &[u8]) -> File {
    fs::write(path, content).unwrap();
    File::open(path).unwrap()
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// V01: NOTE_WRITE and NOTE_EXTEND — appending to a file reports exactly WRITE|EXTEND.
#[test]
fn v01_note_write_and_extend() {
    let dir = TempDir::new("v01");
    let path = dir.join("f");
    let f = file_with(&path, b"");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, MOD_MASK);
    let mut w = OpenOptions::new().append(true).open(&path).unwrap();
    w.write_all(b"hello").unwrap();
    expect_vnode(&kq, &f, NOTE_WRITE | NOTE_EXTEND);
    assert_no_events(&kq);
}

/// V01: NOTE_WRITE without growth — an in-place overwrite reports exactly NOTE_WRITE.
#[test]
fn v01_overwrite_is_write_without_extend() {
    let dir = TempDir::new("v01b");
    let path = dir.join("f");
    let f = file_with(&path, b"hello");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, MOD_MASK);
    let w = OpenOptions::new().write(true).open(&path).unwrap();
    w.write_at(b"J", 0).unwrap();
    expect_vnode(&kq, &f, NOTE_WRITE);
    assert_no_events(&kq);
}

/// V02: NOTE_ATTRIB — chmod of a file reports exactly NOTE_ATTRIB.
#[test]
fn v02_note_attrib() {
    let dir = TempDir::new("v02");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, MOD_MASK);
    chmod(&path, 0o600);
    expect_vnode(&kq, &f, NOTE_ATTRIB);
    assert_no_events(&kq);
}

/// V02 (directory): NOTE_ATTRIB — chmod of a directory reports exactly NOTE_ATTRIB.
#[test]
fn v02_dir_note_attrib() {
    let dir = TempDir::new("v02d");
    let sub = dir.join("d");
    fs::create_dir(&sub).unwrap();
    let d = File::open(&sub).unwrap();
    let kq = Kqueue::new().unwrap();
    watch(&kq, &d, MOD_MASK);
    chmod(&sub, 0o700);
    expect_vnode(&kq, &d, NOTE_ATTRIB);
    assert_no_events(&kq);
}

/// V03: NOTE_RENAME — renaming the watched file reports exactly NOTE_RENAME.
#[test]
fn v03_note_rename() {
    let dir = TempDir::new("v03");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, MOD_MASK);
    fs::rename(&path, dir.join("g")).unwrap();
    expect_vnode(&kq, &f, NOTE_RENAME);
    assert_no_events(&kq);
}

/// V03 (directory): NOTE_RENAME — renaming the watched directory reports exactly NOTE_RENAME.
#[test]
fn v03_dir_note_rename() {
    let dir = TempDir::new("v03d");
    let sub = dir.join("d");
    fs::create_dir(&sub).unwrap();
    let d = File::open(&sub).unwrap();
    let kq = Kqueue::new().unwrap();
    watch(&kq, &d, MOD_MASK);
    fs::rename(&sub, dir.join("e")).unwrap();
    expect_vnode(&kq, &d, NOTE_RENAME);
    assert_no_events(&kq);
}

/// V04: NOTE_DELETE — unlinking the (open) watched file reports NOTE_DELETE.
#[test]
fn v04_note_delete() {
    let dir = TempDir::new("v04");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, NOTE_DELETE | NOTE_WRITE | NOTE_RENAME);
    fs::remove_file(&path).unwrap();
    expect_vnode(&kq, &f, NOTE_DELETE);
    assert_no_events(&kq);
}

/// V04: unlink reports only NOTE_DELETE even when NOTE_LINK and NOTE_ATTRIB are requested
/// (FreeBSD's `vop_remove_post` sends NOTE_DELETE alone to the file).
#[test]
fn v04_note_delete_is_exact() {
    let dir = TempDir::new("v04b");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, MOD_MASK);
    fs::remove_file(&path).unwrap();
    expect_vnode(&kq, &f, NOTE_DELETE);
    assert_no_events(&kq);
}

/// V04 extra: a rename over the watched file deletes it → NOTE_DELETE.
#[test]
fn v04_rename_over_is_delete() {
    let dir = TempDir::new("v04c");
    let target = dir.join("t");
    let f = file_with(&target, b"old");
    fs::write(dir.join("s"), b"new").unwrap();
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, NOTE_DELETE | NOTE_WRITE | NOTE_RENAME);
    fs::rename(dir.join("s"), &target).unwrap();
    expect_vnode(&kq, &f, NOTE_DELETE);
    assert_no_events(&kq);
}

/// V05: NOTE_LINK — a new hard link to the watched file reports NOTE_LINK.
#[test]
fn v05_note_link() {
    let dir = TempDir::new("v05");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, NOTE_LINK | NOTE_DELETE | NOTE_WRITE | NOTE_RENAME);
    fs::hard_link(&path, dir.join("g")).unwrap();
    expect_vnode(&kq, &f, NOTE_LINK);
    assert_no_events(&kq);
}

/// V05: link(2) reports only NOTE_LINK even when NOTE_ATTRIB is requested (FreeBSD's
/// `vop_link_post` sends NOTE_LINK alone to the file).
#[test]
fn v05_note_link_is_exact() {
    let dir = TempDir::new("v05b");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, MOD_MASK);
    fs::hard_link(&path, dir.join("g")).unwrap();
    expect_vnode(&kq, &f, NOTE_LINK);
    assert_no_events(&kq);
}

/// A watched directory `w` inside a fresh temp dir, with its kqueue and descriptor.
struct Watched {
    tmp: TempDir,
    fd: File,
    kq: Kqueue,
}

impl Watched {
    /// Creates `tmp/w` (plus `tmp/other`), runs `setup` on `w`, then watches `w` for every
    /// vnode event.
    fn new(tag: &str, setup: impl FnOnce(&Path)) -> Watched {
        let tmp = TempDir::new(tag);
        fs::create_dir(tmp.join("w")).unwrap();
        fs::create_dir(tmp.join("other")).unwrap();
        setup(&tmp.join("w"));
        let fd = File::open(tmp.join("w")).unwrap();
        let kq = Kqueue::new().unwrap();
        watch(&kq, &fd, ALL_MASK);
        Watched { tmp, fd, kq }
    }

    fn w(&self, name: &str) -> std::path::PathBuf {
        self.tmp.join("w").join(name)
    }

    fn other(&self, name: &str) -> std::path::PathBuf {
        self.tmp.join("other").join(name)
    }

    #[track_caller]
    fn expect(&self, want: u32) {
        expect_vnode(&self.kq, &self.fd, want);
        assert_no_events(&self.kq);
    }
}

/// V06: directory NOTE_WRITE — creating a file in it: WRITE only (no LINK).
#[test]
fn v06_dir_write_on_file_create() {
    let d = Watched::new("v06a", |_| {});
    fs::write(d.w("f"), b"data").unwrap();
    d.expect(NOTE_WRITE);
}

/// V06: directory NOTE_WRITE — deleting a file in it: WRITE only (no LINK).
#[test]
fn v06_dir_write_on_file_delete() {
    let d = Watched::new("v06b", |w| fs::write(w.join("f"), b"x").unwrap());
    fs::remove_file(d.w("f")).unwrap();
    d.expect(NOTE_WRITE);
}

/// V06: directory NOTE_WRITE — renaming a file within it: WRITE only (no EXTEND, no LINK).
#[test]
fn v06_dir_write_on_file_rename_within() {
    let d = Watched::new("v06c", |w| fs::write(w.join("f"), b"x").unwrap());
    fs::rename(d.w("f"), d.w("g")).unwrap();
    d.expect(NOTE_WRITE);
}

/// V06: directory — a file moved in: WRITE|EXTEND.
#[test]
fn v06_dir_write_extend_on_file_mv_in() {
    let d = Watched::new("v06d", |_| {});
    fs::write(d.other("f"), b"x").unwrap();
    assert_no_events(&d.kq);
    fs::rename(d.other("f"), d.w("f")).unwrap();
    d.expect(NOTE_WRITE | NOTE_EXTEND);
}

/// V06: directory — a file moved out: WRITE|EXTEND.
#[test]
fn v06_dir_write_extend_on_file_mv_out() {
    let d = Watched::new("v06e", |w| fs::write(w.join("f"), b"x").unwrap());
    fs::rename(d.w("f"), d.other("f")).unwrap();
    d.expect(NOTE_WRITE | NOTE_EXTEND);
}

/// V06: a directory is not notified of writes, attribute changes, opens or reads of the
/// files inside it.
#[test]
fn v06_dir_no_event_on_child_activity() {
    let d = Watched::new("v06f", |w| fs::write(w.join("f"), b"x").unwrap());
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .open(d.w("f"))
        .unwrap();
    f.write_all(b"more").unwrap();
    let mut buf = Vec::new();
    File::open(d.w("f")).unwrap().read_to_end(&mut buf).unwrap();
    chmod(&d.w("f"), 0o600);
    drop(f);
    assert_no_events(&d.kq);
}

/// V07: directory NOTE_LINK — creating a subdirectory: WRITE|LINK.
#[test]
fn v07_dir_link_on_subdir_create() {
    let d = Watched::new("v07a", |_| {});
    fs::create_dir(d.w("sub")).unwrap();
    d.expect(NOTE_WRITE | NOTE_LINK);
}

/// V07: directory NOTE_LINK — removing a subdirectory: WRITE|LINK.
#[test]
fn v07_dir_link_on_subdir_delete() {
    let d = Watched::new("v07b", |w| fs::create_dir(w.join("sub")).unwrap());
    fs::remove_dir(d.w("sub")).unwrap();
    d.expect(NOTE_WRITE | NOTE_LINK);
}

/// V07: directory — a subdirectory moved out: WRITE|EXTEND|LINK.
#[test]
fn v07_dir_link_on_subdir_mv_out() {
    let d = Watched::new("v07c", |w| fs::create_dir(w.join("sub")).unwrap());
    fs::rename(d.w("sub"), d.other("sub")).unwrap();
    d.expect(NOTE_WRITE | NOTE_EXTEND | NOTE_LINK);
}

/// V07: directory — a subdirectory moved in: WRITE|EXTEND|LINK.
#[test]
fn v07_dir_link_on_subdir_mv_in() {
    let d = Watched::new("v07d", |_| {});
    fs::create_dir(d.other("sub")).unwrap();
    assert_no_events(&d.kq);
    fs::rename(d.other("sub"), d.w("sub")).unwrap();
    d.expect(NOTE_WRITE | NOTE_EXTEND | NOTE_LINK);
}

/// V07: directory — renaming a subdirectory within it: WRITE only (no LINK).
#[test]
fn v07_dir_no_link_on_subdir_rename_within() {
    let d = Watched::new("v07e", |w| fs::create_dir(w.join("sub")).unwrap());
    fs::rename(d.w("sub"), d.w("sub2")).unwrap();
    d.expect(NOTE_WRITE);
}

/// V08: NOTE_OPEN, NOTE_READ, NOTE_CLOSE — open read-only, read, close, each reported.
#[test]
fn v08_note_open_read_close() {
    let dir = TempDir::new("v08");
    let path = dir.join("f");
    let f = file_with(&path, b"hello");
    let kq = Kqueue::new().unwrap();
    let mask = NOTE_OPEN | NOTE_READ | NOTE_CLOSE | NOTE_CLOSE_WRITE | NOTE_WRITE;
    watch(&kq, &f, mask);
    assert_no_events(&kq);
    let mut r = File::open(&path).unwrap();
    expect_vnode(&kq, &f, NOTE_OPEN);
    let mut buf = [0u8; 5];
    r.read_exact(&mut buf).unwrap();
    expect_vnode(&kq, &f, NOTE_READ);
    drop(r);
    expect_vnode(&kq, &f, NOTE_CLOSE);
    assert_no_events(&kq);
}

/// V08: NOTE_OPEN, NOTE_WRITE, NOTE_CLOSE_WRITE — open for writing, write in place, close.
#[test]
fn v08_note_open_write_close_write() {
    let dir = TempDir::new("v08b");
    let path = dir.join("f");
    let f = file_with(&path, b"hello");
    let kq = Kqueue::new().unwrap();
    let mask = NOTE_OPEN | NOTE_READ | NOTE_CLOSE | NOTE_CLOSE_WRITE | NOTE_WRITE;
    watch(&kq, &f, mask);
    let w = OpenOptions::new().write(true).open(&path).unwrap();
    expect_vnode(&kq, &f, NOTE_OPEN);
    w.write_at(b"J", 0).unwrap();
    expect_vnode(&kq, &f, NOTE_WRITE);
    drop(w);
    expect_vnode(&kq, &f, NOTE_CLOSE_WRITE);
    assert_no_events(&kq);
}

/// V08: events that happen before retrieval are merged into one event (open + close).
#[test]
fn v08_open_close_coalesce() {
    let dir = TempDir::new("v08c");
    let path = dir.join("f");
    let f = file_with(&path, b"hello");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, NOTE_OPEN | NOTE_CLOSE | NOTE_CLOSE_WRITE);
    drop(OpenOptions::new().append(true).open(&path).unwrap());
    expect_vnode(&kq, &f, NOTE_OPEN | NOTE_CLOSE_WRITE);
    assert_no_events(&kq);
}

/// V09: EV_DELETE — after deleting the knote, activity reports nothing.
#[test]
fn v09_add_delete() {
    let dir = TempDir::new("v09a");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, NOTE_ATTRIB | NOTE_WRITE);
    change(&kq, &f, EV_DELETE, 0);
    chmod(&path, 0o600);
    fs::write(&path, b"yy").unwrap();
    assert_no_events(&kq);
}

/// V09: re-adding an existing vnode knote replaces the requested fflags (as F04).
#[test]
fn v09_readd_replaces_fflags() {
    let dir = TempDir::new("v09e");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, NOTE_ATTRIB);
    watch(&kq, &f, NOTE_WRITE | NOTE_EXTEND);
    chmod(&path, 0o600);
    assert_no_events(&kq);
    let mut w = OpenOptions::new().append(true).open(&path).unwrap();
    w.write_all(b"y").unwrap();
    expect_vnode(&kq, &f, NOTE_WRITE | NOTE_EXTEND);
    assert_no_events(&kq);
}

/// V09: EV_DISABLE / EV_ENABLE (as F05) — no event while disabled; events after enable.
#[test]
fn v09_disable_enable() {
    let dir = TempDir::new("v09b");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    watch(&kq, &f, NOTE_ATTRIB);
    // As in kevent(2), a modify (EV_DISABLE, EV_ENABLE) also replaces the saved fflags: pass
    // them again.
    change(&kq, &f, EV_DISABLE, NOTE_ATTRIB);
    chmod(&path, 0o600);
    assert_no_events(&kq);
    change(&kq, &f, EV_ENABLE, NOTE_ATTRIB);
    chmod(&path, 0o644);
    expect_vnode(&kq, &f, NOTE_ATTRIB);
    assert_no_events(&kq);
}

/// V09: EV_DISPATCH (as F12) — one event, then disabled; EV_DELETE of the disabled knote
/// succeeds.
#[test]
fn v09_dispatch() {
    let dir = TempDir::new("v09c");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    change(&kq, &f, EV_ADD | EV_DISPATCH | EV_CLEAR, NOTE_ATTRIB);
    chmod(&path, 0o600);
    let ev = expect_vnode(&kq, &f, NOTE_ATTRIB);
    assert_ne!(
        ev.flags & EV_DISPATCH,
        0,
        "EV_DISPATCH is kept in the returned flags: {ev:?}"
    );
    chmod(&path, 0o644);
    assert_no_events(&kq);
    assert_eq!(
        change_errno(&kq, kev(ident_of(&f), EVFILT_VNODE, EV_DELETE, 0, 0)),
        0
    );
    chmod(&path, 0o600);
    assert_no_events(&kq);
}

/// V09: EV_DISPATCH — activity while auto-disabled is recorded ("the filter itself is not
/// disabled") and reported when the knote is re-enabled.
#[test]
fn v09_dispatch_records_while_disabled() {
    let dir = TempDir::new("v09d");
    let path = dir.join("f");
    let f = file_with(&path, b"x");
    let kq = Kqueue::new().unwrap();
    change(&kq, &f, EV_ADD | EV_DISPATCH | EV_CLEAR, NOTE_ATTRIB);
    chmod(&path, 0o600);
    expect_vnode(&kq, &f, NOTE_ATTRIB);
    chmod(&path, 0o644);
    assert_no_events(&kq);
    change(&kq, &f, EV_ENABLE, NOTE_ATTRIB);
    expect_vnode(&kq, &f, NOTE_ATTRIB);
    assert_no_events(&kq);
}

/// Bad input: a vnode knote on a closed descriptor → EBADF.
#[test]
fn vnode_closed_fd_ebadf() {
    let kq = Kqueue::new().unwrap();
    let fd = closed_fd();
    assert_eq!(
        change_errno(&kq, kev(fd as usize, EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0)),
        libc::EBADF
    );
}
