//! `Kqueue::add_alias` (Linux): a duplicate of a kqueue's descriptor, handed out by kq's C
//! library, is watched as that kqueue; a closed alias whose number is reused is not.
#![cfg(target_os = "linux")]

use kq_reactor::{
    EV_ADD, EV_ERROR, EV_RECEIPT, EVFILT_READ, EVFILT_USER, Kevent, Kqueue, NOTE_TRIGGER,
};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;
use std::time::Duration;

const ZERO: Kevent = Kevent::new(0, 0, 0, 0, 0, ptr::null_mut());

fn dup(fd: BorrowedFd<'_>) -> OwnedFd {
    fd.try_clone_to_owned().expect("dup")
}

fn apply(kq: &Kqueue, c: Kevent) {
    let mut c = c;
    c.flags |= EV_RECEIPT;
    let mut out = [ZERO];
    assert_eq!(kq.kevent(&[c], &mut out, None).unwrap(), 1);
    assert_eq!((out[0].flags, out[0].data), (EV_ERROR, 0), "{:?}", out[0]);
}

#[test]
fn an_alias_is_watched_as_its_kqueue() {
    let watched = Kqueue::new().unwrap();
    let alias = dup(watched.as_fd());
    watched.add_alias(alias.as_fd()).unwrap();
    let watcher = Kqueue::new().unwrap();
    let fd = alias.as_raw_fd() as usize;
    apply(
        &watcher,
        Kevent::new(fd, EVFILT_READ, EV_ADD, 0, 0, ptr::null_mut()),
    );
    let mut ev = [ZERO; 2];
    assert_eq!(
        watcher.kevent(&[], &mut ev, Some(Duration::ZERO)).unwrap(),
        0
    );
    for id in [1, 2] {
        apply(
            &watched,
            Kevent::new(id, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, ptr::null_mut()),
        );
    }
    let n = watcher
        .kevent(&[], &mut ev, Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(n, 1);
    // The pending count, as for the kqueue's own descriptor: only a kqueue knows it.
    assert_eq!((ev[0].ident, ev[0].data), (fd, 2));
}

#[test]
fn only_a_duplicate_can_be_an_alias() {
    let kq = Kqueue::new().unwrap();
    let other = Kqueue::new().unwrap();
    let err = kq.add_alias(other.as_fd()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = kq.add_alias(kq.as_fd()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn a_reused_alias_number_is_not_the_kqueue() {
    let watched = Kqueue::new().unwrap();
    let alias = dup(watched.as_fd());
    watched.add_alias(alias.as_fd()).unwrap();
    apply(
        &watched,
        Kevent::new(1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, ptr::null_mut()),
    );
    // The alias is closed and its number now names an empty epoll instance: dup3 does
    // both at once (no other thread can take the number in between).
    let n = std::os::fd::IntoRawFd::into_raw_fd(alias);
    // SAFETY: a fresh epoll descriptor, closed below.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    // SAFETY: `n` is ours (the alias); dup3 replaces it with the epoll set, which
    // `reused` then owns.
    let reused = unsafe { OwnedFd::from_raw_fd(libc::dup3(ep, n, libc::O_CLOEXEC)) };
    // SAFETY: closing our own temporary descriptor.
    unsafe { libc::close(ep) };
    assert_eq!(reused.as_raw_fd(), n);
    let watcher = Kqueue::new().unwrap();
    apply(
        &watcher,
        Kevent::new(n as usize, EVFILT_READ, EV_ADD, 0, 0, ptr::null_mut()),
    );
    // The watched kqueue has an event pending, but the number is an empty epoll set now.
    let mut ev = [ZERO];
    assert_eq!(
        watcher
            .kevent(&[], &mut ev, Some(Duration::from_millis(50)))
            .unwrap(),
        0
    );
}
