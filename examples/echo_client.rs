//! A client for `echo_server`: sends N messages of SIZE bytes, one at a time, checks that
//! every byte comes back unchanged, and prints the round trips per second.
//!
//! Run with: `cargo run --release --example echo_client -- [ADDR [N [SIZE]]]` (defaults:
//! `127.0.0.1:7000`, 10000 messages, 64 bytes). It exits non-zero if a byte differs or the
//! server closes early; on success its last line starts with `ok:`.

use kq::io::{AsyncReadExt, AsyncWriteExt};
use kq::net::TcpStream;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::pin;
use std::process::ExitCode;
use std::task::Poll;
use std::time::Instant;

const DEFAULT_ADDR: &str = "127.0.0.1:7000";
const DEFAULT_COUNT: u64 = 10_000;
const DEFAULT_SIZE: usize = 64;

#[kq::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((addr, count, size)) = parse(&args) else {
        eprintln!("usage: echo_client [ADDR [N [SIZE]]] (N >= 1, SIZE >= 1)");
        return ExitCode::FAILURE;
    };
    match run(&addr, count, size).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Option<(String, u64, usize)> {
    if args.len() > 3 {
        return None;
    }
    let addr = args.first().cloned().unwrap_or_else(|| DEFAULT_ADDR.into());
    let count = match args.get(1) {
        Some(n) => n.parse().ok().filter(|&n| n > 0)?,
        None => DEFAULT_COUNT,
    };
    let size = match args.get(2) {
        Some(n) => n.parse().ok().filter(|&n| n > 0)?,
        None => DEFAULT_SIZE,
    };
    Some((addr, count, size))
}

async fn run(addr: &str, count: u64, size: usize) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    // One small message at a time: don't let Nagle hold it back waiting for an ACK.
    stream.set_nodelay(true)?;
    let mut message = vec![0u8; size];
    let mut echoed = vec![0u8; size];
    let start = Instant::now();
    for i in 0..count {
        // Different bytes in each message, so a stale or misplaced echo is caught.
        for (j, b) in message.iter_mut().enumerate() {
            *b = (i as usize).wrapping_mul(31).wrapping_add(j) as u8;
        }
        // Write and read at once: a message larger than the socket buffers comes back
        // while it is still being sent, and must be read for the sending to go on.
        let (mut from_server, mut to_server) = stream.split();
        let (sent, read) = both(
            to_server.write_all(&message),
            from_server.read_exact(&mut echoed),
        )
        .await;
        sent.map_err(|e| io::Error::new(e.kind(), format!("message {i}: sending: {e}")))?;
        read.map_err(|e| io::Error::new(e.kind(), format!("message {i}: reading the echo: {e}")))?;
        if let Some(at) = message.iter().zip(&echoed).position(|(a, b)| a != b) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "message {i}, byte {at}: sent {:#04x}, got {:#04x}",
                    message[at], echoed[at]
                ),
            ));
        }
    }
    let elapsed = start.elapsed();
    let secs = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
    println!(
        "ok: {count} round trips of {size} bytes in {:.3} s: {:.0} round trips/s",
        elapsed.as_secs_f64(),
        count as f64 / secs
    );
    Ok(())
}

/// Runs two futures at once in this task and returns both outputs (a two-way `join!`).
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut out_a, mut out_b) = (None, None);
    poll_fn(|cx| {
        if out_a.is_none() {
            if let Poll::Ready(out) = a.as_mut().poll(cx) {
                out_a = Some(out);
            }
        }
        if out_b.is_none() {
            if let Poll::Ready(out) = b.as_mut().poll(cx) {
                out_b = Some(out);
            }
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready((out_a.take().unwrap(), out_b.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}
