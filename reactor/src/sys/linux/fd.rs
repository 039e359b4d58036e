//! EVFILT_READ and EVFILT_WRITE on descriptors: one slot per fd number.
//!
//! A pollable descriptor (socket, pipe, FIFO, tty, eventfd, epoll/kqueue, ...) is
//! registered once in epoll, edge-triggered, for the union of the directions its READ and
//! WRITE knotes need: an epoll event is only a *hint* that
//! runs the knotes' filters, which compute readiness and `data` from the descriptor itself
//! (`FIONREAD`, `SIOCOUTQ`, `poll`). That is what keeps the READ and WRITE knotes of one fd
//! independent (each has its own CLEAR/ONESHOT/DISPATCH/udata) although epoll has one
//! registration per fd. Regular files and directories cannot be in epoll; their READ knotes
//! are woken through inotify (see `vnode.rs`) and their WRITE knotes are always ready.
//!
//! # Identity
//!
//! The kernel does not tell kq when an fd is closed. Each slot records the file's identity
//! (`st_dev`, `st_ino`) and a generation carried by its epoll token. A change that names the
//! fd again checks the identity; a different file means the old knotes belong to a closed
//! descriptor, and they are dropped before the change is applied. A knote re-evaluated
//! without a fresh hint checks the identity too, so a reused fd number never delivers an
//! event under the old registration.

use super::abi::{EVFILT_READ, NOTE_FILE_POLL, NOTE_LOWAT};
use super::knote::Key;
use super::syscall;
use std::io;
use std::os::fd::RawFd;
use std::sync::Weak;

/// What kind of file an fd slot refers to.
#[derive(Debug, Clone)]
pub(super) enum FdKind {
    /// A socket; `sndbuf` is read on first need.
    Socket { sndbuf: Option<i64> },
    /// A pipe or FIFO: its capacity (-1 until needed) and its access mode (`O_ACCMODE` of
    /// the descriptor: a READ knote on a write-only end, or a WRITE knote on a read-only
    /// end, is accepted and never fires, as FreeBSD's `pipe_nfiltops`).
    Pipe { size: i64, accmode: i32 },
    /// A character device (tty, ...): `FIONREAD` works, readiness from `poll`.
    Char,
    /// Regular file or directory: inotify, not epoll.
    File,
    /// Another kqueue of this process (its pending count is the `data`).
    Kqueue(Weak<super::selector::Inner>),
    /// Any other pollable file (eventfd, timerfd, signalfd, pidfd, epoll).
    Other,
    /// A file epoll refuses that is not a regular file or directory: always ready, as poll.
    NoPoll,
    /// Accepted by epoll, not classified yet: `dev`/`ino` are unknown too. A READ or WRITE
    /// knote is registered without an `fstat`; the slot is classified when something needs
    /// the kind (a filter computing `data`, an error or hang-up in a hint, a kqueue's
    /// activity with `edge_data`), and until then epoll itself is its identity check. An
    /// unclassified slot is always in epoll, except between the two changes of a paired
    /// deletion.
    Unknown,
}

/// The state of one fd number.
#[derive(Debug)]
pub(super) struct FdSlot {
    pub(super) read: Option<Key>,
    pub(super) write: Option<Key>,
    pub(super) vnode: Option<Key>,
    pub(super) kind: FdKind,
    /// Generation carried in the epoll token (`generation << 32 | fd`).
    pub(super) generation: u32,
    pub(super) in_epoll: bool,
    /// The epoll events registered (valid when `in_epoll`).
    pub(super) interest: u32,
    pub(super) dev: u64,
    pub(super) ino: u64,
    /// inotify watch descriptor for READ on a file or VNODE, -1 if none.
    pub(super) wd: i32,
    /// The call (`State::seq`) in which the identity was last checked.
    pub(super) checked: u64,
    /// The call in which epoll was last given this slot's interest (ADD or MOD): epoll
    /// re-polled the fd then, and reports in that call whatever is ready.
    pub(super) armed: u64,
    /// The call in which the last epoll hint arrived, and its event bits.
    pub(super) hint_seq: u64,
    pub(super) hint: u32,
    /// Sticky conditions seen in hints: read side shut down, hang-up, error.
    pub(super) rdhup: bool,
    pub(super) hup: bool,
    /// The socket error read with `SO_ERROR` when `EPOLLERR` was seen (0 if none).
    pub(super) so_error: i32,
    /// For a kqueue's fd: the watched kqueue's activation count at the last hint taken.
    pub(super) kq_activity: u64,
}

