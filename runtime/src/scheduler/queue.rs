//! A worker's bounded run queue: the owner pushes and pops, other workers steal half.
//!
//! # Protocol
//!
//! A ring of `CAPACITY` slots with three counters (wrapping `u32`s):
//!
//! - `tail`: the next slot the owner writes. Only the owner stores it.
//! - `head`, packed as `steal << 32 | real`: `real` is the next task to take; `steal` is
//!   the first slot a stealer is still copying out, equal to `real` when nobody steals.
//!
//! The owner pops by advancing `real` (CAS, since stealers move it too). A stealer claims
//! half of `[real, tail)` by advancing `real` alone, copies those tasks into its own queue,
//! then sets `steal = real` to hand the slots back. While `steal != real` other stealers
//! back off, and the owner may not overwrite slots from `steal` on: it checks room against
//! `steal`, so a slot being copied is never reused. When the ring is full the owner moves
//! half of it (plus the new task) to the injection queue in one batch.

use super::inject::Inject;
use crate::loom::{Arc, AtomicU32, AtomicU64, Ordering, UnsafeCell};
use std::fmt;
use std::mem::MaybeUninit;

#[cfg(not(loom))]
const CAPACITY: usize = 256;
#[cfg(loom)]
const CAPACITY: usize = 4;
const MASK: u32 = CAPACITY as u32 - 1;

struct Inner<T> {
    head: AtomicU64,
    tail: AtomicU32,
    buffer: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: slots are handed between threads only through the protocol above, with
// acquire/release on `head` and `tail`; each slot has one writer or one reader at a time.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Inner<T> {}

/// The owner's side.
pub(crate) struct Local<T> {
    inner: Arc<Inner<T>>,
}

/// Another worker's side.
pub(crate) struct Steal<T>(Arc<Inner<T>>);

fn pack(steal: u32, real: u32) -> u64 {
    (u64::from(steal) << 32) | u64::from(real)
}

fn unpack(head: u64) -> (u32, u32) {
    ((head >> 32) as u32, head as u32)
}

/// A new queue: the owner's side and the stealers' side.
pub(crate) fn local<T>() -> (Steal<T>, Local<T>) {
    let buffer = (0..CAPACITY)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let inner = Arc::new(Inner {
        head: AtomicU64::new(0),
        tail: AtomicU32::new(0),
        buffer,
    });
    (Steal(inner.clone()), Local { inner })
}

impl<T> Inner<T> {
    /// # Safety
    ///
    /// The caller has the exclusive right to write slot `idx` (see the protocol).
    unsafe fn write(&self, idx: u32, value: T) {
        self.buffer[(idx & MASK) as usize].with_mut(|p| {
            // SAFETY: caller's contract.
            unsafe { (*p).write(value) };
        });
    }

    /// # Safety
    ///
    /// The caller has the exclusive right to take the initialized value of slot `idx`.
    unsafe fn read(&self, idx: u32) -> T {
        self.buffer[(idx & MASK) as usize].with(|p| {
            // SAFETY: caller's contract.
            unsafe { (*p).assume_init_read() }
        })
    }

    fn len(&self) -> u32 {
        let (_, real) = unpack(self.head.load(Ordering::Acquire));
        self.tail.load(Ordering::Acquire).wrapping_sub(real)
    }
}

impl<T> Local<T> {
    /// Whether the queue has tasks.
    pub(crate) fn has_tasks(&self) -> bool {
        self.inner.len() > 0
    }

    /// Tasks in the queue.
    pub(crate) fn len(&self) -> usize {
        self.inner.len() as usize
    }

    /// How many tasks can be pushed before the queue overflows (stealers only make room).
    pub(crate) fn room(&self) -> usize {
        CAPACITY - self.inner.len() as usize
    }

    /// Pushes a task, moving half of a full queue to `inject`.
    pub(crate) fn push_back_or_overflow(&mut self, mut task: T, inject: &Inject<T>) {
        loop {
            let (steal, real) = unpack(self.inner.head.load(Ordering::Acquire));
            // Only the owner stores `tail`.
            let tail = self.inner.tail.load(Ordering::Relaxed);
            if tail.wrapping_sub(steal) < CAPACITY as u32 {
                // SAFETY: slots from `steal` to `tail` are in use; `tail` is free and only
                // the owner writes free slots.
                unsafe { self.inner.write(tail, task) };
                self.inner
                    .tail
                    .store(tail.wrapping_add(1), Ordering::Release);
                return;
            }
            if steal != real {
                // A stealer is emptying the queue: room is coming, but do not wait.
                inject.push(task);
                return;
            }
            match self.push_overflow(task, real, tail, inject) {
                Ok(()) => return,
                Err(t) => task = t,
            }
        }
    }

