//! What the benchmark reads about another process (the server under test) in `/proc`.

use std::io;

/// The process's CPU time, user + system, of all its threads, in seconds: fields 14 and 15
/// (`utime`, `stime`) of `/proc/PID/stat`, in clock ticks (`_SC_CLK_TCK`, 100 per second
/// here).
pub(crate) fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| bad(pid, "stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| bad(pid, "stat"))
    };
    let ticks = tick(14 - 3)? + tick(15 - 3)?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Ok(ticks as f64 / hz)
}

/// The time the process's threads have spent on a CPU, in seconds, summed over
/// `/proc/PID/task/*/schedstat` (nanoseconds, exact; threads that already exited are not
/// counted). A finer cross-check of [`cpu_seconds`].
pub(crate) fn sched_seconds(pid: u32) -> io::Result<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        if let Ok(s) = std::fs::read_to_string(path) {
            ns += s
                .split_whitespace()
                .next()
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(ns as f64 / 1e9)
}

/// A `kB` field of `/proc/PID/status` (`VmHWM`: peak resident set; `VmRSS`: resident now).
pub(crate) fn status_kb(pid: u32, field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().strip_suffix("kB")?.trim().parse().ok()
        })
        .ok_or_else(|| bad(pid, field))
}

/// The number of threads of the process.
pub(crate) fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count)
}

fn bad(pid: u32, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("cannot read {what} of /proc/{pid}"),
    )
}
