//! The core's benchmark: kq's [`Kqueue::kevent`](kq_reactor::Kqueue::kevent) against
//! `poll(2)` and raw epoll doing the same work on the same descriptors, in one run.
//!
//! Three measurements, each alternating its contenders (kq, poll, epoll, kq, poll, epoll,
//! …) over several rounds after one discarded warm-up round. Each table gives the median
//! over rounds of the cost per unit, and each ratio is the median of the per-round ratios,
//! with their range over rounds in parentheses. Every figure is given by wall time and by
//! the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, the exact form of `getrusage`'s), which
//! is steadier when the VM's other tenants take the CPU away.
//!
//! 1. **Wait-and-dispatch, 1 active of N.** N pipes, all registered (kq: `EVFILT_READ` with
//!    `EV_ADD|EV_CLEAR`, and again level-triggered; epoll: `EPOLLIN|EPOLLRDHUP|EPOLLET`, the
//!    interest kq's core itself asks for; poll: an N-entry `pollfd` array), one of them made
//!    readable per iteration. One iteration = write 1 byte, one wait call that returns the
//!    one event (`kevent(&[], &mut events, None)`, `epoll_wait(-1)`, `poll(-1)` plus the scan
//!    of `revents`), read the byte back. Nothing is subtracted: the write and read are the
//!    same for all. N = 10, 100, 1,000 and 10,000, or the largest multiple of 100 that fits
//!    in `RLIMIT_NOFILE` (raised to its hard limit; a pipe takes two descriptors).
//! 2. **Register+delete.** Per socket of 1,000 socketpairs, one `kevent` call with an
//!    `EV_ADD|EV_CLEAR` change and later (after all 1,000 are added) one with `EV_DELETE`, as
//!    the runtime does; against `epoll_ctl` `ADD` and `DEL`. Cost per add+delete pair.
//! 3. **Per delivered event at 1,000 ready sockets.** 1,000 socketpairs registered
//!    edge-triggered, all made readable; only the wait is timed: `kevent` calls (an eventlist
//!    of 1,024) until all 1,000 events are returned, against `epoll_wait` with room for
//!    1,024. Arming (1 byte written to each) and draining (1 byte read from each) are
//!    outside the timed region. Cost per delivered event, and wait calls per 1,000 events.
//!
//! 4. **The C library.** Benchmarks 2 and 3 written in C (`benches/c/reactor_c.c`), through
//!    kq's C library (`libkq.so`: `kqueue()`/`kevent()`, and `kq_kqueue(KQ_EDGE_NODATA)`, the
//!    C spelling of `edge_data(false)`) against raw epoll from C, alternated in each round.
//!    The program is compiled with the system C compiler at run time against the `libkq.so`
//!    of this build's target directory (`cargo build -p kq-capi` is run first when the
//!    benchmark runs under cargo); without a C compiler or the library the row is skipped
//!    with a message.
//!
//! The end of the output checks the bars the core is held to: kq's cost flat in N (N = max
//! within 1.5× of N = 10), and per-event and register+delete costs within 1.5× of raw epoll.
//! The exit status is 0 whether or not a bar is met; it is non-zero only on an error.
//!
//! Run it with
//!
//! ```text
//! cargo run --release -p kq-bench --bin reactor                # under a minute
//! cargo run --release -p kq-bench --bin reactor -- --quick     # CI smoke, < 15 s
//! cargo run --release -p kq-bench --bin reactor -- --only 2    # one benchmark and its bar
//! cargo run --release -p kq-bench --bin reactor -- --only 4    # the C library's row
//! ```
//!
//! Linux only (the baseline is raw epoll). A wait that never returns (a lost event) aborts
//! the run after 60 s without progress instead of hanging it.

use std::process::ExitCode;

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    bench::main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    eprintln!("reactor: this benchmark compares kq with raw epoll and runs on Linux only");
    ExitCode::FAILURE
}

