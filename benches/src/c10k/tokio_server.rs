//! The echo server on tokio: tokio's multi-thread runtime with `--workers` workers, an accept loop
//! on `tokio::net::TcpListener` (a task, so all the work is on the workers), one task per
//! connection (`tokio::spawn`) that sets `TCP_NODELAY`, owns a [`BUF`]-byte buffer,
//! and reads then `write_all`s until the end of stream.
//!
//! The same program as [`kq_server`](super::kq_server), name for name.

use super::{BACKLOG, BUF, ServerCounters};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

static COUNTERS: ServerCounters = ServerCounters::new();

/// Serves until standard input closes.
pub(crate) fn run(workers: usize, addr: SocketAddr) -> io::Result<()> {
    kq_bench::sys::raise_nofile()?;
    COUNTERS.exit_on_stdin_eof("tokio");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(BACKLOG as u32)?;
        super::announce(&listener.local_addr()?.to_string())?;
        tokio::spawn(accept_loop(listener))
            .await
            .map_err(io::Error::other)
    })
}

async fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                COUNTERS.accepted();
                tokio::spawn(echo(stream));
            }
            Err(e) => {
                COUNTERS.accept_error(&e);
                tokio::time::sleep(Duration::from_millis(1)).await;
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
