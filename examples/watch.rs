//! Watches a directory tree and prints its changes, debounced; given a command, re-runs it
//! after each burst of changes, killing the previous run first (a minimal `watchexec`).
//!
//! Run with:
//!
//! ```text
//! cargo run --example watch -- DIR [-- CMD ARGS...]
//! ```
//!
//! Each line printed is one debounced event: `KIND PATH` (or `Rename FROM -> TO`). An
//! editor's save of `DIR/notes.txt` prints `Modify(Data) DIR/notes.txt`, whatever temporary
//! files the editor wrote. The command runs once at start, then after every burst.

use kq::fs_watch::{EventKind, RecursiveMode, Watcher};
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

/// Changes closer together than this are one burst.
const WINDOW: Duration = Duration::from_millis(100);

#[kq::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, cmd) = match args.iter().position(|a| a == "--") {
        Some(i) => (args[..i].to_vec(), args[i + 1..].to_vec()),
        None => (args.clone(), Vec::new()),
    };
    let [dir] = dir.as_slice() else {
        eprintln!("usage: watch DIR [-- CMD ARGS...]");
        std::process::exit(2);
    };
    let mut watcher = Watcher::new()?;
    watcher.watch(dir, RecursiveMode::Recursive)?;
    let mut events = watcher.debounced(WINDOW);
    let mut child = start(&cmd, None);
    while let Some(first) = events.next().await {
        // Everything that came out of the same burst, then one restart.
        let mut burst = vec![first];
        while let Ok(Some(ev)) = kq::time::timeout(Duration::ZERO, events.next()).await {
            burst.push(ev);
        }
        for ev in burst {
            match ev {
                Ok(ev) => match &ev.kind {
                    EventKind::Rename { from, to } => {
                        println!("Rename {} -> {}", from.display(), to.display())
                    }
                    kind => println!("{kind:?} {}", ev.path().display()),
                },
                Err(e) => eprintln!("watch: {e}"),
            }
        }
        child = start(&cmd, child);
    }
    Ok(())
}

/// Kills and reaps the previous run (its whole process group: a shell's children too), then
/// starts the command (if any) in a process group of its own.
fn start(cmd: &[String], previous: Option<Child>) -> Option<Child> {
    if let Some(mut old) = previous {
        if let Ok(pgid) = libc::pid_t::try_from(old.id()) {
            // SAFETY: kill(2) with a negative pid signals the process group the child leads
            // (created by `process_group(0)` below); it touches no memory. ESRCH (the group
            // is gone) is harmless.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        // It may have exited already: wait reaps it either way.
        let _ = old.wait();
    }
    let (prog, args) = cmd.split_first()?;
    match Command::new(prog).args(args).process_group(0).spawn() {
        Ok(child) => Some(child),
        Err(e) => {
            eprintln!("watch: cannot run {prog}: {e}");
            None
        }
    }
}
