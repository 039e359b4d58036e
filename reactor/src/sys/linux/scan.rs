//! Activity and delivery: turning the kernel's hints into activations, running a knote's
//! filter, and FreeBSD's `kqueue_scan` over the active queue.

use super::abi::*;
use super::fd::{self, FdKind};
use super::knote::{ACTIVE, DISABLED, Key, Source};
use super::selector::{PROC_BIT, State, errno};
use super::signal;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;

impl State {
    /// Fires every timer whose deadline has passed.
    pub(super) fn expire_timers(&mut self, now: u64) {
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

    pub(super) fn signal_hint(&mut self) {
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

    pub(super) fn proc_hint(&mut self, key: Key, generation: u32) {
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
    pub(super) fn proc_exit(&mut self, key: Key) {
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

    pub(super) fn retry_procs(&mut self) {
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

    /// Reads the slot and the knotes of each hinted descriptor before any hint is taken:
    /// with many descriptors most are out of cache, and their misses then overlap instead
    /// of each waiting behind the work on the hints before it. (Descriptor tokens are the
    /// ones without `PROC_BIT`; the special tokens have it too.)
    pub(super) fn touch_hints(&self, hints: &[libc::epoll_event]) {
        let slot = |ev: &libc::epoll_event| {
            let t = ev.u64;
            (t & PROC_BIT == 0)
                .then(|| self.fds.get((t & 0xffff_ffff) as usize))
                .flatten()
                .and_then(Option::as_ref)
        };
        for ev in hints {
            std::hint::black_box(slot(ev).map(|s| s.generation));
        }
        for ev in hints {
            let Some(s) = slot(ev) else { continue };
            for key in [s.read, s.write].into_iter().flatten() {
                std::hint::black_box(self.table.slab.get(key).map(|k| k.status));
            }
        }
    }

    pub(super) fn fd_hint(&mut self, fd: usize, generation: u32, events: u32) {
        let seq = self.seq;
        let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) else {
            return;
        };
        if slot.generation != generation {
            return; // A registration of a file this slot no longer tracks.
        }
        slot.note_hint(fd as RawFd, events, seq);
        if self.edge_data {
            // Whether it is a kqueue matters now; the filter will want the kind anyway. (A
            // failure leaves it unclassified, for the filter to meet the same error.)
            let _ = slot.classify_now(fd as RawFd);
        }
        if let (FdKind::Kqueue(other), true) = (&slot.kind, self.edge_data) {
            // The watched kqueue's descriptor also becomes readable when it merely re-signals
            // its pending state; only a new activation there is activity for this knote.
            // (With `edge_data(false)` every report counts: an edge knote is delivered from
            // it alone, and a level one is evaluated, which asks the watched kqueue.)
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
                self.table.slab[key].hinted = seq;
                self.table.activate(key);
            }
        }
    }

    /// Runs a knote's filter. Returns whether its condition holds and leaves the output
    /// `data`/`fflags`/`EV_EOF` in its kevent. `Err` means the descriptor is gone.
    pub(super) fn evaluate(&mut self, key: Key) -> io::Result<bool> {
        let (seq, epfd) = (self.seq, self.epfd);
        let edge_data = self.edge_data;
        let kn = &mut self.table.slab[key];
        match &mut kn.src {
            Source::Fd => {
                let fd = kn.kev.ident;
                let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) else {
                    return Ok(false);
                };
                let fresh = slot.hint_seq == seq;
                // Without `data` to compute, an edge knote still waiting for delivery since
                // the fd's latest hint (the eventlist was full when it came) is delivered
                // from that hint, as it would have been then: no re-evaluation, and no
                // identity check (an event of a descriptor closed after its activation can
                // still come out once; the runtime deletes knotes before closing).
                let pending_hint = !edge_data && kn.hinted != 0 && kn.hinted == slot.hint_seq;
                if !fresh && !pending_hint && slot.checked != seq {
                    if !slot.same_file(epfd, fd)? {
                        return Err(errno(libc::EBADF));
                    }
                    slot.checked = seq;
                }
                let is_read = fd::is_read(kn.kev.filter);
                let hinted = if (fresh || pending_hint)
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
    pub(super) fn copyout(&mut self, key: Key) -> Kevent {
        let kn = &mut self.table.slab[key];
        kn.hinted = 0;
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
    pub(super) unsafe fn scan(&mut self, events: *mut Kevent, max: usize) -> usize {
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
}
