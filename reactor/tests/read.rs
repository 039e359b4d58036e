//! Conformance tests for `EVFILT_READ` (checklist rows R01–R10 and extras): sockets (Unix,
//! TCP, UDP), listening sockets, regular files, pipes and kqueue descriptors.
#![cfg(target_os = "linux")]

mod util;

use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, EV_ONESHOT, EVFILT_AIO, EVFILT_READ, EVFILT_USER, Kqueue,
    NOTE_FILE_POLL, NOTE_LOWAT, NOTE_TRIGGER,
};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};
use util::*;

/// Registers a level-triggered `EVFILT_READ` knote on `fd`.
fn add_read(kq: &Kqueue, fd: &impl AsRawFd) {
    apply(kq, &[kev(ident_of(fd), EVFILT_READ, EV_ADD, 0, 0)]);
}

/// Waits for the one READ event of `fd` and returns it.
#[track_caller]
fn expect_read(kq: &Kqueue, fd: &impl AsRawFd) -> kq_reactor::Kevent {
    let ev = expect_one(kq, LONG);
    assert_names(&ev, ident_of(fd), EVFILT_READ);
    ev
}

/// Starts a non-blocking TCP connect to `addr` and returns the socket and the errno of
/// `connect` (0 if it completed at once).
fn connect_nonblocking(addr: SocketAddrV4) -> (OwnedFd, i32) {
    // SAFETY: plain socket(2) call.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: socket succeeded; nobody else owns the descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in of the size passed.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&raw const sin).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    let errno = if rc == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    };
    (fd, errno)
}

/// A 127.0.0.1 port nobody listens on (bound, then released).
fn dead_tcp_port() -> SocketAddrV4 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    match l.local_addr().expect("local_addr") {
        std::net::SocketAddr::V4(a) => a,
        std::net::SocketAddr::V6(_) => unreachable!("bound to an IPv4 address"),
    }
}

/// R01: socket read data — write N bytes → `data == N`.
#[test]
fn r01_socket_read_data() {
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    add_read(&kq, &a);
    assert_no_events(&kq);
    b.write_all(b"hello").unwrap();
    let ev = expect_read(&kq, &a);
    assert_eq!(ev.data, 5, "data must be the bytes available: {ev:?}");
    assert_eq!(ev.flags & EV_EOF, 0, "no EOF yet: {ev:?}");
}

/// R01 (TCP on 127.0.0.1): socket read data — write N bytes → `data == N`.
#[test]
fn r01_tcp_read_data() {
    let kq = Kqueue::new().unwrap();
    let (client, mut server) = tcp_pair();
    add_read(&kq, &client);
    assert_no_events(&kq);
    server.write_all(&[7u8; 100]).unwrap();
    // The bytes may arrive in more than one segment: wait until all 100 are counted.
    let mut last = None;
    let ok = wait_until(LONG, || {
        let evs = poll(&kq, 8);
        last = evs.first().copied();
        last.is_some_and(|e| e.data == 100)
    });
    assert!(ok, "data never reached 100: {last:?}");
    let ev = last.unwrap();
    assert_names(&ev, ident_of(&client), EVFILT_READ);
    assert_eq!(ev.flags & EV_EOF, 0, "no EOF yet: {ev:?}");
}

/// R01 extra (UDP): on Linux `data` is the size of the next datagram (documented deviation).
#[test]
fn r01_udp_data_is_next_datagram_size() {
    let kq = Kqueue::new().unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_nonblocking(true).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    add_read(&kq, &rx);
    assert_no_events(&kq);
    let to = rx.local_addr().unwrap();
    tx.send_to(&[1u8; 3], to).unwrap();
    tx.send_to(&[2u8; 5], to).unwrap();
    let ev = expect_read(&kq, &rx);
    assert_eq!(
        ev.data, 3,
        "data must be the size of the next datagram: {ev:?}"
    );
    let mut buf = [0u8; 16];
    assert_eq!(rx.recv(&mut buf).unwrap(), 3);
    let ev = expect_read(&kq, &rx);
    assert_eq!(
        ev.data, 5,
        "after one recv the next datagram has 5 bytes: {ev:?}"
    );
    assert_eq!(rx.recv(&mut buf).unwrap(), 5);
    assert_no_events(&kq);
}

