//! kq::process and kq::signal against tokio::process and tokio::signal, in one run.
//!
//! Two benchmarks, each sample in a fresh child process (this binary re-executed with
//! `--child <runtime>`), so that neither runtime's signal handlers or reaping machinery
//! can affect the other's; both sides build a multi-thread runtime of 2 workers.
//!
//! 1. **spawn-and-wait**: 1,000 `true` children, 50 in flight (50 tasks, each spawning a
//!    child and waiting for it until 1,000 have been spawned in all): children per second.
//!    Then the same workload again with the process's open descriptors counted
//!    (`/proc/self/fd`) after every spawn: the peak (not timed, since counting costs).
//! 2. **signal latency**: 1,000 deliveries of `SIGUSR1`, each raised by a plain thread
//!    (`raise`, so the handler runs on that thread) 200 µs after the receiving task asked
//!    for it; the latency is from just before `raise` to the return of `recv` in the task.
//!    p50 and p99 per sample.
//!
//! The sides alternate — kq, tokio, kq, tokio, … — 5 samples each (3 with `--quick`); the
//! table gives each side's median over samples and the median of the per-pair ratios
//! kq/tokio with their range. The bar: children/s ratio ≥ 1, latency ratios ≤ 1. The exit
//! status is 0 whether or not the bar is met.
//!
//! Run it with `cargo run --release -p kq-bench --bin process` (`-- --quick` for 3 pairs).
//! Linux only (descriptors from `/proc/self/fd`).

use std::process::ExitCode;

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    eprintln!("the process benchmark runs on Linux only");
    ExitCode::FAILURE
}

