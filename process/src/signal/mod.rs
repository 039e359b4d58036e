//! Signals as streams of deliveries on `EVFILT_SIGNAL` knotes, with tokio's names:
//! [`ctrl_c`] and [`unix::signal`].
//!
//! Registering a signal makes it *handled*: its default action (terminating the process,
//! for most) no longer happens, for the rest of the process's life, as with tokio. Handlers
//! the application or other libraries installed before keep running (they are chained).
//! No signal is blocked and none is set to `SIG_IGN`, so children inherit neither from kq.
//! How the handler, the shared knote and the listeners work together is in the module docs
//! of `handler.rs` and `registry.rs`.

mod handler;
mod registry;
pub mod unix;

use std::io;

/// Waits for the next `SIGINT` (Ctrl-C) delivered after the call.
///
/// The first call makes `SIGINT` handled for the rest of the process's life: Ctrl-C no
/// longer terminates the process by itself.
///
/// # Examples
///
/// ```no_run
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// kq_process::signal::ctrl_c().await?;
/// println!("interrupted");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// Outside a kq runtime; the runtime shut down while waiting.
pub async fn ctrl_c() -> io::Result<()> {
    let mut sigint = unix::signal(unix::SignalKind::interrupt())?;
    match sigint.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other("the runtime watching SIGINT shut down")),
    }
}
