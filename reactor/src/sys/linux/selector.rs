//! The Linux selector: FreeBSD's `kqueue_register` and `kqueue_scan` in user space.
//!
//! # Concurrency protocol
//!
//! All knote state lives in `State` behind one mutex. A call applies its changes and scans
//! the active queue under the lock. To wait, the lock is released:
//!
//! - at most one thread, *the poller*, blocks in `epoll_pwait2` (`State::polling`); the
//!   others wait on the condition variable with their own deadline;
//! - the poller is woken through `wakefd`, an eventfd in the epoll set, when another thread
//!   makes it necessary: an event became pending, or the next timer moved earlier than the
//!   deadline the poller sleeps to (`State::poll_deadline`); condvar waiters are notified in
//!   the same cases, and whenever the poller leaves, so that one of them can take over;
//! - a zero-timeout harvest (`epoll_wait` with timeout 0) is done under the lock and may run
//!   beside a blocked poller; epoll hands each edge to one of them, and both feed the same
//!   active queue.
//!
//! `wakefd` doubles as the kqueue's visibility: at the end of every call it is left
//! signalled exactly when the active queue is not empty, so the epoll descriptor (the
//! kqueue's fd) is readable while events are pending.
//!
//! # Fork
//!
//! A child process inherits the epoll set *shared* with the parent. A `pthread_atfork`
//! handler bumps `FORK_GEN` in the child; a selector created under another generation fails
//! every call with `EBADF` and never issues `epoll_ctl`.

use super::abi::*;
use super::fd::{self, FdKind, FdSlot};
use super::knote::{ACTIVE, DISABLED, Key, Knote, QUEUED, Source, Table};
use super::signal;
use super::syscall;
use super::timer::{self, TimerState, Timers};
use super::vnode::Inotify;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

const TOKEN_WAKE: u64 = u64::MAX;
const TOKEN_SIGNAL: u64 = u64::MAX - 1;
const TOKEN_INOTIFY: u64 = u64::MAX - 2;
const TOKEN_TIMERFD: u64 = u64::MAX - 3;
/// Set in the tokens of pidfds: `PROC_BIT | generation << 32 | key`.
const PROC_BIT: u64 = 1 << 63;
/// epoll events taken per wait (never more than the caller has room for).
const HARVEST: usize = 256;
/// How often a process whose exit status is not readable yet is retried.
const PROC_RETRY_NS: u64 = 2_000_000;

static FORK_GEN: AtomicU64 = AtomicU64::new(0);

extern "C" fn forked_child() {
    FORK_GEN.fetch_add(1, Ordering::Relaxed);
}

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// The Linux kqueue: a handle on its shared internals (other kqueues that watch its
/// descriptor reach them through the registry in `mod.rs`).
#[derive(Debug)]
pub(crate) struct Selector(Arc<Inner>);

/// The kqueue's descriptors and state.
#[derive(Debug)]
pub(crate) struct Inner {
    epfd: OwnedFd,
    wakefd: OwnedFd,
    state: Mutex<State>,
    cv: Condvar,
    fork_gen: u64,
    /// Number of queued knotes at the end of the last call (read without the lock).
    pending: std::sync::atomic::AtomicUsize,
    /// `Table::activations` at the end of the last call (read without the lock).
    activity: AtomicU64,
    /// The descriptor was handed out: keep timers visible through it (`timerfd`).
    observed: AtomicBool,
    timerfd: OnceLock<OwnedFd>,
}

/// Everything behind the selector's lock.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) table: Table,
    pub(super) fds: Vec<Option<FdSlot>>,
    pub(super) timers: Timers,
    pub(super) inotify: Option<Inotify>,
    signal_keys: Vec<Key>,
    signal_watch: bool,
    proc_retry: Vec<Key>,
    /// fds whose knotes changed outside `register` (a oneshot delivered, a closed fd).
    dirty: Vec<usize>,
    /// Compute `data` for edge-triggered READ/WRITE events that come with a fresh hint
    /// (`Builder::edge_data`).
    pub(super) edge_data: bool,
    /// Call counter: identity checks and hints are "fresh" within one call.
    pub(super) seq: u64,
    signalled: bool,
    polling: bool,
    poll_deadline: u64,
    cv_waiters: usize,
    timerfd_armed: u64,
}

impl Selector {
    pub(crate) fn new(opts: &crate::sys::Options) -> io::Result<Selector> {
        let inner = Arc::new(Inner::new(opts)?);
        super::register_kqueue(inner.epfd.as_raw_fd(), &inner);
        Ok(Selector(inner))
    }

    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// See [`Kqueue::kevent_raw`](crate::Kqueue::kevent_raw).
    ///
    /// # Safety
    ///
    /// As `Kqueue::kevent_raw`.
    pub(crate) unsafe fn kevent(
        &self,
        changes: *const Kevent,
        nchanges: usize,
        events: *mut Kevent,
        nevents: usize,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        // SAFETY: forwarded contract.
        unsafe { self.0.kevent(changes, nchanges, events, nevents, timeout) }
    }
}

impl Drop for Selector {
    fn drop(&mut self) {
        super::unregister_kqueue(self.0.epfd.as_raw_fd());
    }
}

impl Inner {
    fn new(opts: &crate::sys::Options) -> io::Result<Inner> {
        static ATFORK: OnceLock<()> = OnceLock::new();
        ATFORK.get_or_init(|| {
            // SAFETY: registers a child handler that only touches an atomic.
            unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
        });
        let epfd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        // SAFETY: fresh descriptor, owned from here on.
        let epfd = unsafe { OwnedFd::from_raw_fd(epfd) };
        let wakefd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
        // SAFETY: fresh descriptor, owned from here on.
        let wakefd = unsafe { OwnedFd::from_raw_fd(wakefd) };
        epoll_add(
            epfd.as_raw_fd(),
            wakefd.as_raw_fd(),
            libc::EPOLLIN as u32,
            TOKEN_WAKE,
        )?;
        Ok(Inner {
            epfd,
            wakefd,
            state: Mutex::new(State {
                poll_deadline: u64::MAX,
                timerfd_armed: u64::MAX,
                edge_data: opts.edge_data,
                ..State::default()
            }),
            cv: Condvar::new(),
            fork_gen: FORK_GEN.load(Ordering::Relaxed),
            pending: std::sync::atomic::AtomicUsize::new(0),
            activity: AtomicU64::new(0),
            observed: AtomicBool::new(false),
            timerfd: OnceLock::new(),
        })
    }

