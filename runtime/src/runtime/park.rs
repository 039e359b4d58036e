//! `block_on` on a thread that is not a worker: poll, sleep on a condition variable until
//! woken, repeat.

use super::coop;
use crate::loom::{Condvar, Mutex, lock};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct ThreadWaker {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *lock(&self.woken) = true;
        self.cv.notify_one();
    }
}

/// Runs `future` to completion on this thread, parking between polls.
pub(crate) fn block_on_thread<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let state = Arc::new(ThreadWaker {
        woken: Mutex::new(false),
        cv: Condvar::new(),
    });
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = coop::budget(|| future.as_mut().poll(&mut cx)) {
            return out;
        }
        let mut woken = lock(&state.woken);
        while !*woken {
            woken = state.cv.wait(woken).unwrap_or_else(|e| e.into_inner());
        }
        *woken = false;
    }
}
