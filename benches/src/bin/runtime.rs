//! The runtime's benchmark: kq's multi-thread runtime against tokio 1.x's, running the same
//! workloads (the same code, generic over the runtime) at the same worker count, in one run.
//!
//! Six benchmarks (`--only` takes their names):
//!
//! 1. **`spawn`**: spawn 100,000 trivial tasks from inside `block_on`, then await every
//!    `JoinHandle`.
//! 2. **`yield`**: 1,000 tasks each calling `yield_now` 2,000 times (2,000,000 polls).
//! 3. **`ping-pong`**: two tasks exchange a token 500,000 times (1,000,000 hand-offs) through
//!    a one-slot mailbox written here (a `std::sync::Mutex` holding the value and a
//!    `Waker`), so both runtimes run identical code. Where each task runs is each
//!    scheduler's choice: both keep the pair on one worker (a woken task goes to the
//!    waker's LIFO slot), so this measures the same-thread wake-and-run path.
//! 4. **`ping-pong-x`**: the same mailbox, 20,000 round trips between `block_on`'s own
//!    future and one task: every hand-off crosses threads (a worker parks and is woken,
//!    and so is the `block_on` thread), which measures the runtimes' park/unpark paths.
//! 5. **`sleeps`**: spawn 1,000,000 tasks, each sleeping a pseudo-random 1..=100 ms
//!    (the same sequence for both), and join them all. Besides the wall time, the peak
//!    resident set (`VmHWM`): every sample of this benchmark runs in a fresh child process
//!    (this binary re-executed with `--child sleeps <runtime>`), since the peak is
//!    per-process.
//! 6. **`chain`**: a chain of 100,000 tasks, each spawned by the previous one; timed until
//!    the last one completes.
//!
//! tokio is built with the features `rt`, `rt-multi-thread`, `time` and `sync` only, so it
//! has no I/O driver: its idle workers park on a condition variable and its periodic
//! maintenance makes no system call, whereas kq always turns its kqueue (every 61 ticks a
//! zero-timeout `kevent`, one `epoll_pwait2`). With tokio's `net` feature its workers
//! would poll epoll the same way; no correction is made for this.
//!
//! Each sample builds a fresh runtime (outside the timed region), times `block_on` of the
//! workload by the wall clock and by the process's CPU time (`getrusage(RUSAGE_SELF)`, all
//! threads), reads kq's metrics, and drops the runtime (outside the timed region too). The
//! runtimes alternate: kq, tokio, kq, tokio, … — one discarded warm-up pair first (except
//! for the child-process samples of `sleeps`), then 5 pairs (2 with `--quick`). The table
//! gives each runtime's median and the median of the per-pair ratios kq/tokio, with their
//! range over pairs; the bar is a ratio of at most 1.0 (kq no slower than tokio). The exit
//! status is 0 whether or not the bar is met; it is non-zero only on an error.
//!
//! Run it with
//!
//! ```text
//! cargo run --release -p kq-bench --bin runtime                   # under a minute
//! cargo run --release -p kq-bench --bin runtime -- --quick        # 2 pairs
//! cargo run --release -p kq-bench --bin runtime -- --only sleeps  # one benchmark (or a,b)
//! cargo run --release -p kq-bench --bin runtime -- --workers 4    # both runtimes at 4
//! ```
//!
//! One sample alone, for a profiler (prints one `result` line per repetition):
//!
//! ```text
//! target/release/runtime --child spawn kq --repeat 20
//! ```
//!
//! Linux only (peak memory from `/proc/self/status`, CPU time from `getrusage`). A sample
//! that makes no progress for 120 s (a lost wakeup) aborts the run instead of hanging it.

use std::process::ExitCode;

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    bench::main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    eprintln!("runtime: this benchmark reads /proc and runs on Linux only");
    ExitCode::FAILURE
}

