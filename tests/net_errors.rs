//! `kq::net` under error conditions, on real TCP sockets over 127.0.0.1 and ::1, on both
//! flavors; each test asserts the `io::ErrorKind` the kernel's condition must surface as:
//!
//! - a peer that resets (`SO_LINGER` 0 and close): `read` is `ConnectionReset` (whether it
//!   waited or came after), and so are `try_read`, `try_read_vectored` and `peek`; a later
//!   write is `BrokenPipe` or `ConnectionReset`;
//! - a half-closed connection: repeated `Ok(0)` reads while our own writes still arrive;
//! - a connect to a port nobody listens on: `ConnectionRefused`, with nothing left
//!   registered;
//! - a connect that hangs (the listener's backlog is full, so the kernel drops the SYN)
//!   bounded by `kq::time::timeout`: `Elapsed`, promptly, with nothing leaked;
//! - writes to a closed peer: `BrokenPipe` or `ConnectionReset`, never a `SIGPIPE` (checked
//!   in a child process whose `SIGPIPE` is back to its default, fatal, disposition);
//! - end of stream: `Ok(0)` after the peer closes cleanly;
//! - a kq socket dropped by a server task is closed at once: the client reads the end of
//!   the stream (or the reset) while the runtime has nothing else to do;
//! - 10,000 connections opened and closed: the descriptor count (`/proc/self/fd`) and the
//!   runtime's I/O registrations come back to where they started;
//! - descriptor exhaustion (`EMFILE`, in child processes with a lowered `RLIMIT_NOFILE`):
//!   `accept()` and `incoming()` back off without spinning, keep the listener usable and
//!   accept the waiting connection once descriptors are free; `poll_accept` returns the
//!   `EMFILE` error instead.
//!
//! The peers whose errors are observed are plain std sockets, which close at once when
//! dropped. The child processes re-run this test binary with `--exact <test>` and
//! `KQ_NET_ERRORS_CHILD=<test>` in the environment.
#![cfg(target_os = "linux")]

mod util;

use kq::io::{AsyncReadExt, AsyncWriteExt};
use kq::net::tcp::Incoming;
use kq::net::{TcpListener, TcpSocket, TcpStream};
use kq::runtime::{Handle, Runtime};
use kq::time::{Duration, sleep, timeout};
use std::collections::BTreeMap;
use std::fs::File;
use std::future::{Future, poll_fn};
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::Poll;
use std::time::Instant;
use tokio_test::task::Spawn;
use util::{BOUND, LATE, open_fds};

/// The loopback addresses every test runs on (port 0: the kernel picks one).
const LOOPBACKS: [&str; 2] = ["127.0.0.1:0", "[::1]:0"];

/// The tests that count this process's descriptors hold this lock exclusively; every other
/// test (all of which open descriptors) holds it shared, so that the counts are exact.
static FDS: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    FDS.read().unwrap_or_else(PoisonError::into_inner)
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    FDS.write().unwrap_or_else(PoisonError::into_inner)
}

fn runtimes() -> [Runtime; 2] {
    [util::current_thread(), util::multi_thread(2)]
}

/// A connected pair on the loopback address `bind`: `(client, server)`.
async fn pair(bind: &str) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(bind).await.expect("bind a listener");
    let addr = listener.local_addr().unwrap();
    let client = kq::spawn(async move { TcpStream::connect(addr).await });
    let (server, peer) = timeout(BOUND, listener.accept())
        .await
        .expect("accept within the bound")
        .expect("accept");
    let client = client.await.expect("join the connect").expect("connect");
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// Awaits `fut`, failing after [`BOUND`] instead of hanging the test.
fn bounded<F: Future>(what: &str, fut: F) -> impl Future<Output = F::Output> {
    let what = what.to_owned();
    async move {
        match timeout(BOUND, fut).await {
            Ok(v) => v,
            Err(_) => panic!("{what}: did not finish within {BOUND:?}"),
        }
    }
}

#[track_caller]
fn assert_kind(what: &str, res: io::Result<usize>, kinds: &[ErrorKind]) {
    match res {
        Ok(n) => panic!("{what}: returned Ok({n}), expected an error of kind {kinds:?}"),
        Err(e) => assert!(
            kinds.contains(&e.kind()),
            "{what}: error {e:?} (kind {:?}), expected one of {kinds:?}",
            e.kind()
        ),
    }
}

