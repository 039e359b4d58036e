//! TCP through `kq::net` on real loopback sockets (127.0.0.1 and ::1 only): binding and
//! accepting (one listener shared by many accepting tasks, `poll_accept`, `incoming()`),
//! connecting with every `ToSocketAddrs` form (host names resolved on the blocking pool),
//! echo round trips, `peek`/`poll_peek`, the `try_*` calls with `readable`/`writable`/
//! `ready`, borrowed and owned halves (each waiting for its own direction in its own task,
//! `reunite`, `ReuniteError`, end of stream when the owned write half is dropped but not
//! when it is forgotten), half-close by `shutdown`,
//! 16 MiB each way at once on one connection, 1,000 connections doing 10,000 round trips,
//! socket options, conversions from and to std, futures' I/O traits, and errors (refused,
//! reset, broken pipe, outside a runtime).
//!
//! `futures-core` is not a dev-dependency of `kq`, so `incoming()` is polled as a stream
//! through `tokio_test::task::Spawn::poll_next` (which takes any `futures_core::Stream`).

mod util;

use kq::io::{AsyncReadExt, AsyncWriteExt, Interest, ReadBuf};
use kq::net::tcp::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
use kq::net::{TcpListener, TcpSocket, TcpStream, lookup_host};
use kq::runtime::Runtime;
use kq::time::{Duration, Instant, sleep, timeout};
use std::collections::BTreeSet;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use tokio_test::assert_pending;
use tokio_test::task::{Spawn, spawn as mock};
use util::BOUND;

const MIB: usize = 1 << 20;
const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

fn runtimes() -> [Runtime; 3] {
    [
        util::current_thread(),
        util::multi_thread_1(),
        util::multi_thread_2(),
    ]
}

// ---- helpers -------------------------------------------------------------------------------

/// Awaits `fut`, failing the test if it takes longer than `bound`.
async fn within<F: Future>(what: &str, bound: Duration, fut: F) -> F::Output {
    match timeout(bound, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done after {bound:?}"),
    }
}

/// Awaits `fut`, failing the test if it takes longer than [`BOUND`].
async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    within(what, BOUND, fut).await
}

/// Polls two futures at once in the calling task until both are done.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Waits (sleeping, so the driver turns on any flavor) until a mock task has been woken.
async fn wait_woken<T>(what: &str, task: &Spawn<T>) {
    let start = Instant::now();
    while !task.is_woken() {
        assert!(
            start.elapsed() < BOUND,
            "gave up after {BOUND:?} waiting until {what}"
        );
        sleep(Duration::from_millis(1)).await;
    }
}

/// A listener on `ip`, port chosen by the system.
async fn listener_on(ip: IpAddr) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind((ip, 0))
        .await
        .expect("bind a loopback listener");
    let addr = listener.local_addr().unwrap();
    assert_eq!(addr.ip(), ip);
    assert_ne!(addr.port(), 0);
    (listener, addr)
}

/// A connected pair on `ip`: `(client, server)`.
async fn pair_on(ip: IpAddr) -> (TcpStream, TcpStream) {
    let (listener, addr) = listener_on(ip).await;
    let (client, accepted) = bounded(
        "connect and accept",
        join(TcpStream::connect(addr), listener.accept()),
    )
    .await;
    let client = client.expect("connect");
    let (server, peer) = accepted.expect("accept");
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), addr);
    (client, server)
}

/// A connected pair on 127.0.0.1: `(client, server)`.
async fn pair() -> (TcpStream, TcpStream) {
    pair_on(V4).await
}

/// The byte at `offset` of the stream numbered `seed`: position-dependent and not periodic
/// in any chunk size, so a lost, repeated or reordered chunk is caught.
fn pattern_byte(seed: u8, offset: usize) -> u8 {
    let x = (offset as u32).wrapping_mul(0x9E37_79B1);
    (x >> 24) as u8 ^ (offset >> 8) as u8 ^ seed
}

fn pattern(seed: u8, offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len)
        .map(|i| pattern_byte(seed, i))
        .collect()
}

#[track_caller]
fn check_pattern(seed: u8, offset: usize, got: &[u8]) {
    for (i, &b) in got.iter().enumerate() {
        let want = pattern_byte(seed, offset + i);
        assert_eq!(
            b,
            want,
            "stream {seed}: wrong byte at offset {}",
            offset + i
        );
    }
}

/// Echoes everything it reads until end of stream; returns how many bytes it echoed.
async fn echo(mut stream: TcpStream) -> usize {
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await.expect("echo: read");
        if n == 0 {
            return total;
        }
        stream.write_all(&buf[..n]).await.expect("echo: write");
        total += n;
    }
}

/// `try_read` after `readable` until something (or end of stream) is read.
async fn read_when_ready(stream: &TcpStream, buf: &mut [u8]) -> usize {
    bounded("readable and try_read", async {
        loop {
            stream.readable().await.unwrap();
            match stream.try_read(buf) {
                Ok(n) => return n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_read: {e}"),
            }
        }
    })
    .await
}

/// `try_write` after `writable` until all of `buf` is written.
async fn write_when_ready(stream: &TcpStream, mut buf: &[u8]) {
    bounded("writable and try_write", async {
        while !buf.is_empty() {
            stream.writable().await.unwrap();
            match stream.try_write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_write: {e}"),
            }
        }
    })
    .await
}

/// Reads until end of stream and returns everything read.
async fn read_to_eof(stream: &mut (impl kq::io::AsyncRead + Unpin)) -> Vec<u8> {
    let mut all = Vec::new();
    bounded("read to end of stream", stream.read_to_end(&mut all))
        .await
        .expect("read to end of stream");
    all
}

// ---- accept --------------------------------------------------------------------------------

