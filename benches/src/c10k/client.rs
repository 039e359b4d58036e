//! The load generator (`kq-bench c10k-client`): one thread, raw edge-triggered epoll, no
//! runtime, the same program for all three servers.
//!
//! 1. Raises `RLIMIT_NOFILE` to its hard limit and reads the server's resident set.
//! 2. **Open phase** (not timed): opens every connection the workload holds, at most
//!    [`OPEN_WINDOW`] connecting at once (the server's accept backlog is never the limit),
//!    and does one warm-up round trip on each, so that when the timed phase starts the
//!    server has accepted every connection and set it up.
//! 3. With `--pause`: prints `ready` and waits for a line on standard input (the strace
//!    pass attaches then).
//! 4. **Timed phase**: reads the server's CPU time, runs the workload, reads the server's CPU
//!    time and peak resident set again.
//! 5. Prints one JSON line (round trips, wall time, errors by kind, latency quantiles and
//!    the histogram, the server's figures). With `--pause` it then waits for another line
//!    before it exits (closing its connections), so the strace pass can detach first.
//!
//! Every echoed byte is checked. Message `t` of connection `c` is 8 header bytes (`c` and
//! `t`, little-endian `u32`s) followed by a window of a fixed pseudo-random pattern at an
//! offset drawn from `(c, t)`: a byte lost, duplicated, reordered or delivered to the wrong
//! connection fails the check. More bytes than were sent, an end of stream, a reset or a
//! connection that makes no progress for `--stall-secs` are errors too, counted by kind.
//!
//! Source addresses: every socket is bound, before `connect`, to one of 4,096 loopback
//! addresses (127.1.0.0–127.1.15.255) with `IP_BIND_ADDRESS_NO_PORT`, so the port is still
//! chosen by `connect` for the whole 4-tuple. The client always closes first (a server
//! echoes until it reads the end of stream), so `TIME_WAIT` is on the client's side: with
//! 4,096 source addresses, each with the whole ephemeral port range, the 50,000 connects of
//! churn (and every run after it within `TIME_WAIT`'s 60 s) never run out of ports, and no
//! `SO_LINGER` reset changes what the server sees.

use super::hist::Histogram;
use super::json::Json;
use super::{Load, Workload, procfs, raw};
use kq_bench::sys::{self, Epoll};
use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Connections being opened (connecting or in their warm-up trip) at once.
const OPEN_WINDOW: usize = 256;
/// Loopback source addresses the sockets rotate through.
const SRC_POOL: u64 = 4096;
/// Header bytes of a message: connection and trip numbers.
const HEADER: usize = 8;
/// The pattern's window offsets: `0..PAT_SLACK`.
const PAT_SLACK: usize = 4096;
/// Events per `epoll_wait`.
const EVENTS: usize = 1024;

/// The client's options.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) addr: SocketAddrV4,
    pub(crate) server_pid: u32,
    pub(crate) load: Load,
    pub(crate) pause: bool,
    pub(crate) stall: Duration,
}

/// `kq-bench c10k-client --addr A --server-pid P LOAD… [--pause] [--stall-secs S]`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("c10k-client: {e}");
            return ExitCode::from(2);
        }
    };
    let result = run(&opts);
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", result.to_text());
    let _ = out.flush();
    drop(out);
    if opts.pause {
        wait_line();
    }
    ExitCode::SUCCESS
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut addr = None;
    let mut pid = None;
    let mut pause = false;
    let mut stall = Duration::from_secs(20);
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--addr" => addr = Some(val()?.parse().map_err(|e| format!("--addr: {e}"))?),
            "--server-pid" => pid = Some(val()?.parse().map_err(|e| format!("--server-pid: {e}"))?),
            "--stall-secs" => {
                stall =
                    Duration::from_secs(val()?.parse().map_err(|e| format!("--stall-secs: {e}"))?);
            }
            "--pause" => pause = true,
            _ => rest.push(a.clone()),
        }
    }
    Ok(Options {
        addr: addr.ok_or("--addr is required")?,
        server_pid: pid.ok_or("--server-pid is required")?,
        load: Load::from_args(&rest)?,
        pause,
        stall,
    })
}