/// A kq stream connected to a plain std socket on the loopback address `bind`:
/// `(ours, peer)`. The peer is blocking, with [`BOUND`] timeouts, and closes at once when
/// dropped (kq's own sockets close when the driver has deleted their knotes; see
/// [`dropping_a_stream_closes_the_connection_promptly`]).
async fn pair_std(bind: &str) -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind(bind).expect("bind a std listener");
    let addr = listener.local_addr().unwrap();
    let ours = bounded("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let (peer, from) = listener.accept().expect("accept");
    assert_eq!(from, ours.local_addr().unwrap());
    peer.set_read_timeout(Some(BOUND)).unwrap();
    peer.set_write_timeout(Some(BOUND)).unwrap();
    (ours, peer)
}

/// Resets the std peer's connection: `SO_LINGER` 0 and close.
fn reset(peer: std::net::TcpStream) {
    let socket = TcpSocket::from_std_stream(peer);
    socket
        .set_linger(Some(Duration::ZERO))
        .expect("set SO_LINGER 0");
    drop(socket);
}

// ---- 1. a reset peer -------------------------------------------------------------------------

/// The peer resets while our read waits: the read is `ConnectionReset`; a write after it
/// is `BrokenPipe` or `ConnectionReset`.
#[test]
fn peer_reset_while_reading_is_connection_reset() {
    let _fds = shared();
    for rt in runtimes() {
        rt.block_on(async {
            for bind in LOOPBACKS {
                let (mut ours, peer) = pair_std(bind).await;
                let reader = kq::spawn(async move {
                    let mut buf = [0u8; 64];
                    let res = ours.read(&mut buf).await;
                    (ours, res)
                });
                // Give the reader time to wait (the assertions hold either way).
                sleep(Duration::from_millis(20)).await;
                reset(peer);
                let (mut ours, res) = bounded("read while reset", reader).await.unwrap();
                assert_kind(
                    &format!("{bind}: read waiting when the peer reset"),
                    res,
                    &[ErrorKind::ConnectionReset],
                );
                assert_kind(
                    &format!("{bind}: write after the reset"),
                    bounded("write", ours.write(b"after")).await,
                    &[ErrorKind::BrokenPipe, ErrorKind::ConnectionReset],
                );
            }
        });
    }
}

/// The peer resets before we read (we wait until the socket is readable): the read is
/// `ConnectionReset`; `write_all` after it is `BrokenPipe` or `ConnectionReset`.
#[test]
fn peer_reset_before_reading_is_connection_reset() {
    let _fds = shared();
    for rt in runtimes() {
        rt.block_on(async {
            for bind in LOOPBACKS {
                let (mut ours, peer) = pair_std(bind).await;
                reset(peer);
                bounded("readable after reset", ours.readable())
                    .await
                    .expect("readable");
                let mut buf = [0u8; 64];
                assert_kind(
                    &format!("{bind}: read after the peer reset"),
                    bounded("read", ours.read(&mut buf)).await,
                    &[ErrorKind::ConnectionReset],
                );
                assert_kind(
                    &format!("{bind}: write_all after the reset"),
                    bounded("write_all", ours.write_all(&[7; 1 << 16]))
                        .await
                        .map(|()| 0),
                    &[ErrorKind::BrokenPipe, ErrorKind::ConnectionReset],
                );
            }
        });
    }
}

/// How [`peer_reset_is_connection_reset_for_try_read_and_peek`] reads.
#[derive(Debug, Clone, Copy)]
enum ReadWith {
    TryRead,
    TryReadVectored,
    Peek,
}

