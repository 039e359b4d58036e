//! kq's Unix domain sockets (`kq::net::{UnixListener, UnixStream, UnixDatagram}` and the
//! halves of a split stream), with every path in a fresh temporary directory per test,
//! removed afterwards: binding, accepting and the addresses of each end, echo over a
//! connection, `incoming()` as a `Stream`, `AddrInUse`/`NotFound`/`ConnectionRefused`,
//! `UnixStream::pair`, borrowed and owned halves (`reunite`, `ReuniteError`, end of stream
//! when the owned write half is dropped), shutdown, `try_read`/`try_write` with
//! `readable`/`writable`, 16 MiB each way at once, `BrokenPipe` without a `SIGPIPE`,
//! datagrams (pairs, bound and unbound sockets, `connect`, `try_*`, `poll_*`, shutdown),
//! `from_std`/`into_std`, and no descriptor leak after hundreds of sockets.
//!
//! Most tests run on a current-thread runtime and on a two-worker one. Every test holds
//! the shared side of [`FD_CENSUS`] while it has descriptors open; the descriptor count
//! takes the exclusive side, so that no other test of this binary opens or closes a
//! descriptor while it counts.
//!
//! Linux only: the descriptor check reads `/proc`.
#![cfg(target_os = "linux")]

mod util;

use kq::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};
use kq::net::unix::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
use kq::net::{UnixDatagram, UnixListener, UnixStream};
use kq::runtime::Runtime;
use kq::time::{Duration, sleep, timeout};
use std::future::{Future, poll_fn};
use std::io::{self, ErrorKind, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use util::{BOUND, open_fds, wait_until};

/// Shared by every test while it has descriptors open; taken exclusively by the
/// descriptor count (see the crate's documentation).
static FD_CENSUS: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    FD_CENSUS.read().unwrap_or_else(PoisonError::into_inner)
}

/// How long one test body may run before it counts as hung.
const TEST_BOUND: Duration = Duration::from_secs(120);

/// Runs `test` on `rt`, failing if it does not finish within [`TEST_BOUND`].
fn run<Fut: Future<Output = ()>>(rt: &Runtime, test: Fut) {
    rt.block_on(async {
        timeout(TEST_BOUND, test)
            .await
            .expect("the test did not finish within its bound");
    });
}

/// Runs `test` on a current-thread runtime, then on a two-worker multi-thread runtime,
/// each time with a fresh temporary directory.
fn on_both<F, Fut>(test: F)
where
    F: Fn(TempDir) -> Fut,
    Fut: Future<Output = ()>,
{
    let _census = shared();
    run(&util::current_thread(), test(TempDir::new()));
    run(&util::multi_thread_2(), test(TempDir::new()));
}

// ---- temporary directories ----------------------------------------------------------

/// A directory of its own under the system's temporary directory, removed (with what it
/// holds) on drop. Short, as a socket path must fit in `sun_path`.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kq-unix-{}-{n}", std::process::id()));
        // Left over by an earlier process with the same id, perhaps.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn temp_dirs_are_fresh_and_removed() {
    let _census = shared();
    let (a, b) = (TempDir::new(), TempDir::new());
    assert_ne!(a.0, b.0);
    std::fs::write(a.join("file"), b"x").unwrap();
    let path = a.0.clone();
    drop(a);
    assert!(!path.exists(), "{} was not removed", path.display());
}

// ---- helpers ----------------------------------------------------------------------------

/// A deterministic pattern, so that a lost, doubled or reordered chunk is caught.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) ^ (i >> 10) as u8)
        .collect()
}

/// Whether the peer of `fd` has ended the stream, asked without waiting and without
/// taking any data (`recv` with `MSG_PEEK | MSG_DONTWAIT`). Panics if data is waiting.
fn peer_ended(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: one writable byte, for the duration of the call.
    let n = unsafe {
        libc::recv(
            fd,
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => true,
        -1 => {
            let e = io::Error::last_os_error();
            assert_eq!(e.kind(), ErrorKind::WouldBlock, "recv: {e}");
            false
        }
        _ => panic!("data is waiting"),
    }
}

static SIGPIPES: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_sigpipe(_: libc::c_int) {
    SIGPIPES.fetch_add(1, Ordering::SeqCst);
}

/// Replaces the `SIG_IGN` that Rust programs start with for `SIGPIPE` by a handler that
/// counts, so that a write raising the signal is seen rather than silently ignored.
fn count_sigpipes() {
    // SAFETY: an all-zero sigaction is valid; the handler only does an atomic add, which
    // is async-signal-safe; `sigaction` reads `action` and writes nothing back (null).
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGPIPE, &action, std::ptr::null_mut())
    };
    assert_eq!(rc, 0, "sigaction: {}", io::Error::last_os_error());
}

