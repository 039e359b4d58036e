//! `Interval`: ticks at a fixed period.

use super::{Instant, Sleep, sleep_until};
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// What an [`Interval`] does with ticks it missed because it was not polled in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, one per poll, until caught up (the default).
    #[default]
    Burst,
    /// Fire once now, then keep the period from now on.
    Delay,
    /// Fire once now, then continue on the original schedule, skipping the missed ticks.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline after a tick that was due at `timeout` and fired at `now`.
    fn next_timeout(self, timeout: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => timeout.far_add(period),
            MissedTickBehavior::Delay => now.far_add(period),
            MissedTickBehavior::Skip => {
                let behind = now.duration_since(timeout).as_nanos();
                let p = period.as_nanos();
                let skip = behind / p + 1;
                let add = u64::try_from(p.saturating_mul(skip)).unwrap_or(u64::MAX);
                timeout.far_add(Duration::from_nanos(add))
            }
        }
    }
}

/// Ticks every `period`, the first tick completing at once.
///
/// # Panics
///
/// If `period` is zero (as in tokio), or outside a kq runtime.
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// use kq_runtime::time::{interval, Duration, Instant};
/// let start = Instant::now();
/// let mut every = interval(Duration::from_millis(10));
/// every.tick().await; // at once
/// every.tick().await;
/// every.tick().await;
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// # });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero, or outside a kq runtime.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "`period` must be non-zero.");
    Interval {
        delay: sleep_until(start),
        period,
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// The stream of ticks of [`interval`].
pub struct Interval {
    delay: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Completes at the next tick, with the instant it was due.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.delay).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let timeout = self.delay.deadline();
        let now = Instant::now();
        let next = if now > timeout.far_add(Duration::from_millis(5)) {
            self.missed_tick_behavior
                .next_timeout(timeout, now, self.period)
        } else {
            timeout.far_add(self.period)
        };
        Pin::new(&mut self.delay).reset(next);
        Poll::Ready(timeout)
    }

    /// Restarts the interval: the next tick is one period from now.
    pub fn reset(&mut self) {
        let next = Instant::now().far_add(self.period);
        Pin::new(&mut self.delay).reset(next);
    }

    /// The behavior for missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets the behavior for missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed_tick_behavior)
            .finish()
    }
}

use std::future::Future;
