//! The changelist hand-off's decisions: what a turn takes, what a submitted change or an
//! unpark must do, given who waits in `kevent`.
//!
//! This is the state the driver keeps under its `changes` mutex (see the protocol in
//! `driver/mod.rs`), without the `kevent` calls the decisions lead to, so that a loom model
//! can check the protocol; [`Handle`](super::Handle) makes the calls.
//!
//! # Fields
//!
//! - `list`, `close`: changes no call has taken yet, in submission order, and the
//!   descriptors to close once the call that applies them returned.
//! - `waiting`: a thread is (about to be) blocked in `kevent`; set by
//!   [`begin_turn`](Changes::begin_turn) when the turn may block, cleared by
//!   [`end_turn`](Changes::end_turn).
//! - `carrying`: ... and its call carries changes, which a direct apply could overtake.
//! - `triggered`: the wake knote was triggered during this turn. Once is enough: the knote
//!   (`EV_CLEAR`) stays pending until a call collects it, so a trigger that comes after the
//!   waiter returned makes the next turn return at once.
//! - `wake_pending`: an unpark came while nobody waited: the next turn must not block.
//!
//! # Invariant
//!
//! While `waiting`, `list` is empty or `triggered` is set: no change is stranded behind a
//! blocked turn.

use kq_reactor::Kevent;
use std::time::Duration;

/// Changes submitted per turn at most; the rest go with the next (which then does not
/// wait). Bounds the eventlist the errors of one call may need.
#[cfg(not(loom))]
const MAX_CHANGES: usize = 4096;
#[cfg(loom)]
const MAX_CHANGES: usize = 1;

/// The changelist and who waits; `F` is what is closed after a change is applied (an
/// `OwnedFd`).
pub(crate) struct Changes<F> {
    list: Vec<Kevent>,
    close: Vec<F>,
    waiting: bool,
    carrying: bool,
    triggered: bool,
    wake_pending: bool,
}

/// What a submitted change must do now.
#[must_use]
#[derive(Debug)]
pub(crate) enum OnSubmit<F> {
    /// It waits in the list for the next turn: nobody waits in `kevent`, or the waiter
    /// carries changes and was triggered already.
    Queued,
    /// It waits in the list, and the waiter carries changes (which applying now could
    /// overtake): trigger the wake knote so that its next turn takes ours.
    Trigger,
    /// The waiter carries no changes: apply `list` now, under the lock, and close `close`
    /// after that call.
    ApplyNow { list: Vec<Kevent>, close: Vec<F> },
}

/// What an unpark must do now.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OnUnpark {
    /// A thread waits in `kevent`: trigger the wake knote.
    Trigger,
    /// Nothing: the waiter was triggered already this turn, or nobody waits and the next
    /// turn will not block.
    Nothing,
}

/// The changes a turning thread took and has not submitted yet, in order: a long list is
/// submitted `MAX_CHANGES` at a time, from an offset, without copying the rest.
pub(crate) struct Backlog<F> {
    list: Vec<Kevent>,
    pos: usize,
    /// Closed once the whole list is applied.
    close: Vec<F>,
}

impl<F> Backlog<F> {
    pub(crate) fn new() -> Backlog<F> {
        Backlog {
            list: Vec::new(),
            pos: 0,
            close: Vec::new(),
        }
    }

    fn is_drained(&self) -> bool {
        self.pos == self.list.len()
    }

    fn remaining(&self) -> usize {
        self.list.len() - self.pos
    }

    /// This turn's changes.
    pub(crate) fn chunk(&self) -> &[Kevent] {
        let end = self.list.len().min(self.pos + MAX_CHANGES);
        &self.list[self.pos..end]
    }

    /// Whether descriptors wait to be closed with this list.
    pub(crate) fn has_closes(&self) -> bool {
        !self.close.is_empty()
    }

    /// The turn's call returned: its chunk is applied. Once the whole list is, its
    /// descriptors are closed (their knotes are deleted).
    pub(crate) fn applied(&mut self) {
        self.pos = self.list.len().min(self.pos + MAX_CHANGES);
        if self.is_drained() {
            self.close.clear();
        }
    }
}

impl<F> Changes<F> {
    pub(crate) fn new() -> Changes<F> {
        Changes {
            list: Vec::new(),
            close: Vec::new(),
            waiting: false,
            carrying: false,
            triggered: false,
            wake_pending: false,
        }
    }

