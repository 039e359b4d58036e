//! `kq::net::UdpSocket` on loopback (127.0.0.1 and ::1 only; nothing is ever sent to a
//! multicast or broadcast address): binding, `send_to`/`recv_from` and connected
//! `send`/`recv` round trips, the kernel's filtering of a connected socket, peeking (the
//! datagram stays queued), the `try_*` methods with `readable`/`writable`/`ready`, the
//! `poll_*` methods through `poll_fn` and `ReadBuf`, truncation, one `Arc<UdpSocket>`
//! shared by a sending and a receiving task, `ConnectionRefused` from an ICMP "port
//! unreachable" (the socket error the core consumed with `SO_ERROR` and kq keeps),
//! socket options, `from_std`/`into_std`, `AddrInUse`, host names resolved on the blocking
//! pool, and no descriptor leak after hundreds of sockets.
//!
//! Most tests run on a current-thread runtime and on a two-worker one. Every test holds
//! the shared side of [`FD_CENSUS`] while its runtimes exist; the descriptor count takes
//! the exclusive side, so that no other test of this binary opens or closes a descriptor
//! while it counts.
//!
//! Linux only: the descriptor check reads `/proc`.
#![cfg(target_os = "linux")]

mod util;

use kq::io::{Interest, ReadBuf};
use kq::net::UdpSocket;
use kq::runtime::Runtime;
use kq::time::{Duration, sleep, timeout};
use std::future::{Future, poll_fn};
use std::io::{self, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use tokio_test::assert_pending;
use util::{BOUND, oneshot, open_fds, wait_until};

/// Shared by every test while its runtimes exist; taken exclusively by the descriptor
/// count (see the crate's documentation).
static FD_CENSUS: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    FD_CENSUS.read().unwrap_or_else(PoisonError::into_inner)
}

/// How long one test body may run before it counts as hung.
const TEST_BOUND: Duration = Duration::from_secs(60);

/// Runs `test` on `rt`, failing if it does not finish within [`TEST_BOUND`].
fn run<Fut: Future<Output = ()>>(rt: &Runtime, test: Fut) {
    rt.block_on(async {
        timeout(TEST_BOUND, test)
            .await
            .expect("the test did not finish within its bound");
    });
}

/// Runs `test` on a current-thread runtime, then on a two-worker multi-thread runtime.
fn on_both<F, Fut>(test: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let _census = shared();
    run(&util::current_thread(), test());
    run(&util::multi_thread_2(), test());
}

/// Runs `test` on a current-thread runtime only.
fn on_current_thread<Fut: Future<Output = ()>>(test: Fut) {
    let _census = shared();
    run(&util::current_thread(), test);
}

const LOCAL_V4: &str = "127.0.0.1:0";
const LOCAL_V6: &str = "[::1]:0";

async fn bind(addr: &str) -> UdpSocket {
    UdpSocket::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"))
}

fn addr_of(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().expect("local_addr")
}

/// A port of 127.0.0.1 that nobody has bound (it was free a moment ago).
fn unbound_port() -> SocketAddr {
    let probe = std::net::UdpSocket::bind(LOCAL_V4).expect("bind a probe socket");
    probe.local_addr().expect("local_addr")
}

/// `send(2)` on a connected datagram socket's descriptor, without waiting.
fn raw_send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of its length for the duration of the call.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// `recv(2)` on a datagram socket's descriptor, without waiting.
fn raw_recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length for the duration of the call.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Sleeps in short steps until `cond` holds (each sleep lets the driver turn), failing
/// after [`BOUND`].
async fn sleep_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < BOUND,
            "gave up after {BOUND:?} waiting until {what}"
        );
        sleep(Duration::from_millis(1)).await;
    }
}

// ---- binding and round trips ---------------------------------------------------------

