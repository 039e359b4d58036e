//! Runs `examples/watch.rs` as a user would: it prints debounced events of a real directory
//! and re-runs its command after each change, killing (and reaping) the previous run first.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod fs_watch_util;
use fs_watch_util::TempDir;

/// The path of the built example, next to this test's `deps/` directory.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built (`cargo test` builds the examples)",
        path.display()
    );
    path
}

/// The pids the command wrote to `log`, once there are `n` of them (within 10 s).
fn pids(log: &std::path::Path, n: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.len() >= n || Instant::now() > deadline {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn watch_prints_events_and_restarts_the_command() {
    let dir = TempDir::new("example");
    let watched = dir.join("watched");
    std::fs::create_dir(&watched).unwrap();
    let log = dir.join("runs.log");
    // Each run appends its pid and then waits: the restart must kill it.
    let script = format!("echo $$ >> {}; exec sleep 30", log.display());
    let mut child = Command::new(example("watch"))
        .arg(&watched)
        .args(["--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the example");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let first = pids(&log, 1);
    assert_eq!(first.len(), 1, "the command runs once at start");

    let f = watched.join("notes.txt");
    std::fs::write(&f, b"x").unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), format!("Create(File) {}", f.display()));
    let second = pids(&log, 2);
    assert_eq!(second.len(), 2, "the command ran again after the change");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(first[0]) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(first[0]), "the previous run was killed and reaped");

    // An atomic save (temporary file renamed over) is one Modify of the file.
    let tmp = watched.join(".notes.txt.swp");
    std::fs::write(&tmp, b"y").unwrap();
    std::fs::rename(&tmp, &f).unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), format!("Modify(Data) {}", f.display()));
    let third = pids(&log, 3);
    assert_eq!(third.len(), 3);

    child.kill().unwrap();
    child.wait().unwrap();
    // The last run outlives the example (it is in its own process group): end it here.
    let last = third[2];
    let _ = Command::new("kill")
        .args(["-KILL", &last.to_string()])
        .status();
}