/// Reads into `buf` with `readable` and `try_read`, retrying on stale readiness.
async fn readable_then_try_read(stream: &UnixStream, buf: &mut [u8]) -> usize {
    loop {
        stream.readable().await.unwrap();
        match stream.try_read(buf) {
            Ok(n) => return n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => panic!("try_read: {e}"),
        }
    }
}

/// Writes from `buf` with `writable` and `try_write`, retrying on stale readiness.
async fn writable_then_try_write(stream: &UnixStream, buf: &[u8]) -> io::Result<usize> {
    loop {
        stream.writable().await?;
        match stream.try_write(buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            res => return res,
        }
    }
}

/// Accepts one connection and echoes it until its end, then returns.
async fn echo_one(listener: &UnixListener) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buf = [0; 1024];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await.unwrap();
    }
}

// ---- listener and connect ---------------------------------------------------------------

#[test]
fn listener_binds_accepts_and_reports_both_ends_addresses() {
    on_both(|dir| async move {
        let path = dir.join("listener.sock");
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(&*path));
        assert!(path.exists(), "bind made no socket file");

        let client = UnixStream::connect(&path).await.unwrap();
        let (server, from) = listener.accept().await.unwrap();
        // The client did not bind: its address has no name, seen from either end.
        assert!(from.is_unnamed(), "{from:?}");
        assert!(client.local_addr().unwrap().is_unnamed());
        assert!(server.peer_addr().unwrap().is_unnamed());
        // The server's end has the listener's path.
        assert_eq!(server.local_addr().unwrap().as_pathname(), Some(&*path));
        assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(&*path));

        // Dropping the listener leaves the file: removing it is the user's job.
        drop(listener);
        assert!(path.exists());
    });
}

#[test]
fn connect_and_echo() {
    on_both(|dir| async move {
        let path = dir.join("echo.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = kq::spawn(async move { echo_one(&listener).await });

        let mut client = UnixStream::connect(&path).await.unwrap();
        for round in 0..20u8 {
            let msg = pattern(100 + usize::from(round) * 37, round);
            client.write_all(&msg).await.unwrap();
            let mut back = vec![0; msg.len()];
            client.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg, "round {round}");
        }
        client.shutdown().await.unwrap();
        // The server saw the end of the stream and finished; so does the client.
        server.await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
    });
}

#[test]
fn several_clients_at_once_are_each_accepted() {
    on_both(|dir| async move {
        let path = dir.join("many.sock");
        let listener = std::sync::Arc::new(UnixListener::bind(&path).unwrap());
        let server = kq::spawn({
            let listener = listener.clone();
            async move {
                let mut echoes = Vec::new();
                for _ in 0..8 {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    echoes.push(kq::spawn(async move {
                        let mut byte = [0];
                        stream.read_exact(&mut byte).await.unwrap();
                        stream.write_all(&[byte[0] + 1]).await.unwrap();
                    }));
                }
                for e in echoes {
                    e.await.unwrap();
                }
            }
        });
        let clients: Vec<_> = (0..8u8)
            .map(|i| {
                let path = path.clone();
                kq::spawn(async move {
                    let mut c = UnixStream::connect(&path).await.unwrap();
                    c.write_all(&[i * 2]).await.unwrap();
                    let mut byte = [0];
                    c.read_exact(&mut byte).await.unwrap();
                    assert_eq!(byte[0], i * 2 + 1);
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
    });
}

#[test]
fn incoming_yields_each_connection() {
    on_both(|dir| async move {
        let path = dir.join("incoming.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let mut incoming = listener.incoming();

        let mut clients = Vec::new();
        for i in 0..3u8 {
            let mut client = UnixStream::connect(&path).await.unwrap();
            client.write_all(&[i]).await.unwrap();
            clients.push(client);
        }
        // Pending connections are accepted in the order they came.
        for i in 0..3u8 {
            let next = poll_fn(|cx| futures_util::Stream::poll_next(Pin::new(&mut incoming), cx));
            let mut stream = next
                .await
                .expect("incoming never ends")
                .expect("accept through incoming");
            let mut byte = [0];
            stream.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], i);
            stream.write_all(&[i + 10]).await.unwrap();
        }
        for (i, mut client) in (0..3u8).zip(clients) {
            let mut byte = [0];
            client.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], i + 10);
        }
        // With nobody connecting, the stream waits.
        let mut next = tokio_test::task::spawn(poll_fn(|cx| {
            futures_util::Stream::poll_next(Pin::new(&mut incoming), cx)
        }));
        assert!(next.poll().is_pending());
    });
}

#[test]
fn poll_accept_through_poll_fn() {
    on_both(|dir| async move {
        let path = dir.join("poll.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let connecting = kq::spawn({
            let path = path.clone();
            async move { UnixStream::connect(&path).await.unwrap() }
        });
        let (mut server, from) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
        assert!(from.is_unnamed());
        let mut client = connecting.await.unwrap();
        server.write_all(b"accepted").await.unwrap();
        let mut buf = [0; 8];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"accepted");
    });
}

