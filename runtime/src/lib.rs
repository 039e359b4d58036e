//! The kq runtime: tasks, schedulers, time, and readiness-based I/O, driven by a
//! kqueue-model event core.
//!
//! This crate is re-exported by `kq`; its public surface follows tokio's names and
//! signatures wherever the two overlap, so that porting means replacing `tokio::` with
//! `kq::`.
//!
//! - [`runtime`]: [`Runtime`](runtime::Runtime), [`Builder`](runtime::Builder),
//!   [`Handle`](runtime::Handle), metrics.
//! - [`task`]: [`spawn`], [`spawn_blocking`](task::spawn_blocking),
//!   [`JoinHandle`](task::JoinHandle), [`JoinSet`](task::JoinSet),
//!   [`LocalSet`](task::LocalSet), [`yield_now`](task::yield_now).
//! - [`time`]: `sleep`, `timeout`, `interval`; each armed timer is an `EVFILT_TIMER`
//!   knote.
//! - [`io`]: [`AsyncFd`](io::unix::AsyncFd) and the ecosystem's I/O traits.
//!
//! See `ARCHITECTURE.md` at the repository root for how an event travels from the kqueue
//! to a task's waker.

mod driver;
pub mod io;
mod loom;
pub mod runtime;
mod scheduler;
pub mod task;
pub mod time;

pub use task::spawn;

#[doc(hidden)]
pub mod __private {
    //! For kq's other crates (net, fs-watch, process): the driver registration they build
    //! on. Not a stable API.
    pub use crate::driver::io::ReadyEvent;
    pub use crate::io::knote::{Knote, KnoteEvent};
    pub use crate::io::poll_evented::PollEvented;
}