/// R01 extra (UDP): a datagram is reported once per arrival with EV_CLEAR.
#[test]
fn r01_udp_clear_fires_per_datagram() {
    let kq = Kqueue::new().unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_nonblocking(true).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    apply(
        &kq,
        &[kev(ident_of(&rx), EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0)],
    );
    tx.send_to(&[1u8; 4], rx.local_addr().unwrap()).unwrap();
    let ev = expect_read(&kq, &rx);
    assert_eq!(ev.data, 4, "{ev:?}");
    assert_no_events(&kq);
    tx.send_to(&[1u8; 6], rx.local_addr().unwrap()).unwrap();
    let ev = expect_read(&kq, &rx);
    assert_eq!(
        ev.data, 4,
        "the next datagram is still the first (4 bytes): {ev:?}"
    );
}

/// R02: socket EOF — close peer → `EV_EOF`, `fflags == 0` (no error).
#[test]
fn r02_socket_eof() {
    let kq = Kqueue::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    add_read(&kq, &a);
    drop(b);
    let ev = expect_read(&kq, &a);
    assert_ne!(ev.flags & EV_EOF, 0, "EV_EOF expected: {ev:?}");
    assert_eq!(ev.fflags, 0, "no socket error on an orderly close: {ev:?}");
    assert_eq!(ev.data, 0, "nothing left to read: {ev:?}");
}

/// R02 (TCP): socket EOF — peer closes → `EV_EOF`, `fflags == 0`.
#[test]
fn r02_tcp_eof() {
    let kq = Kqueue::new().unwrap();
    let (client, server) = tcp_pair();
    add_read(&kq, &client);
    assert_no_events(&kq);
    drop(server);
    let ev = expect_read(&kq, &client);
    assert_ne!(ev.flags & EV_EOF, 0, "EV_EOF expected: {ev:?}");
    assert_eq!(ev.fflags, 0, "no socket error on an orderly close: {ev:?}");
    assert_eq!(ev.data, 0, "{ev:?}");
}

/// R03: EOF with data pending — write then shutdown peer → `EV_EOF` and `data > 0`.
#[test]
fn r03_eof_with_data_pending() {
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    add_read(&kq, &a);
    b.write_all(b"abc").unwrap();
    b.shutdown(Shutdown::Write).unwrap();
    let ev = expect_read(&kq, &a);
    assert_ne!(ev.flags & EV_EOF, 0, "EV_EOF expected: {ev:?}");
    assert_eq!(ev.data, 3, "the pending bytes are still reported: {ev:?}");
    assert_eq!(ev.fflags, 0, "{ev:?}");
}

/// R03 (TCP): EOF with data pending — write then shutdown peer → `EV_EOF` and `data > 0`.
#[test]
fn r03_tcp_eof_with_data_pending() {
    let kq = Kqueue::new().unwrap();
    let (client, mut server) = tcp_pair();
    add_read(&kq, &client);
    server.write_all(b"abcd").unwrap();
    server.shutdown(Shutdown::Write).unwrap();
    let mut last = None;
    let ok = wait_until(LONG, || {
        last = poll(&kq, 8).first().copied();
        last.is_some_and(|e| e.flags & EV_EOF != 0)
    });
    assert!(ok, "EV_EOF never reported: {last:?}");
    let ev = last.unwrap();
    assert_names(&ev, ident_of(&client), EVFILT_READ);
    assert_eq!(ev.data, 4, "the pending bytes are still reported: {ev:?}");
    assert_eq!(ev.fflags, 0, "{ev:?}");
}

