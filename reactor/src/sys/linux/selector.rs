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
use super::fd::FdSlot;
use super::knote::{Key, Table};
use super::syscall;
use super::timer::{self, Timers};
use super::vnode::Inotify;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

const TOKEN_WAKE: u64 = u64::MAX;
pub(super) const TOKEN_SIGNAL: u64 = u64::MAX - 1;
pub(super) const TOKEN_INOTIFY: u64 = u64::MAX - 2;
const TOKEN_TIMERFD: u64 = u64::MAX - 3;
/// Set in the tokens of pidfds: `PROC_BIT | generation << 32 | key`.
pub(super) const PROC_BIT: u64 = 1 << 63;
/// epoll events taken per wait (never more than the caller has room for).
const HARVEST: usize = 256;
/// How often a process whose exit status is not readable yet is retried.
const PROC_RETRY_NS: u64 = 2_000_000;

static FORK_GEN: AtomicU64 = AtomicU64::new(0);

extern "C" fn forked_child() {
    FORK_GEN.fetch_add(1, Ordering::Relaxed);
}

pub(super) fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// The Linux kqueue: a handle on its shared internals (other kqueues that watch its
/// descriptor reach them through the registry in `mod.rs`).
#[derive(Debug)]
pub(crate) struct Selector(Arc<Inner>);

/// The kqueue's descriptors and state.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(super) epfd: OwnedFd,
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
    /// Other descriptors naming this kqueue in the registry (`Selector::add_alias`).
    aliases: Mutex<Vec<RawFd>>,
    /// A kqueue watching this one asked for its activity while the lock was held, and was
    /// answered from the last call's count: whoever releases the lock makes it up
    /// ([`Inner::after_unlock`]).
    peek_missed: AtomicBool,
}

/// Everything behind the selector's lock.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) table: Table,
    pub(super) fds: Vec<Option<FdSlot>>,
    pub(super) timers: Timers,
    pub(super) inotify: Option<Inotify>,
    pub(super) signal_keys: Vec<Key>,
    pub(super) signal_watch: bool,
    pub(super) proc_retry: Vec<Key>,
    /// fds whose knotes changed outside `register` (a oneshot delivered, a closed fd).
    pub(super) dirty: Vec<usize>,
    /// Compute `data` for edge-triggered READ/WRITE events that come with a fresh hint
    /// (`Builder::edge_data`).
    pub(super) edge_data: bool,
    /// Call counter: identity checks and hints are "fresh" within one call.
    pub(super) seq: u64,
    /// `Inner::epfd`, for identity checks made by epoll (the descriptor outlives the state).
    pub(super) epfd: RawFd,
    /// The fd whose new epoll registration the change being applied may leave to the next
    /// change (an EV_ADD of READ followed by one of WRITE for the same fd, or the reverse:
    /// one `epoll_ctl(ADD)` for both instead of ADD then MOD).
    pub(super) defer_arm: Option<usize>,
    /// An fd left out of epoll by the previous change, for this one to register.
    pub(super) unarmed: Option<usize>,
    pub(super) signalled: bool,
    pub(super) polling: bool,
    pub(super) poll_deadline: u64,
    pub(super) cv_waiters: usize,
    pub(super) timerfd_armed: u64,
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

    /// The shared internals, for the vnode extension (`vnode.rs`).
    pub(super) fn inner(&self) -> &Inner {
        &self.0
    }

    /// Registers `fd`, a duplicate of the kqueue's descriptor, as another name of this
    /// kqueue (see [`Kqueue::add_alias`](crate::Kqueue::add_alias)).
    pub(crate) fn add_alias(&self, fd: RawFd) -> io::Result<()> {
        let own = self.0.epfd.as_raw_fd();
        if fd == own || !super::same_file(fd, own) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a duplicate of the kqueue's descriptor",
            ));
        }
        // The descriptor was handed out: it must become readable while events are pending.
        self.0.as_raw_fd();
        let mut aliases = self.0.aliases.lock().unwrap_or_else(|e| e.into_inner());
        // An alias closed and reused as an alias again: one entry per number.
        if !aliases.contains(&fd) {
            aliases.push(fd);
        }
        super::register_kqueue(fd, &self.0);
        Ok(())
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
        let res = unsafe { self.0.kevent(changes, nchanges, events, nevents, timeout) };
        self.0.after_unlock();
        res
    }
}

