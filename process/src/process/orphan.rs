//! Reaping children whose [`Child`](super::Child) was dropped before they were waited for.
//!
//! # Protocol
//!
//! 1. A dropped child that has already exited is reaped at once (after its knote is
//!    dropped, see below).
//! 2. Otherwise a task on the child's runtime takes its `EVFILT_PROC` knote, waits for
//!    `NOTE_EXIT`, drops the knote and reaps the child.
//! 3. If that task cannot run to the end — the runtime is shut down before the child exits,
//!    which cancels the task and drops its future, or the spawn fails — the pid goes to the
//!    process-wide reaper thread. That thread exists only while orphans do: it blocks in
//!    `waitpid` on each pid in turn and exits when the list is empty. So no zombie of ours
//!    outlives its exit by more than the reaping of the orphans before it.
//!
//! # Invariant
//!
//! A child's knote is dropped (its `EV_DELETE` queued) *before* the child is reaped: once
//! reaped, its pid can be reused, and a later `EV_ADD` for the new process with that pid
//! must come after the deletion in the changelist, never before it.

use crate::sys;
use kq_reactor::NOTE_EXIT;
use kq_runtime::__private::Knote;
use kq_runtime::runtime::Handle;
use std::sync::Mutex;

/// Pids waiting for the reaper thread, and whether the thread runs.
static ORPHANS: Mutex<Orphans> = Mutex::new(Orphans {
    pids: Vec::new(),
    thread: false,
});

struct Orphans {
    pids: Vec<libc::pid_t>,
    thread: bool,
}

/// Takes over the unreaped child `pid` and its knote: reaps it now if it has exited, else
/// when it exits (see the module docs).
pub(super) fn adopt(pid: libc::pid_t, knote: Option<Knote>, handle: Option<Handle>) {
    if let Ok(true) = sys::has_exited(pid) {
        drop(knote);
        // An error here (ECHILD: someone else reaped it) leaves nothing to do.
        let _ = sys::reap(pid, false);
        return;
    }
    let mut guard = Orphan { pid, knote };
    match (handle, guard.knote.is_some()) {
        (Some(handle), true) => {
            // A runtime that has shut down drops the future at once: the guard hands the
            // pid to the thread.
            drop(handle.spawn(async move { guard.wait().await }));
        }
        _ => {
            guard.knote = None;
            // Dropping the guard hands the pid to the thread.
        }
    }
}

/// An unreaped child; dropped before it was reaped, it goes to the reaper thread.
struct Orphan {
    pid: libc::pid_t,
    knote: Option<Knote>,
}

impl Orphan {
    async fn wait(&mut self) {
        let Some(knote) = &self.knote else { return };
        loop {
            match knote.event().await {
                Ok(ev) if ev.fflags & NOTE_EXIT != 0 => break,
                Ok(_) => {}
                // The runtime is shutting down: the thread takes over (on drop).
                Err(_) => return,
            }
        }
        self.knote = None;
        let _ = sys::reap(self.pid, true);
        self.pid = 0;
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        if self.pid > 0 {
            // The knote first (see the invariant).
            self.knote = None;
            to_thread(self.pid);
        }
    }
}

/// Hands `pid` to the reaper thread, starting it if none runs.
fn to_thread(pid: libc::pid_t) {
    let mut orphans = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
    orphans.pids.push(pid);
    if orphans.thread {
        return;
    }
    let started = std::thread::Builder::new()
        .name("kq-reaper".into())
        .spawn(reaper)
        .is_ok();
    // If no thread could be started, the pid stays listed: the next orphan tries again.
    orphans.thread = started;
}

/// The reaper thread: waits for each listed orphan in turn; exits when none is left.
fn reaper() {
    loop {
        let pid = {
            let mut orphans = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
            match orphans.pids.pop() {
                Some(pid) => pid,
                None => {
                    orphans.thread = false;
                    return;
                }
            }
        };
        // ECHILD (someone else reaped it) leaves nothing to do.
        let _ = sys::reap(pid, true);
    }
}
