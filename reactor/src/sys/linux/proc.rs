//! EVFILT_PROC: one pidfd per watched process.
//!
//! A pidfd becomes readable when its process exits. The wait status comes from
//! `waitid(P_PIDFD, .., WNOWAIT)` for our own children (the child is not reaped, so the
//! application's own `wait` still works) and from `PIDFD_GET_INFO` for any other process
//! (Linux 6.15+), whose exit information appears once its parent has reaped it: until then
//! the knote is retried by the selector.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `PIDFD_GET_INFO`: `_IOWR(0xFF, 11, struct pidfd_info)` with the 64-byte first version.
const PIDFD_GET_INFO: libc::c_ulong = (3 << 30) | (64 << 16) | (0xFF << 8) | 11;
/// `PIDFD_INFO_EXIT` in `pidfd_info.mask`.
const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// The first version of the kernel's `struct pidfd_info`.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    ids: [u32; 11],
    exit_code: i32,
}

/// Opens a pidfd for `pid`: `ESRCH` if there is no such process.
pub(super) fn open(pid: usize) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::PIDFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The process's wait status if it has exited and the status can be read now.
pub(super) fn exit_status(pidfd: RawFd) -> Option<i32> {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is valid for writes; WNOWAIT leaves the child to its owner.
    let rc = unsafe {
        libc::waitid(
            libc::P_PIDFD,
            pidfd as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT | libc::WNOHANG,
        )
    };
    if rc == 0 {
        // SAFETY: waitid filled `info` for a child (si_pid is 0 if it has not exited).
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return None;
        }
        return Some(match info.si_code {
            libc::CLD_EXITED => (status & 0xff) << 8,
            libc::CLD_KILLED => status & 0x7f,
            libc::CLD_DUMPED => (status & 0x7f) | 0x80,
            _ => return None,
        });
    }
    // Not our child (ECHILD), or already reaped by its owner: ask the pidfd itself.
    let mut pinfo = PidfdInfo {
        mask: PIDFD_INFO_EXIT,
        ..PidfdInfo::default()
    };
    // SAFETY: `pinfo` has the layout and size the request number encodes.
    let rc = unsafe { libc::ioctl(pidfd, PIDFD_GET_INFO as _, &mut pinfo) };
    (rc == 0 && pinfo.mask & PIDFD_INFO_EXIT != 0).then_some(pinfo.exit_code)
}