async fn accept_one_on(bind: &str, ip: IpAddr) {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert_eq!(addr.ip(), ip);
    assert_ne!(addr.port(), 0, "port 0 means the system chooses one");

    let connect = kq::spawn(async move { TcpStream::connect(addr).await });
    let (mut server, peer) = bounded("accept", listener.accept()).await.unwrap();
    let mut client = connect.await.unwrap().expect("connect");

    assert_eq!(peer, client.local_addr().unwrap());
    assert!(peer.ip().is_loopback());
    assert_eq!(server.local_addr().unwrap(), addr);
    assert_eq!(server.peer_addr().unwrap(), peer);
    assert_eq!(client.peer_addr().unwrap(), addr);

    client.write_all(b"over loopback").await.unwrap();
    let mut buf = [0; 13];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"over loopback");
}

#[kq::test]
async fn accept_on_ipv4_loopback() {
    accept_one_on("127.0.0.1:0", V4).await;
}

#[kq::test]
async fn accept_on_ipv6_loopback() {
    accept_one_on("[::1]:0", V6).await;
}

#[test]
fn many_tasks_accept_on_one_shared_listener() {
    const TASKS: usize = 8;
    for rt in runtimes() {
        rt.block_on(async {
            let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = listener.local_addr().unwrap();
            let started = Arc::new(AtomicUsize::new(0));
            let acceptors: Vec<_> = (0..TASKS)
                .map(|_| {
                    let listener = listener.clone();
                    let started = started.clone();
                    kq::spawn(async move {
                        started.fetch_add(1, Ordering::SeqCst);
                        let (mut stream, peer) = listener.accept().await.unwrap();
                        let id = stream.read_u8().await.unwrap();
                        stream.write_u8(id).await.unwrap();
                        (id, peer)
                    })
                })
                .collect();
            // Every acceptor waits in `accept` before the first client connects.
            util::yield_until("all acceptors started", BOUND, || {
                started.load(Ordering::SeqCst) == TASKS
            })
            .await;
            sleep(Duration::from_millis(20)).await;

            let clients: Vec<_> = (0..TASKS as u8)
                .map(|id| {
                    kq::spawn(async move {
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        stream.write_u8(id).await.unwrap();
                        assert_eq!(stream.read_u8().await.unwrap(), id);
                        stream.local_addr().unwrap()
                    })
                })
                .collect();

            let mut ids = BTreeSet::new();
            let mut peers = BTreeSet::new();
            for acceptor in acceptors {
                // Each acceptor returns after one connection: all of them finishing means
                // each got exactly one of the clients.
                let (id, peer) = bounded("an acceptor", acceptor).await.unwrap();
                ids.insert(id);
                peers.insert(peer);
            }
            let mut locals = BTreeSet::new();
            for client in clients {
                locals.insert(bounded("a client", client).await.unwrap());
            }
            assert_eq!(ids, (0..TASKS as u8).collect::<BTreeSet<_>>());
            assert_eq!(peers, locals, "each client was accepted exactly once");
        });
    }
}

#[kq::test]
async fn poll_accept_through_poll_fn() {
    let (listener, addr) = listener_on(V4).await;
    let mut pending = mock(poll_fn(|cx| listener.poll_accept(cx)));
    assert_pending!(pending.poll());
    drop(pending);

    let (client, accepted) = bounded(
        "connect and poll_accept",
        join(
            TcpStream::connect(addr),
            poll_fn(|cx| listener.poll_accept(cx)),
        ),
    )
    .await;
    let client = client.unwrap();
    let (server, peer) = accepted.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.peer_addr().unwrap(), peer);
}

#[kq::test]
async fn incoming_yields_each_connection_and_wakes_the_stream() {
    let (listener, addr) = listener_on(V4).await;
    let mut incoming = mock(listener.incoming());
    assert_pending!(incoming.poll_next());

    for round in 0..3u8 {
        let mut client = bounded("connect", TcpStream::connect(addr)).await.unwrap();
        wait_woken("a connection wakes the incoming stream", &incoming).await;
        let mut server = match incoming.poll_next() {
            Poll::Ready(Some(Ok(stream))) => stream,
            other => panic!("expected a connection, got {other:?}"),
        };
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
        client.write_u8(round).await.unwrap();
        assert_eq!(server.read_u8().await.unwrap(), round);
        // Nobody else connected: the stream waits (it never ends).
        assert_pending!(incoming.poll_next());
    }
}

#[kq::test]
async fn a_cancelled_accept_leaves_the_listener_working() {
    let (listener, addr) = listener_on(V4).await;
    let res = timeout(Duration::from_millis(20), listener.accept()).await;
    assert!(res.is_err(), "no client: accept must still be waiting");

    let client = TcpStream::connect(addr).await.unwrap();
    let (_server, peer) = bounded("accept after a cancelled accept", listener.accept())
        .await
        .unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
}

// ---- connect and ToSocketAddrs --------------------------------------------------------------

/// Accepts the connection `client` made and checks both ends agree.
async fn accept_matching(
    listener: &TcpListener,
    client: io::Result<TcpStream>,
    form: &str,
) -> TcpStream {
    let client = client.unwrap_or_else(|e| panic!("connect with {form}: {e}"));
    let (server, peer) = bounded("accept", listener.accept()).await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap(), "{form}");
    assert_eq!(
        client.peer_addr().unwrap(),
        listener.local_addr().unwrap(),
        "{form}"
    );
    assert_eq!(server.peer_addr().unwrap(), peer, "{form}");
    client
}