fn wait_line() {
    let mut line = String::new();
    let _ = io::stdin().lock().read_line(&mut line);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// No socket.
    Free,
    /// `connect` in progress.
    Connecting,
    /// A message is out: writing it or reading its echo.
    Busy,
    /// Open, with no message out.
    Idle,
    /// Closed after an error.
    Failed,
}

#[derive(Debug, Clone, Copy)]
struct Conn {
    fd: RawFd,
    st: St,
    /// Bumped at each new socket in the slot: the epoll token's upper half.
    generation: u32,
    /// Message identity: connection number (churn: cycle number).
    id: u32,
    /// The message out (0: the warm-up).
    trip: u32,
    /// The last trip to make before going idle.
    last_trip: u32,
    sent: usize,
    recvd: usize,
    /// When the round trip (churn: the cycle) started, ns since the client's base instant.
    t0: u64,
}

impl Conn {
    const FREE: Conn = Conn {
        fd: -1,
        st: St::Free,
        generation: 0,
        id: 0,
        trip: 0,
        last_trip: 0,
        sent: 0,
        recvd: 0,
        t0: 0,
    };
}

#[derive(Debug, Default)]
struct Errors {
    by_kind: BTreeMap<&'static str, u64>,
    first: Vec<String>,
}

impl Errors {
    fn add(&mut self, kind: &'static str, count: u64, msg: String) {
        *self.by_kind.entry(kind).or_default() += count;
        if self.first.len() < 10 {
            self.first.push(format!("{kind}: {msg}"));
        }
    }

    fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }
}

struct Client {
    ep: Epoll,
    server: SocketAddrV4,
    size: usize,
    pat: Vec<u8>,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    conns: Vec<Conn>,
    /// Sockets created so far: picks the next source address.
    sockets: u64,
    base: Instant,
    last_progress: Instant,
    hist: Histogram,
    errors: Errors,
    /// Round trips count toward the results (the timed phase).
    timed: bool,
    /// Churn: close after the one round trip.
    churn: bool,
    /// Slots of the current phase that are done (idle after their last trip, closed after
    /// their cycle, or failed).
    finished: usize,
    /// Slots connecting or with a message out.
    inflight: usize,
    /// Churn: slots free for the next cycle.
    free: Vec<usize>,
    round_trips: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .field("conns", &self.conns.len())
            .finish_non_exhaustive()
    }
}

/// A 64-bit mix (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn header(id: u32, trip: u32) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..4].copy_from_slice(&id.to_le_bytes());
    h[4..].copy_from_slice(&trip.to_le_bytes());
    h
}

fn window(id: u32, trip: u32) -> usize {
    (mix(u64::from(id) << 32 | u64::from(trip)) % PAT_SLACK as u64) as usize
}

/// Bytes `from..from + out.len()` of message `(id, trip)`.
fn fill(pat: &[u8], id: u32, trip: u32, from: usize, out: &mut [u8]) {
    let h = header(id, trip);
    let end = from + out.len();
    if from < HEADER {
        let k = end.min(HEADER);
        out[..k - from].copy_from_slice(&h[from..k]);
    }
    let start = from.max(HEADER);
    if start < end {
        let o = window(id, trip);
        out[start - from..].copy_from_slice(&pat[o + start..o + end]);
    }
}

/// Whether `got` is bytes `from..from + got.len()` of message `(id, trip)`.
fn check(pat: &[u8], id: u32, trip: u32, from: usize, got: &[u8]) -> bool {
    let h = header(id, trip);
    let end = from + got.len();
    if from < HEADER {
        let k = end.min(HEADER);
        if got[..k - from] != h[from..k] {
            return false;
        }
    }
    let start = from.max(HEADER);
    if start < end {
        let o = window(id, trip);
        return got[start - from..] == pat[o + start..o + end];
    }
    true
}

fn source_addr(n: u64) -> SocketAddrV4 {
    let k = n % SRC_POOL;
    SocketAddrV4::new(Ipv4Addr::new(127, 1, (k >> 8) as u8, k as u8), 0)
}

fn error_kind(e: &io::Error, what: &'static str) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ECONNRESET) => "reset",
        Some(libc::ECONNREFUSED) => "refused",
        Some(libc::ETIMEDOUT) => "timeout",
        Some(libc::EMFILE | libc::ENFILE) => "nofile",
        Some(libc::EADDRNOTAVAIL) => "addr-not-available",
        _ => what,
    }
}

