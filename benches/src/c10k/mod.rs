//! The c10k benchmark: echo servers on kq, on tokio and on raw epoll (the limit), each in
//! its own process, driven by one load generator in a process of its own.
//!
//! - [`bench`](mod@bench): the orchestration (`kq-bench c10k`): the alternating runs, the strace pass,
//!   the medians and ratios.
//! - [`kq_server`], [`tokio_server`], [`limit`]: the three servers (`kq-bench c10k-server`).
//! - [`client`]: the load generator (`kq-bench c10k-client`).
//! - [`report`]: the table, the JSON results and the SVG chart; [`hist`]: the latency
//!   histogram; [`json`]: the JSON they are written in; [`procfs`], [`raw`]: Linux helpers.

pub(crate) mod bench;
pub(crate) mod client;
pub(crate) mod hist;
pub(crate) mod json;
pub(crate) mod kq_server;
pub(crate) mod limit;
pub(crate) mod procfs;
pub(crate) mod raw;
pub(crate) mod report;
pub(crate) mod tokio_server;

use json::Json;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The per-connection buffer of the kq and tokio servers and the limit's one shared buffer:
/// 16 KiB, the size of the bulk row's messages.
pub(crate) const BUF: usize = 16 * 1024;
/// The listen backlog of all three servers (tokio's `TcpListener::bind` default; kq's
/// `bind` would ask for more: the servers call `listen` themselves so all three match).
pub(crate) const BACKLOG: i32 = 1024;

/// The four workloads, one row each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    /// Many connections, small messages, closed loop.
    Steady,
    /// Fewer connections, 16 KiB messages, closed loop.
    Bulk,
    /// Connect, one request, close, with a fixed number in flight.
    Churn,
    /// Many idle connections held open, a few active ones in a closed loop.
    Idle,
}

impl Workload {
    pub(crate) const ALL: [Workload; 4] = [
        Workload::Steady,
        Workload::Bulk,
        Workload::Churn,
        Workload::Idle,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::Steady => "steady",
            Workload::Bulk => "bulk",
            Workload::Churn => "churn",
            Workload::Idle => "idle",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == s)
    }
}

/// What the client does: a workload and its sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Load {
    pub(crate) workload: Workload,
    /// steady, bulk: connections (all active); idle: idle connections; churn: cycles.
    pub(crate) conns: usize,
    /// idle: active connections (besides the idle ones); churn: cycles in flight;
    /// steady, bulk: unused (all are active).
    pub(crate) active: usize,
    /// Message bytes.
    pub(crate) size: usize,
    /// Round trips per active connection (not churn: one per cycle).
    pub(crate) trips: u64,
}

impl Load {
    /// Connections open at once at the peak.
    pub(crate) fn held(&self) -> usize {
        match self.workload {
            Workload::Steady | Workload::Bulk => self.conns,
            Workload::Idle => self.conns + self.active,
            Workload::Churn => self.active,
        }
    }

    /// Connections doing round trips in the timed phase (churn: cycles in flight).
    pub(crate) fn active_conns(&self) -> usize {
        match self.workload {
            Workload::Steady | Workload::Bulk => self.conns,
            Workload::Idle | Workload::Churn => self.active,
        }
    }

    /// Round trips of the timed phase.
    pub(crate) fn round_trips(&self) -> u64 {
        match self.workload {
            Workload::Churn => self.conns as u64,
            _ => self.active_conns() as u64 * self.trips,
        }
    }

    /// A one-line description.
    pub(crate) fn describe(&self) -> String {
        let g = |n: usize| kq_bench::stats::group(n as u64);
        match self.workload {
            Workload::Steady | Workload::Bulk => format!(
                "{} connections, {} B messages, {} round trips each",
                g(self.conns),
                g(self.size),
                self.trips
            ),
            Workload::Churn => format!(
                "{} x (connect, one {} B round trip, close), {} in flight",
                g(self.conns),
                self.size,
                g(self.active)
            ),
            Workload::Idle => format!(
                "{} idle connections, {} active doing {} round trips each ({} B)",
                g(self.conns),
                self.active,
                g(self.trips as usize),
                self.size
            ),
        }
    }

    pub(crate) fn to_args(&self) -> Vec<String> {
        vec![
            "--workload".into(),
            self.workload.name().into(),
            "--conns".into(),
            self.conns.to_string(),
            "--active".into(),
            self.active.to_string(),
            "--size".into(),
            self.size.to_string(),
            "--trips".into(),
            self.trips.to_string(),
        ]
    }