#[test]
fn connect_with_every_literal_address_form() {
    let rt = util::current_thread();
    rt.block_on(async {
        let (listener, addr) = listener_on(V4).await;
        let port = addr.port();
        let l = &listener;
        let string = format!("127.0.0.1:{port}");
        accept_matching(l, TcpStream::connect(string.clone()).await, "String").await;
        accept_matching(l, TcpStream::connect(string.as_str()).await, "&str").await;
        accept_matching(l, TcpStream::connect(&string).await, "&String").await;
        accept_matching(
            l,
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await,
            "(Ipv4Addr, u16)",
        )
        .await;
        accept_matching(l, TcpStream::connect((V4, port)).await, "(IpAddr, u16)").await;
        accept_matching(
            l,
            TcpStream::connect(([127, 0, 0, 1], port)).await,
            "([u8; 4], u16)",
        )
        .await;
        accept_matching(
            l,
            TcpStream::connect(("127.0.0.1", port)).await,
            "(&str, u16)",
        )
        .await;
        accept_matching(l, TcpStream::connect(addr).await, "SocketAddr").await;
        accept_matching(l, TcpStream::connect(&addr).await, "&SocketAddr").await;
        accept_matching(
            l,
            TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).await,
            "SocketAddrV4",
        )
        .await;
        accept_matching(l, TcpStream::connect(&[addr][..]).await, "&[SocketAddr]").await;

        let (listener6, addr6) = listener_on(V6).await;
        let port6 = addr6.port();
        let l6 = &listener6;
        accept_matching(
            l6,
            TcpStream::connect(format!("[::1]:{port6}")).await,
            "\"[::1]:port\"",
        )
        .await;
        accept_matching(
            l6,
            TcpStream::connect((Ipv6Addr::LOCALHOST, port6)).await,
            "(Ipv6Addr, u16)",
        )
        .await;
        accept_matching(
            l6,
            TcpStream::connect(("::1", port6)).await,
            "(\"::1\", u16)",
        )
        .await;
        accept_matching(
            l6,
            TcpStream::connect(SocketAddrV6::new(Ipv6Addr::LOCALHOST, port6, 0, 0)).await,
            "SocketAddrV6",
        )
        .await;
    });
    assert_eq!(
        rt.metrics().num_blocking_threads(),
        0,
        "literal addresses need no lookup on the blocking pool"
    );
}

#[test]
fn connect_to_localhost_resolves_on_the_blocking_pool() {
    // What the system resolver says "localhost" is (every address must be loopback).
    let resolved: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 0))
        .expect("resolve localhost")
        .collect();
    assert!(!resolved.is_empty());
    assert!(
        resolved.iter().all(|a| a.ip().is_loopback()),
        "localhost resolved to {resolved:?}"
    );
    let ip = resolved[0].ip();

    let rt = util::current_thread();
    rt.block_on(async {
        let (listener, addr) = listener_on(ip).await;
        let port = addr.port();
        assert_eq!(rt.metrics().num_blocking_threads(), 0);

        accept_matching(
            &listener,
            TcpStream::connect(("localhost", port)).await,
            "(\"localhost\", u16)",
        )
        .await;
        assert!(
            rt.metrics().num_blocking_threads() >= 1,
            "a host name is resolved on the blocking pool"
        );
        accept_matching(
            &listener,
            TcpStream::connect(format!("localhost:{port}")).await,
            "\"localhost:port\"",
        )
        .await;

        let looked_up: Vec<SocketAddr> = lookup_host(("localhost", port))
            .await
            .expect("lookup_host")
            .collect();
        assert!(!looked_up.is_empty());
        assert!(
            looked_up
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == port)
        );
        assert!(
            looked_up.contains(&addr),
            "{looked_up:?} should contain {addr}"
        );
    });
}