impl Client {
    fn new(server: SocketAddrV4, size: usize, slots: usize) -> io::Result<Client> {
        let mut pat = vec![0u8; size + PAT_SLACK + HEADER];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for b in &mut pat {
            x = mix(x);
            *b = x as u8;
        }
        let now = Instant::now();
        Ok(Client {
            ep: Epoll::new()?,
            server,
            size,
            pat,
            rbuf: vec![0u8; (size + HEADER).max(64 * 1024)],
            wbuf: vec![0u8; size],
            conns: vec![Conn::FREE; slots],
            sockets: 0,
            base: now,
            last_progress: now,
            hist: Histogram::new(),
            errors: Errors::default(),
            timed: false,
            churn: false,
            finished: 0,
            inflight: 0,
            free: Vec::new(),
            round_trips: 0,
        })
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn token(&self, s: usize) -> u64 {
        u64::from(self.conns[s].generation) << 32 | s as u64
    }

    /// Opens a socket in free slot `s` for message identity `id`, up to `last_trip`.
    fn open(&mut self, s: usize, id: u32, last_trip: u32) {
        let c = &mut self.conns[s];
        c.generation = c.generation.wrapping_add(1);
        c.id = id;
        c.trip = 0;
        c.last_trip = last_trip;
        c.sent = 0;
        c.recvd = 0;
        c.st = St::Connecting;
        self.inflight += 1;
        self.conns[s].t0 = self.now_ns();
        let src = source_addr(self.sockets);
        self.sockets += 1;
        let fd = match raw::tcp_socket() {
            Ok(fd) => fd,
            Err(e) => return self.fail(s, error_kind(&e, "socket"), format!("socket: {e}")),
        };
        self.conns[s].fd = fd;
        let setup = raw::set_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)
            .and_then(|()| raw::set_int(fd, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1))
            .and_then(|()| raw::bind(fd, src));
        if let Err(e) = setup {
            return self.fail(s, error_kind(&e, "connect"), format!("bind {src}: {e}"));
        }
        let done = match raw::connect(fd, self.server) {
            Ok(done) => done,
            Err(e) => {
                return self.fail(
                    s,
                    error_kind(&e, "connect"),
                    format!("connect from {src}: {e}"),
                );
            }
        };
        let ev = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
        if let Err(e) = self.ep.add(fd, ev, self.token(s)) {
            return self.fail(s, "epoll", format!("epoll_ctl: {e}"));
        }
        if done {
            self.conns[s].st = St::Busy;
            self.send(s);
        }
    }

    /// Closes slot `s` after an error.
    fn fail(&mut self, s: usize, kind: &'static str, msg: String) {
        let c = &mut self.conns[s];
        let msg = format!("connection {} trip {}: {msg}", c.id, c.trip);
        if c.fd >= 0 {
            raw::close(c.fd);
            c.fd = -1;
        }
        // An idle connection was counted as finished already (or is not part of the phase).
        if matches!(c.st, St::Connecting | St::Busy) {
            self.inflight -= 1;
            self.finished += 1;
        }
        c.st = St::Failed;
        if self.churn {
            self.free.push(s);
        }
        self.errors.add(kind, 1, msg);
    }

    /// Starts round trip `trip` on slot `s`.
    fn start_trip(&mut self, s: usize, trip: u32, now: u64) {
        let c = &mut self.conns[s];
        c.trip = trip;
        c.sent = 0;
        c.recvd = 0;
        c.t0 = now;
        c.st = St::Busy;
        self.send(s);
    }

    /// Writes what the socket takes of the message out.
    fn send(&mut self, s: usize) {
        let c = self.conns[s];
        let mut sent = c.sent;
        while sent < self.size {
            let len = self.size - sent;
            fill(&self.pat, c.id, c.trip, sent, &mut self.wbuf[..len]);
            match raw::write(c.fd, &self.wbuf[..len]) {
                Ok(n) => sent += n,
                Err(e) if raw::would_block(&e) => break,
                Err(e) => return self.fail(s, error_kind(&e, "write"), format!("write: {e}")),
            }
        }
        self.conns[s].sent = sent;
    }

