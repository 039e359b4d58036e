//! Applying a change: FreeBSD's `kqueue_register` — validation, lookup by `(ident, filter)`,
//! attach (with the filter's kernel facility: epoll, inotify, pidfd, the signal handler, the
//! timer heap), modify (udata, input fflags/data or the filter's touch, enable/disable),
//! delete, and releasing what a deleted knote alone used.

use super::abi::*;
use super::fd::{self, FdKind, FdSlot};
use super::knote::{ACTIVE, DISABLED, Key, Knote, QUEUED, Source};
use super::selector::{Inner, PROC_BIT, State, TOKEN_SIGNAL, epoll_add, errno};
use super::signal;
use super::syscall;
use super::timer::{self, TimerState};
use super::vnode;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;

impl State {
    /// `kqueue_register`: applies one change.
    pub(super) fn register(&mut self, sel: &Inner, c: &Kevent) -> io::Result<()> {
        let flags = c.flags;
        if flags & EV_ENABLE != 0 && flags & EV_DISABLE != 0 {
            return Err(errno(libc::EINVAL));
        }
        if flags & EV_ADD != 0 && flags & EV_KEEPUDATA != 0 {
            return Err(errno(libc::EINVAL));
        }
        match c.filter {
            EVFILT_VNODE if vnode::is_path(c.ident) => self.register_path(sel, c),
            // Child records are kept for path idents only (kq's extension).
            EVFILT_VNODE if c.flags & EV_DELETE == 0 && c.fflags & crate::NOTE_KQ_CHILDREN != 0 => {
                Err(errno(libc::EINVAL))
            }
            EVFILT_READ | EVFILT_WRITE | EVFILT_VNODE => self.register_fd(sel, c),
            EVFILT_PROC | EVFILT_SIGNAL | EVFILT_TIMER | EVFILT_USER => self.register_id(sel, c),
            EVFILT_AIO | EVFILT_LIO => Err(errno(libc::ENXIO)),
            EVFILT_EMPTY => Err(errno(libc::EOPNOTSUPP)),
            _ => Err(errno(libc::EINVAL)),
        }
    }

