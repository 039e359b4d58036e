//! The limit: a single-threaded, edge-triggered raw-epoll echo server with no runtime at
//! all (libc only), so the c10k table shows how much any runtime could still gain.
//!
//! One shared buffer of [`BUF`] bytes serves every connection: a readable
//! connection is read into it and the bytes are written straight back. Only when the
//! socket's send buffer is full does a connection keep the rest (its own spill `Vec`,
//! empty otherwise, flushed on `EPOLLOUT`) and stop reading until it is flushed — the
//! backpressure any echo server needs. Each connection is registered once with
//! `EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET` and never modified; a short read is taken as
//! "drained" (the next byte to arrive is a new edge) unless the event reported a hang-up,
//! so a 64-byte round trip costs one `read`, one `write` and a share of `epoll_wait`.
//!
//! Standard input is in the same epoll set: its end (the benchmark closing the pipe) ends
//! the server, which then prints its counters on standard error.

use super::{BACKLOG, BUF, raw};
use kq_bench::sys::{self, Epoll};
use std::io;
use std::net::SocketAddrV4;
use std::os::fd::RawFd;

/// The token of the listening socket.
const LISTENER: u64 = u64::MAX;
/// The token of standard input.
const STDIN: u64 = u64::MAX - 1;

#[derive(Debug, Default)]
struct Counters {
    accepted: u64,
    conn_errors: u64,
    accept_errors: u64,
    first_error: Option<String>,
}

impl Counters {
    fn error(&mut self, what: &str, e: &io::Error) {
        if self.first_error.is_none() {
            self.first_error = Some(format!("{what}: {e}"));
        }
    }
}

/// Serves until standard input closes.
pub(crate) fn run(addr: SocketAddrV4) -> io::Result<()> {
    sys::raise_nofile()?;
    let lfd = raw::tcp_socket()?;
    raw::set_int(lfd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    raw::bind(lfd, addr)?;
    raw::listen(lfd, BACKLOG)?;
    super::announce(&raw::local_addr(lfd)?.to_string())?;

    let ep = Epoll::new()?;
    ep.add(lfd, (libc::EPOLLIN | libc::EPOLLET) as u32, LISTENER)?;
    match ep.add(0, libc::EPOLLIN as u32, STDIN) {
        // Standard input is a file (not the benchmark's pipe): it cannot end the server.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
        other => other?,
    }
    let conn_events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

    let mut buf = vec![0u8; BUF];
    // Indexed by descriptor: `Some(spill)` for an open connection.
    let mut conns: Vec<Option<Vec<u8>>> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut n = Counters::default();
    // An accept stopped by EMFILE: retry every millisecond (no new edge would come).
    let mut accept_pending = false;
    loop {
        let timeout = if accept_pending { 1 } else { -1 };
        let ready = match ep.wait(&mut events, timeout) {
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        if accept_pending {
            accept_pending = accept_all(lfd, &ep, conn_events, &mut conns, &mut n);
        }
        for ev in &events[..ready] {
            let (token, bits) = (ev.u64, ev.events);
            match token {
                LISTENER => accept_pending = accept_all(lfd, &ep, conn_events, &mut conns, &mut n),
                STDIN => {
                    let first = n.first_error.as_deref().unwrap_or("none");
                    eprintln!(
                        "c10k-server limit: accepted {}, connection errors {}, accept errors {}, first error: {first}",
                        n.accepted, n.conn_errors, n.accept_errors
                    );
                    return Ok(());
                }
                fd => {
                    let fd = fd as RawFd;
                    if let Err(e) = serve(fd, bits, &mut buf, &mut conns) {
                        n.conn_errors += 1;
                        n.error("connection", &e);
                        close(fd, &mut conns);
                    }
                }
            }
        }
    }
}

/// Accepts until `EAGAIN`; `true` if stopped by a lack of descriptors (retry later).
fn accept_all(
    lfd: RawFd,
    ep: &Epoll,
    events: u32,
    conns: &mut Vec<Option<Vec<u8>>>,
    n: &mut Counters,
) -> bool {
    loop {
        match raw::accept(lfd) {
            Ok(fd) => {
                n.accepted += 1;
                let setup = raw::set_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)
                    .and_then(|()| ep.add(fd, events, fd as u64));
                if let Err(e) = setup {
                    n.conn_errors += 1;
                    n.error("setup", &e);
                    raw::close(fd);
                    continue;
                }
                let i = fd as usize;
                if conns.len() <= i {
                    conns.resize_with(i + 1, || None);
                }
                conns[i] = Some(Vec::new());
            }
            Err(e) if raw::would_block(&e) => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                n.accept_errors += 1;
                n.error("accept", &e);
                let out_of_fds = matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                );
                // ECONNABORTED and the like concern one connection: go on.
                if out_of_fds {
                    return true;
                }
            }
        }
    }
}

fn close(fd: RawFd, conns: &mut [Option<Vec<u8>>]) {
    if let Some(slot) = conns.get_mut(fd as usize) {
        if slot.take().is_some() {
            raw::close(fd);
        }
    }
}

/// Handles an event of connection `fd`.
fn serve(fd: RawFd, bits: u32, buf: &mut [u8], conns: &mut [Option<Vec<u8>>]) -> io::Result<()> {
    let Some(Some(spill)) = conns.get_mut(fd as usize) else {
        return Ok(());
    };
    // First what the send buffer did not take last time; until it is gone, no reading.
    if !spill.is_empty() {
        if bits & libc::EPOLLOUT as u32 == 0 && bits & (libc::EPOLLHUP | libc::EPOLLERR) as u32 == 0
        {
            return Ok(());
        }
        let sent = write_some(fd, spill)?;
        spill.drain(..sent);
        if !spill.is_empty() {
            return Ok(());
        }
    }
    let to_end = bits & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
    loop {
        let n = match raw::read(fd, buf) {
            Ok(0) => {
                close(fd, conns);
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if raw::would_block(&e) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let sent = write_some(fd, &buf[..n])?;
        if sent < n {
            // The send buffer is full: keep the rest, stop reading until EPOLLOUT.
            spill.extend_from_slice(&buf[sent..n]);
            return Ok(());
        }
        if n < buf.len() && !to_end {
            // A short read drained the socket: the next bytes are a new edge.
            return Ok(());
        }
    }
}

/// Writes what the socket takes of `data`: the count (short at `EAGAIN`).
fn write_some(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < data.len() {
        match raw::write(fd, &data[sent..]) {
            Ok(k) => sent += k,
            Err(e) if raw::would_block(&e) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}