/// R04: socket error in fflags — TCP connect refused → `EV_EOF`, `fflags == ECONNREFUSED`.
#[test]
fn r04_connect_refused_in_fflags() {
    let kq = Kqueue::new().unwrap();
    let (fd, errno) = connect_nonblocking(dead_tcp_port());
    assert!(
        errno == libc::EINPROGRESS,
        "a non-blocking connect must be in progress, got errno {errno}"
    );
    add_read(&kq, &fd);
    let ev = expect_read(&kq, &fd);
    assert_ne!(ev.flags & EV_EOF, 0, "EV_EOF expected: {ev:?}");
    assert_eq!(
        ev.fflags,
        libc::ECONNREFUSED as u32,
        "fflags must carry the socket error: {ev:?}"
    );
}

/// R04: socket error in fflags — RST from the peer → `EV_EOF`, `fflags == ECONNRESET`.
#[test]
fn r04_connection_reset_in_fflags() {
    let kq = Kqueue::new().unwrap();
    let (client, server) = tcp_pair();
    add_read(&kq, &client);
    assert_no_events(&kq);
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `linger` is a valid struct linger of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            server.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
    drop(server); // close with linger 0 sends RST
    let ev = expect_read(&kq, &client);
    assert_ne!(ev.flags & EV_EOF, 0, "EV_EOF expected: {ev:?}");
    assert_eq!(
        ev.fflags,
        libc::ECONNRESET as u32,
        "fflags must carry the socket error: {ev:?}"
    );
}

/// R04 extra (UDP): a pending socket error (ICMP port unreachable) wakes the reader
/// without `EV_EOF` (the read side is not shut down).
#[test]
fn r04_udp_error_wakes_reader_without_eof() {
    let kq = Kqueue::new().unwrap();
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_nonblocking(true).unwrap();
    sock.connect(dead_addr).unwrap();
    add_read(&kq, &sock);
    assert_no_events(&kq);
    sock.send(b"x").unwrap();
    let ev = expect_read(&kq, &sock);
    assert_eq!(
        ev.flags & EV_EOF,
        0,
        "a UDP error does not shut down the read side: {ev:?}"
    );
    assert_eq!(ev.data, 0, "no datagram is queued: {ev:?}");
}

/// R05: NOTE_LOWAT — lowat=2; write 1 → no event; write 1 more → event.
#[test]
fn r05_note_lowat() {
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    apply(
        &kq,
        &[kev(ident_of(&a), EVFILT_READ, EV_ADD, NOTE_LOWAT, 2)],
    );
    b.write_all(b"x").unwrap();
    assert_no_events(&kq);
    b.write_all(b"y").unwrap();
    let ev = expect_read(&kq, &a);
    assert_eq!(ev.data, 2, "{ev:?}");
}

/// R05 extra: NOTE_LOWAT — EOF fires even below the low-water mark (documented behaviour).
#[test]
fn r05_note_lowat_eof_fires_below_mark() {
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    apply(
        &kq,
        &[kev(ident_of(&a), EVFILT_READ, EV_ADD, NOTE_LOWAT, 10)],
    );
    b.write_all(b"x").unwrap();
    assert_no_events(&kq);
    drop(b);
    let ev = expect_read(&kq, &a);
    assert_ne!(ev.flags & EV_EOF, 0, "{ev:?}");
    assert_eq!(ev.data, 1, "{ev:?}");
}

/// R06: listen backlog — listen; 3 connects; kevent → `data == 3`.
#[test]
fn r06_listen_backlog_count() {
    let kq = Kqueue::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    add_read(&kq, &listener);
    assert_no_events(&kq);
    let addr = listener.local_addr().unwrap();
    let _clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // The server side completes each handshake asynchronously: poll until all 3 are queued.
    let mut last = None;
    let ok = wait_until(LONG, || {
        last = poll(&kq, 8).first().copied();
        last.is_some_and(|e| e.data == 3)
    });
    assert!(ok, "backlog never reached 3: {last:?}");
    assert_names(&last.unwrap(), ident_of(&listener), EVFILT_READ);
    let _s1 = listener.accept().unwrap();
    let ev = expect_read(&kq, &listener);
    assert_eq!(ev.data, 2, "one connection accepted, two left: {ev:?}");
    let _s2 = listener.accept().unwrap();
    let _s3 = listener.accept().unwrap();
    assert_no_events(&kq);
}

