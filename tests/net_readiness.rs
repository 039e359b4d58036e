//! How kq's sockets use the kqueue: registered once (no change per operation), a short
//! read or write counts as drained (no `EAGAIN` call to learn it), and a reset reported by
//! the core reaches the reader as `ConnectionReset`.

mod util;

use kq::io::{AsyncReadExt, AsyncWriteExt};
use kq::net::{TcpListener, TcpStream, UnixStream};
use std::io::{ErrorKind, Write};

/// A connected pair on 127.0.0.1: a kq stream and a std stream (blocking) as its peer.
async fn tcp_pair_with_std_peer() -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let kq_side = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (std_side, _) = listener.accept().unwrap();
    (kq_side, std_side)
}

#[test]
fn round_trips_submit_no_changes_after_registration() {
    let rt = util::current_thread();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut buf = [0; 64];
        // One round trip first: the accepted socket's knotes are submitted with a turn.
        client.write_all(b"warm").await.unwrap();
        server.read_exact(&mut buf[..4]).await.unwrap();
        let before = kq::runtime::Handle::current().metrics().changes_submitted();
        for i in 0..1000u32 {
            client.write_all(&i.to_le_bytes()).await.unwrap();
            server.read_exact(&mut buf[..4]).await.unwrap();
            server.write_all(&buf[..4]).await.unwrap();
            client.read_exact(&mut buf[..4]).await.unwrap();
            assert_eq!(buf[..4], i.to_le_bytes());
        }
        let after = kq::runtime::Handle::current().metrics().changes_submitted();
        assert_eq!(
            after, before,
            "1000 round trips on registered sockets must not change any knote"
        );
    });
}

#[test]
fn a_short_read_clears_readiness_without_an_eagain_read() {
    // Current-thread: the driver turns only when the block_on future waits, so nothing
    // delivers an event between the steps below.
    let rt = util::current_thread();
    rt.block_on(async {
        let (mut stream, mut peer) = tcp_pair_with_std_peer().await;
        peer.write_all(b"abc").unwrap();
        let mut buf = [0; 16];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 3);

        // Data is in the socket now, but no event has been delivered for it: a stream
        // that had not counted the short read as drained would read it here (its
        // readiness would still be set); kq knows the socket was emptied and does not
        // even try.
        peer.write_all(b"def").unwrap();
        let err = stream.try_read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);

        // The edge for "def" wakes the reader as usual.
        assert_eq!(stream.read(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"def");
    });
}

#[test]
fn a_full_read_keeps_readiness_so_the_rest_is_read_without_waiting() {
    let rt = util::current_thread();
    rt.block_on(async {
        let (mut stream, mut peer) = tcp_pair_with_std_peer().await;
        peer.write_all(b"abcdef").unwrap();
        let mut buf = [0; 3];
        stream.read_exact(&mut buf).await.unwrap();
        // The read filled the buffer, so more may be there: try_read must try.
        assert_eq!(stream.try_read(&mut buf).unwrap(), 3);
        assert_eq!(&buf, b"def");
    });
}

#[test]
fn a_reset_reaches_the_reader_as_connection_reset() {
    let rt = util::current_thread();
    rt.block_on(async {
        let (mut stream, peer) = tcp_pair_with_std_peer().await;
        let peer = kq::net::TcpSocket::from_std_stream(peer);
        peer.set_linger(Some(std::time::Duration::ZERO)).unwrap();
        drop(peer);
        let mut buf = [0; 16];
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    });
}

#[test]
fn unix_streams_drain_the_same_way() {
    let rt = util::current_thread();
    rt.block_on(async {
        let (a, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut stream = UnixStream::from_std(a).unwrap();
        peer.write_all(b"abc").unwrap();
        let mut buf = [0; 16];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 3);
        peer.write_all(b"def").unwrap();
        assert_eq!(
            stream.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert_eq!(stream.read(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"def");
    });
}

/// A socket dropped by a task is closed at once (its peer reads end of stream), even when
/// nothing else happens on the runtime: the close waits for its knotes' deletion, and the
/// turn that applies it must not then block (nor, on the current-thread scheduler, wait
/// for the next `block_on`).
#[test]
fn a_dropped_stream_closes_without_waiting_for_another_event() {
    for rt in [util::current_thread(), util::multi_thread_2()] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let task = rt.spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            drop(stream);
        });
        rt.block_on(task).unwrap();
        // The connection waits in the backlog; its client side is already dropped.
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0; 1];
        let n = std::io::Read::read(&mut peer, &mut buf)
            .expect("the peer must see the end of the stream, not time out");
        assert_eq!(n, 0);
    }
}

/// The same when the `block_on` future itself drops the socket as it finishes: no turn
/// follows inside `block_on`, so the return must submit the deletion and close.
#[test]
fn a_stream_dropped_as_block_on_returns_is_closed() {
    for rt in [util::current_thread(), util::multi_thread_2()] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        rt.block_on(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            drop(stream);
        });
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0; 1];
        let n = std::io::Read::read(&mut peer, &mut buf)
            .expect("the peer must see the end of the stream, not time out");
        assert_eq!(n, 0);
    }
}