#[kq::test]
async fn connect_to_a_port_nobody_listens_on_is_refused() {
    // A bound socket that does not listen holds the port, so nothing else can take it and
    // a connection to it is refused (reset) for sure.
    let reserved = TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let dead = reserved.local_addr().unwrap();

    let err = bounded("refused connect", TcpStream::connect(dead))
        .await
        .expect_err("nobody listens there");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");

    // With several addresses, each is tried in turn: the refused one, then the live one.
    let (listener, live) = listener_on(V4).await;
    let client = bounded("connect", TcpStream::connect(&[dead, live][..])).await;
    accept_matching(&listener, client, "[dead, live]").await;

    // With only dead addresses, the last error is returned.
    let err = TcpStream::connect(&[dead, dead][..]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    let err = TcpStream::connect(&[][..]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

// ---- echo and peek ---------------------------------------------------------------------------

#[test]
fn echo_round_trips() {
    for rt in runtimes() {
        rt.block_on(async {
            let (mut client, server) = pair().await;
            let echoed = kq::spawn(echo(server));
            let mut offset = 0;
            for len in [1, 2, 7, 100, 1000, 4096, 65_536, 300_001] {
                let msg = pattern(5, offset, len);
                let mut back = vec![0; len];
                let (rd, wr) = client.split();
                let (w, r) = bounded(
                    "one echo",
                    join(
                        async move {
                            let mut wr = wr;
                            wr.write_all(&msg).await
                        },
                        async {
                            let mut rd = rd;
                            rd.read_exact(&mut back).await
                        },
                    ),
                )
                .await;
                w.unwrap();
                assert_eq!(r.unwrap(), len);
                check_pattern(5, offset, &back);
                offset += len;
            }
            client.shutdown().await.unwrap();
            assert_eq!(read_to_eof(&mut client).await, b"", "echo ends when we do");
            assert_eq!(bounded("echo task", echoed).await.unwrap(), offset);
        });
    }
}

#[kq::test]
async fn peek_then_read_sees_the_same_bytes() {
    let (mut client, mut server) = pair().await;
    client.write_all(b"hello peek").await.unwrap();

    let mut buf = [0; 32];
    let mut n = 0;
    while n < 10 {
        n = bounded("peek", server.peek(&mut buf)).await.unwrap();
    }
    assert_eq!(&buf[..n], b"hello peek");
    // Peeking takes nothing: again, and with a smaller buffer, the same bytes.
    let mut again = [0; 32];
    assert_eq!(server.peek(&mut again).await.unwrap(), 10);
    assert_eq!(&again[..10], b"hello peek");
    let mut small = [0; 4];
    assert_eq!(server.peek(&mut small).await.unwrap(), 4);
    assert_eq!(&small, b"hell");

    let mut read = [0; 10];
    server.read_exact(&mut read).await.unwrap();
    assert_eq!(&read, b"hello peek");
    // Everything is taken now.
    assert_eq!(
        server.try_read(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );

    // At end of stream, peek returns 0.
    client.shutdown().await.unwrap();
    assert_eq!(
        bounded("peek at end", server.peek(&mut buf)).await.unwrap(),
        0
    );
}

#[kq::test]
async fn poll_peek_waits_for_data_then_leaves_it_in_place() {
    let (mut client, mut server) = pair().await;
    let mut storage = [0u8; 16];
    {
        let mut peek = mock(poll_fn(|cx| {
            let mut buf = ReadBuf::new(&mut storage);
            server
                .poll_peek(cx, &mut buf)
                .map_ok(|n| (n, buf.filled().to_vec()))
        }));
        assert_pending!(peek.poll());

        client.write_all(b"abc").await.unwrap();
        wait_woken("data wakes poll_peek", &peek).await;
        let (n, bytes) = match peek.poll() {
            Poll::Ready(Ok(v)) => v,
            other => panic!("expected a peek, got {other:?}"),
        };
        assert_eq!(n, 3);
        assert_eq!(bytes, b"abc");
    }
    let mut read = [0; 3];
    server.read_exact(&mut read).await.unwrap();
    assert_eq!(&read, b"abc");
}

// ---- try_* with readable / writable / ready ------------------------------------------------

#[kq::test]
async fn try_read_would_block_until_data_arrives() {
    let (client, server) = pair().await;
    let mut buf = [0u8; 64];
    let err = server.try_read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);

    write_when_ready(&client, b"ping").await;
    let n = read_when_ready(&server, &mut buf).await;
    assert_eq!(&buf[..n], b"ping");
    // Drained: nothing more is there.
    let err = server.try_read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);

    // Both directions work this way.
    write_when_ready(&server, b"pong!").await;
    let n = read_when_ready(&client, &mut buf).await;
    assert_eq!(&buf[..n], b"pong!");

    // End of stream reads as Ok(0).
    drop(client);
    assert_eq!(read_when_ready(&server, &mut buf).await, 0);
}

#[test]
fn try_write_fills_the_buffers_then_writable_waits_for_room() {
    for rt in runtimes() {
        rt.block_on(async {
            let (mut client, mut server) = pair().await;
            const CHUNK: usize = 256 * 1024;
            client.writable().await.unwrap();
            let mut written = 0;
            loop {
                match client.try_write(&pattern(9, written, CHUNK)) {
                    Ok(n) => {
                        assert!(n > 0);
                        written += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("try_write: {e}"),
                }
                assert!(written < 256 * MIB, "the socket buffers never filled");
            }
            assert!(written > 0);

            // The peer drains everything; `writable` then finds room for one more MiB.
            let reader = kq::spawn(async move {
                let all = read_to_eof(&mut server).await;
                check_pattern(9, 0, &all);
                all.len()
            });
            let extra = pattern(9, written, MIB);
            write_when_ready(&client, &extra).await;
            client.shutdown().await.unwrap();
            let total = bounded("reader", reader).await.unwrap();
            assert_eq!(total, written + MIB);
        });
    }
}

#[kq::test]
async fn vectored_try_write_and_try_read() {
    let (client, server) = pair().await;
    let parts = [
        IoSlice::new(b"hello"),
        IoSlice::new(b", "),
        IoSlice::new(b"vectored world"),
    ];
    let n = bounded("writable and try_write_vectored", async {
        loop {
            client.writable().await.unwrap();
            match client.try_write_vectored(&parts) {
                Ok(n) => return n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_write_vectored: {e}"),
            }
        }
    })
    .await;
    assert_eq!(n, 21, "21 bytes fit an empty send buffer");

    let mut head = [0u8; 4];
    let mut tail = [0u8; 32];
    let mut got = 0;
    bounded("readable and try_read_vectored", async {
        while got < 21 {
            server.readable().await.unwrap();
            let (h, t) = if got < 4 {
                (&mut head[got..], &mut tail[..])
            } else {
                (&mut head[4..], &mut tail[got - 4..])
            };
            let mut bufs = [IoSliceMut::new(h), IoSliceMut::new(t)];
            match server.try_read_vectored(&mut bufs) {
                Ok(0) => panic!("unexpected end of stream"),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_read_vectored: {e}"),
            }
        }
    })
    .await;
    assert_eq!(got, 21);
    assert_eq!(&head, b"hell");
    assert_eq!(&tail[..17], b"o, vectored world");
    let err = server
        .try_read_vectored(&mut [IoSliceMut::new(&mut tail)])
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
}

#[kq::test]
async fn ready_reports_each_direction_and_the_end_of_stream() {
    let (client, server) = pair().await;
    let ready = bounded("ready(WRITABLE)", client.ready(Interest::WRITABLE))
        .await
        .unwrap();
    assert!(ready.is_writable());
    let both = Interest::READABLE | Interest::WRITABLE;
    let ready = bounded("ready(READABLE | WRITABLE)", client.ready(both))
        .await
        .unwrap();
    assert!(ready.is_writable(), "{ready:?}");

    // Nothing sent yet: waiting to read waits.
    {
        let mut wait = mock(client.ready(Interest::READABLE));
        assert_pending!(wait.poll());
        write_when_ready(&server, b"x").await;
        wait_woken("data wakes ready(READABLE)", &wait).await;
        match wait.poll() {
            Poll::Ready(Ok(r)) => assert!(r.is_readable(), "{r:?}"),
            other => panic!("expected readiness, got {other:?}"),
        }
    }
    let mut buf = [0u8; 8];
    assert_eq!(client.try_read(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], b'x');

    // The peer closes: readable, and read-closed.
    drop(server);
    let ready = bounded("ready after the peer closed", async {
        loop {
            let r = client.ready(Interest::READABLE).await.unwrap();
            if r.is_read_closed() {
                return r;
            }
            // A stale readable: consume it and wait again.
            match client.try_read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => panic!("expected WouldBlock before end of stream, got {other:?}"),
            }
        }
    })
    .await;
    assert!(ready.is_readable(), "{ready:?}");
    assert_eq!(client.try_read(&mut buf).unwrap(), 0);
}

// ---- split and into_split --------------------------------------------------------------------

#[test]
fn borrowed_halves_work_at_once() {
    for rt in runtimes() {
        rt.block_on(async {
            let (mut client, server) = pair().await;
            let echoed = kq::spawn(echo(server));
            // 4 MiB is more than the socket buffers hold: the write only finishes because
            // the read half drains the echo at the same time.
            const LEN: usize = 4 * MIB;
            {
                let (mut rd, mut wr) = client.split();
                assert_eq!(rd.peer_addr().unwrap(), wr.peer_addr().unwrap());
                assert_eq!(rd.local_addr().unwrap(), wr.local_addr().unwrap());
                let (sent, back) = bounded(
                    "write and read through borrowed halves",
                    join(
                        async {
                            let mut offset = 0;
                            while offset < LEN {
                                let len = (LEN - offset).min(100_003);
                                wr.write_all(&pattern(11, offset, len)).await.unwrap();
                                offset += len;
                            }
                            wr.shutdown().await.unwrap();
                            offset
                        },
                        async {
                            let mut all = Vec::new();
                            rd.read_to_end(&mut all).await.unwrap();
                            all
                        },
                    ),
                )
                .await;
                assert_eq!(sent, LEN);
                assert_eq!(back.len(), LEN);
                check_pattern(11, 0, &back);
            }
            assert_eq!(bounded("echo", echoed).await.unwrap(), LEN);
        });
    }
}

#[test]
fn owned_halves_work_from_two_tasks_and_reunite() {
    const ROUNDS: usize = 200;
    const LEN: usize = 1000;
    for rt in runtimes() {
        rt.block_on(async {
            let (client, server) = pair().await;
            let local = client.local_addr().unwrap();
            let echoed = kq::spawn(echo(server));
            let (mut rd, mut wr) = client.into_split();
            assert_eq!(rd.local_addr().unwrap(), local);
            assert_eq!(wr.local_addr().unwrap(), local);

            let writer = kq::spawn(async move {
                for i in 0..ROUNDS {
                    wr.write_all(&pattern(13, i * LEN, LEN)).await.unwrap();
                }
                wr
            });
            let reader = kq::spawn(async move {
                let mut all = vec![0; ROUNDS * LEN];
                rd.read_exact(&mut all).await.unwrap();
                check_pattern(13, 0, &all);
                rd
            });
            let wr = bounded("writer task", writer).await.unwrap();
            let rd = bounded("reader task", reader).await.unwrap();

            let mut client = rd.reunite(wr).expect("halves of one stream reunite");
            assert_eq!(client.local_addr().unwrap(), local);
            client.write_all(b"whole again").await.unwrap();
            let mut back = [0; 11];
            client.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, b"whole again");

            client.shutdown().await.unwrap();
            assert_eq!(read_to_eof(&mut client).await, b"");
            assert_eq!(bounded("echo", echoed).await.unwrap(), ROUNDS * LEN + 11);
        });
    }
}

#[kq::test]
async fn reunite_rejects_halves_of_different_streams() {
    let (a, _a_peer) = pair().await;
    let (b, _b_peer) = pair().await;
    let (a_local, b_local) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let (a_rd, a_wr): (OwnedReadHalf, OwnedWriteHalf) = a.into_split();
    let (b_rd, b_wr) = b.into_split();

    let err: ReuniteError = a_rd.reunite(b_wr).expect_err("different streams");
    assert!(!err.to_string().is_empty());
    let _: &dyn std::error::Error = &err;
    // Both halves are handed back (`ReuniteError` is a tuple struct behind the alias).
    let (a_rd, b_wr) = (err.0, err.1);

    // The same from the write half's side.
    let err = a_wr.reunite(b_rd).expect_err("different streams");
    let (b_rd, a_wr) = (err.0, err.1);

    // The halves come back intact and still pair up with their own.
    let a = a_rd.reunite(a_wr).expect("a's halves");
    let b = b_wr.reunite(b_rd).expect("b's halves");
    assert_eq!(a.local_addr().unwrap(), a_local);
    assert_eq!(b.local_addr().unwrap(), b_local);
}

#[test]
fn owned_halves_wait_for_their_own_direction_in_two_tasks() {
    for rt in runtimes() {
        rt.block_on(async {
            let (client, server) = pair().await;
            let (rd, wr) = client.into_split();
            // The reader waits first, with nothing to read.
            let reader = kq::spawn(async move {
                let mut buf = [0u8; 16];
                let mut got = Vec::new();
                while got.len() < 6 {
                    rd.readable().await.unwrap();
                    match rd.try_read(&mut buf) {
                        Ok(0) => panic!("unexpected end of stream"),
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("try_read: {e}"),
                    }
                }
                got
            });
            // Meanwhile another task writes through the write half, with its own waits:
            // its wake-ups must not use up the reader's.
            let writer = kq::spawn(async move {
                for word in [&b"one "[..], b"two ", b"three"] {
                    let mut rest = word;
                    while !rest.is_empty() {
                        let ready = wr.ready(Interest::WRITABLE).await.unwrap();
                        assert!(ready.is_writable());
                        match wr.try_write(rest) {
                            Ok(n) => rest = &rest[n..],
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) => panic!("try_write: {e}"),
                        }
                    }
                    sleep(Duration::from_millis(2)).await;
                }
                wr
            });
            let mut heard = [0u8; 13];
            let mut server = server;
            bounded("the peer reads", server.read_exact(&mut heard))
                .await
                .unwrap();
            assert_eq!(&heard, b"one two three");
            let wr = bounded("writer task", writer).await.unwrap();
            assert!(!reader.is_finished(), "nothing was sent to the reader yet");

            server.write_all(b"answer").await.unwrap();
            let got = bounded("reader task", reader).await.unwrap();
            assert_eq!(got, b"answer");
            drop(wr);
        });
    }
}