#[test]
fn binding_an_existing_path_is_addr_in_use() {
    on_both(|dir| async move {
        let path = dir.join("taken.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let err = UnixListener::bind(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        let err = UnixDatagram::bind(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");

        // Any file at the path is in the way, socket or not.
        let file = dir.join("plain-file");
        std::fs::write(&file, b"not a socket").unwrap();
        let err = UnixListener::bind(&file).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    });
}

#[test]
fn connecting_to_a_missing_path_is_not_found() {
    on_both(|dir| async move {
        let path = dir.join("nobody-here.sock");
        let err = UnixStream::connect(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

        let datagram = UnixDatagram::unbound().unwrap();
        let err = datagram.connect(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        let err = datagram.send_to(b"x", &path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    });
}

#[test]
fn connecting_to_a_path_nobody_listens_on_is_refused() {
    on_both(|dir| async move {
        // A socket file whose socket is gone.
        let path = dir.join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let err = UnixStream::connect(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");

        let stale = dir.join("stale-dgram.sock");
        drop(std::os::unix::net::UnixDatagram::bind(&stale).unwrap());
        let datagram = UnixDatagram::unbound().unwrap();
        let err = datagram.send_to(b"x", &stale).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");

        // A kq listener that was dropped leaves a stale file as well. Its descriptor
        // closes with the driver's next turn: until then a connect may still find it
        // listening (and be reset when it closes).
        let dropped = dir.join("dropped.sock");
        drop(UnixListener::bind(&dropped).unwrap());
        let start = std::time::Instant::now();
        let err = loop {
            match UnixStream::connect(&dropped).await {
                Err(e) if e.kind() != ErrorKind::ConnectionReset => break e,
                _ => {
                    assert!(
                        start.elapsed() < BOUND,
                        "the dropped listener still listens"
                    );
                    sleep(Duration::from_millis(1)).await;
                }
            }
        };
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn listener_and_stream_from_std_and_into_std() {
    on_both(|dir| async move {
        let path = dir.join("std.sock");
        // Blocking std sockets become non-blocking kq ones.
        let listener =
            UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path).unwrap()).unwrap();
        let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let mut client = UnixStream::from_std(client).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"from std").await.unwrap();

        // Back to std: still non-blocking, still connected.
        let mut server = server.into_std().unwrap();
        let mut buf = [0; 8];
        std::io::Read::read_exact(&mut server, &mut buf).unwrap();
        assert_eq!(&buf, b"from std");
        assert_eq!(
            std::io::Read::read(&mut server, &mut buf)
                .unwrap_err()
                .kind(),
            ErrorKind::WouldBlock
        );
        let listener = listener.into_std().unwrap();
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);

        // TryFrom is from_std.
        let mut server = UnixStream::try_from(server).unwrap();
        server.write_all(b"back").await.unwrap();
        let mut buf = [0; 4];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"back");
        let listener = UnixListener::try_from(listener).unwrap();
        let _c = UnixStream::connect(&path).await.unwrap();
        listener.accept().await.unwrap();
    });
}

#[test]
fn sockets_made_outside_a_runtime_are_an_error() {
    let _census = shared();
    let dir = TempDir::new();
    assert!(UnixListener::bind(dir.join("outside.sock")).is_err());
    assert!(UnixStream::pair().is_err());
    assert!(UnixDatagram::pair().is_err());
    assert!(UnixDatagram::unbound().is_err());
}

// ---- pairs and halves ---------------------------------------------------------------

#[test]
fn pair_echo_and_addresses() {
    on_both(|_dir| async move {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        for end in [&a, &b] {
            assert!(end.local_addr().unwrap().is_unnamed());
            assert!(end.peer_addr().unwrap().is_unnamed());
        }
        a.write_all(b"hello b").await.unwrap();
        let mut buf = [0; 7];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello b");
        b.write_all(b"hello a").await.unwrap();
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello a");

        // Vectored writes through AsyncWriteExt.
        let parts = [IoSlice::new(b"one "), IoSlice::new(b"two")];
        let n = a.write_vectored(&parts).await.unwrap();
        let mut got = vec![0; n];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(got, &b"one two"[..n]);
    });
}

#[test]
fn split_halves_read_and_write_at_once() {
    on_both(|_dir| async move {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let data = pattern(256 * 1024, 3);
        let (mut rd, mut wr) = a.split();
        assert!(rd.local_addr().unwrap().is_unnamed());
        assert!(wr.peer_addr().unwrap().is_unnamed());

        // `a` writes and reads through its halves while `b` echoes, all at once: the
        // amount is larger than the socket buffers, so the write must wait for the reads.
        let echo = async {
            let mut buf = vec![0; 8192];
            let mut moved = 0;
            while moved < data.len() {
                let n = b.read(&mut buf).await.unwrap();
                assert_ne!(n, 0, "early end of stream");
                b.write_all(&buf[..n]).await.unwrap();
                moved += n;
            }
        };
        let write = async {
            wr.write_all(&data).await.unwrap();
        };
        let read = async {
            let mut back = vec![0; data.len()];
            rd.read_exact(&mut back).await.unwrap();
            back
        };
        let ((back, ()), ()) =
            futures_util::future::join(futures_util::future::join(read, write), echo).await;
        assert!(back == data, "the echoed data differs");

        // AsRef gives the stream.
        assert!(rd.as_ref().peer_addr().unwrap().is_unnamed());
    });
}

#[test]
fn owned_halves_in_two_tasks_then_reunite() {
    on_both(|_dir| async move {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (mut rd, mut wr) = a.into_split();
        let writer = kq::spawn(async move {
            for i in 0..100u8 {
                wr.write_all(&[i; 100]).await.unwrap();
            }
            wr
        });
        let reader = kq::spawn(async move {
            let mut buf = [0; 100];
            for i in 0..100u8 {
                rd.read_exact(&mut buf).await.unwrap();
                assert_eq!(buf, [i; 100]);
            }
            rd
        });
        // `b` echoes 10,000 bytes.
        let mut buf = [0; 1000];
        let mut moved = 0;
        while moved < 10_000 {
            let n = b.read(&mut buf).await.unwrap();
            b.write_all(&buf[..n]).await.unwrap();
            moved += n;
        }
        let (wr, rd) = (writer.await.unwrap(), reader.await.unwrap());

        // The halves rejoin, in either order, and the stream works as before.
        let mut a = wr.reunite(rd).expect("halves of one stream");
        a.write_all(b"whole again").await.unwrap();
        let mut buf = [0; 11];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"whole again");
        let (rd, wr) = a.into_split();
        let a = rd.reunite(wr).expect("halves of one stream");
        // Reuniting did not shut the write direction down.
        assert!(!peer_ended(b.as_raw_fd()));
        drop(a);
    });
}

#[test]
fn reuniting_halves_of_different_streams_is_an_error() {
    on_both(|_dir| async move {
        let (a, mut a_peer) = UnixStream::pair().unwrap();
        let (b, _b_peer) = UnixStream::pair().unwrap();
        let (a_rd, _a_wr) = a.into_split();
        let (_b_rd, b_wr) = b.into_split();

        let err: ReuniteError = a_rd.reunite(b_wr).unwrap_err();
        assert!(!err.to_string().is_empty());
        assert_eq!(format!("{err:?}"), "ReuniteError(..)");
        // Both halves come back, unharmed.
        let (mut a_rd, mut b_wr): (OwnedReadHalf, OwnedWriteHalf) = (err.0, err.1);
        b_wr.write_all(b"still mine").await.unwrap();
        a_peer.write_all(b"x").await.unwrap();
        let mut byte = [0];
        a_rd.read_exact(&mut byte).await.unwrap();
        assert_eq!(&byte, b"x");
    });
}

#[test]
fn dropping_the_owned_write_half_ends_the_peers_stream() {
    on_both(|_dir| async move {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (mut rd, mut wr) = a.into_split();
        wr.write_all(b"last words").await.unwrap();
        drop(wr);

        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
        // Only the write direction is shut: the read half still receives.
        b.write_all(b"reply").await.unwrap();
        let mut buf = [0; 5];
        rd.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"reply");
    });
}