    fn as_raw_fd(&self) -> RawFd {
        if !self.observed.swap(true, Ordering::AcqRel) {
            // From now on expiring timers must make the descriptor readable. Failing to
            // create the timerfd only loses that (documented) property.
            if let Ok(fd) = syscall!(timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_CLOEXEC | libc::TFD_NONBLOCK
            )) {
                // SAFETY: fresh descriptor, owned from here on.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                if epoll_add(
                    self.epfd.as_raw_fd(),
                    fd.as_raw_fd(),
                    libc::EPOLLIN as u32,
                    TOKEN_TIMERFD,
                )
                .is_ok()
                {
                    let _ = self.timerfd.set(fd);
                    let mut st = self.lock();
                    st.timerfd_armed = u64::MAX;
                    self.finish(&mut st);
                }
            }
        }
        self.epfd.as_raw_fd()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed in a way that
        // breaks memory safety; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// See [`Kqueue::kevent_raw`](crate::Kqueue::kevent_raw).
    unsafe fn kevent(
        &self,
        changes: *const Kevent,
        nchanges: usize,
        events: *mut Kevent,
        nevents: usize,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        if FORK_GEN.load(Ordering::Relaxed) != self.fork_gen {
            return Err(errno(libc::EBADF));
        }
        let deadline = timeout
            .map(|t| timer::now().saturating_add(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)));
        let mut st = self.lock();
        st.seq += 1;
        let mut nerr = 0;
        for i in 0..nchanges {
            // SAFETY: the caller guarantees `changes` is valid for `nchanges` reads; the
            // change is copied before any entry at or before index `i` is written.
            let mut c = unsafe { ptr::read(changes.add(i)) };
            if c.filter == 0 {
                continue; // FreeBSD skips filter 0 silently.
            }
            c.flags &= !EV_SYSFLAGS;
            let err = match st.register(self, &c) {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL),
            };
            if err != 0 || c.flags & EV_RECEIPT != 0 {
                if nerr == nevents {
                    self.finish(&mut st);
                    return if err != 0 { Err(errno(err)) } else { Ok(0) };
                }
                c.flags = EV_ERROR;
                c.data = err as Data;
                // SAFETY: `nerr < nevents`, and the caller guarantees `events` is valid for
                // `nevents` writes.
                unsafe { ptr::write(events.add(nerr), c) };
                nerr += 1;
            }
        }
        if nerr > 0 || nevents == 0 {
            self.finish(&mut st);
            return Ok(nerr);
        }
        let mut polled = false;
        loop {
            // The clock is read only when something is timed (vDSO, but on every call).
            let timed = deadline.is_some()
                || st.timers.next_deadline().is_some()
                || !st.proc_retry.is_empty();
            let now = if timed { timer::now() } else { 0 };
            if timed {
                st.expire_timers(now);
                st.retry_procs();
            }
            if !polled && st.table.queued() > 0 {
                // Pending knotes could otherwise starve the kernel's hints.
                self.harvest(&mut st, nevents)?;
                polled = true;
            }
            // SAFETY: `events` is valid for `nevents` writes (caller's contract).
            let n = unsafe { st.scan(events, nevents) };
            if n > 0 {
                self.finish(&mut st);
                return Ok(n);
            }
            let mut until = deadline.unwrap_or(u64::MAX);
            if let Some(t) = st.timers.next_deadline() {
                until = until.min(t);
            }
            if !st.proc_retry.is_empty() {
                until = until.min(now.saturating_add(PROC_RETRY_NS));
            }
            let expired = deadline.is_some_and(|d| now >= d);
            if expired && polled {
                self.finish(&mut st);
                return Ok(0);
            }
            if until <= now {
                self.harvest(&mut st, nevents)?;
                polled = true;
                continue;
            }
            // `until` is MAX exactly when nothing is timed: wait without a timeout.
            let wait = (until != u64::MAX).then(|| until - now);
            if st.polling {
                st.cv_waiters += 1;
                st = match wait {
                    Some(ns) => self
                        .cv
                        .wait_timeout(st, Duration::from_nanos(ns))
                        .map_or_else(|e| e.into_inner().0, |(g, _)| g),
                    None => self.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                };
                st.cv_waiters -= 1;
                polled = false;
                continue;
            }
            match self.block(st, until, wait, nevents) {
                (guard, Ok(())) => st = guard,
                (mut guard, Err(e)) if e.raw_os_error() == Some(libc::EINTR) => {
                    // A handler ran. Report what is pending, else EINTR (the changes stand).
                    self.harvest(&mut guard, nevents)?;
                    guard.expire_timers(timer::now());
                    // SAFETY: as above.
                    let n = unsafe { guard.scan(events, nevents) };
                    self.finish(&mut guard);
                    return if n > 0 { Ok(n) } else { Err(e) };
                }
                (mut guard, Err(e)) => {
                    self.finish(&mut guard);
                    return Err(e);
                }
            }
            polled = true;
        }
    }

    /// Blocks in epoll as the poller until the monotonic time `until` (`wait` ns from now,
    /// or forever when `None`), then processes the hints.
    fn block<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        until: u64,
        wait: Option<u64>,
        room: usize,
    ) -> (MutexGuard<'a, State>, io::Result<()>) {
        st.polling = true;
        st.poll_deadline = until;
        if st.signalled && st.table.queued() == 0 {
            self.reset_wake(&mut st);
        }
        drop(st);
        let mut buf = [libc::epoll_event { events: 0, u64: 0 }; HARVEST];
        let res = epoll_wait(self.epfd.as_raw_fd(), &mut buf[..room.min(HARVEST)], wait);
        let mut st = self.lock();
        st.polling = false;
        st.poll_deadline = u64::MAX;
        if st.cv_waiters > 0 {
            self.cv.notify_all();
        }
        match res {
            Ok(n) => {
                self.process_hints(&mut st, &buf[..n]);
                if n == HARVEST && room > n {
                    // More may be ready than one buffer holds: take what the caller has room for.
                    if let Err(e) = self.harvest_more(&mut st, room - n) {
                        return (st, Err(e));
                    }
                }
                (st, Ok(()))
            }
            Err(e) => (st, Err(e)),
        }
    }

    /// Takes the hints epoll has now, without waiting, up to `room` of them.
    fn harvest(&self, st: &mut State, room: usize) -> io::Result<()> {
        self.harvest_more(st, room)
    }

    fn harvest_more(&self, st: &mut State, mut room: usize) -> io::Result<()> {
        let mut buf = [libc::epoll_event { events: 0, u64: 0 }; HARVEST];
        while room > 0 {
            let chunk = room.min(HARVEST);
            match epoll_wait(self.epfd.as_raw_fd(), &mut buf[..chunk], Some(0)) {
                Ok(n) => {
                    self.process_hints(st, &buf[..n]);
                    if n < chunk {
                        return Ok(());
                    }
                    room -= n;
                }
                // A handler ran during a zero-timeout poll: nothing was taken; the signal's
                // own hint stays in the epoll set for the next harvest.
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn process_hints(&self, st: &mut State, hints: &[libc::epoll_event]) {
        for ev in hints {
            let (token, events) = (ev.u64, ev.events);
            match token {
                TOKEN_WAKE => self.reset_wake(st),
                TOKEN_SIGNAL => st.signal_hint(),
                TOKEN_INOTIFY => st.read_inotify(),
                TOKEN_TIMERFD => {
                    if let Some(t) = self.timerfd.get() {
                        let mut n = 0u64;
                        // SAFETY: reading the 8-byte expiration count into a live u64;
                        // EAGAIN (already read) is harmless.
                        unsafe { libc::read(t.as_raw_fd(), (&raw mut n).cast(), 8) };
                    }
                    st.timerfd_armed = u64::MAX;
                }
                t if t & PROC_BIT != 0 => {
                    st.proc_hint((t & 0xffff_ffff) as Key, ((t >> 32) & 0x7fff_ffff) as u32)
                }
                t => st.fd_hint((t & 0xffff_ffff) as usize, (t >> 32) as u32, events),
            }
        }
    }

    fn reset_wake(&self, st: &mut State) {
        let mut n = 0u64;
        // SAFETY: reading the eventfd's 8-byte counter into a live u64; EAGAIN means it was
        // already zero.
        unsafe { libc::read(self.wakefd.as_raw_fd(), (&raw mut n).cast(), 8) };
        st.signalled = false;
    }

    fn signal_wake(&self, st: &mut State) {
        if !st.signalled {
            let one = 1u64;
            // SAFETY: writing 8 bytes from a live u64 to our eventfd; it cannot overflow
            // since every write is matched by a reset before the next.
            unsafe { libc::write(self.wakefd.as_raw_fd(), (&raw const one).cast(), 8) };
            st.signalled = true;
        }
    }

    /// End of a call: keep the wake descriptor in step with the queue, wake a poller that
    /// must recompute its deadline, and keep timers visible if the descriptor is watched.
    fn finish(&self, st: &mut State) {
        while let Some(fd) = st.dirty.pop() {
            // A closed descriptor's registration is already gone; its slot is dropped by
            // the next change that names the fd.
            let _ = st.release_fd(self, fd);
        }
        let pending = st.table.queued() > 0;
        let next = st.timers.next_deadline().unwrap_or(u64::MAX);
        let earlier = next < st.poll_deadline;
        // Pending events must wake a blocked poller, and make the descriptor readable if
        // anyone may watch it; otherwise the next call finds them in the queue anyway, and
        // signalling would cost a write now and a read then.
        let observable = st.polling || self.observed.load(Ordering::Relaxed);
        if (pending && observable) || (st.polling && earlier) {
            self.signal_wake(st);
        } else if st.signalled && !st.polling && !pending {
            self.reset_wake(st);
        }
        if st.cv_waiters > 0 && (pending || earlier) {
            self.cv.notify_all();
        }
        self.pending.store(st.table.queued(), Ordering::Release);
        self.activity.store(st.table.activations, Ordering::Release);
        if let Some(tfd) = self.timerfd.get() {
            if next != st.timerfd_armed {
                let spec = libc::itimerspec {
                    it_interval: libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    },
                    it_value: if next == u64::MAX {
                        libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 0,
                        }
                    } else {
                        libc::timespec {
                            tv_sec: (next / 1_000_000_000) as _,
                            tv_nsec: (next % 1_000_000_000).max(1) as _,
                        }
                    },
                };
                // SAFETY: valid itimerspec; failure only loses visibility of this deadline.
                if unsafe {
                    libc::timerfd_settime(
                        tfd.as_raw_fd(),
                        libc::TFD_TIMER_ABSTIME,
                        &spec,
                        ptr::null_mut(),
                    )
                } == 0
                {
                    st.timerfd_armed = next;
                }
            }
        }
        if st.signal_watch && st.signal_keys.is_empty() {
            // Nothing watches signals any more; the shared eventfd stays registered (cheap:
            // its edges are ignored) rather than paying an epoll_ctl per change.
        }
    }
}