    /// The echo of the message out on slot `s` is complete.
    fn complete(&mut self, s: usize) {
        let now = self.now_ns();
        self.last_progress = Instant::now();
        let c = self.conns[s];
        if self.timed {
            self.hist.record(now.saturating_sub(c.t0));
            self.round_trips += 1;
        }
        if self.churn {
            raw::close(c.fd);
            self.conns[s].fd = -1;
            self.conns[s].st = St::Free;
            self.inflight -= 1;
            self.finished += 1;
            self.free.push(s);
        } else if c.trip < c.last_trip {
            self.start_trip(s, c.trip + 1, now);
        } else {
            self.conns[s].st = St::Idle;
            self.inflight -= 1;
            self.finished += 1;
        }
    }

    fn event(&mut self, token: u64, ev: u32) {
        let s = (token & 0xffff_ffff) as usize;
        let Some(&c) = self.conns.get(s) else { return };
        if (token >> 32) as u32 != c.generation {
            return;
        }
        let out = ev & libc::EPOLLOUT as u32 != 0;
        let trouble = ev & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
        let input = trouble || ev & libc::EPOLLIN as u32 != 0;
        match c.st {
            St::Connecting => {
                if !(out || trouble) {
                    return;
                }
                match raw::take_error(c.fd) {
                    Ok(0) if !trouble || out => {
                        self.conns[s].st = St::Busy;
                        self.send(s);
                        if input && self.conns[s].st == St::Busy {
                            self.recv(s, trouble);
                        }
                    }
                    Ok(0) => self.fail(s, "connect", "hang-up while connecting".to_owned()),
                    Ok(errno) => {
                        let e = io::Error::from_raw_os_error(errno);
                        self.fail(s, error_kind(&e, "connect"), format!("connect: {e}"));
                    }
                    Err(e) => self.fail(s, "connect", format!("SO_ERROR: {e}")),
                }
            }
            St::Busy => {
                if out && c.sent < self.size {
                    self.send(s);
                }
                if input && self.conns[s].st == St::Busy && self.conns[s].generation == c.generation
                {
                    self.recv(s, trouble);
                }
            }
            St::Idle => {
                if input {
                    self.recv_unexpected(s);
                }
            }
            St::Free | St::Failed => {}
        }
    }

    /// Reads the echo on slot `s`: until a short read, or with `to_end` until `EAGAIN` or
    /// the end of stream (a hang-up was reported).
    fn recv(&mut self, s: usize, to_end: bool) {
        let generation = self.conns[s].generation;
        loop {
            let c = self.conns[s];
            if c.st != St::Busy || c.generation != generation {
                // The slot went idle or on to a new socket: an input flag left in the event
                // is for the next trip, which its own edge will report.
                if to_end && c.st == St::Idle && c.generation == generation {
                    self.recv_unexpected(s);
                }
                return;
            }
            match raw::read(c.fd, &mut self.rbuf) {
                Ok(0) => {
                    let msg = format!(
                        "end of stream after {} of {} bytes echoed",
                        c.recvd, self.size
                    );
                    return self.fail(s, "eof", msg);
                }
                Ok(n) => {
                    if c.recvd + n > self.size || c.sent < c.recvd + n {
                        let msg = format!("{} bytes echoed of {} sent", c.recvd + n, c.sent);
                        return self.fail(s, "excess", msg);
                    }
                    if !check(&self.pat, c.id, c.trip, c.recvd, &self.rbuf[..n]) {
                        let msg =
                            format!("bytes {}..{} differ from those sent", c.recvd, c.recvd + n);
                        return self.fail(s, "mismatch", msg);
                    }
                    self.conns[s].recvd += n;
                    if c.recvd + n == self.size {
                        self.complete(s);
                        if !to_end {
                            return;
                        }
                    } else if n < self.rbuf.len() && !to_end {
                        return;
                    }
                }
                Err(e) if raw::would_block(&e) => return,
                Err(e) => return self.fail(s, error_kind(&e, "read"), format!("read: {e}")),
            }
        }
    }

