//! `AsyncFd` (`kq::io::unix::AsyncFd`) on real non-blocking descriptors — Unix socketpairs
//! and `std::io::pipe` — on both flavors: tokio's `AsyncReadExt`/`AsyncWriteExt` (1 MiB each
//! way from two tasks), `readable`/`writable` guards with `try_io`, `clear_ready` and
//! `retain_ready`, end of file (`read` returns 0, `Ready::is_read_closed`), invalid
//! descriptors, several tasks waiting on one `Arc<AsyncFd>`, futures' `AsyncRead`/`AsyncWrite`
//! traits, and deregistration (`metrics().io_registrations()`).

mod util;

use kq::io::unix::AsyncFd;
use kq::io::{AsyncReadExt, AsyncWriteExt, Interest};
use kq::runtime::Runtime;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use tokio_test::task::spawn as mock;
use tokio_test::{assert_pending, assert_ready_ok};
use util::{BOUND, expect_panic, pipe, socketpair, wait_until};

const MIB: usize = 1 << 20;

fn runtimes() -> [Runtime; 3] {
    [
        util::current_thread(),
        util::multi_thread(1),
        util::multi_thread(2),
    ]
}

/// A deterministic pattern, so that a reordered or lost chunk is caught.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

#[test]
fn one_mebibyte_each_way_through_a_socketpair() {
    for rt in runtimes() {
        rt.block_on(async {
            let (a, b) = socketpair();
            let (a, b) = (AsyncFd::new(a).unwrap(), AsyncFd::new(b).unwrap());
            // Each end split in two halves, each half in a task of its own: both directions
            // flow at once, so each descriptor has a reader and a writer waiting on it.
            let (mut a_rd, mut a_wr) = kq::io::split(a);
            let (mut b_rd, mut b_wr) = kq::io::split(b);
            let a_sends = kq::spawn(async move {
                a_wr.write_all(&pattern(MIB, 1)).await.unwrap();
                a_wr.flush().await.unwrap();
                a_wr
            });
            let b_sends = kq::spawn(async move {
                b_wr.write_all(&pattern(MIB, 2)).await.unwrap();
                b_wr
            });
            let a_receives = kq::spawn(async move {
                let mut got = vec![0; MIB];
                a_rd.read_exact(&mut got).await.unwrap();
                (a_rd, got)
            });
            let b_receives = kq::spawn(async move {
                let mut got = vec![0; MIB];
                b_rd.read_exact(&mut got).await.unwrap();
                (b_rd, got)
            });
            let (a_rd, got_by_a) = a_receives.await.unwrap();
            let (b_rd, got_by_b) = b_receives.await.unwrap();
            assert!(got_by_b == pattern(MIB, 1), "b received corrupted data");
            assert!(got_by_a == pattern(MIB, 2), "a received corrupted data");
            let a = a_rd.unsplit(a_sends.await.unwrap());
            let b = b_rd.unsplit(b_sends.await.unwrap());
            drop(b);
            // The peer is gone: end of file.
            let mut a = a;
            let mut rest = Vec::new();
            assert_eq!(a.read_to_end(&mut rest).await.unwrap(), 0);
        });
        assert_eq!(rt.metrics().io_registrations(), 0, "{rt:?}");
    }
}

#[test]
fn concurrent_write_all_and_read_exact_from_two_tasks() {
    for rt in runtimes() {
        rt.block_on(async {
            let (a, b) = socketpair();
            let (mut a, mut b) = (AsyncFd::new(a).unwrap(), AsyncFd::new(b).unwrap());
            let writer = kq::spawn(async move {
                a.write_all(&pattern(MIB, 7)).await.unwrap();
                a
            });
            let reader = kq::spawn(async move {
                let mut got = vec![0; MIB];
                b.read_exact(&mut got).await.unwrap();
                got
            });
            let got = reader.await.unwrap();
            let _a = writer.await.unwrap();
            assert!(got == pattern(MIB, 7), "corrupted data");
        });
    }
}

#[test]
fn pipe_write_all_and_read_exact() {
    for rt in runtimes() {
        rt.block_on(async {
            let (r, w) = pipe();
            let (mut r, mut w) = (AsyncFd::new(r).unwrap(), AsyncFd::new(w).unwrap());
            let len = 256 * 1024; // four times a pipe's buffer
            let writer = kq::spawn(async move {
                w.write_all(&pattern(len, 3)).await.unwrap();
                // Dropping the writer is the reader's end of file.
            });
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap();
            writer.await.unwrap();
            assert_eq!(got.len(), len);
            assert!(got == pattern(len, 3), "corrupted data");
        });
    }
}

