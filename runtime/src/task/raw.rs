//! A task's one allocation and the type-erased operations on it.
//!
//! # Layout
//!
//! A task is one `Box<Cell<F, S>>`: the [`Header`] (state word, vtable, id), the scheduler
//! handle `S`, the stage (the future, then its output) and the join waker slot. `Cell` is
//! `repr(C)` with the header first, so a `NonNull<Header>` is also a pointer to the cell;
//! the vtable recovers `F` and `S`. Wakers point at the header and only touch its state
//! word: they never allocate.
//!
//! # Invariant
//!
//! Every `NonNull<Header>` held by a [`RawTask`] points to a live cell and owns one
//! reference of the count in [`State`]; the cell is freed exactly when the count reaches
//! zero. Who may touch the stage and the join waker slot is written in `state.rs`.

use super::error::{JoinError, panic_payload_drop};
use super::state::{State, ToIdle, ToNotified, ToRunning};
use super::{Id, Schedule, Task};
use crate::loom::UnsafeCell;
use crate::runtime::coop;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// The type-erased operations of a task.
pub(crate) struct Vtable {
    poll: unsafe fn(NonNull<Header>),
    schedule: unsafe fn(NonNull<Header>),
    dealloc: unsafe fn(NonNull<Header>),
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    drop_join_handle_slow: unsafe fn(NonNull<Header>),
    shutdown: unsafe fn(NonNull<Header>),
}

/// The part of a task every reference can see.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    pub(crate) id: Id,
    /// The task's index in its owner list, written once before the task is published.
    pub(crate) owner_index: UnsafeCell<usize>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
    join_waker: UnsafeCell<Option<Waker>>,
}

/// An owned reference to a task of unknown type.
#[derive(Debug)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

// SAFETY: a `RawTask` is a counted reference; every operation on it synchronizes through
// the atomic state word, and the stage is touched only under the protocol of `state.rs`.
// Tasks of `!Send` futures (`spawn_local`) are polled and dropped only on their `LocalSet`'s
// thread, which the scheduler of those tasks guarantees.
unsafe impl Send for RawTask {}
// SAFETY: as for `Send`; `&RawTask` only reads the header.
unsafe impl Sync for RawTask {}

impl RawTask {
    /// Allocates a task with the state of `State::new()` (three references).
    pub(crate) fn new<F, S>(future: F, scheduler: S, id: Id) -> RawTask
    where
        F: Future + 'static,
        S: Schedule,
    {
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable: vtable::<F, S>(),
                id,
                owner_index: UnsafeCell::new(usize::MAX),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
            join_waker: UnsafeCell::new(None),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        RawTask { ptr }
    }

    /// # Safety
    ///
    /// `ptr` must point to a live task and the caller must own one of its references.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the reference we own keeps the cell alive (Invariant).
        unsafe { self.ptr.as_ref() }
    }

    /// A second handle to the task without adding to the count.
    ///
    /// # Safety
    ///
    /// The caller must account for the handle: it owns one of the references the count
    /// already holds (the initial three are handed out this way).
    pub(crate) unsafe fn alias(&self) -> RawTask {
        RawTask { ptr: self.ptr }
    }

    /// Another reference to the same task.
    pub(crate) fn clone_ref(&self) -> RawTask {
        self.header().state.ref_inc();
        RawTask { ptr: self.ptr }
    }

    /// Runs the task (this reference must be its `Notified`); consumes the reference.
    pub(crate) fn poll(self) {
        let ptr = self.into_raw();
        // SAFETY: we owned a reference to a live task; `poll` takes it over.
        unsafe { (header_vtable(ptr).poll)(ptr) }
    }

    /// Cancels the task at runtime shutdown; consumes the reference.
    pub(crate) fn shutdown(self) {
        let ptr = self.into_raw();
        // SAFETY: as in `poll`.
        unsafe { (header_vtable(ptr).shutdown)(ptr) }
    }

    /// Hands this reference to the task's scheduler as a `Notified`.
    pub(crate) fn schedule(self) {
        let ptr = self.into_raw();
        // SAFETY: as in `poll`.
        unsafe { (header_vtable(ptr).schedule)(ptr) }
    }

    /// Writes `Poll::Ready(output)` into `dst` if the task is complete, or registers
    /// `waker` for its completion.
    ///
    /// # Safety
    ///
    /// `dst` must point to a `Poll<Result<T, JoinError>>` where `T` is the task's output
    /// type, and this reference must be the task's `JoinHandle`.
    pub(crate) unsafe fn try_read_output(&self, dst: *mut (), waker: &Waker) {
        // SAFETY: forwarded from the caller.
        unsafe { (header_vtable(self.ptr).try_read_output)(self.ptr, dst, waker) }
    }

    /// Drops the `JoinHandle`'s interest and its reference.
    ///
    /// # Safety
    ///
    /// This reference must be the task's `JoinHandle`.
    pub(crate) unsafe fn drop_join_handle(self) {
        let ptr = self.into_raw();
        // SAFETY: forwarded from the caller; the reference is consumed.
        unsafe { (header_vtable(ptr).drop_join_handle_slow)(ptr) }
    }

    /// `abort()`: cancels the task; a worker does the cancelling if it is idle.
    pub(crate) fn remote_abort(&self) {
        if self.header().state.transition_to_notified_and_cancel() {
            // The transition added the reference the `Notified` owns.
            RawTask { ptr: self.ptr }.schedule();
        }
    }
}

