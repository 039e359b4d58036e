//! The NetBSD kqueue tutorial's first program, `ktimer.c`, ported to kq's core.
//!
//! A timer knote fires every N seconds (default 5), and each time a child process runs
//! `date(1)`. Unlike the C original, which leaves every child a zombie, the port watches
//! each child with an `EVFILT_PROC`/`NOTE_EXIT` knote on the same kqueue and reaps it when
//! it exits, so the program shows two filters at work. An optional second argument stops it
//! after that many ticks (the original loops forever).
//!
//! Run with: `cargo run --release --example ktimer -- 1` (every second; Ctrl-C to stop), or
//! `cargo run --release --example ktimer -- 1 3` (three ticks, then exit).

use kq::reactor::{
    Data, EV_ADD, EV_ENABLE, EV_ERROR, EVFILT_PROC, EVFILT_TIMER, Kevent, Kqueue, NOTE_EXIT,
};
use std::collections::HashMap;
use std::process::{Child, Command, ExitCode};
use std::ptr;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let seconds: Data = match args.next().map(|s| s.parse()) {
        None => 5,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return usage(),
    };
    let ticks: Option<u64> = match args.next().map(|s| s.parse()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return usage(),
    };
    match run(seconds, ticks) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ktimer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: ktimer [SECONDS (default 5)] [TICKS (default: forever)]");
    ExitCode::FAILURE
}

fn run(seconds: Data, ticks: Option<u64>) -> std::io::Result<()> {
    // create a new kernel event queue
    let kq = Kqueue::new()?;
    // the timer knote: ident 1, period in milliseconds (the default unit)
    let mut changes = vec![Kevent::new(
        1,
        EVFILT_TIMER,
        EV_ADD | EV_ENABLE,
        0,
        seconds * 1000,
        ptr::null_mut(),
    )];
    let mut children: HashMap<usize, Child> = HashMap::new();
    let mut fired = 0u64;
    let mut events = [Kevent::new(0, 0, 0, 0, 0, ptr::null_mut()); 8];
    while ticks.is_none_or(|t| fired < t) || !children.is_empty() {
        let n = kq.kevent(&changes, &mut events, None)?;
        changes.clear();
        for ev in &events[..n] {
            if ev.flags & EV_ERROR != 0 {
                // report any error
                return Err(std::io::Error::from_raw_os_error(ev.data as i32));
            }
            match ev.filter {
                EVFILT_TIMER if ticks.is_none_or(|t| fired < t) => {
                    fired += 1;
                    let child = Command::new("date").spawn()?;
                    let pid = child.id() as usize;
                    changes.push(Kevent::new(
                        pid,
                        EVFILT_PROC,
                        EV_ADD,
                        NOTE_EXIT,
                        0,
                        ptr::null_mut(),
                    ));
                    children.insert(pid, child);
                }
                EVFILT_TIMER => {
                    // all ticks done: stop the timer, wait for the last children
                    changes.push(Kevent::new(
                        1,
                        EVFILT_TIMER,
                        kq::reactor::EV_DELETE,
                        0,
                        0,
                        ptr::null_mut(),
                    ));
                }
                EVFILT_PROC => {
                    if let Some(mut child) = children.remove(&ev.ident) {
                        child.wait()?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}
