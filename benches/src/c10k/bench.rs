//! `kq-bench c10k`: runs the four workloads against the three servers, alternating
//! kq, tokio, limit, kq, tokio, limit, … within each row, then one strace pass per server
//! and row, and reports medians and per-round ratios (see [`report`]).
//!
//! Every run is two fresh processes, both this binary re-executed: the server
//! (`c10k-server`, on 127.0.0.1 and a port of the kernel's choice, which it prints) and
//! the client (`c10k-client`, which opens its connections, runs the workload, reads the
//! server's `/proc` figures around its timed phase and prints one JSON line). The server's
//! standard input is a pipe: closing it ends the server, so none outlives the benchmark.
//!
//! The strace pass is a separate, shorter run per server and row: the client opens its
//! connections and pauses; `strace -c -f -p <server>` attaches to all the server's threads;
//! the client runs the timed phase and pauses again; strace is interrupted (its summary
//! counts only the timed phase), and the client closes. Syscalls per round trip = calls in
//! the summary / round trips of that pass. strace is looked for with `which`, installed with
//! `apt-get install -y strace` if missing, and the column reads "n/a" (with the reason) if
//! that fails or strace cannot attach.

use super::json::Json;
use super::report::{self, Row, RunFigures, Strace};
use super::{Load, Server, Workload, procfs};
use kq_bench::stats::group;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The orchestrator's options.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) rounds: usize,
    pub(crate) rows: Vec<Workload>,
    pub(crate) strace: bool,
    pub(crate) workers: usize,
}

const USAGE: &str = "usage: kq-bench c10k [--quick] [--rounds N] [--only steady,bulk,churn,idle] [--no-strace] [--workers N]";

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        quick: false,
        rounds: 0,
        rows: Workload::ALL.to_vec(),
        strace: true,
        workers: 2,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-strace" => o.strace = false,
            "--rounds" | "--workers" | "--only" => {
                let v = it
                    .next()
                    .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))?;
                match a.as_str() {
                    "--rounds" => o.rounds = v.parse().map_err(|e| format!("--rounds: {e}"))?,
                    "--workers" => o.workers = v.parse().map_err(|e| format!("--workers: {e}"))?,
                    _ => {
                        o.rows = v
                            .split(',')
                            .map(|w| {
                                Workload::parse(w).ok_or_else(|| format!("unknown workload {w}"))
                            })
                            .collect::<Result<_, _>>()?;
                    }
                }
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            _ => return Err(format!("unknown option {a}\n{USAGE}")),
        }
    }
    if o.rounds == 0 {
        o.rounds = 3;
    }
    Ok(o)
}

/// The timed load of a row.
pub(crate) fn load_for(w: Workload, quick: bool) -> Load {
    let (conns, active, size, trips) = match (w, quick) {
        // Full: 300,000 / 200,000 / 50,000 / 200,000 round trips, a few seconds per run here.
        (Workload::Steady, false) => (10_000, 0, 64, 30),
        (Workload::Bulk, false) => (1_000, 0, 16 * 1024, 200),
        (Workload::Churn, false) => (50_000, 1_000, 64, 1),
        (Workload::Idle, false) => (10_000, 10, 64, 20_000),
        // Quick: a tenth of the connections, well under a second per run.
        (Workload::Steady, true) => (1_000, 0, 64, 30),
        (Workload::Bulk, true) => (100, 0, 16 * 1024, 100),
        (Workload::Churn, true) => (5_000, 100, 64, 1),
        (Workload::Idle, true) => (1_000, 10, 64, 3_000),
    };
    Load {
        workload: w,
        conns,
        active,
        size,
        trips,
    }
}

/// The load of a row's strace pass: the same connections, fewer round trips.
pub(crate) fn strace_load(w: Workload, quick: bool) -> Load {
    let mut l = load_for(w, quick);
    match w {
        Workload::Steady | Workload::Bulk => l.trips = 5,
        Workload::Churn => l.conns = l.conns.min(5 * l.active),
        Workload::Idle => l.trips = l.trips.min(1_000),
    }
    l
}

