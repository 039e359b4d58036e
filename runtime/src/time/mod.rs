//! Time: `sleep`, `sleep_until`, `timeout`, `interval`, and `Instant`.
//!
//! Every armed timer is an `EVFILT_TIMER` knote of the runtime's kqueue (one-shot,
//! nanosecond resolution): no descriptor per timer, so a million concurrent sleeps need a
//! million knotes and nothing else. A sleep is armed when first polled, and its knote is
//! deleted if it is dropped before firing. A timer never fires before its deadline; it may
//! fire later by the scheduling delay.

mod instant;
mod interval;
mod sleep;
mod timeout;

pub use instant::Instant;
pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use std::time::Duration;
pub use timeout::{Timeout, error, timeout, timeout_at};