/// R06 extra: a Unix-domain listener reports `data == 1` (documented Linux deviation).
#[test]
fn r06_unix_listener_data_is_one() {
    let dir = TempDir::new("r06");
    let path = dir.join("sock");
    let kq = Kqueue::new().unwrap();
    let listener = UnixListener::bind(&path).unwrap();
    add_read(&kq, &listener);
    assert_no_events(&kq);
    let _c1 = UnixStream::connect(&path).unwrap();
    let _c2 = UnixStream::connect(&path).unwrap();
    let ev = expect_read(&kq, &listener);
    assert_eq!(ev.data, 1, "{ev:?}");
    let _s1 = listener.accept().unwrap();
    let _s2 = listener.accept().unwrap();
    assert_no_events(&kq);
}

/// R07: regular file read — size 10, offset 3 → `data == 7`; at EOF no event;
/// NOTE_FILE_POLL always fires.
#[test]
fn r07_regular_file_read() {
    let dir = TempDir::new("r07");
    let path = dir.join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    let mut file = std::fs::File::open(&path).unwrap();
    file.seek(SeekFrom::Start(3)).unwrap();
    let kq = Kqueue::new().unwrap();
    add_read(&kq, &file);
    let ev = expect_read(&kq, &file);
    assert_eq!(ev.data, 7, "size - offset: {ev:?}");
    file.seek(SeekFrom::End(0)).unwrap();
    assert_no_events(&kq);

    let kq2 = Kqueue::new().unwrap();
    apply(
        &kq2,
        &[kev(ident_of(&file), EVFILT_READ, EV_ADD, NOTE_FILE_POLL, 0)],
    );
    let ev = expect_read(&kq2, &file);
    assert_eq!(ev.data, 0, "size - offset at EOF: {ev:?}");
    let ev = expect_read(&kq2, &file);
    assert_eq!(ev.data, 0, "NOTE_FILE_POLL stays ready: {ev:?}");
}

/// R07 extra: a regular file at EOF becomes readable when another writer appends.
#[test]
fn r07_regular_file_wakes_on_append() {
    let dir = TempDir::new("r07b");
    let path = dir.join("f");
    std::fs::write(&path, b"abc").unwrap();
    let mut file = std::fs::File::open(&path).unwrap();
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).unwrap();
    let kq = Kqueue::new().unwrap();
    add_read(&kq, &file);
    assert_no_events(&kq);
    let mut w = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    w.write_all(b"defg").unwrap();
    let ev = expect_read(&kq, &file);
    assert_eq!(ev.data, 4, "{ev:?}");
}

/// R08: pipe EOF — close writer → `EV_EOF`, `data` = remaining bytes.
#[test]
fn r08_pipe_eof() {
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    add_read(&kq, &r);
    write_fd(&w, b"four");
    let ev = expect_read(&kq, &r);
    assert_eq!(ev.data, 4, "{ev:?}");
    assert_eq!(ev.flags & EV_EOF, 0, "writer still open: {ev:?}");
    drop(w);
    let ev = expect_read(&kq, &r);
    assert_ne!(
        ev.flags & EV_EOF,
        0,
        "EV_EOF once the last writer is gone: {ev:?}"
    );
    assert_eq!(ev.data, 4, "remaining bytes: {ev:?}");
}

/// R08 extra: pipe EOF with nothing left → `EV_EOF`, `data == 0`.
#[test]
fn r08_pipe_eof_empty() {
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    apply(
        &kq,
        &[kev(ident_of(&r), EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0)],
    );
    assert_no_events(&kq);
    drop(w);
    let ev = expect_read(&kq, &r);
    assert_ne!(ev.flags & EV_EOF, 0, "{ev:?}");
    assert_eq!(ev.data, 0, "{ev:?}");
}