impl Drop for RawTask {
    fn drop(&mut self) {
        if self.header().state.ref_dec() {
            // SAFETY: the last reference is gone; nobody else can reach the cell.
            unsafe { (header_vtable(self.ptr).dealloc)(self.ptr) }
        }
    }
}

/// # Safety
///
/// `ptr` must point to a live task.
unsafe fn header_vtable(ptr: NonNull<Header>) -> &'static Vtable {
    // SAFETY: the caller guarantees the task is live.
    unsafe { ptr.as_ref().vtable }
}

fn vtable<F: Future + 'static, S: Schedule>() -> &'static Vtable {
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle_slow: drop_join_handle_slow::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

/// # Safety
///
/// `ptr` must point to a live `Cell<F, S>`.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: `Cell` is `repr(C)` with the header first, and the caller guarantees type and
    // liveness.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

// ---- the waker: a header pointer and a static vtable --------------------------------------

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: a waker's pointer is the header of a task it holds a reference to.
    let header = unsafe { &*ptr.cast::<Header>() };
    header.state.ref_inc();
    RawWaker::new(ptr, &WAKER_VTABLE)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: as in `waker_clone`; the waker's reference is consumed here.
    let ptr = unsafe { NonNull::new_unchecked(ptr as *mut Header) };
    // SAFETY: the waker's reference keeps the task alive until this transition.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_notified_by_val() {
        // SAFETY: the waker's reference became the `Notified`.
        ToNotified::Submit => unsafe { (header.vtable.schedule)(ptr) },
        // SAFETY: the reference was the last.
        ToNotified::Dealloc => unsafe { (header.vtable.dealloc)(ptr) },
        ToNotified::Nothing => {}
    }
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: as in `waker_clone`.
    let ptr = unsafe { NonNull::new_unchecked(ptr as *mut Header) };
    // SAFETY: the waker's reference keeps the task alive.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_notified_by_ref() == ToNotified::Submit {
        // SAFETY: the transition added the reference the `Notified` owns.
        unsafe { (header.vtable.schedule)(ptr) }
    }
}

unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: the waker owned a reference; `RawTask` drops it.
    drop(unsafe { RawTask::from_raw(NonNull::new_unchecked(ptr as *mut Header)) });
}

/// A waker for the task, borrowed from the running reference: no count change.
fn waker_ref(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    // SAFETY: the vtable's contract holds for a header pointer; `ManuallyDrop` keeps the
    // borrowed reference from being dropped, and clones take their own.
    ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr().cast(), &WAKER_VTABLE)) })
}

// ---- the typed operations -------------------------------------------------------------------