#[cfg(target_os = "linux")]
mod bench {
    use kq_bench::stats::{Ratio, Table, fmt_ratio, group, median};
    use kq_bench::sys;
    use std::fmt::Display;
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::process::{Command, ExitCode, Stdio};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, PoisonError};
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    /// Tasks of `spawn`.
    const SPAWN_TASKS: u64 = 100_000;
    /// Tasks of `yield`.
    const YIELD_TASKS: u64 = 1_000;
    /// `yield_now` calls per task of `yield`.
    const YIELDS: u64 = 2_000;
    /// Round trips of `ping-pong` (two hand-offs each).
    const ROUND_TRIPS: u64 = 500_000;
    /// Round trips of `ping-pong-x`.
    const ROUND_TRIPS_X: u64 = 20_000;
    /// Tasks of `sleeps`.
    const SLEEPERS: u64 = 1_000_000;
    /// The longest sleep of `sleeps`, in ms (the shortest is 1 ms).
    const MAX_SLEEP_MS: u64 = 100;
    /// Tasks in the chain of `chain`.
    const CHAIN: u64 = 100_000;
    /// The bar: kq/tokio at most this.
    const BAR: f64 = 1.0;
    /// A sample that makes no progress for this long means a lost wakeup: abort.
    const STALL: Duration = Duration::from_secs(120);
    /// The first word of a child's result line.
    const RESULT: &str = "result";

    /// Bumped as samples complete; the watchdog aborts the run when it stops moving.
    static HEARTBEAT: AtomicU64 = AtomicU64::new(0);

    // ---- The benchmarks and the runtimes ----

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Bench {
        Spawn,
        Yield,
        PingPong,
        PingPongX,
        Sleeps,
        Chain,
    }

    const BENCHES: [Bench; 6] = [
        Bench::Spawn,
        Bench::Yield,
        Bench::PingPong,
        Bench::PingPongX,
        Bench::Sleeps,
        Bench::Chain,
    ];

    impl Bench {
        fn name(self) -> &'static str {
            match self {
                Bench::Spawn => "spawn",
                Bench::Yield => "yield",
                Bench::PingPong => "ping-pong",
                Bench::PingPongX => "ping-pong-x",
                Bench::Sleeps => "sleeps",
                Bench::Chain => "chain",
            }
        }

        fn parse(s: &str) -> Option<Bench> {
            BENCHES.into_iter().find(|b| b.name() == s)
        }

        /// The table's label.
        fn label(self) -> String {
            match self {
                Bench::Spawn => format!("spawn+join {}", group(SPAWN_TASKS)),
                Bench::Yield => format!("yield {} tasks x {}", group(YIELD_TASKS), group(YIELDS)),
                Bench::PingPong => format!("ping-pong {} round trips", group(ROUND_TRIPS)),
                Bench::PingPongX => format!("ping-pong block_on<->task {}", group(ROUND_TRIPS_X)),
                Bench::Sleeps => format!("{} sleeps 1-{MAX_SLEEP_MS} ms", group(SLEEPERS)),
                Bench::Chain => format!("chained spawn {}", group(CHAIN)),
            }
        }

        /// Whether each sample runs in a fresh child process.
        fn isolated(self) -> bool {
            self == Bench::Sleeps
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Which {
        Kq,
        Tokio,
    }

    impl Which {
        fn name(self) -> &'static str {
            match self {
                Which::Kq => "kq",
                Which::Tokio => "tokio",
            }
        }

        fn parse(s: &str) -> Option<Which> {
            [Which::Kq, Which::Tokio]
                .into_iter()
                .find(|w| w.name() == s)
        }
    }

    /// kq's metrics of one sample's runtime (all zero for tokio, whose stable metrics have
    /// no counterpart).
    #[derive(Debug, Clone, Copy, Default)]
    struct Counters {
        values: [u64; COUNTERS.len()],
    }

    /// `(key in a child's result line, column title)`, in `Counters::values` order.
    const COUNTERS: [(&str, &str); 9] = [
        ("kevent_calls", "kevent calls"),
        ("driver_turns", "turns"),
        ("changes", "changes"),
        ("events", "events"),
        ("steals", "steals"),
        ("polls", "polls"),
        ("parks", "parks"),
        ("direct_applies", "direct applies"),
        ("wake_triggers", "wake triggers"),
    ];

    /// What the workloads need of a runtime; implemented by [`Kq`] and [`Tokio`].
    trait Contender: 'static {
        type Runtime;
        type Join<T: Send + 'static>: Future<Output = T> + Send + Unpin;

        fn build(workers: usize) -> io::Result<Self::Runtime>;
        fn block_on<F: Future>(rt: &Self::Runtime, future: F) -> F::Output;
        fn spawn<F>(future: F) -> Self::Join<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static;
        fn yield_now() -> impl Future<Output = ()> + Send;
        fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
        fn counters(rt: &Self::Runtime) -> Counters;
    }

    /// A `JoinHandle` whose task must not fail: its output, or a panic.
    struct Joined<J>(J);

    impl<J, T, E> Future for Joined<J>
    where
        J: Future<Output = Result<T, E>> + Unpin,
        E: std::fmt::Debug,
    {
        type Output = T;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
            Pin::new(&mut self.0)
                .poll(cx)
                .map(|r| r.expect("a benchmark task failed"))
        }
    }

    struct Kq;

    impl Contender for Kq {
        type Runtime = kq::runtime::Runtime;
        type Join<T: Send + 'static> = Joined<kq::task::JoinHandle<T>>;

        fn build(workers: usize) -> io::Result<Self::Runtime> {
            kq::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
        }

        fn block_on<F: Future>(rt: &Self::Runtime, future: F) -> F::Output {
            rt.block_on(future)
        }

        fn spawn<F>(future: F) -> Self::Join<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            Joined(kq::spawn(future))
        }

        fn yield_now() -> impl Future<Output = ()> + Send {
            kq::task::yield_now()
        }

        fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
            kq::time::sleep(d)
        }

        fn counters(rt: &Self::Runtime) -> Counters {
            let m = rt.metrics();
            Counters {
                values: [
                    m.kevent_calls(),
                    m.driver_turns(),
                    m.changes_submitted(),
                    m.events_delivered(),
                    m.steal_count(),
                    m.poll_count(),
                    m.park_count(),
                    m.direct_applies(),
                    m.wake_triggers(),
                ],
            }
        }
    }

    struct Tokio;

    impl Contender for Tokio {
        type Runtime = tokio::runtime::Runtime;
        type Join<T: Send + 'static> = Joined<tokio::task::JoinHandle<T>>;

        fn build(workers: usize) -> io::Result<Self::Runtime> {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
        }

        fn block_on<F: Future>(rt: &Self::Runtime, future: F) -> F::Output {
            rt.block_on(future)
        }

        fn spawn<F>(future: F) -> Self::Join<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            Joined(tokio::spawn(future))
        }

        fn yield_now() -> impl Future<Output = ()> + Send {
            tokio::task::yield_now()
        }

        fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
            tokio::time::sleep(d)
        }

        fn counters(_rt: &Self::Runtime) -> Counters {
            Counters::default()
        }
    }

    // ---- The workloads: one code for both runtimes ----

    /// A one-slot mailbox: a value and the waker of the task waiting for it, under a std
    /// mutex. Runtime-agnostic on purpose: both runtimes hand off through the same code.
    #[derive(Default)]
    struct Mailbox {
        slot: Mutex<Slot>,
    }

    #[derive(Default)]
    struct Slot {
        value: Option<u64>,
        waker: Option<Waker>,
    }

    impl Mailbox {
        fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
            self.slot.lock().unwrap_or_else(PoisonError::into_inner)
        }

        /// Leaves `value` (the slot must be empty) and wakes the receiver, outside the lock.
        fn send(&self, value: u64) {
            let waker = {
                let mut slot = self.lock();
                assert!(slot.value.is_none(), "mailbox overrun");
                slot.value = Some(value);
                slot.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }

        fn recv(&self) -> Recv<'_> {
            Recv(self)
        }
    }

    struct Recv<'a>(&'a Mailbox);

    impl Future for Recv<'_> {
        type Output = u64;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
            let mut slot = self.0.lock();
            if let Some(v) = slot.value.take() {
                return Poll::Ready(v);
            }
            match &slot.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => slot.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        }
    }

    /// 1. Spawns `n` trivial tasks, then awaits them in order; returns the sum of outputs.
    async fn spawn_join<R: Contender>(n: u64) -> u64 {
        let handles: Vec<_> = (0..n).map(|i| R::spawn(async move { i })).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await;
        }
        sum
    }

    /// 2. `tasks` tasks yielding `yields` times each; returns the yields done.
    async fn yield_many<R: Contender>(tasks: u64, yields: u64) -> u64 {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                R::spawn(async move {
                    for _ in 0..yields {
                        R::yield_now().await;
                    }
                    yields
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await;
        }
        sum
    }

    /// 3 and 4. Two tasks hand a counter back and forth `round_trips` times, each adding one;
    ///    returns its final value (`2 * round_trips`). With `pinger_spawned` false the
    ///    pinger is `block_on`'s own future instead of a task, so that every hand-off
    ///    crosses threads.
    async fn ping_pong<R: Contender>(round_trips: u64, pinger_spawned: bool) -> u64 {
        let to_pinger = Arc::new(Mailbox::default());
        let to_ponger = Arc::new(Mailbox::default());
        let ponger = {
            let (inbox, outbox) = (to_ponger.clone(), to_pinger.clone());
            R::spawn(async move {
                for _ in 0..round_trips {
                    let v = inbox.recv().await;
                    outbox.send(v + 1);
                }
            })
        };
        let pinger = async move {
            let mut v = 0;
            for _ in 0..round_trips {
                to_ponger.send(v + 1);
                v = to_pinger.recv().await;
            }
            v
        };
        let v = if pinger_spawned {
            R::spawn(pinger).await
        } else {
            pinger.await
        };
        ponger.await;
        v
    }

    /// A fixed pseudo-random sleep in 1..=`MAX_SLEEP_MS` ms for sleeper `i` (splitmix64).
    fn sleep_of(i: u64) -> Duration {
        let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Duration::from_millis(1 + z % MAX_SLEEP_MS)
    }

    /// 5. `n` tasks sleeping `sleep_of(i)` each, all joined; returns the tasks joined.
    async fn sleeps<R: Contender>(n: u64) -> u64 {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                R::spawn(async move {
                    R::sleep(sleep_of(i)).await;
                    1
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await;
        }
        sum
    }

    /// One link of the chain: spawns the next (detached) and completes; the last one
    /// posts the chain's length to `done`.
    struct Link<R> {
        index: u64,
        len: u64,
        done: Arc<Mailbox>,
        runtime: std::marker::PhantomData<fn() -> R>,
    }

    impl<R: Contender> Future for Link<R> {
        type Output = ();

        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            if self.index + 1 == self.len {
                self.done.send(self.len);
            } else {
                drop(R::spawn(Link::<R> {
                    index: self.index + 1,
                    len: self.len,
                    done: self.done.clone(),
                    runtime: std::marker::PhantomData,
                }));
            }
            Poll::Ready(())
        }
    }

    /// 6. A chain of `len` tasks, each spawned by the previous one; returns its length.
    async fn chain<R: Contender>(len: u64) -> u64 {
        let done = Arc::new(Mailbox::default());
        drop(R::spawn(Link::<R> {
            index: 0,
            len,
            done: done.clone(),
            runtime: std::marker::PhantomData,
        }));
        done.recv().await
    }

    /// Runs `bench`'s workload on `rt`; returns its checksum and what it should be.
    fn workload<R: Contender>(rt: &R::Runtime, bench: Bench) -> (u64, u64) {
        match bench {
            Bench::Spawn => (
                R::block_on(rt, spawn_join::<R>(SPAWN_TASKS)),
                SPAWN_TASKS * (SPAWN_TASKS - 1) / 2,
            ),
            Bench::Yield => (
                R::block_on(rt, yield_many::<R>(YIELD_TASKS, YIELDS)),
                YIELD_TASKS * YIELDS,
            ),
            Bench::PingPong => (
                R::block_on(rt, ping_pong::<R>(ROUND_TRIPS, true)),
                2 * ROUND_TRIPS,
            ),
            Bench::PingPongX => (
                R::block_on(rt, ping_pong::<R>(ROUND_TRIPS_X, false)),
                2 * ROUND_TRIPS_X,
            ),
            Bench::Sleeps => (R::block_on(rt, sleeps::<R>(SLEEPERS)), SLEEPERS),
            Bench::Chain => (R::block_on(rt, chain::<R>(CHAIN)), CHAIN),
        }
    }

    // ---- One sample ----

    /// One timed run of one benchmark on one runtime.
    #[derive(Debug, Clone, Copy, Default)]
    struct Sample {
        wall_ns: u64,
        /// The process's CPU time (all threads) during the run.
        cpu_ns: u64,
        /// Peak resident set of the process, kB (meaningful in a child process only).
        hwm_kb: u64,
        /// Peak resident set before the runtime was built, kB.
        base_kb: u64,
        counters: Counters,
    }

    fn sample<R: Contender>(bench: Bench, workers: usize) -> io::Result<Sample> {
        let base_kb = sys::proc_status_kb("VmHWM")?;
        let rt = R::build(workers).map_err(|e| ctx(e, "building the runtime"))?;
        let cpu = sys::process_cpu_ns();
        let start = Instant::now();
        let (got, want) = workload::<R>(&rt, bench);
        let wall_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let cpu_ns = sys::process_cpu_ns().saturating_sub(cpu);
        let counters = R::counters(&rt);
        let hwm_kb = sys::proc_status_kb("VmHWM")?;
        drop(rt);
        HEARTBEAT.fetch_add(1, Ordering::Relaxed);
        if got != want {
            return Err(io::Error::other(format!(
                "{}: checksum {got}, expected {want}",
                bench.name()
            )));
        }
        Ok(Sample {
            wall_ns,
            cpu_ns,
            hwm_kb,
            base_kb,
            counters,
        })
    }

    fn sample_of(which: Which, bench: Bench, workers: usize) -> io::Result<Sample> {
        match which {
            Which::Kq => sample::<Kq>(bench, workers),
            Which::Tokio => sample::<Tokio>(bench, workers),
        }
    }

    /// `result wall_ns=… cpu_ns=… hwm_kb=… base_kb=… kevent_calls=… …`
    fn result_line(s: &Sample) -> String {
        let mut line = format!(
            "{RESULT} wall_ns={} cpu_ns={} hwm_kb={} base_kb={}",
            s.wall_ns, s.cpu_ns, s.hwm_kb, s.base_kb
        );
        for ((key, _), v) in COUNTERS.iter().zip(s.counters.values) {
            line.push_str(&format!(" {key}={v}"));
        }
        line
    }

    fn parse_result(line: &str) -> Option<Sample> {
        let rest = line.strip_prefix(RESULT)?;
        let mut s = Sample::default();
        for field in rest.split_whitespace() {
            let (key, value) = field.split_once('=')?;
            let value: u64 = value.parse().ok()?;
            match key {
                "wall_ns" => s.wall_ns = value,
                "cpu_ns" => s.cpu_ns = value,
                "hwm_kb" => s.hwm_kb = value,
                "base_kb" => s.base_kb = value,
                _ => {
                    let i = COUNTERS.iter().position(|(k, _)| *k == key)?;
                    s.counters.values[i] = value;
                }
            }
        }
        Some(s)
    }

    /// One sample in a fresh child process: this binary with `--child`.
    fn sample_in_child(which: Which, bench: Bench, workers: usize) -> io::Result<Sample> {
        let exe = std::env::current_exe().map_err(|e| ctx(e, "finding this executable"))?;
        let out = Command::new(exe)
            .args(["--child", bench.name(), which.name(), "--workers"])
            .arg(workers.to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| ctx(e, "starting a child process"))?;
        HEARTBEAT.fetch_add(1, Ordering::Relaxed);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "child {} {} failed ({}): {}",
                bench.name(),
                which.name(),
                out.status,
                stdout.trim()
            )));
        }
        stdout.lines().find_map(parse_result).ok_or_else(|| {
            io::Error::other(format!(
                "child {} {} printed no result: {:?}",
                bench.name(),
                which.name(),
                stdout.trim()
            ))
        })
    }

    // ---- Command line ----

    struct Config {
        workers: usize,
        pairs: usize,
        benches: Vec<Bench>,
        /// Every sample in a child process, not only those of `sleeps`.
        isolate: bool,
        /// Print every pair's figures.
        verbose: bool,
    }

    const USAGE: &str = "usage: runtime [--quick] [--pairs N] [--workers N] [--only NAME[,NAME…]]
               [--isolate] [--verbose]
       runtime --child NAME kq|tokio [--workers N] [--repeat N]

  --quick        2 pairs instead of 5
  --pairs N      N measured pairs (after one discarded warm-up pair)
  --workers N    worker threads of both runtimes (default: the number of CPUs)
  --only NAMES   run only these: spawn, yield, ping-pong, ping-pong-x, sleeps, chain
  --isolate      run every sample in a fresh child process (always so for sleeps)
  --verbose      print every pair's figures
  --child        run one benchmark on one runtime N times (default 1) in this process
                 and print one `result` line per run (what the parent parses; also
                 handy under a profiler)";

    fn usage_error(msg: impl Display) -> ExitCode {
        eprintln!("runtime: {msg} (try --help)");
        ExitCode::from(2)
    }

    fn parse_count(v: Option<String>, what: &str) -> Result<usize, ExitCode> {
        match v.as_deref().map(str::parse::<usize>) {
            Some(Ok(n)) if n > 0 => Ok(n),
            _ => Err(usage_error(format_args!(
                "{what} takes a positive number, not {:?}",
                v.unwrap_or_default()
            ))),
        }
    }

    pub(crate) fn main() -> ExitCode {
        match parse_and_run() {
            Ok(code) | Err(code) => code,
        }
    }

    fn parse_and_run() -> Result<ExitCode, ExitCode> {
        let mut workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut pairs = 5;
        let mut benches = BENCHES.to_vec();
        let mut isolate = false;
        let mut verbose = false;
        let mut child = None;
        let mut repeat = 1;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => pairs = 2,
                "--pairs" => pairs = parse_count(args.next(), "--pairs")?,
                "--workers" => workers = parse_count(args.next(), "--workers")?,
                "--repeat" => repeat = parse_count(args.next(), "--repeat")?,
                "--isolate" => isolate = true,
                "--verbose" => verbose = true,
                "--only" => {
                    let list = args.next().unwrap_or_default();
                    benches = list
                        .split(',')
                        .map(|name| {
                            Bench::parse(name).ok_or_else(|| {
                                usage_error(format_args!("unknown benchmark {name:?}"))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--child" => {
                    let bench = args.next().unwrap_or_default();
                    let which = args.next().unwrap_or_default();
                    let bench = Bench::parse(&bench)
                        .ok_or_else(|| usage_error(format_args!("unknown benchmark {bench:?}")))?;
                    let which = Which::parse(&which)
                        .ok_or_else(|| usage_error(format_args!("unknown runtime {which:?}")))?;
                    child = Some((bench, which));
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Ok(ExitCode::SUCCESS);
                }
                other => return Err(usage_error(format_args!("unknown argument {other:?}"))),
            }
        }
        kq_bench::start_watchdog(
            &HEARTBEAT,
            STALL,
            "runtime: a sample never finished (lost wakeup?)",
        );
        let res = match child {
            Some((bench, which)) => run_child(bench, which, workers, repeat),
            None => run(&Config {
                workers,
                pairs,
                benches,
                isolate,
                verbose,
            }),
        };
        match res {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => {
                eprintln!("runtime: error: {e}");
                Err(ExitCode::FAILURE)
            }
        }
    }

    fn run_child(bench: Bench, which: Which, workers: usize, repeat: usize) -> io::Result<()> {
        for _ in 0..repeat {
            let s = sample_of(which, bench, workers)?;
            println!("{}", result_line(&s));
        }
        Ok(())
    }

    fn ctx(e: io::Error, what: impl Display) -> io::Error {
        io::Error::new(e.kind(), format!("{what}: {e}"))
    }

    // ---- The run ----

    /// One benchmark's measured pairs.
    struct BenchResult {
        bench: Bench,
        kq: Vec<Sample>,
        tokio: Vec<Sample>,
    }

    fn ms(ns: u64) -> f64 {
        ns as f64 / 1e6
    }

    fn values(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> Vec<f64> {
        samples.iter().map(f).collect()
    }

    fn run(cfg: &Config) -> io::Result<()> {
        let started = Instant::now();
        println!("kq runtime vs tokio (benches/src/bin/runtime.rs)");
        println!(
            "date {}, kernel {}, nproc {}, {} workers each (multi-thread), tokio 1.x",
            sys::utc_now(),
            sys::kernel_release(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            cfg.workers
        );
        println!(
            "{} pairs kq,tokio after 1 discarded warm-up pair (none for child-process samples); \
             a fresh runtime per sample; figures: medians; ratios: median of per-pair ratios kq/tokio (min-max)",
            cfg.pairs
        );
        let mut results = Vec::new();
        for &bench in &cfg.benches {
            let isolated = cfg.isolate || bench.isolated();
            let warmups = usize::from(!isolated);
            let mut r = BenchResult {
                bench,
                kq: Vec::new(),
                tokio: Vec::new(),
            };
            for pair in 0..warmups + cfg.pairs {
                let take = |which| {
                    if isolated {
                        sample_in_child(which, bench, cfg.workers)
                    } else {
                        sample_of(which, bench, cfg.workers)
                    }
                    .map_err(|e| ctx(e, format_args!("{} on {}", bench.name(), which.name())))
                };
                let k = take(Which::Kq)?;
                let t = take(Which::Tokio)?;
                if pair < warmups {
                    continue;
                }
                if cfg.verbose {
                    println!(
                        "  {:<10} pair {}: kq {:>9.2} ms (cpu {:>9.2}), tokio {:>9.2} ms (cpu {:>9.2}), ratio {}{}",
                        bench.name(),
                        pair + 1 - warmups,
                        ms(k.wall_ns),
                        ms(k.cpu_ns),
                        ms(t.wall_ns),
                        ms(t.cpu_ns),
                        fmt_ratio(k.wall_ns as f64 / t.wall_ns as f64),
                        if isolated {
                            format!(
                                ", peak RSS kq {} MiB tokio {} MiB",
                                k.hwm_kb / 1024,
                                t.hwm_kb / 1024
                            )
                        } else {
                            String::new()
                        }
                    );
                }
                r.kq.push(k);
                r.tokio.push(t);
            }
            println!(
                "  {:<10} done: per-pair wall ratios {}",
                bench.name(),
                r.kq.iter()
                    .zip(&r.tokio)
                    .map(|(k, t)| fmt_ratio(k.wall_ns as f64 / t.wall_ns as f64))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            results.push(r);
        }
        report(&results);
        println!("\ntotal run time {:.1} s", started.elapsed().as_secs_f64());
        Ok(())
    }

    fn bar(ratio: f64) -> &'static str {
        if ratio <= BAR { "met" } else { "NOT met" }
    }

    fn report(results: &[BenchResult]) {
        println!("\nWall time (ms) and process CPU time (ms, all threads) per sample:");
        let mut t = Table::new(&[
            "benchmark",
            "kq (median)",
            "tokio (median)",
            "ratio kq/tokio (min-max)",
            "bar <= 1.0",
            "kq CPU",
            "tokio CPU",
            "CPU ratio",
        ]);
        for r in results {
            let (kw, tw) = (
                values(&r.kq, |s| s.wall_ns as f64),
                values(&r.tokio, |s| s.wall_ns as f64),
            );
            let (kc, tc) = (
                values(&r.kq, |s| s.cpu_ns as f64),
                values(&r.tokio, |s| s.cpu_ns as f64),
            );
            let wall = Ratio::of(&kw, &tw);
            let cpu = Ratio::of(&kc, &tc);
            t.row(vec![
                r.bench.label(),
                format!("{:.2}", median(&kw) / 1e6),
                format!("{:.2}", median(&tw) / 1e6),
                wall.show(),
                bar(wall.median).to_owned(),
                format!("{:.2}", median(&kc) / 1e6),
                format!("{:.2}", median(&tc) / 1e6),
                cpu.show(),
            ]);
            if r.bench.isolated() {
                let (km, tm) = (
                    values(&r.kq, |s| s.hwm_kb as f64),
                    values(&r.tokio, |s| s.hwm_kb as f64),
                );
                let mem = Ratio::of(&km, &tm);
                t.row(vec![
                    "  peak RSS (MiB)".to_owned(),
                    format!("{:.1}", median(&km) / 1024.0),
                    format!("{:.1}", median(&tm) / 1024.0),
                    mem.show(),
                    bar(mem.median).to_owned(),
                ]);
                let per_task = |s: &[Sample]| {
                    median(&values(s, |s| {
                        s.hwm_kb.saturating_sub(s.base_kb) as f64 * 1024.0 / SLEEPERS as f64
                    }))
                };
                t.row(vec![
                    "  bytes per sleeping task".to_owned(),
                    format!("{:.0}", per_task(&r.kq)),
                    format!("{:.0}", per_task(&r.tokio)),
                ]);
            }
        }
        t.print();

        println!("\nkq's metrics per sample (medians over the measured samples):");
        let mut header = vec!["benchmark"];
        header.extend(COUNTERS.iter().map(|(_, title)| *title));
        let mut m = Table::new(&header);
        for r in results {
            let mut row = vec![r.bench.name().to_owned()];
            for i in 0..COUNTERS.len() {
                let v = median(&values(&r.kq, |s| s.counters.values[i] as f64));
                row.push(group(v.round() as u64));
            }
            m.row(row);
        }
        m.print();
    }
}