impl FdSlot {
    pub(super) fn is_empty(&self) -> bool {
        self.read.is_none() && self.write.is_none() && self.vnode.is_none()
    }
}

/// `fstat`, mapping a bad fd (or an ident that is no fd at all) to `EBADF`.
pub(super) fn stat(fd: usize) -> io::Result<libc::stat> {
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: a zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    syscall!(fstat(fd, &mut st))?;
    Ok(st)
}

/// Classifies a file by its mode; `kqueue` is the pending-count handle if it is a kqueue.
pub(super) fn classify(st: &libc::stat, kqueue: Option<Weak<super::selector::Inner>>) -> FdKind {
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFDIR => FdKind::File,
        libc::S_IFSOCK => FdKind::Socket { sndbuf: None },
        libc::S_IFIFO => FdKind::Pipe {
            size: -1,
            accmode: libc::O_RDWR,
        },
        libc::S_IFCHR => FdKind::Char,
        _ => kqueue.map_or(FdKind::Other, FdKind::Kqueue),
    }
}

/// Completes a classification that needs the descriptor itself: a pipe's access mode.
pub(super) fn refine(kind: &mut FdKind, fd: RawFd) {
    if let FdKind::Pipe { accmode, .. } = kind {
        if let Ok(fl) = syscall!(fcntl(fd, libc::F_GETFL)) {
            *accmode = fl & libc::O_ACCMODE;
        }
    }
}

/// The result of running a READ or WRITE filter.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Eval {
    pub(super) ready: bool,
    pub(super) data: i64,
    pub(super) eof: bool,
    pub(super) fflags: u32,
}

fn ioctl_int(fd: RawFd, req: libc::c_ulong) -> io::Result<i64> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD/SIOCOUTQ write one int to the pointer.
    syscall!(ioctl(fd, req as _, &mut n))?;
    Ok(i64::from(n))
}

fn getsockopt_int(fd: RawFd, level: libc::c_int, opt: libc::c_int) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes and `len` is v's size.
    syscall!(getsockopt(fd, level, opt, (&raw mut v).cast(), &mut len))?;
    Ok(v)
}

/// `poll(2)` with a zero timeout: the current readiness bits.
fn poll_now(fd: RawFd, events: libc::c_short) -> io::Result<libc::c_short> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    syscall!(poll(&mut p, 1, 0))?;
    if p.revents & libc::POLLNVAL != 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(p.revents)
}

/// Connections ready for `accept` on a listening socket (TCP: `tcpi_unacked` of a LISTEN
/// socket is its accept queue length); 1 where Linux does not tell (Unix sockets).
fn listen_backlog(fd: RawFd) -> i64 {
    // SAFETY: a zeroed tcp_info is a valid out-parameter.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid for writes and `len` is info's size.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        i64::from(info.tcpi_unacked)
    } else {
        1
    }
}

impl FdSlot {
    /// Classifies an [`FdKind::Unknown`] slot from the descriptor as it is now, taking its
    /// identity (`dev`/`ino`) as well. The caller knows the number still names the file
    /// it registered: a hint has just come for it, or epoll accepted a change of it.
    pub(super) fn classify_now(&mut self, fd: RawFd) -> io::Result<()> {
        if !matches!(self.kind, FdKind::Unknown) {
            return Ok(());
        }
        let st = stat(fd as usize)?;
        let mut kind = classify(&st, super::lookup_kqueue(fd));
        refine(&mut kind, fd);
        self.kind = kind;
        self.dev = st.st_dev;
        self.ino = st.st_ino;
        Ok(())
    }