/// R09: kqueue fd readable — kq2 watches kq1 with 2 pending → kq2 event `data == 2`.
#[test]
fn r09_kqueue_fd_readable_count() {
    let kq1 = Kqueue::new().unwrap();
    let kq2 = Kqueue::new().unwrap();
    apply(
        &kq2,
        &[kev(kq1.as_raw_fd() as usize, EVFILT_READ, EV_ADD, 0, 0)],
    );
    assert_no_events(&kq2);
    apply(
        &kq1,
        &[
            kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0),
            kev(2, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0),
        ],
    );
    let ev = expect_one(&kq2, LONG);
    assert_names(&ev, kq1.as_raw_fd() as usize, EVFILT_READ);
    assert_eq!(
        ev.data, 2,
        "data is the number of pending events of kq1: {ev:?}"
    );
    // Drain kq1: kq2's level-triggered knote no longer holds.
    assert_eq!(poll(&kq1, 8).len(), 2);
    assert_no_events(&kq2);
}

/// R10: kqueue on itself — EV_ADD kq on kq → EINVAL.
#[test]
fn r10_kqueue_on_itself_einval() {
    let kq = Kqueue::new().unwrap();
    let fd = kq.as_raw_fd() as usize;
    assert_eq!(
        change_errno(&kq, kev(fd, EVFILT_READ, EV_ADD, 0, 0)),
        libc::EINVAL
    );
    assert_eq!(
        change_errno(&kq, kev(fd, EVFILT_READ, EV_DELETE, 0, 0)),
        libc::ENOENT,
        "the rejected knote must not exist"
    );
}

/// Extra: EV_ONESHOT read knote on a pipe is deleted after delivery.
#[test]
fn read_oneshot_pipe() {
    let kq = Kqueue::new().unwrap();
    let (r, w) = pipe();
    apply(
        &kq,
        &[kev(ident_of(&r), EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0)],
    );
    write_fd(&w, b"z");
    let ev = expect_read(&kq, &r);
    assert_eq!(ev.data, 1, "{ev:?}");
    assert_no_events(&kq);
    assert_eq!(
        change_errno(&kq, kev(ident_of(&r), EVFILT_READ, EV_DELETE, 0, 0)),
        libc::ENOENT
    );
}

/// Bad input: a closed descriptor → EBADF.
#[test]
fn read_closed_fd_ebadf() {
    let kq = Kqueue::new().unwrap();
    let raw = closed_fd();
    assert_eq!(
        change_errno(&kq, kev(raw as usize, EVFILT_READ, EV_ADD, 0, 0)),
        libc::EBADF
    );
    assert_eq!(
        change_errno(&kq, kev(i32::MAX as usize, EVFILT_READ, EV_ADD, 0, 0)),
        libc::EBADF,
        "an fd number that is not open"
    );
}

/// Bad input: EVFILT_AIO registered through kevent → ENXIO (FreeBSD's null filter).
#[test]
fn read_evfilt_aio_enxio() {
    let kq = Kqueue::new().unwrap();
    let (r, _w) = pipe();
    assert_eq!(
        change_errno(&kq, kev(ident_of(&r), EVFILT_AIO, EV_ADD, 0, 0)),
        libc::ENXIO
    );
}

/// Waiting with a timeout returns as soon as the data arrives (sanity of the wait path).
#[test]
fn read_wait_wakes_on_data() {
    let kq = Kqueue::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    add_read(&kq, &a);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        b.write_all(b"hi").unwrap();
        b
    });
    let start = Instant::now();
    let ev = expect_read(&kq, &a);
    assert!(start.elapsed() < LONG, "woke only at the timeout");
    assert_eq!(ev.data, 2, "{ev:?}");
    drop(t.join().unwrap());
}

