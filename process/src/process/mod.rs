//! Child processes: [`Command`] spawns a [`Child`] whose exit is an `EVFILT_PROC`
//! `NOTE_EXIT` knote and whose piped standard streams are async.
//!
//! The names and signatures are tokio's `process` module's. How a child is observed:
//!
//! - **Exit** comes from the child's `EVFILT_PROC` knote (a pidfd on Linux, the kernel's
//!   knote on BSD), registered when it is spawned. No `SIGCHLD` handler is installed, so kq
//!   coexists with libraries that install one (as long as they do not reap children they
//!   did not spawn). The status, a code or a signal, is `waitpid`'s, exactly.
//! - **Reaping** happens after the exit is observed, and after the knote is deleted (so the
//!   pid cannot be reused while kq names it). A [`Child`] dropped un-awaited is reaped in
//!   the background (see `orphan.rs`): by a task of its runtime, or, if the runtime shuts
//!   down first, by a reaper thread that lives only while such children remain.
//! - **Pipes** are non-blocking and registered once ([`ChildStdin`], [`ChildStdout`],
//!   [`ChildStderr`]); `wait_with_output` drains both outputs concurrently.

mod child;
mod command;
mod orphan;
mod pipe;

pub use child::Child;
pub use command::Command;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
