//! A TCP echo server on `kq::net`: every byte a client sends comes back to it.
//!
//! One accept loop; each connection gets its own task, which reads into a buffer and
//! writes back what it read until the client closes its sending side. The first line on
//! standard output is the address the server listens on (useful with port 0).
//!
//! Run with: `cargo run --release --example echo_server -- [ADDR]` (default
//! `127.0.0.1:7000`), then `cargo run --release --example echo_client -- 127.0.0.1:7000`
//! or `nc 127.0.0.1 7000`.

use kq::io::{AsyncReadExt, AsyncWriteExt};
use kq::net::{TcpListener, TcpStream};
use std::io::{self, Write};
use std::process::ExitCode;

const DEFAULT_ADDR: &str = "127.0.0.1:7000";

#[kq::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    if args.next().is_some() {
        eprintln!("usage: echo_server [ADDR]");
        return ExitCode::FAILURE;
    }
    match serve(&addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    // The first line of output: where to connect (the port chosen, if ADDR's was 0).
    let mut stdout = io::stdout();
    writeln!(stdout, "{}", listener.local_addr()?)?;
    stdout.flush()?;
    loop {
        let (stream, peer) = listener.accept().await?;
        kq::spawn(async move {
            if let Err(e) = echo(stream).await {
                eprintln!("echo_server: {peer}: {e}");
            }
        });
    }
}

/// Writes back everything the client sends, until it closes its sending side.
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}