    /// A turn begins: if the turning thread's `backlog` is drained, the list (and the
    /// descriptors it closes) moves into it; the turn submits the backlog's next chunk of
    /// at most `MAX_CHANGES`. Records whether the turn waits and carries changes. Returns
    /// the timeout its call must use: zero when changes are left for a later turn or an
    /// unpark is pending, else `timeout`.
    #[must_use]
    pub(crate) fn begin_turn(
        &mut self,
        backlog: &mut Backlog<F>,
        mut timeout: Option<Duration>,
    ) -> Option<Duration> {
        if backlog.is_drained() {
            backlog.list.clear();
            backlog.pos = 0;
            std::mem::swap(&mut self.list, &mut backlog.list);
            std::mem::swap(&mut self.close, &mut backlog.close);
        }
        // Changes beyond this turn's chunk, in the backlog or (queued behind it) in the
        // list, must not wait behind a blocking call.
        if backlog.remaining() > MAX_CHANGES || !self.list.is_empty() {
            timeout = Some(Duration::ZERO);
        }
        // Descriptors to close once this turn's deletions are applied must not wait for
        // an unrelated event: until it is closed, a dropped socket's peer sees no FIN.
        if backlog.has_closes() {
            timeout = Some(Duration::ZERO);
        }
        if std::mem::take(&mut self.wake_pending) {
            timeout = Some(Duration::ZERO);
        }
        self.waiting = timeout != Some(Duration::ZERO);
        self.carrying = backlog.remaining() > 0;
        self.triggered = false;
        timeout
    }

    /// The turn's call returned.
    pub(crate) fn end_turn(&mut self) {
        self.waiting = false;
        self.carrying = false;
    }

    /// Whether queued changes carry descriptors to close.
    pub(crate) fn has_closes(&self) -> bool {
        !self.close.is_empty()
    }

    /// A thread submits `changes` (and a descriptor to close after them).
    pub(crate) fn on_submit(&mut self, changes: &[Kevent], close: Option<F>) -> OnSubmit<F> {
        self.list.extend_from_slice(changes);
        self.close.extend(close);
        if !self.waiting {
            return OnSubmit::Queued;
        }
        if self.carrying {
            return if self.trigger() {
                OnSubmit::Trigger
            } else {
                OnSubmit::Queued
            };
        }
        // Nothing in flight to overtake. While waiting without carrying, every earlier
        // submission was applied directly, so the list holds only this one.
        OnSubmit::ApplyNow {
            list: std::mem::take(&mut self.list),
            close: std::mem::take(&mut self.close),
        }
    }

    /// A thread unparks the driver's waiter.
    pub(crate) fn on_unpark(&mut self) -> OnUnpark {
        if !self.waiting {
            self.wake_pending = true;
            OnUnpark::Nothing
        } else if self.trigger() {
            OnUnpark::Trigger
        } else {
            OnUnpark::Nothing
        }
    }

    /// Drops the queued changes and closes their descriptors (shutdown).
    pub(crate) fn discard(&mut self) {
        self.list.clear();
        self.close.clear();
    }

