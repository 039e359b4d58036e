//! Readiness registrations: a source's knotes (`EV_CLEAR`) and the wakers of the tasks
//! waiting on it.
//!
//! # Readiness and ticks
//!
//! `ScheduledIo::readiness` packs the ready bits (bits 0..5), the driver tick of the event
//! that last set them (bits 16..32) and `SHUTDOWN` (bit 32). The driver ORs bits in with its
//! current tick; a task that saw readiness, tried the operation and got `EWOULDBLOCK` clears
//! the bits it saw *only if the tick is still the one it saw*. A clear that raced with a
//! newer event therefore never erases it: the knotes are edge-triggered, and an erased edge
//! would be a lost wakeup. Closed and error bits are never cleared.
//!
//! # Wakers
//!
//! A waiter stores its waker under the `waiters` lock and then re-reads the readiness; the
//! driver stores readiness first and then takes the wakers under the lock. Whichever comes
//! second sees the other's write, so no wakeup is lost.

use super::{Handle, key, key_of, split_key, udata};
use crate::io::{Interest, Ready};
use crate::loom::{Arc, AtomicU32, AtomicU64, AtomicUsize, Mutex, Ordering, lock};
use kq_reactor::{
    EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, EV_ERROR, EVFILT_READ, EVFILT_SIGNAL, EVFILT_TIMER,
    EVFILT_USER, EVFILT_WRITE, Kevent,
};
use slab::Slab;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

const TICK_SHIFT: usize = 16;
const TICK_MASK: usize = 0xffff << TICK_SHIFT;
const SHUTDOWN: usize = 1 << 32;

/// The registrations of a driver.
pub(crate) struct Slots {
    inner: Mutex<Inner>,
    tick: AtomicU32,
}

struct Inner {
    slab: Slab<(u32, Arc<ScheduledIo>)>,
    generation: u32,
    shutdown: bool,
}

/// The shared state of one registered source.
///
/// `repr(C)`, hot fields first: an I/O event touches `readiness`, the `waiters` lock and
/// one waker, which lie in the first 56 bytes (the whole is 80; it was 112 with the waiter
/// list inline), so that a delivery usually costs one cache line — with 10,000 sockets the
/// line is rarely in cache (see [`Slots::touch`]).
#[derive(Debug)]
#[repr(C)]
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
    /// `data` of the events of other filters: summed for signals, the last one otherwise.
    data: AtomicU64,
    /// `fflags` of the events of other filters (vnode, proc), accumulated until taken.
    fflags: AtomicU32,
    /// The errno of a failed registration.
    error: AtomicU32,
    /// A socket error the core reported in a READ or WRITE event's `fflags`. On Linux the
    /// core read it with `SO_ERROR`, which cleared it in the kernel, so it is kept here
    /// for the next operation to return (see `PollEvented`).
    socket_error: AtomicU32,
}

/// The waiters of `readiness(...)` futures: what each waits for, and its waker.
type WaiterList = Slab<(Interest, Option<Waker>)>;

#[derive(Debug, Default)]
#[repr(C)]
struct Waiters {
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// Waiters of `readiness(...)` futures, which may be many per direction; allocated
    /// for the first (most registrations never have one, and the hot fields stay small).
    list: Option<Box<WaiterList>>,
}

/// Readiness a task observed, with the tick to clear it by.
#[derive(Debug, Clone, Copy)]
pub struct ReadyEvent {
    pub(crate) ready: Ready,
    tick: u16,
}

impl Slots {
    pub(crate) fn new() -> Slots {
        Slots {
            inner: Mutex::new(Inner {
                slab: Slab::new(),
                generation: 0,
                shutdown: false,
            }),
            tick: AtomicU32::new(0),
        }
    }

    /// The tick of the turn that is delivering events.
    pub(crate) fn next_tick(&self) -> u16 {
        self.tick.fetch_add(1, Ordering::Relaxed) as u16
    }

    fn insert(&self) -> io::Result<(u64, Arc<ScheduledIo>)> {
        let io = Arc::new(ScheduledIo {
            readiness: AtomicUsize::new(0),
            fflags: AtomicU32::new(0),
            data: AtomicU64::new(0),
            error: AtomicU32::new(0),
            socket_error: AtomicU32::new(0),
            waiters: Mutex::new(Waiters::default()),
        });
        let mut inner = lock(&self.inner);
        if inner.shutdown {
            return Err(super::shutdown_error());
        }
        inner.generation = inner.generation.wrapping_add(1);
        let generation = inner.generation;
        let index = inner.slab.insert((generation, io.clone()));
        Ok((key(index, generation), io))
    }