#[test]
fn readable_guard_try_io_clears_readiness_on_would_block() {
    let rt = util::multi_thread(1);
    rt.block_on(async {
        let (a, mut b) = socketpair();
        let a = AsyncFd::new(a).unwrap();
        b.write_all(b"hello").unwrap();
        let mut guard = a.readable().await.unwrap();
        assert!(guard.ready().is_readable());
        let mut buf = [0; 16];
        let n = guard
            .try_io(|s| (&*s).read(&mut buf))
            .expect("data is there")
            .unwrap();
        assert_eq!(&buf[..n], b"hello");
        // Nothing left: WouldBlock becomes Err(TryIoError) and clears the readiness.
        assert!(guard.try_io(|s| (&*s).read(&mut buf)).is_err());
        // So the next wait waits, until new data arrives.
        let mut readable = mock(a.readable());
        assert_pending!(readable.poll());
        b.write_all(b"again").unwrap();
        wait_until("the reader is woken", BOUND, || readable.is_woken());
        let mut guard = assert_ready_ok!(readable.poll());
        let n = guard.try_io(|s| (&*s).read(&mut buf)).unwrap().unwrap();
        assert_eq!(&buf[..n], b"again");
    });
}

#[test]
fn clear_ready_waits_for_a_new_event_and_retain_ready_does_not() {
    let rt = util::multi_thread(1);
    rt.block_on(async {
        let (a, mut b) = socketpair();
        let a = AsyncFd::new(a).unwrap();
        b.write_all(b"x").unwrap();
        let mut buf = [0; 8];

        // Read everything behind the guard's back and keep the readiness: stale but kept.
        let mut guard = a.readable().await.unwrap();
        assert_eq!(a.get_ref().read(&mut buf).unwrap(), 1);
        guard.retain_ready();
        let mut readable = mock(a.readable());
        let guard = assert_ready_ok!(readable.poll());
        assert!(guard.ready().is_readable(), "retained readiness was lost");
        drop(readable);

        // Now clear it: the next wait waits for a new event.
        let mut guard = a.readable().await.unwrap();
        assert_eq!(
            a.get_ref().read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        guard.clear_ready();
        assert!(
            guard.ready().is_empty(),
            "a cleared guard still reports readiness"
        );
        let mut readable = mock(a.readable());
        assert_pending!(readable.poll());
        b.write_all(b"y").unwrap();
        wait_until("the reader is woken", BOUND, || readable.is_woken());
        assert_ready_ok!(readable.poll());
    });
}

#[test]
fn writable_guard_try_io_until_full_then_waits_for_the_reader() {
    for rt in runtimes() {
        rt.block_on(async {
            let (a, b) = socketpair();
            let a = AsyncFd::new(a).unwrap();
            let chunk = [0xa5u8; 64 * 1024];
            let mut written = 0;
            // Fill the socket: writable, write until WouldBlock (which clears readiness).
            loop {
                let mut guard = a.writable().await.unwrap();
                assert!(guard.ready().is_writable());
                match guard.try_io(|s| (&*s).write(&chunk)) {
                    Ok(n) => written += n.unwrap(),
                    Err(_would_block) => break,
                }
            }
            assert!(written > 0);
            let mut writable = mock(a.writable());
            assert_pending!(writable.poll(), "a full socket is not writable");
            drop(writable);
            // The peer drains everything from another thread; writable comes back.
            let drain = std::thread::spawn(move || {
                let mut b = b;
                b.set_nonblocking(false).unwrap();
                let mut buf = vec![0; written];
                b.read_exact(&mut buf).unwrap();
                assert!(buf.iter().all(|&x| x == 0xa5));
                b
            });
            let guard = a.writable().await.unwrap();
            assert!(guard.ready().is_writable());
            drain.join().unwrap();
        });
    }
}

#[test]
fn async_io_retries_until_the_operation_succeeds() {
    for rt in runtimes() {
        rt.block_on(async {
            let (a, b) = socketpair();
            let a = AsyncFd::new(a).unwrap();
            let t = std::thread::spawn(move || {
                let mut b = b;
                b.set_nonblocking(false).unwrap();
                b.write_all(b"late data").unwrap();
                b
            });
            let mut buf = [0; 32];
            let n = a
                .async_io(Interest::READABLE, |s| (&*s).read(&mut buf))
                .await
                .unwrap();
            assert!(n > 0 && b"late data".starts_with(&buf[..n]));
            t.join().unwrap();
        });
    }
}

#[test]
fn eof_on_a_socketpair_when_the_peer_is_dropped() {
    for rt in runtimes() {
        rt.block_on(async {
            let (a, b) = socketpair();
            let mut a = AsyncFd::new(a).unwrap();
            drop(b);
            let guard = a.readable().await.unwrap();
            assert!(guard.ready().is_read_closed(), "{:?}", guard.ready());
            let mut buf = [0; 8];
            assert_eq!(a.read(&mut buf).await.unwrap(), 0);
            // And again: end of file is sticky.
            assert_eq!(a.read(&mut buf).await.unwrap(), 0);
        });
    }
}

#[test]
fn eof_seen_by_a_reader_already_waiting() {
    for rt in runtimes() {
        rt.block_on(async {
            let (a, b) = socketpair();
            let a = Arc::new(AsyncFd::new(a).unwrap());
            let a2 = a.clone();
            let reader = kq::spawn(async move {
                let guard = a2.readable().await.unwrap();
                guard.ready().is_read_closed()
            });
            // Drop the peer from another thread once the reader had a chance to wait.
            kq::task::yield_now().await;
            std::thread::spawn(move || drop(b)).join().unwrap();
            assert!(reader.await.unwrap(), "the reader saw no end of file");
        });
    }
}

#[test]
fn eof_on_a_pipe_when_the_writer_is_dropped() {
    for rt in runtimes() {
        rt.block_on(async {
            let (r, w) = pipe();
            let mut r = AsyncFd::new(r).unwrap();
            let mut w = AsyncFd::new(w).unwrap();
            w.write_all(b"last words").await.unwrap();
            drop(w);
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"last words");
            // read_to_end saw the end without a WouldBlock, so the readiness of the data may
            // still be there, and the hang-up's event may come with a later turn: consume
            // stale readiness until the closed side is reported.
            let closed = kq::time::timeout(BOUND, async {
                loop {
                    let mut guard = r.readable().await.unwrap();
                    if guard.ready().is_read_closed() {
                        break;
                    }
                    guard.clear_ready();
                }
            })
            .await;
            assert!(closed.is_ok(), "the writer's close was never reported");
        });
    }
}