#[kq::test]
async fn dropping_the_owned_write_half_ends_the_peers_stream() {
    let (client, mut server) = pair().await;
    let (mut rd, mut wr) = client.into_split();
    wr.write_all(b"last words").await.unwrap();
    drop(wr);

    assert_eq!(read_to_eof(&mut server).await, b"last words");
    let mut buf = [0; 8];
    assert_eq!(server.read(&mut buf).await.unwrap(), 0, "still at end");

    // Only the write direction is closed: the read half still receives.
    server.write_all(b"still here").await.unwrap();
    let mut back = [0; 10];
    bounded("read half reads", rd.read_exact(&mut back))
        .await
        .unwrap();
    assert_eq!(&back, b"still here");
}

#[kq::test]
async fn forgetting_the_owned_write_half_does_not_end_the_stream() {
    let (client, mut server) = pair().await;
    let (rd, mut wr) = client.into_split();
    wr.write_all(b"before").await.unwrap();
    wr.forget();

    // The write direction is still open: the stream (held by the read half) can write, and
    // the peer reads those bytes rather than an end of stream.
    write_when_ready(rd.as_ref(), b" and after").await;
    let mut buf = [0; 16];
    bounded("peer reads", server.read_exact(&mut buf))
        .await
        .expect("no end of stream after forget");
    assert_eq!(&buf, b"before and after");

    // Dropping the last half closes the socket: now the peer reads the end.
    drop(rd);
    assert_eq!(read_to_eof(&mut server).await, b"");
}

