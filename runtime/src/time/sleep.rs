//! `Sleep`: a future that completes at a deadline.

use super::Instant;
use crate::driver;
use crate::runtime::{Handle, coop};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Waits until `duration` has elapsed.
///
/// # Panics
///
/// Outside a kq runtime; when polled after its runtime shut down (as in tokio: the timer
/// can no longer fire).
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// use kq_runtime::time::{sleep, Duration, Instant};
/// let start = Instant::now();
/// sleep(Duration::from_millis(20)).await;
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// # });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(Instant::now().far_add(duration))
}

/// Waits until `deadline`.
///
/// # Panics
///
/// As [`sleep`].
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

/// The future of [`sleep`] and [`sleep_until`]: an `EVFILT_TIMER` knote armed on first
/// poll, deleted if dropped before it fires.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    driver: Arc<driver::Handle>,
    /// The armed timer's key; `None` before the first poll and after it fired.
    key: Option<u64>,
    elapsed: bool,
}

impl Sleep {
    #[track_caller]
    pub(crate) fn new(deadline: Instant) -> Sleep {
        let driver = Handle::current().inner.driver().clone();
        Sleep {
            deadline,
            driver,
            key: None,
            elapsed: false,
        }
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has been reached (as seen by a poll).
    pub fn is_elapsed(&self) -> bool {
        self.elapsed
    }

    /// Moves the deadline; the sleep is pending again if it moved into the future.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.cancel();
        this.deadline = deadline;
        this.elapsed = false;
    }

    fn cancel(&mut self) {
        if let Some(key) = self.key.take() {
            self.driver.timers.cancel(&self.driver, key);
        }
    }

    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.elapsed {
            return Poll::Ready(());
        }
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let ready = match self.key {
            Some(key) => {
                let fired = self.driver.timers.poll(key, cx.waker()).is_ready();
                if fired {
                    // `poll` freed the slot.
                    self.key = None;
                }
                fired
            }
            None => match self.driver.timers.register(
                &self.driver,
                self.deadline.into_std(),
                cx.waker(),
            ) {
                Ok(Some(key)) => {
                    self.key = Some(key);
                    false
                }
                Ok(None) => true,
                Err(e) => panic!("a kq timer could not be armed: {e}"),
            },
        };
        if ready {
            coop.made_progress();
            self.elapsed = true;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_elapsed(cx)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("armed", &self.key.is_some())
            .field("elapsed", &self.elapsed)
            .finish()
    }
}