    /// The part of a change common to every filter once the knote exists: udata, input
    /// fflags/data (or the filter's touch), enable/disable, re-evaluation.
    pub(super) fn modify(&mut self, sel: &Inner, key: Key, c: &Kevent) -> io::Result<()> {
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
                if let (Some(ino), true) = (self.inotify.as_ref(), wd >= 0 || vnode::is_path(fd)) {
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
    pub(super) fn reevaluate(&mut self, key: Key) {
        // Whatever activated it before, it is now re-checked in full.
        self.table.slab[key].hinted = 0;
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

    pub(super) fn register_fd(&mut self, sel: &Inner, c: &Kevent) -> io::Result<()> {
        let fd = c.ident;
        if RawFd::try_from(fd).is_err() {
            return Err(errno(libc::EBADF));
        }
        if c.flags & EV_DELETE != 0 {
            if let Some(key) = self.epoll_knote(fd, c.filter) {
                return self.delete_checked(sel, fd, key);
            }
        }
        // A READ knote, or a WRITE knote where no `data` is computed (so no broken pipe to
        // refuse), is added without classifying the descriptor: epoll validates it.
        let lazy = c.flags & EV_ADD != 0
            && (c.filter == EVFILT_READ || (c.filter == EVFILT_WRITE && !self.edge_data));
        let (existing, stat) = self.slot_for(sel, fd, lazy)?;
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
        // Attach. A slot checked in this call needs no `fstat`, except for a file's inotify
        // watch below.
        let mut stat = stat;
        let mut armed_pair = false;
        if self.fds.get(fd).is_none_or(Option::is_none) {
            if lazy {
                (armed_pair, stat) = self.new_slot_in_epoll(sel, fd, c.filter)?;
            } else {
                let st = match stat {
                    Some(st) => st,
                    None => fd::stat(fd)?,
                };
                self.new_slot(fd, &st);
                stat = Some(st);
            }
        }
        let edge_data = self.edge_data;
        let slot = self.fds[fd].as_mut().ok_or_else(|| errno(libc::EBADF))?;
        if c.filter == EVFILT_WRITE && edge_data {
            // The broken-pipe check below needs the kind.
            if let Err(e) = slot.classify_now(fd as RawFd) {
                let _ = self.drop_slot_if_empty(sel, fd);
                return Err(e);
            }
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
            self.ensure_inotify(sel)?;
            let st = match stat {
                Some(st) => st,
                None => fd::stat(fd)?,
            };
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
        if armed_pair
            || self.defer_arm == Some(fd)
                && self.fds[fd].as_ref().is_some_and(|s| {
                    !s.in_epoll && !matches!(s.kind, FdKind::File | FdKind::NoPoll)
                })
        {
            // The next change adds the other direction and registers both at once; its
            // epoll ADD reports this knote's condition too (or this change's ADD already
            // asked for both: `armed_pair`). `arm_unarmed` catches the case where it does
            // not get that far.
            self.unarmed = Some(fd);
            return Ok(());
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

    /// Registers in epoll an fd that the previous change left for its successor, if the
    /// successor did not (it failed first), and takes the knotes' conditions as
    /// `register_fd` would have.
    pub(super) fn arm_unarmed(&mut self, sel: &Inner) {
        let Some(fd) = self.unarmed.take() else {
            return;
        };
        let Some(slot) = self.fds.get(fd).and_then(Option::as_ref) else {
            return;
        };
        if slot.in_epoll {
            // Registered for both directions by the first of two additions whose second
            // was not applied: shrink the interest to the knotes there are.
            let _ = self.update_interest(sel, fd);
            return;
        }
        let keys = [slot.read, slot.write];
        match self.update_interest(sel, fd) {
            Ok(true) => {}
            Ok(false) => keys.into_iter().flatten().for_each(|k| self.reevaluate(k)),
            Err(_) => {
                // As a failed registration: the knotes go (the change that added them was
                // already answered; epoll refusing a descriptor it accepted a moment ago
                // does not happen for the pollable kinds deferred here).
                for key in keys.into_iter().flatten() {
                    self.remove(key);
                }
                let _ = self.drop_slot_if_empty(sel, fd);
            }
        }
    }

    /// Returns `Some(())` if a live slot for `fd` names the same file, dropping a slot that
    /// belongs to a closed descriptor. `EBADF` if `fd` is not open.
    /// The `fstat` it had to make, if any, comes back for the caller to reuse.
    /// `lazy`: a missing slot is about to be made by epoll ADD, which validates the fd; no
    /// `fstat` for it here.
    pub(super) fn slot_for(
        &mut self,
        sel: &Inner,
        fd: usize,
        lazy: bool,
    ) -> io::Result<(bool, Option<libc::stat>)> {
        let seq = self.seq;
        let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) else {
            if lazy {
                return Ok((false, None));
            }
            // Validate the descriptor (EBADF precedes ENOENT).
            return Ok((false, Some(fd::stat(fd)?)));
        };
        if slot.checked == seq {
            return Ok((true, None));
        }
        let same = if slot.in_epoll {
            let same = slot.still_registered(sel.epfd.as_raw_fd(), fd);
            if matches!(same, Ok(true)) {
                slot.armed = seq;
            }
            same
        } else {
            slot.same_file(sel.epfd.as_raw_fd(), fd)
        };
        match same {
            Ok(true) => {
                slot.checked = seq;
                Ok((true, None))
            }
            Ok(false) => {
                self.purge_slot(fd);
                Ok((false, None))
            }
            Err(e) => {
                self.purge_slot(fd);
                Err(e)
            }
        }
    }

    /// The knote `(fd, filter)` if its slot is registered in epoll and was not checked in
    /// this call.
    pub(super) fn epoll_knote(&self, fd: usize, filter: i16) -> Option<Key> {
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
    ///
    /// When the next change of the list deletes the fd's other knote (`defer_arm`, see
    /// [`arm_together`]), the epoll registration is deleted now rather than shrunk, and the
    /// other deletion needs no epoll call of its own: one `epoll_ctl` for the pair, which is
    /// still this change's identity check. Should that change not be applied after all (no
    /// room for this one's receipt), `arm_unarmed` registers the remaining knote again.
    pub(super) fn delete_checked(&mut self, sel: &Inner, fd: usize, key: Key) -> io::Result<()> {
        self.remove(key);
        self.dirty.retain(|f| *f != fd);
        let res = if self.defer_arm == Some(fd) {
            self.unregister_for_pair(sel, fd)
        } else {
            self.drop_slot_if_empty(sel, fd)
        };
        match res {
            Ok(()) => {
                if let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) {
                    slot.checked = self.seq;
                }
                Ok(())
            }
            Err(e) => {
                self.purge_slot(fd);
                match e.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::EBADF) => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Deletes the epoll registration of `fd` whose other knote the next change deletes
    /// (see `delete_checked`); the slot and that knote stay until then.
    fn unregister_for_pair(&mut self, sel: &Inner, fd: usize) -> io::Result<()> {
        let Some(slot) = self.fds.get_mut(fd).and_then(Option::as_mut) else {
            return Ok(());
        };
        if slot.is_empty() || !slot.in_epoll {
            return self.drop_slot_if_empty(sel, fd);
        }
        // SAFETY: removing our own registration; a null event is allowed for DEL.
        syscall!(epoll_ctl(
            sel.epfd.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd as RawFd,
            ptr::null_mut()
        ))?;
        slot.in_epoll = false;
        slot.interest = 0;
        self.unarmed = Some(fd);
        Ok(())
    }

    /// Makes the slot of `fd`, classified by its `fstat`.
    pub(super) fn new_slot(&mut self, fd: usize, st: &libc::stat) {
        let mut kind = fd::classify(st, super::lookup_kqueue(fd as RawFd));
        fd::refine(&mut kind, fd as RawFd);
        let generation = self.table.next_gen();
        self.insert_slot(fd, generation, kind, st);
    }

    /// Makes the slot of `fd` for the first READ or WRITE knote `filter` by registering the
    /// fd in epoll: no `fstat`, the slot stays [`FdKind::Unknown`] (epoll's `EBADF` is the
    /// descriptor check). When the next change adds the other direction (`defer_arm`), the
    /// ADD asks for both, and the first value returned is `true`. A descriptor epoll
    /// refuses (`EPERM`: a regular file, a directory, `/dev/null`) is classified by `fstat`
    /// instead, which comes back as the second value.
    fn new_slot_in_epoll(
        &mut self,
        sel: &Inner,
        fd: usize,
        filter: i16,
    ) -> io::Result<(bool, Option<libc::stat>)> {
        let pair = self.defer_arm == Some(fd);
        let dir = |f: i16| {
            if f == EVFILT_READ {
                libc::EPOLLIN as u32
            } else {
                libc::EPOLLOUT as u32
            }
        };
        let mut want = (libc::EPOLLET | libc::EPOLLRDHUP) as u32 | dir(filter);
        if pair {
            want |= dir(if filter == EVFILT_READ {
                EVFILT_WRITE
            } else {
                EVFILT_READ
            });
        }
        // Registered before the slot is made: a bad number never grows the table.
        let generation = self.table.next_gen();
        let mut ev = libc::epoll_event {
            events: want,
            u64: (u64::from(generation) << 32) | fd as u64,
        };
        // SAFETY: `ev` is a valid epoll_event.
        match syscall!(epoll_ctl(
            sel.epfd.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd as RawFd,
            &mut ev
        )) {
            Ok(_) => {
                // SAFETY: a zeroed stat is a valid value (an Unknown slot has no identity).
                let none: libc::stat = unsafe { std::mem::zeroed() };
                let slot = self.insert_slot(fd, generation, FdKind::Unknown, &none);
                slot.in_epoll = true;
                slot.interest = want;
                slot.armed = slot.checked;
                Ok((pair, None))
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                let st = fd::stat(fd)?;
                let kind = match fd::classify(&st, None) {
                    FdKind::File => FdKind::File,
                    _ => FdKind::NoPoll, // as `update_interest`
                };
                self.insert_slot(fd, generation, kind, &st);
                Ok((false, Some(st)))
            }
            Err(e) => Err(e),
        }
    }

    fn insert_slot(
        &mut self,
        fd: usize,
        generation: u32,
        kind: FdKind,
        st: &libc::stat,
    ) -> &mut FdSlot {
        // Knotes own their pidfds and the inotify descriptor: dropping the state closes them.
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
            armed: 0,
            hint_seq: 0,
            hint: 0,
            rdhup: false,
            hup: false,
            so_error: 0,
            kq_activity: 0,
        };
        if self.fds.len() <= fd {
            self.fds.resize_with(fd + 1, || None);
        }
        self.fds[fd].insert(slot)
    }

    /// Drops every knote of a slot whose descriptor was closed (no epoll call: the
    /// registration died with the file, or names a file we no longer track).
    pub(super) fn purge_slot(&mut self, fd: usize) {
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
        }
    }

    /// Makes the fd's epoll interest the union of its knotes' directions: input for a READ
    /// knote, output for a WRITE knote, hang-up always (so activation order stays epoll's,
    /// and a READ-only fd does not wake the kqueue each time it becomes writable).
    ///
    /// Returns whether epoll was (re)armed: it then checks readiness itself and queues a
    /// hint if the fd is ready, so no probe of our own is needed.
    pub(super) fn update_interest(&mut self, sel: &Inner, fd: usize) -> io::Result<bool> {
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
            // Armed already in this call (the first of two paired additions, or an identity
            // check by MOD): epoll reports what is ready, as if armed now.
            return Ok(slot.armed == self.seq);
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
                slot.armed = self.seq;
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
    pub(super) fn drop_slot_if_empty(&mut self, sel: &Inner, fd: usize) -> io::Result<()> {
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

    pub(super) fn register_id(&mut self, sel: &Inner, c: &Kevent) -> io::Result<()> {
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
    pub(super) fn arm_timer(&mut self, key: Key, data: Data, fflags: u32) -> io::Result<()> {
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
        t.tgen = self.timers.next_gen();
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

    /// EV_DELETE: removes a knote and releases what only it used.
    pub(super) fn delete(&mut self, sel: &Inner, key: Key) {
        let ident = self.table.slab[key].kev.ident;
        let fd_knote = matches!(self.table.slab[key].src, Source::Fd | Source::Vnode)
            && !vnode::is_path(ident);
        self.remove(key);
        if fd_knote {
            self.dirty.retain(|f| *f != ident);
            let _ = self.release_fd(sel, ident);
        }
    }

    /// After a knote of `fd` went away: drops the inotify watch if no READ or VNODE knote
    /// uses it, shrinks the epoll interest, and frees the slot when it is empty.
    pub(super) fn release_fd(&mut self, sel: &Inner, fd: usize) -> io::Result<()> {
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
    pub(super) fn remove(&mut self, key: Key) {
        self.table.unlink(key);
        let kn = self.table.slab.remove(key);
        let (ident, filter) = (kn.kev.ident, kn.kev.filter);
        match kn.src {
            Source::Vnode if vnode::is_path(ident) => self.path_knote_removed(ident),
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
pub(super) fn stored(c: &Kevent) -> Kevent {
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

/// Whether `a` and then `b` add, or delete, the READ and the WRITE knote of one descriptor
/// (in either order), plainly enough that the two can share one epoll call: two additions
/// with no disable, dispatch or oneshot (one `EPOLL_CTL_ADD`), or two bare deletions (one
/// `EPOLL_CTL_DEL`).
pub(super) fn arm_together(a: &Kevent, b: &Kevent) -> bool {
    const ACTIONS: u16 = EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | EV_DISPATCH | EV_ONESHOT;
    let adds = |c: &Kevent| c.flags & (ACTIONS & !EV_ENABLE) == EV_ADD;
    let deletes = |c: &Kevent| c.flags & ACTIONS == EV_DELETE;
    a.ident == b.ident
        && matches!(
            (a.filter, b.filter),
            (EVFILT_READ, EVFILT_WRITE) | (EVFILT_WRITE, EVFILT_READ)
        )
        && ((adds(a) && adds(b)) || (deletes(a) && deletes(b)))
}
