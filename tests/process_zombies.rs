//! No zombies: children dropped without `wait` are reaped in the background, including
//! when the runtime shuts down before they exit. In a test binary of its own, so that no
//! other test's children are counted.

use kq::process::Command;
use kq::runtime::Builder;
use std::time::{Duration, Instant};

/// The pids of this process's zombie children, from /proc/*/stat.
fn our_zombies() -> Vec<u32> {
    let me = std::process::id();
    let mut zombies = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // gone meanwhile
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if state == Some("Z") && ppid == Some(me) {
            zombies.push(pid);
        }
    }
    zombies
}

/// Waits up to `bound` for `cond`.
fn eventually(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

#[test]
fn a_thousand_children_half_dropped_leave_no_zombie() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut kept = Vec::new();
        let mut dropped = 0;
        for i in 0..1000 {
            let child = Command::new("true").spawn().unwrap();
            if i % 2 == 0 {
                kept.push(child);
            } else {
                // Dropped un-awaited, most of them before they exit.
                drop(child);
                dropped += 1;
            }
            // Keep at most ~100 kept children unwaited at a time, so the fd count stays
            // modest while the dropped ones are in flight.
            if kept.len() == 100 {
                for mut c in kept.drain(..) {
                    assert!(c.wait().await.unwrap().success());
                }
            }
        }
        for mut c in kept.drain(..) {
            assert!(c.wait().await.unwrap().success());
        }
        assert_eq!(dropped, 500);
        // The dropped ones are reaped by background tasks: wait for them to finish.
        let zombies_gone = {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let z = our_zombies();
                if z.is_empty() || Instant::now() > deadline {
                    break z;
                }
                kq::time::sleep(Duration::from_millis(20)).await;
            }
        };
        assert!(zombies_gone.is_empty(), "zombies left: {zombies_gone:?}");
    });
}

#[test]
fn children_dropped_when_the_runtime_shuts_down_are_still_reaped() {
    let rt = Builder::new_current_thread().build().unwrap();
    let pids: Vec<u32> = rt.block_on(async {
        let mut pids = Vec::new();
        for _ in 0..5 {
            // Exits after the runtime is gone.
            let child = Command::new("sleep").arg("0.3").spawn().unwrap();
            pids.push(child.id().unwrap());
            drop(child);
        }
        // Killed on drop, after the runtime is gone.
        let child = Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        pids.push(child.id().unwrap());
        // Leaked into a task that the shutdown cancels: its Child drops then.
        kq::spawn(async move {
            let _child = child;
            std::future::pending::<()>().await;
        });
        pids
    });
    drop(rt);
    let gone = |pid: &u32| !std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(
        eventually(Duration::from_secs(20), || pids.iter().all(gone)),
        "not reaped after the runtime shut down: {:?}",
        pids.iter().filter(|p| !gone(p)).collect::<Vec<_>>()
    );
    // (Not `our_zombies().is_empty()`: the other test's children run meanwhile.)
}