    /// Input on a connection with no message out: an error whatever it is.
    fn recv_unexpected(&mut self, s: usize) {
        let c = self.conns[s];
        match raw::read(c.fd, &mut self.rbuf) {
            Ok(0) => self.fail(s, "eof", "the server closed an idle connection".to_owned()),
            Ok(n) => self.fail(
                s,
                "excess",
                format!("{n} bytes arrived with no message out"),
            ),
            Err(e) if raw::would_block(&e) => {}
            Err(e) => self.fail(
                s,
                error_kind(&e, "read"),
                format!("read on an idle connection: {e}"),
            ),
        }
    }

    /// Runs the event loop until `finished` reaches `target`, calling `refill` first in
    /// each round. On a stall (no round trip completed for `stall`), counts the unfinished
    /// slots as errors and returns.
    fn pump(&mut self, target: usize, stall: Duration, mut refill: impl FnMut(&mut Client)) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        self.last_progress = Instant::now();
        loop {
            refill(self);
            if self.finished >= target {
                return;
            }
            let n = match self.ep.wait(&mut events, 250) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    let left = (target - self.finished) as u64;
                    self.errors.add("epoll", left, format!("epoll_wait: {e}"));
                    return;
                }
            };
            for ev in &events[..n] {
                let (token, bits) = (ev.u64, ev.events);
                self.event(token, bits);
            }
            if self.last_progress.elapsed() >= stall {
                let left = (target - self.finished) as u64;
                let mut states: BTreeMap<String, u64> = BTreeMap::new();
                for c in &self.conns {
                    let key = match c.st {
                        St::Busy => format!(
                            "busy ({} of {} sent, {} echoed)",
                            c.sent, self.size, c.recvd
                        ),
                        St::Connecting => "connecting".to_owned(),
                        _ => continue,
                    };
                    *states.entry(key).or_default() += 1;
                }
                let msg = format!(
                    "no round trip completed for {} s; {left} unfinished; {states:?}",
                    stall.as_secs()
                );
                self.errors.add("stall", left, msg);
                return;
            }
        }
    }
}

