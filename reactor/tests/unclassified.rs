//! READ and WRITE knotes registered without classifying the descriptor (Linux: epoll's
//! ADD is the descriptor check, no `fstat`; the kind is learnt when something needs it).
//! What needs it — a pipe's wrong end, a hang-up, an error, a reused number — must come out
//! as it does for a descriptor classified up front, in both `edge_data` modes.
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, EVFILT_READ, EVFILT_WRITE, Kqueue};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use util::*;

fn both_modes() -> [Kqueue; 2] {
    [
        Kqueue::new().unwrap(),
        Kqueue::builder().edge_data(false).build().unwrap(),
    ]
}

/// A READ knote on a pipe's write end never fires, through data written and the reader
/// closing (which the kernel reports on the write end as an error).
#[test]
fn read_on_a_pipes_write_end_never_fires() {
    for kq in both_modes() {
        for flags in [EV_ADD, EV_ADD | EV_CLEAR] {
            let (r, w) = pipe();
            apply(&kq, &[kev(ident_of(&w), EVFILT_READ, flags, 0, 0)]);
            assert_no_events(&kq);
            write_fd(&w, b"data");
            assert_no_events(&kq);
            drop(r);
            assert_no_events(&kq);
            apply(&kq, &[kev(ident_of(&w), EVFILT_READ, EV_DELETE, 0, 0)]);
        }
    }
}

/// A WRITE knote on a pipe's read end never fires, through data written and the writer
/// closing (a hang-up on the read end).
#[test]
fn write_on_a_pipes_read_end_never_fires() {
    for kq in both_modes() {
        for flags in [EV_ADD, EV_ADD | EV_CLEAR] {
            let (r, w) = pipe();
            apply(&kq, &[kev(ident_of(&r), EVFILT_WRITE, flags, 0, 0)]);
            assert_no_events(&kq);
            write_fd(&w, b"data");
            assert_no_events(&kq);
            drop(w);
            assert_no_events(&kq);
            apply(&kq, &[kev(ident_of(&r), EVFILT_WRITE, EV_DELETE, 0, 0)]);
        }
    }
}

/// With `edge_data(false)`, WRITE on a pipe whose reader is gone is accepted (no `EPIPE`:
/// the descriptor is not classified to find out) and fires at once with `EV_EOF`, as the
/// write the runtime then makes fails with `EPIPE`.
#[test]
fn lean_write_on_a_broken_pipe_is_eof_at_once() {
    let kq = Kqueue::builder().edge_data(false).build().unwrap();
    let (r, w) = pipe();
    drop(r);
    apply(
        &kq,
        &[kev(ident_of(&w), EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0)],
    );
    let ev = expect_one(&kq, LONG);
    assert_names(&ev, ident_of(&w), EVFILT_WRITE);
    assert_ne!(ev.flags & EV_EOF, 0, "{ev:?}");
}

/// A socket's pending error reaches the READ knote's `fflags` with `EV_EOF` (the kind is
/// learnt from the error report).
#[test]
fn a_refused_connection_reports_eof_with_its_error() {
    for kq in both_modes() {
        // A port nobody listens on: bind one, note it, close it.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        // SAFETY: plain socket creation; the result is checked and owned below.
        let raw = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        assert!(raw >= 0);
        // SAFETY: a fresh descriptor, owned from here on.
        let s = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: `sin` is a valid sockaddr_in of the size given.
        let _ = unsafe {
            libc::connect(
                raw,
                (&raw const sin).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        apply(
            &kq,
            &[kev(
                s.as_raw_fd() as usize,
                EVFILT_READ,
                EV_ADD | EV_CLEAR,
                0,
                0,
            )],
        );
        let ev = expect_one(&kq, LONG);
        assert_names(&ev, s.as_raw_fd() as usize, EVFILT_READ);
        assert_ne!(ev.flags & EV_EOF, 0, "{ev:?}");
        assert_eq!(ev.fflags, libc::ECONNREFUSED as u32, "{ev:?}");
    }
}

/// A number closed and reused by another socket without `EV_DELETE`: the old knote is gone
/// with its file (no event from the new socket under it), and adding again registers the
/// new socket.
#[test]
fn a_reused_number_is_a_new_registration() {
    for kq in both_modes() {
        let (a, mut a_peer) = UnixStream::pair().unwrap();
        let (b, mut b_peer) = UnixStream::pair().unwrap();
        let n = ident_of(&a);
        apply(&kq, &[kev(n, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0)]);
        a_peer.write_all(b"a").unwrap();
        assert_names(&expect_one(&kq, LONG), n, EVFILT_READ);
        // SAFETY: replaces `a`'s number with a duplicate of `b`; `a`'s file is closed.
        assert_eq!(unsafe { libc::dup2(b.as_raw_fd(), n as i32) }, n as i32);
        b_peer.write_all(b"b").unwrap();
        assert_no_events(&kq);
        apply(&kq, &[kev(n, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0)]);
        let ev = expect_one(&kq, LONG);
        assert_names(&ev, n, EVFILT_READ);
        drop(a); // closes the number (now b's duplicate)
        drop(b);
    }
}

/// A bad descriptor is refused by the registration itself, leaving nothing behind.
#[test]
fn a_closed_descriptor_is_ebadf() {
    for kq in both_modes() {
        let fd = closed_fd() as usize;
        for filter in [EVFILT_READ, EVFILT_WRITE] {
            assert_eq!(
                change_errno(&kq, kev(fd, filter, EV_ADD | EV_CLEAR, 0, 0)),
                libc::EBADF
            );
            assert_eq!(
                change_errno(&kq, kev(fd, filter, EV_DELETE, 0, 0)),
                libc::EBADF
            );
        }
    }
}

/// A regular file is not pollable: its READ knote is a file's (readable bytes from the
/// offset), found out when epoll refuses it.
#[test]
fn a_regular_file_read_knote_reports_its_size() {
    for kq in both_modes() {
        let dir = TempDir::new("unclassified");
        let path = dir.join("f");
        std::fs::write(&path, b"12345").unwrap();
        let f = std::fs::File::open(&path).unwrap();
        apply(&kq, &[kev(ident_of(&f), EVFILT_READ, EV_ADD, 0, 0)]);
        let ev = expect_one(&kq, LONG);
        assert_names(&ev, ident_of(&f), EVFILT_READ);
        assert_eq!(ev.data, 5, "{ev:?}");
    }
}