    /// Moves `[real, real + CAPACITY / 2)` and `task` to the injection queue.
    fn push_overflow(
        &mut self,
        task: T,
        real: u32,
        tail: u32,
        inject: &Inject<T>,
    ) -> Result<(), T> {
        let half = (CAPACITY / 2) as u32;
        debug_assert_eq!(tail.wrapping_sub(real), CAPACITY as u32);
        let next = real.wrapping_add(half);
        if self
            .inner
            .head
            .compare_exchange(
                pack(real, real),
                pack(next, next),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_err()
        {
            // A stealer took some: there is room now.
            return Err(task);
        }
        let batch = (0..half).map(|i| {
            // SAFETY: the CAS claimed these slots; nobody else reads them.
            unsafe { self.inner.read(real.wrapping_add(i)) }
        });
        inject.push_batch(batch.chain(std::iter::once(task)));
        Ok(())
    }

    /// Takes the next task.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let mut head = self.inner.head.load(Ordering::Acquire);
        loop {
            let (steal, real) = unpack(head);
            let tail = self.inner.tail.load(Ordering::Relaxed);
            if real == tail {
                return None;
            }
            let next_real = real.wrapping_add(1);
            let next = if steal == real {
                pack(next_real, next_real)
            } else {
                pack(steal, next_real)
            };
            match self.inner.head.compare_exchange_weak(
                head,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // SAFETY: the CAS gave us slot `real`.
                Ok(_) => return Some(unsafe { self.inner.read(real) }),
                Err(actual) => head = actual,
            }
        }
    }
}

impl<T> Steal<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// How many tasks have left the queue (popped or stolen), wrapping: a queue that holds
    /// tasks and shows the same position twice, some time apart, has not moved meanwhile.
    pub(crate) fn position(&self) -> u32 {
        unpack(self.0.head.load(Ordering::Acquire)).1
    }

    /// Moves about half of this queue into `dst` and returns one of the tasks to run.
    pub(crate) fn steal_into(&self, dst: &mut Local<T>) -> Option<T> {
        let dst_tail = dst.inner.tail.load(Ordering::Relaxed);
        let (dst_steal, _) = unpack(dst.inner.head.load(Ordering::Acquire));
        if dst_tail.wrapping_sub(dst_steal) > (CAPACITY / 2) as u32 {
            // Our own queue is over half full: no room for a stolen half.
            return None;
        }
        // Claim: advance `real` over half the tasks, leaving `steal` behind.
        let mut head = self.0.head.load(Ordering::Acquire);
        let (first, n) = loop {
            let (steal, real) = unpack(head);
            if steal != real {
                return None; // another stealer is at work
            }
            let tail = self.0.tail.load(Ordering::Acquire);
            let avail = tail.wrapping_sub(real);
            let n = avail - avail / 2;
            if n == 0 {
                return None;
            }
            let next = pack(steal, real.wrapping_add(n));
            match self
                .0
                .head
                .compare_exchange_weak(head, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break (real, n),
                Err(actual) => head = actual,
            }
        };
        // Copy the claimed tasks to our own free slots.
        for i in 0..n {
            // SAFETY: the claim gave us slots `first..first + n` of the source, and slots
            // `dst_tail..` of our queue are free (we are its owner and checked room).
            unsafe {
                let task = self.0.read(first.wrapping_add(i));
                dst.inner.write(dst_tail.wrapping_add(i), task);
            }
        }
        // Release: `steal` catches up with `real` (which the owner may have moved on).
        let mut head = self.0.head.load(Ordering::Acquire);
        loop {
            let (steal, real) = unpack(head);
            debug_assert_eq!(steal, first);
            match self.0.head.compare_exchange_weak(
                head,
                pack(real, real),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => head = actual,
            }
        }
        // Keep the last stolen task to run; publish the others.
        let last = dst_tail.wrapping_add(n - 1);
        // SAFETY: slot `last` of our queue was written above and is not published yet.
        let ret = unsafe { dst.inner.read(last) };
        if n > 1 {
            dst.inner.tail.store(last, Ordering::Release);
        }
        Some(ret)
    }
}

impl<T> Drop for Local<T> {
    fn drop(&mut self) {
        // Tasks left at shutdown are dropped with the queue (their references released).
        while self.pop().is_some() {}
    }
}

impl<T> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local")
            .field("len", &self.inner.len())
            .finish()
    }
}