/// `try_read`, `try_read_vectored` and `peek` see a reset as `ConnectionReset`, as `read`
/// does (and as the kernel would tell them), not as the end of the stream.
#[test]
fn peer_reset_is_connection_reset_for_try_read_and_peek() {
    let _fds = shared();
    let mut failures = Vec::new();
    for (flavor, rt) in ["current_thread", "multi_thread(2)"]
        .into_iter()
        .zip(runtimes())
    {
        rt.block_on(async {
            for bind in LOOPBACKS {
                for how in [ReadWith::TryRead, ReadWith::TryReadVectored, ReadWith::Peek] {
                    let (ours, peer) = pair_std(bind).await;
                    reset(peer);
                    bounded("readable after reset", ours.readable())
                        .await
                        .expect("readable");
                    let mut buf = [0u8; 64];
                    let res = match how {
                        ReadWith::TryRead => ours.try_read(&mut buf),
                        ReadWith::TryReadVectored => {
                            ours.try_read_vectored(&mut [io::IoSliceMut::new(&mut buf)])
                        }
                        ReadWith::Peek => bounded("peek", ours.peek(&mut buf)).await,
                    };
                    match res {
                        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
                        other => failures.push(format!(
                            "{flavor} {bind} {how:?} after the peer reset: {other:?}, \
                             expected ConnectionReset"
                        )),
                    }
                }
            }
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- 2. half-close ---------------------------------------------------------------------------

/// The peer shuts its write direction down: we read its data, then `Ok(0)` again and again
/// (`read` and `try_read`), and what we write still reaches it; then our owned write half,
/// dropped, shuts our direction down and the peer reads the end of the stream.
#[test]
fn half_close_reads_eof_repeatedly_and_still_writes() {
    let _fds = shared();
    for rt in runtimes() {
        rt.block_on(async {
            for bind in LOOPBACKS {
                let (mut ours, mut peer) = pair_std(bind).await;
                peer.write_all(b"before the half-close").unwrap();
                peer.shutdown(std::net::Shutdown::Write).unwrap();

                let mut got = Vec::new();
                bounded("read_to_end", ours.read_to_end(&mut got))
                    .await
                    .expect("read to the end");
                assert_eq!(got, b"before the half-close");
                let mut buf = [0u8; 64];
                for i in 0..3 {
                    let n = bounded("read at EOF", ours.read(&mut buf)).await;
                    assert_eq!(n.unwrap(), 0, "{bind}: read {i} after the peer's shutdown");
                }
                assert_eq!(
                    ours.try_read(&mut buf).unwrap(),
                    0,
                    "{bind}: try_read at EOF"
                );

                // Our direction is still open.
                bounded("write", ours.write_all(b"reply after half-close"))
                    .await
                    .expect("write after the peer's half-close");
                let mut reply = [0u8; 22];
                peer.read_exact(&mut reply)
                    .expect("the peer reads our reply");
                assert_eq!(&reply, b"reply after half-close");

                // Dropping our owned write half shuts our direction down; the peer reads
                // the rest, then the end of the stream; our read half still reads EOF.
                let (mut rd, mut wr) = ours.into_split();
                bounded("write", wr.write_all(b"last")).await.unwrap();
                drop(wr);
                let mut rest = Vec::new();
                peer.read_to_end(&mut rest)
                    .expect("the peer reads to the end");
                assert_eq!(rest, b"last");
                let n = bounded("read half at EOF", rd.read(&mut buf)).await;
                assert_eq!(n.unwrap(), 0, "{bind}: read half at EOF");
            }
        });
    }
}

// ---- 3. refused connects ---------------------------------------------------------------------

/// A free port on `bind`'s address: bound by a std listener, which is then closed.
fn free_port(bind: &str) -> SocketAddr {
    let listener = std::net::TcpListener::bind(bind).expect("bind a std listener");
    listener.local_addr().unwrap()
}

/// A connect to a port nobody listens on is `ConnectionRefused` (through `TcpStream` and
/// `TcpSocket`), and the failed sockets leave no registration behind.
#[test]
fn connect_refused() {
    let _fds = shared();
    for rt in runtimes() {
        rt.block_on(async {
            let metrics = Handle::current().metrics();
            let base = metrics.io_registrations();
            for bind in LOOPBACKS {
                for _ in 0..50 {
                    let addr = free_port(bind);
                    match bounded("connect", TcpStream::connect(addr)).await {
                        Ok(s) => panic!("{bind}: connected to a closed port: {s:?}"),
                        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e:?}"),
                    }
                    let socket = match addr {
                        SocketAddr::V4(_) => TcpSocket::new_v4(),
                        SocketAddr::V6(_) => TcpSocket::new_v6(),
                    }
                    .unwrap();
                    match bounded("connect", socket.connect(addr)).await {
                        Ok(s) => panic!("{bind}: connected to a closed port: {s:?}"),
                        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e:?}"),
                    }
                }
            }
            assert_eq!(
                metrics.io_registrations(),
                base,
                "failed connects left I/O registrations behind"
            );
        });
    }
}

// ---- 4. a connect that hangs, under a timeout ------------------------------------------------

/// The descriptors and I/O registrations of `base` come back, waiting (the driver closes a
/// dropped socket's descriptor after it deletes its knotes) up to [`BOUND`].
async fn settle(what: &str, base_fds: &BTreeMap<i32, String>, base_regs: usize) {
    let metrics = Handle::current().metrics();
    let start = Instant::now();
    loop {
        let fds = open_fds();
        let regs = metrics.io_registrations();
        if fds.len() == base_fds.len() && regs == base_regs {
            return;
        }
        if start.elapsed() > BOUND {
            let new: Vec<_> = fds
                .iter()
                .filter(|&(fd, target)| base_fds.get(fd) != Some(target))
                .collect();
            panic!(
                "{what}: after {BOUND:?}, {} descriptors are open (there were {}) and {regs} \
                 I/O sources registered (there were {base_regs}); new descriptors: {new:?}",
                fds.len(),
                base_fds.len(),
            );
        }
        sleep(Duration::from_millis(1)).await;
    }
}

/// A listener with a backlog of 0 that never accepts: once its accept queue holds one
/// connection, Linux drops the next SYNs (the client retries after a second, then two...),
/// so a connect hangs. `timeout` ends it with `Elapsed` promptly, and the abandoned socket
/// is closed and deregistered; the listener still accepts the connection it queued.
#[test]
fn connect_timeout_on_full_backlog() {
    const LIMIT: Duration = Duration::from_millis(300);
    let _fds = exclusive();
    for rt in runtimes() {
        rt.block_on(async {
            // Warm up (lazily created descriptors), then take the baseline.
            drop(pair("127.0.0.1:0").await);
            sleep(Duration::from_millis(10)).await;
            let base_fds = open_fds();
            let base_regs = Handle::current().metrics().io_registrations();
            for bind in LOOPBACKS {
                let bind: SocketAddr = bind.parse().unwrap();
                let socket = match bind {
                    SocketAddr::V4(_) => TcpSocket::new_v4(),
                    SocketAddr::V6(_) => TcpSocket::new_v6(),
                }
                .unwrap();
                socket.bind(bind).unwrap();
                let listener = socket.listen(0).expect("listen with a backlog of 0");
                let addr = listener.local_addr().unwrap();

                let mut established = Vec::new();
                let mut timed_out = false;
                for _ in 0..8 {
                    let start = Instant::now();
                    match timeout(LIMIT, TcpStream::connect(addr)).await {
                        Ok(Ok(stream)) => established.push(stream),
                        Ok(Err(e)) => panic!("{addr}: connect failed: {e:?}"),
                        Err(elapsed) => {
                            let _: kq::time::error::Elapsed = elapsed;
                            util::assert_not_early(
                                &format!("{addr}: the connect's timeout"),
                                start.elapsed(),
                                LIMIT,
                            );
                            timed_out = true;
                            break;
                        }
                    }
                }
                assert!(
                    timed_out,
                    "{addr}: {} connects to a full backlog all completed",
                    established.len()
                );
                assert!(
                    !established.is_empty(),
                    "{addr}: the first connect to an empty backlog timed out"
                );
                // The listener and the established streams only: the abandoned connect's
                // socket is deregistered already.
                assert_eq!(
                    Handle::current().metrics().io_registrations(),
                    base_regs + 1 + established.len(),
                    "{addr}: registrations after the timed-out connect"
                );
                // The listener still works: it accepts the queued connection.
                let (_server, peer) = bounded("accept", listener.accept())
                    .await
                    .expect("accept the queued connection");
                assert_eq!(peer, established[0].local_addr().unwrap());
            }
            settle("after the timed-out connects", &base_fds, base_regs).await;
        });
    }
}

// ---- 5. writes to a closed peer, never a SIGPIPE --------------------------------------------

/// The environment variable telling a re-executed test binary which test it runs as a child.
const CHILD_ENV: &str = "KQ_NET_ERRORS_CHILD";

/// In the child process (`CHILD_ENV` names `name`): runs `body` and prints a marker. In the
/// parent: re-runs this binary with only the test `name`, as the child, and asserts that it
/// ran and passed, printing its output if not.
fn run_in_child(name: &str, body: fn()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        body();
        println!("child test `{name}` finished");
        return;
    }
    let _fds = shared();
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .stdin(Stdio::null())
        .output()
        .expect("run the child test process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("child test `{name}` finished")),
        "child process for `{name}` failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
}

#[derive(Debug, Clone, Copy)]
enum WriteWith {
    Write,
    WriteVectored,
    TryWrite,
    WriteAll,
}

async fn write_once(stream: &mut TcpStream, how: WriteWith) -> io::Result<usize> {
    let data = [0x5a_u8; 1024];
    match how {
        WriteWith::Write => stream.write(&data).await,
        WriteWith::WriteVectored => {
            stream
                .write_vectored(&[IoSlice::new(&data), IoSlice::new(&data)])
                .await
        }
        WriteWith::TryWrite => loop {
            match stream.try_write(&data) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => stream.writable().await?,
                res => break res,
            }
        },
        WriteWith::WriteAll => stream.write_all(&[0x5a; 1 << 20]).await.map(|()| 1 << 20),
    }
}

fn write_to_closed_peer_child() {
    // Restore the default disposition (the Rust runtime ignores SIGPIPE), so that a write
    // raising SIGPIPE kills this process and fails the parent's test.
    // SAFETY: setting a signal's disposition to the default; no handler runs.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(old, libc::SIG_ERR, "signal: {}", io::Error::last_os_error());
    for rt in runtimes() {
        rt.block_on(async {
            for bind in LOOPBACKS {
                for how in [
                    WriteWith::Write,
                    WriteWith::WriteVectored,
                    WriteWith::TryWrite,
                    WriteWith::WriteAll,
                ] {
                    let (mut ours, peer) = pair_std(bind).await;
                    // A clean close: FIN, then a RST in answer to our next data.
                    drop(peer);
                    let start = Instant::now();
                    let err = loop {
                        match bounded("write", write_once(&mut ours, how)).await {
                            Ok(_) => {
                                assert!(
                                    start.elapsed() < BOUND,
                                    "{bind} {how:?}: writes to a closed peer kept succeeding"
                                );
                                sleep(Duration::from_millis(5)).await;
                            }
                            Err(e) => break e,
                        }
                    };
                    assert_kind(
                        &format!("{bind} {how:?}: write to a closed peer"),
                        Err(err),
                        &[ErrorKind::BrokenPipe, ErrorKind::ConnectionReset],
                    );
                    // And again: the connection stays broken.
                    assert_kind(
                        &format!("{bind} {how:?}: second write to a closed peer"),
                        bounded("write", write_once(&mut ours, how)).await,
                        &[ErrorKind::BrokenPipe, ErrorKind::ConnectionReset],
                    );
                }
            }
        });
    }
}

/// The peer closes; we write until the write fails: `BrokenPipe` or `ConnectionReset` with
/// `write`, `write_vectored`, `try_write` and `write_all`, in a child process where a
/// `SIGPIPE` would be fatal.
#[test]
fn write_to_closed_peer_is_broken_pipe_not_sigpipe() {
    run_in_child(
        "write_to_closed_peer_is_broken_pipe_not_sigpipe",
        write_to_closed_peer_child,
    );
}

// ---- 6. end of stream ------------------------------------------------------------------------

/// After the peer writes and closes cleanly: its data, then `Ok(0)` (again and again), for a
/// read that was waiting when the peer closed and for one that comes after; `read_exact`
/// past the end is `UnexpectedEof`.
#[test]
fn eof_is_ok_zero_after_clean_close() {
    let _fds = shared();
    for rt in runtimes() {
        rt.block_on(async {
            for bind in LOOPBACKS {
                // A read waits when the peer closes.
                let (mut ours, peer) = pair_std(bind).await;
                let reader = kq::spawn(async move {
                    let mut buf = [0u8; 64];
                    let res = ours.read(&mut buf).await;
                    (ours, res)
                });
                sleep(Duration::from_millis(20)).await;
                drop(peer);
                let (mut ours, res) = bounded("read while closing", reader).await.unwrap();
                assert_eq!(res.unwrap(), 0, "{bind}: read waiting when the peer closed");
                let mut buf = [0u8; 64];
                for i in 0..3 {
                    let n = bounded("read at EOF", ours.read(&mut buf)).await;
                    assert_eq!(n.unwrap(), 0, "{bind}: read {i} after the close");
                }

                // The peer writes and closes before we read.
                let (mut ours, mut peer) = pair_std(bind).await;
                peer.write_all(b"last words").unwrap();
                drop(peer);
                let mut got = [0u8; 10];
                bounded("read_exact", ours.read_exact(&mut got))
                    .await
                    .expect("read the data sent before the close");
                assert_eq!(&got, b"last words");
                for i in 0..3 {
                    let n = bounded("read at EOF", ours.read(&mut buf)).await;
                    assert_eq!(n.unwrap(), 0, "{bind}: read {i} after the close");
                }
                let err = bounded("read_exact at EOF", ours.read_exact(&mut got))
                    .await
                    .expect_err("read_exact past the end");
                assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err:?}");
            }
        });
    }
}