/// `Builder::edge_data(false)`: an EV_CLEAR READ event straight from the kernel's report
/// carries readiness and EOF but data 0; a level-triggered knote on the same kqueue still
/// computes its data.
#[test]
fn edge_data_off_reports_readiness_and_eof_without_data() {
    let kq = Kqueue::builder().edge_data(false).build().unwrap();
    let (a, mut a_peer) = UnixStream::pair().unwrap();
    let (b, mut b_peer) = UnixStream::pair().unwrap();
    apply(
        &kq,
        &[
            kev(
                ident_of(&a),
                kq_reactor::EVFILT_READ,
                kq_reactor::EV_ADD | kq_reactor::EV_CLEAR,
                0,
                0,
            ),
            kev(
                ident_of(&b),
                kq_reactor::EVFILT_READ,
                kq_reactor::EV_ADD,
                0,
                0,
            ),
        ],
    );
    a_peer.write_all(b"hello").unwrap();
    b_peer.write_all(b"hello").unwrap();
    let mut evs = wait(&kq, 8, LONG);
    if evs.len() < 2 {
        evs.extend(wait(&kq, 8, LONG));
    }
    evs.sort_by_key(|e| e.ident);
    assert_eq!(evs.len(), 2, "{evs:?}");
    let (ea, eb) = if evs[0].ident == ident_of(&a) {
        (evs[0], evs[1])
    } else {
        (evs[1], evs[0])
    };
    assert_eq!(
        (ea.data, ea.flags & kq_reactor::EV_EOF),
        (0, 0),
        "edge event without data: {ea:?}"
    );
    assert_eq!(
        eb.data, 5,
        "a level-triggered knote still computes data: {eb:?}"
    );
    // Drain `a`, then close its peer: the edge event reports EOF.
    let mut buf = [0u8; 16];
    assert_eq!((&a).read(&mut buf).unwrap(), 5);
    drop(a_peer);
    let ev = wait(&kq, 8, LONG)
        .into_iter()
        .find(|e| e.ident == ident_of(&a))
        .expect("EOF event for a");
    assert_ne!(ev.flags & kq_reactor::EV_EOF, 0, "{ev:?}");
}

/// `n` socket pairs whose first ends have an EV_CLEAR READ knote in `kq` and one byte
/// waiting each.
fn readable_pairs(kq: &Kqueue, n: usize) -> Vec<(UnixStream, UnixStream)> {
    let pairs: Vec<_> = (0..n).map(|_| UnixStream::pair().unwrap()).collect();
    let changes: Vec<_> = pairs
        .iter()
        .map(|(a, _)| {
            let flags = kq_reactor::EV_ADD | kq_reactor::EV_CLEAR;
            kev(ident_of(a), kq_reactor::EVFILT_READ, flags, 0, 0)
        })
        .collect();
    apply(kq, &changes);
    for (_, peer) in &pairs {
        (&*peer).write_all(b"x").unwrap();
    }
    pairs
}

/// One call returns as many events as the caller has room for, even when that is more than
/// the core takes from epoll in one go.
#[test]
fn one_call_returns_a_thousand_events() {
    let kq = Kqueue::new().unwrap();
    let _pairs = readable_pairs(&kq, 1000); // kept open until the end
    let evs = wait(&kq, 1024, LONG);
    assert_eq!(evs.len(), 1000, "all ready sockets in one call");
    assert!(evs.iter().all(|e| e.data == 1), "each has one byte");
    assert_no_events(&kq);
}

/// `Builder::edge_data(false)` with more ready EV_CLEAR knotes than the eventlist holds:
/// those left over are delivered by the following calls, each exactly once (from the hint
/// that activated them), and then the edges are consumed.
#[test]
fn edge_data_off_delivers_leftover_edges_once_across_calls() {
    let kq = Kqueue::builder().edge_data(false).build().unwrap();
    let pairs = readable_pairs(&kq, 6);
    let mut seen = std::collections::BTreeMap::new();
    let start = Instant::now();
    while seen.len() < pairs.len() && start.elapsed() < LONG {
        for ev in wait(&kq, 2, Duration::from_millis(100)) {
            assert!(ev.data == 0, "edge event without data: {ev:?}");
            *seen.entry(ev.ident).or_insert(0) += 1;
        }
    }
    let expected: std::collections::BTreeMap<_, _> =
        pairs.iter().map(|(a, _)| (ident_of(a), 1)).collect();
    assert_eq!(seen, expected, "each edge exactly once");
    assert_eq!(
        wait(&kq, 8, Duration::from_millis(50)),
        vec![],
        "the edges are consumed"
    );
}

