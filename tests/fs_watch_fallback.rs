//! A root that cannot be watched natively — here, no inotify instance is left for this
//! user (`fs.inotify.max_user_instances`, `EMFILE`) — is polled instead: `watch` succeeds,
//! holds no kernel watch, and its events still come. (Its own test binary: it takes every
//! inotify instance the user may have for a moment.)
#![cfg(target_os = "linux")]

use kq::fs_watch::{EntryKind, EventKind, PollOptions, RecursiveMode, Watcher};
use std::fs;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

mod fs_watch_util;
use fs_watch_util::*;

/// Creates inotify instances until the kernel refuses one, and keeps them.
fn exhaust_inotify_instances() -> Result<Vec<OwnedFd>, std::io::Error> {
    let mut held = Vec::new();
    loop {
        // SAFETY: inotify_init1 has no preconditions; the result is checked.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        if fd < 0 {
            return match std::io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::EMFILE) => Ok(held),
                e => Err(e),
            };
        }
        // SAFETY: a fresh descriptor owned from here on.
        held.push(unsafe { OwnedFd::from_raw_fd(fd) });
        assert!(held.len() < 1 << 20, "no inotify instance limit");
    }
}

#[kq::test]
async fn a_root_is_polled_when_no_inotify_instance_is_left() {
    let dir = TempDir::new("fallback");
    let mut w = Watcher::new().unwrap();
    w.set_poll_options(PollOptions::new(Duration::from_millis(20)));
    let held = exhaust_inotify_instances().expect("inotify_init1");
    let res = w.watch(dir.path(), RecursiveMode::Recursive);
    let watches = w.kernel_watches();
    drop(held);
    res.expect("watch falls back to polling");
    assert_eq!(watches.unwrap(), 0, "no kernel watch: the root is polled");
    let f = dir.join("f");
    fs::write(&f, b"x").unwrap();
    expect_event(&mut w, EventKind::Create(EntryKind::File), &f).await;
    w.unwatch(dir.path()).unwrap();
}