#[test]
fn bind_to_loopback_v4_and_v6_gives_a_port() {
    on_both(|| async {
        let v4 = bind(LOCAL_V4).await;
        let a4 = addr_of(&v4);
        assert_eq!(a4.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_ne!(a4.port(), 0, "the kernel chose no port");

        let v6 = bind(LOCAL_V6).await;
        let a6 = addr_of(&v6);
        assert_eq!(a6.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_ne!(a6.port(), 0, "the kernel chose no port");

        // Unconnected sockets have no peer.
        assert_eq!(v4.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
        assert_eq!(v6.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
    });
}

async fn send_to_recv_from_round_trip(local: &str) {
    let a = bind(local).await;
    let b = bind(local).await;
    let mut buf = [0; 64];

    assert_eq!(a.send_to(b"ping", addr_of(&b)).await.unwrap(), 4);
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"ping"[..], addr_of(&a)));

    assert_eq!(b.send_to(b"pong!", from).await.unwrap(), 5);
    let (n, from) = a.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"pong!"[..], addr_of(&b)));

    // An empty datagram is a datagram too.
    assert_eq!(a.send_to(b"", addr_of(&b)).await.unwrap(), 0);
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((n, from), (0, addr_of(&a)));
}

#[test]
fn send_to_and_recv_from_round_trip_v4() {
    on_both(|| send_to_recv_from_round_trip(LOCAL_V4));
}

#[test]
fn send_to_and_recv_from_round_trip_v6() {
    on_both(|| send_to_recv_from_round_trip(LOCAL_V6));
}

#[test]
fn connected_sockets_send_and_recv() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;
        a.connect(addr_of(&b)).await.unwrap();
        b.connect(addr_of(&a)).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), addr_of(&b));
        assert_eq!(b.peer_addr().unwrap(), addr_of(&a));

        let mut buf = [0; 64];
        for round in 0..10u8 {
            let msg = [round; 7];
            assert_eq!(a.send(&msg).await.unwrap(), 7);
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &msg);
            assert_eq!(b.send(&msg[..3]).await.unwrap(), 3);
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &msg[..3]);
        }
    });
}

#[test]
fn connect_accepts_a_string_address() {
    on_both(|| async {
        let a = bind(LOCAL_V6).await;
        let b = bind(LOCAL_V6).await;
        a.connect(addr_of(&b).to_string()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), addr_of(&b));
        a.send(b"v6").await.unwrap();
        let mut buf = [0; 8];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"v6"[..], addr_of(&a)));
    });
}

