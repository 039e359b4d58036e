//! Knotes and the tables that hold them.
//!
//! # Invariant
//!
//! - A knote lives in `Table::slab`; it is named by exactly one index entry: `fds[ident]`
//!   for the fd filters (READ, WRITE, VNODE) and `ids[(ident, filter)]` for the others.
//! - `QUEUED` is set exactly when the knote is linked into the active queue; a queued knote
//!   is never `DISABLED` (disabling unlinks it).
//! - `generation` is unique per knote for the life of the kqueue: an activity hint that carries a
//!   knote's key also carries its `generation`, so a hint for a freed and reused slot is ignored.

use super::abi::{Data, Kevent};
use slab::Slab;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Index of a knote in the slab.
pub(super) type Key = usize;

/// The knote's condition held when last evaluated and it waits for delivery.
pub(super) const ACTIVE: u8 = 0x1;
/// The knote is linked into the active queue.
pub(super) const QUEUED: u8 = 0x2;
/// The knote is disabled (EV_DISABLE or after an EV_DISPATCH delivery).
pub(super) const DISABLED: u8 = 0x4;

const NIL: usize = usize::MAX;

/// Filter-specific state of a knote.
#[derive(Debug)]
pub(super) enum Source {
    /// READ/WRITE on a descriptor; the descriptor's state is its `FdSlot`.
    Fd,
    /// VNODE on a file or directory; `fflags` accumulates the events seen.
    Vnode,
    /// PROC: the pidfd, and whether the process was seen to exit.
    Proc {
        pidfd: std::os::fd::OwnedFd,
        exited: bool,
    },
    /// SIGNAL: the process-wide delivery count already reported.
    Signal { seen: u64 },
    /// TIMER: see `timer.rs`.
    Timer(super::timer::TimerState),
    /// USER: whether it is triggered.
    User { triggered: bool },
}

/// One registration.
#[derive(Debug)]
pub(super) struct Knote {
    /// Output kevent: ident, filter, stored flags, output fflags/data, udata.
    pub(super) kev: Kevent,
    /// Input fflags (`kn_sfflags`).
    pub(super) sfflags: u32,
    /// Input data (`kn_sdata`).
    pub(super) sdata: Data,
    /// `ACTIVE | QUEUED | DISABLED`.
    pub(super) status: u8,
    /// Unique id of this registration (see the invariant).
    pub(super) generation: u32,
    /// The call (`seq`) whose epoll hint activated this knote, while it waits for delivery;
    /// 0 once delivered, or if something else activated it.
    pub(super) hinted: u64,
    pub(super) src: Source,
    prev: usize,
    next: usize,
}

impl Knote {
    pub(super) fn new(kev: Kevent, generation: u32, src: Source) -> Knote {
        Knote {
            kev,
            sfflags: 0,
            sdata: 0,
            status: 0,
            generation,
            hinted: 0,
            src,
            prev: NIL,
            next: NIL,
        }
    }
}

/// A small multiplicative hasher for integer keys: the index is not exposed to untrusted
/// keys in a way that matters more than a slowdown, and SipHash costs more than the rest
/// of a change.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_i16(&mut self, n: i16) {
        self.write_u64(n as u64);
    }
}

/// The knotes of one kqueue and its active queue (FIFO by activation).
#[derive(Debug, Default)]
pub(super) struct Table {
    pub(super) slab: Slab<Knote>,
    pub(super) ids: HashMap<(usize, i16), Key, BuildHasherDefault<IdHasher>>,
    head: Option<Key>,
    tail: Option<Key>,
    len: usize,
    next_gen: u32,
    /// Number of activations that queued a knote (FreeBSD's KNOTE on the kqueue itself).
    pub(super) activations: u64,
}

impl std::fmt::Debug for IdHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdHasher")
    }
}

impl Table {
    /// A fresh generation number for a new knote.
    pub(super) fn next_gen(&mut self) -> u32 {
        self.next_gen = self.next_gen.wrapping_add(1) & 0x7fff_ffff;
        self.next_gen
    }

    /// Number of knotes in the active queue.
    pub(super) fn queued(&self) -> usize {
        self.len
    }

    /// Marks a knote active and queues it unless it is queued or disabled (`KNOTE_ACTIVATE`).
    pub(super) fn activate(&mut self, key: Key) {
        let kn = &mut self.slab[key];
        kn.status |= ACTIVE;
        if kn.status & (QUEUED | DISABLED) == 0 {
            self.activations += 1;
            self.push_back(key);
        }
    }

    /// Appends a knote to the tail of the active queue.
    pub(super) fn push_back(&mut self, key: Key) {
        let tail = self.tail;
        {
            let kn = &mut self.slab[key];
            debug_assert_eq!(kn.status & QUEUED, 0);
            kn.status |= QUEUED;
            kn.prev = tail.unwrap_or(NIL);
            kn.next = NIL;
        }
        match tail {
            Some(t) => self.slab[t].next = key,
            None => self.head = Some(key),
        }
        self.tail = Some(key);
        self.len += 1;
    }

    /// Takes the knote at the head of the active queue.
    pub(super) fn pop_front(&mut self) -> Option<Key> {
        let key = self.head?;
        self.unlink(key);
        Some(key)
    }

    /// Removes a knote from the active queue if it is there.
    pub(super) fn unlink(&mut self, key: Key) {
        let kn = &mut self.slab[key];
        if kn.status & QUEUED == 0 {
            return;
        }
        kn.status &= !QUEUED;
        let (prev, next) = (kn.prev, kn.next);
        kn.prev = NIL;
        kn.next = NIL;
        if prev == NIL {
            self.head = (next != NIL).then_some(next);
        } else {
            self.slab[prev].next = next;
        }
        if next == NIL {
            self.tail = (prev != NIL).then_some(prev);
        } else {
            self.slab[next].prev = prev;
        }
        self.len -= 1;
    }
}