/// How a kq socket is let go of in [`dropping_a_stream_closes_the_connection_promptly`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The stream is dropped: the peer reads the end of the stream.
    Drop,
    /// `SO_LINGER` 0, then dropped: the peer's read is `ConnectionReset`.
    Reset,
    /// Split into owned halves, both dropped: the peer reads the end of the stream.
    DropHalves,
    /// The listener is dropped with the client's connection still in its backlog: the
    /// client's read is `ConnectionReset`.
    DropListener,
}

/// Dropping a kq socket closes it without waiting for some other event. A server task
/// accepts a connection, lets go of it (see [`Close`]) and goes back to accepting, as
/// servers do; the client, a plain std socket read on a thread of its own, must see the end
/// of the stream (or the reset) while the runtime has nothing else to do.
#[test]
fn dropping_a_stream_closes_the_connection_promptly() {
    let _fds = shared();
    let mut failures = Vec::new();
    for (flavor, rt) in ["current_thread", "multi_thread(2)"]
        .into_iter()
        .zip(runtimes())
    {
        rt.block_on(async {
            for bind in LOOPBACKS {
                for close in [
                    Close::Drop,
                    Close::Reset,
                    Close::DropHalves,
                    Close::DropListener,
                ] {
                    let listener = TcpListener::bind(bind).await.unwrap();
                    // Connected at once: the kernel completes the handshake, the connection
                    // waits in the backlog.
                    let mut client =
                        std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                    client.set_read_timeout(Some(BOUND)).unwrap();
                    let (tx, rx) = util::oneshot();
                    let reader = std::thread::spawn(move || {
                        let mut buf = [0u8; 8];
                        tx.send(client.read(&mut buf).map_err(|e| e.kind()));
                    });
                    let server = kq::spawn(async move {
                        if let Close::DropListener = close {
                            drop(listener);
                            return;
                        }
                        let (stream, _) = listener.accept().await.expect("accept");
                        match close {
                            Close::Reset => {
                                stream.set_linger(Some(Duration::ZERO)).unwrap();
                                drop(stream);
                            }
                            Close::DropHalves => drop(stream.into_split()),
                            _ => drop(stream),
                        }
                        // Back to accepting, like a server.
                        let _ = listener.accept().await;
                    });
                    let expected = match close {
                        Close::Drop | Close::DropHalves => Ok(0),
                        Close::Reset | Close::DropListener => Err(ErrorKind::ConnectionReset),
                    };
                    // The timeout's own timer wakes the driver after `LATE`: a result that
                    // comes only then came from a close that waited for it.
                    let start = Instant::now();
                    let got = timeout(LATE, rx).await;
                    let took = start.elapsed();
                    match got {
                        Err(_) if took < LATE => failures.push(format!(
                            "{flavor} {bind} {close:?}: timeout({LATE:?}) elapsed early, after \
                             {took:?} (a timer bug, not a close)"
                        )),
                        Err(_) => failures.push(format!(
                            "{flavor} {bind} {close:?}: the client saw nothing within {took:?}"
                        )),
                        Ok(got) if took >= LATE => failures.push(format!(
                            "{flavor} {bind} {close:?}: the client saw nothing until the \
                             driver woke for a timer {took:?} later (then: {got:?})"
                        )),
                        Ok(got) if got != Some(expected) => failures.push(format!(
                            "{flavor} {bind} {close:?}: the client's read returned {got:?}, \
                             expected {expected:?}"
                        )),
                        Ok(_) => {}
                    }
                    server.abort();
                    let _ = server.await;
                    // Let the driver turn, so that the client's read ends either way.
                    sleep(Duration::from_millis(1)).await;
                    reader.join().unwrap();
                }
            }
        });
    }
    assert!(
        failures.is_empty(),
        "dropped kq sockets were not closed promptly:\n{}",
        failures.join("\n")
    );
}

