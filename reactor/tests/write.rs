//! Conformance tests for `EVFILT_WRITE` (checklist rows W01–W03) and `EVFILT_EMPTY` (E01).
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, EVFILT_EMPTY, EVFILT_READ, EVFILT_WRITE, Kqueue,
};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use util::*;

/// Registers a level-triggered `EVFILT_WRITE` knote on `fd`.
fn add_write(kq: &Kqueue, fd: &impl AsRawFd) {
    apply(kq, &[kev(ident_of(fd), EVFILT_WRITE, EV_ADD, 0, 0)]);
}

/// Waits for the one WRITE event of `fd` and returns it.
#[track_caller]
fn expect_write(kq: &Kqueue, fd: &impl AsRawFd) -> kq_reactor::Kevent {
    let ev = expect_one(kq, LONG);
    assert_names(&ev, ident_of(fd), EVFILT_WRITE);
    ev
}

/// `getsockopt(SO_SNDBUF)`.
fn sndbuf(fd: &impl AsRawFd) -> isize {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid out-parameters of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&raw mut v).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "SO_SNDBUF: {}", std::io::Error::last_os_error());
    v as isize
}

/// W01: socket write space — fresh socket → event, `data` = free send space
/// (`SO_SNDBUF − SIOCOUTQ` on Linux, so all of `SO_SNDBUF` when nothing is queued).
#[test]
fn w01_socket_write_space() {
    let kq = Kqueue::new().unwrap();
    let (client, _server) = tcp_pair();
    add_write(&kq, &client);
    let ev = expect_write(&kq, &client);
    assert_eq!(
        ev.data,
        sndbuf(&client),
        "a fresh socket has its whole send buffer free: {ev:?}"
    );
    assert_eq!(ev.flags & EV_EOF, 0, "{ev:?}");
}

/// W01 (Unix stream): free send space shrinks while written bytes are unread by the peer.
#[test]
fn w01_unix_write_space_shrinks() {
    let kq = Kqueue::new().unwrap();
    let (mut a, _b) = UnixStream::pair().unwrap();
    add_write(&kq, &a);
    let total = sndbuf(&a);
    let ev = expect_write(&kq, &a);
    assert_eq!(ev.data, total, "nothing queued yet: {ev:?}");
    a.write_all(&[0u8; 1000]).unwrap();
    let ev = expect_write(&kq, &a);
    assert!(ev.data > 0, "still writable: {ev:?}");
    assert!(
        ev.data <= total - 1000,
        "1000 unread bytes occupy the buffer (SO_SNDBUF {total}): {ev:?}"
    );
}

/// W01 extra: a full socket buffer stops the WRITE knote; draining the peer re-arms it.
#[test]
fn w01_full_buffer_then_drain() {
    let kq = Kqueue::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    apply(
        &kq,
        &[kev(ident_of(&a), EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0)],
    );
    expect_write(&kq, &a);
    let chunk = [0u8; 4096];
    loop {
        match a.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    assert_no_events(&kq);
    let mut buf = vec![0u8; 65536];
    loop {
        match (&b).read(&mut buf) {
            Ok(0) => panic!("unexpected EOF"),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let ev = expect_write(&kq, &a);
    assert!(ev.data > 0, "{ev:?}");
}

/// W02: WRITE on a pipe whose read end is closed → EPIPE at registration (FreeBSD).
#[test]
fn w02_pipe_closed_reader_epipe() {
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    drop(r);
    assert_eq!(
        change_errno(&kq, kev(ident_of(&w), EVFILT_WRITE, EV_ADD, 0, 0)),
        libc::EPIPE
    );
    assert_eq!(
        change_errno(&kq, kev(ident_of(&w), EVFILT_WRITE, EV_DELETE, 0, 0)),
        libc::ENOENT,
        "the rejected knote must not exist"
    );
}

/// W02 extra: the reader closing after registration → `EV_EOF`, `data == 0`.
#[test]
fn w02_pipe_reader_closes_later_eof() {
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    apply(
        &kq,
        &[kev(ident_of(&w), EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0)],
    );
    let ev = expect_write(&kq, &w);
    assert!(ev.data > 0, "an empty pipe has room: {ev:?}");
    assert_eq!(ev.flags & EV_EOF, 0, "{ev:?}");
    drop(r);
    let ev = expect_write(&kq, &w);
    assert_ne!(
        ev.flags & EV_EOF,
        0,
        "EV_EOF once the reader is gone: {ev:?}"
    );
    assert_eq!(ev.data, 0, "{ev:?}");
}

/// W03: WRITE on the read end never fires — accepted, and no event even with data written
/// or the writer closed.
#[test]
fn w03_write_on_read_end_never_fires() {
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    assert_eq!(
        change_errno(&kq, kev(ident_of(&r), EVFILT_WRITE, EV_ADD, 0, 0)),
        0,
        "must be accepted"
    );
    assert_no_events(&kq);
    write_fd(&w, b"data");
    assert_no_events(&kq);
    drop(w);
    assert_no_events(&kq);
}

/// W03 (mirror): READ on the write end never fires — accepted, no event.
#[test]
fn w03_read_on_write_end_never_fires() {
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    assert_eq!(
        change_errno(&kq, kev(ident_of(&w), EVFILT_READ, EV_ADD, 0, 0)),
        0,
        "must be accepted"
    );
    assert_no_events(&kq);
    write_fd(&w, b"data");
    assert_no_events(&kq);
    drop(r);
    assert_no_events(&kq);
}

/// E01: EVFILT_EMPTY has no wake-up source on Linux → EOPNOTSUPP (documented deviation).
#[test]
fn e01_evfilt_empty_eopnotsupp() {
    let kq = Kqueue::new().unwrap();
    let (client, _server) = tcp_pair();
    assert_eq!(
        change_errno(&kq, kev(ident_of(&client), EVFILT_EMPTY, EV_ADD, 0, 0)),
        libc::EOPNOTSUPP
    );
    // The filter itself is unsupported, so every action on it fails the same way (as an
    // unknown filter fails with EINVAL before any knote lookup).
    assert_eq!(
        change_errno(&kq, kev(ident_of(&client), EVFILT_EMPTY, EV_DELETE, 0, 0)),
        libc::EOPNOTSUPP
    );
}

/// Bad input: WRITE on a closed descriptor → EBADF.
#[test]
fn write_closed_fd_ebadf() {
    let kq = Kqueue::new().unwrap();
    let raw = closed_fd();
    assert_eq!(
        change_errno(&kq, kev(raw as usize, EVFILT_WRITE, EV_ADD, 0, 0)),
        libc::EBADF
    );
}