    fn remove(&self, key: u64) {
        let (index, generation) = split_key(key);
        let mut inner = lock(&self.inner);
        if inner.slab.get(index).is_some_and(|(g, _)| *g == generation) {
            inner.slab.remove(index);
        }
    }

    fn with(&self, key: u64, f: impl FnOnce(&ScheduledIo)) {
        let (index, generation) = split_key(key);
        let inner = lock(&self.inner);
        if let Some((g, io)) = inner.slab.get(index) {
            if *g == generation {
                f(io);
            }
        }
    }

    /// Reads the registration of each event, before any is updated: the cache misses of a
    /// batch then overlap, instead of each waiting behind the atomic updates of the events
    /// before it (with 10,000 sockets, most registrations are out of cache).
    pub(crate) fn touch(&self, evs: &[Kevent]) {
        let inner = lock(&self.inner);
        for ev in evs {
            if ev.flags & EV_ERROR != 0 || ev.filter == EVFILT_TIMER || ev.filter == EVFILT_USER {
                continue;
            }
            let (index, _) = split_key(key_of(ev));
            if let Some((_, io)) = inner.slab.get(index) {
                std::hint::black_box(io.readiness.load(Ordering::Relaxed));
                std::hint::black_box(io.socket_error.load(Ordering::Relaxed));
            }
        }
    }

    /// An event of a registered source.
    pub(crate) fn event(&self, ev: &Kevent, tick: u16, wakers: &mut Vec<Waker>) {
        let ready = match ev.filter {
            EVFILT_READ | EVFILT_WRITE => {
                let (ready, closed) = if ev.filter == EVFILT_READ {
                    (Ready::READABLE, Ready::READ_CLOSED)
                } else {
                    (Ready::WRITABLE, Ready::WRITE_CLOSED)
                };
                match (ev.flags & EV_EOF != 0, ev.fflags != 0) {
                    (false, _) => ready,
                    (true, false) => ready | closed,
                    (true, true) => ready | closed | Ready::ERROR,
                }
            }
            _ => Ready::READABLE,
        };
        self.with(key_of(ev), |io| {
            if ev.fflags != 0 && (ev.filter == EVFILT_READ || ev.filter == EVFILT_WRITE) {
                io.socket_error.store(ev.fflags, Ordering::Release);
            }
            if ev.filter != EVFILT_READ && ev.filter != EVFILT_WRITE {
                io.fflags.fetch_or(ev.fflags, Ordering::AcqRel);
                if ev.filter == EVFILT_SIGNAL {
                    io.data.fetch_add(ev.data as u64, Ordering::AcqRel);
                } else {
                    io.data.store(ev.data as u64, Ordering::Release);
                }
            }
            io.set_readiness(tick, ready, wakers);
        });
    }

    /// An `EV_ERROR` entry for a change that named a live registration.
    pub(crate) fn error(&self, ev: &Kevent, wakers: &mut Vec<Waker>) {
        self.with(key_of(ev), |io| {
            io.error.store(ev.data as u32, Ordering::Release);
            io.set_readiness(0, Ready::ERROR, wakers);
        });
    }

    pub(crate) fn shutdown(&self, wakers: &mut Vec<Waker>) {
        let mut inner = lock(&self.inner);
        inner.shutdown = true;
        for (_, (_, io)) in inner.slab.iter() {
            io.readiness.fetch_or(SHUTDOWN, Ordering::AcqRel);
            io.take_wakers(Ready::ALL, wakers);
        }
        inner.slab.clear();
    }

    /// Live registrations.
    pub(crate) fn len(&self) -> usize {
        lock(&self.inner).slab.len()
    }
}