impl<T> fmt::Debug for Steal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Steal").field("len", &self.0.len()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn push_pop_is_fifo_and_overflow_moves_half_to_inject() {
        let inject = Inject::new();
        let (_steal, mut local) = local::<usize>();
        for i in 0..CAPACITY + 1 {
            local.push_back_or_overflow(i, &inject);
        }
        assert_eq!(inject.len(), CAPACITY / 2 + 1);
        assert_eq!(local.len(), CAPACITY / 2);
        assert_eq!(local.pop(), Some(CAPACITY / 2));
    }

    #[test]
    fn steal_takes_half_rounded_up() {
        let inject = Inject::new();
        let (steal, mut a) = local::<usize>();
        let (_s2, mut b) = local::<usize>();
        for i in 0..5 {
            a.push_back_or_overflow(i, &inject);
        }
        let got = steal.steal_into(&mut b);
        assert_eq!(got, Some(2));
        assert_eq!(b.pop(), Some(0));
        assert_eq!(b.pop(), Some(1));
        assert_eq!(b.pop(), None);
        assert_eq!(a.pop(), Some(3));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::thread;

    /// Push, pop and steal-half run concurrently; every task is taken exactly once.
    #[test]
    fn push_pop_steal_take_each_task_once() {
        loom::model(|| {
            let inject = Arc::new(Inject::new());
            let (steal, mut local) = local::<usize>();
            let stealer = thread::spawn(move || {
                let (_s, mut mine) = super::local::<usize>();
                let mut got = Vec::new();
                if let Some(t) = steal.steal_into(&mut mine) {
                    got.push(t);
                    while let Some(t) = mine.pop() {
                        got.push(t);
                    }
                }
                got
            });
            let mut got = Vec::new();
            for i in 0..6 {
                local.push_back_or_overflow(i, &inject);
                if i % 2 == 1 {
                    got.extend(local.pop());
                }
            }
            while let Some(t) = local.pop() {
                got.push(t);
            }
            got.extend(stealer.join().unwrap());
            while let Some(t) = inject.pop() {
                got.push(t);
            }
            got.sort_unstable();
            assert_eq!(got, (0..6).collect::<Vec<_>>());
        });
    }

    /// A stealer's side: takes what it can once, then drains its own queue.
    fn spawn_stealer(steal: Arc<Steal<usize>>) -> thread::JoinHandle<Vec<usize>> {
        thread::spawn(move || {
            let (_s, mut mine) = super::local::<usize>();
            let mut got = Vec::new();
            if let Some(t) = steal.steal_into(&mut mine) {
                got.push(t);
                while let Some(t) = mine.pop() {
                    got.push(t);
                }
            }
            got
        })
    }

    /// Two stealers race with each other and with the owner's pushes and pops (a stealer
    /// that finds another at work backs off); every task is taken exactly once.
    #[test]
    fn two_stealers_take_each_task_once() {
        loom::model(|| {
            let inject = Inject::new();
            let (steal, mut local) = local::<usize>();
            let steal = Arc::new(steal);
            let stealers = [spawn_stealer(steal.clone()), spawn_stealer(steal)];
            let mut got = Vec::new();
            // Five tasks through four slots: the owner reuses a slot a stealer may copy.
            for i in 0..3 {
                local.push_back_or_overflow(i, &inject);
            }
            got.extend(local.pop());
            for i in 3..5 {
                local.push_back_or_overflow(i, &inject);
            }
            while let Some(t) = local.pop() {
                got.push(t);
            }
            for s in stealers {
                got.extend(s.join().unwrap());
            }
            while let Some(t) = inject.pop() {
                got.push(t);
            }
            got.sort_unstable();
            assert_eq!(got, (0..5).collect::<Vec<_>>());
        });
    }

    /// A full queue moves half of itself to the injection queue while a stealer copies
    /// out of it: no slot is overwritten while being copied, and every task is taken
    /// exactly once.
    #[test]
    fn overflow_with_a_stealer_takes_each_task_once() {
        loom::model(|| {
            let inject = Inject::new();
            let (steal, mut local) = local::<usize>();
            let stealer = spawn_stealer(Arc::new(steal));
            let n = CAPACITY + 2;
            for i in 0..n {
                local.push_back_or_overflow(i, &inject);
            }
            let mut got = Vec::new();
            while let Some(t) = local.pop() {
                got.push(t);
            }
            got.extend(stealer.join().unwrap());
            while let Some(t) = inject.pop() {
                got.push(t);
            }
            got.sort_unstable();
            assert_eq!(got, (0..n).collect::<Vec<_>>());
        });
    }
}