// ---- 7. descriptor leaks ---------------------------------------------------------------------

/// 10,000 connections (connect, accept, close both ends, in batches of 500 so that the
/// descriptors stay well under the limit), half closed client first and half server
/// first; then the descriptor count and the runtime's I/O registrations are back to where
/// they started.
#[test]
fn ten_thousand_connections_leak_no_descriptors() {
    const TOTAL: usize = 10_000;
    const BATCH: usize = 500;
    let _fds = exclusive();
    for rt in runtimes() {
        let metrics = rt.metrics();
        rt.block_on(async {
            // Warm up (lazily created descriptors), then take the baseline.
            drop(pair("127.0.0.1:0").await);
            sleep(Duration::from_millis(10)).await;
            let base_fds = open_fds();
            let base_regs = metrics.io_registrations();

            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            for batch in 0..TOTAL / BATCH {
                let connects: Vec<_> = (0..BATCH)
                    .map(|_| kq::spawn(async move { TcpStream::connect(addr).await }))
                    .collect();
                let mut servers = Vec::with_capacity(BATCH);
                for _ in 0..BATCH {
                    let (s, _) = bounded("accept", listener.accept()).await.expect("accept");
                    servers.push(s);
                }
                let mut clients = Vec::with_capacity(BATCH);
                for c in connects {
                    clients.push(bounded("connect", c).await.unwrap().expect("connect"));
                }
                assert_eq!(
                    metrics.io_registrations(),
                    base_regs + 1 + 2 * BATCH,
                    "batch {batch}: registrations with the batch open"
                );
                if batch % 2 == 0 {
                    drop(clients);
                    drop(servers);
                } else {
                    drop(servers);
                    drop(clients);
                }
            }
            drop(listener);
            settle(&format!("after {TOTAL} connections"), &base_fds, base_regs).await;
        });
    }
}