/// Runs one workload against the server and returns the result line.
pub(crate) fn run(opts: &Options) -> Json {
    let load = &opts.load;
    let nofile = sys::raise_nofile().unwrap_or(0);
    let pid = opts.server_pid;
    let rss_base = procfs::status_kb(pid, "VmRSS").unwrap_or(0);
    let churn = load.workload == Workload::Churn;
    // Slots: every connection held, or the churn cycles in flight.
    let held = if churn { load.active } else { load.held() };
    let mut client = match Client::new(opts.addr, load.size, held) {
        Ok(c) => c,
        Err(e) => return failed(load, &format!("epoll: {e}")),
    };
    if (nofile as usize) < held + 16 {
        return failed(
            load,
            &format!("RLIMIT_NOFILE is {nofile}, {held} connections need more"),
        );
    }

    // Open phase: every held connection, one warm-up round trip each.
    let open_start = Instant::now();
    if !churn {
        let mut next = 0;
        client.pump(held, opts.stall, |c| {
            while c.inflight < OPEN_WINDOW && next < held {
                c.open(next, next as u32, 0);
                next += 1;
            }
        });
    }
    let open_s = open_start.elapsed().as_secs_f64();
    let opened = client.conns.iter().filter(|c| c.st == St::Idle).count();
    if opts.pause {
        println!("ready");
        let _ = io::stdout().flush();
        wait_line();
    }

    // Timed phase.
    let cpu0 = procfs::cpu_seconds(pid).unwrap_or(f64::NAN);
    let sched0 = procfs::sched_seconds(pid).unwrap_or(f64::NAN);
    let client_cpu0 = sys::process_cpu_ns();
    let start = Instant::now();
    client.timed = true;
    client.finished = 0;
    if churn {
        client.churn = true;
        client.free = (0..held).rev().collect();
        let total = load.conns;
        let mut started = 0usize;
        client.pump(total, opts.stall, |c| {
            while started < total {
                let Some(s) = c.free.pop() else { break };
                c.open(s, started as u32, 0);
                started += 1;
            }
        });
    } else {
        let trips = u32::try_from(load.trips).unwrap_or(u32::MAX);
        // The active connections: the last ones opened (all of them but in `idle`).
        let first = held - load.active_conns();
        let active: Vec<usize> = (first..held)
            .filter(|&s| client.conns[s].st == St::Idle)
            .collect();
        // Connections that failed to open are counted as errors already.
        let target = active.len();
        for &s in &active {
            client.conns[s].last_trip = trips;
            client.inflight += 1;
            let now = client.now_ns();
            client.start_trip(s, 1, now);
        }
        client.pump(target, opts.stall, |_| {});
    }
    let wall_s = start.elapsed().as_secs_f64();
    let client_cpu_s = sys::process_cpu_ns().saturating_sub(client_cpu0) as f64 / 1e9;
    let cpu1 = procfs::cpu_seconds(pid).unwrap_or(f64::NAN);
    let sched1 = procfs::sched_seconds(pid).unwrap_or(f64::NAN);
    let hwm = procfs::status_kb(pid, "VmHWM").unwrap_or(0);
    let rss = procfs::status_kb(pid, "VmRSS").unwrap_or(0);
    let threads = procfs::threads(pid);

    let h = &client.hist;
    let kinds = client
        .errors
        .by_kind
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Json::Num(*v as f64)))
        .collect();
    let first = client
        .errors
        .first
        .iter()
        .map(|s| Json::str(s.as_str()))
        .collect();
    let mut pairs = load.to_json_pairs();
    pairs.extend([
        ("held", Json::Num(held as f64)),
        ("opened", Json::Num(opened as f64)),
        ("open_s", Json::num(open_s)),
        ("round_trips", Json::Num(client.round_trips as f64)),
        ("wall_s", Json::num(wall_s)),
        ("errors", Json::Num(client.errors.total() as f64)),
        ("error_kinds", Json::Obj(kinds)),
        ("first_errors", Json::Arr(first)),
        ("p50_ns", Json::Num(h.quantile(0.5) as f64)),
        ("p99_ns", Json::Num(h.quantile(0.99) as f64)),
        ("p999_ns", Json::Num(h.quantile(0.999) as f64)),
        ("max_ns", Json::Num(h.max() as f64)),
        ("mean_ns", Json::num(h.mean())),
        ("server_cpu_s", Json::num(cpu1 - cpu0)),
        ("server_sched_s", Json::num(sched1 - sched0)),
        ("server_rss_base_kb", Json::Num(rss_base as f64)),
        ("server_hwm_kb", Json::Num(hwm as f64)),
        ("server_rss_kb", Json::Num(rss as f64)),
        ("server_threads", Json::Num(threads as f64)),
        ("client_cpu_s", Json::num(client_cpu_s)),
        ("nofile", Json::Num(nofile as f64)),
        ("hist", h.to_json()),
    ]);
    Json::obj(pairs)
}

/// The result line of a run that could not start.
fn failed(load: &Load, why: &str) -> Json {
    let mut pairs = load.to_json_pairs();
    pairs.extend([
        ("round_trips", Json::Num(0.0)),
        ("errors", Json::Num(1.0)),
        ("error_kinds", Json::obj(vec![("setup", Json::Num(1.0))])),
        ("first_errors", Json::Arr(vec![Json::str(why)])),
    ]);
    Json::obj(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_check_in_pieces() {
        let size = 100;
        let mut pat = vec![0u8; size + PAT_SLACK + HEADER];
        for (i, b) in pat.iter_mut().enumerate() {
            *b = mix(i as u64) as u8;
        }
        let mut msg = vec![0u8; size];
        fill(&pat, 7, 3, 0, &mut msg);
        assert_eq!(&msg[..4], &7u32.to_le_bytes());
        for cut in [0, 1, 5, 8, 9, 50, 100] {
            assert!(check(&pat, 7, 3, 0, &msg[..cut]));
            assert!(check(&pat, 7, 3, cut, &msg[cut..]));
            let mut part = vec![0u8; size - cut];
            fill(&pat, 7, 3, cut, &mut part);
            assert_eq!(part, msg[cut..]);
        }
        assert!(!check(&pat, 7, 4, 0, &msg));
        assert!(!check(&pat, 8, 3, 0, &msg));
        let mut bad = msg.clone();
        bad[60] ^= 1;
        assert!(!check(&pat, 7, 3, 0, &bad));
        assert_eq!(source_addr(0).ip().octets(), [127, 1, 0, 0]);
        assert_eq!(source_addr(4095).ip().octets(), [127, 1, 15, 255]);
    }
}