#[cfg(target_os = "linux")]
mod bench {
    use kq_bench::stats::{
        Clock, Measure, Ratio, Series, Stopwatch, Table, fmt_ns, fmt_ratio, group, median,
    };
    use kq_bench::sys::{self, Epoll};
    use kq_reactor::{EV_ADD, EV_CLEAR, EV_DELETE, EVFILT_READ, Kevent, Kqueue};
    use std::fmt::Display;
    use std::io;
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};
    use std::process::ExitCode;
    use std::ptr;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// The issue's bar: at most this factor.
    const BAR: f64 = 1.5;
    /// The N of benchmark 1, before fitting them into the descriptor limit.
    const WANT_N: [usize; 4] = [10, 100, 1000, 10_000];
    /// Descriptors kept free beside benchmark 1's pipes (stdio, kqueue, epoll, slack).
    const FD_RESERVE: usize = 64;
    /// Sockets of benchmark 2.
    const REGISTER: usize = 1000;
    /// Ready sockets of benchmark 3.
    const READY: usize = 1000;
    /// Eventlist room in benchmark 3 (kq and epoll alike).
    const READY_ROOM: usize = 1024;
    /// Eventlist room in benchmark 1 (kq and epoll alike).
    const ONE_ROOM: usize = 64;
    /// The interest kq's core registers for a READ knote; raw epoll gets the same.
    const EPOLL_ET: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
    /// A wait that makes no progress for this long means a lost event: abort.
    const STALL: Duration = Duration::from_secs(60);
    const EMPTY: Kevent = Kevent::new(0, 0, 0, 0, 0, ptr::null_mut());
    const NO_EPOLL_EVENT: libc::epoll_event = libc::epoll_event { events: 0, u64: 0 };

    /// Bumped as work completes; the watchdog aborts the run when it stops moving.
    static HEARTBEAT: AtomicU64 = AtomicU64::new(0);

    struct Config {
        rounds: usize,
        /// Wall time of one sample (one contender in one round) of benchmark 1; twice this in
        /// benchmarks 2 and 3, whose samples are fewer; a quarter (half) in the warm-up round.
        target: Duration,
        quick: bool,
        /// Run only this benchmark (1, 2 or 3).
        only: Option<u8>,
    }

    pub(crate) fn main() -> ExitCode {
        let mut quick = false;
        let mut only = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--only" => match args.next().as_deref() {
                    Some("1") => only = Some(1),
                    Some("2") => only = Some(2),
                    Some("3") => only = Some(3),
                    Some("4") => only = Some(4),
                    other => {
                        eprintln!(
                            "reactor: --only takes 1, 2, 3 or 4, not {:?}",
                            other.unwrap_or("")
                        );
                        return ExitCode::from(2);
                    }
                },
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return ExitCode::SUCCESS;
                }
                other => {
                    eprintln!("reactor: unknown argument {other:?} (try --help)");
                    return ExitCode::from(2);
                }
            }
        }
        let cfg = if quick {
            Config {
                rounds: 5,
                target: Duration::from_millis(30),
                quick,
                only,
            }
        } else {
            Config {
                rounds: 7,
                target: Duration::from_millis(250),
                quick,
                only,
            }
        };
        kq_bench::start_watchdog(
            &HEARTBEAT,
            STALL,
            "reactor: a wait call never returned (lost event?)",
        );
        match run(&cfg) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("reactor: error: {e}");
                ExitCode::FAILURE
            }
        }
    }

    const USAGE: &str = "usage: reactor [--quick] [--only 1|2|3]

  --quick     fewer, shorter rounds (CI smoke, < 15 s)
  --only N    run only benchmark N (1 wait-and-dispatch, 2 register+delete,
              3 per-event cost, 4 the C library against epoll from C) and its bar";

    fn run(cfg: &Config) -> io::Result<()> {
        let started = Instant::now();
        let limit = sys::raise_nofile().map_err(|e| ctx(e, "reading RLIMIT_NOFILE"))?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        println!("kq core benchmark (benches/src/bin/reactor.rs)");
        println!(
            "date {}, kernel {}, nproc {}, RLIMIT_NOFILE {}",
            sys::utc_now(),
            sys::kernel_release(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            group(limit as u64)
        );
        println!(
            "{} mode: {} rounds after 1 warm-up round, ~{} ms per sample ({} ms in 2 and 3), contenders alternated in each round",
            if cfg.quick { "quick" } else { "default" },
            cfg.rounds,
            cfg.target.as_millis(),
            cfg.target.as_millis() * 2
        );
        println!(
            "figures: median over rounds; ratios: median of per-round ratios (min-max over rounds)"
        );
        let wanted = |n| cfg.only.is_none_or(|o| o == n);
        let one = if wanted(1) {
            Some(wait_one(cfg, limit)?)
        } else {
            None
        };
        let reg = if wanted(2) {
            Some(register_delete(cfg)?)
        } else {
            None
        };
        let ready = if wanted(3) {
            Some(ready_many(cfg)?)
        } else {
            None
        };
        let c = if wanted(4) { c_library(cfg)? } else { None };
        verdict(one.as_ref(), reg.as_ref(), ready.as_ref(), c.as_ref());
        println!("\ntotal run time {:.1} s", started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Adds what was being done to an error, keeping its kind.
    fn ctx(e: io::Error, what: impl Display) -> io::Error {
        io::Error::new(e.kind(), format!("{what}: {e}"))
    }

    fn unexpected(what: impl Display) -> io::Error {
        io::Error::other(what.to_string())
    }

    fn read_change(fd: RawFd, flags: u16) -> Kevent {
        Kevent::new(fd as usize, EVFILT_READ, flags, 0, 0, ptr::null_mut())
    }

    /// Runs `iteration` in batches until `target` wall time has passed; each call returns
    /// the units of work it did.
    fn timed_loop(
        target: Duration,
        batch: u32,
        mut iteration: impl FnMut() -> io::Result<u64>,
    ) -> io::Result<Measure> {
        let target_ns = u64::try_from(target.as_nanos()).unwrap_or(u64::MAX);
        let sw = Stopwatch::start();
        let mut units = 0;
        loop {
            for _ in 0..batch {
                units += iteration()?;
            }
            HEARTBEAT.fetch_add(1, Ordering::Relaxed);
            if sw.wall_ns() >= target_ns {
                break;
            }
        }
        let mut m = Measure::default();
        m.add(units, sw.elapsed());
        Ok(m)
    }

    fn pairs(
        n: usize,
        what: &str,
        make: fn() -> io::Result<(OwnedFd, OwnedFd)>,
    ) -> io::Result<Vec<(OwnedFd, OwnedFd)>> {
        (0..n)
            .map(|i| make().map_err(|e| ctx(e, format_args!("creating {what} {} of {n}", i + 1))))
            .collect()
    }

    // ---- 1. Wait-and-dispatch with 1 active descriptor of N ----

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Waiter {
        KqClear,
        Poll,
        Epoll,
        KqLevel,
    }

    /// In the order they run within a round.
    const WAITERS: [Waiter; 4] = [
        Waiter::KqClear,
        Waiter::Poll,
        Waiter::Epoll,
        Waiter::KqLevel,
    ];

    impl Waiter {
        fn name(self) -> &'static str {
            match self {
                Waiter::KqClear => "kq EV_CLEAR",
                Waiter::Poll => "poll",
                Waiter::Epoll => "epoll ET",
                Waiter::KqLevel => "kq level",
            }
        }
    }

    struct OneResult {
        ns: Vec<usize>,
        /// `series[i][j]`: N = `ns[i]`, waiter `WAITERS[j]`; ns per iteration.
        series: Vec<[Series; 4]>,
    }

    impl OneResult {
        fn of(&self, i: usize, w: Waiter) -> &Series {
            let j = WAITERS.iter().position(|x| *x == w).unwrap_or(0);
            &self.series[i][j]
        }

        /// The per-round ratio of `w`'s cost at the largest N to its cost at the smallest.
        fn flatness(&self, w: Waiter, clock: Clock) -> Ratio {
            Ratio::of(
                self.of(self.ns.len() - 1, w).of(clock),
                self.of(0, w).of(clock),
            )
        }
    }

    fn wait_one(cfg: &Config, limit: usize) -> io::Result<OneResult> {
        let open = sys::open_fds().map_err(|e| ctx(e, "counting open descriptors"))?;
        let room = limit.saturating_sub(open + FD_RESERVE) / 2;
        let ns: Vec<usize> = WANT_N
            .iter()
            .map(|&n| if n <= room { n } else { room / 100 * 100 })
            .filter(|&n| n > 0)
            .collect();
        let max_n = ns.last().copied().unwrap_or(0);
        println!(
            "\n1. Wait-and-dispatch: N registered pipes, 1 active; ns per iteration (write 1 byte + 1 wait + read 1 byte)"
        );
        if max_n < WANT_N[WANT_N.len() - 1] {
            println!(
                "   N = {} does not fit: {} pipes need {} descriptors and RLIMIT_NOFILE is {} ({} open, {} kept free); largest N = {}",
                group(WANT_N[WANT_N.len() - 1] as u64),
                group(WANT_N[WANT_N.len() - 1] as u64),
                group(2 * WANT_N[WANT_N.len() - 1] as u64),
                group(limit as u64),
                open,
                FD_RESERVE,
                group(max_n as u64)
            );
        }
        println!("   the active pipe is number N/2; eventlist room {ONE_ROOM} for kq and epoll");
        let pipes = pairs(max_n, "pipe", sys::pipe)?;
        let mut series = vec![<[Series; 4]>::default(); ns.len()];
        for round in 0..=cfg.rounds {
            eprintln!(
                "reactor: [1/3] wait-and-dispatch, round {round}/{}{}",
                cfg.rounds,
                if round == 0 { " (warm-up)" } else { "" }
            );
            let target = if round == 0 {
                cfg.target / 4
            } else {
                cfg.target
            };
            for (i, &n) in ns.iter().enumerate() {
                for (j, &w) in WAITERS.iter().enumerate() {
                    let m = one_sample(w, &pipes[..n], target)
                        .map_err(|e| ctx(e, format_args!("{} with N = {n}", w.name())))?;
                    if round > 0 {
                        series[i][j].push(&m);
                    }
                }
            }
        }
        let res = OneResult { ns, series };
        for clock in Clock::BOTH {
            println!("\n   {} (ns per iteration)", clock.name());
            let mut t = Table::new(&[
                "N",
                "kq EV_CLEAR",
                "kq level",
                "poll",
                "epoll ET",
                "kq/epoll",
                "kq/poll",
                "kq level/epoll",
            ]);
            for (i, &n) in res.ns.iter().enumerate() {
                let v = |w| res.of(i, w).of(clock);
                t.row(vec![
                    group(n as u64),
                    fmt_ns(median(v(Waiter::KqClear))),
                    fmt_ns(median(v(Waiter::KqLevel))),
                    fmt_ns(median(v(Waiter::Poll))),
                    fmt_ns(median(v(Waiter::Epoll))),
                    Ratio::of(v(Waiter::KqClear), v(Waiter::Epoll)).show(),
                    Ratio::of(v(Waiter::KqClear), v(Waiter::Poll)).show(),
                    Ratio::of(v(Waiter::KqLevel), v(Waiter::Epoll)).show(),
                ]);
            }
            let mut flat = vec![format!("N={}/N={}", res.ns[res.ns.len() - 1], res.ns[0])];
            for w in [
                Waiter::KqClear,
                Waiter::KqLevel,
                Waiter::Poll,
                Waiter::Epoll,
            ] {
                flat.push(res.flatness(w, clock).show());
            }
            t.row(flat);
            t.print();
        }
        Ok(res)
    }

    /// One sample of one waiter: registers all of `pipes`, times the loop, unregisters (by
    /// dropping the kqueue or epoll set) so no other contender's registrations slow the
    /// writes down.
    fn one_sample(
        w: Waiter,
        pipes: &[(OwnedFd, OwnedFd)],
        target: Duration,
    ) -> io::Result<Measure> {
        const BATCH: u32 = 16;
        let active = pipes.len() / 2;
        let (rfd, wfd) = (pipes[active].0.as_raw_fd(), pipes[active].1.as_raw_fd());
        match w {
            Waiter::KqClear | Waiter::KqLevel => {
                let kq = Kqueue::new().map_err(|e| ctx(e, "creating a kqueue"))?;
                let flags = if w == Waiter::KqClear {
                    EV_ADD | EV_CLEAR
                } else {
                    EV_ADD
                };
                let changes: Vec<Kevent> = pipes
                    .iter()
                    .map(|(r, _)| read_change(r.as_raw_fd(), flags))
                    .collect();
                kq.kevent(&changes, &mut [], None)
                    .map_err(|e| ctx(e, "registering the pipes"))?;
                let mut events = [EMPTY; ONE_ROOM];
                timed_loop(target, BATCH, || {
                    sys::write_byte(wfd)?;
                    let n = kq.kevent(&[], &mut events, None)?;
                    if n != 1 || events[0].ident != rfd as usize {
                        return Err(unexpected(format_args!(
                            "kevent returned {n} events, first {:?}; expected 1 on fd {rfd}",
                            events[0]
                        )));
                    }
                    sys::read_byte(events[0].ident as RawFd)?;
                    Ok(1)
                })
            }
            Waiter::Poll => {
                let mut fds: Vec<libc::pollfd> = pipes
                    .iter()
                    .map(|(r, _)| libc::pollfd {
                        fd: r.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    })
                    .collect();
                timed_loop(target, BATCH, || {
                    sys::write_byte(wfd)?;
                    let n = sys::poll(&mut fds, -1)?;
                    let (mut seen, mut ready) = (0, -1);
                    for p in &fds {
                        if p.revents != 0 {
                            ready = p.fd;
                            seen += 1;
                            if seen == n {
                                break;
                            }
                        }
                    }
                    if n != 1 || ready != rfd {
                        return Err(unexpected(format_args!(
                            "poll returned {n} ready, fd {ready}; expected 1 on fd {rfd}"
                        )));
                    }
                    sys::read_byte(ready)?;
                    Ok(1)
                })
            }
            Waiter::Epoll => {
                let ep = Epoll::new().map_err(|e| ctx(e, "creating an epoll set"))?;
                for (i, (r, _)) in pipes.iter().enumerate() {
                    ep.add(r.as_raw_fd(), EPOLL_ET, i as u64)
                        .map_err(|e| ctx(e, "registering the pipes"))?;
                }
                let mut buf = [NO_EPOLL_EVENT; ONE_ROOM];
                timed_loop(target, BATCH, || {
                    sys::write_byte(wfd)?;
                    let n = ep.wait(&mut buf, -1)?;
                    let token = buf[0].u64 as usize;
                    if n != 1 || token != active {
                        return Err(unexpected(format_args!(
                            "epoll_wait returned {n} events, first token {token}; expected 1, {active}"
                        )));
                    }
                    sys::read_byte(pipes[token].0.as_raw_fd())?;
                    Ok(1)
                })
            }
        }
    }

    // ---- 2. Register+delete ----

    struct PairResult {
        kq: Series,
        epoll: Series,
    }

    fn register_delete(cfg: &Config) -> io::Result<PairResult> {
        println!(
            "\n2. Register+delete: {} socketpairs; ns per add+delete pair",
            group(REGISTER as u64)
        );
        println!(
            "   kq: one kevent call with an EV_ADD|EV_CLEAR change per socket, then (after all are added) one with EV_DELETE"
        );
        println!(
            "   epoll: epoll_ctl ADD (EPOLLIN|EPOLLRDHUP|EPOLLET) per socket, then epoll_ctl DEL"
        );
        let socks = pairs(REGISTER, "socketpair", sys::socketpair)?;
        let fds: Vec<RawFd> = socks.iter().map(|(a, _)| a.as_raw_fd()).collect();
        let mut res = PairResult {
            kq: Series::default(),
            epoll: Series::default(),
        };
        for round in 0..=cfg.rounds {
            eprintln!(
                "reactor: [2/3] register+delete, round {round}/{}",
                cfg.rounds
            );
            let target = if round == 0 {
                cfg.target / 2
            } else {
                cfg.target * 2
            };
            let kq = Kqueue::new().map_err(|e| ctx(e, "creating a kqueue"))?;
            let m = timed_loop(target, 1, || {
                for &fd in &fds {
                    kq.kevent(&[read_change(fd, EV_ADD | EV_CLEAR)], &mut [], None)
                        .map_err(|e| ctx(e, "kevent EV_ADD"))?;
                }
                for &fd in &fds {
                    kq.kevent(&[read_change(fd, EV_DELETE)], &mut [], None)
                        .map_err(|e| ctx(e, "kevent EV_DELETE"))?;
                }
                Ok(fds.len() as u64)
            })?;
            drop(kq);
            let ep = Epoll::new().map_err(|e| ctx(e, "creating an epoll set"))?;
            let e = timed_loop(target, 1, || {
                for (i, &fd) in fds.iter().enumerate() {
                    ep.add(fd, EPOLL_ET, i as u64)
                        .map_err(|e| ctx(e, "epoll_ctl ADD"))?;
                }
                for &fd in &fds {
                    ep.delete(fd).map_err(|e| ctx(e, "epoll_ctl DEL"))?;
                }
                Ok(fds.len() as u64)
            })?;
            if round > 0 {
                res.kq.push(&m);
                res.epoll.push(&e);
            }
        }
        println!();
        pair_table("kq", &res.kq, &res.epoll).print();
        Ok(res)
    }

    /// The register+delete table: `name` (two `kevent` calls per pair) against epoll's
    /// ADD and DEL, and their ratio.
    fn pair_table(name: &str, kq: &Series, epoll: &Series) -> Table {
        let mut t = Table::new(&["", "wall ns/pair", "CPU ns/pair"]);
        t.row(vec![
            format!("{name} (2 kevent calls)"),
            fmt_ns(median(&kq.wall)),
            fmt_ns(median(&kq.cpu)),
        ]);
        t.row(vec![
            "epoll (ctl ADD + DEL)".into(),
            fmt_ns(median(&epoll.wall)),
            fmt_ns(median(&epoll.cpu)),
        ]);
        t.row(vec![
            format!("{name}/epoll"),
            Ratio::of(&kq.wall, &epoll.wall).show(),
            Ratio::of(&kq.cpu, &epoll.cpu).show(),
        ]);
        t
    }

    // ---- 3. Per delivered event at 1,000 ready sockets ----

    struct ManyResult {
        kq: Series,
        /// kq built with `edge_data(false)`: no `data` computed for edge-triggered events.
        kq_lean: Series,
        epoll: Series,
        /// Wait calls per 1,000 events, per round.
        kq_calls: Vec<f64>,
        epoll_calls: Vec<f64>,
    }

    fn ready_many(cfg: &Config) -> io::Result<ManyResult> {
        println!(
            "\n3. Per delivered event: {} socketpairs, all readable, registered edge-triggered; ns per delivered event (only the wait calls are timed)",
            group(READY as u64)
        );
        println!(
            "   kq: kevent(&[], events[{READY_ROOM}], None) until {READY} events; epoll: epoll_wait(events[{READY_ROOM}], -1)"
        );
        let socks = pairs(READY, "socketpair", sys::socketpair)?;
        let readers: Vec<RawFd> = socks.iter().map(|(r, _)| r.as_raw_fd()).collect();
        let writers: Vec<RawFd> = socks.iter().map(|(_, w)| w.as_raw_fd()).collect();
        let mut res = ManyResult {
            kq: Series::default(),
            kq_lean: Series::default(),
            epoll: Series::default(),
            kq_calls: Vec::new(),
            epoll_calls: Vec::new(),
        };
        for round in 0..=cfg.rounds {
            eprintln!(
                "reactor: [3/3] per-event cost, round {round}/{}",
                cfg.rounds
            );
            let target = if round == 0 {
                cfg.target / 2
            } else {
                cfg.target * 2
            };

            let mut kq_runs = Vec::new();
            for edge_data in [true, false] {
                let kq = Kqueue::builder()
                    .edge_data(edge_data)
                    .build()
                    .map_err(|e| ctx(e, "creating a kqueue"))?;
                let changes: Vec<Kevent> = readers
                    .iter()
                    .map(|&r| read_change(r, EV_ADD | EV_CLEAR))
                    .collect();
                kq.kevent(&changes, &mut [], None)
                    .map_err(|e| ctx(e, "registering the sockets"))?;
                let mut events = vec![EMPTY; READY_ROOM];
                kq_runs.push(
                    timed_waits(target, &readers, &writers, || {
                        let (mut got, mut calls) = (0, 0);
                        while got < READY {
                            let n = kq.kevent(&[], &mut events, None)?;
                            (got, calls) = (got + n, calls + 1);
                        }
                        Ok((got, calls))
                    })
                    .map_err(|e| ctx(e, "kq"))?,
                );
            }
            let (lean, _) = kq_runs
                .pop()
                .ok_or_else(|| unexpected(format_args!("no lean run")))?;
            let (m, kq_calls) = kq_runs
                .pop()
                .ok_or_else(|| unexpected(format_args!("no kq run")))?;

            let ep = Epoll::new().map_err(|e| ctx(e, "creating an epoll set"))?;
            for (i, &r) in readers.iter().enumerate() {
                ep.add(r, EPOLL_ET, i as u64)
                    .map_err(|e| ctx(e, "registering the sockets"))?;
            }
            let mut buf = vec![NO_EPOLL_EVENT; READY_ROOM];
            let (e, epoll_calls) = timed_waits(target, &readers, &writers, || {
                let (mut got, mut calls) = (0, 0);
                while got < READY {
                    let n = ep.wait(&mut buf, -1)?;
                    (got, calls) = (got + n, calls + 1);
                }
                Ok((got, calls))
            })
            .map_err(|e| ctx(e, "epoll"))?;
            if round > 0 {
                res.kq.push(&m);
                res.kq_lean.push(&lean);
                res.epoll.push(&e);
                res.kq_calls.push(kq_calls);
                res.epoll_calls.push(epoll_calls);
            }
        }
        let mut t = Table::new(&[
            "",
            "wall ns/event",
            "CPU ns/event",
            "wait calls per 1,000 events",
        ]);
        t.row(vec![
            "kq".into(),
            fmt_ns(median(&res.kq.wall)),
            fmt_ns(median(&res.kq.cpu)),
            format!("{:.1}", median(&res.kq_calls)),
        ]);
        t.row(vec![
            "kq edge_data(false)".into(),
            fmt_ns(median(&res.kq_lean.wall)),
            fmt_ns(median(&res.kq_lean.cpu)),
            String::new(),
        ]);
        t.row(vec![
            "epoll ET".into(),
            fmt_ns(median(&res.epoll.wall)),
            fmt_ns(median(&res.epoll.cpu)),
            format!("{:.1}", median(&res.epoll_calls)),
        ]);
        t.row(vec![
            "kq/epoll".into(),
            Ratio::of(&res.kq.wall, &res.epoll.wall).show(),
            Ratio::of(&res.kq.cpu, &res.epoll.cpu).show(),
            String::new(),
        ]);
        t.row(vec![
            "kq edge_data(false)/epoll".into(),
            Ratio::of(&res.kq_lean.wall, &res.epoll.wall).show(),
            Ratio::of(&res.kq_lean.cpu, &res.epoll.cpu).show(),
            String::new(),
        ]);
        println!();
        t.print();
        Ok(res)
    }

    /// Arms all sockets (1 byte each), times `wait` (which must collect exactly `READY`
    /// events and returns how many and in how many calls), drains them; repeats until
    /// `target` wall time has passed. Returns the timed cost and the calls per iteration.
    fn timed_waits(
        target: Duration,
        readers: &[RawFd],
        writers: &[RawFd],
        mut wait: impl FnMut() -> io::Result<(usize, u64)>,
    ) -> io::Result<(Measure, f64)> {
        let target_ns = u64::try_from(target.as_nanos()).unwrap_or(u64::MAX);
        let total = Stopwatch::start();
        let mut m = Measure::default();
        let (mut calls, mut iterations) = (0, 0);
        loop {
            for &w in writers {
                sys::write_byte(w).map_err(|e| ctx(e, "arming a socket"))?;
            }
            let sw = Stopwatch::start();
            let (got, c) = wait()?;
            let took = sw.elapsed();
            if got != READY {
                return Err(unexpected(format_args!(
                    "{got} events delivered for {READY} ready sockets"
                )));
            }
            m.add(got as u64, took);
            (calls, iterations) = (calls + c, iterations + 1);
            for &r in readers {
                sys::read_byte(r).map_err(|e| ctx(e, "draining a socket"))?;
            }
            HEARTBEAT.fetch_add(1, Ordering::Relaxed);
            if total.wall_ns() >= target_ns {
                break;
            }
        }
        Ok((m, calls as f64 / iterations as f64))
    }

    // ---- 4. The C library against epoll, both from C ----

    struct CResult {
        reg_kq: Series,
        reg_epoll: Series,
        ready_kq: Series,
        ready_epoll: Series,
        ready_lean: Series,
        ready_lean_epoll: Series,
        /// Raw epoll plus one `FIONREAD` per event, and the epoll series of its rounds.
        ready_floor: Series,
        ready_floor_epoll: Series,
        /// Wait calls per 1,000 events (last round): libkq, epoll.
        calls: (String, String),
    }

    /// Builds `libkq.so` (under cargo) and `benches/c/reactor_c.c`, runs it and tabulates
    /// its rounds. `None` (with a message) when the library or a C compiler is missing.
    fn c_library(cfg: &Config) -> io::Result<Option<CResult>> {
        println!(
            "\n4. The C library: benchmarks 2 and 3 from C (benches/c/reactor_c.c), libkq.so against raw epoll"
        );
        println!(
            "   libkq: kevent(kq, &change, 1, NULL, 0, NULL) per EV_ADD|EV_CLEAR and per EV_DELETE; kevent(kq, NULL, 0, events, {READY_ROOM}, NULL) until {READY} events"
        );
        println!(
            "   epoll: epoll_ctl ADD/DEL; epoll_wait(events, {READY_ROOM}, -1); same descriptors, alternated in each round"
        );
        let exe = std::env::current_exe()?;
        let Some(profile_dir) = exe.parent() else {
            return Err(unexpected("the benchmark's directory"));
        };
        if let Ok(cargo) = std::env::var("CARGO") {
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev",
                Some(p) => p,
            };
            let mut cmd = std::process::Command::new(cargo);
            cmd.args(["build", "-q", "-p", "kq-capi", "--profile", profile]);
            if let Some(target) = profile_dir.parent() {
                cmd.env("CARGO_TARGET_DIR", target);
            }
            let st = cmd
                .status()
                .map_err(|e| ctx(e, "running cargo build -p kq-capi"))?;
            if !st.success() {
                return Err(unexpected(format_args!("cargo build -p kq-capi: {st}")));
            }
        }
        if !profile_dir.join("libkq.so").is_file() {
            println!(
                "   skipped: no libkq.so in {} (run `cargo build --release -p kq-capi`)",
                profile_dir.display()
            );
            return Ok(None);
        }
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let work = std::env::temp_dir().join(format!("kq-reactor-c-{}", std::process::id()));
        std::fs::create_dir_all(&work)?;
        let prog = work.join("reactor_c");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
        let built = std::process::Command::new(&cc)
            .args(["-O2", "-Wall", "-Wextra", "-I"])
            .arg(manifest.join("../reactor/capi/include"))
            .arg(manifest.join("c/reactor_c.c"))
            .arg("-o")
            .arg(&prog)
            .arg("-L")
            .arg(profile_dir)
            .arg(format!("-Wl,-rpath,{}", profile_dir.display()))
            .arg("-lkq")
            .output();
        let built = match built {
            Ok(o) if o.status.success() => o,
            Ok(o) => {
                let _ = std::fs::remove_dir_all(&work);
                return Err(unexpected(format_args!(
                    "compiling reactor_c.c: {}",
                    String::from_utf8_lossy(&o.stderr)
                )));
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&work);
                println!("   skipped: no C compiler ({cc}: {e})");
                return Ok(None);
            }
        };
        drop(built);
        let sample_ms = (cfg.target * 2).as_millis().max(1);
        let mut child = std::process::Command::new(&prog)
            .args([cfg.rounds.to_string(), sample_ms.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| ctx(e, "running reactor_c"))?;
        let mut res = CResult {
            reg_kq: Series::default(),
            reg_epoll: Series::default(),
            ready_kq: Series::default(),
            ready_epoll: Series::default(),
            ready_lean: Series::default(),
            ready_lean_epoll: Series::default(),
            ready_floor: Series::default(),
            ready_floor_epoll: Series::default(),
            calls: (String::new(), String::new()),
        };
        let stdout = child.stdout.take().ok_or_else(|| unexpected("no stdout"))?;
        for line in io::BufRead::lines(io::BufReader::new(stdout)) {
            let line = line?;
            HEARTBEAT.fetch_add(1, Ordering::Relaxed);
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.first() == Some(&"calls") && f.len() == 3 {
                res.calls = (f[1].to_owned(), f[2].to_owned());
                continue;
            }
            let nums: Vec<f64> = f.iter().skip(2).filter_map(|x| x.parse().ok()).collect();
            let round: usize = f.get(1).and_then(|r| r.parse().ok()).unwrap_or(0);
            if nums.len() != 4 {
                return Err(unexpected(format_args!("reactor_c printed {line:?}")));
            }
            eprintln!(
                "reactor: [4] C library, {} round {round}/{}",
                f[0], cfg.rounds
            );
            if round == 0 {
                continue; // warm-up
            }
            let (kq, ep) = match f[0] {
                "reg" => (&mut res.reg_kq, &mut res.reg_epoll),
                "ready" => (&mut res.ready_kq, &mut res.ready_epoll),
                "lean" => (&mut res.ready_lean, &mut res.ready_lean_epoll),
                "floor" => (&mut res.ready_floor, &mut res.ready_floor_epoll),
                other => return Err(unexpected(format_args!("reactor_c printed {other:?}"))),
            };
            kq.wall.push(nums[0]);
            kq.cpu.push(nums[1]);
            ep.wall.push(nums[2]);
            ep.cpu.push(nums[3]);
        }
        let status = child.wait()?;
        let _ = std::fs::remove_dir_all(&work);
        if !status.success() || res.reg_kq.wall.is_empty() {
            return Err(unexpected(format_args!("reactor_c: {status}")));
        }
        println!("\n   register+delete from C");
        pair_table("libkq", &res.reg_kq, &res.reg_epoll).print();
        let mut t = Table::new(&[
            "",
            "wall ns/event",
            "CPU ns/event",
            "wait calls per 1,000 events",
        ]);
        t.row(vec![
            "libkq".into(),
            fmt_ns(median(&res.ready_kq.wall)),
            fmt_ns(median(&res.ready_kq.cpu)),
            res.calls.0.clone(),
        ]);
        t.row(vec![
            "libkq KQ_EDGE_NODATA".into(),
            fmt_ns(median(&res.ready_lean.wall)),
            fmt_ns(median(&res.ready_lean.cpu)),
            String::new(),
        ]);
        t.row(vec![
            "epoll ET + FIONREAD/event".into(),
            fmt_ns(median(&res.ready_floor.wall)),
            fmt_ns(median(&res.ready_floor.cpu)),
            String::new(),
        ]);
        t.row(vec![
            "epoll ET".into(),
            fmt_ns(median(&res.ready_epoll.wall)),
            fmt_ns(median(&res.ready_epoll.cpu)),
            res.calls.1.clone(),
        ]);
        t.row(vec![
            "libkq/epoll".into(),
            Ratio::of(&res.ready_kq.wall, &res.ready_epoll.wall).show(),
            Ratio::of(&res.ready_kq.cpu, &res.ready_epoll.cpu).show(),
            String::new(),
        ]);
        t.row(vec![
            "libkq KQ_EDGE_NODATA/epoll".into(),
            Ratio::of(&res.ready_lean.wall, &res.ready_lean_epoll.wall).show(),
            Ratio::of(&res.ready_lean.cpu, &res.ready_lean_epoll.cpu).show(),
            String::new(),
        ]);
        t.row(vec![
            "(epoll + FIONREAD)/epoll".into(),
            Ratio::of(&res.ready_floor.wall, &res.ready_floor_epoll.wall).show(),
            Ratio::of(&res.ready_floor.cpu, &res.ready_floor_epoll.cpu).show(),
            String::new(),
        ]);
        t.row(vec![
            "libkq/(epoll + FIONREAD)".into(),
            Ratio::of(&res.ready_kq.wall, &res.ready_floor.wall).show(),
            Ratio::of(&res.ready_kq.cpu, &res.ready_floor.cpu).show(),
            String::new(),
        ]);
        println!("\n   per delivered event from C");
        t.print();
        println!(
            "   (epoll + FIONREAD: raw epoll plus the one ioctl per event Linux needs to report the\n    byte count kqueue's data holds; no library reporting exact data can cost less)"
        );
        Ok(Some(res))
    }

    // ---- The bars ----

    fn verdict(
        one: Option<&OneResult>,
        reg: Option<&PairResult>,
        ready: Option<&ManyResult>,
        c: Option<&CResult>,
    ) {
        println!("\nThe bars (wall-time ratios decide; CPU-time ratios beside them):");
        let line = |what: &str, wall: Ratio, cpu: Ratio| {
            let met = if wall.median <= BAR { "MET" } else { "NOT MET" };
            println!(
                "  {what:<56} {:>5} (CPU {:>5})  bar <= {BAR}: {met}",
                fmt_ratio(wall.median),
                fmt_ratio(cpu.median)
            );
        };
        // A bar that is a ratio of two series (wall and CPU).
        let versus = |what: &str, kq: &Series, epoll: &Series| {
            line(
                what,
                Ratio::of(&kq.wall, &epoll.wall),
                Ratio::of(&kq.cpu, &epoll.cpu),
            );
        };
        if let Some(one) = one {
            let (lo, hi) = (one.ns[0], one.ns[one.ns.len() - 1]);
            line(
                &format!("1. kq EV_CLEAR flat in N: N={hi} / N={lo}"),
                one.flatness(Waiter::KqClear, Clock::Wall),
                one.flatness(Waiter::KqClear, Clock::Cpu),
            );
            line(
                &format!("   (kq level-triggered: N={hi} / N={lo})"),
                one.flatness(Waiter::KqLevel, Clock::Wall),
                one.flatness(Waiter::KqLevel, Clock::Cpu),
            );
        }
        if let Some(reg) = reg {
            versus("2. register+delete: kq / epoll", &reg.kq, &reg.epoll);
        }
        if let Some(ready) = ready {
            versus(
                &format!(
                    "3. per delivered event at {} ready: kq / epoll",
                    group(READY as u64)
                ),
                &ready.kq,
                &ready.epoll,
            );
            versus(
                "   (kq with edge_data(false), data not computed)",
                &ready.kq_lean,
                &ready.epoll,
            );
        }
        if let Some(c) = c {
            versus(
                "4. C: register+delete: libkq / epoll",
                &c.reg_kq,
                &c.reg_epoll,
            );
            versus(
                &format!(
                    "4. C: per delivered event at {} ready: libkq / epoll",
                    group(READY as u64)
                ),
                &c.ready_kq,
                &c.ready_epoll,
            );
            versus(
                "   (libkq with KQ_EDGE_NODATA, data not computed)",
                &c.ready_lean,
                &c.ready_lean_epoll,
            );
            versus(
                "   (raw epoll + FIONREAD per event: exact data's floor)",
                &c.ready_floor,
                &c.ready_floor_epoll,
            );
        }
    }
}
