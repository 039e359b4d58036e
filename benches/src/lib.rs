//! kq's benchmarks. See the binaries under `src/bin/`.
//!
//! The library holds what the binaries share: thin wrappers over the Linux calls they time
//! or set up with ([`sys`]), and the statistics and tables of alternating runs ([`stats`]).

pub mod stats;
#[cfg(target_os = "linux")]
pub mod sys;

/// Exits the process with status 3 if `heartbeat` does not move for `stall`: a benchmark
/// sample that never finishes is a lost wakeup, reported as `what` on stderr.
pub fn start_watchdog(
    heartbeat: &'static std::sync::atomic::AtomicU64,
    stall: std::time::Duration,
    what: &'static str,
) {
    use std::sync::atomic::Ordering;
    std::thread::spawn(move || {
        let mut seen = heartbeat.load(Ordering::Relaxed);
        let mut since = std::time::Instant::now();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let now = heartbeat.load(Ordering::Relaxed);
            if now != seen {
                (seen, since) = (now, std::time::Instant::now());
            } else if since.elapsed() >= stall {
                eprintln!("error: no progress for {} s: {what}", stall.as_secs());
                std::process::exit(3);
            }
        }
    });
}