    /// Takes the sticky conditions out of an epoll hint.
    pub(super) fn note_hint(&mut self, fd: RawFd, events: u32, seq: u64) {
        if events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
            // What an error or hang-up means depends on the kind (a pipe's wrong end, a
            // socket's pending error). A failure leaves the slot unclassified: the filter
            // that runs next meets the same error and drops the knote.
            let _ = self.classify_now(fd);
        }
        self.hint_seq = seq;
        self.hint = events;
        if events & libc::EPOLLRDHUP as u32 != 0 {
            self.rdhup = true;
        }
        if events & libc::EPOLLHUP as u32 != 0 {
            self.hup = true;
            self.rdhup = true;
        }
        if events & libc::EPOLLERR as u32 != 0 && matches!(self.kind, FdKind::Pipe { .. }) {
            // The write end of a pipe whose reader is gone.
            self.hup = true;
        }
        if events & libc::EPOLLERR as u32 != 0 && self.so_error == 0 {
            if let FdKind::Socket { .. } = self.kind {
                // Reading SO_ERROR clears it in the kernel (a documented deviation); it is
                // kept here so both knotes of the fd report it.
                self.so_error = getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ERROR).unwrap_or(0);
            }
        }
    }

    /// The READ or WRITE filter of an edge-triggered knote taken from this call's epoll
    /// hint alone, with no system call (and so `data` 0), for kqueues built with
    /// `edge_data(false)`. `None` where the hint cannot tell (files). A kqueue's descriptor
    /// is taken at its word too: readable means it has events, or had hints to take.
    pub(super) fn eval_hinted(&mut self, is_read: bool) -> Option<Eval> {
        let wrong_end = match self.kind {
            FdKind::Pipe { accmode, .. } => {
                accmode
                    == if is_read {
                        libc::O_WRONLY
                    } else {
                        libc::O_RDONLY
                    }
            }
            // Unknown: a hint with an error or hang-up classified it (`note_hint`), and input
            // or output is never reported on a pipe's wrong end.
            FdKind::Socket { .. }
            | FdKind::Char
            | FdKind::Other
            | FdKind::Kqueue(_)
            | FdKind::Unknown => false,
            FdKind::File | FdKind::NoPoll => return None,
        };
        let mut ev = Eval::default();
        if wrong_end {
            return Some(ev);
        }
        let err = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
        let want = if is_read {
            (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 | err
        } else {
            libc::EPOLLOUT as u32 | err
        };
        ev.ready = self.hint & want != 0;
        ev.eof = if is_read { self.rdhup } else { self.hup };
        ev.fflags = self.so_error as u32;
        if is_read && !ev.eof {
            // As in `eval_read`: a pending error without end of stream (UDP) is reported
            // once, then forgotten, so that a later datagram does not carry it again.
            self.so_error = 0;
        }
        Some(ev)
    }

    /// Runs the READ filter. `fresh`: an epoll hint for input arrived in this call.
    pub(super) fn eval_read(
        &mut self,
        fd: RawFd,
        sfflags: u32,
        sdata: i64,
        fresh: bool,
    ) -> io::Result<Eval> {
        let lowat = if sfflags & NOTE_LOWAT != 0 && sdata > 0 {
            sdata
        } else {
            1
        };
        self.classify_now(fd)?;
        let mut ev = Eval::default();
        match &self.kind {
            FdKind::Pipe {
                accmode: libc::O_WRONLY,
                ..
            } => return Ok(ev),
            FdKind::Socket { .. } | FdKind::Pipe { .. } | FdKind::Char => {
                if !fresh && matches!(self.kind, FdKind::Char) {
                    let r = poll_now(fd, libc::POLLIN)?;
                    self.rdhup |= r & libc::POLLHUP != 0;
                }
                match ioctl_int(fd, libc::FIONREAD) {
                    Ok(n) => ev.data = n,
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                        // A listening socket: FIONREAD does not apply.
                        let r = poll_now(fd, libc::POLLIN)?;
                        if r & libc::POLLIN != 0 {
                            ev.data = listen_backlog(fd).max(1);
                        }
                    }
                    Err(e) => return Err(e),
                }
                ev.eof = self.rdhup;
                ev.ready = ev.data >= lowat || ev.eof;
            }
            FdKind::Kqueue(other) => {
                let other = other
                    .upgrade()
                    .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
                ev.data = other.peek_pending() as i64;
                ev.ready = ev.data > 0;
            }
            FdKind::Other => {
                let readable = fresh && self.hint & libc::EPOLLIN as u32 != 0
                    || poll_now(fd, libc::POLLIN)? & libc::POLLIN != 0;
                ev.ready = readable || self.hup;
                ev.data = i64::from(readable);
                ev.eof = self.hup;
            }
            FdKind::NoPoll | FdKind::Unknown => {
                ev.ready = true;
            }
            FdKind::File => {
                let st = stat(fd as usize)?;
                // SAFETY: lseek on an open fd with SEEK_CUR only reads the offset.
                let off = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
                ev.data = if off < 0 { 0 } else { st.st_size - off };
                ev.ready = ev.data != 0 || sfflags & NOTE_FILE_POLL != 0;
            }
        }
        if self.so_error != 0 {
            // A pending error wakes the reader; it is EOF only if the read side is shut
            // (a UDP error is "temporary": reported once, as the application would have
            // consumed it with its next receive).
            ev.ready = true;
            ev.fflags = self.so_error as u32;
            if !ev.eof {
                self.so_error = 0;
            }
        }
        Ok(ev)
    }

    /// Runs the WRITE filter. `fresh`: an epoll hint for output arrived in this call.
    pub(super) fn eval_write(&mut self, fd: RawFd, fresh: bool) -> io::Result<Eval> {
        self.classify_now(fd)?;
        let mut ev = Eval::default();
        if matches!(self.kind, FdKind::File | FdKind::NoPoll) {
            ev.ready = true;
            return Ok(ev);
        }
        if matches!(
            self.kind,
            FdKind::Pipe {
                accmode: libc::O_RDONLY,
                ..
            }
        ) {
            return Ok(ev);
        }
        let writable = if fresh && self.hint & libc::EPOLLOUT as u32 != 0 {
            true
        } else {
            let r = poll_now(fd, libc::POLLOUT)?;
            self.hup |= r & libc::POLLHUP != 0;
            if r & libc::POLLERR != 0 && matches!(self.kind, FdKind::Pipe { .. }) {
                self.hup = true;
            }
            r & libc::POLLOUT != 0
        };
        ev.eof = self.hup;
        ev.fflags = self.so_error as u32;
        ev.ready = writable || ev.eof || self.so_error != 0;
        if writable && !ev.eof {
            ev.data = match &mut self.kind {
                FdKind::Socket { sndbuf } => {
                    let buf = match *sndbuf {
                        Some(b) => b,
                        None => {
                            let b =
                                i64::from(getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF)?);
                            *sndbuf = Some(b);
                            b
                        }
                    };
                    (buf - ioctl_int(fd, libc::TIOCOUTQ).unwrap_or(0)).max(0)
                }
                FdKind::Pipe { size, .. } => {
                    if *size < 0 {
                        *size = i64::from(syscall!(fcntl(fd, libc::F_GETPIPE_SZ)).unwrap_or(4096));
                    }
                    (*size - ioctl_int(fd, libc::FIONREAD).unwrap_or(0)).max(0)
                }
                _ => 1,
            };
        }
        Ok(ev)
    }

    /// Whether the fd still names the file this slot was made for: equal `st_dev`/`st_ino`.
    /// An unclassified slot has none to compare and asks epoll ([`FdSlot::still_registered`]),
    /// then is classified, once.
    pub(super) fn same_file(&mut self, epfd: RawFd, fd: usize) -> io::Result<bool> {
        if matches!(self.kind, FdKind::Unknown) {
            let same = self.still_registered(epfd, fd)?;
            if same {
                self.classify_now(fd as RawFd)?;
            }
            return Ok(same);
        }
        let st = stat(fd)?;
        Ok(st.st_dev == self.dev && st.st_ino == self.ino)
    }

    /// For a slot in epoll: whether the fd still names the open file we registered.
    /// epoll keys registrations by open file, so `EPOLL_CTL_MOD` of ours succeeds exactly
    /// then (a FIFO or tty reopened on the same number has the same inode but a new open
    /// file); `ENOENT` says it names another. Like FreeBSD's re-evaluation on modify, it
    /// re-reports a condition that holds.
    pub(super) fn still_registered(&mut self, epfd: RawFd, fd: usize) -> io::Result<bool> {
        let mut ev = libc::epoll_event {
            events: self.interest,
            u64: (u64::from(self.generation) << 32) | fd as u64,
        };
        // SAFETY: `ev` is a valid epoll_event.
        match syscall!(epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd as RawFd, &mut ev)) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Whether a filter uses the fd slot's READ or WRITE knote.
pub(super) fn is_read(filter: i16) -> bool {
    filter == EVFILT_READ
}