// ---- shutdown -----------------------------------------------------------------------------

#[kq::test]
async fn shutdown_is_a_half_close() {
    let (mut client, mut server) = pair().await;
    client.write_all(b"request").await.unwrap();
    client.shutdown().await.unwrap();

    // The peer reads what was sent, then the end of stream...
    assert_eq!(read_to_eof(&mut server).await, b"request");
    // ...while the other direction still works.
    server.write_all(b"response").await.unwrap();
    let mut back = [0; 8];
    client.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"response");
    server.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut client).await, b"");

    // Writing after our own shutdown fails.
    let err = client.write_all(b"more").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
}

#[kq::test]
async fn shutdown_of_a_borrowed_write_half() {
    let (mut client, mut server) = pair().await;
    let (mut rd, mut wr) = client.split();
    wr.write_all(b"half").await.unwrap();
    wr.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut server).await, b"half");
    server.write_all(b"reply").await.unwrap();
    let mut back = [0; 5];
    rd.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"reply");
}

// ---- large transfers and many connections ------------------------------------------------

const LARGE: usize = 16 * MIB;

/// Writes `LARGE` bytes of stream `send` while reading `LARGE` bytes of stream `recv`,
/// checking every byte; returns how many bytes were received.
async fn exchange(mut stream: TcpStream, send: u8, recv: u8) -> usize {
    let (mut rd, mut wr) = stream.split();
    let sending = async {
        let mut offset = 0;
        while offset < LARGE {
            // An odd chunk size, so that chunks and reads never line up.
            let len = (LARGE - offset).min(196_613);
            wr.write_all(&pattern(send, offset, len)).await.unwrap();
            offset += len;
        }
        wr.shutdown().await.unwrap();
    };
    let receiving = async {
        let mut buf = vec![0; 100_000];
        let mut offset = 0;
        loop {
            let n = rd.read(&mut buf).await.unwrap();
            if n == 0 {
                return offset;
            }
            check_pattern(recv, offset, &buf[..n]);
            offset += n;
        }
    };
    join(sending, receiving).await.1
}

fn sixteen_mib_each_way_at_once_on(rt: Runtime) {
    rt.block_on(async {
        let (client, server) = pair().await;
        let a = kq::spawn(exchange(client, 1, 2));
        let b = kq::spawn(exchange(server, 2, 1));
        let bound = Duration::from_secs(120);
        let received_by_client = within("client exchange", bound, a).await.unwrap();
        let received_by_server = within("server exchange", bound, b).await.unwrap();
        assert_eq!(received_by_client, LARGE);
        assert_eq!(received_by_server, LARGE);
    });
}

#[test]
fn sixteen_mib_each_way_at_once_current_thread() {
    sixteen_mib_each_way_at_once_on(util::current_thread());
}

#[test]
fn sixteen_mib_each_way_at_once_multi_thread() {
    sixteen_mib_each_way_at_once_on(util::multi_thread_2());
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_ten_thousand_round_trips() {
    const CONNECTIONS: usize = 1000;
    const ROUNDS: usize = 10;
    const LEN: usize = 32;

    let (listener, addr) = listener_on(V4).await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let server = {
        let accepted = accepted.clone();
        kq::spawn(async move {
            let mut echoes = Vec::new();
            for _ in 0..CONNECTIONS {
                let (stream, _) = listener.accept().await.unwrap();
                accepted.fetch_add(1, Ordering::SeqCst);
                echoes.push(kq::spawn(echo(stream)));
            }
            let mut total = 0;
            for e in echoes {
                total += e.await.unwrap();
            }
            total
        })
    };

    let round_trips = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|id| {
            let round_trips = round_trips.clone();
            kq::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let mut back = [0u8; LEN];
                for round in 0..ROUNDS {
                    let seed = (id % 251) as u8;
                    let msg = pattern(seed, (id * ROUNDS + round) * LEN, LEN);
                    stream.write_all(&msg).await.unwrap();
                    stream.read_exact(&mut back).await.unwrap();
                    assert_eq!(back[..], msg[..], "connection {id} round {round}");
                    round_trips.fetch_add(1, Ordering::SeqCst);
                }
                stream.shutdown().await.unwrap();
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).await.unwrap();
                assert!(rest.is_empty());
            })
        })
        .collect();

    let bound = Duration::from_secs(120);
    within("all clients", bound, async {
        for c in clients {
            c.await.unwrap();
        }
    })
    .await;
    let echoed = within("the server", bound, server).await.unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), CONNECTIONS);
    assert_eq!(round_trips.load(Ordering::SeqCst), CONNECTIONS * ROUNDS);
    assert_eq!(echoed, CONNECTIONS * ROUNDS * LEN);
}

// ---- socket options ------------------------------------------------------------------------

#[kq::test]
async fn stream_options_round_trip() {
    let (client, server) = pair().await;
    for s in [&client, &server] {
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
        s.set_nodelay(false).unwrap();
        assert!(!s.nodelay().unwrap());

        s.set_linger(Some(Duration::from_secs(7))).unwrap();
        assert_eq!(s.linger().unwrap(), Some(Duration::from_secs(7)));
        s.set_linger(None).unwrap();
        assert_eq!(s.linger().unwrap(), None);

        s.set_ttl(42).unwrap();
        assert_eq!(s.ttl().unwrap(), 42);
        assert!(s.take_error().unwrap().is_none());
    }
}

