//! A kqueue's descriptor and timers: a watched kqueue creates the timerfd that makes an
//! expiring timer visible through its descriptor only when a timer needs it. (Its own test
//! binary: it counts the process's timerfds.)
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{EV_ADD, EV_ONESHOT, EVFILT_TIMER, EVFILT_USER, Kqueue};
use std::os::fd::AsRawFd;
use std::time::Duration;
use util::*;

fn timerfds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l.to_string_lossy().contains("timerfd"))
        .count()
}

#[test]
fn a_watched_kqueue_creates_its_timerfd_with_its_first_timer() {
    let before = timerfds();
    let kq = Kqueue::new().unwrap();
    let fd = kq.as_raw_fd();
    apply(&kq, &[kev(1, EVFILT_USER, EV_ADD, 0, 0)]);
    assert_eq!(timerfds(), before, "no timer, no timerfd");
    apply(&kq, &[kev(2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 20)]);
    assert_eq!(timerfds(), before + 1, "the first timer creates it");
    // The expiry makes the descriptor readable with nobody in kevent.
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 5_000) };
    assert_eq!(n, 1, "readable when the timer expires");
    let evs = wait(&kq, 4, Duration::ZERO);
    assert!(evs.iter().any(|e| e.filter == EVFILT_TIMER), "{evs:?}");
    drop(kq);
    assert_eq!(timerfds(), before, "closed with the kqueue");
}