#[test]
fn connected_socket_only_receives_from_its_peer() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let peer = bind(LOCAL_V4).await;
        let stranger = bind(LOCAL_V4).await;
        a.connect(addr_of(&peer)).await.unwrap();

        // The stranger's datagram is sent first; the kernel drops it at `a`.
        stranger.send_to(b"stranger", addr_of(&a)).await.unwrap();
        peer.send_to(b"peer 1", addr_of(&a)).await.unwrap();
        stranger
            .send_to(b"stranger again", addr_of(&a))
            .await
            .unwrap();
        peer.send_to(b"peer 2", addr_of(&a)).await.unwrap();

        let mut buf = [0; 64];
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"peer 1"[..], addr_of(&peer)));
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"peer 2");

        // Nothing else was queued: the stranger's datagrams are gone.
        assert_eq!(
            a.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

// ---- peeking ----------------------------------------------------------------------------

#[test]
fn peek_from_and_peek_sender_leave_the_datagram_queued() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;
        a.send_to(b"first", addr_of(&b)).await.unwrap();
        a.send_to(b"second", addr_of(&b)).await.unwrap();

        let mut buf = [0; 64];
        let (n, from) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"first"[..], addr_of(&a)));
        // Peeking again sees the same datagram.
        let (n, from) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"first"[..], addr_of(&a)));
        assert_eq!(b.peek_sender().await.unwrap(), addr_of(&a));
        assert_eq!(b.try_peek_sender().unwrap(), addr_of(&a));
        let (n, from) = b.try_peek_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"first"[..], addr_of(&a)));
        let mut storage = [0; 64];
        let mut rb = ReadBuf::new(&mut storage);
        let from = poll_fn(|cx| b.poll_peek_from(cx, &mut rb)).await.unwrap();
        assert_eq!((rb.filled(), from), (&b"first"[..], addr_of(&a)));

        // The next receive takes the same bytes, then the next datagram comes.
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"first"[..], addr_of(&a)));
        let (n, _) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");

        // Empty now: the non-waiting peeks say so.
        assert_eq!(
            b.try_peek_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert_eq!(
            b.try_peek_sender().unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn peek_on_a_connected_socket_leaves_the_datagram_queued() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;
        b.connect(addr_of(&a)).await.unwrap();
        a.send_to(b"look but do not take", addr_of(&b))
            .await
            .unwrap();

        let mut small = [0; 4];
        assert_eq!(b.peek(&mut small).await.unwrap(), 4);
        assert_eq!(&small, b"look");
        let mut buf = [0; 64];
        let n = b.peek(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"look but do not take");
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"look but do not take");
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

// ---- try_* with readiness ---------------------------------------------------------------

/// Receives one datagram with `readable` and `try_recv_from`, retrying on stale readiness.
async fn readable_then_try_recv_from(socket: &UdpSocket, buf: &mut [u8]) -> (usize, SocketAddr) {
    loop {
        socket.readable().await.unwrap();
        match socket.try_recv_from(buf) {
            Ok(got) => return got,
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => panic!("try_recv_from: {e}"),
        }
    }
}

#[test]
fn try_send_to_and_try_recv_from_with_readable_and_writable() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;
        let mut buf = [0; 64];

        // Nothing there yet.
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert_eq!(
            b.try_peek_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );

        for i in 0..20u8 {
            let n = loop {
                a.writable().await.unwrap();
                match a.try_send_to(&[i; 9], addr_of(&b)) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(e) => panic!("try_send_to: {e}"),
                }
            };
            assert_eq!(n, 9);
            let (n, from) = readable_then_try_recv_from(&b, &mut buf).await;
            assert_eq!((&buf[..n], from), (&[i; 9][..], addr_of(&a)));
        }
        // All taken: empty again.
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn try_send_and_try_recv_on_connected_sockets() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;
        a.connect(addr_of(&b)).await.unwrap();
        b.connect(addr_of(&a)).await.unwrap();
        let mut buf = [0; 64];
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );

        for i in 0..20u8 {
            loop {
                a.writable().await.unwrap();
                match a.try_send(&[i; 3]) {
                    Ok(n) => break assert_eq!(n, 3),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(e) => panic!("try_send: {e}"),
                }
            }
            let n = loop {
                b.readable().await.unwrap();
                match b.try_recv(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(e) => panic!("try_recv: {e}"),
                }
            };
            assert_eq!(&buf[..n], &[i; 3]);
        }
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn ready_reports_what_the_socket_is_ready_for() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;

        // A fresh socket can send.
        let ready = a
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap();
        assert!(ready.is_writable(), "{ready:?}");

        a.send_to(b"wake up", addr_of(&b)).await.unwrap();
        let mut buf = [0; 16];
        let got = loop {
            let ready = b.ready(Interest::READABLE).await.unwrap();
            assert!(ready.is_readable(), "{ready:?}");
            match b.try_recv_from(&mut buf) {
                Ok(got) => break got,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_recv_from: {e}"),
            }
        };
        assert_eq!((&buf[..got.0], got.1), (&b"wake up"[..], addr_of(&a)));

        // `try_io` runs any non-blocking operation under the socket's readiness: here a
        // raw `send` on the connected socket's descriptor.
        a.connect(addr_of(&b)).await.unwrap();
        let fd = a.as_raw_fd();
        let sent = loop {
            a.writable().await.unwrap();
            match a.try_io(Interest::WRITABLE, || raw_send(fd, b"raw")) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_io: {e}"),
            }
        };
        assert_eq!(sent, 3);
        let (n, from) = readable_then_try_recv_from(&b, &mut buf).await;
        assert_eq!((&buf[..n], from), (&b"raw"[..], addr_of(&a)));
        // A `WouldBlock` from the closure is passed through (and clears the readiness).
        let err = b
            .try_io(Interest::READABLE, || raw_recv(b.as_raw_fd(), &mut buf))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
    });
}