#[kq::test]
async fn listener_ttl_round_trips_and_is_inherited() {
    let (listener, addr) = listener_on(V4).await;
    listener.set_ttl(99).unwrap();
    assert_eq!(listener.ttl().unwrap(), 99);
    let _client = TcpStream::connect(addr).await.unwrap();
    let (server, _) = bounded("accept", listener.accept()).await.unwrap();
    assert_eq!(
        server.ttl().unwrap(),
        99,
        "accepted connections inherit IP_TTL"
    );
}

#[kq::test]
async fn tcp_socket_options_round_trip() {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    assert!(socket.reuseaddr().unwrap());
    socket.set_reuseaddr(false).unwrap();
    assert!(!socket.reuseaddr().unwrap());

    socket.set_reuseport(true).unwrap();
    assert!(socket.reuseport().unwrap());
    socket.set_reuseport(false).unwrap();
    assert!(!socket.reuseport().unwrap());

    // The kernel may round or double the sizes, never give less.
    socket.set_send_buffer_size(96 * 1024).unwrap();
    assert!(socket.send_buffer_size().unwrap() >= 96 * 1024);
    socket.set_recv_buffer_size(80 * 1024).unwrap();
    assert!(socket.recv_buffer_size().unwrap() >= 80 * 1024);

    socket.set_keepalive(true).unwrap();
    assert!(socket.keepalive().unwrap());
    socket.set_keepalive(false).unwrap();
    assert!(!socket.keepalive().unwrap());

    socket.set_linger(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(socket.linger().unwrap(), Some(Duration::from_secs(3)));
    socket.set_linger(None).unwrap();
    assert_eq!(socket.linger().unwrap(), None);

    socket.set_nodelay(true).unwrap();
    assert!(socket.nodelay().unwrap());
    assert!(socket.take_error().unwrap().is_none());

    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let bound = socket.local_addr().unwrap();
    assert_eq!(bound.ip(), V4);
    assert_ne!(bound.port(), 0);
    let listener = socket.listen(64).unwrap();
    assert_eq!(listener.local_addr().unwrap(), bound);
}

#[kq::test]
async fn options_set_before_connect_carry_over() {
    let (listener, addr) = listener_on(V4).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_nodelay(true).unwrap();
    socket.set_keepalive(true).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let local = socket.local_addr().unwrap();

    let stream = bounded("connect", socket.connect(addr)).await.unwrap();
    assert_eq!(
        stream.local_addr().unwrap(),
        local,
        "connect keeps the bound address"
    );
    assert_eq!(stream.peer_addr().unwrap(), addr);
    assert!(stream.nodelay().unwrap());
    let (_server, peer) = bounded("accept", listener.accept()).await.unwrap();
    assert_eq!(peer, local);

    // Back to a socket to read the option a stream has no getter for.
    let socket = TcpSocket::from_std_stream(stream.into_std().unwrap());
    assert!(socket.keepalive().unwrap());
    assert_eq!(socket.local_addr().unwrap(), local);
}

#[kq::test]
async fn reuseport_lets_two_listeners_share_a_port() {
    let first = TcpSocket::new_v4().unwrap();
    first.set_reuseport(true).unwrap();
    first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = first.local_addr().unwrap();
    let first = first.listen(16).unwrap();

    let second = TcpSocket::new_v4().unwrap();
    second.set_reuseport(true).unwrap();
    second
        .bind(addr)
        .expect("SO_REUSEPORT allows a second bind");
    let second = second.listen(16).unwrap();
    assert_eq!(second.local_addr().unwrap(), addr);

    // Without SO_REUSEPORT the port is taken.
    let third = TcpSocket::new_v4().unwrap();
    let err = third.bind(addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");

    // A connection is accepted by one of the two.
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, peer) = bounded(
        "accept on either listener",
        poll_fn(|cx| match first.poll_accept(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => second.poll_accept(cx),
        }),
    )
    .await
    .unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.local_addr().unwrap(), addr);
}

#[kq::test]
async fn listen_backlog_queues_connections_before_accept() {
    let socket = TcpSocket::new_v6().unwrap();
    socket.bind("[::1]:0".parse().unwrap()).unwrap();
    let listener = socket.listen(8).unwrap();
    let addr = listener.local_addr().unwrap();

    // Three connects complete while nobody accepts: the backlog holds them.
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(bounded("connect", TcpStream::connect(addr)).await.unwrap());
    }
    let mut peers = BTreeSet::new();
    for _ in 0..3 {
        let (_s, peer) = bounded("accept", listener.accept()).await.unwrap();
        peers.insert(peer);
    }
    let locals: BTreeSet<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    assert_eq!(peers, locals);
}

// ---- std conversions -----------------------------------------------------------------------

#[kq::test]
async fn listener_from_std_and_into_std() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let listener = TcpListener::from_std(std_listener).unwrap();
    assert_eq!(listener.local_addr().unwrap(), addr);
    let client = TcpStream::connect(addr).await.unwrap();
    let (_s, peer) = bounded("accept", listener.accept()).await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());

    // Back to std: still listening, and non-blocking.
    let std_listener = listener.into_std().unwrap();
    let err = std_listener.accept().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    let client = TcpStream::connect(addr).await.unwrap();
    std_listener.set_nonblocking(false).unwrap();
    let (_s, peer) = std_listener.accept().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());

    // And into kq again, through TryFrom.
    let listener = TcpListener::try_from(std_listener).unwrap();
    let client = TcpStream::connect(addr).await.unwrap();
    let (_s, peer) = bounded("accept", listener.accept()).await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
}