    pub(crate) fn from_args(args: &[String]) -> Result<Load, String> {
        let mut load = Load {
            workload: Workload::Steady,
            conns: 100,
            active: 10,
            size: 64,
            trips: 10,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
            let num = || v.parse::<usize>().map_err(|e| format!("{a} {v}: {e}"));
            match a.as_str() {
                "--workload" => {
                    load.workload =
                        Workload::parse(v).ok_or_else(|| format!("unknown workload {v}"))?
                }
                "--conns" => load.conns = num()?,
                "--active" => load.active = num()?,
                "--size" => load.size = num()?,
                "--trips" => load.trips = num()? as u64,
                _ => return Err(format!("unknown option {a}")),
            }
        }
        if load.size < 8 {
            return Err("--size must be at least 8 (the message header)".into());
        }
        Ok(load)
    }

    pub(crate) fn to_json_pairs(&self) -> Vec<(&'static str, Json)> {
        vec![
            ("workload", Json::str(self.workload.name())),
            ("conns", Json::Num(self.conns as f64)),
            ("active", Json::Num(self.active as f64)),
            ("size", Json::Num(self.size as f64)),
            ("trips", Json::Num(self.trips as f64)),
        ]
    }
}

/// Prints the server's address as the first line of standard output.
pub(crate) fn announce(addr: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{addr}")?;
    out.flush()
}

/// The kq and tokio servers' counters, printed on standard error when they exit.
#[derive(Debug)]
pub(crate) struct ServerCounters {
    accepted: AtomicU64,
    conn_errors: AtomicU64,
    accept_errors: AtomicU64,
    first: Mutex<Option<String>>,
}

impl ServerCounters {
    pub(crate) const fn new() -> ServerCounters {
        ServerCounters {
            accepted: AtomicU64::new(0),
            conn_errors: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
            first: Mutex::new(None),
        }
    }

    pub(crate) fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    fn note(&self, what: &str, e: &io::Error) {
        let mut first = self
            .first
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if first.is_none() {
            *first = Some(format!("{what}: {e}"));
        }
    }

    pub(crate) fn conn_error(&self, e: &io::Error) {
        self.conn_errors.fetch_add(1, Ordering::Relaxed);
        self.note("connection", e);
    }

    pub(crate) fn accept_error(&self, e: &io::Error) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
        self.note("accept", e);
    }

    /// Starts a thread that waits for the end of standard input (the benchmark closing the
    /// pipe), prints the counters on standard error and exits the process.
    pub(crate) fn exit_on_stdin_eof(&'static self, name: &'static str) {
        std::thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = [0u8; 64];
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let first = self
                .first
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            eprintln!(
                "c10k-server {name}: accepted {}, connection errors {}, accept errors {}, first error: {}",
                self.accepted.load(Ordering::Relaxed),
                self.conn_errors.load(Ordering::Relaxed),
                self.accept_errors.load(Ordering::Relaxed),
                first.as_deref().unwrap_or("none")
            );
            std::process::exit(0);
        });
    }
}

/// The servers under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Server {
    Kq,
    Tokio,
    Limit,
}

impl Server {
    /// In the order the runs alternate.
    pub(crate) const ALL: [Server; 3] = [Server::Kq, Server::Tokio, Server::Limit];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Server::Kq => "kq",
            Server::Tokio => "tokio",
            Server::Limit => "limit",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// `kq-bench c10k-server kq|tokio|limit [--workers N] [--addr 127.0.0.1:0]`: serves until
/// standard input closes; the first line of standard output is the bound address.
pub(crate) fn server_main(args: &[String]) -> ExitCode {
    let usage = "usage: kq-bench c10k-server kq|tokio|limit [--workers N] [--addr ADDR]";
    let Some(server) = args.first().and_then(|s| Server::parse(s)) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let mut workers = 2usize;
    let mut addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let parsed = match (a.as_str(), it.next()) {
            ("--workers", Some(v)) => v.parse().map(|v| workers = v).map_err(|e| e.to_string()),
            ("--addr", Some(v)) => v.parse().map(|v| addr = v).map_err(|e| e.to_string()),
            _ => Err(usage.to_owned()),
        };
        if let Err(e) = parsed {
            eprintln!("c10k-server: {a}: {e}");
            return ExitCode::from(2);
        }
    }
    let result = match server {
        Server::Kq => kq_server::run(workers, addr),
        Server::Tokio => tokio_server::run(workers, addr),
        Server::Limit => match addr {
            SocketAddr::V4(a) => limit::run(a),
            SocketAddr::V6(_) => Err(io::Error::other("the limit server is IPv4 only")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("c10k-server {}: {e}", server.name());
            ExitCode::FAILURE
        }
    }
}