#[test]
fn several_tasks_waiting_readable_on_one_socket_all_wake() {
    on_both(|| async {
        let sock = Arc::new(bind(LOCAL_V4).await);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let sock = sock.clone();
                kq::spawn(async move { sock.readable().await.unwrap() })
            })
            .collect();
        // Let the waiters register before the datagram comes.
        for _ in 0..5 {
            kq::task::yield_now().await;
        }
        let sender = bind(LOCAL_V4).await;
        sender.send_to(b"all of you", addr_of(&sock)).await.unwrap();
        for w in waiters {
            w.await.unwrap();
        }
        // Waiting took nothing: the datagram is still there.
        let mut buf = [0; 16];
        let (n, from) = sock.try_recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"all of you"[..], addr_of(&sender)));
    });
}

// ---- poll_* -----------------------------------------------------------------------------

#[test]
fn poll_send_to_and_poll_recv_from_through_poll_fn() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;
        let to = addr_of(&b);

        poll_fn(|cx| a.poll_send_ready(cx)).await.unwrap();
        let n = poll_fn(|cx| a.poll_send_to(cx, b"polled", to))
            .await
            .unwrap();
        assert_eq!(n, 6);

        // Into the unfilled part of a buffer that already holds something.
        let mut storage = [0; 32];
        let mut rb = ReadBuf::new(&mut storage);
        rb.put_slice(b"<<");
        poll_fn(|cx| b.poll_recv_ready(cx)).await.unwrap();
        let from = poll_fn(|cx| b.poll_recv_from(cx, &mut rb)).await.unwrap();
        assert_eq!(from, addr_of(&a));
        assert_eq!(rb.filled(), b"<<polled");

        // An uninitialised buffer works as well.
        a.send_to(b"uninit", to).await.unwrap();
        let mut raw = [std::mem::MaybeUninit::<u8>::uninit(); 16];
        let mut rb = ReadBuf::uninit(&mut raw);
        let from = poll_fn(|cx| b.poll_recv_from(cx, &mut rb)).await.unwrap();
        assert_eq!((rb.filled(), from), (&b"uninit"[..], addr_of(&a)));
    });
}

#[test]
fn poll_send_and_poll_recv_on_connected_sockets() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;
        a.connect(addr_of(&b)).await.unwrap();
        b.connect(addr_of(&a)).await.unwrap();

        for i in 0..10u8 {
            let n = poll_fn(|cx| a.poll_send(cx, &[i; 5])).await.unwrap();
            assert_eq!(n, 5);
            let mut storage = [0; 16];
            let mut rb = ReadBuf::new(&mut storage);
            poll_fn(|cx| b.poll_recv(cx, &mut rb)).await.unwrap();
            assert_eq!(rb.filled(), &[i; 5]);
        }
    });
}

#[test]
fn poll_recv_from_is_pending_until_a_datagram_comes() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;
        let mut storage = [0; 16];
        let mut rb = ReadBuf::new(&mut storage);
        {
            let mut recv = tokio_test::task::spawn(poll_fn(|cx| b.poll_recv_from(cx, &mut rb)));
            assert_pending!(recv.poll());
            assert!(!recv.is_woken());

            a.send_to(b"now", addr_of(&b)).await.unwrap();
            sleep_until("the pending receive is woken", || recv.is_woken()).await;
            match recv.poll() {
                std::task::Poll::Ready(Ok(from)) => assert_eq!(from, addr_of(&a)),
                other => panic!("expected the datagram, got {other:?}"),
            }
        }
        assert_eq!(rb.filled(), b"now");
    });
}

// ---- truncation ---------------------------------------------------------------------