/// `kq-bench c10k …`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(errors) => {
            eprintln!("c10k: {errors} error(s) in the runs above: exit status 1");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("c10k: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `target/kq-bench/`: under `CARGO_TARGET_DIR`, else the target directory this binary was
/// built in (`target/release/kq-bench` → `target/`), else `./target`.
fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let profile = exe.parent()?;
            let name = profile.file_name()?.to_str()?;
            // target/<profile>/kq-bench, or target/<triple>/<profile>/kq-bench.
            let up = profile.parent()?;
            if up.file_name()?.to_str()? == "target" || up.join("CACHEDIR.TAG").exists() {
                Some(up.to_path_buf())
            } else if matches!(name, "release" | "debug") {
                up.parent().map(Path::to_path_buf)
            } else {
                None
            }
        });
    target
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("kq-bench")
}

fn rlimit_nofile() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a live rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return (0, 0);
    }
    (lim.rlim_cur, lim.rlim_max)
}

fn run(opts: &Options) -> Result<u64, String> {
    let started = Instant::now();
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = out_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (soft, hard) = rlimit_nofile();
    // SAFETY: sysconf only reads a configuration value.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let mode = if opts.quick { "quick" } else { "full" };
    println!(
        "c10k: echo servers on kq, tokio and raw epoll (the limit), one load-generator process"
    );
    println!(
        "  {} | Linux {} | {cpus} CPUs | RLIMIT_NOFILE soft {soft}, hard {hard} (each process raises its soft limit to the hard one)",
        kq_bench::sys::utc_now(),
        kq_bench::sys::kernel_release(),
    );
    println!(
        "  mode {mode}: {} round(s) per server and row, alternating kq, tokio, limit; kq and tokio with {} worker threads; {} B echo buffers; backlog {}",
        opts.rounds,
        opts.workers,
        super::BUF,
        super::BACKLOG
    );

    let mut loads = Vec::new();
    for &w in &opts.rows {
        let mut load = load_for(w, opts.quick);
        let need = load.held() as u64 + 64;
        if hard < need {
            // Fit the held connections in the hard limit, and say so.
            let fit = hard.saturating_sub(64) as usize;
            match w {
                Workload::Idle => load.conns = fit.saturating_sub(load.active),
                Workload::Churn => load.active = fit,
                _ => load.conns = fit,
            }
            println!(
                "  note: RLIMIT_NOFILE's hard limit {hard} is too low for {} held connections: {} reduced to fit",
                need - 64,
                w.name()
            );
        }
        loads.push(load);
    }
    for load in &loads {
        println!("  {:>6}: {}", load.workload.name(), load.describe());
    }

    let strace = if opts.strace {
        strace_setup()
    } else {
        Err("skipped (--no-strace)".to_owned())
    };
    match &strace {
        Ok(path) => println!(
            "  syscalls: {path} -c -f -p <server>, a separate short pass per server and row"
        ),
        Err(why) => println!("  syscalls: n/a: {why}"),
    }
    println!(
        "  client: one thread, raw epoll; every echoed byte checked; sources 127.1.0.0-127.1.15.255 (IP_BIND_ADDRESS_NO_PORT); the client closes first"
    );
    println!();

    let stall = if opts.quick { 10 } else { 30 };
    let mut rows = Vec::new();
    let mut errors = 0;
    for load in &loads {
        let w = load.workload;
        let mut runs: [Vec<RunFigures>; 3] = Default::default();
        for round in 0..opts.rounds {
            for (i, server) in Server::ALL.into_iter().enumerate() {
                let t = Instant::now();
                let out = run_pair(&exe, server, opts.workers, load, stall, None);
                let fig = RunFigures::from_outcome(load, out, t.elapsed().as_secs_f64());
                println!(
                    "  {:>6} round {} {:>5}: {}",
                    w.name(),
                    round + 1,
                    server.name(),
                    fig.summary()
                );
                errors += fig.errors;
                runs[i].push(fig);
            }
        }
        let mut straces: [Strace; 3] = Default::default();
        for (i, server) in Server::ALL.into_iter().enumerate() {
            straces[i] = match &strace {
                Err(why) => Strace::NotRun(why.clone()),
                Ok(path) => {
                    let sload = strace_load(w, opts.quick);
                    let file = dir.join(format!("strace-{}-{}.txt", w.name(), server.name()));
                    let t = Instant::now();
                    let out = run_pair(
                        &exe,
                        server,
                        opts.workers,
                        &sload,
                        stall,
                        Some((path.as_str(), file.as_path())),
                    );
                    let fig =
                        RunFigures::from_outcome(&sload, out.clone(), t.elapsed().as_secs_f64());
                    errors += fig.errors;
                    let st = Strace::from_outcome(&out, &file);
                    println!(
                        "  {:>6} strace {:>5}: {}",
                        w.name(),
                        server.name(),
                        st.summary(&fig)
                    );
                    st
                }
            };
        }
        rows.push(Row::new(load.clone(), runs, straces));
    }

    let elapsed = started.elapsed().as_secs_f64();
    println!();
    report::print_table(&rows);
    report::print_syscalls(&rows);
    let meta = Json::obj(vec![
        ("benchmark", Json::str("c10k")),
        ("date", Json::str(kq_bench::sys::utc_now())),
        ("kernel", Json::str(kq_bench::sys::kernel_release())),
        ("cpus", Json::Num(cpus as f64)),
        ("mode", Json::str(mode)),
        ("rounds", Json::Num(opts.rounds as f64)),
        ("workers", Json::Num(opts.workers as f64)),
        ("buffer_bytes", Json::Num(super::BUF as f64)),
        ("backlog", Json::Num(f64::from(super::BACKLOG))),
        ("nofile_soft", Json::Num(soft as f64)),
        ("nofile_hard", Json::Num(hard as f64)),
        (
            "strace",
            Json::str(
                strace
                    .as_ref()
                    .map_or_else(|e| format!("n/a: {e}"), Clone::clone),
            ),
        ),
        ("elapsed_s", Json::num(elapsed)),
        ("errors", Json::Num(errors as f64)),
    ]);
    let suffix = if opts.quick { "-quick" } else { "" };
    let json_path = dir.join(format!("c10k{suffix}.json"));
    let svg_path = dir.join(format!("c10k{suffix}.svg"));
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(&json_path, report::to_json(meta, &rows).to_pretty())?;
    write(&svg_path, report::svg(&rows, mode))?;
    println!();
    println!("results: {}", json_path.display());
    println!("chart:   {}", svg_path.display());
    println!("c10k {mode}: {:.0} s, {} error(s)", elapsed, group(errors));
    Ok(errors)
}