#[test]
fn a_forgotten_owned_write_half_does_not_end_the_peers_stream() {
    on_both(|_dir| async move {
        let (a, b) = UnixStream::pair().unwrap();
        let (rd, wr) = a.into_split();
        wr.forget();
        // Shutting down is immediate in the kernel, so there is nothing to wait for.
        assert!(!peer_ended(b.as_raw_fd()));
        drop(rd);
        // Dropping the last half closes the socket (with the driver's next turn).
        let start = std::time::Instant::now();
        while !peer_ended(b.as_raw_fd()) {
            assert!(start.elapsed() < BOUND, "the socket was never closed");
            sleep(Duration::from_millis(1)).await;
        }
    });
}

#[test]
fn shutdown_ends_the_peers_stream_and_leaves_the_other_direction_open() {
    on_both(|_dir| async move {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"bye").await.unwrap();
        a.shutdown().await.unwrap();

        let mut buf = [0; 16];
        let n = b.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"bye");
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);
        assert_eq!(
            b.read(&mut buf).await.unwrap(),
            0,
            "end of stream is sticky"
        );

        // The other direction still carries data.
        b.write_all(b"but I still talk").await.unwrap();
        b.shutdown().await.unwrap();
        let mut got = Vec::new();
        a.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"but I still talk");

        // Writing after one's own shutdown is an error.
        let err = a.write_all(b"more").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");

        // Shutting down a borrowed write half works the same.
        let (mut c, mut d) = UnixStream::pair().unwrap();
        let (_rd, mut wr) = c.split();
        wr.shutdown().await.unwrap();
        assert_eq!(d.read(&mut buf).await.unwrap(), 0);
    });
}

