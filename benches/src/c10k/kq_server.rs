//! The echo server on kq: kq's multi-thread runtime with `--workers` workers, an accept loop
//! on `kq::net::TcpListener` (a task, so all the work is on the workers), one task per
//! connection (`kq::spawn`) that sets `TCP_NODELAY`, owns a [`BUF`]-byte buffer,
//! and reads then `write_all`s until the end of stream.
//!
//! The same program as [`tokio_server`](super::tokio_server), name for name.

use super::{BACKLOG, BUF, ServerCounters};
use kq::io::{AsyncReadExt, AsyncWriteExt};
use kq::net::{TcpListener, TcpSocket, TcpStream};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

static COUNTERS: ServerCounters = ServerCounters::new();

/// Serves until standard input closes.
pub(crate) fn run(workers: usize, addr: SocketAddr) -> io::Result<()> {
    kq_bench::sys::raise_nofile()?;
    COUNTERS.exit_on_stdin_eof("kq");
    let rt = kq::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(BACKLOG as u32)?;
        super::announce(&listener.local_addr()?.to_string())?;
        kq::spawn(accept_loop(listener))
            .await
            .map_err(io::Error::other)
    })
}

async fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                COUNTERS.accepted();
                kq::spawn(echo(stream));
            }
            Err(e) => {
                COUNTERS.accept_error(&e);
                kq::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

async fn echo(mut stream: TcpStream) {
    if let Err(e) = serve(&mut stream).await {
        COUNTERS.conn_error(&e);
    }
}

async fn serve(stream: &mut TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}
