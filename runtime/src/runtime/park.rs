//! `block_on` on a thread that is not a worker: poll, park the thread until woken, repeat.
//!
//! The waker unparks the thread (`std::thread::unpark`: an atomic swap, and a futex wake
//! only if the thread really sleeps), so a wake while the future is being polled — the
//! cooperative budget does that — costs no system call.

use super::coop;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread, parking between polls. A spurious unpark
/// costs one extra poll.
pub(crate) fn block_on_thread<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = coop::budget(|| future.as_mut().poll(&mut cx)) {
            return out;
        }
        thread::park();
    }
}