#[test]
fn a_datagram_larger_than_the_buffer_is_truncated() {
    on_both(|| async {
        let a = bind(LOCAL_V4).await;
        let b = bind(LOCAL_V4).await;
        let big: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();

        a.send_to(&big, addr_of(&b)).await.unwrap();
        a.send_to(b"next", addr_of(&b)).await.unwrap();
        let mut small = [0; 10];
        let (n, from) = b.recv_from(&mut small).await.unwrap();
        assert_eq!((n, from), (10, addr_of(&a)));
        assert_eq!(&small[..], &big[..10]);
        // The rest of the big datagram is gone; the next one is whole.
        let mut buf = [0; 64];
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"next");

        // The same through poll_recv and a small ReadBuf.
        b.connect(addr_of(&a)).await.unwrap();
        a.send_to(&big, addr_of(&b)).await.unwrap();
        let mut storage = [0; 7];
        let mut rb = ReadBuf::new(&mut storage);
        poll_fn(|cx| b.poll_recv(cx, &mut rb)).await.unwrap();
        assert_eq!(rb.filled(), &big[..7]);
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

// ---- one socket, two tasks ------------------------------------------------------------

#[test]
fn an_arc_socket_shared_by_a_sending_task_and_a_receiving_task() {
    const ROUNDS: u32 = 1000;
    on_both(|| async {
        let shared = Arc::new(bind(LOCAL_V4).await);
        let echo = bind(LOCAL_V4).await;
        let (shared_addr, echo_addr) = (addr_of(&shared), addr_of(&echo));

        let echo_task = kq::spawn(async move {
            let mut buf = [0; 64];
            for _ in 0..ROUNDS {
                let (n, from) = echo.recv_from(&mut buf).await.unwrap();
                assert_eq!(from, shared_addr);
                echo.send_to(&buf[..n], from).await.unwrap();
            }
        });

        // The receiving task tells the sending task that an echo came back, so that one
        // datagram at a time is in flight and loopback drops nothing.
        let handoff: Arc<Mutex<Option<util::Sender<()>>>> = Arc::default();
        let receiver = kq::spawn({
            let (shared, handoff) = (shared.clone(), handoff.clone());
            async move {
                let mut buf = [0; 64];
                for i in 0..ROUNDS {
                    let (n, from) = shared.recv_from(&mut buf).await.unwrap();
                    assert_eq!(from, echo_addr);
                    assert_eq!(&buf[..n], &i.to_be_bytes(), "echo {i} out of order");
                    let tx = handoff.lock().unwrap().take();
                    tx.expect("the sender waits for this echo").send(());
                }
            }
        });
        let sender = kq::spawn(async move {
            for i in 0..ROUNDS {
                let (tx, rx) = oneshot();
                *handoff.lock().unwrap() = Some(tx);
                assert_eq!(
                    shared.send_to(&i.to_be_bytes(), echo_addr).await.unwrap(),
                    4
                );
                rx.await.expect("the receiver got the echo");
            }
        });

        receiver.await.unwrap();
        sender.await.unwrap();
        echo_task.await.unwrap();
    });
}

// ---- ICMP errors --------------------------------------------------------------------

#[test]
fn recv_after_sending_to_a_port_nobody_bound_is_connection_refused() {
    on_both(|| async {
        let sock = bind(LOCAL_V4).await;
        sock.connect(unbound_port()).await.unwrap();
        let mut buf = [0; 16];
        for round in 0..3 {
            // The kernel answers each datagram with an ICMP "port unreachable"; the core
            // reads the resulting socket error (clearing it in the kernel), and kq must
            // hand it to the receive.
            sock.send(b"anyone?").await.unwrap();
            let err = sock.recv(&mut buf).await.unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::ConnectionRefused,
                "round {round}: {err}"
            );
        }
        // Each refusal was reported once: nothing is left over, now or after the driver
        // has turned again.
        sleep(Duration::from_millis(20)).await;
        assert!(sock.take_error().unwrap().is_none());
        assert_eq!(
            sock.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn try_recv_after_readable_reports_the_refusal_the_core_consumed() {
    on_both(|| async {
        let sock = bind(LOCAL_V4).await;
        sock.connect(unbound_port()).await.unwrap();
        sock.send(b"anyone?").await.unwrap();
        // `readable` returns once the core has seen the error, so the kernel's copy is
        // gone by now: only kq's kept error can make try_recv report it.
        let mut buf = [0; 16];
        let err = loop {
            sock.readable().await.unwrap();
            match sock.try_recv(&mut buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => break e,
                Ok(n) => panic!("received {n} bytes from a port nobody bound"),
            }
        };
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");

        // The same error through take_error, and then no more.
        sock.send(b"anyone now?").await.unwrap();
        sock.readable().await.unwrap();
        let err = sock
            .take_error()
            .unwrap()
            .expect("the refusal is kept for take_error");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert!(sock.take_error().unwrap().is_none());
    });
}

#[test]
fn a_refused_socket_works_again_after_connecting_to_a_live_peer() {
    on_both(|| async {
        let sock = Arc::new(bind(LOCAL_V4).await);
        sock.connect(unbound_port()).await.unwrap();
        sock.send(b"anyone?").await.unwrap();
        let mut buf = [0; 16];
        let err = sock.recv(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");

        let live = bind(LOCAL_V4).await;
        sock.connect(addr_of(&live)).await.unwrap();
        for round in 0..5u8 {
            // A receive that has to wait for the datagram, then one that finds nothing:
            // neither may report the refusal again.
            let waiting = kq::spawn({
                let sock = sock.clone();
                async move {
                    let mut buf = [0; 16];
                    let n = sock.recv(&mut buf).await?;
                    Ok::<_, io::Error>(buf[..n].to_vec())
                }
            });
            kq::task::yield_now().await;
            live.send_to(&[round; 3], addr_of(&sock)).await.unwrap();
            let got = waiting.await.unwrap();
            assert_eq!(
                got.as_deref().ok(),
                Some(&[round; 3][..]),
                "round {round}: {got:?}"
            );
            let empty = sock.try_recv(&mut buf).unwrap_err();
            assert_eq!(
                empty.kind(),
                ErrorKind::WouldBlock,
                "round {round}: {empty}"
            );
            assert!(sock.take_error().unwrap().is_none(), "round {round}");

            sock.send(&[round; 2]).await.unwrap();
            let (n, from) = live.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&[round; 2][..], addr_of(&sock)));
        }
    });
}

// ---- options ------------------------------------------------------------------------

#[test]
fn socket_options_round_trip() {
    on_current_thread(async {
        let v4 = bind(LOCAL_V4).await;

        for on in [true, false, true] {
            v4.set_broadcast(on).unwrap();
            assert_eq!(v4.broadcast().unwrap(), on);
            v4.set_multicast_loop_v4(on).unwrap();
            assert_eq!(v4.multicast_loop_v4().unwrap(), on);
        }
        for ttl in [1, 42, 255] {
            v4.set_multicast_ttl_v4(ttl).unwrap();
            assert_eq!(v4.multicast_ttl_v4().unwrap(), ttl);
            v4.set_ttl(ttl).unwrap();
            assert_eq!(v4.ttl().unwrap(), ttl);
        }

        let v6 = bind(LOCAL_V6).await;
        for on in [false, true, false] {
            v6.set_multicast_loop_v6(on).unwrap();
            assert_eq!(v6.multicast_loop_v6().unwrap(), on);
        }

        // The options leave the socket working.
        let peer = bind(LOCAL_V4).await;
        v4.send_to(b"still fine", addr_of(&peer)).await.unwrap();
        let mut buf = [0; 16];
        let (n, _) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"still fine");
    });
}

// ---- std conversions and errors -------------------------------------------------------

#[test]
fn from_std_and_into_std() {
    on_both(|| async {
        let std_sock = std::net::UdpSocket::bind(LOCAL_V4).unwrap();
        let addr = std_sock.local_addr().unwrap();
        // A blocking std socket becomes a non-blocking kq one.
        let sock = UdpSocket::from_std(std_sock).unwrap();
        assert_eq!(addr_of(&sock), addr);
        let peer = bind(LOCAL_V4).await;
        peer.send_to(b"to kq", addr).await.unwrap();
        let mut buf = [0; 16];
        let (n, from) = sock.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"to kq"[..], addr_of(&peer)));

        // And back: still non-blocking, still the same socket.
        let std_sock = sock.into_std().unwrap();
        assert_eq!(std_sock.local_addr().unwrap(), addr);
        assert_eq!(
            std_sock.recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        std_sock.set_nonblocking(false).unwrap();
        peer.send_to(b"to std", addr).await.unwrap();
        let (n, from) = std_sock.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"to std"[..], addr_of(&peer)));

        // TryFrom is from_std.
        let again = UdpSocket::try_from(std_sock).unwrap();
        peer.send_to(b"again", addr).await.unwrap();
        let (n, _) = again.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"again");
    });
}

