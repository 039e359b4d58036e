//! The Linux backend: kqueue semantics in user space.
//!
//! The knote table and the active queue are kq's own (`knote.rs`; changes in `register.rs`,
//! delivery in `scan.rs`, waiting in `selector.rs`); the
//! kernel's facilities only deliver *hints* that run a knote's filter: epoll for pollable
//! descriptors (`fd.rs`), inotify for files and directories (`vnode.rs`), pidfds for
//! processes (`proc.rs`), a counting signal handler (`signal.rs`), and an in-core timer
//! heap (`timer.rs`). USER knotes are pure state.

pub(crate) mod abi;
mod fd;
mod knote;
mod proc;
mod register;
mod scan;
mod selector;
mod signal;
mod timer;
mod vnode;

use super::syscall;
pub(crate) use selector::Selector;

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, Weak};

/// The kqueues of this process by descriptor, so that a READ knote on a kqueue's fd can
/// report its pending count and a kqueue can refuse itself.
static KQUEUES: Mutex<Option<HashMap<RawFd, Weak<selector::Inner>>>> = Mutex::new(None);

fn register_kqueue(fd: RawFd, inner: &Arc<selector::Inner>) {
    let mut map = KQUEUES.lock().unwrap_or_else(|e| e.into_inner());
    map.get_or_insert_with(HashMap::new)
        .insert(fd, Arc::downgrade(inner));
}

fn unregister_kqueue(fd: RawFd) {
    let mut map = KQUEUES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = map.as_mut() {
        m.remove(&fd);
    }
}

fn lookup_kqueue(fd: RawFd) -> Option<Weak<selector::Inner>> {
    let map = KQUEUES.lock().unwrap_or_else(|e| e.into_inner());
    map.as_ref()?.get(&fd).cloned()
}