impl Inner {
    /// The number of pending events, for a READ knote on this kqueue's descriptor in another
    /// kqueue (FreeBSD's `kq_count`): takes the hints the kernel has, without waiting. If
    /// this kqueue is busy, its count at the end of its last call.
    /// The count of activations that queued a knote here, after taking the kernel's hints
    /// (see `peek_pending`).
    pub(super) fn peek_activity(&self) -> u64 {
        self.peek_pending();
        self.activity.load(Ordering::Acquire)
    }

    pub(super) fn peek_pending(&self) -> usize {
        let Ok(mut st) = self.state.try_lock() else {
            return self.pending.load(Ordering::Acquire);
        };
        if FORK_GEN.load(Ordering::Relaxed) != self.fork_gen {
            return 0;
        }
        st.seq += 1;
        st.expire_timers(timer::now());
        let _ = self.harvest(&mut st, HARVEST);
        self.finish(&mut st);
        st.table.queued()
    }
}

fn epoll_add(epfd: RawFd, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: token };
    syscall!(epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev)).map(drop)
}

fn epoll_wait(
    epfd: RawFd,
    buf: &mut [libc::epoll_event],
    timeout_ns: Option<u64>,
) -> io::Result<usize> {
    let ts = timeout_ns.map(|ns| libc::timespec {
        tv_sec: (ns / 1_000_000_000).min(i64::MAX as u64) as _,
        tv_nsec: (ns % 1_000_000_000) as _,
    });
    let tsp = ts
        .as_ref()
        .map_or(ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `buf` is valid for `buf.len()` events; `tsp` is null or a live timespec.
    let n = unsafe {
        libc::syscall(
            libc::SYS_epoll_pwait2,
            epfd,
            buf.as_mut_ptr(),
            buf.len() as libc::c_int,
            tsp,
            ptr::null::<libc::sigset_t>(),
            0usize,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl State {
    /// `kqueue_register`: applies one change.
    fn register(&mut self, sel: &Inner, c: &Kevent) -> io::Result<()> {
        let flags = c.flags;
        if flags & EV_ENABLE != 0 && flags & EV_DISABLE != 0 {
            return Err(errno(libc::EINVAL));
        }
        if flags & EV_ADD != 0 && flags & EV_KEEPUDATA != 0 {
            return Err(errno(libc::EINVAL));
        }
        match c.filter {
            EVFILT_READ | EVFILT_WRITE | EVFILT_VNODE => self.register_fd(sel, c),
            EVFILT_PROC | EVFILT_SIGNAL | EVFILT_TIMER | EVFILT_USER => self.register_id(sel, c),
            EVFILT_AIO | EVFILT_LIO => Err(errno(libc::ENXIO)),
            EVFILT_EMPTY => Err(errno(libc::EOPNOTSUPP)),
            _ => Err(errno(libc::EINVAL)),
        }
    }

    /// The part of a change common to every filter once the knote exists: udata, input
    /// fflags/data (or the filter's touch), enable/disable, re-evaluation.
    fn modify(&mut self, sel: &Inner, key: Key, c: &Kevent) -> io::Result<()> {
        let flags = c.flags;
        if flags & EV_DELETE != 0 {
            self.delete(sel, key);
            return Ok(());
        }
        if flags & EV_FORCEONESHOT != 0 {
            let kn = &mut self.table.slab[key];
            kn.kev.flags |= EV_ONESHOT;
            self.table.activate(key);
            return Ok(());
        }
        let kn = &mut self.table.slab[key];
        if flags & EV_KEEPUDATA == 0 {
            kn.kev.udata = c.udata;
        }
        match &mut kn.src {
            Source::Timer(_) => {
                if flags & EV_ADD != 0 {
                    self.arm_timer(key, c.data, c.fflags)?;
                }
            }
            Source::User { triggered } => {
                if c.fflags & NOTE_TRIGGER != 0 {
                    *triggered = true;
                }
                let v = c.fflags & NOTE_FFLAGSMASK;
                match c.fflags & NOTE_FFCTRLMASK {
                    NOTE_FFAND => kn.sfflags &= v,
                    NOTE_FFOR => kn.sfflags |= v,
                    NOTE_FFCOPY => kn.sfflags = v,
                    _ => {}
                }
                kn.sdata = c.data;
                if flags & EV_CLEAR != 0 {
                    *triggered = false;
                    self.table.slab[key].status &= !ACTIVE;
                    self.table.unlink(key);
                }
            }
            Source::Proc { .. } => {
                check_proc_fflags(c.fflags)?;
                kn.sfflags = c.fflags;
                kn.sdata = c.data;
            }
            Source::Vnode => {
                kn.sfflags = c.fflags;
                kn.sdata = c.data;
                let fd = kn.kev.ident;
                let wd = self
                    .fds
                    .get(fd)
                    .and_then(Option::as_ref)
                    .map_or(-1, |s| s.wd);
                if let (Some(ino), true) = (self.inotify.as_ref(), wd >= 0) {
                    ino.extend(fd, c.fflags)?;
                }
            }
            _ => {
                kn.sfflags = c.fflags;
                kn.sdata = c.data;
            }
        }
        if flags & EV_DISABLE != 0 {
            let kn = &mut self.table.slab[key];
            kn.status |= DISABLED;
            self.table.unlink(key);
        } else if flags & EV_ENABLE != 0 || self.table.slab[key].status & DISABLED == 0 {
            self.table.slab[key].status &= !DISABLED;
            self.reevaluate(key);
        }
        Ok(())
    }

    /// Runs the filter of an enabled knote now and queues it if its condition holds.
    fn reevaluate(&mut self, key: Key) {
        if self.table.slab[key].status & DISABLED != 0 {
            return;
        }
        if self.table.slab[key].status & ACTIVE != 0 && self.table.slab[key].status & QUEUED == 0 {
            // Active but not queued: it was disabled while active. Queue it for the scan to
            // re-check, exactly like a fresh activation.
            self.table.activate(key);
            return;
        }
        if self.evaluate(key).unwrap_or(false) {
            self.table.activate(key);
        }
    }

    fn register_fd(&mut self, sel: &Inner, c: &Kevent) -> io::Result<()> {
        let fd = c.ident;
        if RawFd::try_from(fd).is_err() {
            return Err(errno(libc::EBADF));
        }
        if c.flags & EV_DELETE != 0 {
            if let Some(key) = self.epoll_knote(fd, c.filter) {
                return self.delete_checked(sel, fd, key);
            }
        }
        let (existing, stat) = self.slot_for(sel, fd)?;
        let key = existing.then_some(()).and_then(|_| {
            let s = self.fds[fd].as_ref()?;
            match c.filter {
                EVFILT_READ => s.read,
                EVFILT_WRITE => s.write,
                _ => s.vnode,
            }
        });
        if let Some(key) = key {
            return self.modify(sel, key, c);
        }
        if c.flags & EV_ADD == 0 {
            return Err(errno(libc::ENOENT));
        }
        // Attach.
        let st = match stat {
            Some(st) => st,
            None => fd::stat(fd)?,
        };
        if self.fds.get(fd).is_none_or(Option::is_none) {
            self.new_slot(sel, fd, &st)?;
        }
        let slot = self.fds[fd].as_mut().ok_or_else(|| errno(libc::EBADF))?;
        let is_file = matches!(slot.kind, FdKind::File);
        if c.filter == EVFILT_VNODE && !is_file {
            let _ = self.drop_slot_if_empty(sel, fd);
            return Err(errno(libc::EINVAL));
        }
        if c.filter == EVFILT_WRITE && matches!(slot.kind, FdKind::Pipe { .. }) {
            // FreeBSD refuses WRITE on a pipe whose reader is gone.
            let mut p = libc::pollfd {
                fd: fd as RawFd,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut p, 1, 0) } == 1 && p.revents & libc::POLLERR != 0 {
                let _ = self.drop_slot_if_empty(sel, fd);
                return Err(errno(libc::EPIPE));
            }
        }
        if c.filter == EVFILT_READ
            && matches!(slot.kind, FdKind::Kqueue(_))
            && fd as RawFd == sel.epfd.as_raw_fd()
        {
            let _ = self.drop_slot_if_empty(sel, fd);
            return Err(errno(libc::EINVAL));
        }
        if is_file && (c.filter == EVFILT_VNODE || c.filter == EVFILT_READ) {
            if self.inotify.is_none() {
                let ino = Inotify::new()?;
                epoll_add(
                    sel.epfd.as_raw_fd(),
                    ino.fd.as_raw_fd(),
                    libc::EPOLLIN as u32,
                    TOKEN_INOTIFY,
                )?;
                self.inotify = Some(ino);
            }
            let wd = self
                .inotify
                .as_mut()
                .map(|i| i.watch(fd, c.fflags, &st))
                .transpose();
            match wd {
                Ok(Some(wd)) => self.fds[fd].as_mut().map(|s| s.wd = wd),
                Ok(None) => None,
                Err(e) => {
                    let _ = self.drop_slot_if_empty(sel, fd);
                    return Err(e);
                }
            };
        }
        let generation = self.table.next_gen();
        let mut kn = Knote::new(
            stored(c),
            generation,
            if c.filter == EVFILT_VNODE {
                Source::Vnode
            } else {
                Source::Fd
            },
        );
        kn.sfflags = c.fflags;
        kn.sdata = c.data;
        kn.kev.fflags = 0;
        kn.kev.data = 0;
        if c.flags & EV_DISABLE != 0 {
            kn.status |= DISABLED;
        }
        let key = self.table.slab.insert(kn);
        if let Some(s) = self.fds[fd].as_mut() {
            match c.filter {
                EVFILT_READ => s.read = Some(key),
                EVFILT_WRITE => s.write = Some(key),
                _ => s.vnode = Some(key),
            }
        }
        let armed = match self.update_interest(sel, fd) {
            Ok(armed) => armed,
            Err(e) => {
                self.remove(key);
                self.dirty.retain(|f| *f != fd);
                let _ = self.drop_slot_if_empty(sel, fd);
                return Err(e);
            }
        };
        // epoll re-polls on ADD/MOD and hints if the fd is ready; a oneshot knote still needs
        // its condition and data taken now (it is delivered as activated, never re-evaluated).
        if c.filter != EVFILT_VNODE && (!armed || c.flags & EV_ONESHOT != 0) {
            self.reevaluate(key);
        }
        Ok(())
    }

    /// Returns `Some(())` if a live slot for `fd` names the same file, dropping a slot that
    /// belongs to a closed descriptor. `EBADF` if `fd` is not open.
    /// The `fstat` it had to make, if any, comes back for the caller to reuse.
    fn slot_for(&mut self, sel: &Inner, fd: usize) -> io::Result<(bool, Option<libc::stat>)> {
        let seq = self.seq;
        let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) else {
            // Validate the descriptor (EBADF precedes ENOENT).
            return Ok((false, Some(fd::stat(fd)?)));
        };
        if slot.checked == seq {
            return Ok((true, None));
        }
        let same = if slot.in_epoll {
            // epoll keys registrations by open file, so MOD of ours succeeds exactly when
            // the fd still names the file we registered (a FIFO or tty reopened on the same
            // number has the same inode but a new open file). Like FreeBSD's re-evaluation
            // on modify, it re-reports a condition that holds.
            let mut ev = libc::epoll_event {
                events: slot.interest,
                u64: (u64::from(slot.generation) << 32) | fd as u64,
            };
            // SAFETY: `ev` is a valid epoll_event.
            match syscall!(epoll_ctl(
                sel.epfd.as_raw_fd(),
                libc::EPOLL_CTL_MOD,
                fd as RawFd,
                &mut ev
            )) {
                Ok(_) => Ok(true),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
                Err(e) => Err(e),
            }
        } else {
            slot.same_file(fd)
        };
        match same {
            Ok(true) => {
                slot.checked = seq;
                Ok((true, None))
            }
            Ok(false) => {
                self.purge_slot(sel, fd);
                Ok((false, None))
            }
            Err(e) => {
                self.purge_slot(sel, fd);
                Err(e)
            }
        }
    }

    /// The knote `(fd, filter)` if its slot is registered in epoll and was not checked in
    /// this call.
    fn epoll_knote(&self, fd: usize, filter: i16) -> Option<Key> {
        let slot = self.fds.get(fd)?.as_ref()?;
        if !slot.in_epoll || slot.checked == self.seq {
            return None;
        }
        match filter {
            EVFILT_READ => slot.read,
            EVFILT_WRITE => slot.write,
            _ => None,
        }
    }

    /// EV_DELETE of a knote on an epoll-registered fd, where the epoll call that follows (DEL,
    /// or MOD to shrink the interest) is the identity check: `ENOENT` means the fd number now
    /// names another file, so the knote belonged to a closed descriptor and is already gone,
    /// as on FreeBSD; `EBADF` means the fd is closed.
    fn delete_checked(&mut self, sel: &Inner, fd: usize, key: Key) -> io::Result<()> {
        self.remove(key);
        self.dirty.retain(|f| *f != fd);
        match self.drop_slot_if_empty(sel, fd) {
            Ok(()) => {
                if let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) {
                    slot.checked = self.seq;
                }
                Ok(())
            }
            Err(e) => {
                self.purge_slot(sel, fd);
                match e.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::EBADF) => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }

    fn new_slot(&mut self, sel: &Inner, fd: usize, st: &libc::stat) -> io::Result<()> {
        let mut kind = fd::classify(st, super::lookup_kqueue(fd as RawFd));
        fd::refine(&mut kind, fd as RawFd);
        // Knotes own their pidfds and the inotify descriptor: dropping the state closes them.
        let generation = self.table.next_gen();
        let slot = FdSlot {
            read: None,
            write: None,
            vnode: None,
            kind,
            generation,
            in_epoll: false,
            interest: 0,
            dev: st.st_dev,
            ino: st.st_ino,
            wd: -1,
            checked: self.seq,
            hint_seq: 0,
            hint: 0,
            rdhup: false,
            hup: false,
            so_error: 0,
            kq_activity: 0,
        };
        let _ = sel;
        if self.fds.len() <= fd {
            self.fds.resize_with(fd + 1, || None);
        }
        self.fds[fd] = Some(slot);
        Ok(())
    }

    /// Drops every knote of a slot whose descriptor was closed (no epoll call: the
    /// registration died with the file, or names a file we no longer track).
    fn purge_slot(&mut self, sel: &Inner, fd: usize) {
        if let Some(slot) = self.fds.get_mut(fd).and_then(Option::take) {
            for key in [slot.read, slot.write, slot.vnode].into_iter().flatten() {
                self.table.unlink(key);
                self.table.slab.remove(key);
            }
            if slot.wd >= 0 {
                if let Some(ino) = self.inotify.as_mut() {
                    ino.unwatch(slot.wd, fd);
                }
            }
            let _ = sel;
        }
    }

    /// Makes the fd's epoll interest the union of its knotes' directions: input for a READ
    /// knote, output for a WRITE knote, hang-up always (so activation order stays epoll's,
    /// and a READ-only fd does not wake the kqueue each time it becomes writable).
    ///
    /// Returns whether epoll was (re)armed: it then checks readiness itself and queues a
    /// hint if the fd is ready, so no probe of our own is needed.
    fn update_interest(&mut self, sel: &Inner, fd: usize) -> io::Result<bool> {
        let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) else {
            return Ok(false);
        };
        if matches!(slot.kind, FdKind::File | FdKind::NoPoll) {
            return Ok(false);
        }
        let mut want = (libc::EPOLLET | libc::EPOLLRDHUP) as u32;
        if slot.read.is_some() {
            want |= libc::EPOLLIN as u32;
        }
        if slot.write.is_some() {
            want |= libc::EPOLLOUT as u32;
        }
        if slot.in_epoll && want == slot.interest {
            return Ok(false);
        }
        let mut ev = libc::epoll_event {
            events: want,
            u64: (u64::from(slot.generation) << 32) | fd as u64,
        };
        let op = if slot.in_epoll {
            libc::EPOLL_CTL_MOD
        } else {
            libc::EPOLL_CTL_ADD
        };
        // SAFETY: `ev` is a valid epoll_event.
        match syscall!(epoll_ctl(sel.epfd.as_raw_fd(), op, fd as RawFd, &mut ev)) {
            Ok(_) => {
                slot.in_epoll = true;
                slot.interest = want;
                Ok(true)
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) && !slot.in_epoll => {
                // Not pollable (e.g. /dev/null): always ready, as poll(2) says.
                slot.kind = FdKind::NoPoll;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Frees the slot of `fd` if no knote uses it (removing its epoll registration), or
    /// shrinks its epoll interest. Returns the result of that epoll call: `ENOENT` means the
    /// fd no longer names the registered file, `EBADF` that it is closed.
    fn drop_slot_if_empty(&mut self, sel: &Inner, fd: usize) -> io::Result<()> {
        let Some(slot) = self.fds.get(fd).and_then(Option::as_ref) else {
            return Ok(());
        };
        if !slot.is_empty() {
            return self.update_interest(sel, fd).map(drop);
        }
        let mut res = Ok(());
        if slot.in_epoll {
            // SAFETY: removing our own registration; a null event is allowed for DEL.
            res = syscall!(epoll_ctl(
                sel.epfd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd as RawFd,
                ptr::null_mut()
            ))
            .map(drop);
        }
        if slot.wd >= 0 {
            if let Some(ino) = self.inotify.as_mut() {
                ino.unwatch(slot.wd, fd);
            }
        }
        self.fds[fd] = None;
        res
    }

    fn register_id(&mut self, sel: &Inner, c: &Kevent) -> io::Result<()> {
        if let Some(&key) = self.table.ids.get(&(c.ident, c.filter)) {
            return self.modify(sel, key, c);
        }
        if c.flags & EV_ADD == 0 {
            return Err(errno(libc::ENOENT));
        }
        let generation = self.table.next_gen();
        let mut kev = stored(c);
        kev.fflags = 0;
        kev.data = 0;
        let src = match c.filter {
            EVFILT_PROC => {
                check_proc_fflags(c.fflags)?;
                kev.flags |= EV_CLEAR;
                Source::Proc {
                    pidfd: super::proc::open(c.ident)?,
                    exited: false,
                }
            }
            EVFILT_SIGNAL => {
                let notify = signal::watch(c.ident)?;
                if !self.signal_watch {
                    epoll_add(
                        sel.epfd.as_raw_fd(),
                        notify,
                        (libc::EPOLLIN | libc::EPOLLET) as u32,
                        TOKEN_SIGNAL,
                    )?;
                    self.signal_watch = true;
                }
                kev.flags |= EV_CLEAR;
                Source::Signal {
                    seen: signal::count(c.ident),
                }
            }
            EVFILT_TIMER => {
                // Validate before creating anything.
                timer::parse(c.data, c.fflags, c.flags & EV_ONESHOT != 0, 0)?;
                if c.fflags & NOTE_ABSOLUTE == 0 {
                    kev.flags |= EV_CLEAR;
                }
                Source::Timer(TimerState::default())
            }
            _ => Source::User {
                triggered: c.fflags & NOTE_TRIGGER != 0,
            },
        };
        let mut kn = Knote::new(kev, generation, src);
        kn.sdata = c.data;
        kn.sfflags = if c.filter == EVFILT_USER {
            c.fflags & NOTE_FFLAGSMASK
        } else {
            c.fflags
        };
        if c.flags & EV_DISABLE != 0 {
            kn.status |= DISABLED;
        }
        let key = self.table.slab.insert(kn);
        self.table.ids.insert((c.ident, c.filter), key);
        match c.filter {
            EVFILT_PROC => {
                let kn = &self.table.slab[key];
                let Source::Proc { pidfd, .. } = &kn.src else {
                    unreachable!()
                };
                let token = PROC_BIT | (u64::from(generation) << 32) | key as u64;
                if let Err(e) = epoll_add(
                    sel.epfd.as_raw_fd(),
                    pidfd.as_raw_fd(),
                    libc::EPOLLIN as u32,
                    token,
                ) {
                    self.remove(key);
                    return Err(e);
                }
                // A process that already exited is readable at once: the hint arrives with
                // the next harvest, as FreeBSD reports a zombie at once.
            }
            EVFILT_SIGNAL => self.signal_keys.push(key),
            EVFILT_TIMER => self.arm_timer(key, c.data, c.fflags)?,
            _ => self.reevaluate(key),
        }
        Ok(())
    }

    /// (Re)arms a timer: cancels it, discards undelivered expirations, restarts it.
    fn arm_timer(&mut self, key: Key, data: Data, fflags: u32) -> io::Result<()> {
        let oneshot = self.table.slab[key].kev.flags & EV_ONESHOT != 0;
        let spec = timer::parse(data, fflags, oneshot, timer::now())?;
        let kn = &mut self.table.slab[key];
        kn.sdata = data;
        kn.sfflags = fflags;
        if fflags & NOTE_ABSOLUTE == 0 {
            kn.kev.flags |= EV_CLEAR;
        }
        let Source::Timer(t) = &mut kn.src else {
            return Ok(());
        };
        let was_armed = t.armed;
        t.tgen = t.tgen.wrapping_add(1).max(1);
        t.period = spec.period;
        t.count = 0;
        t.fired_abs = false;
        t.armed = true;
        let tgen = t.tgen;
        kn.status &= !ACTIVE;
        self.table.unlink(key);
        if was_armed {
            self.timers.forget_one();
        }
        self.timers.push(spec.deadline, key, tgen);
        Ok(())
    }

    /// Fires every timer whose deadline has passed.
    fn expire_timers(&mut self, now: u64) {
        while let Some((deadline, key, tgen)) = self.timers.pop_expired(now) {
            let Some(kn) = self.table.slab.get_mut(key) else {
                continue;
            };
            let Source::Timer(t) = &mut kn.src else {
                continue;
            };
            if t.tgen != tgen {
                continue;
            }
            self.timers.popped_live();
            t.armed = false;
            if let Some(missed) = (now - deadline).checked_div(t.period) {
                t.count += 1 + missed;
                let next = deadline.saturating_add((1 + missed).saturating_mul(t.period));
                t.armed = true;
                self.timers.push(next, key, tgen);
            } else if kn.sfflags & NOTE_ABSOLUTE != 0 && kn.kev.flags & EV_ONESHOT == 0 {
                t.fired_abs = true;
                t.count += 1;
            } else {
                t.count += 1;
            }
            self.table.activate(key);
        }
        let slab = &self.table.slab;
        self.timers.compact(
            |k, g| matches!(slab.get(k).map(|kn| &kn.src), Some(Source::Timer(t)) if t.tgen == g),
        );
    }

    fn signal_hint(&mut self) {
        for i in 0..self.signal_keys.len() {
            let key = self.signal_keys[i];
            let kn = &self.table.slab[key];
            if let Source::Signal { seen } = kn.src {
                if signal::count(kn.kev.ident) > seen {
                    self.table.activate(key);
                }
            }
        }
    }

    fn proc_hint(&mut self, key: Key, generation: u32) {
        let Some(kn) = self.table.slab.get(key) else {
            return;
        };
        if kn.generation != generation || !matches!(kn.src, Source::Proc { .. }) {
            return;
        }
        self.proc_exit(key);
    }

    /// Reads the exit status of a proc knote whose pidfd fired; retries later if the
    /// status is not available yet (a non-child that its parent has not reaped).
    fn proc_exit(&mut self, key: Key) {
        let kn = &mut self.table.slab[key];
        let Source::Proc { pidfd, exited } = &mut kn.src else {
            return;
        };
        if *exited {
            return;
        }
        match super::proc::exit_status(pidfd.as_raw_fd()) {
            Some(status) => {
                *exited = true;
                kn.kev.data = status as Data;
                if kn.sfflags & NOTE_EXIT != 0 {
                    kn.kev.fflags |= NOTE_EXIT;
                    kn.kev.flags |= EV_EOF | EV_ONESHOT;
                    self.table.activate(key);
                } else {
                    // Exited without a requested event: dropped silently (EV_DROP).
                    self.remove(key);
                }
            }
            None => {
                if !self.proc_retry.contains(&key) {
                    self.proc_retry.push(key);
                }
            }
        }
    }

    fn retry_procs(&mut self) {
        if self.proc_retry.is_empty() {
            return;
        }
        let keys = std::mem::take(&mut self.proc_retry);
        for key in keys {
            if matches!(
                self.table.slab.get(key).map(|k| &k.src),
                Some(Source::Proc { .. })
            ) {
                self.proc_exit(key);
            }
        }
    }

    fn fd_hint(&mut self, fd: usize, generation: u32, events: u32) {
        let seq = self.seq;
        let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) else {
            return;
        };
        if slot.generation != generation {
            return; // A registration of a file this slot no longer tracks.
        }
        slot.note_hint(fd as RawFd, events, seq);
        if let FdKind::Kqueue(other) = &slot.kind {
            // The watched kqueue's descriptor also becomes readable when it merely re-signals
            // its pending state; only a new activation there is activity for this knote.
            let activity = other.upgrade().map_or(u64::MAX, |o| o.peek_activity());
            if activity == slot.kq_activity {
                return;
            }
            slot.kq_activity = activity;
        }
        let (read, write) = (slot.read, slot.write);
        let any_err = events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
        let read =
            read.filter(|_| events & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 || any_err);
        let write = write.filter(|_| events & libc::EPOLLOUT as u32 != 0 || any_err);
        for key in [read, write].into_iter().flatten() {
            let kn = &self.table.slab[key];
            if kn.kev.flags & EV_ONESHOT != 0 && kn.status & ACTIVE != 0 {
                // Already activated; it keeps the data it was activated with.
            } else if kn.kev.flags & EV_ONESHOT != 0 {
                // Not re-evaluated at the scan: compute its data now.
                match self.evaluate(key) {
                    Ok(true) => self.table.activate(key),
                    Ok(false) => {}
                    Err(_) => self.remove(key),
                }
            } else {
                self.table.activate(key);
            }
        }
    }

    /// Runs a knote's filter. Returns whether its condition holds and leaves the output
    /// `data`/`fflags`/`EV_EOF` in its kevent. `Err` means the descriptor is gone.
    fn evaluate(&mut self, key: Key) -> io::Result<bool> {
        let seq = self.seq;
        let edge_data = self.edge_data;
        let kn = &mut self.table.slab[key];
        match &mut kn.src {
            Source::Fd => {
                let fd = kn.kev.ident;
                let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) else {
                    return Ok(false);
                };
                let fresh = slot.hint_seq == seq;
                if !fresh && slot.checked != seq {
                    if !slot.same_file(fd)? {
                        return Err(errno(libc::EBADF));
                    }
                    slot.checked = seq;
                }
                let is_read = fd::is_read(kn.kev.filter);
                let hinted = if fresh
                    && !edge_data
                    && kn.kev.flags & EV_CLEAR != 0
                    && kn.sfflags & NOTE_LOWAT == 0
                {
                    slot.eval_hinted(is_read)
                } else {
                    None
                };
                let ev = match hinted {
                    Some(ev) => ev,
                    None if is_read => {
                        slot.eval_read(fd as RawFd, kn.sfflags, kn.sdata as i64, fresh)?
                    }
                    None => slot.eval_write(fd as RawFd, fresh)?,
                };
                kn.kev.data = ev.data as Data;
                kn.kev.fflags = ev.fflags;
                if ev.eof {
                    kn.kev.flags |= EV_EOF;
                } else {
                    kn.kev.flags &= !EV_EOF;
                }
                Ok(ev.ready)
            }
            Source::Vnode => Ok(kn.kev.fflags != 0),
            Source::Proc { exited, .. } => Ok(*exited),
            Source::Signal { seen } => Ok(signal::count(kn.kev.ident) > *seen),
            Source::Timer(t) => Ok(t.count > 0 || t.fired_abs),
            Source::User { triggered } => Ok(*triggered),
        }
    }

    /// Fills the output kevent for delivery (FreeBSD's `f_touch(EVENT_PROCESS)` for the
    /// filters that have one) and returns it.
    fn copyout(&mut self, key: Key) -> Kevent {
        let kn = &mut self.table.slab[key];
        let clear = kn.kev.flags & EV_CLEAR != 0;
        match &mut kn.src {
            Source::Signal { seen } => {
                let now = signal::count(kn.kev.ident);
                kn.kev.data = now.saturating_sub(*seen) as Data;
                *seen = now;
            }
            Source::Timer(t) => {
                kn.kev.data = t.count.max(1) as Data;
                kn.kev.fflags = 0;
                if !t.fired_abs || clear {
                    t.count = 0;
                }
            }
            Source::User { triggered } => {
                kn.kev.fflags = kn.sfflags;
                kn.kev.data = kn.sdata;
                if clear {
                    *triggered = false;
                }
            }
            _ => {}
        }
        kn.kev
    }

    /// `kqueue_scan`: collects up to `max` events from the active queue.
    ///
    /// # Safety
    ///
    /// `events` must be valid for `max` writes.
    unsafe fn scan(&mut self, events: *mut Kevent, max: usize) -> usize {
        let mut n = 0;
        // Only the knotes queued now are looked at (FreeBSD's marker): a level-triggered
        // knote re-queued behind them is returned at most once per call.
        let mut budget = self.table.queued();
        while budget > 0 && n < max {
            budget -= 1;
            let Some(key) = self.table.pop_front() else {
                break;
            };
            let status = self.table.slab[key].status;
            if status & DISABLED != 0 {
                continue;
            }
            let oneshot = self.table.slab[key].kev.flags & EV_ONESHOT != 0;
            // A oneshot knote is copied out as it was when activated (FreeBSD, OpenBSD).
            let ready = if oneshot {
                Ok(true)
            } else {
                self.evaluate(key)
            };
            let ready = match ready {
                Ok(r) => r,
                Err(_) => {
                    // The descriptor was closed: the knote went with it.
                    self.remove(key);
                    continue;
                }
            };
            if !ready && !oneshot {
                self.table.slab[key].status &= !ACTIVE;
                continue;
            }
            let out = self.copyout(key);
            // SAFETY: `n < max`, and the caller guarantees `events` is valid for `max`.
            unsafe { ptr::write(events.add(n), out) };
            n += 1;
            if oneshot {
                self.remove(key);
                continue;
            }
            let kn = &mut self.table.slab[key];
            let flags = kn.kev.flags;
            if flags & (EV_CLEAR | EV_DISPATCH) != 0 {
                if flags & EV_CLEAR != 0
                    && !matches!(kn.src, Source::Timer(_) | Source::User { .. })
                {
                    kn.kev.data = 0;
                    kn.kev.fflags = 0;
                }
                if flags & EV_DISPATCH != 0 {
                    kn.status |= DISABLED;
                }
                kn.status &= !ACTIVE;
            } else {
                self.table.push_back(key);
            }
        }
        n
    }

    /// EV_DELETE: removes a knote and releases what only it used.
    fn delete(&mut self, sel: &Inner, key: Key) {
        let ident = self.table.slab[key].kev.ident;
        let fd_knote = matches!(self.table.slab[key].src, Source::Fd | Source::Vnode);
        self.remove(key);
        if fd_knote {
            self.dirty.retain(|f| *f != ident);
            let _ = self.release_fd(sel, ident);
        }
    }

    /// After a knote of `fd` went away: drops the inotify watch if no READ or VNODE knote
    /// uses it, shrinks the epoll interest, and frees the slot when it is empty.
    fn release_fd(&mut self, sel: &Inner, fd: usize) -> io::Result<()> {
        let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) else {
            return Ok(());
        };
        if slot.read.is_none() && slot.vnode.is_none() && slot.wd >= 0 {
            // The inotify watch of a file is shared by its READ and VNODE knotes.
            if let Some(ino) = self.inotify.as_mut() {
                ino.unwatch(slot.wd, fd);
            }
            slot.wd = -1;
        }
        self.drop_slot_if_empty(sel, fd)
    }

    /// Unlinks and frees a knote and its index entry (the fd slot stays; see `delete`).
    fn remove(&mut self, key: Key) {
        self.table.unlink(key);
        let kn = self.table.slab.remove(key);
        let (ident, filter) = (kn.kev.ident, kn.kev.filter);
        match kn.src {
            Source::Fd | Source::Vnode => {
                // Its epoll interest or inotify watch is brought up to date at the end of
                // the call (`finish`), where the selector is at hand.
                self.dirty.push(ident);
                if let Some(s) = self.fds.get_mut(ident).and_then(Option::as_mut) {
                    if s.read == Some(key) {
                        s.read = None;
                    } else if s.write == Some(key) {
                        s.write = None;
                    } else if s.vnode == Some(key) {
                        s.vnode = None;
                    }
                }
            }
            Source::Timer(t) => {
                self.table.ids.remove(&(ident, filter));
                if t.armed {
                    self.timers.forget_one();
                }
            }
            Source::Signal { .. } => {
                self.table.ids.remove(&(ident, filter));
                self.signal_keys.retain(|k| *k != key);
            }
            Source::Proc { .. } => {
                // Closing the pidfd (dropped with `kn`) removes it from the epoll set.
                self.table.ids.remove(&(ident, filter));
                self.proc_retry.retain(|k| *k != key);
            }
            Source::User { .. } => {
                self.table.ids.remove(&(ident, filter));
            }
        }
    }
}

/// The flags a knote stores from the change that created it: everything but the actions.
fn stored(c: &Kevent) -> Kevent {
    let mut k = *c;
    k.flags &= !(EV_DELETE | EV_ENABLE | EV_DISABLE | EV_FORCEONESHOT | EV_KEEPUDATA | EV_SYSFLAGS);
    k
}

/// Linux can only report a process's exit to an unprivileged process.
fn check_proc_fflags(fflags: u32) -> io::Result<()> {
    if fflags & (NOTE_FORK | NOTE_EXEC | NOTE_TRACK) != 0 {
        return Err(errno(libc::EOPNOTSUPP));
    }
    Ok(())
}