/// Finds strace, installing it if missing: its path, or why there is none.
fn strace_setup() -> Result<String, String> {
    let which = || {
        Command::new("which")
            .arg("strace")
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|p| !p.is_empty())
            .or_else(|| {
                // No `which` on this machine: search PATH.
                std::env::split_paths(&std::env::var_os("PATH")?)
                    .map(|d| d.join("strace"))
                    .find(|p| p.is_file())
                    .map(|p| p.display().to_string())
            })
    };
    if let Some(p) = which() {
        return Ok(p);
    }
    println!("  strace not found: apt-get install -y strace");
    let install = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
    };
    let mut out = install(&["install", "-y", "strace"]);
    if !matches!(&out, Ok(o) if o.status.success()) {
        // A fresh machine may have no package lists yet.
        println!("  apt-get install failed: apt-get update, then again");
        let _ = install(&["update"]);
        out = install(&["install", "-y", "strace"]);
    }
    match out {
        Ok(o) if o.status.success() => {
            which().ok_or_else(|| "apt-get installed strace but it is not on PATH".to_owned())
        }
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            Err(format!(
                "strace is missing and `apt-get install -y strace` failed ({}): {last}",
                o.status
            ))
        }
        Err(e) => Err(format!("strace is missing and apt-get could not run: {e}")),
    }
}

