//! EVFILT_TIMER: an in-core timer store, no descriptor per timer.
//!
//! Deadlines are nanoseconds of `CLOCK_MONOTONIC`. The store is a binary heap of
//! `(deadline, key, gen)` entries with lazy deletion: deleting or re-adding a timer only
//! bumps the knote's timer generation, and an entry whose generation no longer matches is
//! dropped when it reaches the top. When stale entries outnumber live ones the heap is
//! rebuilt, so memory stays proportional to the live timers.

use super::abi::{Data, NOTE_ABSOLUTE, NOTE_NSECONDS, NOTE_SECONDS, NOTE_USECONDS};
use super::knote::Key;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;

/// Per-knote timer state.
#[derive(Debug, Default)]
pub(crate) struct TimerState {
    /// The generation of its latest arming, unique in the kqueue (from
    /// [`Timers::next_gen`]); heap entries with another value are stale. Unique across
    /// knotes, because a deleted knote's slot is reused and its stale entries stay behind.
    pub(crate) tgen: u64,
    /// Period in ns, 0 for a one-shot or absolute timer.
    pub(crate) period: u64,
    /// Expirations not yet reported.
    pub(crate) count: u64,
    /// An absolute timer that expired: level-active until deleted.
    pub(crate) fired_abs: bool,
    /// A live entry for this timer is in the heap.
    pub(crate) armed: bool,
}

/// The parsed form of a timer change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// First deadline (monotonic ns).
    pub(crate) deadline: u64,
    /// Period (ns), 0 if the timer fires once.
    pub(crate) period: u64,
}

/// Validates a timer change and computes its first deadline, as FreeBSD's
/// `filt_timervalidate`: negative data, unknown fflags bits or more than one unit are
/// `EINVAL`; a periodic timer of 0 is one unit.
pub(crate) fn parse(data: Data, fflags: u32, oneshot: bool, now: u64) -> io::Result<Spec> {
    const UNITS: u32 = NOTE_SECONDS | NOTE_USECONDS | NOTE_NSECONDS;
    if data < 0 || fflags & !(UNITS | NOTE_ABSOLUTE) != 0 || (fflags & UNITS).count_ones() > 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let unit: u64 = match fflags & UNITS {
        NOTE_SECONDS => 1_000_000_000,
        NOTE_USECONDS => 1_000,
        NOTE_NSECONDS => 1,
        _ => 1_000_000,
    };
    let value = (data as u64).saturating_mul(unit);
    if fflags & NOTE_ABSOLUTE != 0 {
        // Converted once, at registration, as FreeBSD does: later steps of the real-time
        // clock are not followed.
        let real = clock(libc::CLOCK_REALTIME);
        let deadline = now.saturating_add(value.saturating_sub(real));
        return Ok(Spec {
            deadline,
            period: 0,
        });
    }
    let value = if value == 0 && !oneshot { unit } else { value };
    Ok(Spec {
        deadline: now.saturating_add(value),
        period: if oneshot { 0 } else { value },
    })
}

/// Reads a clock in nanoseconds.
pub(crate) fn clock(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC and CLOCK_REALTIME always
    // exist, so the call cannot fail.
    unsafe { libc::clock_gettime(id, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Monotonic now, in nanoseconds.
pub(crate) fn now() -> u64 {
    clock(libc::CLOCK_MONOTONIC)
}

/// The heap of armed timers.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(u64, Key, u64)>>,
    /// Number of armed timers (entries that are not stale).
    live: usize,
    /// The last generation handed out.
    generation: u64,
}

impl Timers {
    /// A generation for a new arming (never 0, never reused).
    pub(crate) fn next_gen(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Arms a timer entry.
    pub(crate) fn push(&mut self, deadline: u64, key: Key, tgen: u64) {
        self.heap.push(Reverse((deadline, key, tgen)));
        self.live += 1;
    }

    /// Notes that one armed entry went stale (its timer was deleted or re-armed).
    pub(crate) fn forget_one(&mut self) {
        self.live = self.live.saturating_sub(1);
    }

    /// The earliest deadline, possibly of a stale entry (which only makes a wait shorter).
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((d, _, _))| *d)
    }

    /// Pops the earliest entry if its deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: u64) -> Option<(u64, Key, u64)> {
        match self.heap.peek() {
            Some(Reverse((d, _, _))) if *d <= now => {
                let Reverse(entry) = self.heap.pop()?;
                Some(entry)
            }
            _ => None,
        }
    }

    /// Counts one popped entry as no longer armed.
    pub(crate) fn popped_live(&mut self) {
        self.live = self.live.saturating_sub(1);
    }

    /// Drops stale entries when they outnumber the live ones by far.
    pub(crate) fn compact(&mut self, is_live: impl Fn(Key, u64) -> bool) {
        if self.heap.len() > 2 * self.live + 1024 {
            let entries = std::mem::take(&mut self.heap).into_vec();
            self.heap = entries
                .into_iter()
                .filter(|Reverse((_, k, g))| is_live(*k, *g))
                .collect();
            self.live = self.heap.len();
        }
    }
}