#[test]
fn stream_from_std_and_into_std() {
    let rt = util::current_thread();
    rt.block_on(async {
        let (listener, addr) = listener_on(V4).await;
        let before = rt.metrics().io_registrations();
        // A loopback connect completes in the kernel's backlog without an accept.
        let std_stream = std::net::TcpStream::connect(addr).unwrap();
        let local = std_stream.local_addr().unwrap();
        let (mut server, _) = bounded("accept", listener.accept()).await.unwrap();

        let mut stream = TcpStream::from_std(std_stream).unwrap();
        assert_eq!(stream.local_addr().unwrap(), local);
        stream.write_all(b"from std").await.unwrap();
        let mut buf = [0; 8];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"from std");
        server.write_all(b"to kq").await.unwrap();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"to kq");

        // Back to std: deregistered, still connected, non-blocking.
        let mut std_stream = stream.into_std().unwrap();
        util::yield_until("the stream is deregistered", BOUND, || {
            rt.metrics().io_registrations() == before + 1
        })
        .await;
        let err = std_stream.read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        server.write_all(b"std!").await.unwrap();
        std_stream.set_nonblocking(false).unwrap();
        let mut buf = [0; 4];
        std_stream.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"std!");
        std_stream.write_all(b"back").unwrap();
        let mut buf = [0; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"back");

        // And into kq again, through TryFrom.
        let mut stream = TcpStream::try_from(std_stream).unwrap();
        stream.write_all(b"again").await.unwrap();
        let mut buf = [0; 5];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"again");
    });
}

#[test]
fn sockets_outside_a_runtime_are_an_error_not_a_panic() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    assert!(TcpListener::from_std(std_listener).is_err());
    // (The failed conversion closed that listener; the stream needs one that lives.)
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_stream = std::net::TcpStream::connect(std_listener.local_addr().unwrap()).unwrap();
    assert!(TcpStream::from_std(std_stream).is_err());
    // A TcpSocket needs no runtime until it listens or connects.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    assert!(socket.listen(8).is_err());
}

#[test]
fn dropping_sockets_deregisters_them() {
    let rt = util::current_thread();
    rt.block_on(async {
        let before = rt.metrics().io_registrations();
        let (listener, addr) = listener_on(V4).await;
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (rd, wr) = client.into_split();
        assert_eq!(rt.metrics().io_registrations(), before + 3);
        drop(rd);
        assert_eq!(
            rt.metrics().io_registrations(),
            before + 3,
            "the write half still holds the stream"
        );
        drop(wr);
        drop(server);
        drop(listener);
        util::yield_until("all three are deregistered", BOUND, || {
            rt.metrics().io_registrations() == before
        })
        .await;
    });
}

// ---- futures-io ----------------------------------------------------------------------------

async fn fio_write_all<W: kq::io::futures_io::AsyncWrite + Unpin>(w: &mut W, mut buf: &[u8]) {
    while !buf.is_empty() {
        let n =
            poll_fn(|cx| kq::io::futures_io::AsyncWrite::poll_write(Pin::new(&mut *w), cx, buf))
                .await
                .unwrap();
        assert!(n > 0);
        buf = &buf[n..];
    }
    poll_fn(|cx| kq::io::futures_io::AsyncWrite::poll_flush(Pin::new(&mut *w), cx))
        .await
        .unwrap();
}

async fn fio_read(r: &mut (impl kq::io::futures_io::AsyncRead + Unpin), buf: &mut [u8]) -> usize {
    poll_fn(|cx| kq::io::futures_io::AsyncRead::poll_read(Pin::new(&mut *r), cx, buf))
        .await
        .unwrap()
}

async fn fio_read_exact(r: &mut (impl kq::io::futures_io::AsyncRead + Unpin), buf: &mut [u8]) {
    let mut got = 0;
    while got < buf.len() {
        let n = fio_read(r, &mut buf[got..]).await;
        assert!(n > 0, "unexpected end of stream");
        got += n;
    }
}

async fn fio_close(w: &mut (impl kq::io::futures_io::AsyncWrite + Unpin)) {
    poll_fn(|cx| kq::io::futures_io::AsyncWrite::poll_close(Pin::new(&mut *w), cx))
        .await
        .unwrap();
}

#[test]
fn futures_io_traits_on_streams_and_halves() {
    for rt in runtimes() {
        rt.block_on(async {
            let (mut client, mut server) = pair().await;

            fio_write_all(&mut client, b"through futures-io").await;
            let mut buf = [0; 18];
            bounded("futures-io read", fio_read_exact(&mut server, &mut buf)).await;
            assert_eq!(&buf, b"through futures-io");

            let parts = [IoSlice::new(b"vec"), IoSlice::new(b"tored")];
            let n = poll_fn(|cx| {
                kq::io::futures_io::AsyncWrite::poll_write_vectored(
                    Pin::new(&mut server),
                    cx,
                    &parts,
                )
            })
            .await
            .unwrap();
            assert_eq!(n, 8);
            let mut buf = [0; 8];
            bounded("futures-io read", fio_read_exact(&mut client, &mut buf)).await;
            assert_eq!(&buf, b"vectored");

            // Owned halves implement the traits too; closing shuts the write side down.
            let (mut rd, mut wr) = client.into_split();
            fio_write_all(&mut wr, b"half").await;
            fio_close(&mut wr).await;
            assert_eq!(read_to_eof(&mut server).await, b"half");
            server.write_all(b"answer").await.unwrap();
            server.shutdown().await.unwrap();
            let mut buf = [0; 6];
            bounded("futures-io read", fio_read_exact(&mut rd, &mut buf)).await;
            assert_eq!(&buf, b"answer");
            assert_eq!(fio_read(&mut rd, &mut buf).await, 0, "end of stream");
        });
    }
}

// ---- errors --------------------------------------------------------------------------------

#[kq::test]
async fn a_reset_connection_reads_as_connection_reset() {
    let (client, mut server) = pair().await;
    // A zero linger makes the close send a reset instead of a FIN.
    client.set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    let mut buf = [0; 8];
    let res = bounded("read after a reset", server.read(&mut buf)).await;
    let err = res.expect_err("a reset is an error, not an end of stream");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
}

#[kq::test]
async fn writing_to_a_closed_peer_fails() {
    let (mut client, server) = pair().await;
    drop(server);
    // The first writes may be accepted before the peer's reset arrives; then they fail.
    let err = bounded("a write fails", async {
        loop {
            if let Err(e) = client.write_all(&[7; 4096]).await {
                return e;
            }
            sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{err}"
    );
}