/// READ and WRITE added to one descriptor in one changelist (as a runtime registers a
/// socket; on Linux one epoll registration serves both): each reports the condition that
/// holds at once.
#[test]
fn read_and_write_added_together_both_report() {
    let kq = Kqueue::new().unwrap();
    let (a, mut peer) = UnixStream::pair().unwrap();
    peer.write_all(b"hi").unwrap();
    let flags = kq_reactor::EV_ADD | kq_reactor::EV_CLEAR;
    apply(
        &kq,
        &[
            kev(ident_of(&a), kq_reactor::EVFILT_READ, flags, 0, 0),
            kev(ident_of(&a), kq_reactor::EVFILT_WRITE, flags, 0, 0),
        ],
    );
    let mut evs = wait(&kq, 4, LONG);
    if evs.len() < 2 {
        evs.extend(wait(&kq, 4, LONG));
    }
    let mut filters: Vec<_> = evs.iter().map(|e| e.filter).collect();
    filters.sort();
    let mut want = vec![kq_reactor::EVFILT_READ, kq_reactor::EVFILT_WRITE];
    want.sort();
    assert_eq!(filters, want, "{evs:?}");
}

/// When the second of such a pair fails, the first is still registered and reports.
#[test]
fn read_added_with_a_failing_write_still_reports() {
    let kq = Kqueue::new().unwrap();
    let (a, peer) = UnixStream::pair().unwrap();
    let flags = kq_reactor::EV_ADD | kq_reactor::EV_CLEAR;
    let mut out = [ZERO; 2];
    // EV_ADD with EV_KEEPUDATA is EINVAL; the READ before it is fine.
    let changes = [
        kev(
            ident_of(&a),
            kq_reactor::EVFILT_READ,
            flags | kq_reactor::EV_RECEIPT,
            0,
            0,
        ),
        kev(
            ident_of(&a),
            kq_reactor::EVFILT_WRITE,
            flags | kq_reactor::EV_RECEIPT | kq_reactor::EV_KEEPUDATA,
            0,
            0,
        ),
    ];
    let n = kq.kevent(&changes, &mut out, None).unwrap();
    assert_eq!(n, 2, "{out:?}");
    assert_eq!(out[0].data, 0, "READ added: {out:?}");
    assert_eq!(out[1].data, libc::EINVAL as _, "WRITE refused: {out:?}");
    (&peer).write_all(b"x").unwrap();
    let ev = wait(&kq, 4, LONG)
        .into_iter()
        .find(|e| e.filter == kq_reactor::EVFILT_READ);
    assert!(ev.is_some(), "the READ knote reports its data");
}

/// READ and WRITE deleted together in one changelist (as a runtime closes a socket; on
/// Linux one epoll call serves both): both are gone, and a second deletion finds nothing.
#[test]
fn read_and_write_deleted_together_are_both_gone() {
    let kq = Kqueue::new().unwrap();
    let (a, peer) = UnixStream::pair().unwrap();
    let fd = ident_of(&a);
    let flags = kq_reactor::EV_ADD | kq_reactor::EV_CLEAR;
    apply(
        &kq,
        &[
            kev(fd, kq_reactor::EVFILT_READ, flags, 0, 0),
            kev(fd, kq_reactor::EVFILT_WRITE, flags, 0, 0),
        ],
    );
    let _ = wait(&kq, 4, Duration::from_millis(20));
    let del = kq_reactor::EV_DELETE | kq_reactor::EV_RECEIPT;
    let pair = [
        kev(fd, kq_reactor::EVFILT_WRITE, del, 0, 0),
        kev(fd, kq_reactor::EVFILT_READ, del, 0, 0),
    ];
    let mut out = [ZERO; 2];
    assert_eq!(kq.kevent(&pair, &mut out, None).unwrap(), 2);
    assert_eq!((out[0].data, out[1].data), (0, 0), "both deleted: {out:?}");
    (&peer).write_all(b"x").unwrap();
    assert_eq!(
        wait(&kq, 4, Duration::from_millis(50)),
        vec![],
        "nothing fires"
    );
    assert_eq!(kq.kevent(&pair, &mut out, None).unwrap(), 2);
    let enoent = libc::ENOENT as kq_reactor::Data;
    assert_eq!((out[0].data, out[1].data), (enoent, enoent), "{out:?}");
}