/// What one server + client pair produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    /// The client's result line.
    pub(crate) client: Option<Json>,
    /// Errors seen outside the client's counts (a server crash, a timeout, …).
    pub(crate) notes: Vec<String>,
    /// The server's counters line (standard error).
    pub(crate) server_log: String,
    /// The strace pass: the summary text, or why there is none.
    pub(crate) strace: Option<Result<String, String>>,
}

/// Lines of a child's output, read by a thread.
fn lines<R: Read + Send + 'static>(r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn collect<R: Read + Send + 'static>(r: R) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(r).read_to_string(&mut s);
        s
    })
}

/// Waits for `child` up to `limit`; kills it (our own child) if it is still running then.
fn wait_for(child: &mut Child, limit: Duration) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {} s: killed", limit.as_secs()));
            }
            Err(e) => return Err(format!("wait: {e}")),
        }
    }
}

fn send_line(stdin: &mut Option<ChildStdin>, line: &str) {
    if let Some(s) = stdin.as_mut() {
        let _ = writeln!(s, "{line}");
        let _ = s.flush();
    }
}

/// Receives the next line, up to `limit`.
fn next_line(rx: &mpsc::Receiver<String>, limit: Duration) -> Option<String> {
    rx.recv_timeout(limit).ok()
}

/// One run: a fresh server, a fresh client, the client's result. With `strace` (the path of
/// strace and of its summary file), the strace pass.
fn run_pair(
    exe: &Path,
    server: Server,
    workers: usize,
    load: &Load,
    stall_secs: u64,
    strace: Option<(&str, &Path)>,
) -> Outcome {
    let mut out = Outcome::default();
    let mut srv = match Command::new(exe)
        .args([
            "c10k-server",
            server.name(),
            "--workers",
            &workers.to_string(),
            "--addr",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            out.notes
                .push(format!("cannot start the {} server: {e}", server.name()));
            return out;
        }
    };
    let srv_err = collect(srv.stderr.take().expect("piped"));
    let srv_out = lines(srv.stdout.take().expect("piped"));
    let mut srv_in = srv.stdin.take();
    let pid = srv.id();
    let Some(addr) = next_line(&srv_out, Duration::from_secs(30)) else {
        drop(srv_in);
        let _ = wait_for(&mut srv, Duration::from_secs(5));
        out.server_log = srv_err.join().unwrap_or_default();
        let log = out.server_log.trim();
        out.notes.push(format!(
            "the {} server printed no address: {log}",
            server.name()
        ));
        return out;
    };

    // The client: the run's limit is generous, the client's own stall detection comes first.
    let deadline = Duration::from_secs(600);
    let mut args = vec![
        "c10k-client".to_owned(),
        "--addr".into(),
        addr.trim().to_owned(),
        "--server-pid".into(),
        pid.to_string(),
        "--stall-secs".into(),
        stall_secs.to_string(),
    ];
    args.extend(load.to_args());
    if strace.is_some() {
        args.push("--pause".into());
    }
    match Command::new(exe)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Err(e) => out.notes.push(format!("cannot start the client: {e}")),
        Ok(mut cl) => {
            let cl_out = lines(cl.stdout.take().expect("piped"));
            let cl_err = collect(cl.stderr.take().expect("piped"));
            let mut cl_in = cl.stdin.take();
            let mut tracer = None;
            if let Some((strace_path, file)) = strace {
                match next_line(&cl_out, deadline) {
                    Some(l) if l == "ready" => match attach(strace_path, pid, file) {
                        Ok(t) => tracer = Some(t),
                        Err(e) => out.strace = Some(Err(e)),
                    },
                    other => out
                        .notes
                        .push(format!("the client did not pause: {other:?}")),
                }
                send_line(&mut cl_in, "go");
            }
            let mut result = None;
            let t = Instant::now();
            while let Some(l) = next_line(&cl_out, deadline.saturating_sub(t.elapsed())) {
                if l.starts_with('{') {
                    result = Some(l);
                    break;
                }
            }
            if let Some((mut st, file)) = tracer {
                // SAFETY: kill(2) of our own child's pid, which we have not waited for yet.
                unsafe { libc::kill(st.id() as libc::pid_t, libc::SIGINT) };
                out.strace = Some(match wait_for(&mut st, Duration::from_secs(30)) {
                    Ok(_) => std::fs::read_to_string(&file)
                        .map_err(|e| format!("{}: {e}", file.display())),
                    Err(e) => Err(format!("strace {e}")),
                });
            }
            send_line(&mut cl_in, "close");
            drop(cl_in);
            match result {
                Some(l) => match Json::parse(&l) {
                    Ok(j) => out.client = Some(j),
                    Err(e) => out
                        .notes
                        .push(format!("the client's result is not JSON ({e}): {l}")),
                },
                None => out.notes.push("the client printed no result".to_owned()),
            }
            let status = wait_for(
                &mut cl,
                Duration::from_secs(if out.client.is_some() { 60 } else { 5 }),
            );
            let err = cl_err.join().unwrap_or_default();
            match status {
                Ok(s) if s.success() => {}
                Ok(s) => out
                    .notes
                    .push(format!("the client exited with {s}: {}", err.trim())),
                Err(e) => out.notes.push(format!("the client {e}: {}", err.trim())),
            }
        }
    }

    // The server must still be running: anything else is a crash under load.
    match srv.try_wait() {
        Ok(Some(status)) => out.notes.push(format!(
            "the {} server exited during the run with {status}",
            server.name()
        )),
        Ok(None) => {}
        Err(e) => out.notes.push(format!("wait for the server: {e}")),
    }
    drop(srv_in.take());
    if let Err(e) = wait_for(&mut srv, Duration::from_secs(10)) {
        out.notes.push(format!(
            "the {} server, its standard input closed, is {e}",
            server.name()
        ));
    }
    out.server_log = srv_err.join().unwrap_or_default();
    for line in out.server_log.lines() {
        if line.contains("panicked") {
            out.notes.push(format!("server: {line}"));
        }
        // "c10k-server NAME: accepted N, connection errors E, accept errors A, first error: …"
        let count = |what: &str| {
            line.split(what)
                .nth(1)
                .and_then(|r| r.trim().split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|d| d.parse::<u64>().ok())
                .unwrap_or(0)
        };
        if line.starts_with("c10k-server")
            && count("connection errors ") + count("accept errors ") > 0
        {
            out.notes.push(format!("server: {line}"));
        }
    }
    out
}