impl Drop for Selector {
    fn drop(&mut self) {
        super::unregister_kqueue(self.0.epfd.as_raw_fd(), &self.0);
        let aliases = self.0.aliases.lock().unwrap_or_else(|e| e.into_inner());
        for &fd in aliases.iter() {
            super::unregister_kqueue(fd, &self.0);
        }
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
            state: Mutex::new(State {
                epfd: epfd.as_raw_fd(),
                poll_deadline: u64::MAX,
                timerfd_armed: u64::MAX,
                defer_arm: None,
                unarmed: None,
                edge_data: opts.edge_data,
                ..State::default()
            }),
            epfd,
            wakefd,
            cv: Condvar::new(),
            fork_gen: FORK_GEN.load(Ordering::Relaxed),
            pending: std::sync::atomic::AtomicUsize::new(0),
            activity: AtomicU64::new(0),
            observed: AtomicBool::new(false),
            timerfd: OnceLock::new(),
            aliases: Mutex::new(Vec::new()),
            peek_missed: AtomicBool::new(false),
        })
    }

    fn as_raw_fd(&self) -> RawFd {
        if !self.observed.swap(true, Ordering::AcqRel) {
            // From now on expiring timers must make the descriptor readable: `finish`
            // creates the timerfd when the first deadline needs it.
            let mut st = self.lock();
            self.finish(&mut st);
        }
        self.epfd.as_raw_fd()
    }

    /// The timerfd that makes expiring timers visible through the handed-out descriptor,
    /// created on first need (a kqueue that is watched but never arms a timer holds no
    /// timerfd). Failing to create it only loses that (documented) property.
    fn timerfd(&self, st: &mut State) -> Option<&OwnedFd> {
        if self.timerfd.get().is_none() {
            let fd = syscall!(timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_CLOEXEC | libc::TFD_NONBLOCK
            ))
            .ok()?;
            // SAFETY: fresh descriptor, owned from here on.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            epoll_add(
                self.epfd.as_raw_fd(),
                fd.as_raw_fd(),
                libc::EPOLLIN as u32,
                TOKEN_TIMERFD,
            )
            .ok()?;
            // Under the state's lock: nobody else can have set it meanwhile.
            let _ = self.timerfd.set(fd);
            st.timerfd_armed = u64::MAX;
        }
        self.timerfd.get()
    }

    /// The state's lock for a call outside `kevent` (the vnode extension): `EBADF` in a
    /// child forked after the kqueue was created, as `kevent`.
    /// Released, it makes up for a peek it made miss, as `kevent` does.
    pub(super) fn lock_checked(&self) -> io::Result<Held<'_>> {
        if FORK_GEN.load(Ordering::Relaxed) != self.fork_gen {
            return Err(errno(libc::EBADF));
        }
        Ok(Held {
            inner: self,
            guard: Some(self.lock()),
        })
    }

    /// After a call released the lock: if a watching kqueue's peek found it held (and so
    /// saw no new activity), make this kqueue's descriptor report again, so the watcher
    /// gets a new edge and looks once more. Without this, hints that arrived during the
    /// call would wait for the next, unrelated event.
    ///
    /// The peeker sets the flag and then tries the lock again; the holder releases the
    /// lock and then reads the flag. So either the peeker's second try succeeds, or the
    /// holder sees the flag.
    pub(super) fn after_unlock(&self) {
        while self.peek_missed.swap(false, Ordering::SeqCst) {
            let mut st = self.lock();
            self.rewake(&mut st);
        }
    }

    /// `after_unlock` for a holder that may not block on the lock (a peek, made under the
    /// watching kqueue's lock: kqueues may watch each other). If the lock is taken again,
    /// the note is put back for that holder, who reads it after releasing.
    fn after_peek(&self) {
        while self.peek_missed.swap(false, Ordering::SeqCst) {
            let Ok(mut st) = self.state.try_lock() else {
                self.peek_missed.store(true, Ordering::SeqCst);
                if let Ok(mut st) = self.state.try_lock() {
                    self.peek_missed.store(false, Ordering::SeqCst);
                    self.rewake(&mut st);
                }
                return;
            };
            self.rewake(&mut st);
        }
    }

    /// Signals `wakefd` even when it is signalled already: each write is a new edge for a
    /// watcher's epoll (the eventfd's counter only grows; `reset_wake` reads all of it).
    fn rewake(&self, st: &mut State) {
        let one = 1u64;
        // SAFETY: writing 8 bytes from a live u64 to our eventfd.
        unsafe { libc::write(self.wakefd.as_raw_fd(), (&raw const one).cast(), 8) };
        st.signalled = true;
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
            st.defer_arm = (i + 1 < nchanges)
                // SAFETY: as above, for the next change (only read here).
                .then(|| unsafe { ptr::read(changes.add(i + 1)) })
                .filter(|next| super::register::arm_together(&c, next))
                .map(|_| c.ident);
            let deferring = st.defer_arm.is_some();
            let err = match st.register(self, &c) {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL),
            };
            st.defer_arm = None;
            if !deferring {
                st.arm_unarmed(self);
            }
            if err != 0 || c.flags & EV_RECEIPT != 0 {
                if nerr == nevents {
                    st.arm_unarmed(self);
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
        st.touch_hints(hints);
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
    pub(super) fn finish(&self, st: &mut State) {
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
        let needed = next != u64::MAX && self.observed.load(Ordering::Relaxed);
        let tfd = if needed {
            self.timerfd(st).map(|fd| fd.as_raw_fd())
        } else {
            self.timerfd.get().map(|fd| fd.as_raw_fd())
        };
        if let Some(tfd) = tfd {
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
                    libc::timerfd_settime(tfd, libc::TFD_TIMER_ABSTIME, &spec, ptr::null_mut())
                } == 0
                {
                    st.timerfd_armed = next;
                }
            }
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
        let mut st = match self.state.try_lock() {
            Ok(st) => st,
            Err(_) => {
                // Busy: leave a note for the holder, then try once more (see
                // `after_unlock` for why one of the two then sees the other).
                self.peek_missed.store(true, Ordering::SeqCst);
                match self.state.try_lock() {
                    Ok(st) => {
                        self.peek_missed.store(false, Ordering::SeqCst);
                        st
                    }
                    Err(_) => return self.pending.load(Ordering::Acquire),
                }
            }
        };
        if FORK_GEN.load(Ordering::Relaxed) != self.fork_gen {
            return 0;
        }
        st.seq += 1;
        st.expire_timers(timer::now());
        let _ = self.harvest(&mut st, HARVEST);
        self.finish(&mut st);
        let queued = st.table.queued();
        drop(st);
        self.after_peek();
        queued
    }
}

pub(super) fn epoll_add(epfd: RawFd, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
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

/// The state's lock held by a call other than `kevent` (see [`Inner::lock_checked`]).
pub(super) struct Held<'a> {
    inner: &'a Inner,
    guard: Option<MutexGuard<'a, State>>,
}

impl std::ops::Deref for Held<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        self.guard.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.guard.as_mut().expect("held until dropped")
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.inner.after_unlock();
    }
}