/// # Safety
///
/// `ptr` is a live `Cell<F, S>` and the caller hands over its `Notified` reference.
unsafe fn poll<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    let cancel = match cell.header.state.transition_to_running() {
        ToRunning::Poll => false,
        ToRunning::Cancel => true,
        ToRunning::Failed => {
            // SAFETY: we own the reference.
            drop(unsafe { RawTask::from_raw(ptr) });
            return;
        }
    };
    if !cancel {
        let waker = waker_ref(ptr);
        let mut cx = Context::from_waker(&waker);
        let res = cell.stage.with_mut(|stage| {
            // SAFETY: we hold `RUNNING`, so the stage is ours.
            let stage = unsafe { &mut *stage };
            let Stage::Running(fut) = stage else {
                unreachable!("a running task has its future");
            };
            // SAFETY: the future never moves: it lives in the heap cell until dropped there.
            let fut = unsafe { Pin::new_unchecked(fut) };
            catch_unwind(AssertUnwindSafe(|| coop::budget(|| fut.poll(&mut cx))))
        });
        let output = match res {
            Ok(Poll::Pending) => match cell.header.state.transition_to_idle() {
                ToIdle::Idle => return,
                ToIdle::Reschedule => {
                    // The running reference is the new `Notified`; let others go first.
                    // SAFETY: we own that reference.
                    let task = unsafe { Task::<S>::from_raw(RawTask::from_raw(ptr)) };
                    cell.scheduler.yield_now(task.into_notified());
                    return;
                }
                ToIdle::Dealloc => {
                    // SAFETY: the last reference is gone.
                    unsafe { dealloc::<F, S>(ptr) };
                    return;
                }
                ToIdle::Cancel => None,
            },
            Ok(Poll::Ready(out)) => Some(Ok(out)),
            Err(payload) => Some(Err(JoinError::panic(cell.header.id, payload))),
        };
        if let Some(output) = output {
            // SAFETY: we hold `RUNNING`.
            unsafe { set_stage(cell, Stage::Finished(output)) };
            // SAFETY: we hold `RUNNING` and the running reference.
            unsafe { complete::<F, S>(ptr) };
            return;
        }
    }
    // SAFETY: we hold `RUNNING` and the running reference.
    unsafe { cancel_and_complete::<F, S>(ptr) };
}

/// Replaces the stage, dropping the old one; a panic in that drop is contained.
///
/// # Safety
///
/// The caller has the right to touch the stage (see `state.rs`).
unsafe fn set_stage<F: Future, S>(cell: &Cell<F, S>, new: Stage<F>) {
    cell.stage.with_mut(|stage| {
        // SAFETY: caller's contract.
        let old = std::mem::replace(unsafe { &mut *stage }, new);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(old))) {
            panic_payload_drop(payload);
        }
    });
}

/// Drops the future and stores the cancellation error, then completes.
///
/// # Safety
///
/// `ptr` is a live `Cell<F, S>`; the caller holds `RUNNING` and hands over one reference.
unsafe fn cancel_and_complete<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    // Drop the future first (its destructor may panic: that is its output then).
    let res = cell.stage.with_mut(|stage| {
        // SAFETY: we hold `RUNNING`.
        let old = std::mem::replace(unsafe { &mut *stage }, Stage::Consumed);
        catch_unwind(AssertUnwindSafe(|| drop(old)))
    });
    let err = match res {
        Ok(()) => JoinError::cancelled(cell.header.id),
        Err(payload) => JoinError::panic(cell.header.id, payload),
    };
    // SAFETY: we hold `RUNNING`.
    unsafe { set_stage(cell, Stage::Finished(Err(err))) };
    // SAFETY: forwarded.
    unsafe { complete::<F, S>(ptr) };
}

/// Publishes completion: drops the output nobody wants, wakes the joiner, leaves the owner
/// list and drops the running reference (and the list's).
///
/// # Safety
///
/// `ptr` is a live `Cell<F, S>`; the caller holds `RUNNING`, has stored the output and
/// hands over one reference.
unsafe fn complete<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    let prev = cell.header.state.transition_to_complete();
    if !prev.is_join_interested() {
        // SAFETY: COMPLETE without JOIN_INTEREST: the output is ours to drop.
        unsafe { set_stage(cell, Stage::Consumed) };
    } else if prev.is_join_waker_set() {
        cell.join_waker.with(|w| {
            // SAFETY: JOIN_WAKER was set when we set COMPLETE: the slot is frozen and ours
            // to read.
            if let Some(w) = unsafe { &*w } {
                w.wake_by_ref();
            }
        });
    }
    // SAFETY: a borrowed view of the task for the owner list; no count change.
    let me = ManuallyDrop::new(unsafe { Task::<S>::from_raw(RawTask::from_raw(ptr)) });
    let released = cell.scheduler.release(&me);
    let count = match released {
        Some(task) => {
            // Fold the list's reference into one atomic decrement.
            std::mem::forget(task);
            2
        }
        None => 1,
    };
    if cell.header.state.transition_to_terminal(count) {
        // SAFETY: the last reference is gone.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

/// # Safety
///
/// `ptr` is a live `Cell<F, S>`; the caller hands over its `Notified` reference.
unsafe fn schedule<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: we own the reference it wraps.
    let task = unsafe { Task::<S>::from_raw(RawTask::from_raw(ptr)) };
    cell.scheduler.schedule(task.into_notified());
}

