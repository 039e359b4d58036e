//! "Hello, world" over HTTP/1.1 with hyper 1.x, on kq instead of tokio.
//!
//! hyper reads and writes through its own I/O traits; hyper-util's `TokioIo` adapts any
//! type with tokio's `AsyncRead`/`AsyncWrite` to them, and `kq::net::TcpStream` has those.
//! An HTTP/1 connection needs no executor (only HTTP/2 spawns tasks of its own) and no
//! timer (none is configured here), so nothing of tokio's runtime is involved. The first
//! line on standard output is the address the server listens on.
//!
//! Run with: `cargo run --release --example hyper_hello -- [ADDR]` (default
//! `127.0.0.1:3000`), then `curl http://127.0.0.1:3000/`.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use kq::net::TcpListener;
use std::convert::Infallible;
use std::io::{self, Write};
use std::process::ExitCode;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

#[kq::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    if args.next().is_some() {
        eprintln!("usage: hyper_hello [ADDR]");
        return ExitCode::FAILURE;
    }
    match serve(&addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyper_hello: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let mut stdout = io::stdout();
    writeln!(stdout, "{}", listener.local_addr()?)?;
    stdout.flush()?;
    loop {
        let (stream, peer) = listener.accept().await?;
        kq::spawn(async move {
            let connection =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello));
            if let Err(e) = connection.await {
                eprintln!("hyper_hello: {peer}: {e}");
            }
        });
    }
}

async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!\n",
    ))))
}