    /// `true` if the caller must trigger the wake knote (the first trigger of the turn).
    fn trigger(&mut self) -> bool {
        !std::mem::replace(&mut self.triggered, true)
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! The models: one thread turns (as a parked worker does: until it is unparked), one
    //! submits changes, and the main thread unparks. `kevent` is a stand-in: it logs the
    //! changes it applies, and a blocking call waits until the wake knote is triggered —
    //! never for the changes themselves, the worst case of the real core.

    use super::*;
    use crate::loom::{Arc, AtomicBool, Condvar, Mutex, Ordering, lock, thread};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Event {
        Applied(usize),
        Closed(usize),
    }

    /// The stand-in kqueue.
    struct Kq {
        state: Mutex<KqState>,
        cv: Condvar,
    }

    struct KqState {
        log: Vec<Event>,
        /// The wake knote is triggered and not yet collected.
        pending: bool,
    }

    impl Kq {
        fn apply(st: &mut KqState, changes: &[Kevent]) {
            st.log
                .extend(changes.iter().map(|c| Event::Applied(c.ident)));
        }

        /// A turn's call: applies `changes`, then waits for the wake knote unless the
        /// timeout is zero, and collects it.
        fn turn(&self, changes: &[Kevent], timeout: Option<Duration>) {
            let mut st = lock(&self.state);
            Kq::apply(&mut st, changes);
            if timeout.is_none() {
                while !st.pending {
                    st = self.cv.wait(st).unwrap();
                }
            }
            st.pending = false;
        }

        /// The direct apply of a submitting thread (`EV_RECEIPT`: collects nothing).
        fn apply_now(&self, changes: &[Kevent]) {
            Kq::apply(&mut lock(&self.state), changes);
        }

        fn trigger(&self) {
            lock(&self.state).pending = true;
            self.cv.notify_all();
        }
    }

    /// A descriptor to close: logs its closing.
    struct Fd(usize, Arc<Kq>);

    impl Drop for Fd {
        fn drop(&mut self) {
            lock(&self.1.state).log.push(Event::Closed(self.0));
        }
    }

    fn change(ident: usize) -> Kevent {
        Kevent::new(ident, 0, 0, 0, 0, std::ptr::null_mut())
    }

    /// The invariant of the module, checked after every step under the lock.
    fn check(c: &Changes<Fd>) {
        assert!(
            !c.waiting || c.list.is_empty() || c.triggered,
            "a change is stranded behind a blocked turn"
        );
    }

    /// The turning thread's side of `Driver::turn`.
    fn turn(
        changes: &Mutex<Changes<Fd>>,
        kq: &Kq,
        backlog: &mut Backlog<Fd>,
        timeout: Option<Duration>,
    ) {
        let timeout = {
            let mut c = lock(changes);
            let t = c.begin_turn(backlog, timeout);
            check(&c);
            t
        };
        kq.turn(backlog.chunk(), timeout);
        backlog.applied();
        let mut c = lock(changes);
        c.end_turn();
        check(&c);
    }

    /// The submitting thread's side of `Handle::submit`.
    fn submit(changes: &Mutex<Changes<Fd>>, kq: &Arc<Kq>, ident: usize) {
        let mut c = lock(changes);
        match c.on_submit(&[change(ident)], Some(Fd(ident, kq.clone()))) {
            OnSubmit::Queued => {}
            OnSubmit::Trigger => kq.trigger(),
            OnSubmit::ApplyNow { list, close } => {
                kq.apply_now(&list);
                drop(close);
            }
        }
        check(&c);
    }

    fn new_kq() -> Arc<Kq> {
        Arc::new(Kq {
            state: Mutex::new(KqState {
                log: Vec::new(),
                pending: false,
            }),
            cv: Condvar::new(),
        })
    }

    /// A parked worker: it turns until it was unparked.
    fn spawn_turner(
        changes: &Arc<Mutex<Changes<Fd>>>,
        kq: &Arc<Kq>,
        unparked: &Arc<AtomicBool>,
    ) -> thread::JoinHandle<Backlog<Fd>> {
        let (changes, kq, unparked) = (changes.clone(), kq.clone(), unparked.clone());
        thread::spawn(move || {
            let mut backlog = Backlog::new();
            while !unparked.load(Ordering::Acquire) {
                turn(&changes, &kq, &mut backlog, None);
            }
            // What it has not submitted stays with the driver for the next turner.
            backlog
        })
    }

    /// `Parker::unpark`: the flag first, then the driver.
    fn unpark(changes: &Mutex<Changes<Fd>>, kq: &Kq, unparked: &AtomicBool) {
        unparked.store(true, Ordering::Release);
        let mut c = lock(changes);
        if c.on_unpark() == OnUnpark::Trigger {
            kq.trigger();
        }
        check(&c);
    }

    /// Runs the turns that come after the model (which do not block) until the list is
    /// empty, then checks that changes `1..=n` were applied once each, in order, and their
    /// descriptors closed after.
    fn finish(changes: &Mutex<Changes<Fd>>, kq: &Kq, mut backlog: Backlog<Fd>, n: usize) {
        while !lock(changes).list.is_empty() || !backlog.is_drained() {
            turn(changes, kq, &mut backlog, Some(Duration::ZERO));
        }
        let log = std::mem::take(&mut lock(&kq.state).log);
        let applied: Vec<usize> = log
            .iter()
            .filter_map(|e| match e {
                Event::Applied(k) => Some(*k),
                Event::Closed(_) => None,
            })
            .collect();
        assert_eq!(applied, (1..=n).collect::<Vec<_>>(), "log: {log:?}");
        for k in 1..=n {
            let at = |e| log.iter().position(|x| *x == e);
            let closed = at(Event::Closed(k)).expect("every descriptor is closed");
            assert!(at(Event::Applied(k)).unwrap() < closed, "log: {log:?}");
        }
    }

    /// No change is lost, reordered, applied twice or closed before it is applied; no
    /// unpark is lost (else the turning thread blocks for ever: loom reports a deadlock).
    /// Submissions and the unpark race with the turns and with each other.
    #[test]
    fn changes_and_unpark_reach_the_waiter() {
        loom::model(|| {
            let changes = Arc::new(Mutex::new(Changes::<Fd>::new()));
            let kq = new_kq();
            let unparked = Arc::new(AtomicBool::new(false));
            let turner = spawn_turner(&changes, &kq, &unparked);
            let submitter = {
                let (changes, kq) = (changes.clone(), kq.clone());
                thread::spawn(move || {
                    submit(&changes, &kq, 1);
                    submit(&changes, &kq, 2);
                })
            };
            unpark(&changes, &kq, &unparked);
            let backlog = turner.join().unwrap();
            submitter.join().unwrap();
            finish(&changes, &kq, backlog, 2);
        });
    }

    /// A turn that carries changes is neither overtaken by a direct apply nor left blocked
    /// with a later change queued: change 1 is queued before the turns begin, change 2
    /// races with them (and the unpark comes after, so that only the trigger of change 2
    /// can wake a turn that carries change 1).
    #[test]
    fn a_carrying_turn_is_not_overtaken() {
        loom::model(|| {
            let changes = Arc::new(Mutex::new(Changes::<Fd>::new()));
            let kq = new_kq();
            let unparked = Arc::new(AtomicBool::new(false));
            submit(&changes, &kq, 1);
            let turner = spawn_turner(&changes, &kq, &unparked);
            let submitter = {
                let (changes, kq) = (changes.clone(), kq.clone());
                thread::spawn(move || submit(&changes, &kq, 2))
            };
            submitter.join().unwrap();
            unpark(&changes, &kq, &unparked);
            let backlog = turner.join().unwrap();
            finish(&changes, &kq, backlog, 2);
        });
    }
}