#[test]
fn write_side_closed_when_a_pipe_reader_is_dropped() {
    for rt in runtimes() {
        rt.block_on(async {
            let (r, w) = pipe();
            let w = AsyncFd::new(w).unwrap();
            // Registered (its first event seen) while the reader lives; then the stale
            // readiness is cleared so that the next wait needs a new event.
            let mut guard = w.writable().await.unwrap();
            assert!(!guard.ready().is_write_closed());
            guard.clear_ready();
            drop(r);
            let guard = w.writable().await.unwrap();
            assert!(guard.ready().is_write_closed(), "{:?}", guard.ready());
            // SIGPIPE is ignored in Rust programs: the write fails with EPIPE.
            let err = w.get_ref().write(b"x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        });
    }
}

#[test]
fn a_pipe_whose_reader_is_gone_is_writable_and_its_write_fails_with_epipe() {
    // The runtime's kqueue does not classify a descriptor to register it (edge_data(false)),
    // so it does not refuse EVFILT_WRITE on a widowed pipe as kevent(2) does; the knote fires
    // at once with EV_EOF, and the write tells why, as with tokio.
    let rt = util::current_thread();
    rt.block_on(async {
        let (r, w) = pipe();
        drop(r);
        let w = AsyncFd::new(w).unwrap();
        let mut guard = w
            .writable()
            .await
            .expect("a widowed pipe is writable (EOF)");
        let err = guard
            .try_io(|mut w| w.write(b"x"))
            .expect("the write was made")
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    });
}

/// A descriptor number that no file is open under.
#[derive(Debug)]
struct BadFd(RawFd);

impl AsRawFd for BadFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

#[test]
fn async_fd_new_on_an_invalid_descriptor_is_an_error() {
    let rt = util::current_thread();
    let _g = rt.enter();
    // -1, and a number far above any descriptor this process opens.
    for fd in [-1, 1_000_000] {
        let err = AsyncFd::new(BadFd(fd)).expect_err("nothing is open under it");
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "fd {fd}: {err}");
    }
    assert_eq!(rt.metrics().io_registrations(), 0);
}

#[test]
fn async_fd_new_outside_a_runtime_panics_naming_the_fix() {
    let (a, _b) = socketpair();
    let msg = expect_panic(move || AsyncFd::new(a));
    assert!(msg.contains("kq runtime"), "unclear message: {msg}");
}

#[test]
fn two_tasks_waiting_readable_on_one_async_fd_are_both_woken() {
    // With mock tasks, so that both are known to wait before the write.
    let rt = util::multi_thread(1);
    {
        let _g = rt.enter();
        let (a, mut b) = socketpair();
        let a = Arc::new(AsyncFd::new(a).unwrap());
        let mut first = mock(a.readable());
        let mut second = mock(a.readable());
        assert_pending!(first.poll());
        assert_pending!(second.poll());
        b.write_all(b"!").unwrap();
        wait_until("both waiters are woken", BOUND, || {
            first.is_woken() && second.is_woken()
        });
        assert!(assert_ready_ok!(first.poll()).ready().is_readable());
        assert!(assert_ready_ok!(second.poll()).ready().is_readable());
    }
    // And with spawned tasks, on every flavor.
    for rt in runtimes() {
        rt.block_on(async {
            let (a, b) = socketpair();
            let a = Arc::new(AsyncFd::new(a).unwrap());
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let a = a.clone();
                    kq::spawn(async move { a.readable().await.unwrap().ready().is_readable() })
                })
                .collect();
            kq::task::yield_now().await;
            let mut b = b;
            b.write_all(b"!").unwrap();
            for w in waiters {
                assert!(w.await.unwrap());
            }
        });
    }
}