// ---- try_read / try_write ---------------------------------------------------------------

#[test]
fn try_read_and_try_write_with_readable_and_writable() {
    on_both(|_dir| async move {
        let (a, b) = UnixStream::pair().unwrap();
        let mut buf = [0; 64];
        assert_eq!(
            b.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );

        for i in 0..20u8 {
            let n = writable_then_try_write(&a, &[i; 10]).await.unwrap();
            assert_eq!(n, 10);
            let mut got = Vec::new();
            while got.len() < 10 {
                let n = readable_then_try_read(&b, &mut buf).await;
                assert_ne!(n, 0, "early end of stream");
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, [i; 10]);
        }
        // Drained: nothing more.
        assert_eq!(
            b.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );

        // Vectored forms.
        let n = loop {
            a.writable().await.unwrap();
            match a.try_write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")]) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_write_vectored: {e}"),
            }
        };
        assert_eq!(n, 4);
        let (mut x, mut y) = ([0; 1], [0; 8]);
        let n = loop {
            b.readable().await.unwrap();
            match b.try_read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)]) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_read_vectored: {e}"),
            }
        };
        assert_eq!(n, 4);
        assert_eq!((&x[..], &y[..3]), (&b"a"[..], &b"bcd"[..]));

        // The end of the stream is Ok(0).
        drop(a);
        assert_eq!(readable_then_try_read(&b, &mut buf).await, 0);
    });
}

#[test]
fn try_write_fills_the_buffer_then_writable_waits_for_room() {
    on_both(|_dir| async move {
        let (a, b) = UnixStream::pair().unwrap();
        let chunk = [7u8; 4096];
        let mut written = 0;
        // Fill the socket's buffers until the kernel says no.
        loop {
            a.writable().await.unwrap();
            match a.try_write(&chunk) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("try_write: {e}"),
            }
        }
        assert!(written > 0);
        // A writer waits now; reading everything makes room and wakes it.
        let waiting = kq::spawn(async move {
            let n = writable_then_try_write(&a, b"after").await.unwrap();
            (a, n)
        });
        let mut buf = vec![0; 64 * 1024];
        let mut read = 0;
        while read < written {
            let n = readable_then_try_read(&b, &mut buf).await;
            assert!(buf[..n].iter().all(|&x| x == 7));
            read += n;
        }
        let (_a, n) = waiting.await.unwrap();
        assert_eq!(n, 5);
        let mut got = Vec::new();
        while got.len() < 5 {
            let n = readable_then_try_read(&b, &mut buf).await;
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"after");
    });
}

// ---- bulk -------------------------------------------------------------------------------