// ---- 8. descriptor exhaustion ----------------------------------------------------------------

/// This process's CPU time (all threads, user and system).
fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is valid (plain integers).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into `ru`, which outlives the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage: {}", io::Error::last_os_error());
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn get_nofile() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into `lim`, which outlives the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    lim
}

fn set_nofile(lim: libc::rlimit) {
    // SAFETY: setrlimit reads one rlimit from `lim`.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());
}

/// The process out of descriptors: `RLIMIT_NOFILE` lowered to a little above the highest
/// open descriptor, and the rest of the table filled with `/dev/null`. Dropping it closes
/// the fillers and restores the limit.
struct Exhausted {
    fillers: Vec<File>,
    old: libc::rlimit,
}

impl Exhausted {
    fn new() -> Exhausted {
        let old = get_nofile();
        let highest = *open_fds().keys().max().expect("some descriptor is open");
        set_nofile(libc::rlimit {
            rlim_cur: (highest + 1 + 16) as libc::rlim_t,
            rlim_max: old.rlim_max,
        });
        let mut fillers = Vec::new();
        loop {
            match File::open("/dev/null") {
                Ok(f) => fillers.push(f),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                Err(e) => panic!("open /dev/null: {e:?}"),
            }
            assert!(fillers.len() < 10_000, "RLIMIT_NOFILE did not take effect");
        }
        // Out of descriptors indeed.
        let err = std::net::TcpStream::connect("127.0.0.1:1").expect_err("a socket with no fds");
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err:?}");
        Exhausted { fillers, old }
    }

    /// Closes `n` fillers.
    fn release(&mut self, n: usize) {
        assert!(
            self.fillers.len() >= n,
            "only {} fillers",
            self.fillers.len()
        );
        self.fillers.truncate(self.fillers.len() - n);
    }
}

