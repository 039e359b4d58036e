//! Child processes on `EVFILT_PROC` and signals on `EVFILT_SIGNAL`, re-exported by the
//! facade as `kq::process` and `kq::signal` with tokio's names and signatures.
//!
//! - [`process`]: [`Command`](process::Command) spawns a [`Child`](process::Child) whose
//!   exit is a `NOTE_EXIT` knote (no `SIGCHLD` handler) and whose pipes are async; no child
//!   is ever left a zombie.
//! - [`signal`]: [`ctrl_c`](signal::ctrl_c) and [`unix::signal`](signal::unix::signal),
//!   streams of deliveries on `EVFILT_SIGNAL` knotes.
//!
//! The system calls are in `sys.rs` and `signal/handler.rs`, each `unsafe` with its
//! `SAFETY` comment.

pub mod process;
pub mod signal;
mod sys;