#[test]
fn futures_io_traits_read_and_write() {
    use kq::io::futures_io::{AsyncRead, AsyncWrite};
    for rt in runtimes() {
        rt.block_on(async {
            let (a, b) = socketpair();
            let (mut a, mut b) = (AsyncFd::new(a).unwrap(), AsyncFd::new(b).unwrap());
            let n = poll_fn(|cx| AsyncWrite::poll_write(Pin::new(&mut a), cx, b"futures-io")).await;
            assert_eq!(n.unwrap(), 10);
            poll_fn(|cx| AsyncWrite::poll_flush(Pin::new(&mut a), cx))
                .await
                .unwrap();
            let mut buf = [0; 32];
            let n = poll_fn(|cx| AsyncRead::poll_read(Pin::new(&mut b), cx, &mut buf))
                .await
                .unwrap();
            assert_eq!(&buf[..n], b"futures-io");
            poll_fn(|cx| AsyncWrite::poll_close(Pin::new(&mut a), cx))
                .await
                .unwrap();
            // A read that must wait: the data comes from another thread later.
            let a = a.into_inner();
            let t = std::thread::spawn(move || {
                let mut a = a;
                a.set_nonblocking(false).unwrap();
                a.write_all(b"later").unwrap();
                a
            });
            let n = poll_fn(|cx| AsyncRead::poll_read(Pin::new(&mut b), cx, &mut buf))
                .await
                .unwrap();
            assert!(n > 0 && b"later".starts_with(&buf[..n]));
            t.join().unwrap();
        });
    }
}

#[test]
fn dropping_or_into_inner_deregisters() {
    let rt = util::current_thread();
    rt.block_on(async {
        let metrics = kq::runtime::Handle::current().metrics();
        let (a, b) = socketpair();
        let a = AsyncFd::new(a).unwrap();
        let b = AsyncFd::with_interest(b, Interest::READABLE).unwrap();
        assert_eq!(metrics.io_registrations(), 2);
        let raw = a.as_raw_fd();
        let a: UnixStream = a.into_inner();
        assert_eq!(
            a.as_raw_fd(),
            raw,
            "into_inner gives the same descriptor back"
        );
        assert_eq!(metrics.io_registrations(), 1);
        drop(b);
        assert_eq!(metrics.io_registrations(), 0);
        // The descriptor given back still works, and can be registered again.
        let a = AsyncFd::new(a).unwrap();
        assert_eq!(metrics.io_registrations(), 1);
        drop(a);
        assert_eq!(metrics.io_registrations(), 0);
    });
}

#[test]
fn descriptor_numbers_reused_at_once_get_their_own_events() {
    // Each round closes its pair before the next opens one, so the same descriptor numbers
    // come back every time, often before the driver has turned: the deletion of the old
    // knotes and the addition of the new ones travel in one changelist.
    for rt in runtimes() {
        rt.block_on(async {
            let mut numbers = std::collections::HashSet::new();
            for i in 0..300u32 {
                let (a, mut b) = socketpair();
                numbers.insert(a.as_raw_fd());
                let a = AsyncFd::new(a).unwrap();
                if i % 3 == 0 {
                    kq::task::yield_now().await;
                }
                b.write_all(&i.to_le_bytes()).unwrap();
                let mut guard = kq::time::timeout(BOUND, a.readable())
                    .await
                    .expect("the new registration never saw its data")
                    .unwrap();
                let mut buf = [0; 4];
                let n = guard.try_io(|s| (&*s).read(&mut buf)).unwrap().unwrap();
                assert_eq!((n, u32::from_le_bytes(buf)), (4, i));
            }
            assert!(numbers.len() < 300, "descriptor numbers were not reused");
        });
        assert_eq!(rt.metrics().io_registrations(), 0);
    }
}