#[cfg(target_os = "linux")]
mod linux {
    use kq_bench::stats::{Ratio, Table, fmt_ns, group, median};
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, mpsc};
    use std::time::{Duration, Instant};

    const CHILDREN: usize = 1000;
    const IN_FLIGHT: usize = 50;
    const DELIVERIES: usize = 1000;

    /// One sample's results.
    #[derive(Debug, Clone, Copy)]
    struct Sample {
        children_per_s: f64,
        peak_fds: f64,
        p50_ns: f64,
        p99_ns: f64,
    }

    pub(super) fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match args
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["--child", side] => match child(side) {
                Ok(s) => {
                    println!(
                        "result {} {} {} {}",
                        s.children_per_s, s.peak_fds, s.p50_ns, s.p99_ns
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            },
            [] => parent(5),
            ["--quick"] => parent(3),
            _ => {
                eprintln!("usage: process [--quick]");
                ExitCode::from(2)
            }
        }
    }

    fn parent(pairs: usize) -> ExitCode {
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => {
                eprintln!("process: cannot find this program to run its samples: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut kq = Vec::new();
        let mut tokio = Vec::new();
        for pair in 0..pairs {
            for (side, out) in [("kq", &mut kq), ("tokio", &mut tokio)] {
                let res = match std::process::Command::new(&exe)
                    .args(["--child", side])
                    .output()
                {
                    Ok(res) => res,
                    Err(e) => {
                        eprintln!("sample {pair} of {side} could not run: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let text = String::from_utf8_lossy(&res.stdout);
                let Some(line) = text.lines().find(|l| l.starts_with("result ")) else {
                    eprintln!(
                        "sample {pair} of {side} failed: {}",
                        String::from_utf8_lossy(&res.stderr)
                    );
                    return ExitCode::FAILURE;
                };
                let Ok(v) = line[7..]
                    .split(' ')
                    .map(str::parse)
                    .collect::<Result<Vec<f64>, _>>()
                else {
                    eprintln!("sample {pair} of {side} printed a malformed line: {line}");
                    return ExitCode::FAILURE;
                };
                if v.len() < 4 {
                    eprintln!("sample {pair} of {side} printed too few figures: {line}");
                    return ExitCode::FAILURE;
                }
                let s = Sample {
                    children_per_s: v[0],
                    peak_fds: v[1],
                    p50_ns: v[2],
                    p99_ns: v[3],
                };
                eprintln!("pair {pair} {side:>5}: {s:?}");
                out.push(s);
            }
        }
        let col = |v: &[Sample], f: fn(&Sample) -> f64| v.iter().map(f).collect::<Vec<_>>();
        let mut table = Table::new(&["benchmark", "kq", "tokio", "kq/tokio (range)", "bar"]);
        let rows: [Row; 4] = [
            (
                "spawn+wait children/s",
                |s| s.children_per_s,
                true,
                |x| group(x as u64),
            ),
            ("peak fds", |s| s.peak_fds, false, |x| format!("{x:.0}")),
            ("signal latency p50 (ns)", |s| s.p50_ns, false, fmt_ns),
            ("signal latency p99 (ns)", |s| s.p99_ns, false, fmt_ns),
        ];
        for (name, f, higher_is_better, fmt) in rows {
            let (a, b) = (col(&kq, f), col(&tokio, f));
            let r = Ratio::of(&a, &b);
            let bar = match (name, higher_is_better) {
                ("peak fds", _) => "-".to_owned(),
                (_, true) => met(r.median >= 1.0),
                (_, false) => met(r.median <= 1.0),
            };
            table.row(vec![
                name.into(),
                fmt(median(&a)),
                fmt(median(&b)),
                r.show(),
                bar,
            ]);
        }
        println!(
            "kq::process/kq::signal vs tokio ({pairs} alternating samples each, medians; \
             ratio = median of per-pair kq/tokio)"
        );
        table.print();
        ExitCode::SUCCESS
    }

    /// A table row: name, the sample's field, whether higher is better, its format.
    type Row = (&'static str, fn(&Sample) -> f64, bool, fn(f64) -> String);

    fn met(ok: bool) -> String {
        if ok { "met" } else { "NOT met" }.to_owned()
    }

    fn child(side: &str) -> std::io::Result<Sample> {
        match side {
            "kq" => {
                let rt = kq::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                rt.block_on(kq_side())
            }
            "tokio" => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                rt.block_on(tokio_side())
            }
            _ => Err(std::io::Error::other(format!("unknown side {side}"))),
        }
    }

    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
    }

    /// Nanoseconds since the first call, for stamps shared between threads.
    fn now_ns() -> u64 {
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }

    /// The raiser thread: for every request, waits 200 µs, stamps, raises `SIGUSR1`.
    fn raiser(stamp: Arc<AtomicU64>) -> mpsc::Sender<()> {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            while rx.recv().is_ok() {
                std::thread::sleep(Duration::from_micros(200));
                stamp.store(now_ns(), Ordering::SeqCst);
                // SAFETY: SIGUSR1 is handled by the side's listener, registered first.
                unsafe { libc::raise(libc::SIGUSR1) };
            }
        });
        tx
    }

    fn quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }

    fn latency_stats(mut lat: Vec<f64>) -> (f64, f64) {
        lat.sort_by(f64::total_cmp);
        (quantile(&lat, 0.5), quantile(&lat, 0.99))
    }

    /// Both sides' code is the same but for the names; a macro keeps them identical.
    macro_rules! side {
        ($name:ident, $spawn_task:path, $cmd:ty, $signal:path, $kind:ty) => {
            async fn $name() -> std::io::Result<Sample> {
                // Warm-up: the first spawn pays for loading `true`.
                <$cmd>::new("true").spawn()?.wait().await?;
                let run = |peak: Option<Arc<AtomicUsize>>| async move {
                    let next = Arc::new(AtomicUsize::new(0));
                    let tasks: Vec<_> = (0..IN_FLIGHT)
                        .map(|_| {
                            let next = next.clone();
                            let peak = peak.clone();
                            $spawn_task(async move {
                                while next.fetch_add(1, Ordering::Relaxed) < CHILDREN {
                                    let mut child = <$cmd>::new("true").spawn()?;
                                    if let Some(peak) = &peak {
                                        peak.fetch_max(open_fds(), Ordering::Relaxed);
                                    }
                                    assert!(child.wait().await?.success());
                                }
                                std::io::Result::Ok(())
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.map_err(std::io::Error::other)??;
                    }
                    std::io::Result::Ok(())
                };
                let start = Instant::now();
                run(None).await?;
                let children_per_s = CHILDREN as f64 / start.elapsed().as_secs_f64();
                let peak = Arc::new(AtomicUsize::new(0));
                run(Some(peak.clone())).await?;

                // In a task, like the children: a worker receives.
                let lat = $spawn_task(async move {
                    let mut sig = $signal(<$kind>::user_defined1())?;
                    let stamp = Arc::new(AtomicU64::new(0));
                    let tx = raiser(stamp.clone());
                    let mut lat = Vec::with_capacity(DELIVERIES);
                    for _ in 0..DELIVERIES {
                        tx.send(()).map_err(|_| {
                            std::io::Error::other("the signal-raising thread ended")
                        })?;
                        sig.recv()
                            .await
                            .ok_or_else(|| std::io::Error::other("the signal stream ended"))?;
                        lat.push((now_ns() - stamp.load(Ordering::SeqCst)) as f64);
                    }
                    std::io::Result::Ok(lat)
                })
                .await
                .map_err(std::io::Error::other)??;
                let (p50_ns, p99_ns) = latency_stats(lat);
                Ok(Sample {
                    children_per_s,
                    peak_fds: peak.load(Ordering::Relaxed) as f64,
                    p50_ns,
                    p99_ns,
                })
            }
        };
    }

    side!(
        kq_side,
        kq::spawn,
        kq::process::Command,
        kq::signal::unix::signal,
        kq::signal::unix::SignalKind
    );
    side!(
        tokio_side,
        tokio::spawn,
        tokio::process::Command,
        tokio::signal::unix::signal,
        tokio::signal::unix::SignalKind
    );
}