#[test]
fn from_std_outside_a_runtime_is_an_error() {
    let _census = shared();
    let std_sock = std::net::UdpSocket::bind(LOCAL_V4).unwrap();
    assert!(UdpSocket::from_std(std_sock).is_err());
}

#[test]
fn binding_an_address_in_use_is_addr_in_use() {
    on_both(|| async {
        let holder = std::net::UdpSocket::bind(LOCAL_V4).unwrap();
        let taken = holder.local_addr().unwrap();
        let err = UdpSocket::bind(taken).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");

        // A kq socket holds its port as well.
        let sock = bind(LOCAL_V4).await;
        let err = UdpSocket::bind(addr_of(&sock)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        drop(holder);
    });
}

#[test]
fn send_to_a_host_name_resolves_it_on_the_blocking_pool() {
    on_both(|| async {
        // Bind where "localhost" resolves first, so that send_to's first address fits.
        let ip = ("localhost", 0)
            .to_socket_addrs()
            .expect("resolve localhost")
            .next()
            .expect("localhost has an address")
            .ip();
        let a = bind(&SocketAddr::new(ip, 0).to_string()).await;
        let b = bind(&SocketAddr::new(ip, 0).to_string()).await;
        let handle = kq::runtime::Handle::current();
        assert_eq!(handle.metrics().num_blocking_threads(), 0);

        let target = format!("localhost:{}", addr_of(&b).port());
        assert_eq!(a.send_to(b"by name", target.as_str()).await.unwrap(), 7);
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"by name"[..], addr_of(&a)));
        assert!(
            handle.metrics().num_blocking_threads() >= 1,
            "the name was not resolved on the blocking pool"
        );

        // A (host, port) pair and connect resolve the same way.
        assert_eq!(
            a.send_to(b"pair", ("localhost", addr_of(&b).port()))
                .await
                .unwrap(),
            4
        );
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pair");
        a.connect(target).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), addr_of(&b));
    });
}