/// Starts `strace -c -f -p pid -o file` and waits until it has attached to every thread.
fn attach(strace: &str, pid: u32, file: &Path) -> Result<(Child, PathBuf), String> {
    let _ = std::fs::remove_file(file);
    let mut st = Command::new(strace)
        .args(["-c", "-f", "-o"])
        .arg(file)
        .args(["-p", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {strace}: {e}"))?;
    let msgs = lines(st.stderr.take().expect("piped"));
    let want = procfs::threads(pid).max(1);
    let mut attached = 0;
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while attached < want {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(line) = next_line(&msgs, left.min(Duration::from_millis(200))) else {
            if let Ok(Some(status)) = st.try_wait() {
                return Err(format!("strace exited with {status}: {}", said.join("; ")));
            }
            if left.is_zero() {
                if attached > 0 {
                    break;
                }
                let _ = st.kill();
                let _ = st.wait();
                return Err(format!(
                    "strace did not attach within 10 s: {}",
                    said.join("; ")
                ));
            }
            continue;
        };
        // "Process N attached" per thread, or "Process N attached with K threads".
        if line.contains("attached") {
            attached += line
                .split("with ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|k| k.parse::<usize>().ok())
                .unwrap_or(1);
        }
        said.push(line);
    }
    // Drain strace's further messages so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in msgs {});
    Ok((st, file.to_path_buf()))
}
