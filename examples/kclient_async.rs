//! The NetBSD kqueue tutorial's TCP client (`kclient.c`, ported to the raw core in
//! `examples/kclient.rs`) written with `kq::net` and tasks instead of a hand-driven kqueue.
//!
//! Connects to HOST:PORT, relays standard input to the server line by line and prints
//! what the server sends. Where `kclient.rs` waits for two descriptors in one `kevent`
//! loop, this is two tasks: one reads standard input (on the blocking pool, with
//! `spawn_blocking`: a terminal or pipe can't be registered with every kqueue, and a
//! blocking read must not hold up a worker) and writes to the socket; the other reads the
//! socket and prints. Printing goes through the blocking pool as well, since standard
//! output may be a pipe nobody is reading yet.
//!
//! It ends as `kclient.rs` does: at the end of standard input it shuts its sending side
//! down (the server reads end of stream) and prints what the server still sends; it exits
//! when the server closes the connection, whether or not standard input has ended.
//!
//! Run with: `cargo run --release --example kclient_async -- 127.0.0.1 7000` (against
//! `cargo run --release --example echo_server`, or `nc -l 127.0.0.1 7000`).

use kq::io::{AsyncReadExt, AsyncWriteExt};
use kq::net::TcpStream;
use kq::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

const BUFSIZE: usize = 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (host, port) = match args.as_slice() {
        [host, port] => match port.parse::<u16>() {
            Ok(port) => (host.clone(), port),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    // Built by hand rather than with `#[kq::main]`: dropping a runtime waits for the
    // blocking closures still running, and the one reading standard input may never
    // return (the server has closed, but nobody types). `shutdown_background` leaves it.
    let runtime = match kq::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kclient_async: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&host, port));
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kclient_async: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: kclient_async host port");
    ExitCode::FAILURE
}

async fn run(host: &str, port: u16) -> io::Result<()> {
    // open a connection to a host:port pair
    let stream = TcpStream::connect((host, port)).await?;
    let (from_server, to_server) = stream.into_split();
    // standard input -> socket, in its own task
    let sending = kq::spawn(stdin_to_socket(to_server));
    // socket -> standard output, until the server closes
    socket_to_stdout(from_server).await?;
    // The server is gone. A send that failed before that is worth reporting; one still
    // waiting for a line of input is simply left behind.
    if sending.is_finished() {
        if let Ok(Err(e)) = sending.await {
            return Err(io::Error::new(e.kind(), format!("sending: {e}")));
        }
    }
    Ok(())
}

async fn stdin_to_socket(mut to_server: OwnedWriteHalf) -> io::Result<()> {
    loop {
        // One line per blocking call: `Stdin` keeps what it buffered beyond the line for
        // the next call.
        let line = kq::task::spawn_blocking(|| {
            let mut line = Vec::new();
            io::stdin()
                .lock()
                .read_until(b'\n', &mut line)
                .map(|_| line)
        })
        .await
        .map_err(io::Error::other)??;
        if line.is_empty() {
            // End of standard input: the server reads end of stream, and may still answer.
            return to_server.shutdown().await;
        }
        to_server.write_all(&line).await?;
    }
}

async fn socket_to_stdout(mut from_server: OwnedReadHalf) -> io::Result<()> {
    let mut buf = vec![0u8; BUFSIZE];
    loop {
        let n = from_server.read(&mut buf).await?;
        if n == 0 {
            // read direction of socket has shut down
            return Ok(());
        }
        // The buffer travels to the blocking pool and back: no copy, and no worker waits
        // on a full pipe.
        buf = kq::task::spawn_blocking(move || {
            let mut stdout = io::stdout().lock();
            stdout.write_all(&buf[..n])?;
            stdout.flush()?;
            Ok::<_, io::Error>(buf)
        })
        .await
        .map_err(io::Error::other)??;
    }
}