#[test]
fn send_to_a_name_that_does_not_resolve_is_an_error() {
    on_current_thread(async {
        let a = bind(LOCAL_V4).await;
        // `.invalid` never resolves (RFC 2606).
        assert!(a.send_to(b"x", "no-such-host.invalid:9").await.is_err());
        // The socket is unharmed.
        let b = bind(LOCAL_V4).await;
        a.send_to(b"y", addr_of(&b)).await.unwrap();
        let mut buf = [0; 4];
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"y");
    });
}

// ---- descriptors --------------------------------------------------------------------

#[test]
fn hundreds_of_sockets_created_and_dropped_leave_no_descriptor_open() {
    let _census = FD_CENSUS.write().unwrap_or_else(PoisonError::into_inner);
    let rt = util::multi_thread_2();
    // Let the runtime open whatever it opens lazily before counting.
    rt.block_on(async { sleep(Duration::from_millis(5)).await });
    let before = open_fds();

    rt.block_on(async {
        timeout(TEST_BOUND, async {
            for _ in 0..3 {
                let mut sockets = Vec::new();
                for _ in 0..100 {
                    sockets.push(bind(LOCAL_V4).await);
                }
                // Some of them carry traffic and wait for readiness, connected or not.
                for pair in sockets.chunks(2).take(20) {
                    let (a, b) = (&pair[0], &pair[1]);
                    a.connect(addr_of(b)).await.unwrap();
                    a.send(b"x").await.unwrap();
                    let mut buf = [0; 4];
                    assert_eq!(b.recv_from(&mut buf).await.unwrap(), (1, addr_of(a)));
                }
                // And one into a refusal, whose error kq keeps.
                let refused = bind(LOCAL_V4).await;
                refused.connect(unbound_port()).await.unwrap();
                refused.send(b"x").await.unwrap();
                let mut buf = [0; 4];
                assert!(refused.recv(&mut buf).await.is_err());
                let std_sock = bind(LOCAL_V4).await.into_std().unwrap();
                sockets.push(refused);
                drop(sockets);
                drop(std_sock);
            }
        })
        .await
        .expect("the sockets were not made within the bound");
    });

    // The runtime is idle now: closing must not wait for other work.
    wait_until("every socket's descriptor is closed", BOUND, || {
        open_fds().len() <= before.len()
    });
    let after = open_fds();
    assert_eq!(
        after.len(),
        before.len(),
        "descriptors before: {before:?}, after: {after:?}"
    );
    assert_eq!(rt.metrics().io_registrations(), 0);
}