impl ScheduledIo {
    fn set_readiness(&self, tick: u16, ready: Ready, wakers: &mut Vec<Waker>) {
        let mut cur = self.readiness.load(Ordering::Acquire);
        loop {
            let next = (cur & SHUTDOWN)
                | (usize::from(tick) << TICK_SHIFT)
                | Ready::from_bits(cur).bits()
                | ready.bits();
            match self.readiness.compare_exchange_weak(
                cur,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        self.take_wakers(ready, wakers);
    }

    fn take_wakers(&self, ready: Ready, wakers: &mut Vec<Waker>) {
        let mut w = lock(&self.waiters);
        if !ready.intersection(Interest::READABLE.mask()).is_empty() {
            wakers.extend(w.reader.take());
        }
        if !ready.intersection(Interest::WRITABLE.mask()).is_empty() {
            wakers.extend(w.writer.take());
        }
        for (_, (interest, waker)) in w.list.iter_mut().flat_map(|l| l.iter_mut()) {
            if !ready.intersection(interest.mask()).is_empty() {
                wakers.extend(waker.take());
            }
        }
    }

    /// The readiness known now for `interest`: `None` if there is none.
    pub(crate) fn ready_now(&self, interest: Interest) -> io::Result<Option<ReadyEvent>> {
        self.current(interest)
    }

    fn current(&self, interest: Interest) -> io::Result<Option<ReadyEvent>> {
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & SHUTDOWN != 0 {
            return Err(super::shutdown_error());
        }
        let ready = Ready::from_bits(cur).intersection(interest.mask());
        if ready.is_error() {
            let errno = self.error.load(Ordering::Acquire);
            if errno != 0 {
                return Err(io::Error::from_raw_os_error(errno as i32));
            }
        }
        if ready.is_empty() {
            return Ok(None);
        }
        Ok(Some(ReadyEvent {
            ready,
            tick: ((cur & TICK_MASK) >> TICK_SHIFT) as u16,
        }))
    }

    /// Readiness for one direction (`interest` must be READABLE or WRITABLE): ready now,
    /// or `Pending` with the waker stored in that direction's slot.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(ev) = self.current(interest).transpose() {
            return Poll::Ready(ev);
        }
        let mut w = lock(&self.waiters);
        let slot = if interest.is_readable() {
            &mut w.reader
        } else {
            &mut w.writer
        };
        match slot {
            Some(old) if old.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        match self.current(interest) {
            Ok(None) => Poll::Pending,
            Ok(Some(ev)) => Poll::Ready(Ok(ev)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// As `poll_ready`, for a waiter of the list (any number of them): `slot` is its entry,
    /// created on first use and kept until [`ScheduledIo::drop_waiter`].
    pub(crate) fn poll_ready_waiter(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        slot: &mut Option<usize>,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(ev) = self.current(interest).transpose() {
            return Poll::Ready(ev);
        }
        let mut w = lock(&self.waiters);
        let list = w.list.get_or_insert_with(Box::default);
        match slot {
            Some(i) => {
                let (_, waker) = &mut list[*i];
                match waker {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
            }
            None => *slot = Some(list.insert((interest, Some(cx.waker().clone())))),
        }
        match self.current(interest) {
            Ok(None) => Poll::Pending,
            Ok(Some(ev)) => Poll::Ready(Ok(ev)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    pub(crate) fn drop_waiter(&self, slot: usize) {
        let entry = lock(&self.waiters)
            .list
            .as_mut()
            .and_then(|l| l.try_remove(slot));
        drop(entry);
    }

    /// Clears what `ev` saw, unless a newer event came since (see the module docs).
    pub(crate) fn clear_readiness(&self, ev: ReadyEvent) {
        let clear = ev
            .ready
            .without(Ready::READ_CLOSED | Ready::WRITE_CLOSED | Ready::ERROR);
        let mut cur = self.readiness.load(Ordering::Acquire);
        loop {
            if ((cur & TICK_MASK) >> TICK_SHIFT) as u16 != ev.tick {
                return;
            }
            let next = cur & !clear.bits();
            match self.readiness.compare_exchange_weak(
                cur,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes the socket error an event reported, if any.
    pub(crate) fn take_socket_error(&self) -> Option<io::Error> {
        if self.socket_error.load(Ordering::Acquire) == 0 {
            return None;
        }
        match self.socket_error.swap(0, Ordering::AcqRel) {
            0 => None,
            errno => Some(io::Error::from_raw_os_error(errno as i32)),
        }
    }

    /// Takes the `fflags` and `data` accumulated by the events of other filters.
    pub(crate) fn take_event(&self) -> (u32, u64) {
        (
            self.fflags.swap(0, Ordering::AcqRel),
            self.data.swap(0, Ordering::AcqRel),
        )
    }
}

/// One source registered with a driver: its knotes and its readiness.
///
/// Dropping it deletes the knotes (with the next turn) and frees the slot.
#[derive(Debug)]
pub(crate) struct Registration {
    handle: StdArc<Handle>,
    shared: Arc<ScheduledIo>,
    key: u64,
    ident: usize,
    filters: [Option<i16>; 2],
    registered: bool,
}

impl Registration {
    /// Registers the descriptor `fd` for `interest` (one `EV_CLEAR` knote per direction).
    ///
    /// # Errors
    ///
    /// `EBADF` if `fd` is not open; the runtime's shutdown error.
    pub(crate) fn new(
        handle: StdArc<Handle>,
        fd: RawFd,
        interest: Interest,
    ) -> io::Result<Registration> {
        // Errors of queued changes come back later; catch the common one now.
        // SAFETY: F_GETFD only reads the descriptor table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Registration::new_open(handle, fd, interest)
    }

    /// As [`new`](Registration::new), for a descriptor known to be open (an owned one).
    pub(crate) fn new_open(
        handle: StdArc<Handle>,
        fd: RawFd,
        interest: Interest,
    ) -> io::Result<Registration> {
        let mut filters = [None; 2];
        if interest.is_readable() {
            filters[0] = Some(EVFILT_READ);
        }
        if interest.is_writable() {
            filters[1] = Some(EVFILT_WRITE);
        }
        Registration::with_filters(handle, fd as usize, filters, 0, 0)
    }

    /// Registers the knote `(ident, filter)` with `fflags` and `data`, `EV_CLEAR`.
    pub(crate) fn new_filter(
        handle: StdArc<Handle>,
        ident: usize,
        filter: i16,
        fflags: u32,
        data: isize,
    ) -> io::Result<Registration> {
        Registration::with_filters(handle, ident, [Some(filter), None], fflags, data)
    }

    fn with_filters(
        handle: StdArc<Handle>,
        ident: usize,
        filters: [Option<i16>; 2],
        fflags: u32,
        data: isize,
    ) -> io::Result<Registration> {
        let (key, shared) = handle.io.insert()?;
        let (changes, n) = knote_changes(&filters, |f| {
            Kevent::new(ident, f, EV_ADD | EV_CLEAR, fflags, data as _, udata(key))
        });
        handle.submit(&changes[..n], None);
        Ok(Registration {
            handle,
            shared,
            key,
            ident,
            filters,
            registered: true,
        })
    }

    pub(crate) fn shared(&self) -> &ScheduledIo {
        &self.shared
    }

    /// Readiness for one direction (`READABLE` or `WRITABLE`), counting against the task's
    /// budget; one waiter per direction (the slot of [`ScheduledIo::poll_ready`]).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<ReadyEvent>> {
        let coop = std::task::ready!(crate::runtime::coop::poll_proceed(cx));
        let res = std::task::ready!(self.shared.poll_ready(cx, interest));
        coop.made_progress();
        Poll::Ready(res)
    }

    /// Waits until the source is ready for `interest`, counting against the task's
    /// budget; any number of tasks may wait at once (each has an entry in the list).
    pub(crate) async fn readiness(&self, interest: Interest) -> io::Result<ReadyEvent> {
        /// Removes the waiter entry however the wait ends (completion or cancellation).
        struct Waiter<'a> {
            shared: &'a ScheduledIo,
            slot: Option<usize>,
        }
        impl Drop for Waiter<'_> {
            fn drop(&mut self) {
                if let Some(i) = self.slot {
                    self.shared.drop_waiter(i);
                }
            }
        }
        let mut w = Waiter {
            shared: &self.shared,
            slot: None,
        };
        std::future::poll_fn(|cx| {
            let coop = std::task::ready!(crate::runtime::coop::poll_proceed(cx));
            let res = std::task::ready!(w.shared.poll_ready_waiter(cx, interest, &mut w.slot));
            coop.made_progress();
            Poll::Ready(res)
        })
        .await
    }

    /// Deletes the knotes and frees the slot; `close` is closed once the deletion is
    /// applied (see "Deferred close" in the driver's docs).
    pub(crate) fn deregister(&mut self, close: Option<OwnedFd>) {
        if !std::mem::replace(&mut self.registered, false) {
            drop(close);
            return;
        }
        self.handle.io.remove(self.key);
        let (changes, n) = knote_changes(&self.filters, |f| {
            Kevent::new(self.ident, f, EV_DELETE, 0, 0, udata(self.key))
        });
        self.handle.submit(&changes[..n], close);
    }
}

/// One change per filter of a registration, without allocating (this runs for every
/// accepted and closed connection): the array and how many entries are used.
fn knote_changes(
    filters: &[Option<i16>; 2],
    change: impl Fn(i16) -> Kevent,
) -> ([Kevent; 2], usize) {
    let mut out = [super::empty(); 2];
    let mut n = 0;
    for &f in filters.iter().flatten() {
        out[n] = change(f);
        n += 1;
    }
    (out, n)
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.deregister(None);
    }
}