#[test]
fn sixteen_mebibytes_each_way_at_once_over_a_pair() {
    const LEN: usize = 16 << 20;
    on_both(|_dir| async move {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut a_rd, mut a_wr) = a.into_split();
        let (mut b_rd, mut b_wr) = b.into_split();
        let a_sends = kq::spawn(async move {
            a_wr.write_all(&pattern(LEN, 1)).await.unwrap();
            a_wr
        });
        let b_sends = kq::spawn(async move {
            b_wr.write_all(&pattern(LEN, 2)).await.unwrap();
            b_wr
        });
        let a_receives = kq::spawn(async move {
            let mut got = vec![0; LEN];
            a_rd.read_exact(&mut got).await.unwrap();
            (a_rd, got)
        });
        let b_receives = kq::spawn(async move {
            let mut got = vec![0; LEN];
            b_rd.read_exact(&mut got).await.unwrap();
            (b_rd, got)
        });
        let (a_wr, b_wr) = (a_sends.await.unwrap(), b_sends.await.unwrap());
        let (a_rd, got_by_a) = a_receives.await.unwrap();
        let (b_rd, got_by_b) = b_receives.await.unwrap();
        assert!(
            got_by_a == pattern(LEN, 2),
            "a received other bytes than b sent"
        );
        assert!(
            got_by_b == pattern(LEN, 1),
            "b received other bytes than a sent"
        );

        // Nothing more than what was sent: shutting down gives each side its end.
        let mut a = a_rd.reunite(a_wr).unwrap();
        let mut b = b_rd.reunite(b_wr).unwrap();
        a.shutdown().await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(b.read_to_end(&mut rest).await.unwrap(), 0);
        b.shutdown().await.unwrap();
        assert_eq!(a.read_to_end(&mut rest).await.unwrap(), 0);
    });
}

// ---- closed peers ---------------------------------------------------------------------

#[test]
fn writing_to_a_closed_peer_is_broken_pipe_and_raises_no_sigpipe() {
    count_sigpipes();
    on_both(|_dir| async move {
        let before = SIGPIPES.load(Ordering::SeqCst);

        let (mut a, b) = UnixStream::pair().unwrap();
        drop(b);
        // The peer's descriptor closes with the driver's next turn; its end of stream
        // says it has.
        let mut buf = [0; 4];
        assert_eq!(a.read(&mut buf).await.unwrap(), 0);
        let err = a.write_all(b"anyone?").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
        let err = a.write(b"again").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
        let err = writable_then_try_write(&a, b"try").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");

        // A writer in the middle of a large write when the peer goes away gets an error
        // too (`ConnectionReset` if the peer had unread data when it closed, as the
        // kernel reports it).
        let (mut c, d) = UnixStream::pair().unwrap();
        let writer = kq::spawn(async move { c.write_all(&vec![1; 8 << 20]).await });
        kq::task::yield_now().await;
        drop(d);
        let err = writer.await.unwrap().unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err}"
        );

        assert_eq!(
            SIGPIPES.load(Ordering::SeqCst),
            before,
            "a SIGPIPE was raised"
        );
    });
}

// ---- datagrams --------------------------------------------------------------------------

#[test]
fn datagram_pair_send_and_recv() {
    on_both(|_dir| async move {
        let (a, b) = UnixDatagram::pair().unwrap();
        for end in [&a, &b] {
            assert!(end.local_addr().unwrap().is_unnamed());
            assert!(end.peer_addr().unwrap().is_unnamed());
        }
        let mut buf = [0; 64];
        for i in 0..10u8 {
            assert_eq!(a.send(&[i; 11]).await.unwrap(), 11);
            assert_eq!(b.recv(&mut buf).await.unwrap(), 11);
            assert_eq!(&buf[..11], &[i; 11]);
            assert_eq!(b.send(&[i; 2]).await.unwrap(), 2);
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[i; 2]);
            assert!(from.is_unnamed());
        }
        // Datagram boundaries are kept, and a short buffer truncates.
        a.send(b"first datagram").await.unwrap();
        a.send(b"second").await.unwrap();
        let mut small = [0; 5];
        assert_eq!(b.recv(&mut small).await.unwrap(), 5);
        assert_eq!(&small, b"first");
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");
    });
}

