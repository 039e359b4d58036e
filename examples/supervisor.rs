//! A process supervisor on `kq::process` and `kq::signal`: keeps N worker children alive,
//! restarts each one when it exits, and on Ctrl-C or SIGTERM stops them all (SIGTERM to
//! each) and reaps every one before it exits.
//!
//! One task does it all: each turn of its loop polls the two signal streams and every
//! child's `wait` (each child's exit is its own `EVFILT_PROC` knote; no SIGCHLD handler).
//!
//! Prints one line per event: `started <slot> <pid>`, `exited <slot> <pid> <status>`,
//! `stopping on <signal>`, `reaped <slot> <pid> <status>`, and finally `reaped all <n>`.
//!
//! Run with: `cargo run --example supervisor -- 3 sh -c 'sleep 1'` (then press Ctrl-C).
//! Without a command, each worker is `sleep 2`.

use kq::process::{Child, Command};
use kq::signal::unix::{SignalKind, signal};
use std::future::{Future, poll_fn};
use std::io;
use std::pin::pin;
use std::process::{ExitCode, ExitStatus};
use std::task::Poll;

enum Event {
    Stop(&'static str),
    Exited(usize, u32, io::Result<ExitStatus>),
}

fn start(slot: usize, cmd: &[String]) -> io::Result<Child> {
    let child = Command::new(&cmd[0]).args(&cmd[1..]).spawn()?;
    println!("started {slot} {}", child.id().unwrap_or(0));
    Ok(child)
}

#[kq::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(n) = args
        .first()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
    else {
        eprintln!("usage: supervisor N [COMMAND [ARGS...]]  (N > 0)");
        return ExitCode::from(2);
    };
    let cmd: Vec<String> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec!["sleep".into(), "2".into()]
    };
    match run(n, &cmd).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("supervisor: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(n: usize, cmd: &[String]) -> io::Result<()> {
    // Registered before any child exists: a signal from now on is ours to handle.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut workers = Vec::with_capacity(n);
    for slot in 0..n {
        workers.push(start(slot, cmd)?);
    }
    let why = loop {
        let event = poll_fn(|cx| {
            if term.poll_recv(cx).is_ready() {
                return Poll::Ready(Event::Stop("SIGTERM"));
            }
            if int.poll_recv(cx).is_ready() {
                return Poll::Ready(Event::Stop("SIGINT"));
            }
            for (slot, child) in workers.iter_mut().enumerate() {
                // `wait` is cancel safe: a fresh future per poll loses nothing.
                let pid = child.id().unwrap_or(0);
                if let Poll::Ready(res) = pin!(child.wait()).poll(cx) {
                    return Poll::Ready(Event::Exited(slot, pid, res));
                }
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Stop(why) => break why,
            Event::Exited(slot, pid, status) => {
                println!("exited {slot} {pid} {}", describe(&status?));
                workers[slot] = start(slot, cmd)?;
            }
        }
    };
    println!("stopping on {why}");
    for child in &workers {
        if let Some(pid) = child.id() {
            // SAFETY: `pid` is our unreaped child (id() is None once reaped), so it
            // cannot have been reused by another process.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
    }
    for (slot, child) in workers.iter_mut().enumerate() {
        let pid = child.id().unwrap_or(0);
        let status = child.wait().await?;
        println!("reaped {slot} {pid} {}", describe(&status));
    }
    println!("reaped all {n}");
    Ok(())
}

fn describe(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("code {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "unknown".into(),
    }
}