/// # Safety
///
/// `ptr` is a `Cell<F, S>` whose count reached zero.
unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: it came from `Box::leak` in `RawTask::new`, and nobody references it now.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    // A panicking destructor of the output or of the join waker must not unwind into the
    // scheduler.
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(cell))) {
        panic_payload_drop(payload);
    }
}

/// # Safety
///
/// See [`RawTask::try_read_output`].
unsafe fn try_read_output<F: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    if !can_read_output(cell, waker) {
        return;
    }
    let out = cell.stage.with_mut(|stage| {
        // SAFETY: COMPLETE is set and we are the `JoinHandle`: the stage is ours.
        match std::mem::replace(unsafe { &mut *stage }, Stage::Consumed) {
            Stage::Finished(out) => out,
            _ => panic!("JoinHandle polled after it returned its output"),
        }
    });
    // SAFETY: the caller guarantees `dst`'s type.
    unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(out) };
}

/// `true` if the task is complete; otherwise makes sure `waker` is the stored join waker.
fn can_read_output<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snap = state.load();
    if snap.is_complete() {
        return true;
    }
    let res = if snap.is_join_waker_set() {
        let same = cell.join_waker.with(|w| {
            // SAFETY: JOIN_WAKER is set and we are the only writer; the runtime may read
            // concurrently, which is fine for a shared read.
            let w = unsafe { &*w };
            w.as_ref().is_some_and(|w| w.will_wake(waker))
        });
        if same {
            return false;
        }
        state
            .unset_join_waker()
            .and_then(|()| store_join_waker(cell, waker))
    } else {
        store_join_waker(cell, waker)
    };
    match res {
        Ok(()) => false,
        Err(s) => {
            debug_assert!(s.is_complete());
            true
        }
    }
}

fn store_join_waker<F: Future, S>(
    cell: &Cell<F, S>,
    waker: &Waker,
) -> Result<(), super::state::Snapshot> {
    // SAFETY: JOIN_WAKER is unset and COMPLETE was not: only the `JoinHandle` (us) touches
    // the slot until we set JOIN_WAKER.
    cell.join_waker
        .with_mut(|w| unsafe { *w = Some(waker.clone()) });
    let res = cell.header.state.set_join_waker();
    if res.is_err() {
        // Completed meanwhile: the slot stayed ours; leave it empty.
        // SAFETY: as above: JOIN_WAKER was never published.
        let old = cell.join_waker.with_mut(|w| unsafe { (*w).take() });
        drop(old);
    }
    res
}

/// # Safety
///
/// `ptr` is a live `Cell<F, S>` and the caller hands over its `JoinHandle` reference.
unsafe fn drop_join_handle_slow<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.unset_join_interested().is_err() {
        // Complete already: the output is ours to drop.
        // SAFETY: COMPLETE and JOIN_INTEREST: the stage belongs to the `JoinHandle`.
        unsafe { set_stage(cell, Stage::Consumed) };
    }
    // SAFETY: we own the reference.
    drop(unsafe { RawTask::from_raw(ptr) });
}

/// # Safety
///
/// `ptr` is a live `Cell<F, S>` and the caller hands over one reference (the owner list's).
unsafe fn shutdown<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    if !cell.header.state.transition_to_shutdown() {
        // Running elsewhere (it will see CANCELLED) or complete.
        // SAFETY: we own the reference.
        drop(unsafe { RawTask::from_raw(ptr) });
        return;
    }
    // SAFETY: we hold `RUNNING` now, and the reference.
    unsafe { cancel_and_complete::<F, S>(ptr) };
}
