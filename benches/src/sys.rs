//! Thin wrappers over the Linux calls the benchmarks time or set up with: pipes,
//! socketpairs, raw epoll, `poll(2)`, one-byte I/O, the descriptor limit, clocks, memory
//! and host facts.
//!
//! Each wrapper maps `-1` to `io::Error::last_os_error()`. None retries `EINTR`: the
//! benchmarks install no signal handlers, so no call of theirs is interrupted. Descriptors
//! are created non-blocking, so a read or write that finds nothing to do fails with
//! `EAGAIN` instead of hanging the benchmark.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn cvt(res: libc::c_int) -> io::Result<libc::c_int> {
    if res == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(res)
    }
}

/// A pipe: `(read end, write end)`, both non-blocking and close-on-exec.
///
/// # Errors
///
/// `EMFILE`/`ENFILE` when out of descriptors.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [libc::c_int; 2] = [-1; 2];
    // SAFETY: `fds` is valid for the two ints pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both are fresh descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A connected pair of Unix stream sockets, both non-blocking and close-on-exec.
///
/// # Errors
///
/// `EMFILE`/`ENFILE` when out of descriptors.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [libc::c_int; 2] = [-1; 2];
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: `fds` is valid for the two ints socketpair writes.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) })?;
    // SAFETY: socketpair succeeded, so both are fresh descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Writes exactly one byte.
///
/// # Errors
///
/// The OS error of `write`; `WriteZero` if nothing was written.
pub fn write_byte(fd: RawFd) -> io::Result<()> {
    let byte = 1u8;
    // SAFETY: the buffer is one live byte.
    let n = unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    match n {
        1 => Ok(()),
        0 => Err(io::ErrorKind::WriteZero.into()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Reads exactly one byte.
///
/// # Errors
///
/// The OS error of `read` (`EAGAIN`: nothing was there); `UnexpectedEof` at end of file.
pub fn read_byte(fd: RawFd) -> io::Result<()> {
    let mut byte = 0u8;
    // SAFETY: the buffer is one live byte.
    let n = unsafe { libc::read(fd, (&raw mut byte).cast(), 1) };
    match n {
        1 => Ok(()),
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// A raw epoll instance, used as the baseline the core is held to.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// Creates an empty epoll set.
    ///
    /// # Errors
    ///
    /// The OS errors of `epoll_create1`.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall with a flag argument.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    /// `EPOLL_CTL_ADD` of `fd` with `events`, reported with `token`.
    ///
    /// # Errors
    ///
    /// The OS errors of `epoll_ctl` (`EEXIST`, `EBADF`, `EPERM`, `ENOSPC`).
    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a live epoll_event.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })
            .map(drop)
    }

    /// `EPOLL_CTL_DEL` of `fd`.
    ///
    /// # Errors
    ///
    /// The OS errors of `epoll_ctl` (`ENOENT`, `EBADF`).
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: DEL ignores the event pointer (null is allowed since Linux 2.6.9).
        cvt(unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        })
        .map(drop)
    }

    /// `epoll_wait` into `buf`; `timeout_ms` -1 waits forever.
    ///
    /// # Errors
    ///
    /// The OS errors of `epoll_wait`.
    pub fn wait(
        &self,
        buf: &mut [libc::epoll_event],
        timeout_ms: libc::c_int,
    ) -> io::Result<usize> {
        let max = libc::c_int::try_from(buf.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `buf` is valid for `max <= buf.len()` events.
        let n = cvt(unsafe {
            libc::epoll_wait(self.fd.as_raw_fd(), buf.as_mut_ptr(), max, timeout_ms)
        })?;
        Ok(n as usize)
    }
}

/// `poll(2)` over `fds`; `timeout_ms` -1 waits forever. Returns the number of entries with
/// a non-zero `revents`.
///
/// # Errors
///
/// The OS errors of `poll`.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> io::Result<usize> {
    // SAFETY: `fds` is valid for `fds.len()` pollfds.
    let n = cvt(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) })?;
    Ok(n as usize)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit then in
/// force (unchanged if raising fails).
///
/// # Errors
///
/// The OS error of `getrlimit`.
pub fn raise_nofile() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a live rlimit.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a live rlimit. Failure (a hard limit above `nr_open`) keeps
        // the old soft limit, which is what is returned then.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    Ok(lim.rlim_cur)
}

/// The number of descriptors this process has open now.
///
/// # Errors
///
/// The errors of reading `/proc/self/fd`.
pub fn open_fds() -> io::Result<usize> {
    // The directory handle itself is one of the entries.
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
}

/// The calling thread's CPU time in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`); 0 if the
/// clock cannot be read.
#[must_use]
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// The whole process's CPU time (user + system, all threads, from `getrusage(RUSAGE_SELF)`)
/// in nanoseconds, at the microsecond resolution the call reports; 0 if it fails.
#[must_use]
pub fn process_cpu_ns() -> u64 {
    // SAFETY: an all-zero rusage is a valid out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a live rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0;
    }
    let us = |tv: libc::timeval| {
        (tv.tv_sec as u64)
            .saturating_mul(1_000_000)
            .saturating_add(tv.tv_usec as u64)
    };
    us(ru.ru_utime)
        .saturating_add(us(ru.ru_stime))
        .saturating_mul(1000)
}

/// A field of `/proc/self/status` given in kB (`VmHWM`: peak resident set, `VmRSS`: the
/// resident set now), in kB.
///
/// # Errors
///
/// The errors of reading the file; `InvalidData` if the field is missing or malformed.
pub fn proc_status_kb(field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().strip_suffix("kB")?.trim().parse().ok()
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no {field} in /proc/self/status"),
            )
        })
}

/// The kernel release, as `uname -r` prints it.
#[must_use]
pub fn kernel_release() -> String {
    // SAFETY: an all-zero utsname is a valid out-parameter.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a live utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".to_owned();
    }
    // SAFETY: uname NUL-terminates every field within its array.
    unsafe { CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The current UTC date and time, `YYYY-MM-DD HH:MM:SS UTC`.
#[must_use]
pub fn utc_now() -> String {
    // SAFETY: time(NULL) only returns the time.
    let t = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: an all-zero tm is a valid out-parameter.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are live; gmtime_r is the thread-safe form.
    if unsafe { libc::gmtime_r(&t, &mut tm) }.is_null() {
        return "unknown date".to_owned();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}