#[test]
fn datagram_bind_send_to_and_recv_from_name_the_sender() {
    on_both(|dir| async move {
        let (pa, pb) = (dir.join("a.sock"), dir.join("b.sock"));
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        assert_eq!(a.local_addr().unwrap().as_pathname(), Some(&*pa));
        assert_eq!(b.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);

        assert_eq!(a.send_to(b"to b", &pb).await.unwrap(), 4);
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"to b");
        assert_eq!(from.as_pathname(), Some(&*pa));
        // Reply to the address received.
        let reply_to = from.as_pathname().unwrap().to_owned();
        b.send_to(b"to a", &reply_to).await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from.as_pathname()), (&b"to a"[..], Some(&*pb)));
    });
}

#[test]
fn an_unbound_datagram_socket_sends_to_a_bound_one() {
    on_both(|dir| async move {
        let path = dir.join("server.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        assert!(client.local_addr().unwrap().is_unnamed());
        assert_eq!(
            client.peer_addr().unwrap_err().kind(),
            ErrorKind::NotConnected
        );

        client.send_to(b"anonymous", &path).await.unwrap();
        let mut buf = [0; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"anonymous");
        assert!(from.is_unnamed(), "{from:?}");
    });
}

#[test]
fn datagram_connect_sends_to_the_peer() {
    on_both(|dir| async move {
        let (pa, pb) = (dir.join("a.sock"), dir.join("b.sock"));
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        a.connect(&pb).unwrap();
        assert_eq!(a.peer_addr().unwrap().as_pathname(), Some(&*pb));

        a.send(b"connected").await.unwrap();
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (&buf[..n], from.as_pathname()),
            (&b"connected"[..], Some(&*pa))
        );
        b.send_to(b"back", &pa).await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");

        // An unbound socket can connect too and then send.
        let c = UnixDatagram::unbound().unwrap();
        c.connect(&pb).unwrap();
        c.send(b"unbound").await.unwrap();
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"unbound");
        assert!(from.is_unnamed());
    });
}

#[test]
fn datagram_try_send_and_try_recv() {
    on_both(|_dir| async move {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0; 64];
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );

        // Send until the peer's queue is full.
        let mut sent = 0;
        loop {
            a.writable().await.unwrap();
            match a.try_send(&[sent as u8; 32]) {
                Ok(n) => {
                    assert_eq!(n, 32);
                    sent += 1;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("try_send: {e}"),
            }
            assert!(sent < 100_000, "the queue never filled");
        }
        assert!(sent > 0);

        // A sender waits now; taking one datagram makes room and wakes it.
        let a = std::sync::Arc::new(a);
        let waiting = kq::spawn({
            let a = a.clone();
            async move { a.send(b"after the wait").await.unwrap() }
        });
        for i in 0..sent {
            let n = loop {
                b.readable().await.unwrap();
                match b.try_recv(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(e) => panic!("try_recv: {e}"),
                }
            };
            assert_eq!(&buf[..n], &[i as u8; 32], "datagram {i}");
        }
        assert_eq!(waiting.await.unwrap(), 14);
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"after the wait");
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn datagram_try_send_to_and_try_recv_from() {
    on_both(|dir| async move {
        let path = dir.join("try.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        let n = loop {
            client.writable().await.unwrap();
            match client.try_send_to(b"try", &path) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_send_to: {e}"),
            }
        };
        assert_eq!(n, 3);
        let mut buf = [0; 8];
        let (n, from) = loop {
            server.readable().await.unwrap();
            match server.try_recv_from(&mut buf) {
                Ok(got) => break got,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_recv_from: {e}"),
            }
        };
        assert_eq!(&buf[..n], b"try");
        assert!(from.is_unnamed());
    });
}