/// Deleting the pair after the descriptor was closed and its number reused by another
/// file: the knotes went with the close, so both deletions are `ENOENT`, and the new
/// file's registration is untouched.
#[test]
fn deleting_the_pair_of_a_reused_descriptor_number_is_enoent() {
    let kq = Kqueue::new().unwrap();
    let (a, _peer) = UnixStream::pair().unwrap();
    let fd = ident_of(&a);
    let flags = kq_reactor::EV_ADD | kq_reactor::EV_CLEAR;
    apply(
        &kq,
        &[
            kev(fd, kq_reactor::EVFILT_READ, flags, 0, 0),
            kev(fd, kq_reactor::EVFILT_WRITE, flags, 0, 0),
        ],
    );
    let _ = wait(&kq, 4, Duration::from_millis(20));
    // The number now names another socket (dup2 closes the old file first).
    let (b, b_peer) = UnixStream::pair().unwrap();
    // SAFETY: both descriptors are open; `a`'s number is re-pointed at `b`'s file.
    let rc = unsafe { libc::dup2(ident_of(&b) as i32, fd as i32) };
    assert_eq!(rc, fd as i32);
    let del = kq_reactor::EV_DELETE | kq_reactor::EV_RECEIPT;
    let pair = [
        kev(fd, kq_reactor::EVFILT_READ, del, 0, 0),
        kev(fd, kq_reactor::EVFILT_WRITE, del, 0, 0),
    ];
    let mut out = [ZERO; 2];
    assert_eq!(kq.kevent(&pair, &mut out, None).unwrap(), 2);
    let enoent = libc::ENOENT as kq_reactor::Data;
    assert_eq!((out[0].data, out[1].data), (enoent, enoent), "{out:?}");
    // The reused number can be registered afresh and reports the new file's data.
    apply(&kq, &[kev(fd, kq_reactor::EVFILT_READ, flags, 0, 0)]);
    (&b_peer).write_all(b"yz").unwrap();
    let evs = wait(&kq, 4, LONG);
    assert!(
        evs.iter()
            .any(|e| e.ident == fd && e.filter == kq_reactor::EVFILT_READ),
        "{evs:?}"
    );
    drop(b);
}

/// When only the first deletion of such a pair is applied (its receipt found no room,
/// which ends the call), the other knote is still registered and keeps reporting.
#[test]
fn the_survivor_of_a_half_applied_pair_deletion_still_reports() {
    let kq = Kqueue::new().unwrap();
    let (a, peer) = UnixStream::pair().unwrap();
    let fd = ident_of(&a);
    // Level-triggered: the WRITE knote reports for as long as the socket is writable.
    apply(
        &kq,
        &[
            kev(fd, kq_reactor::EVFILT_READ, kq_reactor::EV_ADD, 0, 0),
            kev(fd, kq_reactor::EVFILT_WRITE, kq_reactor::EV_ADD, 0, 0),
        ],
    );
    let pair = [
        kev(
            fd,
            kq_reactor::EVFILT_READ,
            kq_reactor::EV_DELETE | kq_reactor::EV_RECEIPT,
            0,
            0,
        ),
        kev(fd, kq_reactor::EVFILT_WRITE, kq_reactor::EV_DELETE, 0, 0),
    ];
    // No room for the receipt: the READ deletion is applied, the WRITE one is not.
    assert_eq!(kq.kevent(&pair, &mut [], None).unwrap(), 0);
    (&peer).write_all(b"x").unwrap();
    let evs = wait(&kq, 4, LONG);
    assert!(
        evs.iter().any(|e| e.filter == kq_reactor::EVFILT_WRITE),
        "WRITE still reports: {evs:?}"
    );
    assert!(
        !evs.iter().any(|e| e.filter == kq_reactor::EVFILT_READ),
        "READ is gone: {evs:?}"
    );
    let evs = wait(&kq, 4, LONG);
    assert!(
        evs.iter().any(|e| e.filter == kq_reactor::EVFILT_WRITE),
        "and keeps reporting (level-triggered): {evs:?}"
    );
}