impl Drop for Exhausted {
    fn drop(&mut self) {
        self.fillers.clear();
        set_nofile(self.old);
    }
}

/// Runs `fut` and returns its output with the wall and CPU time it took.
async fn measured<F: Future>(fut: F) -> (F::Output, Duration, Duration) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    let out = fut.await;
    (out, wall.elapsed(), cpu_time() - cpu)
}

/// How long the exhausted accept is watched, and the share of it the CPU may be busy
/// (a spinning accept loop keeps one core busy all the time).
const WATCH: Duration = Duration::from_millis(500);

#[track_caller]
fn assert_idle(what: &str, wall: Duration, cpu: Duration) {
    assert!(
        cpu < wall / 2,
        "{what}: {cpu:?} of CPU in {wall:?}: the accept loop spins under EMFILE"
    );
}

/// Reads `b"ping"` from `server` after `client` writes it: the accepted stream works.
async fn ping(client: &mut std::net::TcpStream, server: &mut TcpStream) {
    client.set_read_timeout(Some(BOUND)).unwrap();
    client.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    bounded("read ping", server.read_exact(&mut buf))
        .await
        .expect("read from the accepted stream");
    assert_eq!(&buf, b"ping");
    server.write_all(b"pong").await.unwrap();
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
}

fn accept_under_emfile_child() {
    for rt in runtimes() {
        rt.block_on(async {
            let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = listener.local_addr().unwrap();
            // Connected before the fill: the kernel completes the handshake and the
            // connection waits in the backlog.
            let mut first = std::net::TcpStream::connect(addr).unwrap();
            let mut exhausted = Exhausted::new();

            let acceptor = kq::spawn({
                let listener = listener.clone();
                async move { listener.accept().await }
            });
            let ((), wall, cpu) = measured(sleep(WATCH)).await;
            if acceptor.is_finished() {
                let res = acceptor.await.unwrap();
                panic!("accept() finished while out of descriptors: {res:?}");
            }
            println!("accept() out of descriptors: {cpu:?} of CPU in {wall:?}");
            assert_idle("accept()", wall, cpu);

            exhausted.release(8);
            let (mut server, peer) = bounded("accept after fds were freed", acceptor)
                .await
                .unwrap()
                .expect("the pending accept() succeeds once descriptors are free");
            assert_eq!(peer, first.local_addr().unwrap());
            ping(&mut first, &mut server).await;

            // The listener keeps working.
            let mut second = std::net::TcpStream::connect(addr).unwrap();
            let (mut server, peer) = bounded("accept a new connection", listener.accept())
                .await
                .expect("accept a new connection");
            assert_eq!(peer, second.local_addr().unwrap());
            ping(&mut second, &mut server).await;
            drop(exhausted);
        });
    }
}