#[test]
fn datagram_poll_methods_through_poll_fn() {
    on_both(|dir| async move {
        let (a, b) = UnixDatagram::pair().unwrap();
        let n = poll_fn(|cx| a.poll_send(cx, b"polled")).await.unwrap();
        assert_eq!(n, 6);
        let mut storage = [0; 16];
        let mut rb = ReadBuf::new(&mut storage);
        poll_fn(|cx| b.poll_recv(cx, &mut rb)).await.unwrap();
        assert_eq!(rb.filled(), b"polled");

        // Pending until a datagram comes, then woken.
        let mut storage = [0; 16];
        let mut rb = ReadBuf::new(&mut storage);
        {
            let mut recv = tokio_test::task::spawn(poll_fn(|cx| b.poll_recv(cx, &mut rb)));
            assert!(recv.poll().is_pending());
            a.send(b"later").await.unwrap();
            let start = std::time::Instant::now();
            while !recv.is_woken() {
                assert!(
                    start.elapsed() < BOUND,
                    "the pending receive was never woken"
                );
                sleep(Duration::from_millis(1)).await;
            }
            assert!(matches!(recv.poll(), std::task::Poll::Ready(Ok(()))));
        }
        assert_eq!(rb.filled(), b"later");

        // To and from a path.
        let path = dir.join("poll.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = poll_fn(|cx| a.poll_send_to(cx, b"addressed", &path))
            .await
            .unwrap();
        assert_eq!(n, 9);
        let mut storage = [0; 16];
        let mut rb = ReadBuf::new(&mut storage);
        let from = poll_fn(|cx| server.poll_recv_from(cx, &mut rb))
            .await
            .unwrap();
        assert_eq!(rb.filled(), b"addressed");
        assert!(from.is_unnamed());
    });
}

#[test]
fn datagram_shutdown_write_then_send_fails() {
    count_sigpipes();
    on_both(|_dir| async move {
        let sigpipes = SIGPIPES.load(Ordering::SeqCst);
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(b"before").await.unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let err = a.send(b"after").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
        let err = a.try_send(b"after").unwrap_err();
        assert_ne!(err.kind(), ErrorKind::WouldBlock, "{err}");
        // What was sent before is delivered; the other direction still works.
        let mut buf = [0; 16];
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"before");
        b.send(b"reverse").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"reverse");
        assert_eq!(
            SIGPIPES.load(Ordering::SeqCst),
            sigpipes,
            "a SIGPIPE was raised"
        );
    });
}

#[test]
fn datagram_from_std_and_into_std() {
    on_both(|dir| async move {
        let path = dir.join("std-dgram.sock");
        let std_sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let sock = UnixDatagram::from_std(std_sock).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"to kq", &path).await.unwrap();
        let mut buf = [0; 16];
        let (n, _) = sock.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"to kq");

        let std_sock = sock.into_std().unwrap();
        assert_eq!(std_sock.local_addr().unwrap().as_pathname(), Some(&*path));
        assert_eq!(
            std_sock.recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock,
            "into_std left the socket blocking"
        );
        client.send_to(b"to std", &path).await.unwrap();
        std_sock.set_nonblocking(false).unwrap();
        let n = std_sock.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"to std");

        let again = UnixDatagram::try_from(std_sock).unwrap();
        client.send_to(b"again", &path).await.unwrap();
        let n = again.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"again");
    });
}

// ---- descriptors --------------------------------------------------------------------

#[test]
fn hundreds_of_sockets_created_and_dropped_leave_no_descriptor_open() {
    let _census = FD_CENSUS.write().unwrap_or_else(PoisonError::into_inner);
    let dir = TempDir::new();
    let rt = util::multi_thread_2();
    // Let the runtime open whatever it opens lazily before counting.
    rt.block_on(async { sleep(Duration::from_millis(5)).await });
    let before = open_fds();

    let path = dir.join("census.sock");
    run(&rt, async {
        let listener = UnixListener::bind(&path).unwrap();
        let mut sockets = Vec::new();
        for i in 0..50u8 {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            if i % 5 == 0 {
                a.write_all(&[i]).await.unwrap();
                let mut byte = [0];
                b.read_exact(&mut byte).await.unwrap();
            }
            sockets.push(a);
            sockets.push(b);
            let client = UnixStream::connect(&path).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            sockets.push(client);
            sockets.push(server);
        }
        let mut datagrams = Vec::new();
        for i in 0..50 {
            let (a, b) = UnixDatagram::pair().unwrap();
            if i % 5 == 0 {
                a.send(b"x").await.unwrap();
                let mut byte = [0];
                b.recv(&mut byte).await.unwrap();
            }
            datagrams.push(a);
            datagrams.push(b);
            datagrams.push(UnixDatagram::unbound().unwrap());
        }
        // Halves, and a socket taken back by std.
        let (a, b) = UnixStream::pair().unwrap();
        let halves = a.into_split();
        let std_stream = b.into_std().unwrap();
        drop((listener, sockets, datagrams, halves, std_stream));
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

/// Paths are bytes, not strings: a name with a space and a byte that is not UTF-8 binds,
/// reports itself, and is connected to.
#[test]
fn paths_with_spaces_and_non_utf8_bytes_work() {
    on_both(|dir| async move {
        use std::os::unix::ffi::OsStrExt;
        let odd: &Path = Path::new(std::ffi::OsStr::from_bytes(b"odd name \xff.sock"));
        let path = dir.0.join(odd);
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(&*path));
        let _client = UnixStream::connect(&path).await.unwrap();
        listener.accept().await.unwrap();
    });
}