/// Out of descriptors with a connection waiting: `accept()` waits without spinning (under
/// half a core for 500 ms) and without failing, accepts the connection once descriptors are
/// freed, and the listener then accepts a new one. In a child process (it lowers
/// `RLIMIT_NOFILE`).
#[test]
fn accept_backs_off_under_emfile_and_recovers() {
    run_in_child(
        "accept_backs_off_under_emfile_and_recovers",
        accept_under_emfile_child,
    );
}

/// The next connection of `incoming`, whose wake-ups the mock task of `tokio_test` records
/// (the root package has no `futures-core` to name `Stream` with, but `Spawn::poll_next`
/// polls one): polls again only once woken, checking every millisecond, and counts the
/// polls in `polls`.
async fn next_incoming(
    incoming: &mut Spawn<Incoming<'_>>,
    polls: &mut usize,
) -> io::Result<TcpStream> {
    loop {
        *polls += 1;
        if let Poll::Ready(item) = incoming.poll_next() {
            return item.expect("incoming() never ends");
        }
        while !incoming.is_woken() {
            sleep(Duration::from_millis(1)).await;
        }
    }
}

fn incoming_under_emfile_child() {
    for rt in runtimes() {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut incoming = tokio_test::task::spawn(listener.incoming());
            let mut first = std::net::TcpStream::connect(addr).unwrap();
            let mut exhausted = Exhausted::new();

            let mut polls = 0;
            let (res, wall, cpu) =
                measured(timeout(WATCH, next_incoming(&mut incoming, &mut polls))).await;
            if let Ok(res) = res {
                panic!("incoming() yielded while out of descriptors: {res:?}");
            }
            println!("incoming() out of descriptors: {cpu:?} of CPU in {wall:?}, {polls} polls");
            assert_idle("incoming()", wall, cpu);
            // Woken by its backoff timer (1 ms doubling to 64 ms): about a dozen polls. A
            // stream that woke itself at once would be polled at each 1 ms check.
            assert!(
                polls < WATCH.as_millis() as usize / 2,
                "incoming() was polled {polls} times in {wall:?}: it does not back off"
            );

            exhausted.release(8);
            let mut server = bounded(
                "incoming after fds were freed",
                next_incoming(&mut incoming, &mut polls),
            )
            .await
            .expect("incoming() yields the waiting connection once descriptors are free");
            assert_eq!(server.peer_addr().unwrap(), first.local_addr().unwrap());
            ping(&mut first, &mut server).await;

            let mut second = std::net::TcpStream::connect(addr).unwrap();
            let mut server = bounded(
                "incoming a new connection",
                next_incoming(&mut incoming, &mut polls),
            )
            .await
            .expect("incoming() yields a new connection");
            assert_eq!(server.peer_addr().unwrap(), second.local_addr().unwrap());
            ping(&mut second, &mut server).await;
            drop(exhausted);
        });
    }
}

/// As [`accept_backs_off_under_emfile_and_recovers`], through `incoming()` polled as a
/// stream.
#[test]
fn incoming_backs_off_under_emfile_and_recovers() {
    run_in_child(
        "incoming_backs_off_under_emfile_and_recovers",
        incoming_under_emfile_child,
    );
}

fn poll_accept_under_emfile_child() {
    for rt in runtimes() {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut first = std::net::TcpStream::connect(addr).unwrap();
            let mut exhausted = Exhausted::new();

            let emfile = io::Error::from_raw_os_error(libc::EMFILE);
            for i in 0..3 {
                match bounded("poll_accept", poll_fn(|cx| listener.poll_accept(cx))).await {
                    Ok((s, peer)) => {
                        panic!("poll_accept {i} accepted {s:?} from {peer} with no fds")
                    }
                    Err(e) => {
                        assert_eq!(
                            e.raw_os_error(),
                            Some(libc::EMFILE),
                            "poll_accept {i}: {e:?}"
                        );
                        assert_eq!(e.kind(), emfile.kind(), "poll_accept {i}: {e:?}");
                    }
                }
            }

            exhausted.release(8);
            let (mut server, peer) = bounded("poll_accept", poll_fn(|cx| listener.poll_accept(cx)))
                .await
                .expect("poll_accept succeeds once descriptors are free");
            assert_eq!(peer, first.local_addr().unwrap());
            ping(&mut first, &mut server).await;
            drop(exhausted);
        });
    }
}

/// Out of descriptors with a connection waiting, `poll_accept` returns the `EMFILE` error
/// (raw error and kind), each time, rather than backing off; with descriptors free again it
/// accepts the connection. In a child process.
#[test]
fn poll_accept_returns_emfile() {
    run_in_child("poll_accept_returns_emfile", poll_accept_under_emfile_child);
}
